"""The Ray backend of ensembles: the same table and bytes as local, and a killed worker.

One local Ray cluster serves the module (starting one takes ~10 s on 2 cores); the
backend uses a Ray session the process already opened, as it does in a notebook. The
tests are skipped when ray is not importable, unless the environment variable CI is set
(CI installs ".[test]", which includes ray: there a missing ray is a failure).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import panopticon as pn
from panopticon.analysis.ray_backend import PID_DIR_ENV
from panopticon.analysis.sweep import parse_vary, run_sweep
from panopticon.cli import main

SWEEP = [parse_vary("surveillance.faceid.p_wrong=0.02,0.2")]
REPLICATES = 2
COMPARED = ("people.parquet", "timeseries.parquet")


def _ray() -> Any:
    """The ray module; skip without it (fail under CI, which installs it)."""
    if os.environ.get("CI"):
        import ray
    else:
        ray = pytest.importorskip("ray")
    return ray


def test_unreachable_address_is_one_line(tmp_path: Path, capsys: Any) -> None:
    """An address where nothing answers: exit 2 at once, one line (Ray would retry minutes).

    First in the module: once the module's cluster is up, the backend uses that session.
    """
    ray = _ray()
    assert not ray.is_initialized()
    argv = ["sweep", "minimal", "--population", "1000", "--days", "5", "-q", "--no-report"]
    argv += ["--backend", "ray", "--address", "127.0.0.1:1", "--out", str(tmp_path)]
    t0 = time.monotonic()
    assert main(argv) == 2
    assert time.monotonic() - t0 < 20
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --address 127.0.0.1:1: nothing answers")
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def pid_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each Ray task attempt appends its worker's pid (the test-only hook)."""
    return tmp_path_factory.mktemp("pids")


@pytest.fixture(scope="module")
def cluster(pid_dir: Path) -> Iterator[Any]:
    """One local Ray cluster of 2 CPUs for the module, its workers told where to log pids."""
    ray = _ray()
    old = os.environ.get(PID_DIR_ENV)
    os.environ[PID_DIR_ENV] = str(pid_dir)  # the raylet, and so every worker, inherits it
    try:
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=100 * 2**20,
            _node_ip_address="127.0.0.1",
            logging_level="ERROR",
            log_to_driver=False,
        )
        yield ray
    finally:
        ray.shutdown()
        if old is None:
            os.environ.pop(PID_DIR_ENV, None)
        else:
            os.environ[PID_DIR_ENV] = old


@pytest.fixture(scope="module")
def base() -> pn.Scenario:
    """The minimal model, 2,000 citizens x 30 days."""
    return pn.load("minimal", population=2000, days=30, seed=11)


