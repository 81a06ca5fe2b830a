"""Sharded runs killed whole and resumed (core/shards.py): the one-process bytes again.

The run is stopped by an exception raised from the driver loop's test hook after a
checkpoint day (as a Ctrl-C or a kill would stop it: the driver's state is lost), then
`resume` goes on from the latest day on which the driver and every shard checkpointed;
every parquet file's sha256 equals the uninterrupted one-process run's. The slow test
SIGKILLs a driver running its shards on Ray and resumes it on Ray.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import panopticon as pn
from panopticon.cli import main
from panopticon.core.records import RecordBatch
from panopticon.core.shards import log_arrays, log_batches, run_sharded
from panopticon.io.checkpoint import (
    drop_checkpoints_after,
    list_checkpoints,
    write_checkpoint,
)
from panopticon.io.runs import partial_path

ARTICLE_SETS = [
    "network.avoidance.every_days=20",  # avoidance rounds on days 19, 39, 59
    'network.avoidance.avoid_grades=["B", "C", "D"]',
    'sanctions.measures.schools.trigger.grades=["B", "C", "D"]',  # many liable parents
    "sanctions.measures.schools.first_day=20",  # school rounds on days 20 and 40
    "sanctions.measures.schools.every_days=20",
    "response.network_deterrence=0.9",  # records lower their circles' multipliers
]

DOCUMENTED_SETS = [
    "sanctions.court.cases_per_year=0.05",
    "sanctions.court.listing_per_year=2.0",
    "sanctions.court.duration_days=120",
    "sanctions.court.compliance_per_year=0.5",
    "sanctions.court.initial_defaulting=0.01",
    "scoring.lists.redlist.exit_per_day=0.01",
]


def article() -> pn.Scenario:
    """seed-article, 20,000 x 60 days: avoidance, joint liability, network deterrence."""
    return pn.load("seed-article", sets=ARTICLE_SETS, population=20_000, days=60, seed=5)


def documented() -> pn.Scenario:
    """documented, 20,000 x 300 days: Sesame's barrier, the red-list, the court list."""
    return pn.load("documented", sets=DOCUMENTED_SETS, population=20_000, days=300, seed=7)


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every parquet file of a run folder (the record log included)."""
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in folder.glob("*.parquet")}


@pytest.fixture(scope="module")
def article_one(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The digests of seed-article's uninterrupted one-process run."""
    out = tmp_path_factory.mktemp("article") / "run"
    pn.run(article(), out=out)
    got = digests(out)
    assert "records.parquet" in got and "allocations.parquet" in got
    return got


