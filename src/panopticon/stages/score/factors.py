"""The factors score (commercial style): weighted dimensions in [0, 1] scaled to a range.

Recomputed every `every_days` for everyone (a population-wide pass); record dimensions
decay with a half-life, trait dimensions are static, a network dimension takes friends'
scores from the previous recomputation. Its counterfactual uses correct records only.

Sharded (`core.shards`): record dimensions are per citizen; trait dimensions rank the
propensity over the whole population, so a shard draws everyone's (set-up only) and keeps
its own rows; a network dimension reads friends anywhere, so a recomputation day is a
national barrier: each shard hands over its citizens' previous scores and gets the
others' back, and computes its citizens' friends' means on its replica of the graph.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, prange

from panopticon.core import population as population_mod
from panopticon.core import streams
from panopticon.core.jit import KERNEL, sized_kernel
from panopticon.core.module import (
    ALL,
    Column,
    DayContext,
    Export,
    Module,
    Phase,
    StateSpec,
    others_parts,
    whole_parts,
)
from panopticon.core.registry import register
from panopticon.scenario.schema import FactorsPolicy, Scenario
from panopticon.stages.score.grades import Grades, score_dtype


@njit(cache=True, **KERNEL)
def _factor_add(
    target: np.ndarray,
    kinds: np.ndarray,
    correct: np.ndarray,
    weight: np.ndarray,
    kind_dims: np.ndarray,
    n_all: np.ndarray,
    n_true: np.ndarray,
    sign: float,
) -> None:
    """Add (or remove) records' weighted counts to each records dimension."""
    for r in range(target.size):
        j = target[r]
        for d in range(n_all.shape[1]):
            if kind_dims[kinds[r], d]:
                n_all[j, d] = max(0.0, n_all[j, d] + sign * weight[d])
                if correct[r]:
                    n_true[j, d] = max(0.0, n_true[j, d] + sign * weight[d])


@sized_kernel(0)
def _factor_recompute(
    n_all: np.ndarray,
    n_true: np.ndarray,
    decay: np.ndarray,
    scale: np.ndarray,
    reward: np.ndarray,
    w_rec: np.ndarray,
    trait: np.ndarray,
    w_trait: np.ndarray,
    lo: float,
    hi: float,
    score: np.ndarray,
    true_score: np.ndarray,
    net_all: np.ndarray,
    net_true: np.ndarray,
    w_net: float,
    offset: float,
) -> float:
    """Decay the counts to today, recompute both scores; returns the mean score."""
    total = 0.0
    for i in prange(score.size):
        s_all = offset
        s_true = offset
        for d in range(n_all.shape[1]):
            n_all[i, d] *= decay[d]
            n_true[i, d] *= decay[d]
            # most people have no such records: exp(0) = 1 without calling exp
            va = math.exp(-n_all[i, d] / scale[d]) if n_all[i, d] > 0 else 1.0
            vt = math.exp(-n_true[i, d] / scale[d]) if n_true[i, d] > 0 else 1.0
            if reward[d]:
                va, vt = 1.0 - va, 1.0 - vt
            s_all += w_rec[d] * va
            s_true += w_rec[d] * vt
        for d in range(trait.shape[0]):
            v = trait[d, i] / 255.0
            s_all += w_trait[d] * v
            s_true += w_trait[d] * v
        if net_all.size > 0:
            s_all += w_net * net_all[i]
            s_true += w_net * net_true[i]
        score[i] = round(lo + (hi - lo) * s_all)
        true_score[i] = round(lo + (hi - lo) * s_true)
        total += score[i]
    return total / max(1, score.size)


def friends_means_rows(
    graph: Any, a: np.ndarray, b: np.ndarray, lo: int, n: int, default: float = np.nan
) -> tuple[np.ndarray, np.ndarray]:
    """`graph.neighbour_means(a, b, default)[lo : lo + n]`, computed for those rows only."""
    return graph.neighbour_means_rows(a, b, lo, n, default)


