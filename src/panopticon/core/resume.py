"""Resume an interrupted run from its last checkpoint; fork a run from one of its checkpoints.

Both rebuild the simulation from the run folder's resolved ``scenario.toml`` and load a
checkpoint written by `run(..., checkpoint_every=D)` (``RUN_DIR/checkpoints/day-NNNNN``)
into it (`Simulation.restore`). An interrupted run lives in the private sibling
``.RUN_DIR.partial/`` (see `panopticon.io.runs`): `resume` claims ``RUN_DIR``, continues
the run there and moves it into place when complete; a fork is a new run of its own
folder and reads a complete run (or an interrupted one's partial folder).

The record log of the days before the checkpoint is kept from the closed parts of
``records.parts/`` (or, for a finished run, read back from ``records.parquet``), so the
resumed or forked run writes the same tables as a run that was never interrupted.

A sharded run (``--shards K --checkpoint-every D``) resumes through
`core.shards.resume_sharded`: same K, from the latest day on which the driver and every
shard checkpointed; it cannot be forked (its checkpoints are per shard).

A fork applies ``--set`` overrides to the resolved scenario first. It refuses any override
that changes the population size or the shapes of the declared state (modules added or
removed, other dimensions), since the checkpoint could not be loaded into that run.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from panopticon import __version__
from panopticon import scenario as scenario_mod
from panopticon.core.engine import Simulation, check_memory, drive
from panopticon.io.checkpoint import check_every, read_checkpoint, scenario_fingerprint
from panopticon.io.fs import fs_error
from panopticon.io.runs import (
    CHECKPOINTS_DIR,
    PARTS_DIR,
    FolderLock,
    RunError,
    RunResult,
    RunWriter,
    now,
    partial_path,
    record_parts,
    run_location,
)
from panopticon.scenario.schema import Scenario

Progress = Callable[[int, int], None] | None


def _manifest(run_dir: Path) -> dict[str, Any]:
    """The run folder's manifest, or a RunError saying why it cannot be used."""
    path = run_dir / "manifest.json"
    if not run_dir.is_dir():
        raise RunError(f"error: run {str(run_dir)!r}: no such folder")
    try:
        return dict(json.loads(path.read_text("utf-8")))
    except FileNotFoundError:
        raise RunError(
            f"error: run {str(run_dir)!r}: not a run folder (no manifest.json)"
        ) from None
    except (OSError, json.JSONDecodeError):
        raise RunError(f"error: run {str(run_dir)!r}: manifest.json is unreadable") from None


