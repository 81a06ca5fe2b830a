"""The points ledger (the main score, city-pilot style) and its counterfactual.

Each record against j moves score_j by the behaviour's points (down for negative acts,
not below the floor; up for rewarded acts, not above the cap); a correct record moves
true_score_j as well. At the end of each recovery period, a citizen with no record of
any kind in it regains `recovery.points` (up to `start`), and one with no correct record
regains them on true_score. Grade bands name score ranges; a `drops` behaviour sends the
score down to the top of a grade at once.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from numba import prange

from panopticon.core.jit import PARALLEL_FROM, sized_kernel
from panopticon.core.module import ALL, Column, DayContext, Export, Module, Phase, StateSpec
from panopticon.core.registry import register
from panopticon.stages.behave.behave import prefetch
from panopticon.stages.score.grades import Grades, score_dtype

ANY_RECORD = np.uint8(1)
CORRECT_RECORD = np.uint8(2)
NO_DROP = np.int64(-(2**62))
AHEAD = 16  # records between a record's prefetch and its update


@sized_kernel(7)
def _apply_kernel(
    target: np.ndarray,
    kinds: np.ndarray,
    correct: np.ndarray,
    delta: np.ndarray,
    drop_to: np.ndarray,
    floor: int,
    cap: int,
    score: np.ndarray,
    true_score: np.ndarray,
    window: np.ndarray,
    blocks: np.ndarray,
    sign: int,
    parts: int = 1,
) -> int:
    """Apply (sign=1) or reverse (sign=-1) records; returns the change in the sum of scores.

    `delta[k]` is the signed points of behaviour k (negative for violations). A record
    of a violation (`blocks[k]`) marks the recovery window; rewards and lawful acts do not
    stop a quiet period's recovery. `parts` splits the citizens into that many id ranges,
    each applying its own citizens' records in list order (threads, in the parallel
    version): every citizen sees the same records in the same order whatever `parts`,
    and the sum is of integers, so the result does not depend on it.
    """
    size = score.size
    totals = np.zeros(parts, dtype=np.int64)
    for p in prange(parts):
        lo, hi = size * p // parts, size * (p + 1) // parts
        total = 0
        for r in range(target.size):
            if r + AHEAD < target.size:  # the lines of a record to come (misses overlap)
                q = target[r + AHEAD]
                if q >= lo and q < hi:
                    prefetch(score, q)
                    prefetch(true_score, q)
                    prefetch(window, q)
            j = target[r]
            if j < lo or j >= hi:
                continue
            d = sign * delta[kinds[r]]
            old = np.int64(score[j])
            new = min(cap, max(floor, old + d))
            if sign > 0 and drop_to[kinds[r]] != NO_DROP:
                new = min(new, drop_to[kinds[r]])
            score[j] = new
            total += new - old
            if correct[r]:
                t = min(cap, max(floor, np.int64(true_score[j]) + d))
                if sign > 0 and drop_to[kinds[r]] != NO_DROP:
                    t = min(t, drop_to[kinds[r]])
                true_score[j] = t
                if sign > 0 and blocks[kinds[r]]:
                    window[j] |= CORRECT_RECORD | ANY_RECORD
            elif sign > 0 and blocks[kinds[r]]:
                window[j] |= ANY_RECORD
        totals[p] = total
    return np.int64(totals.sum())


@sized_kernel(2)
def _recover_kernel(
    gain: int,
    start: int,
    score: np.ndarray,
    true_score: np.ndarray,
    window: np.ndarray,
    moved: np.ndarray,
) -> int:
    """End of a recovery period: quiet citizens below `start` regain points, up to `start`.

    Marks in `moved` (unless it is empty) whose score or true_score changed, so that
    grades and sanctions can re-examine only them; returns the sum of scores. (Rewards
    can lift a score above start, to the cap; recovery only gives back what was lost.)
    """
    total = 0
    for i in prange(score.size):
        w = window[i]
        regain = (not w & ANY_RECORD) and score[i] < start
        regain_true = (not w & CORRECT_RECORD) and true_score[i] < start
        if regain:
            score[i] = min(start, np.int64(score[i]) + gain)
        if regain_true:
            true_score[i] = min(start, np.int64(true_score[i]) + gain)
        if moved.size > 0:
            moved[i] = regain or regain_true
        window[i] = 0
        total += np.int64(score[i])
    return total


@register
class PointsLedger(Module):
    """Stage 5 (main score): the points ledger and true_score. Owns `score`, `true_score`.

    Provides ``score:score`` (the `ScorePolicy` protocol) and ``changes:score``: a module
    that needs the latter is told exactly who regained points in a recovery pass (in
    `ctx.changed["score"]`); otherwise, after a recovery pass, `changed` is `ALL`, which
    is cheaper when only the blacklist reads this score (the minimal model).
    """

    name = "score"
    phase = Phase.SCORE
    provides = ("score:score", "changes:score")
    scheduled = False
    shards = True  # applies the records against its own citizens

    @classmethod
    def combine_values(cls, scenario: Any, parts: list[dict[str, Any]]) -> dict[str, Any]:
        """The mean score from the shards' integer sums: the one-process division exactly."""
        total = sum(int(p["score_sum"]) for p in parts)
        return {"mean_score": total / scenario.population.size}

    def shard_values(self, ctx: DayContext) -> dict[str, Any]:
        """The sum of scores in this shard (a mean over shards would round differently)."""
        return {"score_sum": int(self.score_sum)}

    def __init__(self, sim: Any) -> None:
        """Start every citizen at `start` on both scores."""
        super().__init__(sim)
        scenario = sim.scenario
        s = scenario.scoring
        n = sim.size  # the citizens this simulation owns (a shard's, or all)
        self.start, self.floor, self.cap = s.start, s.floor, s.top
        self.gain, self.every = s.recovery.points, s.recovery.every_days
        dt = score_dtype(self.floor, self.cap)
        self.score = self.add_state(
            StateSpec("score", dt, "the main score"), np.full(n, self.start, dtype=dt)
        )
        self.true_score = self.add_state(
            StateSpec("true_score", dt, "the score from correct records only", truth=True),
            np.full(n, self.start, dtype=dt),
        )
        self.window = self.add_state(
            StateSpec("window", np.uint8, "records in the current recovery period (bits)"),
            np.zeros(n, dtype=np.uint8),
        )
        cat = scenario.behaviors
        self.delta = np.array(
            [b.points if b.valence == "positive" else -s.deducted(b.points) for b in cat.values()],
            dtype=np.int64,
        )
        self.blocks = np.array(
            [b.valence == "negative" and not b.lawful for b in cat.values()], dtype=np.bool_
        )
        self.grades = Grades(s.grades, self.score, self.true_score) if s.grades else None
        if self.grades is not None:
            self.add_state(StateSpec("grade", np.uint8, "grade code"), self.grades.grade)
            self.add_state(
                StateSpec("true_grade", np.uint8, "counterfactual grade code", truth=True),
                self.grades.true_grade,
            )
        self.drop_to = np.full(len(cat), NO_DROP, dtype=np.int64)
        for beh, grade in s.drops.items():
            top = self.grades.highs[grade] if self.grades else None
            self.drop_to[list(cat).index(beh)] = math.ceil(top) - 1 if top is not None else NO_DROP
        self.score_sum = n * self.start
        # one id range per thread where the kernel runs parallel (the same result for any)
        self.parts = numba.get_num_threads() if n >= PARALLEL_FROM else 1
        self.track_recovered = self.grades is not None or "changes:score" in sim.wanted
        sim.provide("score:score", self)

    def columns(self) -> list[Column]:
        """The mean score."""
        return [
            Column(
                "mean_score",
                np.float64,
                agg="last",
                unit="points",
                label="mean score",
                headline=True,
                order=8,
                family="mean_score",
                key="score",
            )
        ]

    def values(self, ctx: DayContext) -> dict[str, float]:
        """Today's mean score."""
        return {"mean_score": self.mean()}

    def exports(self) -> list[Export]:
        """Score and counterfactual; grades when there are bands."""
        out = [
            Export("score", "the main score at the end", order=1),
            Export("true_score", "the same rules on correct records only", truth=True, order=2),
        ]
        if self.grades is not None:
            out += [
                Export("grade", "grade at the end", family="grade", key="score"),
                Export("true_grade", "grade by the counterfactual score", truth=True),
            ]
        return out

    def people(self) -> dict[str, Any]:
        """End-of-run scores (and grades)."""
        out: dict[str, Any] = {"score": self.score, "true_score": self.true_score}
        if self.grades is not None:
            out.update(self.grades.people_columns("grade", "true_grade"))
        return out

    def scalars(self) -> dict[str, Any]:
        """The running sum of scores."""
        return {"score_sum": int(self.score_sum)}

    def load_scalars(self, values: dict[str, Any]) -> None:
        """Restore the running sum and the grade counts."""
        self.score_sum = int(values["score_sum"])
        if self.grades is not None:
            self.grades.recount()

    def step(self, ctx: DayContext) -> None:
        """Apply today's records (and reverse removed ones), then recovery if a period ends.

        Sets `ctx.changed["score"]`: the records' targets and those who regained points,
        or `ALL` when a recovery pass ran without listing them.
        """
        day, batch, removed = ctx.day, ctx.batch, ctx.removed
        for records, sign in ((batch, 1), (removed, -1)):  # removed: won appeals, reversed
            if records is None:
                continue
            self.score_sum += _apply_kernel(
                records.attributed_to,
                records.behavior,
                records.correct,
                self.delta,
                self.drop_to,
                self.floor,
                self.cap,
                self.score,
                self.true_score,
                self.window,
                self.blocks,
                sign,
                self.parts,
            )
        recovered = np.empty(0, dtype=np.int32)
        if (day + 1) % self.every == 0:
            # with nothing else keyed on this score (the minimal model), re-examining
            # everyone afterwards is cheaper than listing who regained points
            n = self.score.size if self.track_recovered else 0
            moved = np.empty(n, dtype=np.bool_)
            self.score_sum = _recover_kernel(
                self.gain, self.start, self.score, self.true_score, self.window, moved
            )
            if not self.track_recovered:
                ctx.changed[self.name] = ALL
                return
            recovered = np.flatnonzero(moved).astype(np.int32)
        if self.grades is not None:
            self.grades.refresh(batch.attributed_to)
            if removed is not None:
                self.grades.refresh(removed.attributed_to)
            self.grades.refresh(recovered)
        parts = [batch.attributed_to, recovered]
        if removed is not None:
            parts.append(removed.attributed_to)
        ctx.changed[self.name] = np.concatenate(parts)

    @property
    def bounds(self) -> tuple[float, float]:
        """The lowest and highest possible score (floor, cap)."""
        return float(self.floor), float(self.cap)

    def mean(self) -> float:
        """Mean score over all citizens."""
        return self.score_sum / self.score.size
