"""Run folders, reproducibility, the command line, and every bad-input case."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

import panopticon as pn
from panopticon.cli import main
from panopticon.io.runs import partial_path

RESULT_FILES = ("scenario.toml", "timeseries.parquet", "people.parquet", "records.parquet")


def run_cli(*args: str) -> int:
    return main(list(args))


def test_run_folder_contents(small_run: pn.RunResult) -> None:
    m = small_run.manifest
    assert m["status"] == "complete"
    for key in ("panopticon", "seed", "started", "finished", "wall_seconds", "peak_memory_bytes"):
        assert key in m
    ts, people, records = small_run.timeseries, small_run.people, small_run.records
    assert ts.columns == [
        "day",
        "date",
        "committed",
        "observed",
        "missed",
        "attributed_correct",
        "attributed_wrong",
        "sanctioned",
        "sanctioned_wrongly",
        "mean_score",
    ]
    assert ts.height == 120
    assert people.columns == [
        "id",
        "score",
        "true_score",
        "committed",
        "records_correct",
        "records_wrong",
        "sanctioned",
    ]
    assert people.height == 20_000
    assert records.columns == [
        "day",
        "behavior",
        "perpetrator",
        "attributed_to",
        "channel",
        "correct",
    ]
    # the tables agree with each other
    assert records.height == ts["attributed_correct"].sum() + ts["attributed_wrong"].sum()
    assert records["correct"].sum() == people["records_correct"].sum()
    assert (records["correct"] == (records["perpetrator"] == records["attributed_to"])).all()
    assert people["committed"].sum() == ts["committed"].sum()
    assert people["sanctioned"].sum() == ts["sanctioned"][-1]
    # re-running the resolved scenario.toml alone repeats the run
    assert pn.load(small_run.path / "scenario.toml").to_toml() == small_run.scenario_toml


def _bytes(path: Path) -> dict[str, bytes]:
    return {f: (path / f).read_bytes() for f in RESULT_FILES}


def test_same_seed_same_bytes_different_seed_different(tmp_path: Path) -> None:
    sc = pn.load("minimal", population=30_000, days=60, seed=1)
    a = pn.run(sc, out=tmp_path / "a").path
    b = pn.run(sc, out=tmp_path / "b").path
    c = pn.run(sc.override(seed=2), out=tmp_path / "c").path
    assert _bytes(a) == _bytes(b)
    for f in ("timeseries.parquet", "people.parquet", "records.parquet"):
        assert _bytes(a)[f] != _bytes(c)[f]


def run_with_threads(tmp_path: Path, args: list[str]) -> dict[str, dict[str, bytes]]:
    """Run the CLI with 1 and with 2 Numba threads; every Parquet file's bytes per run."""
    out = {}
    for threads in ("1", "2"):
        target = tmp_path / f"t{threads}"
        subprocess.run(
            [sys.executable, "-m", "panopticon.cli", "run", *args, "--out", str(target), "-q"],
            check=True,
            env=dict(os.environ, NUMBA_NUM_THREADS=threads),
        )
        out[threads] = {p.name: p.read_bytes() for p in sorted(target.glob("*.parquet"))}
    return out


def test_thread_count_does_not_change_bytes(tmp_path: Path) -> None:
    out = run_with_threads(tmp_path, ["minimal", "--population", "50000", "--days", "40"])
    assert len(out["1"]) >= 4
    assert out["1"] == out["2"]


def test_full_featured_run_is_thread_independent(tmp_path: Path) -> None:
    """seed-article (graph, avoidance, measures, allocations, appeals): 1 thread = 2."""
    out = run_with_threads(
        tmp_path,
        [
            "seed-article",
            "--population",
            "30000",
            "--days",
            "70",
            "--set",
            "network.avoidance.every_days=20",
            "--set",
            "behaviors.red_light_crossing.points=150",
            "--set",
            "sanctions.measures.public_jobs.first_day=30",
        ],
    )
    assert len(out["1"]) >= 8
    assert out["1"] == out["2"]


def test_records_option_sample_and_none(tmp_path: Path) -> None:
    sc = pn.load("minimal", population=20_000, days=60, seed=4)
    full = pn.run(sc, out=tmp_path / "all")
    n_all = full.records.height
    share = 0.2
    sample = pn.run(
        sc.override({"run.records": "sample", "run.records_sample": share}), out=tmp_path / "s"
    )
    k = sample.records.height
    sd = (n_all * share * (1 - share)) ** 0.5
    assert abs(k - n_all * share) < 5 * sd
    # the sample is a subset of the full log
    joined = sample.records.join(full.records, on=list(full.records.columns), how="anti")
    assert joined.height == 0
    none = pn.run(sc.override({"run.records": "none"}), out=tmp_path / "n")
    assert none.records.height == 0
    assert none.timeseries.equals(full.timeseries)


def test_cli_run_summary_and_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    rc = run_cli(
        "run",
        "minimal",
        "--population",
        "5000",
        "--days",
        "30",
        "--out",
        str(out),
        "--set",
        "surveillance.faceid.p_wrong=0.05",
        "--seed",
        "9",
    )
    assert rc == 0
    text = capsys.readouterr().out
    for word in (
        "committed",
        "seen by the system",
        "recorded",
        "against an innocent",
        "sanctioned",
        "wrongly sanctioned",
    ):
        assert word in text
    scen = (out / "scenario.toml").read_text()
    assert "p_wrong = 0.05" in scen and "seed = 9" in scen and "size = 5000" in scen
    assert pl.read_parquet(out / "people.parquet").height == 5000
    # quiet prints nothing
    rc = run_cli(
        "run", "minimal", "--population", "500", "--days", "3", "--out", str(tmp_path / "q"), "-q"
    )
    assert rc == 0 and capsys.readouterr().out == ""


