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
import pyarrow as pa

from panopticon.core import population as population_mod
from panopticon.core.metrics import (
    HISTOGRAM_EVERY,
    DailyMetrics,
    LongTable,
    people_table,
    score_histogram,
)
from panopticon.core.records import MISSED
from panopticon.io.runs import RunError, RunResult, RunWriter, now
from panopticon.scenario.schema import Scenario
from panopticon.stages.behave.behave import Adapt, Behave
from panopticon.stages.behave.respond import Respond
from panopticon.stages.identify.identify import Identify
from panopticon.stages.observe.observe import Observe
from panopticon.stages.record.records import Record
from panopticon.stages.sanction.sanctions import ACCESS, Blacklist, Measures
from panopticon.stages.score.scoring import FactorsScore, PointsLedger, build_policies
from panopticon.stages.society.network import build_network

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
    per_citizen += 8 * len(scenario.behaviors) // 4 + 10 * len(scenario.scoring.lists)
    per_citizen += 16 * len(scenario.scoring.factors)
    if scenario.network is not None:
        per_citizen += 150  # the graph's build peak (62 B resident at mean degree 10)
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
        sc, n = scenario, scenario.population.size
        self.population = population_mod.build(sc.population, sc.run.seed)
        pop = sc.population
        self.has_groups = len(pop.groups) > 1 or sc.surveillance.faceid.mode == "scores"
        self.has_regions = len(pop.regions) > 1
        self.has_ages = (
            any(b.ages != (0, 120) for b in sc.behaviors.values())
            or any(
                m.kind in ("employment", "school", "housing")
                for m in sc.sanctions.measures.values()
            )
            or sc.network is not None
        )
        demo = None
        if self.has_groups or self.has_regions or self.has_ages:
            demo = population_mod.demographics(pop, sc.run.seed, 0, n)
        self.group = demo.group if demo is not None and self.has_groups else None
        self.region = demo.region if demo is not None and self.has_regions else None
        self.age = demo.age if demo is not None and self.has_ages else None
        self.network = None
        if sc.network is not None:
            region = demo.region if demo is not None else np.zeros(n, dtype=np.uint8)
            self.network = build_network(sc.network, demo.age, region, sc.run.seed)
            self.degree_start = self.network.degree()
        self._degree: np.ndarray | None = None
        days = sc.run.days
        total_rate = sum(b.rate for b in sc.behaviors.values())
        dt = count_dtype(self.population.propensity_max * total_rate * days)
        self.behave = Behave(sc, self.population, dt, self.age)
        self.respond = Respond(sc, self.behave.multiplier)
        self.observe = Observe(sc, self.region)
        self.identify = Identify(sc, self.group)
        self.record = Record(sc, dt, self.observe.delay)
        self.score = PointsLedger(sc)
        propensity = None
        if any(
            d.source == "trait" for f in sc.scoring.factors.values() for d in f.dimensions.values()
        ):
            propensity = population_mod.draw_propensity(pop, sc.run.seed, 0, n)
        self.policies = build_policies(sc, propensity)
        del propensity
        self.sanction = Blacklist(sc, self.score.score, self.score.true_score)
        self.policy_by_name = {"score": self.score, **{p.name: p for p in self.policies}}
        self.measures = Measures(sc, self.policy_by_name, self.age, self.network)
        # list who regains points in recovery when more than the blacklist is keyed on it
        self.score.track_recovered = self.score.grades is not None or "score" in (
            self.measures.groups
        )
        self.adapt = Adapt(sc, self.behave.deterrence, self.network)
        for pol in self.policies:
            if isinstance(pol, FactorsScore):
                pol.network = self.network
        self.channels = self.observe.channels
        self.metrics = DailyMetrics(
            days, {**dict.fromkeys(self._extra_columns(), None), **self.measures.columns()}
        )
        # grade counts per day, preallocated (policy, grades, counts[day, g], wrong[day, g])
        self._graded = [
            (
                name,
                g,
                np.zeros((days, len(g.names)), np.int64),
                np.zeros((days, len(g.names)), np.int64),
            )
            for name, g in [("score", self.score.grades)]
            + [(p.name, p.grades) for p in self.policies if getattr(p, "grades", None)]
            if g is not None
        ]
        self.groups = LongTable(
            {
                "day": pa.int32(),
                "group": pa.string(),
                "population": pa.int64(),
                "committed": pa.int64(),
                "observed": pa.int64(),
                "missed": pa.int64(),
                "records_against": pa.int64(),
                "wrongful_against": pa.int64(),
            }
        )
        self.histogram = LongTable(
            {
                "day": pa.int32(),
                "policy": pa.string(),
                "score_lo": pa.float64(),
                "score_hi": pa.float64(),
                "count": pa.int64(),
                "true_count": pa.int64(),
            }
        )
        self.by_group = LongTable(
            {
                "day": pa.int32(),
                "measure": pa.string(),
                "group": pa.string(),
                "population": pa.int64(),
                "triggered": pa.int64(),
                "triggered_wrongly": pa.int64(),
            }
        )
        self.group_names = list(pop.groups)
        self.group_size = (
            np.bincount(self.group, minlength=len(pop.groups))
            if self.group is not None
            else np.array([n])
        )
        self.day = 0
        self.phase_seconds["setup"] = time.perf_counter() - t0

    def _extra_columns(self) -> list[str]:
        """Daily columns beyond the minimal model's, for the features this scenario uses."""
        sc = self.scenario
        extra: list[str] = []
        if len(sc.behaviors) > 1:
            extra += [f"committed_{b}" for b in sc.behaviors]
        if len(self.channels) > 1:
            extra += [f"recorded_{c}" for c in self.channels]
        if sc.surveillance.appeals.enabled:
            extra += ["appealed", "appeals_won", "wrongful_removed"]
        if self.network is not None:
            grades = self._degree_grades()
            extra += [f"mean_degree_{g}" for g in grades]
            extra += ["isolated", "mean_assortativity"]
            if sc.network.avoidance.enabled:
                extra += ["ties_dropped", "ties_new"]
        for pol in self.policies:
            if isinstance(pol, FactorsScore):
                extra.append(f"mean_{pol.name}")
            else:
                extra += [
                    f"listed_{pol.name}",
                    f"listed_wrongly_{pol.name}",
                    f"entries_{pol.name}",
                    f"entries_true_{pol.name}",
                ]
        return extra

    @property
    def plan(self) -> tuple[str, ...]:
        """The stages of one day, in order."""
        return PLAN

    def state_bytes(self) -> int:
        """Resident bytes of all per-citizen state."""
        seen: set[int] = set()
        total = self.population.nbytes()
        for obj in (
            self.behave,
            self.record,
            self.score,
            self.sanction,
            self.identify,
            *self.policies,
            *(x for x in (self.score.grades,) if x),
        ):
            for v in vars(obj).values():
                if (
                    isinstance(v, np.ndarray)
                    and v.size >= self.population.size // 2
                    and id(v) not in seen
                ):
                    seen.add(id(v))
                    total += v.nbytes
        for arr in (self.group, self.region, self.age):
            if arr is not None:
                total += arr.nbytes
        return total

    def step(self) -> Any:
        """Advance one day; returns the day's record batch."""
        day, clock, ph = self.day, time.perf_counter, self.phase_seconds
        t = clock()
        self.respond.step(day)
        actors, kinds = self.behave.step(day)
        t, ph["behave"] = clock(), ph["behave"] + clock() - t
        seen, chan = self.observe.step(day, actors, kinds)
        t, ph["observe"] = clock(), ph["observe"] + clock() - t
        seen_actors, seen_kinds = actors[seen], kinds[seen]
        outcome, target = self.identify.step(day, seen_actors, seen_kinds, chan)
        t, ph["identify"] = clock(), ph["identify"] + clock() - t
        batch, removed = self.record.step(day, seen_actors, seen_kinds, chan, outcome, target)
        t, ph["record"] = clock(), ph["record"] + clock() - t
        recovered = self.score.step(day, batch, removed)
        for pol in self.policies:
            pol.step(day, batch, removed)
        t, ph["score"] = clock(), ph["score"] + clock() - t
        # everyone whose main score may have changed today: records' targets, records
        # removed on appeal, and those who regained points in a recovery pass
        parts = [batch.attributed_to] if recovered is None else [batch.attributed_to, recovered]
        if removed is not None:
            parts.append(removed.attributed_to)
        touched = np.concatenate(parts)
        self.sanction.step(touched, recovered is None)
        everyone = {
            p.name for p in self.policies if isinstance(p, FactorsScore) and p.last == day + 1
        }
        if recovered is None:
            everyone.add("score")
        measured = self.measures.step(day, touched, everyone)
        t, ph["sanction"] = clock(), ph["sanction"] + clock() - t
        self.adapt.step(day, batch.attributed_to[~self.behave.positive[batch.behavior]])
        network_values = self._network_step(day)
        ph["adapt"] += clock() - t
        n_correct = int(batch.correct.sum())
        n_missed = int((outcome == MISSED).sum())
        values: dict[str, float] = dict(
            committed=actors.size,
            observed=seen.size,
            missed=n_missed,
            attributed_correct=n_correct,
            attributed_wrong=len(batch) - n_correct,
            sanctioned=self.sanction.sanctioned,
            sanctioned_wrongly=self.sanction.sanctioned_wrongly,
            mean_score=self.score.mean(),
        )
        values.update(measured)
        values.update(network_values)
        self._extras(values, kinds, batch)
        self.metrics.record(day, **values)
        self._long_tables(day, actors, seen_actors, outcome, batch)
        self.day += 1
        return batch

    def _degree_grades(self) -> list[str]:
        """Grades of the policy people see (the avoidance policy), or one 'all' class."""
        pol = self.policy_by_name.get(self.scenario.network.avoidance.policy, self.score)
        return list(pol.grades.names) if pol.grades is not None else ["all"]

    def _network_step(self, day: int) -> dict[str, float]:
        """Avoidance round on its schedule; degree by grade every 30 days and at the ends."""
        net = self.network
        if net is None:
            return {}
        sc = self.scenario
        av = sc.network.avoidance
        pol = self.policy_by_name[av.policy]
        out: dict[str, float] = {}
        if av.enabled and (day + 1) % av.every_days == 0:
            codes = pol.grades.grade if pol.grades is not None else None
            avoid = np.array([g in av.avoid_grades for g in self._degree_grades()])
            low = avoid[codes] if codes is not None else np.zeros(pol.score.size, dtype=bool)
            lo, hi = pol.bounds
            attract = (pol.score.astype(np.float64) - lo) / max(hi - lo, 1.0)
            r = net.rewire(low, attract, day, sc.run.seed, av)
            out.update(ties_dropped=r["dropped"], ties_new=r["new"])
        # degrees change only in avoidance rounds: snapshot every 30 days when they run,
        # else on the first and last day (grades move in between; the snapshot says when)
        periodic = av.enabled and (day + 1) % HISTOGRAM_EVERY == 0
        if day == 0 or periodic or day == sc.run.days - 1:
            if self._degree is None or "ties_dropped" in out:
                self._degree = net.degree()
            names = self._degree_grades()
            codes = (
                pol.grades.grade
                if pol.grades is not None
                else np.zeros(pol.score.size, dtype=np.uint8)
            )
            per = np.bincount(codes, weights=self._degree, minlength=len(names))
            people = np.bincount(codes, minlength=len(names))
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = per / people
            self._degree_snapshot = {
                f"mean_degree_{g}": float(v) for g, v in zip(names, mean, strict=True)
            }
            self._degree_snapshot["isolated"] = int((self._degree == 0).sum())
            self._degree_snapshot["mean_assortativity"] = net.assortativity(
                pol.score.astype(np.float64)
            )
        out.update(self._degree_snapshot)
        return out

    def _extras(self, values: dict[str, float], kinds: np.ndarray, batch: Any) -> None:
        """Fill the feature columns of today's row."""
        cols = self.metrics.columns
        if len(self.scenario.behaviors) > 1:
            per = np.bincount(kinds, minlength=len(self.scenario.behaviors))
            for k, b in enumerate(self.scenario.behaviors):
                values[f"committed_{b}"] = per[k]
        if len(self.channels) > 1:
            per = np.bincount(batch.channel, minlength=len(self.channels))
            for c, name in enumerate(self.channels):
                values[f"recorded_{name}"] = per[c]
        if "appealed" in cols:
            values.update(self.record.today_counts)
        for pol in self.policies:
            if isinstance(pol, FactorsScore):
                values[f"mean_{pol.name}"] = pol.mean()
            else:
                values[f"listed_{pol.name}"] = pol.listed
                values[f"listed_wrongly_{pol.name}"] = pol.listed_wrongly
                values[f"entries_{pol.name}"] = pol.entries
                values[f"entries_true_{pol.name}"] = pol.entries_true

    def _long_tables(
        self, day: int, actors: np.ndarray, seen_actors: np.ndarray, outcome: np.ndarray, batch: Any
    ) -> None:
        """Grades per policy, rates per group, and (monthly) the score distribution."""
        if (day + 1) % HISTOGRAM_EVERY == 0 or day == self.scenario.run.days - 1:
            scored = [("score", self.score)] + [
                (p.name, p) for p in self.policies if isinstance(p, FactorsScore)
            ]
            for name, pol in scored:
                edges, count, true = score_histogram(pol.score, pol.true_score, *pol.bounds)
                self.histogram.add(
                    day=np.int32(day),
                    policy=name,
                    score_lo=edges[:-1],
                    score_hi=edges[1:],
                    count=count,
                    true_count=true,
                )
        for _, g, counts, wrong in self._graded:
            counts[day] = g.counts
            wrong[day] = g.wrong
        if self.group is None:
            return
        k = len(self.group_names)
        grp = self.group

        def by(ids: np.ndarray) -> np.ndarray:
            return np.bincount(grp[ids], minlength=k)

        wrong = batch.attributed_to[~batch.correct]
        self.groups.add(
            day=np.int32(day),
            group=np.array(self.group_names),
            population=self.group_size,
            committed=by(actors),
            observed=by(seen_actors),
            missed=by(seen_actors[outcome == MISSED]),
            records_against=by(batch.attributed_to),
            wrongful_against=by(wrong),
        )
        if (day + 1) % HISTOGRAM_EVERY == 0 or day == self.scenario.run.days - 1:
            self._consequences_by_group(day, grp, k)

    def _consequences_by_group(self, day: int, grp: np.ndarray, k: int) -> None:
        """Snapshot (every 30 days and the last day): who is sanctioned, per group."""
        names = np.array(self.group_names)
        status = self.sanction.status  # bit 1: sanctioned, bit 2: wrongly sanctioned
        rows = [("blacklist", (status & 1) > 0, (status & 2) > 0)]
        for name, trig in self.measures.triggers.items():
            m_on, m_truth = trig.members(day)
            rows.append((name, m_on, m_on & ~m_truth))
        for name, on, wrongly in rows:
            self.by_group.add(
                day=np.int32(day),
                measure=name,
                group=names,
                population=self.group_size,
                triggered=np.bincount(grp[on], minlength=k),
                triggered_wrongly=np.bincount(grp[wrongly], minlength=k),
            )

    def people(self) -> Any:
        """The per-citizen end-state table."""
        cols: dict[str, Any] = {"id": np.arange(self.population.size, dtype=np.int32)}
        pop = self.scenario.population
        if self.group is not None:
            cols["group"] = pa.DictionaryArray.from_arrays(self.group, list(pop.groups))
        if self.region is not None:
            cols["region"] = pa.DictionaryArray.from_arrays(self.region, list(pop.regions))
        if self.age is not None:
            cols["age"] = self.age
        cols.update(
            score=self.score.score,
            true_score=self.score.true_score,
            committed=self.behave.committed,
            records_correct=self.record.records_correct,
            records_wrong=self.record.records_wrong,
            sanctioned=(self.sanction.status & 1).astype(bool),
        )
        if self.score.grades is not None:
            names = self.score.grades.names
            cols["grade"] = pa.DictionaryArray.from_arrays(self.score.grades.grade, names)
            cols["true_grade"] = pa.DictionaryArray.from_arrays(self.score.grades.true_grade, names)
        if self.record.appeals_won is not None:
            cols["appeals_won"] = self.record.appeals_won
        for pol in self.policies:
            if isinstance(pol, FactorsScore):
                cols[pol.name] = pol.score
                cols[f"{pol.name}_true"] = pol.true_score
                if pol.grades is not None:
                    cols[f"{pol.name}_grade"] = pa.DictionaryArray.from_arrays(
                        pol.grades.grade, pol.grades.names
                    )
            else:
                cols[pol.name] = pol.until > self.day - 1
                cols[f"{pol.name}_true"] = pol.until_true > self.day - 1
        if self.network is not None:
            cols["degree_start"] = self.degree_start
            cols["degree_end"] = self.network.degree()
        for name, access in self.measures.access.items():
            cols[name] = pa.DictionaryArray.from_arrays(access, list(ACCESS))
        return people_table(cols)

    def _grades_table(self) -> pa.Table:
        """Day x policy x grade rows (day-major), from the preallocated daily counts."""
        days = self.day
        parts: dict[str, list[np.ndarray]] = {
            k: [] for k in ("day", "policy", "grade", "count", "wrongful")
        }
        for d in range(days):
            for name, g, counts, wrong in self._graded:
                k = len(g.names)
                parts["day"].append(np.full(k, d, dtype=np.int32))
                parts["policy"].append(np.full(k, name, dtype=object))
                parts["grade"].append(g.names_array.astype(object))
                parts["count"].append(counts[d])
                parts["wrongful"].append(wrong[d])
        types = {
            "day": pa.int32(),
            "policy": pa.string(),
            "grade": pa.string(),
            "count": pa.int64(),
            "wrongful": pa.int64(),
        }
        return pa.table({k: pa.array(np.concatenate(v), type=types[k]) for k, v in parts.items()})

    def extra_tables(self) -> dict[str, Any]:
        """Tables beyond the minimal model's, written only when the features exist."""
        out = {}
        if self._graded:
            out["grades"] = self._grades_table()
        if self.group is not None:
            out["groups"] = self.groups.table()
            out["consequences_by_group"] = self.by_group.table()
        out["score_histogram"] = self.histogram.table()
        if self.measures.rounds:
            out["allocations"] = pa.Table.from_pylist(self.measures.rounds)
        return out


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
    if scenario.population.represents:
        manifest["represents"] = scenario.population.represents
        manifest["scale"] = scenario.population.represents / scenario.population.size
    channels = ("camera", *scenario.surveillance.channels)
    writer = RunWriter(
        out_path,
        scenario.to_toml(),
        manifest,
        list(scenario.behaviors),
        channels,
        overwrite,
        day_recorded=any(c.delay_days > 0 for c in scenario.surveillance.channels.values())
        or scenario.surveillance.camera.delay_days > 0,
        appeals=scenario.surveillance.appeals.enabled,
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
            sim.extra_tables(),
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
