"""The blacklist (the minimal model's sanction).

Citizen i is sanctioned while score_i < threshold, and wrongly sanctioned while also
true_score_i >= threshold (the counterfactual score from correct records only would not
have sanctioned them). Only citizens whose score changed are re-examined each day.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import njit, prange

from panopticon.core.jit import HELPER, PARALLEL_FROM, sized_kernel
from panopticon.core.module import ALL, Column, DayContext, Export, Module, Phase, StateSpec
from panopticon.core.registry import register

SANCTIONED = np.uint8(1)
WRONGLY = np.uint8(2)


@njit(cache=True, **HELPER)
def _status(score: float, true_score: float, threshold: float) -> np.uint8:
    """Status bits of one citizen."""
    s = np.uint8(0)
    if score < threshold:
        s |= SANCTIONED
        if true_score >= threshold:
            s |= WRONGLY
    return s


@sized_kernel(1)
def _update_touched(
    touched: np.ndarray,
    score: np.ndarray,
    true_score: np.ndarray,
    threshold: float,
    status: np.ndarray,
    counts: np.ndarray,
    parts: int = 1,
) -> None:
    """Re-examine the citizens whose score changed today; keep `counts` in step.

    `parts` id ranges (threads, in the parallel version) each take their own citizens
    and tally their own changes: the same status and counts whatever `parts`.
    """
    size = score.size
    tally = np.zeros((parts, 2), dtype=np.int64)
    for p in prange(parts):
        lo, hi = size * p // parts, size * (p + 1) // parts
        for r in range(touched.size):
            j = touched[r]
            if j < lo or j >= hi:
                continue
            new = _status(score[j], true_score[j], threshold)
            old = status[j]
            if new != old:
                tally[p, 0] += np.int64(new & SANCTIONED) - np.int64(old & SANCTIONED)
                tally[p, 1] += (np.int64(new & WRONGLY) - np.int64(old & WRONGLY)) // 2
                status[j] = new
    for p in range(parts):
        counts[0] += tally[p, 0]
        counts[1] += tally[p, 1]


@sized_kernel(0)
def _update_all(
    score: np.ndarray, true_score: np.ndarray, threshold: float, status: np.ndarray
) -> tuple[int, int]:
    """Re-examine everyone; returns (sanctioned, wrongly sanctioned)."""
    n_s = 0
    n_w = 0
    for i in prange(score.size):
        s = _status(score[i], true_score[i], threshold)
        status[i] = s
        n_s += np.int64(s & SANCTIONED)
        n_w += np.int64(s & WRONGLY) // 2
    return n_s, n_w


@register
class Blacklist(Module):
    """Stage 6: who is sanctioned at the end of the day. Owns `status`.

    Provides ``membership:blacklist`` (sanctioned, sanctioned by the counterfactual).
    """

    name = "blacklist"
    phase = Phase.SANCTION
    provides = ("membership:blacklist",)
    shards = True  # examines its own citizens; the counts add up over shards

    @classmethod
    def needs(cls, scenario: Any, **kwargs: Any) -> set[str]:
        """The main score."""
        return {"score:score"}

    def __init__(self, sim: Any) -> None:
        """Examine the starting scores."""
        super().__init__(sim)
        self.policy = sim.need("score:score")
        self.threshold = float(sim.scenario.sanctions.blacklist.threshold)
        self.score, self.true_score = self.policy.score, self.policy.true_score
        self.status = self.add_state(
            StateSpec("status", np.uint8, "bits: sanctioned, wrongly sanctioned"),
            np.zeros(self.score.size, dtype=np.uint8),
        )
        self.counts = np.zeros(2, dtype=np.int64)
        # one id range per thread where the kernel runs parallel (the same result for any)
        self.parts = numba.get_num_threads() if self.score.size >= PARALLEL_FROM else 1
        self.counts[:] = _update_all(self.score, self.true_score, self.threshold, self.status)
        sim.provide("membership:blacklist", self)

    def step(self, ctx: DayContext) -> None:
        """Update status for citizens whose score changed today (or everyone)."""
        changed = ctx.changed.get(self.policy.name, np.empty(0, np.int32))
        if changed is ALL:
            self.counts[:] = _update_all(self.score, self.true_score, self.threshold, self.status)
        else:
            _update_touched(
                changed,
                self.score,
                self.true_score,
                self.threshold,
                self.status,
                self.counts,
                self.parts,
            )

    def members(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """(sanctioned, sanctioned by the counterfactual) now."""
        on = (self.status & SANCTIONED) > 0
        return on, on & ~((self.status & WRONGLY) > 0)

    def columns(self) -> list[Column]:
        """Who is sanctioned now, and wrongly."""
        sanctioned = Column(
            "sanctioned",
            agg="last",
            label="people sanctioned",
            headline=True,
            higher_is="worse",
            order=6,
        )
        return [
            sanctioned,
            sanctioned.wrongful("sanctioned_wrongly", "people sanctioned wrongly", order=7),
        ]

    def values(self, ctx: DayContext) -> dict[str, float]:
        """Today's counts."""
        return {"sanctioned": self.sanctioned, "sanctioned_wrongly": self.sanctioned_wrongly}

    def exports(self) -> list[Export]:
        """Sanctioned at the end."""
        return [Export("sanctioned", "sanctioned at the end", order=6)]

    def people(self) -> dict[str, Any]:
        """End-of-run status."""
        return {"sanctioned": (self.status & SANCTIONED).astype(bool)}

    def scalars(self) -> dict[str, Any]:
        """The counts."""
        return {"counts": [int(x) for x in self.counts]}

    def load_scalars(self, values: dict[str, Any]) -> None:
        """Restore the counts."""
        self.counts[:] = values["counts"]

    @property
    def sanctioned(self) -> int:
        """Citizens sanctioned now."""
        return int(self.counts[0])

    @property
    def sanctioned_wrongly(self) -> int:
        """Citizens sanctioned now whose true_score would not sanction them."""
        return int(self.counts[1])
