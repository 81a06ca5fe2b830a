"""A sweep's parent stopped by SIGINT, SIGTERM or SIGKILL: no worker outlives it, the
message names the complete runs, and resuming gives the table of an uninterrupted sweep."""

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

from panopticon.analysis.workers import run_in_workers
from panopticon.cli import main

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

# runs long enough (most of a second each) that a worker is mid-run when the signal comes
ARGS = ["sweep", "minimal", "--population", "40000", "--days", "100", "--no-report"]
ARGS += ["--vary", "surveillance.faceid.p_wrong=0.02,0.2", "--replicates", "2"]
RUN_IDS = {f"p_wrong={p}_rep{r}" for p in ("0.02", "0.2") for r in (0, 1)}


def _stat(pid: int) -> list[str] | None:
    """State, ppid, ... of a process from /proc (None if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _descendants(root: int) -> set[int]:
    """Every process below `root`, found through the ppid field of /proc/*/stat."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(st[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def _complete(out: Path) -> set[str]:
    """The run ids whose folder holds a complete manifest."""
    done = set()
    for m in (out / "runs").glob("*/manifest.json"):
        if m.parent.name.startswith("."):  # a run being written (.<id>.partial)
            continue
        try:
            if json.loads(m.read_text())["status"] == "complete":
                done.add(m.parent.name)
        except (OSError, ValueError, KeyError):
            pass
    return done


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "sw"
    assert main([*ARGS, "--out", str(out), "-q"]) == 0
    return out / "sweep.parquet"


@pytest.mark.parametrize(
    ("sig", "jobs"),
    [(signal.SIGINT, 2), (signal.SIGTERM, 2), (signal.SIGKILL, 2), (signal.SIGTERM, 1)],
    ids=["SIGINT", "SIGTERM", "SIGKILL", "SIGTERM-in-process"],
)
def test_parent_signal_stops_workers_and_resume_equals(
    sig: signal.Signals, jobs: int, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sw"
    cmd = [sys.executable, "-m", "panopticon.cli", *ARGS, "--jobs", str(jobs), "--out", str(out)]
    cmd.append("-q")
    parent = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, start_new_session=True)
    kids: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while not _complete(out):
            assert parent.poll() is None, parent.stderr.read() if parent.stderr else ""
            assert time.monotonic() < deadline, "no run completed"
            time.sleep(0.02)
        kids = _descendants(parent.pid)
        if jobs > 1:  # the workers (and multiprocessing's resource tracker)
            assert len(kids) >= jobs
        parent.send_signal(sig)
        _, err = parent.communicate(timeout=10)
        gone_by = time.monotonic() + 5
        while any(_alive(k) for k in kids) and time.monotonic() < gone_by:
            time.sleep(0.05)
        assert not [k for k in kids if _alive(k)], "workers outlived the sweep"
    finally:
        for k in kids | {parent.pid}:
            if _alive(k):
                os.kill(k, signal.SIGKILL)
        parent.wait()

    done = _complete(out)
    assert done and done < RUN_IDS
    if sig == signal.SIGKILL:
        assert parent.returncode == -signal.SIGKILL
    else:
        assert parent.returncode == 128 + sig, err
        lines = err.strip().splitlines()
        assert lines[0] == f"interrupted ({sig.name}): {len(done)} of 4 runs are complete"
        assert lines[1] == f"complete ({len(done)}): " + ", ".join(sorted(done))
        assert lines[2] == f"not complete ({4 - len(done)}): " + ", ".join(sorted(RUN_IDS - done))
        assert "run the same command again" in lines[3]
    assert not (out / "sweep.parquet").exists()

    assert main([*ARGS, "--out", str(out), "-q"]) == 0
    assert pl.read_parquet(out / "sweep.parquet").equals(pl.read_parquet(reference))
    assert (out / "sweep.parquet").read_bytes() == reference.read_bytes()
    timings = pl.read_parquet(out / "sweep_timings.parquet")
    assert sorted(timings["run_id"]) == sorted(RUN_IDS)
    assert (timings["wall_seconds"] > 0).all()


def _fail(x: int) -> None:
    if x == 1:
        raise ValueError(f"task {x} failed")


def test_a_failing_task_stops_the_others() -> None:
    started = time.monotonic()
    with pytest.raises(ValueError, match="task 1 failed") as exc:
        run_in_workers(_fail, [(0,), (1,), (2,), (3,)], 2)
    assert "Traceback" in str(exc.value.__cause__)
    assert time.monotonic() - started < 30
