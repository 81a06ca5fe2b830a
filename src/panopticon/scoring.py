"""Score: the points ledger and its counterfactual.

Each record against j deducts the behaviour's points from score_j (not below the floor);
a correct record deducts them from true_score_j as well, so true_score is the score the
same rules would give from correct records only. At the end of each recovery period, a
citizen with no record of any kind in it regains `recovery.points` on score (capped at
start), and one with no correct record regains them on true_score.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from panopticon.scenario import Scenario

ANY_RECORD = np.uint8(1)
CORRECT_RECORD = np.uint8(2)


def score_dtype(low: int, high: int) -> type:
    """Smallest signed integer dtype holding every score in [low, high]."""
    for dt in (np.int16, np.int32):
        if np.iinfo(dt).min <= low and high <= np.iinfo(dt).max:
            return dt
    return np.int64


@njit(cache=True)
def _apply_kernel(
    target: np.ndarray,
    kinds: np.ndarray,
    correct: np.ndarray,
    points: np.ndarray,
    floor: int,
    score: np.ndarray,
    true_score: np.ndarray,
    window: np.ndarray,
) -> int:
    """Deduct points for today's records; returns the change in the sum of scores."""
    delta = 0
    for r in range(target.size):
        j = target[r]
        p = points[kinds[r]]
        old = int(score[j])
        new = max(floor, old - p)
        score[j] = new
        delta += new - old
        if correct[r]:
            true_score[j] = max(floor, int(true_score[j]) - p)
            window[j] |= CORRECT_RECORD | ANY_RECORD
        else:
            window[j] |= ANY_RECORD
    return delta


@njit(cache=True, parallel=True)
def _recover_kernel(
    gain: int, cap: int, score: np.ndarray, true_score: np.ndarray, window: np.ndarray
) -> int:
    """End of a recovery period: quiet citizens regain points; returns the sum of scores."""
    total = 0
    for i in prange(score.size):
        w = window[i]
        if not w & ANY_RECORD:
            score[i] = min(cap, int(score[i]) + gain)
        if not w & CORRECT_RECORD:
            true_score[i] = min(cap, int(true_score[i]) + gain)
        window[i] = 0
        total += int(score[i])
    return total


class PointsLedger:
    """Stage 5: the points score and true_score. Owns `score`, `true_score`."""

    name = "score"

    def __init__(self, scenario: Scenario) -> None:
        """Start every citizen at `start` on both scores."""
        s = scenario.scoring
        n = scenario.population.size
        self.start, self.floor = s.start, s.floor
        self.gain, self.every = s.recovery.points, s.recovery.every_days
        dt = score_dtype(self.floor, self.start)
        self.score = np.full(n, self.start, dtype=dt)
        self.true_score = np.full(n, self.start, dtype=dt)
        self.window = np.zeros(n, dtype=np.uint8)
        self.points = np.array([b.points for b in scenario.behaviors.values()], dtype=np.int64)
        self.score_sum = n * self.start

    def step(self, day: int, target: np.ndarray, kinds: np.ndarray, correct: np.ndarray) -> bool:
        """Apply today's records, then recovery if a period ends; True if recovery ran."""
        self.score_sum += _apply_kernel(
            target,
            kinds,
            correct,
            self.points,
            self.floor,
            self.score,
            self.true_score,
            self.window,
        )
        if (day + 1) % self.every == 0:
            self.score_sum = _recover_kernel(
                self.gain, self.start, self.score, self.true_score, self.window
            )
            return True
        return False

    def mean(self) -> float:
        """Mean score over all citizens."""
        return self.score_sum / self.score.size
