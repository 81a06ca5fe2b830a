"""The day loop: builds the modules a scenario names, orders them by phase, times each.

The engine knows no mechanism. It asks the registry (`core.registry`) which modules the
scenario needs and in which order to build them, then each day runs::

    for module in plan (ordered by phase): module.step(ctx)

with one typed `DayContext`, and collects the declared columns (`Module.columns`), the
people table (`Module.exports`) and extra tables (`Module.tables`). Capabilities pass
between modules through `provide` / `need`. `Simulation.module_seconds` says where the
time went, module by module.
"""

from __future__ import annotations

import math
import os
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

import panopticon.stages.builtin  # noqa: F401  (the built-in modules, registered at import)
from panopticon.core import arrow, memory
from panopticon.core import population as population_mod
from panopticon.core.budget import check_work
from panopticon.core.metrics import DailyMetrics
from panopticon.core.module import Column, DayContext, Export, Module, Phase
from panopticon.core.registry import plan_build
from panopticon.io.checkpoint import (
    FINGERPRINT_KEY,
    CheckpointError,
    check_every,
    restore_into,
    scenario_fingerprint,
    write_checkpoint,
)
from panopticon.io.fs import FolderBusy, fs_error
from panopticon.io.runs import CHECKPOINTS_DIR, RunError, RunResult, RunWriter, now, run_location
from panopticon.scenario.schema import Scenario

PEOPLE_ROWS = 1 << 20
"""Rows per chunk (row group) of people.parquet."""

SURELY_FITS_PER_CITIZEN = 4096
"""Bytes per citizen above any scenario's peak (~200 B for the richest preset): a run whose
population times this, plus 1 GiB, fits in the memory available is not probed."""


def estimate_bytes(scenario: Scenario) -> int:
    """Peak memory the run will need in this process, before anything large is allocated.

    The scenario is built at two small sizes and its arrays counted per citizen
    (`core.memory`; within 15% of measured peaks from 10^4 to 10^8 citizens).
    """
    return memory.estimate_bytes(scenario)


