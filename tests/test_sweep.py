"""Sweeps: --vary parsing, validation before running, the tidy table, CIs, resume, jobs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
from scipy import stats

import panopticon as pn
import panopticon.analysis.sweep as sweep_mod
from panopticon.analysis.headline import METRICS
from panopticon.analysis.sweep import SweepError, parse_vary, plan
from panopticon.analysis.sweep_report import summarize
from panopticon.cli import main

MODEL_METRICS = [m for m in METRICS if m.model]  # wall time lives in sweep_timings.parquet
SMALL = ["--population", "4000", "--days", "40", "--set", "sanctions.blacklist.threshold=995"]
GRID = ["--vary", "surveillance.faceid.p_wrong=0.02,0.2", "--replicates", "2"]


def test_parse_vary_lists_and_ranges() -> None:
    assert parse_vary("surveillance.faceid.p_wrong=0.01,0.05,0.1").values == (0.01, 0.05, 0.1)
    assert parse_vary("run.records='all', \"none\"").values == ("all", "none")
    assert parse_vary("surveillance.camera.enabled=true,false").values == (True, False)
    assert parse_vary("scoring.recovery.points=1:9:5").values == (1, 3, 5, 7, 9)
    v = parse_vary("scoring.recovery.points=1:2:3").values
    assert v == (1.0, 1.5, 2.0) and all(isinstance(x, float) for x in v)
    assert parse_vary("surveillance.faceid.p_wrong=0:0.1:3").values == pytest.approx((0, 0.05, 0.1))
    assert parse_vary("run.days=30:30:1").values == (30,)
    assert parse_vary(" behaviors.violation.rate = 0.01 ").values == (0.01,)


@pytest.mark.parametrize(
    ("item", "says"),
    [
        ("surveillance.faceid.p_wrong", "expected key=v1,v2"),
        ("surveillance.faceid.p_wrong=", "no values"),
        ("surveillance.faceid.p_wrong=0:1:0", "n = 0 is not allowed"),
        ("surveillance.faceid.p_wrong=0:1:-2", "n = -2 is not allowed"),
        ("surveillance.faceid.p_wrong=0:1:2.5", "n = 2.5 is not allowed"),
        ("surveillance.faceid.p_wrong=low:1:3", "not a TOML literal"),
        ("surveillance.faceid.p_wrong='a':1:3", "not a list of TOML literals"),
        ("surveillance.faceid.p_wrong=true:1:3", "a = True is not allowed"),
        ("surveillance.faceid.p_wrong=0.1,0.1", "appears twice"),
        ("surveillance.faceid.p_wrong=high", "not a list of TOML literals"),
        ("a..b=1", "not a dotted key"),
    ],
)
def test_parse_vary_errors(item: str, says: str) -> None:
    with pytest.raises(SweepError, match=r"^error: --vary ") as exc:
        parse_vary(item)
    assert says in str(exc.value)


def test_plan_ids_seeds_and_validation(tmp_path: Path) -> None:
    base = pn.load("minimal", population=1000, days=10, seed=40)
    runs = plan(
        base,
        [
            parse_vary("scoring.recovery.points=1:5:3"),
            parse_vary("surveillance.camera.enabled=true,false"),
        ],
        2,
        tmp_path,
    )
    assert len(runs) == 3 * 2 * 2
    assert runs[0].run_id == "points=1_enabled=true_rep0"
    assert [r.seed for r in runs[:2]] == [40, 41]
    assert runs[-1].point == (
        ("scoring.recovery.points", 5),
        ("surveillance.camera.enabled", False),
    )
    assert "points = 5" in runs[-1].scenario_toml and "seed = 41" in runs[-1].scenario_toml
    with pytest.raises(SweepError, match="replicates 0"):
        plan(base, [], 0, tmp_path)


@pytest.mark.parametrize(
    ("vary", "says"),
    [
        (
            "surveillance.faceid.p_wron=0.1,0.2",
            "error: --vary surveillance.faceid.p_wron: unknown field (value 0.1)",
        ),
        (
            "surveillance.faceid.p_wrong=0.1,'high'",
            "error: --vary surveillance.faceid.p_wrong: 'high' is not allowed",
        ),
        (
            "surveillance.faceid.p_wrong=0.1,1.5",
            "error: --vary surveillance.faceid.p_wrong: 1.5 is not allowed",
        ),
        ("run.records='all','some'", "error: --vary run.records: 'some' is not allowed"),
        (
            "population.size=100:1000:0",
            "error: --vary 'population.size=100:1000:0': n = 0 is not allowed",
        ),
    ],
)
def test_bad_sweeps_exit_2_and_write_nothing(
    vary: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sw"
    assert main(["sweep", "minimal", *SMALL, "--vary", vary, "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(says), err
    assert len(err.splitlines()) == 1
    assert not out.exists()


def test_bad_counts_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--replicates", "--jobs"):
        args = ["sweep", "minimal", *SMALL, flag, "0", "--out", str(tmp_path / "x"), "-q"]
        assert main(args) == 2
        assert f"error: {flag} 0: not allowed" in capsys.readouterr().err


def test_summarize_confidence_interval() -> None:
    # a score (unbounded): the plain t interval; counts are cut at 0 (test below)
    tidy = pl.DataFrame(
        {"k": [1, 1, 1, 2], "metric": ["mean_score"] * 4, "value": [1.0, 2.0, 4.0, 5.0]}
    )
    s = summarize(tidy, ["k"]).sort("k")
    half = stats.t.ppf(0.975, 2) * stats.tstd([1, 2, 4]) / math.sqrt(3)
    assert s["mean"].to_list()[0] == pytest.approx(7 / 3)
    assert s["lo"][0] == pytest.approx(7 / 3 - half) and s["hi"][0] == pytest.approx(7 / 3 + half)
    assert s["lo"][1] is None and s["hi"][1] is None and s["n"].to_list() == [3, 1]


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sweep") / "pw"
    assert main(["sweep", "minimal", *SMALL, *GRID, "--out", str(out), "-q"]) == 0
    return out


def test_sweep_outputs(swept: Path) -> None:
    t = pl.read_parquet(swept / "sweep.parquet")
    assert t.columns == [
        "run_id",
        "seed",
        "replicate",
        "surveillance.faceid.p_wrong",
        "metric",
        "value",
    ]
    # the derived metrics, then the minimal model's declared headline columns not among them
    declared = ["attributed_correct", "attributed_wrong"]
    assert t.shape == (2 * 2 * (len(MODEL_METRICS) + len(declared)), 6)
    assert "wall_seconds" not in t["metric"]
    timings = pl.read_parquet(swept / "sweep_timings.parquet")
    assert timings.columns == ["run_id", "seed", "replicate", "wall_seconds", "peak_memory_bytes"]
    assert sorted(timings["run_id"]) == sorted(t["run_id"].unique())
    assert (timings["wall_seconds"] > 0).all() and (timings["peak_memory_bytes"] > 0).all()
    assert t["metric"].unique(maintain_order=True).to_list()[-2:] == declared
    assert t["surveillance.faceid.p_wrong"].dtype == pl.Float64
    assert sorted(t["run_id"].unique()) == [
        "p_wrong=0.02_rep0",
        "p_wrong=0.02_rep1",
        "p_wrong=0.2_rep0",
        "p_wrong=0.2_rep1",
    ]
    assert sorted(t["seed"].unique()) == [0, 1]
    # the table holds each run's own headline numbers
    run = pn.open_run(swept / "runs" / "p_wrong=0.2_rep1")
    row = t.filter((pl.col("run_id") == "p_wrong=0.2_rep1") & (pl.col("metric") == "records"))
    assert row["value"][0] == run.totals["attributed_correct"] + run.totals["attributed_wrong"]
    assert run.manifest["seed"] == 1
    # more false matches, more wrongful records and wrongful sanctions
    means = (
        t.filter(pl.col("metric").is_in(["records_wrong", "sanctioned_wrongly"]))
        .group_by("surveillance.faceid.p_wrong", "metric")
        .agg(pl.col("value").mean())
    )

    def mean(p: float, metric: str) -> float:
        return means.filter(
            (pl.col("surveillance.faceid.p_wrong") == p) & (pl.col("metric") == metric)
        )["value"][0]

    assert mean(0.2, "records_wrong") > 5 * mean(0.02, "records_wrong")
    assert mean(0.2, "sanctioned_wrongly") > mean(0.02, "sanctioned_wrongly")
    html = (swept / "report.html").read_text("utf-8")
    assert 'data-figure="sanctioned-wrongly-vs-surveillance-faceid-p-wrong"' in html
    assert "95% confidence interval" in html
    spec = json.loads((swept / "sweep.json").read_text())
    assert spec["replicates"] == 2 and spec["vary"][0]["values"] == [0.02, 0.2]


def test_resume_runs_only_missing(
    swept: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = swept / "runs"
    keep = runs / "p_wrong=0.02_rep0" / "people.parquet"
    before = keep.stat().st_mtime_ns
    old = pl.read_parquet(swept / "sweep.parquet")
    m = runs / "p_wrong=0.2_rep0" / "manifest.json"
    m.write_text(json.dumps({**json.loads(m.read_text()), "status": "incomplete"}))
    for f in (runs / "p_wrong=0.02_rep1").iterdir():
        f.unlink()
    (runs / "p_wrong=0.02_rep1").rmdir()
    capsys.readouterr()
    assert main(["sweep", "minimal", *SMALL, *GRID, "--out", str(swept)]) == 0
    out = capsys.readouterr()
    assert "ran 2 runs, 2 were already complete" in out.out
    assert "2 already complete, 2 to run" in out.err
    assert keep.stat().st_mtime_ns == before
    new = pl.read_parquet(swept / "sweep.parquet")
    assert new.equals(old)  # the whole table: timings are not in it

    # interrupted: the finished runs stay, the same command finishes the rest
    calls = {"n": 0}
    real = sweep_mod.run_one

    def flaky(toml: str, out_dir: str) -> str:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(toml, out_dir)

    monkeypatch.setattr(sweep_mod, "run_one", flaky)
    grid3 = ["--vary", "surveillance.faceid.p_wrong=0.02,0.2,0.3", "--replicates", "2"]
    assert main(["sweep", "minimal", *SMALL, *grid3, "--out", str(swept), "-q"]) == 130
    err = capsys.readouterr().err
    assert err.startswith("interrupted (SIGINT): 5 of 6 runs are complete\n"), err
    assert "\nnot complete (1): p_wrong=0.3_rep1\n" in err
    assert "run the same command again" in err
    monkeypatch.setattr(sweep_mod, "run_one", real)
    assert main(["sweep", "minimal", *SMALL, *grid3, "--out", str(swept)]) == 0
    assert "ran 1 runs, 5 were already complete" in capsys.readouterr().out

    # a different scenario into the same folder is refused
    assert (
        main(
            [
                "sweep",
                "minimal",
                "--population",
                "5000",
                "--days",
                "40",
                *GRID,
                "--out",
                str(swept),
                "-q",
            ]
        )
        == 2
    )
    assert "different scenario" in capsys.readouterr().err


def test_jobs_give_the_same_table(tmp_path: Path) -> None:
    args = [
        "sweep",
        "minimal",
        "--population",
        "3000",
        "--days",
        "30",
        "--vary",
        "surveillance.faceid.p_wrong=0.05,0.1",
        "-q",
        "--no-report",
    ]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--jobs", "2", "--out", str(tmp_path / "two")]) == 0
    a, b = (pl.read_parquet(tmp_path / d / "sweep.parquet") for d in ("one", "two"))
    assert a.equals(b) and a.height == 2 * (len(MODEL_METRICS) + 2)  # + 2 declared headlines
    assert not (tmp_path / "two" / "report.html").exists()


def test_intervals_stay_in_the_possible_range() -> None:
    tidy = pl.DataFrame(
        {
            "x": [1.0] * 6,
            "metric": ["sanctioned"] * 3 + ["wrongful_record_share"] * 3,
            "value": [0.0, 0.0, 1.0, 0.0, 0.0, 1.0],
        }
    )
    s = summarize(tidy, ["x"])
    assert (s["lo"] >= 0).all()  # a t interval alone would give 0.33 [-1.1, 1.8]
    share = s.filter(pl.col("metric") == "wrongful_record_share")
    assert share["hi"].item() <= 1.0 and share["lo"].item() == 0.0
    assert s.filter(pl.col("metric") == "sanctioned")["hi"].item() > 1.0