def propensity_scores(propensity: np.ndarray) -> np.ndarray:
    """Normal scores of the propensity ranks (equal values ranked in id order).

    NumPy's default sort (SIMD introsort, ~2x faster than the stable one at 10^7) gives
    the stable order whenever no value repeats, which is checked; else the stable sort.
    """
    from scipy import special

    n = propensity.size
    order = np.argsort(propensity)
    s = propensity[order]
    if n > 1 and (np.any(s[1:] == s[:-1]) or np.isnan(s[-1])):
        order = np.argsort(propensity, kind="stable")
    del s
    ranks = np.empty(n)
    ranks[order] = (np.arange(n) + 0.5) / n
    return special.ndtri(ranks)


def trait_values(
    propensity: np.ndarray, loading: float, seed: int, index: int, z: np.ndarray | None = None
) -> np.ndarray:
    """A static per-citizen value in [0, 1] (uint8 0..255) falling with the propensity.

    v = Phi(-loading * z + sqrt(1 - loading^2) * e), z the normal score of the propensity
    rank (`propensity_scores`, computed here unless given) and e independent noise:
    loading 0 is unrelated to behaviour, 1 is fully determined by it.
    """
    from scipy import special

    n = propensity.size
    z = propensity_scores(propensity) if z is None else z
    rng = streams.population_rng(seed, streams.TRAITS, index)
    e = rng.standard_normal(n)
    v = special.ndtr(-loading * z + math.sqrt(max(0.0, 1 - loading**2)) * e)
    return np.round(v * 255).astype(np.uint8)


def _uses(policy: FactorsPolicy, source: str) -> bool:
    """Whether any dimension of the policy has this source."""
    return any(d.source == source for d in policy.dimensions.values())


