"""The social graph as a module: built at set-up, avoidance rounds, degree by grade.

Provides ``network`` (the graph: households, work/school groups, friends) to the
modules that use ties (network deterrence, joint liability, friends' scores). Each
`avoidance.every_days`, people drop ties to low-grade people and form new ones
(`Network.rewire`); degrees by grade are snapshotted every 30 days when avoidance runs,
else on the first and last day.

Sharded runs (`core.shards`): every shard holds the WHOLE graph, indexed by global id.
The build is keyed by the seed and the whole population's demographics (drawn per id),
so every replica is the one-process graph; it stays so because every change to it is a
function of the whole population's state: on the days the step reads that state (an
avoidance round: everyone's grade and score; a degree/assortativity snapshot) the
module takes a national barrier (`national_day`): each shard `gather`s its citizens'
scores and grade codes, `decide` concatenates them in shard order (id order) and hands
the whole arrays to every shard, and `scatter` runs the one-process step on the replica.
The columns are then the same in every shard and are counted once (`combine_values`).
Memory per shard is NOT cut for the graph: each holds all of it (about 60 bytes a
citizen at 10 friends, plus the build's peak); the driver's head copy, which never
steps, builds its own block's graph only (`core.shards.BUILDING_HEAD`).
The partitioned design would give each shard its citizens' rows only, plus a copy of
its foreign friends' state (score, grade, a bit per drop decision): a round's drops of a
cross-shard tie are already decided by both ends alike (`avoidance._decides` is a pure
function of the pair), new ties to foreign partners would be routed to the partner's
owner like records, and the statistics would be sums of per-shard parts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from panopticon.core import population as population_mod
from panopticon.core.metrics import HISTOGRAM_EVERY
from panopticon.core.module import (
    Column,
    DayContext,
    Export,
    Module,
    Phase,
    others_parts,
    whole_parts,
)
from panopticon.core.registry import register


def attractiveness(score: np.ndarray) -> np.ndarray:
    """Scores mapped to [0, 1] over the range in use today (lowest 0, highest 1).

    A new partner is drawn with weight exp(preference x attractiveness), so the highest
    scorer is exp(preference) times as likely as the lowest: the preference acts on the
    scores people actually have, not on the policy's whole range (0-1200 for a pilot
    whose scores sit between 850 and 1050 would give a ratio near 1.2 instead of e^2).
    """
    s = score.astype(np.float64)
    lo, hi = float(s.min()), float(s.max())
    return (s - lo) / (hi - lo) if hi > lo else np.zeros_like(s)


@register
class Society(Module):
    """The network and its dynamics (module name ``network``)."""

    name = "network"
    phase = Phase.SOCIETY
    provides = ("network",)
    # every shard holds the whole graph; national days keep the replicas identical
    shards = True

    @classmethod
    def instances(cls, scenario: Any) -> list[dict[str, Any]]:
        """Present when the scenario has a `[network]` table."""
        return [{}] if scenario.network is not None else []

    @classmethod
    def needs(cls, scenario: Any, **kwargs: Any) -> set[str]:
        """Ages and regions of the citizens."""
        return {"age", "region"}

    @classmethod
    def combine_values(cls, scenario: Any, parts: list[dict[str, Any]]) -> dict[str, Any]:
        """The values of the whole graph: every shard computed them on its replica, once."""
        return dict(parts[0])

    def __init__(self, sim: Any) -> None:
        """Build the graph (the whole population's, in a shard too)."""
        super().__init__(sim)
        sc = sim.scenario
        self.params = sc.network
        from panopticon.core.shards import BUILDING_HEAD

        age, region = sim.need("age"), sim.need("region")
        whole = sim.size < sc.population.size and not BUILDING_HEAD.get()
        if whole:  # a shard: the whole population's graph (the driver's head: its block's)
            demo = population_mod.demographics(sc.population, sim.seed, 0, sc.population.size)
            age, region = demo.age, demo.region
        # here, not at import: a scenario without a graph never loads the graph's kernels
        from panopticon.stages.society.build import build_network

        self.graph = build_network(sc.network, age, region, sim.seed)
        del age, region
        self.lo, self.hi = sim.lo, sim.hi
        self.degree_start = self.graph.degree()
        self._degree: np.ndarray | None = None
        self._snapshot: dict[str, float] = {}
        self._today: dict[str, float] = {}
        self._gathered: dict[str, np.ndarray] | None = None  # this shard's part, at a barrier
        sim.provide("network", self.graph)

    def _policy(self) -> Any:
        """The score people see when they avoid (looked up at run time, not at build)."""
        return self.sim.need(f"score:{self.params.avoidance.policy}")

    def _grade_names(self) -> list[str]:
        """Grades of the policy people see, or one 'all' class."""
        pol = self._policy()
        return list(pol.grades.names) if pol.grades is not None else ["all"]

    def columns(self) -> list[Column]:
        """Mean degree per grade, isolated people, assortativity; ties dropped and new."""
        cols = [
            Column(
                f"mean_degree_{g}",
                np.float64,
                agg="last",
                unit="ties",
                label=f"mean degree, grade {g}",
                family="degree",
                key=g,
            )
            for g in self._grade_names()
        ]
        cols += [
            Column("isolated", agg="last", label="people without ties", higher_is="worse"),
            Column(
                "mean_assortativity",
                np.float64,
                agg="last",
                unit="correlation",
                label="score assortativity of ties",
            ),
        ]
        if self.params.avoidance.enabled:
            cols += [
                Column("ties_dropped", agg="sum", unit="ties", label="ties dropped"),
                Column("ties_new", agg="sum", unit="ties", label="ties formed"),
            ]
        return cols

    def _rewired(self, day: int) -> bool:
        """Whether `day` has an avoidance round."""
        av = self.params.avoidance
        return bool(av.enabled and (day + 1) % av.every_days == 0)

    def _snapshot_day(self, day: int) -> bool:
        """Whether `day` snapshots degrees and assortativity (first, every 30, last)."""
        periodic = self.params.avoidance.enabled and (day + 1) % HISTOGRAM_EVERY == 0
        return day == 0 or periodic or day == self.sim.days - 1

    def national_day(self, day: int) -> bool:
        """An avoidance round or a snapshot: the step reads everyone's score and grade."""
        return self._rewired(day) or self._snapshot_day(day)

    def step(self, ctx: DayContext) -> None:
        """Avoidance round on its schedule; degree by grade every 30 days and at the ends.

        On those days the step is `gather`, `decide`, `scatter` over this simulation
        alone (the path a sharded run splits at its national barrier); on the others it
        repeats the last snapshot.
        """
        if self.national_day(ctx.day):
            self.scatter(ctx, self.decide(ctx.day, [self.gather(ctx)])[0])
            return
        out: dict[str, float] = {}
        if self.params.avoidance.enabled:
            out.update(ties_dropped=0, ties_new=0)
        out.update(self._snapshot)
        self._today = out

    def gather(self, ctx: DayContext) -> dict[str, np.ndarray]:
        """The scores and grade codes of this simulation's citizens (what the step reads)."""
        pol = self._policy()
        codes = pol.grades.grade if pol.grades is not None else np.zeros(pol.score.size, np.uint8)
        self._gathered = {"score": pol.score.copy(), "codes": codes.copy()}
        return self._gathered

    def decide(self, day: int, parts: list[dict[str, np.ndarray]]) -> list[dict[str, Any]]:
        """For each shard, the other shards' scores and codes (`others_parts`)."""
        return others_parts(parts)

    def scatter(self, ctx: DayContext, result: dict[str, Any]) -> None:
        """The one-process step on this replica, from the whole population's state."""
        day, net, av = ctx.day, self.graph, self.params.avoidance
        own, self._gathered = self._gathered, None
        if own is None:
            raise RuntimeError("network: scatter() before gather()")
        whole = whole_parts(own, result)
        score, codes = whole["score"], whole["codes"]
        net.check_size(score, "score")
        graded = self._policy().grades is not None
        names = self._grade_names()
        out: dict[str, float] = {}
        rewired = self._rewired(day)
        if rewired:
            avoid = np.array([g in av.avoid_grades for g in names])
            low = avoid[codes] if graded else np.zeros(score.size, bool)
            weights = None
            if not (av.score_blind or av.preference == 0):
                from panopticon.stages.society import avoidance  # loaded with the graph

                weights = avoidance.score_weights(score, av.preference)
            r = net.rewire(low, None, day, self.sim.seed, av, weights)
            out.update(ties_dropped=r["dropped"], ties_new=r["new"])
        elif av.enabled:
            out.update(ties_dropped=0, ties_new=0)
        if self._snapshot_day(day):
            fresh = self._degree is None or rewired
            fused = net.row_stats(score, codes, len(names))
            if fused is not None:
                # the degrees it returns equal the kept ones when the graph did not change
                self._degree, st = fused
                per, people = st["degree_sum"], st["people"]
                isolated, assortativity = st["isolated"], st["assortativity"]
            else:
                if fresh:
                    self._degree = net.degree()
                per = np.bincount(codes, weights=self._degree, minlength=len(names))
                people = np.bincount(codes, minlength=len(names))
                isolated = int((self._degree == 0).sum())
                assortativity = net.assortativity(score.astype(np.float64))
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = per / people
            self._snapshot = {
                f"mean_degree_{g}": float(v) for g, v in zip(names, mean, strict=True)
            }
            self._snapshot["isolated"] = isolated
            self._snapshot["mean_assortativity"] = assortativity
        out.update(self._snapshot)
        self._today = out

    def values(self, ctx: DayContext) -> dict[str, float]:
        """Today's values, computed in `step`."""
        return self._today

    def scalars(self) -> dict[str, Any]:
        """The graph's scalar attributes (pool start, counts, stats)."""
        out: dict[str, Any] = {}
        for k, v in vars(self.graph).items():
            if isinstance(v, bool | int | float | str | np.integer | np.floating):
                out[k] = v
            elif isinstance(v, dict) and all(isinstance(x, int | float) for x in v.values()):
                out[k] = dict(v)
        return {"graph": out}

    def load_scalars(self, values: dict[str, Any]) -> None:
        """Put the graph's scalar attributes back, in their own types."""
        for k, v in values.get("graph", {}).items():
            old = getattr(self.graph, k)
            setattr(self.graph, k, dict(v) if isinstance(old, dict) else type(old)(v))

    def extra_state(self) -> dict[str, np.ndarray]:
        """Every ndarray of the graph (avoidance rewires it), the degrees and the snapshot."""
        out = {f"graph.{k}": v for k, v in vars(self.graph).items() if isinstance(v, np.ndarray)}
        if self._degree is not None:
            out["degree"] = self._degree
        out["snapshot_keys"] = np.array(list(self._snapshot), dtype=np.str_)
        out["snapshot_values"] = np.array(list(self._snapshot.values()), dtype=np.float64)
        return out

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore the graph's arrays (in place when the shape is unchanged)."""
        for k, v in arrays.items():
            if not k.startswith("graph."):
                continue
            name = k[len("graph.") :]
            old = getattr(self.graph, name)
            if old.shape == v.shape and old.dtype == v.dtype and old.flags.writeable:
                np.copyto(old, v)
            else:
                setattr(self.graph, name, v.copy())
        self._degree = arrays["degree"].copy() if "degree" in arrays else None
        keys, vals = arrays["snapshot_keys"], arrays["snapshot_values"]
        self._snapshot = {
            str(k): (int(v) if k == "isolated" else float(v))
            for k, v in zip(keys, vals, strict=True)
        }

    def exports(self) -> list[Export]:
        """Degree at the start and at the end."""
        return [
            Export("degree_start", "ties at the start", family="degree", key="start"),
            Export("degree_end", "ties at the end", family="degree", key="end"),
        ]

    def people(self) -> dict[str, Any]:
        """The degrees of this simulation's citizens."""
        lo, hi = self.lo, self.hi
        return {"degree_start": self.degree_start[lo:hi], "degree_end": self.graph.degree()[lo:hi]}
