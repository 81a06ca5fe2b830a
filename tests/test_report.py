"""The HTML report: figures present only when the run has their data, PNGs, CLI, bad input."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import panopticon as pn
from panopticon.cli import main
from panopticon.report import build_report, run_summary_html, write_report
from panopticon.report.figures import gini, label_runs, run_figures

# every run writes score_histogram.parquet, so the score over time is always drawn
BASE_FIGURES = {
    "funnel",
    "records",
    "sanctions",
    "score-distribution",
    "mean-score",
    "score-over-time",
}
FEATURE_FIGURES = {
    "grades",
    "group-rates",
    "group-impact",
    "region-rates",
    "region-impact",
    "access",
    "access-gini",
    "degree",
    "lists",
}
GRADES = ("excellent", "good", "warning", "poor")  # not in alphabetical order


def small_scenario(**over: object) -> pn.Scenario:
    """A small run with sanctions and wrongful sanctions in it (threshold 995)."""
    values = {"surveillance.faceid.p_wrong": 0.1, "sanctions.blacklist.threshold": 995}
    values.update(over)
    return pn.load("minimal", population=10_000, days=60, seed=3).override(values)


@pytest.fixture(scope="module")
def report_run(tmp_path_factory: pytest.TempPathFactory) -> pn.RunResult:
    return pn.run(small_scenario(), out=tmp_path_factory.mktemp("rep") / "run")


def augment_run(src: Path, dst: Path) -> pn.RunResult:
    """A copy of a run folder with what later engine versions add (see docs/report.md):
    group, region and grade columns, access and degree, grades.parquet, mean_degree_*
    columns, and a per-day score histogram."""
    shutil.copytree(src, dst)
    rng = np.random.default_rng(0)
    people = pl.read_parquet(dst / "people.parquet")
    n = people.height
    score = people["score"].to_numpy()
    gi = np.select([score >= 1000, score >= 995, score >= 985], [0, 1, 2], 3).astype(np.int8)
    people = people.with_columns(
        pl.Series("group", rng.choice(["g1", "g2", "g3"], n, p=[0.6, 0.3, 0.1])),
        pl.Series("region", rng.choice(["north", "south"], n)),
        pl.Series("access_school", rng.random(n) < np.where(gi == 0, 0.9, 0.4)),
        pl.Series("access_job", rng.random(n) < np.where(gi == 3, 0.2, 0.8)),
        pl.Series("access_housing", rng.random(n) < 0.7),
        pl.Series("access_rental", rng.random(n) < 0.6),
        pl.Series("degree", rng.poisson(12, n).astype(np.int32)),
    ).to_arrow()
    people = people.append_column(
        "grade", pa.DictionaryArray.from_arrays(pa.array(gi), pa.array(list(GRADES)))
    )
    # a scarce good as the sanctions catalog writes it: none/refused/excluded/allocated
    state = np.where(rng.random(n) < 0.3, np.where(gi == 3, 2, rng.choice([1, 3], n)), 0)
    people = people.append_column(
        "public_jobs",
        pa.DictionaryArray.from_arrays(
            pa.array(state.astype(np.uint8)), pa.array(["none", "refused", "excluded", "allocated"])
        ),
    )
    pq.write_table(people, dst / "people.parquet")
    ts = pl.read_parquet(dst / "timeseries.parquet")
    d = ts.height
    ts = ts.with_columns(
        *(
            pl.Series(f"mean_degree_{g}", 12 - k * np.linspace(0, 2, d))
            for k, g in enumerate(GRADES)
        ),
        pl.Series("listed_court", np.linspace(0, 50, d).astype(np.int64)),
        pl.Series("listed_wrongly_court", np.linspace(0, 5, d).astype(np.int64)),
    )
    ts.write_parquet(dst / "timeseries.parquet")
    share_top = np.linspace(1.0, 0.9, d)
    shares = np.column_stack([share_top, *((1 - share_top) * w for w in (0.6, 0.3, 0.1))])
    pl.DataFrame(
        {
            "day": np.repeat(np.arange(d, dtype=np.int32), 4),
            "policy": ["points"] * (4 * d),
            "grade": list(GRADES) * d,
            "count": (shares * n).astype(np.int64).ravel(),
            "wrongful": np.zeros(4 * d, dtype=np.int64),
        }
    ).write_parquet(dst / "grades.parquet")
    days = np.repeat(np.arange(d), 3)
    lo = np.tile([980, 990, 1000], d)
    pl.DataFrame(
        {"day": days, "score_lo": lo, "score_hi": lo + 10, "count": rng.integers(1, 9000, 3 * d)}
    ).write_parquet(dst / "score_histogram.parquet")
    return pn.open_run(dst)


def figure_ids(html: str) -> set[str]:
    return set(re.findall(r'data-figure="([^"]+)"', html))


def test_minimal_run_report_has_base_figures_only(report_run: pn.RunResult, tmp_path: Path) -> None:
    path = write_report(report_run, tmp_path / "r.html")
    html = path.read_text("utf-8")
    assert figure_ids(html) == BASE_FIGURES
    # self-contained: Plotly inlined once, nothing loaded from elsewhere
    assert html.count("<script src") == 0 and "<link" not in html
    assert len(html) > 3_000_000 and "Plotly.newPlot" in html
    assert "<meta name='panopticon-figures' content='6'>" in html
    # what is left out is listed with the reason, never drawn empty
    left = html[html.index("Figures left out") :]
    for title in ("Grade shares", "demographic group", "Access to schools", "Social ties"):
        assert title in left
    # the summary has headline numbers, parameters and the manifest
    t = report_run.totals
    assert f"{t['sanctioned_wrongly']:,}" in html
    assert "surveillance.faceid.p_wrong" in html and "panopticon version" in html
    assert "Every citizen in this report is synthetic" in html


def test_funnel_flows_add_up(report_run: pn.RunResult) -> None:
    runs = label_runs([report_run])
    figures, _ = run_figures(runs)
    sk = next(f for f in figures if f.id == "funnel").sankey
    assert sk is not None
    t = report_run.totals

    def flow(src: str, dst: str) -> float:
        s = next(i for i, lab in enumerate(sk.labels) if lab.startswith(src))
        d = next(i for i, lab in enumerate(sk.labels) if lab.startswith(dst))
        return sum(
            v
            for a, b, v in zip(sk.sources, sk.targets, sk.values, strict=True)
            if a == s and b == d
        )

    assert flow("committed", "seen") + flow("committed", "not seen") == t["committed"]
    assert flow("committed", "seen") == t["observed"]
    assert flow("seen", "not identified") == t["missed"]
    assert flow("seen", "identified") == t["attributed_correct"] + t["attributed_wrong"]
    into_end = sum(flow("scored", k) for k in ("rightly", "wrongly", "not sanctioned"))
    assert into_end == t["attributed_correct"] + t["attributed_wrong"]
    wrong_node = next(lab for lab in sk.labels if lab.startswith("wrongly sanctioned"))
    assert f"{t['sanctioned_wrongly']:,} people" in wrong_node and t["sanctioned_wrongly"] > 0
    # red flows carry exactly the wrongful records
    red = sum(
        v
        for a, v, c in zip(sk.sources, sk.values, sk.colors, strict=True)
        if c == "#e45756" and sk.labels[a].startswith("seen")
    )
    assert red == t["attributed_wrong"]


def test_funnel_conserves_flows_with_channels_delays_and_appeals(tmp_path: Path) -> None:
    """The city-pilot preset has several channels, delays and appeals, and grades."""
    run = pn.run(pn.load("city-pilot", population=5_000, days=60, seed=1), out=tmp_path / "cp")
    figures, _ = run_figures(label_runs([run]))
    ids = {f.id for f in figures}
    assert "grades" in ids and "funnel" in ids
    sk = next(f for f in figures if f.id == "funnel").sankey
    assert sk is not None
    n = len(sk.labels)
    inflow, outflow = np.zeros(n), np.zeros(n)
    for a, b, v in zip(sk.sources, sk.targets, sk.values, strict=True):
        outflow[a] += v
        inflow[b] += v
    t = run.totals
    assert outflow[0] == t["committed"]
    for k in range(1, 6):  # seen, not seen, not identified, identified, recorded
        if outflow[k] > 0:
            assert outflow[k] == pytest.approx(inflow[k]), sk.labels[k]
    recorded = next(i for i, lab in enumerate(sk.labels) if lab.startswith("recorded"))
    assert inflow[recorded] == t["attributed_correct"] + t["attributed_wrong"]


def test_features_appear_when_columns_exist(report_run: pn.RunResult, tmp_path: Path) -> None:
    rich = augment_run(report_run.path, tmp_path / "rich")
    html, figures = build_report([rich])
    assert figure_ids(html) == BASE_FIGURES | FEATURE_FIGURES
    assert "Figures left out" not in html
    by_id = {f.id: f for f in figures}
    # rates per 100,000 and disparate impact agree with a direct computation
    p = rich.people.with_columns(
        (pl.col("records_correct").cast(pl.Int64) + pl.col("records_wrong")).alias("rec")
    )
    rates = by_id["group-rates"].series[0]
    impact = by_id["group-impact"].series[0]
    direct = {
        g: 1e5 * p.filter(pl.col("group") == g)["rec"].sum() / p.filter(pl.col("group") == g).height
        for g in ("g1", "g2", "g3")
    }
    assert list(rates.x) == ["g1", "g2", "g3"]
    np.testing.assert_allclose(rates.y, [direct[g] for g in ("g1", "g2", "g3")])
    np.testing.assert_allclose(impact.y, [direct[g] / direct["g1"] for g in ("g1", "g2", "g3")])
    # grades in the order of the timeseries columns, shares sum to one each day
    grades = by_id["grades"]
    assert [s.name for s in grades.series] == list(GRADES)
    np.testing.assert_allclose(sum(s.y for s in grades.series), 1.0)
    access = by_id["access"]
    assert list(access.series[0].x) == list(GRADES)
    assert [s.name for s in access.series] == [
        "schools",
        "jobs",
        "housing",
        "rentals",
        "public_jobs",
    ]
    # allocation states: share allocated among applicants; the excluded grade gets nothing
    jobs = pq.read_table(rich.path / "people.parquet", columns=["grade", "public_jobs"])
    jobs_df = pl.from_arrow(jobs).with_columns(pl.all().cast(pl.String))
    for g, share in zip(GRADES, access.series[-1].y, strict=True):
        applicants = jobs_df.filter((pl.col("grade") == g) & (pl.col("public_jobs") != "none"))
        expect = (applicants["public_jobs"] == "allocated").mean()
        assert share == pytest.approx(expect)
    assert access.series[-1].y[-1] == 0.0
    assert by_id["access-gini"].series[0].x[-1] == "all goods"
    assert by_id["score-over-time"].heatmap is not None


def test_gini() -> None:
    assert gini(np.ones(10)) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 1.0])) == pytest.approx(0.75)
    assert gini(np.zeros(5)) == 0.0
    assert gini(np.array([1.0, 2, 3, 4])) == pytest.approx(0.25)


def test_png_per_figure(report_run: pn.RunResult, tmp_path: Path) -> None:
    from PIL import Image

    write_report(report_run, tmp_path / "r.html", png_dir=tmp_path / "png")
    pngs = sorted(p.stem for p in (tmp_path / "png").glob("*.png"))
    assert set(pngs) == BASE_FIGURES
    for name in pngs:
        im = np.asarray(Image.open(tmp_path / "png" / f"{name}.png").convert("L"))
        assert im.shape[0] > 500 and (im < 200).mean() > 0.01, name


def test_several_runs_overlay(report_run: pn.RunResult, tmp_path: Path) -> None:
    off = pn.run(small_scenario(**{"surveillance.enabled": False}), out=tmp_path / "off")
    html, figures = build_report([report_run, off])
    ids = figure_ids(html)
    assert {"funnel-1", "funnel-2", "records", "sanctions"} <= ids
    sanctions = next(f for f in figures if f.id == "sanctions")
    assert len(sanctions.series) == 4
    assert "run − off" not in html  # labels are the folder names
    assert f"{off.path.name} − {report_run.path.name}" in html
    assert "surveillance.enabled" in html


def test_cli_report_and_run_flag(
    report_run: pn.RunResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(report_run.path, copy)
    assert main(["report", str(copy)]) == 0
    assert (copy / "report.html").exists()
    assert (
        main(
            [
                "report",
                str(copy),
                str(report_run.path),
                "-o",
                str(tmp_path / "both.html"),
                "--png",
                str(tmp_path / "figs"),
            ]
        )
        == 0
    )
    assert (tmp_path / "both.html").exists() and (tmp_path / "figs" / "funnel-2.png").exists()
    out = tmp_path / "withreport"
    assert (
        main(
            [
                "run",
                "minimal",
                "--population",
                "3000",
                "--days",
                "30",
                "--out",
                str(out),
                "--report",
                "-q",
            ]
        )
        == 0
    )
    assert (out / "report.html").exists()
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_bad_input_exits_2(
    report_run: pn.RunResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def err(*args: str) -> str:
        capsys.readouterr()
        assert main(list(args)) == 2
        e = capsys.readouterr().err.strip()
        assert e.startswith("error: ") and "Traceback" not in e
        return e

    (tmp_path / "empty").mkdir()
    assert "not a run folder" in err("report", str(tmp_path / "empty"))
    assert "no such folder" in err("report", str(tmp_path / "nope"))
    broken = tmp_path / "broken"
    shutil.copytree(report_run.path, broken)
    m = json.loads((broken / "manifest.json").read_text())
    m.update(status="incomplete", error="interrupted")
    (broken / "manifest.json").write_text(json.dumps(m))
    e = err("report", str(broken))
    assert "incomplete" in e and "interrupted" in e
    assert "is a folder" in err("report", str(report_run.path), "-o", str(tmp_path))
    (tmp_path / "file").write_text("x")
    assert "--png" in err(
        "report",
        str(report_run.path),
        "-o",
        str(tmp_path / "a.html"),
        "--png",
        str(tmp_path / "file"),
    )
    assert not (tmp_path / "a.html").exists()


def test_repr_html(report_run: pn.RunResult) -> None:
    html = report_run._repr_html_()
    assert html == run_summary_html(report_run)
    assert "minimal" in html and "10,000 citizens" in html
    assert f"{report_run.totals['sanctioned_wrongly']:,}" in html
    assert len(html) < 5_000
