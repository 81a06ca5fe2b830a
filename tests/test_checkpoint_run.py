"""Checkpoints in runs: a killed run resumed, forks with and without overrides, refusals."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import panopticon as pn
from panopticon.cli import main
from panopticon.io.checkpoint import CheckpointError, list_checkpoints
from panopticon.io.runs import partial_path

SIZE, DAYS = 20_000, 90
# enough low grades at this size that avoidance rounds drop ties (the graph restore is
# exercised only when the graph changed before the checkpoint)
HARSH = ["behaviors.red_light_crossing.points=120", "behaviors.fare_evasion.points=120"]
SETS = {"minimal": [], "seed-article": HARSH}
THRESHOLD = "sanctions.blacklist.threshold=995"  # catches people at this scale


def tables(run: Path) -> dict[str, pl.DataFrame]:
    """Every table of a run folder by file name."""
    return {p.name: pl.read_parquet(p) for p in sorted(run.glob("*.parquet"))}


def assert_same_tables(a: Path, b: Path) -> None:
    """The two run folders hold the same tables, column by column."""
    ta, tb = tables(a), tables(b)
    assert sorted(ta) == sorted(tb)
    for name in ta:
        assert ta[name].columns == tb[name].columns, name
        for col in ta[name].columns:
            assert ta[name][col].equals(tb[name][col]), f"{name}: column {col} differs"


def killed_run(preset: str, out: Path, every: int, kill_after: int) -> None:
    """Run `preset` with checkpoints in a subprocess that SIGKILLs itself after a day.

    The subprocess imports in another order than this process (loading the scenario
    first): the registry's fixed order makes both build the same plan.
    """
    code = f"""
import os, signal
import panopticon as pn

def kill(done: int, total: int) -> None:
    if done == {kill_after}:
        os.kill(os.getpid(), signal.SIGKILL)

sc = pn.load({preset!r}, {SETS[preset]!r}, population={SIZE}, days={DAYS})
pn.run(sc, out={str(out)!r}, checkpoint_every={every}, progress=kill)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    assert not out.exists()  # the interrupted run lives in its private sibling
    manifest = json.loads((partial_path(out) / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"


@pytest.fixture(scope="module")
def article(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted seed-article run, with checkpoints every 30 days."""
    out = tmp_path_factory.mktemp("article") / "whole"
    sc = pn.load("seed-article", HARSH, population=SIZE, days=DAYS)
    pn.run(sc, out=out, checkpoint_every=30)
    return out


def test_minimal_killed_and_resumed_equals_whole(tmp_path: Path) -> None:
    plain, whole, cut = tmp_path / "plain", tmp_path / "whole", tmp_path / "cut"
    common = ["minimal", "--population", str(SIZE), "--days", str(DAYS), "-q"]
    assert main(["run", *common, "--out", str(plain)]) == 0
    assert main(["run", *common, "--out", str(whole), "--checkpoint-every", "25"]) == 0
    assert_same_tables(plain, whole)  # checkpoints and the parted log change nothing
    assert list_checkpoints(whole / "checkpoints") == [25, 50, 75]
    assert not (whole / "records.parts").exists()
    killed_run("minimal", cut, every=25, kill_after=60)
    assert list_checkpoints(partial_path(cut) / "checkpoints") == [25, 50]
    assert main(["resume", str(cut), "-q"]) == 0
    assert not partial_path(cut).exists()
    assert_same_tables(whole, cut)
    assert json.loads((cut / "manifest.json").read_text())["resumed"][0]["day"] == 50


def test_article_killed_and_resumed_equals_whole(article: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut"
    # the avoidance round of day 59 rewires the graph before the checkpoint of day 60
    killed_run("seed-article", cut, every=30, kill_after=75)
    assert list_checkpoints(partial_path(cut) / "checkpoints") == [30, 60]
    pn.resume(cut)
    assert_same_tables(article, cut)
    assert pl.read_parquet(article / "timeseries.parquet")["ties_dropped"].sum() > 0


def test_fork_without_override_equals_whole(article: Path, tmp_path: Path) -> None:
    fork = pn.fork(article, 60, [], tmp_path / "fork")
    assert fork.manifest["forked_from"]["day"] == 60
    assert_same_tables(article, tmp_path / "fork")


def test_fork_with_override_differs_after_day(article: Path, tmp_path: Path) -> None:
    out = tmp_path / "fork"
    assert (
        main(["fork", str(article), "--day", "30", "--set", THRESHOLD, "--out", str(out), "-q"])
        == 0
    )
    a = pl.read_parquet(article / "timeseries.parquet")
    b = pl.read_parquet(out / "timeseries.parquet")
    assert_frame_equal(a[:30], b[:30])
    assert not a[30:].equals(b[30:])
    assert b["sanctioned"][-1] > a["sanctioned"][-1]
    assert "threshold = 995" in (out / "scenario.toml").read_text()


def test_refusals(article: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a minimal run stopped by an error after its checkpoint of day 10
    cut = tmp_path / "cut"

    def stop(done: int, total: int) -> None:
        if done == 15:
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        pn.run(
            pn.load("minimal", population=2_000, days=30),
            out=cut,
            checkpoint_every=10,
            progress=stop,
        )
    # a checkpoint of another scenario (the stopped run is kept in its private sibling)
    assert not cut.exists()
    shutil.rmtree(partial_path(cut) / "checkpoints")
    shutil.copytree(article / "checkpoints", partial_path(cut) / "checkpoints")
    with pytest.raises(CheckpointError, match="scenario hash"):
        pn.resume(cut)
    assert main(["resume", str(cut), "-q"]) == 2
    assert "resume only the run that wrote it" in capsys.readouterr().err
    # another version
    manifest = json.loads((partial_path(cut) / "manifest.json").read_text())
    (partial_path(cut) / "manifest.json").write_text(
        json.dumps({**manifest, "panopticon": "0.0.1"})
    )
    assert main(["resume", str(cut), "-q"]) == 2
    assert "written by panopticon 0.0.1" in capsys.readouterr().err
    # a complete run has nothing to resume
    assert main(["resume", str(article), "-q"]) == 2
    assert "already complete" in capsys.readouterr().err
    # forks that change the population or the declared state
    out = str(tmp_path / "fork")
    args = ["fork", str(article), "--day", "30", "--out", out, "-q", "--set"]
    assert main([*args, "population.size=1000"]) == 2
    assert "changes population.size" in capsys.readouterr().err
    assert main([*args, "surveillance.appeals.enabled=false"]) == 2
    assert "changes the run's state" in capsys.readouterr().err
    assert main(["fork", str(article), "--day", "45", "--out", out, "-q"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["run", "minimal", "--checkpoint-every", "0", "-q", "--out", out]) == 2
    assert "--checkpoint-every" in capsys.readouterr().err
