"""The day loop: builds the stages, orders them, times each phase, streams results.

The plan of one day, in the minimal model's order::

    behave -> observe -> identify -> record -> score -> sanction -> adapt

Each stage is one module and owns its per-citizen arrays; the engine only hands the
day's events from one stage to the next. `Simulation.plan` lists the stages and
`Simulation.phase_seconds` says where the time went.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from panopticon import population as population_mod
from panopticon.behavior import Adapt, Behave
from panopticon.identify import Identify
from panopticon.metrics import DailyMetrics, people_table
from panopticon.records import Record
from panopticon.runs import RunError, RunResult, RunWriter, now
from panopticon.sanctions import Blacklist
from panopticon.scenario import Scenario
from panopticon.scoring import PointsLedger
from panopticon.surveillance import CAMERA, CHANNELS, Observe

PLAN = ("behave", "observe", "identify", "record", "score", "sanction", "adapt")
BASE_BYTES = 400 * 2**20  # interpreter, Numba, Arrow and output buffers


def count_dtype(expected_max: float) -> type:
    """Smallest unsigned dtype for a per-citizen count whose largest mean is given.

    Counts are Poisson-like; a margin of 12 standard deviations above the largest
    citizen's mean makes overflow practically impossible.
    """
    bound = expected_max + 12.0 * np.sqrt(expected_max + 1.0) + 16.0
    return np.uint16 if bound < np.iinfo(np.uint16).max else np.uint32


def estimate_bytes(scenario: Scenario) -> int:
    """Peak memory the run will need, estimated before anything is allocated."""
    n = scenario.population.size
    per_citizen = 64  # resident state (~25 B) plus set-up temporaries (float64 weights)
    return BASE_BYTES + per_citizen * n


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


class Simulation:
    """One scenario's state and stages, advanced one day at a time."""

    def __init__(self, scenario: Scenario) -> None:
        """Build the population and every stage's state."""
        self.scenario = scenario
        self.phase_seconds = {name: 0.0 for name in ("setup", *PLAN)}
        t0 = time.perf_counter()
        self.population = population_mod.build(scenario.population, scenario.run.seed)
        days = scenario.run.days
        total_rate = sum(b.rate for b in scenario.behaviors.values())
        dt = count_dtype(self.population.propensity_max * total_rate * days)
        self.behave = Behave(scenario, self.population, dt)
        self.observe = Observe(scenario)
        self.identify = Identify(scenario)
        self.record = Record(scenario, dt)
        self.score = PointsLedger(scenario)
        self.sanction = Blacklist(scenario, self.score.score, self.score.true_score)
        self.adapt = Adapt(scenario, self.behave.deterrence)
        self.metrics = DailyMetrics(days)
        self.day = 0
        self.phase_seconds["setup"] = time.perf_counter() - t0

    @property
    def plan(self) -> tuple[str, ...]:
        """The stages of one day, in order."""
        return PLAN

    def state_bytes(self) -> int:
        """Resident bytes of all per-citizen state."""
        arrays = [
            self.behave.committed,
            self.behave.deterrence,
            self.record.records_correct,
            self.record.records_wrong,
            self.score.score,
            self.score.true_score,
            self.score.window,
            self.sanction.status,
        ]
        return self.population.nbytes() + sum(a.nbytes for a in arrays)

    def step(self) -> Any:
        """Advance one day; returns the day's record batch."""
        day, clock, ph = self.day, time.perf_counter, self.phase_seconds
        t = clock()
        actors, kinds = self.behave.step(day)
        t, ph["behave"] = clock(), ph["behave"] + clock() - t
        seen = self.observe.step(day, actors.size)
        t, ph["observe"] = clock(), ph["observe"] + clock() - t
        seen_actors = actors[seen]
        outcome, target = self.identify.step(day, seen_actors)
        t, ph["identify"] = clock(), ph["identify"] + clock() - t
        channel = np.full(seen.size, CAMERA, dtype=np.uint8)
        batch = self.record.step(day, seen_actors, kinds[seen], channel, outcome, target)
        t, ph["record"] = clock(), ph["record"] + clock() - t
        recovered = self.score.step(day, batch.attributed_to, batch.behavior, batch.correct)
        t, ph["score"] = clock(), ph["score"] + clock() - t
        self.sanction.step(batch.attributed_to, recovered)
        t, ph["sanction"] = clock(), ph["sanction"] + clock() - t
        self.adapt.step(batch.attributed_to)
        ph["adapt"] += clock() - t
        n_correct = int(batch.correct.sum())
        self.metrics.record(
            day,
            committed=actors.size,
            observed=seen.size,
            missed=seen.size - len(batch),
            attributed_correct=n_correct,
            attributed_wrong=len(batch) - n_correct,
            sanctioned=self.sanction.sanctioned,
            sanctioned_wrongly=self.sanction.sanctioned_wrongly,
            mean_score=self.score.mean(),
        )
        self.day += 1
        return batch

    def people(self) -> Any:
        """The per-citizen end-state table."""
        return people_table(
            self.score.score,
            self.score.true_score,
            self.behave.committed,
            self.record.records_correct,
            self.record.records_wrong,
            self.sanction.status,
        )


def default_out(scenario: Scenario) -> Path:
    """Default run folder: runs/<scenario>-<seed>."""
    return Path("runs") / f"{scenario.name}-{scenario.run.seed}"


def check_memory(scenario: Scenario) -> None:
    """Refuse a run that would not fit in the memory available now."""
    need, have = estimate_bytes(scenario), available_bytes()
    if have is not None and need > have:
        raise RunError(
            f"error: population.size: {scenario.population.size:,} needs about "
            f"{need / 2**30:.1f} GiB but {have / 2**30:.1f} GiB is available; "
            "lower population.size"
        )


def run(
    scenario: Scenario,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Run a scenario to completion and write its run folder; returns the result."""
    check_memory(scenario)
    out_path = Path(out) if out is not None else default_out(scenario)
    started, t0 = now(), time.perf_counter()
    manifest = {
        "scenario": scenario.name,
        "seed": scenario.run.seed,
        "population": scenario.population.size,
        "days": scenario.run.days,
        "started": started,
        "threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)),
    }
    writer = RunWriter(
        out_path, scenario.to_toml(), manifest, list(scenario.behaviors), CHANNELS, overwrite
    )
    try:
        sim = Simulation(scenario)
        for day in range(scenario.run.days):
            writer.add_records(sim.record.to_log(sim.step()))
            if progress is not None:
                progress(day + 1, scenario.run.days)
        wall = time.perf_counter() - t0
        writer.finish(
            sim.metrics.table(),
            sim.people(),
            {
                "finished": now(),
                "wall_seconds": round(wall, 3),
                "peak_memory_bytes": peak_rss_bytes(),
                "state_bytes_per_citizen": round(sim.state_bytes() / scenario.population.size, 2),
                "phase_seconds": {k: round(v, 3) for k, v in sim.phase_seconds.items()},
                "totals": sim.metrics.totals(),
            },
        )
    except BaseException as exc:
        writer.abort("interrupted" if isinstance(exc, KeyboardInterrupt) else repr(exc))
        raise
    return RunResult(out_path)