def test_presets_and_validate(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("presets") == 0
    assert "minimal" in capsys.readouterr().out
    assert run_cli("validate", "minimal", "--set", "run.days=10") == 0
    assert "ok" in capsys.readouterr().out


def test_scenario_file_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "my_city.toml"
    f.write_text("[population]\nsize = 2000\n[run]\ndays = 5\n")
    assert run_cli("run", str(f), "--out", str(tmp_path / "o"), "-q") == 0
    assert pn.open_run(tmp_path / "o").manifest["scenario"] == "my_city"


BAD_SETS = [
    ("--set", "surveillance.camera.colour=1", "surveillance.camera.colour"),
    ("--set", 'run.days="ten"', "run.days"),
    ("--set", "behaviors.violation.rate=-0.1", "behaviors.violation.rate"),
    ("--set", "surveillance.faceid.p_miss=1.5", "surveillance.faceid.p_miss"),
    ("--set", "surveillance.faceid.p_miss=0.995", "p_miss + p_wrong"),
    ("--set", "population.size=0", "population.size"),
    ("--set", "run.days=", "--set"),
    ("--set", "nokey", "--set"),
    ("--set", "run.days.x=3", "run.days"),
    ("--population", "0", "population.size"),
]


@pytest.mark.parametrize(("flag", "value", "field"), BAD_SETS)
def test_bad_overrides_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, field: str
) -> None:
    out = tmp_path / "never"
    rc = run_cli("run", "minimal", flag, value, "--out", str(out))
    err = capsys.readouterr().err
    assert rc == 2
    assert field in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    malformed = tmp_path / "bad.toml"
    malformed.write_text("[population\nsize = 3")
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[population]\nsize = 10\nheight = 3\n")
    wrong_type = tmp_path / "type.toml"
    wrong_type.write_text("[surveillance.camera]\ncoverage = 'high'\n")
    cases = [
        ("no-such-preset", "no such preset"),
        (str(tmp_path / "missing.toml"), "no such file"),
        (str(malformed), "malformed TOML"),
        (str(unknown), "population.height"),
        (str(wrong_type), "surveillance.camera.coverage"),
        (str(tmp_path), "is a folder"),
    ]
    for source, needle in cases:
        rc = run_cli("validate", source)
        err = capsys.readouterr().err
        assert rc == 2, source
        assert needle in err and "Traceback" not in err, (source, err)


def test_output_folder_with_a_run_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r"
    args = ("run", "minimal", "--population", "1000", "--days", "3", "--out", str(out), "-q")
    assert run_cli(*args) == 0
    before = (out / "people.parquet").read_bytes()
    assert run_cli(*args, "--seed", "5") == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (out / "people.parquet").read_bytes() == before
    assert run_cli(*args, "--seed", "5", "--overwrite") == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 5
    other = tmp_path / "notarun"
    other.mkdir()
    (other / "thesis.txt").write_text("mine")
    assert run_cli("run", "minimal", "--out", str(other), "--overwrite") == 2
    assert (other / "thesis.txt").exists()


def test_killed_run_is_marked_incomplete(tmp_path: Path) -> None:
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "panopticon.cli",
            "run",
            "minimal",
            "--population",
            "2000000",
            "--days",
            "36500",
            "--out",
            str(out),
            "-q",
        ],
    )
    partial = partial_path(out)  # where a run is written until it is complete
    deadline = time.time() + 60
    while not (partial / "manifest.json").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    manifest = json.loads((partial / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    with pytest.raises(pn.RunError, match="incomplete"):
        pn.open_run(out)
    assert not out.exists()
    # the leftover does not block a rerun
    assert (
        run_cli("run", "minimal", "--population", "500", "--days", "2", "--out", str(out), "-q")
        == 0
    )
    assert not partial.exists() and pn.open_run(out).manifest["population"] == 500


def test_interrupted_run_says_why(tmp_path: Path) -> None:
    calls = {"n": 0}

    def stop(done: int, total: int) -> None:
        calls["n"] += 1
        if done == 3:
            raise KeyboardInterrupt

    sc = pn.load("minimal", population=1000, days=10)
    with pytest.raises(KeyboardInterrupt):
        pn.run(sc, out=tmp_path / "i", progress=stop)
    # nothing to resume from: nothing is left
    assert not (tmp_path / "i").exists() and not partial_path(tmp_path / "i").exists()
    with pytest.raises(KeyboardInterrupt):
        pn.run(sc, out=tmp_path / "c", progress=stop, checkpoint_every=2)
    manifest = json.loads((partial_path(tmp_path / "c") / "manifest.json").read_text())
    assert manifest["status"] == "incomplete" and manifest["error"] == "interrupted"


def test_memory_refusal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from panopticon.core import engine

    monkeypatch.setattr(engine, "available_bytes", lambda: 100 * 2**20)
    with pytest.raises(pn.RunError, match=r"population\.size"):
        pn.run(pn.load("minimal", population=1000, days=1), out=tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_open_run_errors(tmp_path: Path) -> None:
    with pytest.raises(pn.RunError, match="no such folder"):
        pn.open_run(tmp_path / "nothing")
    with pytest.raises(pn.RunError, match="not a run folder"):
        pn.open_run(tmp_path)