def _check_version(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Refuse a run written by another panopticon version."""
    theirs = manifest.get("panopticon")
    if theirs != __version__:
        raise RunError(
            f"error: run {str(run_dir)!r}: written by panopticon {theirs}; this is panopticon "
            f"{__version__}; continue it with panopticon {theirs} or start it afresh"
        )


def _scenario(run_dir: Path, sets: list[str] | None = None) -> Scenario:
    """The run's resolved scenario, with `sets` applied."""
    return scenario_mod.load(run_dir / "scenario.toml", sets)


def _state_shapes(sim: Simulation) -> dict[str, tuple[str, list[int]]]:
    """Declared state (not the daily columns) as name -> (dtype, shape), as checkpoints list."""
    return {
        k: (a.dtype.str, list(a.shape))
        for k, a in sim.declared_arrays().items()
        if not k.startswith("metrics.")
    }


def _check_fits(sim: Simulation, listed: dict[str, Any], sets: list[str], where: str) -> None:
    """Refuse a fork whose overrides change the declared state's names, dtypes or shapes."""
    here = _state_shapes(sim)
    saved = {
        k: (v["dtype"], v["shape"])
        for k, v in listed.items()
        if ".extra." not in k and not k.startswith("metrics.")
    }
    diffs = sorted(set(here) ^ set(saved)) + sorted(
        k for k in set(here) & set(saved) if here[k] != saved[k]
    )
    saved_cols = {k for k in listed if k.startswith("metrics.")}
    here_cols = {f"metrics.{k}" for k in sim.metrics.columns}
    diffs += sorted(saved_cols ^ here_cols)
    if diffs:
        shown = ", ".join(diffs[:6]) + (f" and {len(diffs) - 6} more" if len(diffs) > 6 else "")
        raise RunError(
            f"error: --set {' '.join(sets)}: changes the run's state ({shown}), so {where} "
            "cannot be loaded into it; fork only with overrides that keep the modules and "
            "their state (rates, thresholds, probabilities), or start a new run"
        )


def resume(
    run_dir: str | Path,
    progress: Progress = None,
    *,
    backend: str | None = None,
    address: str | None = None,
    note: Callable[[str], None] | None = None,
) -> RunResult:
    """Continue an interrupted or killed run from its last checkpoint; returns the result.

    A sharded run (``--shards K``) goes on with its K shards from the latest day on which
    the driver and every shard checkpointed (`core.shards.resume_sharded`), on its own
    backend and cluster unless `backend` (``ray`` or ``local``) or `address` says
    otherwise; `note` gets the line saying from which day. A one-process run takes
    neither option.
    """
    t0 = time.perf_counter()
    path = Path(run_dir)
    partial = partial_path(path)
    if not (partial / "manifest.json").is_file():
        manifest = _manifest(path)
        if manifest.get("status") == "complete":
            raise RunError(
                f"error: run {str(path)!r}: is already complete; there is nothing to resume"
            )
        raise RunError(f"error: run {str(path)!r}: holds no interrupted run to resume")
    lock = FolderLock(path)
    point = None
    try:
        manifest = _manifest(partial)
        _check_version(path, manifest)
        if "shards" in manifest:
            from panopticon.core.shards import resume_point

            point = resume_point(path, partial, manifest, _scenario(partial), backend, address)
        else:
            for name, given in (("--backend", backend), ("--address", address)):
                if given is not None:
                    raise RunError(
                        f"error: {name} {given}: only for a sharded run; {str(path)!r} was "
                        "run in one process"
                    )
            writer, sc, arrays, meta = _resume_writer(path, partial, lock)
    except BaseException:
        lock.release()
        raise
    if point is not None:
        from panopticon.core.shards import resume_sharded

        if note is not None:
            note(point.note)
        return resume_sharded(path, manifest, point, lock, progress, t0)
    every, day = writer.manifest["checkpoint_every"], int(meta["day"])

    def build() -> Simulation:
        sim = Simulation(sc)
        sim.restore(arrays, meta)
        return sim

    writer.drop_parts_from(day)
    drive(writer, build, progress, int(every), t0)
    return RunResult(path)


def _resume_writer(
    path: Path, partial: Path, lock: FolderLock
) -> tuple[RunWriter, Scenario, dict[str, Any], dict[str, Any]]:
    """The writer continuing the interrupted run in `partial` (checks done under `lock`)."""
    manifest = _manifest(partial)
    _check_version(path, manifest)
    every = manifest.get("checkpoint_every")
    if not every:
        raise RunError(
            f"error: run {str(path)!r}: was run without --checkpoint-every, so it has no "
            "checkpoint to resume from; run it again"
        )
    sc = _scenario(partial)
    check_memory(sc)
    arrays, meta = read_checkpoint(
        partial / CHECKPOINTS_DIR,
        fingerprint=scenario_fingerprint(sc.to_toml()),
        version=__version__,
    )
    day = int(meta["day"])
    for key in ("status", "error", "finished", "panopticon"):
        manifest.pop(key, None)
    manifest["resumed"] = [*manifest.get("resumed", []), {"day": day, "at": now()}]
    writer = RunWriter(
        path, sc.to_toml(), manifest, parts=True, resume=True, first_day=day, lock=lock
    )
    return writer, sc, arrays, meta


def _copy_records(src: Path, day: int, dst: Path) -> list[Path]:
    """Put the source run's record log of the days before `day` into `dst`'s parts."""
    folder = dst / PARTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    parts = record_parts(src)
    if parts:
        out = []
        for start, part in parts.items():
            if start < day:
                out.append(folder / part.name)
                shutil.copyfile(part, out[-1])
        return out
    log = src / "records.parquet"
    if not log.is_file():
        raise RunError(
            f"error: run {str(src)!r}: holds no record log to fork from (no records.parquet "
            f"or {PARTS_DIR}/)"
        )
    table = pq.read_table(log)
    col = "day_recorded" if "day_recorded" in table.column_names else "day"
    target = folder / "part-00000.parquet"
    pq.write_table(table.filter(pc.less(table[col], day)), target)
    return [target]


def fork(
    run_dir: str | Path,
    day: int,
    sets: list[str] | None,
    out: str | Path,
    *,
    overwrite: bool = False,
    progress: Progress = None,
    checkpoint_every: int | None = None,
) -> RunResult:
    """Start a new run folder `out` from the checkpoint of `day` of `run_dir`, with `sets`.

    The days before `day` are those of the source run; from `day` on the run follows the
    overridden scenario. Refuses overrides that change the population size or the declared
    state's shapes.
    """
    t0 = time.perf_counter()
    given, sets = Path(run_dir), list(sets or [])
    check_every(checkpoint_every)
    src = run_location(given) or given  # a complete run, or an interrupted one's folder
    manifest = _manifest(src)
    _check_version(given, manifest)
    if "shards" in manifest:
        raise RunError(
            f"error: run {str(given)!r}: is a sharded run (--shards "
            f"{manifest['shards'].get('count')}), whose checkpoints are per shard; fork "
            "starts from a one-process checkpoint: fork a run made without --shards"
        )
    base = _scenario(src)
    sc = _scenario(src, sets)
    if sc.population.size != base.population.size:
        raise RunError(
            f"error: --set {' '.join(sets)}: changes population.size from "
            f"{base.population.size:,} to {sc.population.size:,}; a fork keeps the "
            "population of the run it starts from"
        )
    check_memory(sc)
    arrays, meta = read_checkpoint(
        src / CHECKPOINTS_DIR,
        day,
        fingerprint=scenario_fingerprint(base.to_toml()),
        version=__version__,
    )
    sim = Simulation(sc)
    where = f"the checkpoint of day {day} of {given}"
    _check_fits(sim, meta["arrays"], sets, where)
    sim.restore(arrays, meta)
    out_path = Path(out)
    info = {
        "scenario": sc.name,
        "seed": sc.run.seed,
        "population": sc.population.size,
        "days": sc.run.days,
        "started": now(),
        "threads": manifest.get("threads"),
        "forked_from": {"run": str(given), "day": day, "sets": sets},
    }
    if sc.population.represents:
        info["represents"] = sc.population.represents
        info["scale"] = sc.population.represents / sc.population.size
    if checkpoint_every:
        info["checkpoint_every"] = checkpoint_every
    writer = RunWriter(out_path, sc.to_toml(), info, overwrite, parts=True, first_day=day)
    try:
        copied = _copy_records(src, day, writer.folder)
    except OSError as exc:
        writer.abort(repr(exc))
        raise fs_error(exc, f"copying the record log of {given}", out_path.parent) from None
    except BaseException:
        writer.abort("record log not copied")
        raise
    schema = sim.need("record_log").log_schema()
    for part in copied:
        if not pq.read_schema(part).equals(schema, check_metadata=False):
            writer.abort("record log schema differs")
            raise RunError(
                f"error: --set {' '.join(sets)}: changes the columns of the record log, so "
                f"the records before day {day} cannot be kept; fork without that override"
            )
    drive(writer, lambda: sim, progress, checkpoint_every, t0)
    return RunResult(writer.out)
