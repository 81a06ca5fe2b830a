"""Sharded runs: one population split into K id ranges, each simulated by its own worker.

`run_sharded` splits the citizens into K ranges on the 4,096-id blocks of
`core.population` (shard k owns ids lo_k..hi_k-1 and the `StateSpec` arrays of its
citizens: what a checkpoint holds) and drives the day phase by phase:

1. every shard runs the modules before the exchange (behave, observe, identify) on its
   own citizens' acts and hands over the `outgoing` part of the exchanging module
   (`Module.exchange`: the records it made, naming global ids);
2. the barrier: the driver routes each row to the owner of `Module.route(row)` (the
   citizen a record names), in shard order, which is the one-process order, and writes
   the record log from the parts in shard order (the one-process log);
3. every shard applies what reached its citizens (`Module.incoming`) and runs the rest
   of the day (score, sanction, adapt, snapshot);
4. the day's columns combine over the shards (`Module.combine_values`: counts summed in
   shard order, the mean score from integer sums), and at the end the people table is
   the shards' in order and each extra table combines (`Module.combine_tables`).

Random numbers are keyed by citizen, block and act, never by shard or list position,
so the run folder's tables are byte-identical to the one-process run for any K. The
driver keeps a head simulation over the first block only, for the declarations (columns,
log schema, outputs) and the daily table.

Workers are Ray actors (`RayShards`; ``--shards K [--address ADDR]``) or, for tests, K
simulations in this process stepped through the same exchange (`LocalShards`). With
``checkpoint_every`` D each shard checkpoints its state every D days
(``RUN_DIR/shard-checkpoints/shard-K``) and the driver keeps the records it routed
since; a lost actor is rebuilt from its last checkpoint, replays those days, and the run
goes on with the same bytes. After the shards' checkpoints of a day the driver writes
its own (``RUN_DIR/checkpoints/day-N``, `Driver.save`: its head copy's state with the
daily table so far, the record log's batches since its last checkpoint, the bounds and
the run's counters), so a run killed whole (driver included) is continued by
``panopticon resume`` (`resume_point`, `resume_sharded`) from the latest day on which
the driver and every shard checkpointed, its record log written again through the same
writer calls: the same bytes. With ``checkpoint_via`` ``driver`` the shards hand their
checkpoints back to the driver, which writes them and hands them back on restore (no
file system shared with the actors needed).

Measured per run (manifest ``shards``): memory per shard (peak RSS of each worker),
messages and bytes exchanged per day (non-empty shard-to-shard parts of the exchange,
and two messages a shard at each national barrier: its part to the driver, its result
back), per barrier module its days, messages and bytes (``barriers``), seconds per day
and the share of the day spent outside the slowest shard's work (exchange, barrier
waits, transport).
"""

from __future__ import annotations

import contextvars
import dataclasses
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from panopticon.core.budget import check_work
from panopticon.core.engine import (
    PEOPLE_ROWS,
    SURELY_FITS_PER_CITIZEN,
    Simulation,
    aborting,
    available_bytes,
    check_memory,
    describe_outputs,
    estimate_bytes,
    open_writer,
    peak_rss_bytes,
)
from panopticon.core.module import DayContext
from panopticon.core.population import BLOCK
from panopticon.core.records import RECORD_FIELDS, RecordBatch
from panopticon.core.registry import REGISTRY, plan_build
from panopticon.io.checkpoint import (
    FINGERPRINT_KEY,
    check_every,
    drop_checkpoints_after,
    list_checkpoints,
    read_checkpoint,
    read_meta,
    scenario_fingerprint,
    write_checkpoint,
)
from panopticon.io.fs import FolderLock, write_json
from panopticon.io.runs import (
    CHECKPOINTS_DIR,
    MANIFEST,
    RunError,
    RunResult,
    RunWriter,
    now,
)
from panopticon.scenario.schema import Scenario

BUILDING_HEAD: contextvars.ContextVar[bool] = contextvars.ContextVar("building_head", default=False)
"""True while the driver builds its head copy: it declares, decides and combines, and never
steps, so a module may build less for it (the network: its own block's graph, not the whole
population's)."""

CHECKPOINTS = "shard-checkpoints"
"""Folder of the run (while it runs) holding ``shard-K/day-NNNNN`` checkpoints."""


class ShardError(RunError):
    """A sharded run that cannot start or go on; the message is one line for the user."""