@pytest.fixture(scope="module")
def documented_one(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The digests of documented's uninterrupted one-process run."""
    out = tmp_path_factory.mktemp("documented") / "run"
    pn.run(documented(), out=out)
    return digests(out)


class Stop(Exception):
    """Raised by the test hook: the whole run stops (the driver's memory is lost)."""


def stopped(sc: pn.Scenario, k: int, out: Path, every: int, after: int) -> Path:
    """Run `sc` on K in-process shards, stopped after day `after`; its private folder."""

    def fault(day: int, shards: Any) -> None:
        if day == after:
            raise Stop

    with pytest.raises(Stop):
        run_sharded(sc, k, out=out, backend="local", checkpoint_every=every, fault=fault)
    partial = partial_path(out)
    assert not out.exists()
    assert json.loads((partial / "manifest.json").read_text())["status"] == "incomplete"
    return partial


def test_log_arrays_round_trip() -> None:
    """Days' log batches flattened and rebuilt give the same `log_table` (None days too)."""
    rng = np.random.default_rng(2)

    def batch(day: int, n: int, full: bool) -> RecordBatch:
        return RecordBatch(
            day,
            rng.integers(0, 5, n).astype(np.uint8),
            rng.integers(0, 9999, n).astype(np.int32),
            rng.integers(0, 9999, n).astype(np.int32),
            rng.integers(0, 2, n).astype(np.uint8),
            rng.random(n) < 0.9,
            rng.integers(0, day + 1, n).astype(np.int32) if full else np.empty(0, np.int32),
            rng.integers(0, 3, n).astype(np.uint8) if full else np.empty(0, np.uint8),
        )

    days = [batch(0, 7, False), None, batch(2, 0, True), batch(3, 11, True), None]
    got = log_batches(log_arrays(days))
    assert [b is None for b in got] == [b is None for b in days]
    for a, b in zip(days, got, strict=True):
        if a is None or b is None:
            continue
        assert b.day == a.day and len(b) == len(a)
        for name in ("behavior", "perpetrator", "attributed_to", "channel", "correct"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
            assert getattr(a, name).dtype == getattr(b, name).dtype, name
        assert a.act_day.size == b.act_day.size and a.appeal.size == b.appeal.size
    assert log_batches(log_arrays([])) == []
    # the writer's table of the rebuilt days is the original's (days with every field)
    log = pn.Simulation(article(), 0, 4096).need("record_log")
    assert log.log_table(got[2:4]).equals(log.log_table(days[2:4]))  # type: ignore[arg-type]


def test_drop_checkpoints_after(tmp_path: Path) -> None:
    """Later days and leftover partial folders go; the day itself and earlier ones stay."""
    for day in (10, 20, 30):
        write_checkpoint(tmp_path, day, {"a": np.arange(3)}, {})
    (tmp_path / ".partial-day-00040-x").mkdir()
    assert drop_checkpoints_after(tmp_path, 20) == [30]
    assert list_checkpoints(tmp_path) == [10, 20]
    assert not list(tmp_path.glob(".partial-*"))


@pytest.mark.parametrize("k", [2, 3])
def test_seed_article_killed_whole_and_resumed(
    k: int, article_one: dict[str, str], tmp_path: Path
) -> None:
    """Stopped after day 45 (checkpoints 20, 40), resumed from 40: the one-process bytes.

    Days 40-44 are run again: the school round of day 40 and every day's network
    deterrence barrier; the graph rewired on days 19 and 39 comes back from the shards'
    checkpoints.
    """
    out = tmp_path / "run"
    partial = stopped(article(), k, out, every=20, after=45)
    assert list_checkpoints(partial / "checkpoints") == [20, 40]
    for j in range(k):
        assert list_checkpoints(partial / "shard-checkpoints" / f"shard-{j}") == [20, 40]
    notes: list[str] = []
    run = pn.resume(out, note=notes.append)
    assert digests(out) == article_one
    assert not partial.exists()
    assert run.manifest["resumed"][0]["day"] == 40
    assert run.manifest["shards"]["count"] == k
    assert notes == [f"resuming {out} from day 40 of 60 on {k} shards (local)"]


def test_resume_from_the_latest_common_day(article_one: dict[str, str], tmp_path: Path) -> None:
    """A kill between the shards' checkpoints of a day and the driver's: resumed from before.

    Day 40's checkpoint is left to shards 0 and 1 only (as a kill while shard 2 wrote it
    would): the run goes on from day 20, says so, drops the later ones, and is still the
    one-process run byte for byte.
    """
    out = tmp_path / "run"
    partial = stopped(article(), 3, out, every=20, after=45)
    shutil.rmtree(partial / "checkpoints" / "day-00040")
    shutil.rmtree(partial / "shard-checkpoints" / "shard-2" / "day-00040")
    notes: list[str] = []
    run = pn.resume(out, note=notes.append)
    assert run.manifest["resumed"][0]["day"] == 20
    assert notes[0].startswith(f"resuming {out} from day 20 of 60 on 3 shards (local): ")
    assert "shard 0 has day 40" in notes[0] and "dropped" in notes[0]
    assert digests(out) == article_one
    assert list_checkpoints(out / "shard-checkpoints" / "shard-0") == [20, 40]  # rewritten


def test_resumed_twice(
    article_one: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resumed run stopped again and resumed again: still the same bytes."""
    from panopticon.core import shards

    out = tmp_path / "run"
    stopped(article(), 2, out, every=10, after=25)
    original = shards._run_days

    def again(day: int, workers: Any) -> None:
        if day == 37:
            raise Stop

    def run_days(driver: Any, writer: Any, start: int, progress: Any, fault: Any) -> None:
        original(driver, writer, start, progress, again)

    monkeypatch.setattr(shards, "_run_days", run_days)
    with pytest.raises(Stop):
        pn.resume(out)
    monkeypatch.setattr(shards, "_run_days", original)
    assert list_checkpoints(partial_path(out) / "checkpoints") == [10, 20, 30]
    run = pn.resume(out)
    assert [r["day"] for r in run.manifest["resumed"]] == [20, 30]
    assert digests(out) == article_one


@pytest.mark.parametrize("k", [2, 3])
def test_documented_killed_whole_and_resumed(
    k: int, documented_one: dict[str, str], tmp_path: Path
) -> None:
    """documented stopped after day 130 (checkpoints every 50), resumed from day 100.

    Sesame's recomputation of day 119 (a national barrier) and the court list's cohorts
    are run again on the resumed shards.
    """
    out = tmp_path / "run"
    stopped(documented(), k, out, every=50, after=130)
    run = pn.resume(out)
    assert run.manifest["resumed"][0]["day"] == 100
    assert digests(out) == documented_one


def test_city_pilot_log_in_small_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Delays and appeals (the log's day_recorded and appeal), row groups across checkpoints.

    With row groups of about 300 records the log's groups straddle the checkpoint days:
    the resumed log is still the one-process bytes, group boundaries included.
    """
    from panopticon.io import runs

    monkeypatch.setattr(runs, "FLUSH_ROWS", 300)
    sets = ["surveillance.faceid.p_wrong=0.2"]
    sc = pn.load("city-pilot", sets=sets, population=20_000, days=100, seed=3)
    pn.run(sc, out=tmp_path / "one")
    out = tmp_path / "run"
    stopped(sc, 2, out, every=30, after=70)
    pn.resume(out)
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(out / "records.parquet").metadata
    assert meta.num_row_groups > 5 and "appeal" in meta.schema.names
    assert digests(out) == digests(tmp_path / "one")


def test_checkpoints_via_the_driver(
    article_one: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``checkpoint_via="driver"``: shards hand their checkpoints back; the driver writes them.

    No shard writes a file (`Simulation.checkpoint` is never called); a lost shard is
    restored from the checkpoint the driver reads and hands it; the run stopped whole
    resumes (the driver hands each shard its checkpoint) to the one-process bytes.
    """

    def refuse(self: Any, folder: Any) -> None:
        raise AssertionError("a shard wrote its own checkpoint")

    monkeypatch.setattr(pn.Simulation, "checkpoint", refuse)

    def fault(day: int, workers: Any) -> None:
        if day == 24:
            workers.kill(1)
        if day == 45:
            raise Stop

    out = tmp_path / "run"
    with pytest.raises(Stop):
        run_sharded(
            article(),
            2,
            out=out,
            backend="local",
            checkpoint_every=10,
            fault=fault,
            checkpoint_via="driver",
        )
    partial = partial_path(out)
    for j in range(2):
        assert list_checkpoints(partial / "shard-checkpoints" / f"shard-{j}") == [10, 20, 30, 40]
    run = pn.resume(out)
    assert run.manifest["shards"]["checkpoint_via"] == "driver"
    assert run.manifest["shards"]["recoveries"] == [{"shard": 1, "day": 25, "from_checkpoint": 20}]
    assert digests(out) == article_one


def test_shard_lost_while_handing_back(
    article_one: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shard lost before the driver took its checkpoint of day 20: replayed from day 10.

    Rebuilt from its day-10 checkpoint, replayed to day 20, it checkpoints and hands that
    back, runs day 20's first half again, and the run goes on: the one-process bytes.
    """
    from panopticon.core.shards import Driver

    original = Driver.take

    def take(self: Driver, day: int) -> None:
        if day == 20:
            self.shards.kill(1)
        original(self, day)

    monkeypatch.setattr(Driver, "take", take)
    run = run_sharded(
        article(),
        3,
        out=tmp_path / "run",
        backend="local",
        checkpoint_every=10,
        checkpoint_via="driver",
    )
    assert run.manifest["shards"]["recoveries"] == [{"shard": 1, "day": 20, "from_checkpoint": 10}]
    assert list_checkpoints(tmp_path / "run" / "shard-checkpoints" / "shard-1") == [
        10,
        20,
        30,
        40,
        50,
    ]
    assert digests(tmp_path / "run") == article_one


@pytest.mark.parametrize("kept", ['run.records="none"', 'run.records="sample"'])
def test_log_none_or_sampled(kept: str, tmp_path: Path) -> None:
    """A log that keeps no record, or a sample: the resumed folder is still the same bytes."""
    sets = ["surveillance.faceid.p_wrong=0.2", kept, "run.records_sample=0.3"]
    sc = pn.load("minimal", sets=sets, population=10_000, days=30)
    pn.run(sc, out=tmp_path / "one")
    stopped(sc, 2, tmp_path / "run", every=10, after=15)
    pn.resume(tmp_path / "run")
    assert digests(tmp_path / "run") == digests(tmp_path / "one")


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The stderr of a refused command: exactly one line, returned."""
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No complete set, another scenario, options for a one-process run: exit 2, one line."""
    sc = pn.load("minimal", sets=["surveillance.faceid.p_wrong=0.2"], population=10_000, days=30)
    out = tmp_path / "run"
    partial = stopped(sc, 2, out, every=10, after=15)

    # another scenario in the folder
    toml = (partial / "scenario.toml").read_text()
    (partial / "scenario.toml").write_text(toml.replace("seed = ", "seed = 1", 1))
    assert main(["resume", str(out), "-q"]) == 2
    assert "scenario hash" in one_line(capsys)
    (partial / "scenario.toml").write_text(toml)

    # --address with --backend local; a one-process run with --backend
    assert main(["resume", str(out), "-q", "--backend", "local", "--address", "x:1"]) == 2
    assert "--address x:1: only with --backend ray" in one_line(capsys)
    plain = tmp_path / "plain"
    with pytest.raises(Stop):

        def stop(done: int, total: int) -> None:
            if done == 15:
                raise Stop

        pn.run(sc, out=plain, checkpoint_every=10, progress=stop)
    assert main(["resume", str(plain), "-q", "--backend", "ray"]) == 2
    assert "--backend ray: only for a sharded run" in one_line(capsys)

    # --checkpoint-via without --shards, or driver without checkpoints
    assert main(["run", "minimal", "-q", "--checkpoint-via", "driver"]) == 2
    assert "--checkpoint-via: only with --shards" in one_line(capsys)
    with pytest.raises(pn.RunError, match="only with --checkpoint-every"):
        run_sharded(sc, 2, out=tmp_path / "x", backend="local", checkpoint_via="driver")

    # a fork of a sharded run
    assert main(["fork", str(out), "--day", "10", "--out", str(tmp_path / "f"), "-q"]) == 2
    assert "is a sharded run" in one_line(capsys)

    # a shard's checkpoints missing altogether
    aside = tmp_path / "aside"
    shutil.move(partial / "shard-checkpoints" / "shard-1", aside)
    assert main(["resume", str(out), "-q"]) == 2
    assert "holds checkpoints of shards 0 but the run had 2 shards" in one_line(capsys)
    shutil.move(aside, partial / "shard-checkpoints" / "shard-1")

    # no day on which the driver and every shard checkpointed
    shutil.rmtree(partial / "shard-checkpoints" / "shard-1" / "day-00010")
    assert main(["resume", str(out), "-q"]) == 2
    err = one_line(capsys)
    assert "holds no complete set of checkpoints" in err and "shard 1: none" in err

    assert (partial / "manifest.json").is_file()  # a refused resume changes nothing


def test_failed_resume_stays_resumable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A resume that fails part-way leaves the folder resumable; the next one finishes it."""
    sc = pn.load("minimal", sets=["surveillance.faceid.p_wrong=0.2"], population=10_000, days=30)
    one = tmp_path / "one"
    pn.run(sc, out=one)
    out = tmp_path / "run"
    stopped(sc, 2, out, every=10, after=25)
    from panopticon.core.shards import Driver

    original = Driver.day

    def day(self: Driver, d: int, log: Any, fronts: Any) -> Any:
        if d == 27:
            raise OSError(28, "No space left on device")
        return original(self, d, log, fronts)

    monkeypatch.setattr(Driver, "day", day)
    assert main(["resume", str(out), "-q"]) == 2
    one_line(capsys)
    monkeypatch.setattr(Driver, "day", original)
    assert list_checkpoints(partial_path(out) / "checkpoints") == [10, 20]
    assert main(["resume", str(out), "-q"]) == 0
    assert digests(out) == digests(one)


# -- on Ray: the driver SIGKILLed --------------------------------------------------------------


def _ray() -> Any:
    """The ray module; skip without it (fail under CI, which installs it)."""
    if os.environ.get("CI"):
        import ray
    else:
        ray = pytest.importorskip("ray")
    return ray


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """One local Ray cluster of 2 CPUs for the resumed run."""
    ray = _ray()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_ray_driver_killed_and_resumed(
    cluster: Any, article_one: dict[str, str], tmp_path: Path
) -> None:
    """A driver of 2 Ray actors SIGKILLed after day 45 resumes on Ray, or in process: same bytes."""
    out = tmp_path / "run"
    code = f"""
import os, signal
import panopticon as pn
from panopticon.core.shards import run_sharded

def kill(done: int, total: int) -> None:
    if done == 45:
        os.kill(os.getpid(), signal.SIGKILL)

sc = pn.load("seed-article", sets={ARTICLE_SETS!r}, population=20_000, days=60, seed=5)
run_sharded(sc, 2, out={str(out)!r}, checkpoint_every=20, progress=kill)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=600)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    partial = partial_path(out)
    assert list_checkpoints(partial / "checkpoints") == [20, 40]
    other = tmp_path / "other"  # the same killed run, resumed in this process instead
    shutil.copytree(partial, partial_path(other))
    run = pn.resume(out)
    assert run.manifest["shards"]["backend"] == "ray"
    assert run.manifest["resumed"][0]["day"] == 40
    assert run.manifest["resumed"][0]["backend"] == "ray"
    assert digests(out) == article_one
    assert pn.resume(other, backend="local").manifest["shards"]["backend"] == "local"
    assert digests(other) == article_one


@pytest.mark.slow
def test_ray_checkpoints_via_the_driver(
    cluster: Any, article_one: dict[str, str], tmp_path: Path
) -> None:
    """On Ray actors: checkpoints handed back as Ray objects, resumed on Ray, same bytes."""
    out = tmp_path / "run"

    def fault(day: int, workers: Any) -> None:
        if day == 45:
            raise Stop

    with pytest.raises(Stop):
        run_sharded(
            article(), 2, out=out, checkpoint_every=20, fault=fault, checkpoint_via="driver"
        )
    assert list_checkpoints(partial_path(out) / "shard-checkpoints" / "shard-1") == [20, 40]
    run = pn.resume(out)
    assert run.manifest["shards"]["backend"] == "ray"
    assert run.manifest["shards"]["checkpoint_via"] == "driver"
    assert digests(out) == article_one