@pytest.fixture(scope="module")
def local_sweep(base: pn.Scenario, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The sweep (2 points x 2 replicates) on the local backend, in this process."""
    out = tmp_path_factory.mktemp("local")
    return run_sweep(base, SWEEP, REPLICATES, out, jobs=1, quiet=True, report=False)


def _digests(out: Path) -> dict[tuple[str, str], str]:
    """(run id, file) -> sha256 from every run folder's manifest."""
    found = {}
    for run in sorted((out / "runs").iterdir()):
        files = json.loads((run / "manifest.json").read_text("utf-8"))["files"]
        for name in COMPARED:
            found[(run.name, name)] = files[name]["sha256"]
    return found


def _tidy_checks(table: pl.DataFrame, local: pl.DataFrame) -> None:
    """Every run x metric exactly once, and the table equal to the local backend's."""
    assert table.group_by("run_id", "metric").len()["len"].max() == 1
    assert table["run_id"].n_unique() == 2 * REPLICATES
    assert table.equals(local)


def test_ray_sweep_equals_local(
    cluster: Any, base: pn.Scenario, local_sweep: Any, tmp_path: Path
) -> None:
    """The CLI sweep on Ray: the tidy table and the run folders' bytes equal the local ones."""
    argv = ["sweep", "minimal", "--population", "2000", "--days", "30", "--seed", "11"]
    argv += ["--vary", "surveillance.faceid.p_wrong=0.02,0.2", "--replicates", "2"]
    argv += ["--jobs", "2", "--backend", "ray", "--no-report", "-q", "--out", str(tmp_path)]
    assert main(argv) == 0
    table = pl.read_parquet(tmp_path / "sweep.parquet")
    _tidy_checks(table, local_sweep.table)
    assert _digests(tmp_path) == _digests(local_sweep.out)
    assert len(_digests(tmp_path)) == 2 * REPLICATES * len(COMPARED)
    # the runs ran in Ray workers, not here: each wrote its worker's pid
    pids = {int(p) for f in _pid_files(tmp_path) for p in f.read_text().split()}
    assert pids and os.getpid() not in pids


def _pid_files(out: Path) -> list[Path]:
    """The pid files of the runs of sweep `out` (named by run folder)."""
    folder = Path(os.environ[PID_DIR_ENV])
    return [folder / f"{run.name}.pid" for run in sorted((out / "runs").iterdir())]


def test_killed_worker_costs_a_retry_not_a_result(
    cluster: Any, base: pn.Scenario, local_sweep: Any, pid_dir: Path, tmp_path: Path
) -> None:
    """SIGKILL of the worker running a run: Ray retries it; every row once, same results."""
    for f in pid_dir.iterdir():
        f.unlink()
    killed: dict[str, Any] = {}
    stop = threading.Event()

    def killer() -> None:
        """Kill the first worker that starts a run, while the run is not yet complete."""
        while not stop.is_set():
            for f in sorted(pid_dir.glob("*.pid")):
                lines = f.read_text("ascii").split()
                if not lines:
                    continue
                run = tmp_path / "runs" / f.name.removesuffix(".pid")
                killed["complete_at_kill"] = (run / "manifest.json").exists()
                killed["run"], killed["pid"] = run.name, int(lines[0])
                os.kill(int(lines[0]), signal.SIGKILL)
                return
            time.sleep(0.005)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        res = run_sweep(
            base, SWEEP, REPLICATES, tmp_path, jobs=2, quiet=True, report=False, backend="ray"
        )
    finally:
        stop.set()
        thread.join(5)
    assert killed and not killed["complete_at_kill"], killed
    attempts = [int(p) for p in (pid_dir / f"{killed['run']}.pid").read_text().split()]
    assert len(attempts) >= 2 and attempts[0] == killed["pid"], attempts
    assert attempts[-1] != killed["pid"]  # the retry ran in another worker process
    _tidy_checks(res.table, local_sweep.table)
    assert _digests(tmp_path) == _digests(local_sweep.out)
    leftovers = [p.name for p in (tmp_path / "runs").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_ray_missing_says_how_to_install(
    base: pn.Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Without ray, --backend ray exits 2 with one line naming the extra to install."""
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    argv = ["sweep", "minimal", "--population", "1000", "--days", "5", "--backend", "ray"]
    assert main([*argv, "-q", "--no-report", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install "panopticon[ray]"' in err[0], err
    assert err[0].startswith("error: --backend ray: ")


def test_run_replicates_on_ray(cluster: Any, local_sweep: Any, tmp_path: Path) -> None:
    """run --replicates --backend ray: each replicate the same bytes as the local sweep's."""
    argv = ["run", "minimal", "--population", "2000", "--days", "30", "--seed", "11"]
    argv += ["--set", "surveillance.faceid.p_wrong=0.02", "--replicates", "2", "--jobs", "2"]
    assert main([*argv, "--backend", "ray", "-q", "--out", str(tmp_path)]) == 0
    for r in range(REPLICATES):
        ray_files = pn.RunResult(tmp_path / f"rep{r}").manifest["files"]
        local = pn.RunResult(local_sweep.out / "runs" / f"p_wrong=0.02_rep{r}")
        for name in COMPARED:
            assert ray_files[name] == local.manifest["files"][name]
    assert (tmp_path / "summary.json").is_file()


@pytest.mark.slow
def test_sigint_cancels_ray_tasks_and_stops_the_cluster(tmp_path: Path) -> None:
    """Ctrl-C of a sweep on its own local cluster: exit 130, workers killed, cluster gone."""
    _ray()
    import subprocess

    pids = tmp_path / "pids"
    pids.mkdir()
    env = {**os.environ, PID_DIR_ENV: str(pids)}
    # runs long enough (10^6 x 10 years) that an idle machine does not finish them first
    argv = [sys.executable, "-m", "panopticon.cli", "sweep", "minimal", "--population", "1000000"]
    argv += ["--days", "3650", "--replicates", "2", "--jobs", "2", "--backend", "ray", "-q"]
    argv += ["--no-report", "--out", str(tmp_path / "sw")]
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list(pids.glob("*.pid")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.1)
        time.sleep(1.0)
        workers = [int(p) for f in pids.glob("*.pid") for p in f.read_text().split()]
        assert workers
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    # a fast machine may finish one run in the second before the signal; never both
    assert re.search(r"interrupted \(SIGINT\): [01] of 2 runs are complete", err), err
    # the workers, and every process of the cluster it started (they inherited the env)
    mark = f"{PID_DIR_ENV}={pids}".encode()
    deadline = time.monotonic() + 15
    alive = workers
    while time.monotonic() < deadline:
        alive = [p for p in workers if _alive(p)] + _with_env(mark)
        if not alive:
            break
        time.sleep(0.2)
    assert alive == []


def _alive(pid: int) -> bool:
    """Whether process `pid` exists (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _with_env(mark: bytes) -> list[int]:
    """Live processes whose environment holds `mark` (KEY=value)."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                env = (d / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if mark in env and _alive(int(d.name)):
                found.append(int(d.name))
    return found