@register
class FactorsScore(Module):
    """A weighted multi-factor score over named dimensions, recomputed every `every_days`.

    Provides ``score:<name>``; it changes only when recomputed (`scheduled`), and then
    sets `ctx.changed[name] = ALL`.
    """

    phase = Phase.SCORE
    scheduled = True
    # per-citizen counts; the network dimension's friends at a barrier on recomputations
    shards = True

    @classmethod
    def combine_values(cls, scenario: Scenario, parts: list[dict[str, Any]]) -> dict[str, Any]:
        """The mean score from the shards' integer sums: the one-process division exactly.

        One process divides a float sum of integer scores (exact below 2^53) by the size.
        """
        out: dict[str, Any] = {}
        for key in parts[0]:
            total = sum(int(p[key]) for p in parts)
            out[key.removesuffix("_sum")] = total / max(1, scenario.population.size)
        return out

    def shard_values(self, ctx: DayContext) -> dict[str, Any]:
        """The sum of this shard's scores at the last recomputation (an exact integer)."""
        if self._sum is None or self._sum[0] != self.last:
            self._sum = (self.last, int(self.score.sum(dtype=np.int64)))
        return {f"mean_{self.name}_sum": self._sum[1]}

    @classmethod
    def instances(cls, scenario: Scenario) -> list[dict[str, Any]]:
        """One per `scoring.factors` table."""
        return [{"name": k} for k in scenario.scoring.factors]

    @classmethod
    def needs(cls, scenario: Scenario, **kwargs: Any) -> set[str]:
        """The propensity for trait dimensions; the graph for a network dimension."""
        policy = scenario.scoring.factors[kwargs["name"]]
        out = {"propensity"} if _uses(policy, "trait") else set()
        if _uses(policy, "network") and scenario.network is not None:
            out.add("network")
        return out

    @classmethod
    def provided(cls, scenario: Scenario, **kwargs: Any) -> tuple[str, ...]:
        """Its score (its changes are always everyone, on recomputation days)."""
        return (f"score:{kwargs['name']}", f"changes:{kwargs['name']}")

    def __init__(self, sim: Any, name: str) -> None:
        """Set up dimension state; trait dimensions are drawn once, from the propensity."""
        super().__init__(sim)
        scenario = sim.scenario
        policy = scenario.scoring.factors[name]
        propensity = self._propensity(sim) if _uses(policy, "trait") else None
        self.name, self.policy = name, policy
        n = sim.size  # the citizens this simulation owns (a shard's, or all)
        self.first = sim.lo  # global id of local citizen 0 (a shard's first; else 0)
        self._sum: tuple[int, int] | None = None  # (day of recomputation, sum of scores)
        self._gathered: dict[str, np.ndarray] | None = None  # this shard's, at a barrier
        kinds = list(scenario.behaviors)
        rec = {k: d for k, d in policy.dimensions.items() if d.source == "records"}
        traits = {k: d for k, d in policy.dimensions.items() if d.source == "trait"}
        self.kind_dims = np.zeros((len(kinds), max(1, len(rec))), dtype=np.bool_)
        for j, d in enumerate(rec.values()):
            for b in d.behaviors:
                self.kind_dims[kinds.index(b), j] = True
        # citizen-major: one citizen's counts share a cache line (records touch citizens)
        self.n_all = self.add_state(
            StateSpec("n_all", np.float32, "decayed record counts per dimension"),
            np.zeros((n, len(rec)), dtype=np.float32),
        )
        self.n_true = self.add_state(
            StateSpec("n_true", np.float32, "the same, correct records only", truth=True),
            np.zeros((n, len(rec)), dtype=np.float32),
        )
        self.every = policy.every_days
        self.half_life = np.array([d.half_life_days for d in rec.values()], dtype=np.float64)
        self.scale = np.array([d.scale for d in rec.values()], dtype=np.float64)
        self.reward = np.array(
            [
                bool(d.behaviors)
                and all(scenario.behaviors[b].valence == "positive" for b in d.behaviors)
                for d in rec.values()
            ],
            dtype=np.bool_,
        )
        # value ranges are affine: weight x span multiplies v, weight x low adds a constant
        span = {k: d.value_range[1] - d.value_range[0] for k, d in policy.dimensions.items()}
        self.offset = sum(d.weight * d.value_range[0] for d in policy.dimensions.values())
        self.w_rec = np.array([d.weight * span[k] for k, d in rec.items()], dtype=np.float64)
        width = n if propensity is None else propensity.size  # everyone's, in a shard
        self.trait = np.zeros((len(traits), width), dtype=np.uint8)
        z = propensity_scores(propensity) if traits else None
        for j, d in enumerate(traits.values()):
            self.trait[j] = trait_values(propensity, d.loading, scenario.run.seed, j, z)
        if width != n:  # a shard ranked everyone: its own citizens' rows
            self.trait = np.ascontiguousarray(self.trait[:, sim.lo : sim.hi])
        del z, propensity
        self.w_trait = np.array([d.weight * span[k] for k, d in traits.items()], dtype=np.float64)
        # relationships: friends' normalised scores (previous recomputation) enter one's own
        self.w_net = sum(
            d.weight * span[k] for k, d in policy.dimensions.items() if d.source == "network"
        )
        self.network = sim.need("network") if "network" in self.needs(scenario, name=name) else None
        lo, hi = policy.range
        self.lo, self.hi = float(lo), float(hi)
        dt = score_dtype(lo, hi)
        self.score = self.add_state(StateSpec("score", dt, "the score"), np.zeros(n, dtype=dt))
        self.true_score = self.add_state(
            StateSpec("true_score", dt, "the score from correct records only", truth=True),
            np.zeros(n, dtype=dt),
        )
        self.last = 0
        self._recompute(np.ones(len(rec)), initial=True)
        self.grades = Grades(policy.grades, self.score, self.true_score) if policy.grades else None
        if self.grades is not None:
            self.add_state(StateSpec("grade", np.uint8, "grade code"), self.grades.grade)
            self.add_state(
                StateSpec("true_grade", np.uint8, "counterfactual grade code", truth=True),
                self.grades.true_grade,
            )
        sim.provide(f"score:{name}", self)

    def columns(self) -> list[Column]:
        """The mean score at the last recomputation."""
        return [
            Column(
                f"mean_{self.name}",
                np.float64,
                agg="last",
                unit="points",
                label=f"mean {self.name} score",
                family="mean_score",
                key=self.name,
            )
        ]

    def values(self, ctx: DayContext) -> dict[str, float]:
        """Today's mean."""
        return {f"mean_{self.name}": self.mean()}

    def exports(self) -> list[Export]:
        """The score, its counterfactual and its grade."""
        out = [
            Export(self.name, f"{self.name} score at the end"),
            Export(f"{self.name}_true", f"{self.name} from correct records only", truth=True),
        ]
        if self.grades is not None:
            out.append(
                Export(
                    f"{self.name}_grade",
                    f"{self.name} grade at the end",
                    family="grade",
                    key=self.name,
                )
            )
        return out

    def people(self) -> dict[str, Any]:
        """End-of-run values."""
        out: dict[str, Any] = {self.name: self.score, f"{self.name}_true": self.true_score}
        if self.grades is not None:
            out[f"{self.name}_grade"] = self.grades.people_columns("g", "t")["g"]
        return out

    def scalars(self) -> dict[str, Any]:
        """Day of the last recomputation and the mean then."""
        return {"last": int(self.last), "_mean": float(self._mean)}

    def load_scalars(self, values: dict[str, Any]) -> None:
        """Restore the scalars and the grade counts."""
        super().load_scalars(values)
        if self.grades is not None:
            self.grades.recount()

    @staticmethod
    def _propensity(sim: Any) -> np.ndarray:
        """The propensity of everyone: a trait ranks it over the whole population.

        One process (and the driver's head copy, which never steps) reads the
        capability; a shard draws the whole population's (keyed by citizen: the same
        values), for set-up only.
        """
        from panopticon.core.shards import BUILDING_HEAD

        n = sim.scenario.population.size
        if sim.size == n or BUILDING_HEAD.get():
            return sim.need("propensity")
        return population_mod.draw_propensity(sim.scenario.population, sim.seed, 0, n)

    def _recompute(
        self, decay: np.ndarray, initial: bool, whole: dict[str, np.ndarray] | None = None
    ) -> None:
        """Decay the record counts by `decay` and recompute both scores.

        `whole`: everyone's previous scores (``score``, ``true``) for the network
        dimension; None: this simulation's own (one process).
        """
        self._mean = _factor_recompute(
            self.n_all,
            self.n_true,
            decay,
            self.scale,
            self.reward,
            self.w_rec,
            self.trait,
            self.w_trait,
            self.lo,
            self.hi,
            self.score,
            self.true_score,
            *self._network_values(initial, whole),
            self.offset,
        )

    def _network_values(
        self, initial: bool, whole: dict[str, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """(friends' mean normalised score, the same for true scores, weight).

        Before any score exists (the first computation) everyone's friends count as
        the middle of the range (0.5); people without friends count 0.5 too. `whole`:
        everyone's scores (a shard's barrier); the means are then this shard's rows.
        """
        empty = np.empty(0, dtype=np.float64)
        if self.w_net == 0:
            return empty, empty, 0.0
        n = self.score.size
        if initial or self.network is None:
            half = np.full(n, 0.5)
            return half, half, self.w_net
        # friends' mean score, normalised afterwards (the mean is linear): no float copies
        span = self.hi - self.lo
        if whole is None or whole["score"].size == n:  # one process: everyone's rows
            pair = (
                (self.score, self.true_score) if whole is None else (whole["score"], whole["true"])
            )
            m_all, m_true = self.network.neighbour_means(*pair)
        else:  # a shard: the graph and scores are everyone's, the rows its own
            m_all, m_true = friends_means_rows(
                self.network, whole["score"], whole["true"], self.first, n
            )
        for m in (m_all, m_true):
            m -= self.lo
            m /= span
            m[np.isnan(m)] = 0.5  # people without friends count as the middle
        return m_all, m_true, self.w_net

    def _weights(self, day: int) -> np.ndarray:
        """Weight now of a record appearing on `day`, relative to the last recomputation.

        Counts are stored as of the last recomputation; a record of day t enters with
        weight 2^((t + 1 - last) / half_life) and the whole count is decayed by
        2^(-elapsed / half_life) at the next recomputation, which leaves each record
        decayed exactly by its own age.
        """
        return np.exp((day + 1 - self.last) * math.log(2) / self.half_life)

    def national_day(self, day: int) -> bool:
        """A recomputation with a network dimension: friends' scores are anyone's."""
        return (day + 1) % self.every == 0 and self.w_net != 0 and self.network is not None

    def step(self, ctx: DayContext) -> None:
        """Count today's records; recompute the scores at the end of each period.

        With a network dimension a recomputation day is `gather`, `decide`, `scatter`
        over this simulation alone (the path a sharded run splits at its barrier).
        """
        if self.national_day(ctx.day):
            self.scatter(ctx, self.decide(ctx.day, [self.gather(ctx)])[0])
            return
        self._count(ctx)
        if (ctx.day + 1) % self.every == 0:
            self._recompute_day(ctx, None)

    def gather(self, ctx: DayContext) -> dict[str, np.ndarray]:
        """Count today's records; this shard's scores of the last recomputation."""
        self._count(ctx)
        # not copies: nothing changes them before `decide` has read them
        self._gathered = {"score": self.score, "true": self.true_score}
        return self._gathered

    def decide(self, day: int, parts: list[dict[str, np.ndarray]]) -> list[dict[str, Any]]:
        """For each shard, the other shards' scores (`others_parts`)."""
        return others_parts(parts)

    def scatter(self, ctx: DayContext, result: dict[str, Any]) -> None:
        """Recompute from everyone's previous scores (the network dimension's friends)."""
        own, self._gathered = self._gathered, None
        if own is None:
            raise RuntimeError(f"{self.name}: scatter() before gather()")
        if not result:  # one process: its own scores are everyone's (no copy)
            whole = {"score": self.score, "true": self.true_score}
        else:
            whole = whole_parts(own, result)
        self._recompute_day(ctx, whole)

    def _recompute_day(self, ctx: DayContext, whole: dict[str, np.ndarray] | None) -> None:
        """The end of a period: decay to today, recompute, refresh the grades."""
        day = ctx.day
        elapsed = day + 1 - self.last
        decay = np.exp(-elapsed * math.log(2) / self.half_life)
        self._recompute(decay, initial=False, whole=whole)
        self.last = day + 1
        if self.grades is not None:
            self.grades.refresh_all()
        ctx.changed[self.name] = ALL

    def _count(self, ctx: DayContext) -> None:
        """Add today's records (and take away those removed on appeal)."""
        day, batch, removed = ctx.day, ctx.batch, ctx.removed
        if self.n_all.shape[1]:
            _factor_add(
                batch.attributed_to,
                batch.behavior,
                batch.correct,
                self._weights(day),
                self.kind_dims,
                self.n_all,
                self.n_true,
                1.0,
            )
            if removed is not None:
                _factor_add(
                    removed.attributed_to,
                    removed.behavior,
                    removed.correct,
                    self._weights(removed.day),
                    self.kind_dims,
                    self.n_all,
                    self.n_true,
                    -1.0,
                )

    @property
    def bounds(self) -> tuple[float, float]:
        """The lowest and highest possible score (the policy's range)."""
        return self.lo, self.hi

    def mean(self) -> float:
        """Mean score at the last recomputation."""
        return float(self._mean)