def available_bytes() -> int | None:
    """Physical memory available now (Linux), or None where it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def shard_population(pop: population_mod.Population, lo: int, hi: int) -> population_mod.Population:
    """The per-block data of citizens lo..hi-1 (`lo` on a block boundary): a shard's.

    The block keys stay those of the global blocks; `propensity_max` stays the whole
    population's, so every shard sizes its count arrays alike.
    """
    b0, b1 = lo // population_mod.BLOCK, -(-hi // population_mod.BLOCK)
    return replace(
        pop,
        size=hi - lo,
        top_g=pop.top_g[b0:b1].copy(),
        top_j=pop.top_j[b0:b1].copy(),
        perm_key=pop.perm_key[b0:b1].copy(),
        v_key=pop.v_key[b0:b1].copy(),
    )


def _sorted(items: list[tuple[float | None, int, int, Any]]) -> list[Any]:
    """Declarations in output order: pinned ones by `order`, then by phase and position."""
    pinned = sorted(items, key=lambda x: (math.inf if x[0] is None else x[0], x[1], x[2]))
    return [x[-1] for x in pinned]


class Simulation:
    """One scenario's modules and their state, advanced one day at a time."""

    def __init__(self, scenario: Scenario, lo: int = 0, hi: int | None = None) -> None:
        """Build the population, then every module the scenario needs, providers first.

        `lo`, `hi`: the citizens this simulation owns, ids lo..hi-1 (one shard of a
        sharded run, `core.shards`; on block boundaries, or `hi` the population's size);
        by default all of them.
        Its state arrays are over those citizens, its acts and records name global ids.
        """
        t0 = time.perf_counter()
        self.scenario = scenario
        n = scenario.population.size
        self.lo, self.hi = lo, n if hi is None else hi
        aligned = self.lo % population_mod.BLOCK == 0 and (
            self.hi % population_mod.BLOCK == 0 or self.hi == n
        )
        if not aligned or not 0 <= self.lo < self.hi <= n:
            raise ValueError(f"shard [{lo}, {hi}) is not a block-aligned range of 0..{n}")
        self.size = self.hi - self.lo
        self.seed = scenario.run.seed
        self.days = scenario.run.days
        self.start_date = scenario.run.start
        self.population = population_mod.build(scenario.population, self.seed)
        if self.size < n:
            self.population = shard_population(self.population, self.lo, self.hi)
        self.capabilities: dict[str, Any] = {}
        self._transient: set[str] = set()
        build = plan_build(scenario)
        self.wanted: set[str] = set().union(*(needs for _, _, needs in build))
        self.modules: list[Module] = []
        for cls, kwargs, _ in build:
            module = cls(self, **kwargs)
            if any(m.name == module.name for m in self.modules):
                raise ValueError(f"two modules are named {module.name!r}")
            self.modules.append(module)
        for cap in self._transient:
            self.capabilities.pop(cap, None)
        self.plan: list[Module] = sorted(
            (m for m in self.modules if m.phase != Phase.SETUP), key=lambda m: m.phase
        )
        self._by_name = {m.name: m for m in self.modules}
        self.columns: list[Column] = self._declared_columns()
        self.metrics = DailyMetrics(
            self.days, {c.name: c.dtype for c in self.columns}, self.start_date
        )
        self._reporting = [m for m in self.modules if m.columns()]
        self.module_seconds = {"setup": 0.0, **{m.name: 0.0 for m in self.plan}}
        self.day = 0
        self.module_seconds["setup"] = time.perf_counter() - t0

    # -- capabilities ------------------------------------------------------------------

    def provide(self, name: str, value: Any, transient: bool = False) -> None:
        """Offer a capability to the modules built after this one (transient: set-up only)."""
        self.capabilities[name] = value
        if transient:
            self._transient.add(name)

    def need(self, name: str) -> Any:
        """A capability another module provides (the registry built it first)."""
        try:
            return self.capabilities[name]
        except KeyError:
            raise KeyError(f"no module provides {name!r}") from None

    def has(self, name: str) -> bool:
        """Whether some module provides `name`."""
        return name in self.capabilities

    def find(self, prefix: str) -> dict[str, Any]:
        """Every capability whose name starts with `prefix`, by the rest of its name."""
        n = len(prefix)
        return {k[n:]: v for k, v in self.capabilities.items() if k.startswith(prefix)}

    def __getattr__(self, name: str) -> Module:
        """A module by its name (``sim.score``, ``sim.behave``)."""
        by_name = self.__dict__.get("_by_name", {})
        if name in by_name:
            return by_name[name]
        raise AttributeError(f"Simulation has no module or attribute {name!r}")

    # -- declarations -------------------------------------------------------------------

    def _declared_columns(self) -> list[Column]:
        """Every module's daily columns, in output order; names must be unique."""
        items: list[tuple[float | None, int, int, Column]] = []
        seen: dict[str, str] = {}
        for pos, m in enumerate(self.modules):
            for k, c in enumerate(m.columns()):
                if c.name in seen or c.name in ("day", "date"):
                    raise ValueError(
                        f"daily column {c.name!r} is declared by {seen.get(c.name, 'the engine')} "
                        f"and by {m.name}"
                    )
                seen[c.name] = m.name
                items.append((c.order, int(m.phase) * 1000 + pos, k, c))
        return _sorted(items)

    def exports(self) -> list[tuple[Module, Export]]:
        """Every module's people columns, in output order."""
        items = [
            (e.order, int(m.phase) * 1000 + pos, k, (m, e))
            for pos, m in enumerate(self.modules)
            for k, e in enumerate(m.exports())
        ]
        return _sorted(items)

    @property
    def phase_seconds(self) -> dict[str, float]:
        """Seconds per phase of the day (and set-up), summed over its modules."""
        out = {"setup": self.module_seconds["setup"]}
        for m in self.plan:
            key = m.phase.name.lower()
            out[key] = out.get(key, 0.0) + self.module_seconds[m.name]
        return out

    def state_bytes(self) -> int:
        """Resident bytes of all declared per-citizen state (and the population's)."""
        return self.population.nbytes() + sum(m.state_bytes() for m in self.modules)

    # -- checkpoints --------------------------------------------------------------------

    def fingerprint(self) -> str:
        """Hash of the resolved scenario: which scenario a checkpoint belongs to."""
        return scenario_fingerprint(self.scenario.to_toml())

    def declared_arrays(self) -> dict[str, np.ndarray]:
        """Every module's declared state, ``<module>.<state>``, and the daily columns."""
        out = {f"{m.name}.{k}": a for m in self.modules for k, (_, a) in m.state.items()}
        out.update({f"metrics.{k}": v for k, v in self.metrics.columns.items()})
        return out

    def checkpoint_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The arrays and JSON metadata of a checkpoint of the state after `day` days."""
        arrays = self.declared_arrays()
        for m in self.modules:
            arrays.update({f"{m.name}.extra.{k}": v for k, v in m.extra_state().items()})
        meta = {
            FINGERPRINT_KEY: self.fingerprint(),
            "scalars": {m.name: m.scalars() for m in self.modules},
            "module_seconds": dict(self.module_seconds),
        }
        return arrays, meta

    def checkpoint(self, folder: str | Path) -> Path:
        """Write the state after the days run so far into `folder` (``day-NNNNN``)."""
        arrays, meta = self.checkpoint_state()
        return write_checkpoint(Path(folder), self.day, arrays, meta)

    def restore(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Load a checkpoint's state into this freshly built simulation, in place.

        Declared arrays are copied in place (their shapes and dtypes must match); the
        daily columns of the days done are copied; each module then loads its scalars and
        variable-size state. The scenario is not checked here (a fork changes it).
        """
        day = int(meta["day"])
        if day > self.days:
            raise CheckpointError(
                f"error: checkpoint of day {day}: this run has only {self.days} days; "
                "raise run.days or choose an earlier checkpoint"
            )
        target = self.declared_arrays()
        metrics = {k for k in target if k.startswith("metrics.")}
        saved = {k: v for k, v in arrays.items() if ".extra." not in k and k not in metrics}
        saved_metrics = {k for k in arrays if k.startswith("metrics.")}
        if saved_metrics != metrics:
            lost, odd = sorted(metrics - saved_metrics), sorted(saved_metrics - metrics)
            raise CheckpointError(
                f"error: checkpoint of day {day}: daily columns differ (missing: "
                f"{', '.join(lost) or 'none'}; not in this run: {', '.join(odd) or 'none'}); "
                "resume or fork only with the same modules"
            )
        restore_into(
            {k: v for k, v in target.items() if k not in metrics},
            saved,
            where=f"checkpoint of day {day}",
        )
        for k in metrics:
            target[k][:day] = arrays[k][:day]
        self.metrics.filled = day
        scalars = meta.get("scalars", {})
        for m in self.modules:
            prefix = f"{m.name}.extra."
            m.load_extra_state(
                {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            )
            m.load_scalars(scalars.get(m.name, {}))
        self.module_seconds.update(meta.get("module_seconds", {}))
        self.day = day

    # -- the loop -----------------------------------------------------------------------

    def context(self, day: int) -> DayContext:
        """A fresh context of run day `day` (its date, whether it is the last)."""
        return DayContext(
            day=day, date=self.start_date + timedelta(days=day), last_day=day == self.days - 1
        )

    def run_modules(self, modules: list[Module], ctx: DayContext) -> None:
        """Step `modules` in order on `ctx`, adding each one's seconds to `module_seconds`."""
        clock, seconds = time.perf_counter, self.module_seconds
        for m in modules:
            t = clock()
            m.step(ctx)
            seconds[m.name] += clock() - t

    def step(self) -> DayContext:
        """Advance one day; returns the day's context (acts, detections, records)."""
        ctx = self.context(self.day)
        self.run_modules(self.plan, ctx)
        values: dict[str, float] = {}
        for m in self._reporting:
            values.update(m.values(ctx))
        self.metrics.record(self.day, **values)
        self.day += 1
        return ctx

    def totals(self) -> dict[str, float]:
        """The run's totals: each column by its declared aggregation, then derived ones."""
        totals = self.metrics.totals({c.name: c.agg for c in self.columns})
        for m in self.modules:
            totals.update(m.derived_totals(totals))
        return totals

    def people(self) -> pa.Table:
        """The per-citizen end-state table, from the modules' exports."""
        cols: dict[str, Any] = {}
        got: dict[int, dict[str, Any]] = {}
        for m, e in self.exports():
            if id(m) not in got:
                got[id(m)] = m.people()
                declared = {x.name for x in m.exports()}
                if set(got[id(m)]) != declared:
                    raise ValueError(
                        f"module {m.name}: people() gives {sorted(got[id(m)])}, "
                        f"exports() declares {sorted(declared)}"
                    )
            cols[e.name] = got[id(m)][e.name]
        return arrow.table(cols)

    def people_chunks(self, rows: int = PEOPLE_ROWS) -> Iterator[pa.Table]:
        """The people table in chunks of `rows` rows (each built only when asked for)."""
        table = self.people()
        for lo in range(0, max(table.num_rows, 1), rows):
            yield table.slice(lo, rows)

    def extra_tables(self) -> dict[str, pa.Table]:
        """The modules' extra tables (only those their features produce)."""
        out: dict[str, pa.Table] = {}
        for m in self.modules:
            for name, table in m.tables().items():
                if name in out:
                    raise ValueError(f"table {name!r} is written by two modules")
                out[name] = table
        return out


def default_out(scenario: Scenario) -> Path:
    """Default run folder: runs/<scenario>-<seed> (what `--overwrite` replaces)."""
    return Path("runs") / f"{scenario.name}-{scenario.run.seed}"


def _default_writer(scenario: Scenario, **kwargs: Any) -> RunWriter:
    """A writer of the first free default folder: runs/<scenario>-<seed>, then -2, -3, ...

    A folder is taken when it holds anything, when an interrupted run of it can be
    resumed, or while another process writes it; so repeated runs never collide.
    """
    base = default_out(scenario)
    for k in range(1, 10_000):
        out = base if k == 1 else base.with_name(f"{base.name}-{k}")
        if out.exists() or run_location(out) is not None:
            continue
        try:
            return RunWriter(out, **kwargs)
        except FolderBusy:
            continue
    raise RunError(f"error: {base}: 10,000 default run folders are taken; pass --out")


def check_memory(scenario: Scenario) -> None:
    """Refuse a run that would not fit in the memory available now, or take far too long."""
    check_work(scenario)
    have = available_bytes()
    if have is None:
        return
    bound = memory.current_rss() + 2**30 + SURELY_FITS_PER_CITIZEN * scenario.population.size
    if bound <= have:
        return  # fits whatever the scenario holds: no need to build the probes
    need = estimate_bytes(scenario)
    if need > have:
        raise RunError(
            f"error: population.size: {scenario.population.size:,} needs about "
            f"{need / 2**30:.1f} GiB but {have / 2**30:.1f} GiB is available; "
            "lower population.size"
        )


def run_manifest(scenario: Scenario) -> dict[str, Any]:
    """The manifest fields written before a run: what, how big, when, on how many threads."""
    manifest: dict[str, Any] = {
        "scenario": scenario.name,
        "seed": scenario.run.seed,
        "population": scenario.population.size,
        "days": scenario.run.days,
        "started": now(),
        "threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)),
    }
    if scenario.population.represents:
        manifest["represents"] = scenario.population.represents
        manifest["scale"] = scenario.population.represents / scenario.population.size
    return manifest


def open_writer(
    scenario: Scenario,
    out: str | Path | None,
    overwrite: bool,
    checkpoint_every: int | None,
    parts: bool,
) -> RunWriter:
    """The writer of a new run folder, its manifest's head filled in (one process or shards).

    Without `out` (and without `overwrite`) the first free default folder is taken.
    """
    manifest = run_manifest(scenario)
    if checkpoint_every:
        manifest["checkpoint_every"] = checkpoint_every
    args = {"scenario_toml": scenario.to_toml(), "manifest": manifest}
    if out is None and not overwrite:
        return _default_writer(scenario, **args, parts=parts)
    path = Path(out) if out is not None else default_out(scenario)
    return RunWriter(path, **args, overwrite=overwrite, parts=parts)


def run(
    scenario: Scenario,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    checkpoint_every: int | None = None,
) -> RunResult:
    """Run a scenario to completion and write its run folder; returns the result.

    With `checkpoint_every` D, the state is checkpointed into ``RUN_DIR/checkpoints/``
    after every D days and the record log is written in parts, so that `resume` can
    continue the run from its last checkpoint after a kill.
    """
    check_memory(scenario)
    check_every(checkpoint_every)
    writer = open_writer(scenario, out, overwrite, checkpoint_every, parts=bool(checkpoint_every))
    drive(writer, lambda: Simulation(scenario), progress, checkpoint_every)
    return RunResult(writer.out)


@contextmanager
def aborting(writer: RunWriter) -> Iterator[None]:
    """Abort `writer` on any failure inside (its folder left as it was) and re-raise it.

    An interruption is recorded as such; a file-system fault becomes one `RunError` line.
    """
    try:
        yield
    except KeyboardInterrupt:
        writer.abort("interrupted")
        raise
    except OSError as exc:
        writer.abort(repr(exc))
        raise fs_error(exc, f"writing the run {writer.out}", writer.out.parent) from None
    except BaseException as exc:
        writer.abort(repr(exc))
        raise


def drive(
    writer: RunWriter,
    build: Callable[[], Simulation],
    progress: Callable[[int, int], None] | None,
    checkpoint_every: int | None,
    t0: float | None = None,
) -> Simulation:
    """Build the simulation, run its remaining days into `writer`, checkpoint, finish.

    Any failure leaves `writer.out` as it was; the private folder is kept (marked
    incomplete) only when it holds a checkpoint to resume from. A file-system fault
    becomes one `RunError` line.
    """
    t0 = time.perf_counter() if t0 is None else t0
    with aborting(writer):
        sim = build()
        scenario = sim.scenario
        log = sim.need("record_log")
        writer.start_log(log.log_schema(), log.log_table)
        folder = writer.folder / CHECKPOINTS_DIR
        for day in range(sim.day, scenario.run.days):
            ctx = sim.step()
            writer.add_records(log.to_log(ctx.batch))
            if checkpoint_every and sim.day % checkpoint_every == 0 and sim.day < sim.days:
                writer.close_part(sim.day)
                sim.checkpoint(folder)
            if progress is not None:
                progress(day + 1, scenario.run.days)
        wall = time.perf_counter() - t0
        writer.finish(
            sim.metrics.table(),
            sim.people_chunks() if scenario.run.people else None,
            sim.extra_tables(),
            {
                "finished": now(),
                "wall_seconds": round(wall, 3),
                "peak_memory_bytes": peak_rss_bytes(),
                "state_bytes_per_citizen": round(sim.state_bytes() / scenario.population.size, 2),
                "phase_seconds": {k: round(v, 3) for k, v in sim.phase_seconds.items()},
                "module_seconds": {k: round(v, 3) for k, v in sim.module_seconds.items()},
                "totals": sim.totals(),
                "outputs": describe_outputs(sim),
            },
        )
    return sim


def describe_outputs(sim: Simulation) -> dict[str, Any]:
    """Every file and column of the run folder with its declared meaning (for the manifest)."""
    return {
        "timeseries": {
            c.name: {
                "dtype": np.dtype(c.dtype).name,
                "total": c.agg,
                "unit": c.unit,
                "label": c.label,
                "headline": c.headline,
                "higher_is": c.higher_is,
                "family": c.family,
                "key": c.key,
                "wrongly": c.wrongly,
                "position": i,
            }
            for i, c in enumerate(sim.columns)
        },
        "people": {
            e.name: {
                "description": e.description,
                "truth": e.truth,
                "family": e.family,
                "key": e.key,
                "position": i,
            }
            for i, (_, e) in enumerate(sim.exports())
            if sim.scenario.run.people
        },
        "tables": {
            spec.name: {"rows": spec.rows, "columns": spec.columns}
            for m in sim.modules
            for spec in m.table_specs()
        },
    }