def shard_bounds(size: int, shards: int) -> list[tuple[int, int]]:
    """K id ranges [lo, hi) covering 0..size-1, cut on block boundaries, near-equal."""
    blocks = -(-size // BLOCK)
    if shards < 1 or shards > blocks:
        raise ShardError(
            f"error: --shards: {shards} for {size:,} citizens; allowed 1 to {blocks} "
            f"(one shard holds at least one block of {BLOCK:,} ids)"
        )
    cuts = [round(blocks * k / shards) * BLOCK for k in range(shards + 1)]
    return [(cuts[k], min(cuts[k + 1], size)) for k in range(shards)]


def shardable_names() -> list[str]:
    """Names of the registered modules that declare they can run in a shard."""
    return sorted({cls.name for cls in REGISTRY if cls.shards})


def check_shardable(scenario: Scenario) -> None:
    """Refuse, in one line naming them, a scenario with modules that cannot be sharded."""
    refused: list[str] = []
    exchanging: list[str] = []
    for cls, kwargs, _ in plan_build(scenario):
        why = cls.unshardable(scenario, **kwargs)
        if why is not None:
            tail = "" if why == "cannot be sharded yet" else f" {why}"
            named = f"'{cls.name or cls.__name__}'{tail}"  # instances named at build: class
            if named not in refused:
                refused.append(named)
        elif cls.exchange:
            exchanging.append(cls.name)
    if refused:
        which = "module" if len(refused) == 1 else "modules"
        raise ShardError(
            f"error: --shards: {which} {', '.join(refused)} cannot be sharded yet "
            f"(shardable: {', '.join(shardable_names())})"
        )
    if len(exchanging) != 1:
        raise ShardError(
            f"error: --shards: a sharded run needs exactly one exchanging module, this "
            f"scenario has {len(exchanging)} ({', '.join(exchanging) or 'none'})"
        )


def check_replicas(scenario: Scenario, shards: int) -> None:
    """Refuse K shards on this machine that cannot each hold the whole social graph.

    Every shard builds the whole graph (`stages.society`; the driver's head copy only its
    block's): on one machine the run needs about K times the one-process estimate at most
    (the graph is most of `seed-article`'s bytes), checked only when that may not fit.
    """
    if scenario.network is None or shards < 2:
        return
    have = available_bytes()
    if have is None:
        return
    n = scenario.population.size
    if shards * (2**30 + SURELY_FITS_PER_CITIZEN * n) <= have:
        return
    need = shards * estimate_bytes(scenario)
    if need > have:
        raise ShardError(
            f"error: --shards: {shards} shards on this machine each hold the whole social "
            f"graph of {n:,} citizens: about {need / 2**30:.1f} GiB but "
            f"{have / 2**30:.1f} GiB is available; lower population.size or --shards, or "
            "use --address"
        )


def _nbytes(part: Any) -> int:
    """Bytes of the arrays of an exchanged part (a `RecordBatch`, a dict or list of arrays)."""
    if isinstance(part, np.ndarray):
        return part.nbytes
    if isinstance(part, dict):
        return sum(_nbytes(v) for v in part.values())
    if isinstance(part, list | tuple):
        return sum(_nbytes(v) for v in part)
    if hasattr(part, "__dict__"):
        return sum(v.nbytes for v in vars(part).values() if isinstance(v, np.ndarray))
    return 0


@dataclasses.dataclass
class Gather:
    """A shard paused at a module's national barrier: its part and the seconds of work."""

    module: str
    part: Any
    seconds: float


def _rss_bytes() -> tuple[int, int]:
    """(resident bytes now, peak resident bytes) of this process."""
    now_rss = 0
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    now_rss = int(line.split()[1]) * 1024
    except OSError:
        pass
    return now_rss, int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _numbered(parts: list[Any]) -> list[Any]:
    """The shards' record parts with `seq` counted over all of them (the one-process order).

    Each shard numbers its day's records from 0; shard s's come after those of the shards
    before it, as in one process.
    """
    out, before = [], 0
    for part in parts:
        if isinstance(part, RecordBatch) and part.seq.size == len(part):
            part = dataclasses.replace(part, seq=part.seq + np.int64(before))
        before += len(part)
        out.append(part)
    return out


class ShardWorker:
    """One shard: the simulation of ids lo..hi-1, stepped in two halves around the barrier."""

    def __init__(
        self,
        scenario_toml: str,
        lo: int,
        hi: int,
        threads: int | None = None,
        checkpoints: str | None = None,
        hand_back: bool = False,
    ) -> None:
        """Build the shard's modules over its own citizens (global ids, local state).

        With `hand_back` its checkpoints are not written here but kept for the driver to
        take (`take_checkpoint`) and write (``--checkpoint-via driver``).
        """
        import tomllib

        from panopticon.scenario.errors import validate

        if threads is not None:
            import numba

            numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
        self.sim = Simulation(validate(tomllib.loads(scenario_toml)), lo, hi)
        self.checkpoints = Path(checkpoints) if checkpoints else None
        self.hand_back = hand_back
        self.handed: tuple[int, dict[str, np.ndarray], dict[str, Any]] | None = None
        plan = self.sim.plan
        at = next(i for i, m in enumerate(plan) if m.exchange)
        self.before, self.exchanger, self.after = plan[:at], plan[at], plan[at + 1 :]
        self.ctx: DayContext | None = None
        self.paused: int | None = None  # index in `after` of the module at its barrier
        self.pending: tuple[int | None, bool] | None = None  # what back_front asked after

    def front(self, day: int) -> tuple[Any, float]:
        """The day up to the barrier: this shard's outgoing part and the seconds it took."""
        t0 = time.perf_counter()
        sim = self.sim
        if day != sim.day:
            raise RuntimeError(f"shard [{sim.lo}, {sim.hi}) is at day {sim.day}, asked {day}")
        ctx = sim.context(day)
        national = [m.name for m in self.before if m.national_day(day)]
        if national:
            raise RuntimeError(f"modules {national}: a national day before the exchange")
        sim.run_modules(self.before, ctx)
        t = time.perf_counter()
        part = self.exchanger.outgoing(ctx)
        sim.module_seconds[self.exchanger.name] += time.perf_counter() - t
        self.ctx = ctx
        return part, time.perf_counter() - t0

    def back(self, received: list[Any]) -> Any:
        """The rest of the day from what reached this shard.

        Returns its value parts, the seconds it took and its part of the day's log
        (`Module.shard_log`: None when the exchanged parts are the log), or a `Gather`
        when a module's national barrier comes first (`resume` goes on from there).
        """
        t0 = time.perf_counter()
        ctx, sim = self.ctx, self.sim
        if ctx is None:
            raise RuntimeError("back() before front()")
        self.pending = None
        self.exchanger.incoming(ctx, received)
        sim.module_seconds[self.exchanger.name] += time.perf_counter() - t0
        return self._after(0, t0)

    def _after(self, start: int, t0: float) -> Any:
        """The modules after the barrier from `start`, to the day's end or a national barrier."""
        ctx, sim = self.ctx, self.sim
        assert ctx is not None
        clock, seconds = time.perf_counter, sim.module_seconds
        for i in range(start, len(self.after)):
            m = self.after[i]
            t = clock()
            if m.national_day(ctx.day):
                part = m.gather(ctx)
                seconds[m.name] += clock() - t
                self.paused = i
                return Gather(m.name, part, clock() - t0)
            m.step(ctx)
            seconds[m.name] += clock() - t
        values = {m.name: m.shard_values(ctx) for m in sim._reporting}
        logged = self.exchanger.shard_log(ctx)
        sim.day += 1
        self.ctx = None
        return values, clock() - t0, logged

    def resume(self, result: Any) -> Any:
        """Past the national barrier: apply the driver's `result`, finish the day.

        Returns what `back` (or, after `back_front`, what `back_front`) returns.
        """
        t0 = time.perf_counter()
        if self.ctx is None or self.paused is None:
            raise RuntimeError("resume() with no national barrier pending")
        m, at = self.after[self.paused], self.paused
        self.paused = None
        m.scatter(self.ctx, result)
        self.sim.module_seconds[m.name] += time.perf_counter() - t0
        return self._then(self._after(at + 1, t0))

    def back_front(self, received: list[Any], next_day: int | None, checkpoint: bool) -> Any:
        """`back` of today, a checkpoint if asked, then `front` of `next_day` (if any).

        Returns (today's value parts, seconds of work, tomorrow's outgoing part or None,
        today's part of the log or None), or a `Gather` (then `resume` returns that).
        """
        got = self.back(received)
        self.pending = (next_day, checkpoint)
        return self._then(got)

    def _then(self, got: Any) -> Any:
        """After the day's end: the checkpoint and the next day's front that `back_front` asked."""
        if isinstance(got, Gather) or self.pending is None:
            return got
        (next_day, checkpoint), self.pending = self.pending, None
        values, secs, logged = got
        if checkpoint:
            self.checkpoint()
        part = None
        if next_day is not None:
            part, more = self.front(next_day)
            secs += more
        return values, secs, part, logged

    def checkpoint(self) -> int:
        """Write this shard's state after the days run so far (or keep it); returns that day.

        Kept for the driver (`hand_back`), the arrays are copies: the next day's first
        half runs before the driver takes them.
        """
        if self.hand_back:
            arrays, meta = self.sim.checkpoint_state()
            self.handed = (self.sim.day, {k: v.copy() for k, v in arrays.items()}, meta)
            return self.sim.day
        if self.checkpoints is None:
            raise RuntimeError("this shard was built without a checkpoint folder")
        self.sim.checkpoint(self.checkpoints)
        return self.sim.day

    def take_checkpoint(self) -> tuple[int, dict[str, np.ndarray], dict[str, Any]]:
        """The checkpoint kept for the driver: (day, arrays, metadata); then forgotten."""
        if self.handed is None:
            raise RuntimeError("no checkpoint kept for the driver")
        got, self.handed = self.handed, None
        return got

    def load(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> int:
        """Load a checkpoint the driver read (``--checkpoint-via driver``); returns its day."""
        if meta.get(FINGERPRINT_KEY) != self.sim.fingerprint():
            raise ShardError(
                f"error: checkpoint of day {meta.get('day')} of shard [{self.sim.lo}, "
                f"{self.sim.hi}): written for another scenario; resume only the run that wrote it"
            )
        # arrays from Ray's object store are read-only; a module may keep one it changes
        own = {k: v if v.flags.writeable else v.copy() for k, v in arrays.items()}
        self.sim.restore(own, meta)
        return self.sim.day

    def restore(self, day: int | None = None) -> int:
        """Load this shard's checkpoint of `day` (latest: None) into its fresh simulation.

        Returns the day it is at: 0, with nothing loaded, for day 0 or no checkpoint.
        """
        if self.checkpoints is None or day == 0 or not list_checkpoints(self.checkpoints):
            return 0
        arrays, meta = read_checkpoint(self.checkpoints, day, fingerprint=self.sim.fingerprint())
        self.sim.restore(arrays, meta)
        return self.sim.day

    def people(self) -> pa.Table:
        """The people table's rows of this shard."""
        return self.sim.people()

    def tables(self) -> dict[str, dict[str, pa.Table]]:
        """Each module's extra tables over this shard's citizens."""
        return {m.name: m.tables() for m in self.sim.modules}

    def cost(self) -> dict[str, Any]:
        """Memory and seconds of this shard: RSS now and peak, state bytes, module seconds."""
        rss, peak = _rss_bytes()
        return {
            "rss_bytes": rss,
            "peak_rss_bytes": peak,
            "state_bytes": self.sim.state_bytes(),
            "module_seconds": dict(self.sim.module_seconds),
            "pid": os.getpid(),
        }


class LocalShards:
    """K shard workers in this process, called one after another (tests, small runs)."""

    backend = "local"

    def __init__(
        self,
        scenario_toml: str,
        bounds: list[tuple[int, int]],
        folder: Path | None,
        hand_back: bool = False,
    ) -> None:
        """Build the K workers."""
        self.args = [
            (scenario_toml, lo, hi, None, str(folder / f"shard-{k}") if folder else None, hand_back)
            for k, (lo, hi) in enumerate(bounds)
        ]
        self.workers: list[Any] = [ShardWorker(*a) for a in self.args]

    def call(self, method: str, args: list[tuple[Any, ...]] | None = None) -> list[Any]:
        """`method` on every worker (with its own args), results in shard order."""
        args = args or [()] * len(self.workers)
        return [
            getattr(w, method)(*a) if w is not None else LostShard(k, RuntimeError("killed"))
            for k, (w, a) in enumerate(zip(self.workers, args, strict=True))
        ]

    def kill(self, k: int) -> None:
        """Lose worker k (tests: as a killed actor; its next call reports `LostShard`)."""
        self.workers[k] = None

    def rebuild(self, k: int) -> None:
        """A fresh worker k (as after its loss)."""
        self.workers[k] = ShardWorker(*self.args[k])

    def close(self) -> None:
        """Nothing to release."""


class LostShard(Exception):
    """A worker was lost during a call (its actor died); `index` says which."""

    def __init__(self, index: int, cause: BaseException | None) -> None:
        super().__init__(f"shard {index} lost: {cause}")
        self.index = index


class RayShards:
    """K shard workers as Ray actors, on a local cluster or the one at `address`."""

    backend = "ray"

    def __init__(
        self,
        scenario_toml: str,
        bounds: list[tuple[int, int]],
        folder: Path | None,
        address: str | None,
        hand_back: bool = False,
    ) -> None:
        """Connect (as `analysis.ray_backend` does) and start one actor per shard."""
        from panopticon.analysis import ray_backend
        from panopticon.analysis.sweep import SweepError

        try:
            ray = ray_backend._import_ray()
        except SweepError:
            raise ShardError(
                'error: --shards: ray is not installed; pip install "panopticon[ray]" '
                "(or run without --shards)"
            ) from None
        self.ray = ray
        k = len(bounds)
        own_local = ray_backend._connect(ray, k, address)
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        self.threads = max(1, (os.cpu_count() or 1) // k) if own_local else 1
        self.remote = ray.remote(ShardWorker).options(
            num_cpus=min(1.0, cpus / k), max_restarts=0, max_task_retries=0
        )
        self.args = [
            (
                scenario_toml,
                lo,
                hi,
                self.threads,
                str(folder / f"shard-{j}") if folder else None,
                hand_back,
            )
            for j, (lo, hi) in enumerate(bounds)
        ]
        self.workers: list[Any] = [self.remote.remote(*a) for a in self.args]

    def call(self, method: str, args: list[tuple[Any, ...]] | None = None) -> list[Any]:
        """`method` on every actor at once; results in shard order (a `LostShard` for a loss)."""
        ray = self.ray
        args = args or [()] * len(self.workers)
        refs = [getattr(w, method).remote(*a) for w, a in zip(self.workers, args, strict=True)]
        out = []
        for k, ref in enumerate(refs):
            try:
                out.append(ray.get(ref))
            except ray.exceptions.RayTaskError as exc:
                if isinstance(exc.cause, Exception):
                    raise exc.cause from None
                raise
            except ray.exceptions.RayActorError as exc:
                out.append(LostShard(k, exc))
        return out

    def rebuild(self, k: int) -> None:
        """A fresh actor for shard k (the lost one is gone)."""
        self.workers[k] = self.remote.remote(*self.args[k])

    def close(self) -> None:
        """End the actors (the cluster stays for the process, as for ensembles)."""
        for w in self.workers:
            try:
                self.ray.kill(w)
            except Exception:
                pass


class Driver:
    """Steps K shards through the days: front, route at the barrier, back, combine."""

    def __init__(
        self,
        scenario: Scenario,
        shards: Any,
        bounds: list[tuple[int, int]],
        checkpoint_every: int | None,
    ) -> None:
        """The head simulation (first block only) gives the declarations and daily table."""
        self.scenario = scenario
        self.shards = shards
        self.bounds = bounds
        self.lows = np.array([lo for lo, _ in bounds[1:]], dtype=np.int64)
        token = BUILDING_HEAD.set(True)  # modules may skip what only a stepping shard needs
        try:
            self.head = Simulation(scenario, 0, min(scenario.population.size, BLOCK))
        finally:
            BUILDING_HEAD.reset(token)
        self.exchanger = next(m for m in self.head.plan if m.exchange)
        self.reporting = list(self.head._reporting)
        self.every = checkpoint_every
        self.history: dict[int, list[list[Any]]] = {}  # day -> received parts per shard
        self.decisions: dict[int, list[list[Any]]] = {}  # day -> national results per shard
        self.asked: tuple[int | None, bool] = (None, False)  # today's back_front arguments
        self.national = {m.name: m for m in self.head.modules}
        self.checkpointed = 0
        self.stats = {"wall": 0.0, "work": 0.0, "messages": 0, "bytes": 0, "routed": 0}
        self.barrier_stats: dict[str, dict[str, int]] = {}  # module -> days, messages, bytes
        self.recoveries: list[dict[str, int]] = []
        self.store: Path | None = None  # RUN_DIR/checkpoints: the driver's own (`save`)
        self.via: Path | None = None  # the shards' checkpoints, when the driver writes them
        self.kept: list[RecordBatch | None] = []  # the log's batches since the last one
        self.setup = 0.0

    def save(self, day: int) -> Path:
        """The driver's checkpoint of `day`, written after every shard's of that day.

        What a whole-run resume needs besides the shards' state: the head simulation's
        (the daily table so far, whatever `decide` and `combine_shards` keep on it), the
        record log's batches of the days since the last checkpoint (`log_arrays`: the
        log is rebuilt from them, so it is written by the same calls in the same order),
        the bounds and the manifest's counters. Its existence marks day `day` as one
        every shard checkpointed.
        """
        if self.store is None:
            raise RuntimeError("this driver keeps no checkpoints")
        arrays, meta = self.head.checkpoint_state()
        out = {f"head.{k}": v for k, v in arrays.items()}
        out.update(log_arrays(self.kept))
        doc = {
            FINGERPRINT_KEY: meta[FINGERPRINT_KEY],
            "head": {"scalars": meta["scalars"], "module_seconds": meta["module_seconds"]},
            "shards": len(self.bounds),
            "bounds": [list(b) for b in self.bounds],
            "log_from": self.checkpointed,
            "stats": dict(self.stats),
            "barrier_stats": self.barrier_stats,
            "recoveries": self.recoveries,
        }
        path = write_checkpoint(self.store, day, out, doc)
        self.kept = []
        return path

    def take(self, day: int) -> None:
        """Write the checkpoints of `day` the shards kept for the driver, one shard at a time.

        ``--checkpoint-via driver``: the shards' bytes come back to this process (Ray
        objects) and are written under the run folder, so the actors need no file system
        shared with the driver.
        """
        if self.via is None:
            raise RuntimeError("the shards write their own checkpoints")
        for k in range(len(self.bounds)):
            got = _One(self.shards, k).call("take_checkpoint")
            if isinstance(got, LostShard):
                got = self._retake(k, day)
            at, arrays, meta = got
            write_checkpoint(self.via / f"shard-{k}", at, arrays, meta)
            del got, arrays

    def _retake(self, k: int, day: int) -> Any:
        """Shard k lost before handing back its checkpoint of `day`: rebuilt, asked again.

        It is replayed from the previous checkpoint to the start of `day`, checkpoints,
        hands that back, and runs `day`'s first half again (the lost one's part of it is
        the driver's already).
        """
        self._recover(k, day, "take_checkpoint")
        one = _One(self.shards, k)
        self._ok(one.call("checkpoint"))
        got = self._ok(one.call("take_checkpoint"))
        self._ok(one.call("front", (day,)))
        return got

    def restore_shard(self, k: int, day: int) -> Any:
        """Bring the fresh shard k to its checkpoint of `day` (0: nothing to load).

        The shard reads its own checkpoint, or with ``--checkpoint-via driver`` the
        driver reads it and hands it over. Returns the call's result (a `LostShard` too).
        """
        one = _One(self.shards, k)
        if self.via is None or day == 0:
            return one.call("restore", (day,))
        arrays, meta = read_checkpoint(
            self.via / f"shard-{k}", day, fingerprint=self.head.fingerprint()
        )
        return one.call("load", (arrays, meta))

    def load(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """The driver's state from its checkpoint (`save`); the shards load theirs."""
        day = int(meta["day"])
        head = {k[len("head.") :]: v for k, v in arrays.items() if k.startswith("head.")}
        at = self.head.day  # the head never steps: its day stays where it was
        self.head.restore(head, {"day": day, **meta["head"]})
        self.head.day = at
        self.stats.update(meta["stats"])
        self.barrier_stats = {k: dict(v) for k, v in meta["barrier_stats"].items()}
        self.recoveries = [dict(r) for r in meta["recoveries"]]
        self.checkpointed = day
        self.kept = []

    def _call(self, method: str, day: int, args: list[tuple[Any, ...]] | None = None) -> list[Any]:
        """`method` on every shard; a lost shard is rebuilt, brought to `day`, called again."""
        args = args or [()] * len(self.bounds)
        out = self.shards.call(method, args)
        for k, got in enumerate(out):
            for attempt in range(3):
                if not isinstance(got, LostShard):
                    break
                if attempt == 2:
                    raise ShardError(f"error: shard {k} was lost three times on day {day}")
                self._recover(k, day, method)
                got = _One(self.shards, k).call(method, args[k])
            out[k] = got
        return out

    def _recover(self, k: int, day: int, method: str) -> None:
        """Rebuild shard k from its last checkpoint and replay the days since, to `day`."""
        if self.every is None:
            raise ShardError(
                f"error: shard {k} was lost on day {day} and the run keeps no checkpoints; "
                "rerun with --checkpoint-every D"
            )
        self.shards.rebuild(k)
        one = _One(self.shards, k)
        start = self._ok(self.restore_shard(k, self.checkpointed))
        for t in range(start, day):
            self._ok(one.call("front", (t,)))
            self._ok(one.call("back", (self.history[t][k],)))
            for result in self.decisions[t][k] if t in self.decisions else []:
                self._ok(one.call("resume", (result,)))
        if method in ("back", "back_front", "resume"):  # the day's first half again
            self._ok(one.call("front", (day,)))
        if method == "resume":  # today's barriers passed before the one it was lost at
            self._ok(one.call("back_front", (self.history[day][k], *self.asked)))
            for result in self.decisions[day][k][:-1]:
                self._ok(one.call("resume", (result,)))
        self.recoveries.append({"shard": k, "day": day, "from_checkpoint": start})

    @staticmethod
    def _ok(got: Any) -> Any:
        """A result of a replayed call; a shard lost again while replaying ends the run."""
        if isinstance(got, LostShard):
            raise ShardError(f"error: shard {got.index} was lost again while being restored")
        return got

    def route(self, day: int, parts: list[Any]) -> tuple[Any, list[list[Any]]]:
        """The day's whole exchange (shard order) and each shard's received parts."""
        k = len(parts)
        received: list[list[Any]] = [[] for _ in range(k)]
        parts = _numbered(parts)
        for s, part in enumerate(parts):
            owner = np.searchsorted(self.lows, self.exchanger.route(part), side="right")
            if k == 1:
                received[0].append(part)
                continue
            for d in range(k):
                sub = part.subset(np.flatnonzero(owner == d))
                received[d].append(sub)
                if d != s and len(sub):
                    self.stats["messages"] += 1
                    self.stats["bytes"] += _nbytes(sub)
                    self.stats["routed"] += len(sub)
        return RecordBatch.concat(day, list(parts)), received

    def day(self, day: int, log: Callable[[Any], None], fronts: list[Any] | None) -> list[Any]:
        """One day over all shards, from its first halves (None: ask for them).

        Returns the next day's first halves: each shard's call finishes today and starts
        tomorrow (`ShardWorker.back_front`), one round trip a day.
        """
        t0 = time.perf_counter()
        k = len(self.bounds)
        if fronts is None:
            fronts = self._call("front", day, [(day,)] * k)
            self.stats["work"] += max(s for _, s in fronts)
        whole, received = self.route(day, [p for p, _ in fronts])
        if self.every is not None:
            self.history[day] = received
        done = day + 1
        days = self.scenario.run.days
        save = bool(self.every) and done % self.every == 0 and done < days
        nxt = done if done < days else None
        self.asked = (nxt, save)
        got = self._call("back_front", day, [(r, nxt, save) for r in received])
        got = self.barriers(day, got)
        logged = [g[3] for g in got]
        if any(p is not None for p in logged):  # records appearing today, in shard parts
            merged = RecordBatch.concat(day, logged)
            whole = merged.subset(merged.order())
            whole.day = day
        log(whole)
        values: dict[str, Any] = {}
        for m in self.reporting:
            values.update(m.combine_shards(day, [g[0][m.name] for g in got]))
        self.head.metrics.record(day, **values)
        self.stats["work"] += max(g[1] for g in got)
        if save:
            if self.via is not None:
                self.take(done)
            if self.store is not None:
                self.save(done)
            self.checkpointed = done
            self.history = {t: r for t, r in self.history.items() if t >= done}
            self.decisions = {t: r for t, r in self.decisions.items() if t >= done}
        self.stats["wall"] += time.perf_counter() - t0
        return [(g[2], 0.0) for g in got]

    def barriers(self, day: int, got: list[Any]) -> list[Any]:
        """Today's national barriers: each module's `decide` on the driver, then `resume`.

        Every shard pauses at the same module (national days are the scenario's); the
        parts go to the driver and each shard gets its result back: two messages a shard.
        """
        k = len(got)
        while isinstance(got[0], Gather):
            names = {g.module for g in got if isinstance(g, Gather)}
            if len(names) != 1 or not all(isinstance(g, Gather) for g in got):
                raise RuntimeError(f"day {day}: shards paused at different barriers {names}")
            self.stats["work"] += max(g.seconds for g in got)
            name = got[0].module
            results = self.national[name].decide(day, [g.part for g in got])
            if k > 1:
                sent = sum(_nbytes(g.part) for g in got) + _nbytes(results)
                self.stats["messages"] += 2 * k
                self.stats["bytes"] += sent
                b = self.barrier_stats.setdefault(name, {"days": 0, "messages": 0, "bytes": 0})
                b["days"] += 1
                b["messages"] += 2 * k
                b["bytes"] += sent
            if self.every is not None:
                today = self.decisions.setdefault(day, [[] for _ in range(k)])
                for s, r in enumerate(results):
                    today[s].append(r)
            got = self._call("resume", day, [(r,) for r in results])
        return got

    def people_chunks(self, tables: list[pa.Table]) -> Any:
        """The shards' people rows in order, in the one-process chunks of `PEOPLE_ROWS`."""
        whole = pa.concat_tables(tables)
        for lo in range(0, max(whole.num_rows, 1), PEOPLE_ROWS):
            yield whole.slice(lo, PEOPLE_ROWS).combine_chunks()

    def extra_tables(self, parts: list[dict[str, dict[str, pa.Table]]]) -> dict[str, pa.Table]:
        """Each module's tables combined over the shards, in module order."""
        out: dict[str, pa.Table] = {}
        for m in self.head.modules:
            got = [p[m.name] for p in parts]
            if any(got):
                out.update(type(m).combine_tables(self.scenario, got))
        return out


class _One:
    """Calls on one shard of a backend (recovery replays one shard alone)."""

    def __init__(self, shards: Any, k: int) -> None:
        self.shards, self.k = shards, k

    def call(self, method: str, args: tuple[Any, ...] = ()) -> Any:
        """`method` on shard k only (a `LostShard` if it is lost again)."""
        w = self.shards.workers[self.k]
        if self.shards.backend == "local":
            return getattr(w, method)(*args) if w is not None else LostShard(self.k, None)
        ray = self.shards.ray
        try:
            return ray.get(getattr(w, method).remote(*args))
        except ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, Exception):
                raise exc.cause from None
            raise
        except ray.exceptions.RayActorError as exc:
            return LostShard(self.k, exc)


def _check_can_run(scenario: Scenario, shards: int, backend: str, address: str | None) -> None:
    """Refuse a sharded run that cannot be built, or would not fit where it runs."""
    check_shardable(scenario)
    if backend not in ("ray", "local"):
        raise ShardError(f"error: backend {backend!r}: allowed ray, local")
    if address is None:
        if backend == "ray":
            check_memory(scenario)  # a local cluster: every shard's memory is this machine's
        else:
            check_work(scenario)
        check_replicas(scenario, shards)  # and each shard holds the whole graph
    else:
        check_work(scenario)


def _workers(
    backend: str,
    toml: str,
    bounds: list[tuple[int, int]],
    folder: Path | None,
    address: str | None,
    via: str = "shard",
) -> Any:
    """The K shard workers: Ray actors or simulations in this process.

    `via` ``driver``: they keep their checkpoints for the driver and touch no folder.
    """
    hand_back = via == "driver"
    where = None if hand_back else folder
    if backend == "ray":
        return RayShards(toml, bounds, where, address, hand_back)
    return LocalShards(toml, bounds, where, hand_back)


def _check_via(via: str, checkpoint_every: int | None) -> None:
    """Refuse a `--checkpoint-via` that is not shard or driver, or driver with nothing to write."""
    if via not in ("shard", "driver"):
        raise ShardError(f"error: --checkpoint-via {via!r}: allowed shard, driver")
    if via == "driver" and not checkpoint_every:
        raise ShardError("error: --checkpoint-via driver: only with --checkpoint-every D")


def run_sharded(
    scenario: Scenario,
    shards: int,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    checkpoint_every: int | None = None,
    address: str | None = None,
    backend: str = "ray",
    fault: Callable[[int, Any], None] | None = None,
    checkpoint_via: str = "shard",
) -> RunResult:
    """Run a scenario split into `shards` shards; the run folder is the one-process one's.

    `backend` ``ray`` (actors; `address` as for ensembles) or ``local`` (in this process).
    `fault(day, backend)`, if given, is called after each day (tests kill an actor there,
    or raise to stop the whole run as a kill would).

    With `checkpoint_every` D the shards checkpoint every D days and then the driver
    (`Driver.save`), so a run killed whole is continued by `resume_sharded`. Each shard
    writes its checkpoints under the run folder itself (`checkpoint_via` ``shard``: the
    actors need the driver's file system), or hands them back to the driver, which
    writes them (``driver``).
    """
    check_every(checkpoint_every)
    _check_via(checkpoint_via, checkpoint_every)
    _check_can_run(scenario, shards, backend, address)
    bounds = shard_bounds(scenario.population.size, shards)
    writer = open_writer(scenario, out, overwrite, checkpoint_every, parts=False)
    t0 = time.perf_counter()
    with aborting(writer):
        # what `resume` needs to know before it reads the checkpoints
        writer.manifest["shards"] = {
            "count": shards,
            "backend": backend,
            "address": address,
            "checkpoint_via": checkpoint_via,
        }
        write_json(writer.folder / MANIFEST, writer.manifest)
        folder = (writer.folder / CHECKPOINTS).resolve() if checkpoint_every else None
        workers: Any = None
        try:
            toml = scenario.to_toml()
            workers = _workers(backend, toml, bounds, folder, address, checkpoint_via)
            driver = Driver(scenario, workers, bounds, checkpoint_every)
            if checkpoint_every:
                driver.store = writer.folder / CHECKPOINTS_DIR
                if checkpoint_via == "driver":
                    driver.via = folder
            log = driver.head.need("record_log")
            writer.start_log(log.log_schema(), log.log_table)
            driver._call("cost", 0)  # the actors built (set-up, not the first day's time)
            driver.setup = time.perf_counter() - t0
            _run_days(driver, writer, 0, progress, fault)
            _finish(driver, writer, t0)
        finally:
            if workers is not None:
                workers.close()
    return RunResult(writer.out)


def _run_days(
    driver: Driver,
    writer: RunWriter,
    start: int,
    progress: Callable[[int, int], None] | None,
    fault: Callable[[int, Any], None] | None,
) -> None:
    """Days `start`.. of the run: each day's log to `writer` (and kept for the checkpoint)."""
    log = driver.head.need("record_log")
    keep = driver.store is not None

    def write(batch: RecordBatch) -> None:
        kept = log.to_log(batch)
        if keep:
            driver.kept.append(kept)
        writer.add_records(kept)

    days = driver.scenario.run.days
    fronts = None
    for day in range(start, days):
        fronts = driver.day(day, write, fronts)
        if fault is not None:
            fault(day, driver.shards)
        if progress is not None:
            progress(day + 1, days)


def _finish(driver: Driver, writer: RunWriter, t0: float) -> None:
    """Gather the shards' costs, people rows and tables; write them and the manifest."""
    scenario, workers, bounds = driver.scenario, driver.shards, driver.bounds
    days = scenario.run.days
    costs = driver._call("cost", days)
    people = driver._call("people", days) if scenario.run.people else None
    tables = driver.extra_tables(driver._call("tables", days))
    module_seconds: dict[str, float] = {}
    for c in costs:
        for k, v in c["module_seconds"].items():
            module_seconds[k] = module_seconds.get(k, 0.0) + v
    phase_seconds = {"setup": round(driver.setup, 3)}
    for m in driver.head.plan:
        key = m.phase.name.lower()
        phase_seconds[key] = phase_seconds.get(key, 0.0) + module_seconds.get(m.name, 0.0)
    st = driver.stats
    wall = time.perf_counter() - t0
    n = scenario.population.size
    writer.finish(
        driver.head.metrics.table(),
        driver.people_chunks(people) if people is not None else None,
        tables,
        {
            "finished": now(),
            "wall_seconds": round(wall, 3),
            "peak_memory_bytes": max(
                c["peak_rss_bytes"] for c in [*costs, {"peak_rss_bytes": peak_rss_bytes()}]
            ),
            "state_bytes_per_citizen": round(sum(c["state_bytes"] for c in costs) / n, 2),
            "phase_seconds": {k: round(v, 3) for k, v in phase_seconds.items()},
            "module_seconds": {k: round(v, 3) for k, v in module_seconds.items()},
            "totals": driver.head.totals(),
            "outputs": describe_outputs(driver.head),
            "shards": {
                "count": len(bounds),
                "backend": workers.backend,
                "checkpoint_via": "driver" if driver.via is not None else "shard",
                "bounds": [list(b) for b in bounds],
                "day_loop_seconds": round(st["wall"], 3),
                "seconds_per_day": round(st["wall"] / max(days, 1), 6),
                "exchange_share": round(1.0 - st["work"] / st["wall"], 4) if st["wall"] else 0.0,
                "messages_per_day": round(st["messages"] / max(days, 1), 3),
                "bytes_per_day": round(st["bytes"] / max(days, 1), 1),
                "records_routed_per_day": round(st["routed"] / max(days, 1), 2),
                "barriers": {
                    name: {**b, "bytes_per_barrier": round(b["bytes"] / b["days"], 1)}
                    for name, b in driver.barrier_stats.items()
                },
                "peak_rss_bytes": [c["peak_rss_bytes"] for c in costs],
                "state_bytes": [c["state_bytes"] for c in costs],
                "recoveries": driver.recoveries,
            },
        },
    )


# -- the record log kept in the driver's checkpoints ----------------------------------------

_LOG_FIELDS = {f: t for f, t in RECORD_FIELDS.items() if f not in ("ordinal", "seq")}
"""The `RecordBatch` fields the record log is made of (`log_table` reads no others)."""


def log_arrays(batches: list[RecordBatch | None]) -> dict[str, np.ndarray]:
    """Days' record-log batches (None: a day that logs nothing) as flat arrays, ``log.*``.

    ``log.day`` is each day's batch day (-1 for None); per field its values over the days
    and ``log.n.<field>`` its length per batch (a field may be an empty placeholder).
    """
    kept = [b for b in batches if b is not None]
    out = {"log.day": np.array([-1 if b is None else b.day for b in batches], np.int64)}
    for name, dtype in _LOG_FIELDS.items():
        parts = [getattr(b, name) for b in kept]
        out[f"log.{name}"] = np.concatenate(parts) if parts else np.empty(0, dtype)
        out[f"log.n.{name}"] = np.array([p.size for p in parts], np.int64)
    return out


def log_batches(arrays: dict[str, np.ndarray]) -> list[RecordBatch | None]:
    """The batches `log_arrays` flattened, in their order (views of `arrays`)."""
    ends = {f: np.concatenate([[0], np.cumsum(arrays[f"log.n.{f}"])]) for f in _LOG_FIELDS}
    out: list[RecordBatch | None] = []
    j = 0
    for day in arrays["log.day"].tolist():
        if day < 0:
            out.append(None)
            continue
        cols = {f: arrays[f"log.{f}"][ends[f][j] : ends[f][j + 1]] for f in _LOG_FIELDS}
        out.append(RecordBatch(int(day), **cols))
        j += 1
    return out


# -- resuming a sharded run killed whole ------------------------------------------------------


def _days_text(days: list[int]) -> str:
    """'20, 30' or 'none', for messages."""
    return ", ".join(str(d) for d in days) if days else "none"


@dataclasses.dataclass
class ResumePoint:
    """Where a killed sharded run goes on from, checked before anything is written."""

    scenario: Scenario
    day: int
    bounds: list[tuple[int, int]]
    backend: str
    address: str | None
    every: int
    via: str  # who writes and reads the shards' checkpoints: shard or driver
    chain: list[int]  # the driver's checkpoint days up to `day`: the log's days in parts
    note: str  # the line saying where it resumes from (and which later days it drops)


def resume_point(
    run_dir: Path,
    partial: Path,
    manifest: dict[str, Any],
    scenario: Scenario,
    backend: str | None = None,
    address: str | None = None,
) -> ResumePoint:
    """Check a killed sharded run in `partial` and find the day it resumes from.

    That is the latest day on which the driver and every shard checkpointed (the driver
    writes its own last, so a kill between leaves a later day to some shards only). K is
    the checkpoints'; the backend and address are the run's unless given. Every refusal
    is one line.
    """
    where = f"run {str(run_dir)!r}"
    every = manifest.get("checkpoint_every")
    if not every:
        raise ShardError(
            f"error: {where}: was run without --checkpoint-every, so it has no checkpoint "
            "to resume from; run it again"
        )
    info = manifest.get("shards") or {}
    k = int(info.get("count", 0))
    backend = backend or str(info.get("backend", "ray"))
    if backend not in ("ray", "local"):
        raise ShardError(f"error: --backend {backend!r}: allowed ray, local")
    if address is not None and backend != "ray":
        raise ShardError(f"error: --address {address}: only with --backend ray")
    if address is None and backend == "ray" and info.get("backend") == "ray":
        address = info.get("address")
    _check_can_run(scenario, max(k, 1), backend, address)
    root = partial / CHECKPOINTS
    found = sorted(
        int(e.name.removeprefix("shard-"))
        for e in (root.iterdir() if root.is_dir() else [])
        if e.is_dir() and e.name.removeprefix("shard-").isdigit()
    )
    if k < 1 or found != list(range(k)):
        raise ShardError(
            f"error: {where}: holds checkpoints of shards {_days_text(found)} but the run "
            f"had {k} shards; the checkpoints are incomplete: run it again"
        )
    store = partial / CHECKPOINTS_DIR
    driver_days = list_checkpoints(store)
    shard_days = [list_checkpoints(root / f"shard-{j}") for j in range(k)]
    common = sorted(set(driver_days).intersection(*map(set, shard_days)))
    if not common:
        listed = "; ".join(
            [f"driver: {_days_text(driver_days)}"]
            + [f"shard {j}: {_days_text(d)}" for j, d in enumerate(shard_days)]
        )
        raise ShardError(
            f"error: {where}: holds no complete set of checkpoints (no day on which the "
            f"driver and all {k} shards checkpointed; {listed}); there is nothing to "
            "resume: run it again"
        )
    day = common[-1]
    fingerprint = scenario_fingerprint(scenario.to_toml())
    from panopticon import __version__

    meta = read_meta(store, day, fingerprint=fingerprint, version=__version__)
    bounds = shard_bounds(scenario.population.size, k)
    if meta.get("shards") != k or meta.get("bounds") != [list(b) for b in bounds]:
        raise ShardError(
            f"error: {where}: its checkpoint of day {day} is of {meta.get('shards')} shards "
            f"{meta.get('bounds')}, not the run's {k}; the checkpoints are damaged: run it again"
        )
    for j in range(k):
        read_meta(root / f"shard-{j}", day, fingerprint=fingerprint)
    chain = [d for d in driver_days if d <= day]
    start = 0
    for d in chain:
        m = meta if d == day else read_meta(store, d, fingerprint=fingerprint)
        logged = m["arrays"]["log.day"]["shape"][0]
        if m.get("log_from") != start or start + logged != d:
            raise ShardError(
                f"error: {where}: the driver's checkpoint of day {d} holds the record log of "
                f"days {m.get('log_from')}..{int(m.get('log_from') or 0) + logged - 1}, "
                f"not {start}..{d - 1} (a checkpoint is missing); run it again"
            )
        start = d
    later = [
        f"{who} has day {max(d)}"
        for who, d in [("the driver", driver_days)]
        + [(f"shard {j}", s) for j, s in enumerate(shard_days)]
        if d and max(d) > day
    ]
    note = f"resuming {run_dir} from day {day} of {scenario.run.days} on {k} shards ({backend})"
    if later:
        note += (
            f": the latest day on which the driver and every shard checkpointed "
            f"({', '.join(later)}: dropped)"
        )
    via = str(info.get("checkpoint_via", "shard"))
    _check_via(via, int(every))
    return ResumePoint(scenario, day, bounds, backend, address, int(every), via, chain, note)


def resume_sharded(
    run_dir: Path,
    manifest: dict[str, Any],
    point: ResumePoint,
    lock: FolderLock,
    progress: Callable[[int, int], None] | None = None,
    t0: float | None = None,
    fault: Callable[[int, Any], None] | None = None,
) -> RunResult:
    """Continue a sharded run killed whole, from `point` (see `resume_point`).

    The shards load their checkpoints of the day, the driver its own; the record log of
    the days before is written again from the driver's checkpoints (through the same
    writer calls, so its bytes are the uninterrupted run's); checkpoints of later days
    are dropped. A failure leaves the folder as resumable as it was.
    """
    t0 = time.perf_counter() if t0 is None else t0
    sc, day, bounds = point.scenario, point.day, point.bounds
    manifest = dict(manifest)
    for key in ("status", "error", "finished", "panopticon"):
        manifest.pop(key, None)
    manifest["resumed"] = [
        *manifest.get("resumed", []),
        {"day": day, "at": now(), "backend": point.backend},
    ]
    manifest["shards"] = {
        "count": len(bounds),
        "backend": point.backend,
        "address": point.address,
        "checkpoint_via": point.via,
    }
    writer = RunWriter(
        run_dir, sc.to_toml(), manifest, parts=False, resume=True, first_day=day, lock=lock
    )
    from panopticon import __version__

    fingerprint = scenario_fingerprint(sc.to_toml())
    with aborting(writer):
        store = writer.folder / CHECKPOINTS_DIR
        folder = (writer.folder / CHECKPOINTS).resolve()
        drop_checkpoints_after(store, day)
        for j in range(len(bounds)):
            drop_checkpoints_after(folder / f"shard-{j}", day)
        workers: Any = None
        try:
            toml = sc.to_toml()
            workers = _workers(point.backend, toml, bounds, folder, point.address, point.via)
            driver = Driver(sc, workers, bounds, point.every)
            driver.store = store
            if point.via == "driver":
                driver.via = folder
            arrays, meta = read_checkpoint(store, day, fingerprint=fingerprint, version=__version__)
            driver.load(arrays, meta)
            log = driver.head.need("record_log")
            writer.start_log(log.log_schema(), log.log_table)
            for d in point.chain:
                got = arrays if d == day else read_checkpoint(store, d, fingerprint=fingerprint)[0]
                for batch in log_batches(got):
                    writer.add_records(batch)
                del got
            del arrays
            if driver.via is None:
                driver._call("restore", day, [(day,)] * len(bounds))
            else:  # the driver reads each shard's checkpoint and hands it over, one by one
                for j in range(len(bounds)):
                    driver._ok(driver.restore_shard(j, day))
            driver.setup = time.perf_counter() - t0
            if progress is not None:
                progress(day, sc.run.days)
            _run_days(driver, writer, day, progress, fault)
            _finish(driver, writer, t0)
        finally:
            if workers is not None:
                workers.close()
    return RunResult(writer.out)


def shard_line(m: dict[str, Any]) -> str:
    """What the sharding cost, from a manifest's ``shards``: one line like `cost:`."""
    s = m["shards"]
    rss = "/".join(f"{b / 2**20:,.0f}" for b in s["peak_rss_bytes"])
    return (
        f"shards: {s['count']} ({s['backend']}), {s['seconds_per_day'] * 1000:.1f} ms a day, "
        f"{s['exchange_share']:.0%} of it outside the shards' work; exchanged "
        f"{s['messages_per_day']:.1f} messages, {s['bytes_per_day'] / 1024:,.1f} KiB a day; "
        f"peak memory per shard {rss} MiB"
    )
