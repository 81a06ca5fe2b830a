"""Sanction: the blacklist, keyed on the score.

Citizen i is sanctioned while score_i < threshold, and wrongly sanctioned while also
true_score_i >= threshold (the counterfactual score from correct records only would not
have sanctioned them). Counts are kept incrementally: each day only the citizens whose
score changed are re-examined, except after a recovery pass, when everyone is.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from panopticon.scenario import Scenario

SANCTIONED = np.uint8(1)
WRONGLY = np.uint8(2)


@njit(cache=True, inline="always")
def _status(score: float, true_score: float, threshold: float) -> np.uint8:
    """Status bits of one citizen."""
    s = np.uint8(0)
    if score < threshold:
        s |= SANCTIONED
        if true_score >= threshold:
            s |= WRONGLY
    return s


@njit(cache=True)
def _update_touched(
    touched: np.ndarray,
    score: np.ndarray,
    true_score: np.ndarray,
    threshold: float,
    status: np.ndarray,
    counts: np.ndarray,
) -> None:
    """Re-examine the citizens whose score changed today; keep `counts` in step."""
    for r in range(touched.size):
        j = touched[r]
        new = _status(score[j], true_score[j], threshold)
        old = status[j]
        if new != old:
            counts[0] += int(new & SANCTIONED) - int(old & SANCTIONED)
            counts[1] += (int(new & WRONGLY) - int(old & WRONGLY)) // 2
            status[j] = new


@njit(cache=True, parallel=True)
def _update_all(
    score: np.ndarray, true_score: np.ndarray, threshold: float, status: np.ndarray
) -> tuple[int, int]:
    """Re-examine everyone; returns (sanctioned, wrongly sanctioned)."""
    n_s = 0
    n_w = 0
    for i in prange(score.size):
        s = _status(score[i], true_score[i], threshold)
        status[i] = s
        n_s += int(s & SANCTIONED)
        n_w += int(s & WRONGLY) // 2
    return n_s, n_w


class Blacklist:
    """Stage 6: who is sanctioned at the end of the day. Owns `status`."""

    name = "sanction"

    def __init__(self, scenario: Scenario, score: np.ndarray, true_score: np.ndarray) -> None:
        """Examine the starting scores."""
        self.threshold = float(scenario.sanctions.blacklist.threshold)
        self.score, self.true_score = score, true_score
        self.status = np.zeros(score.size, dtype=np.uint8)
        self.counts = np.zeros(2, dtype=np.int64)
        self.counts[:] = _update_all(score, true_score, self.threshold, self.status)

    def step(self, touched: np.ndarray, everyone: bool) -> None:
        """Update status for citizens touched today (or everyone after recovery)."""
        if everyone:
            self.counts[:] = _update_all(self.score, self.true_score, self.threshold, self.status)
        else:
            _update_touched(
                touched, self.score, self.true_score, self.threshold, self.status, self.counts
            )

    def by_group(self, group: np.ndarray, n_groups: int) -> np.ndarray:
        """Citizens sanctioned now, per group (a population-wide pass)."""
        return np.bincount(group[(self.status & SANCTIONED) > 0], minlength=n_groups)

    @property
    def sanctioned(self) -> int:
        """Citizens sanctioned now."""
        return int(self.counts[0])

    @property
    def sanctioned_wrongly(self) -> int:
        """Citizens sanctioned now whose true_score would not sanction them."""
        return int(self.counts[1])
