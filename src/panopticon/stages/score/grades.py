"""Grade bands of a score policy, kept incrementally for the score and its counterfactual."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numba import njit, prange

from panopticon.core import arrow
from panopticon.core.jit import HELPER, KERNEL, sized_kernel
from panopticon.core.metrics import BLOCK_ROWS

# touched citizens from which a refresh groups them by block of BLOCK_ROWS citizens and
# re-examines the blocks in parallel (`by_block`; `_grade_blocks`, triggers' likewise)
BLOCKED_FROM = 1 << 16


@njit(cache=True, **KERNEL)
def by_block(ids: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`ids` grouped by block of BLOCK_ROWS citizens, each block's in their order.

    A stable counting sort: (the ids, start of each block's ids; n_blocks + 1 starts).
    """
    n_blk = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    starts = np.zeros(n_blk + 1, dtype=np.int64)
    for r in range(ids.size):
        starts[ids[r] // BLOCK_ROWS + 1] += 1
    for b in range(n_blk):
        starts[b + 1] += starts[b]
    at = starts[:-1].copy()
    out = np.empty_like(ids)
    for r in range(ids.size):
        b = ids[r] // BLOCK_ROWS
        out[at[b]] = ids[r]
        at[b] += 1
    return out, starts


def score_dtype(low: float, high: float) -> type:
    """Smallest signed integer dtype holding every score in [low, high]."""
    for dt in (np.int16, np.int32):
        if np.iinfo(dt).min <= low and high <= np.iinfo(dt).max:
            return dt
    return np.int64


class Grades:
    """Grade bands of one policy: codes 0 (best) .. G-1, counted for score and counterfactual.

    `pairs[g, t]` counts citizens in grade g whose counterfactual grade is t; it is kept
    incrementally: only citizens whose score changed are re-examined, except after a
    population-wide pass (recovery, recomputation).
    """

    def __init__(
        self, bands: dict[str, tuple[float, float]], score: np.ndarray, true_score: np.ndarray
    ) -> None:
        """Order bands best first and classify everyone's starting scores."""
        ordered = sorted(bands.items(), key=lambda kv: -kv[1][0])
        self.names = [k for k, _ in ordered]
        self.names_array = np.array(self.names)
        self.lows = np.array([v[0] for _, v in ordered], dtype=np.float64)
        self.highs = {k: v[1] for k, v in ordered}
        self.score, self.true_score = score, true_score
        self.grade = np.zeros(score.size, dtype=np.uint8)
        self.true_grade = np.zeros(score.size, dtype=np.uint8)
        k = len(self.names)
        self._pairs = np.zeros((k, k), dtype=np.int64)
        self.refresh_all()

    def pairs(self) -> np.ndarray:
        """Counts of (grade, true grade) pairs, shape (G, G)."""
        return self._pairs

    @property
    def counts(self) -> np.ndarray:
        """Citizens per grade."""
        return self._pairs.sum(axis=1)

    @property
    def wrong(self) -> np.ndarray:
        """Citizens per grade whose counterfactual grade is better (a smaller code)."""
        return np.tril(self._pairs, k=-1).sum(axis=1)

    def refresh_all(self) -> None:
        """Re-examine everyone."""
        _grade_all(self.score, self.true_score, self.lows, self.grade, self.true_grade, self._pairs)

    def recount(self) -> None:
        """Recount the (grade, true grade) pairs from the stored codes (after a restore)."""
        k = len(self.names)
        self._pairs[:] = np.bincount(
            self.grade.astype(np.int64) * k + self.true_grade, minlength=k * k
        ).reshape(k, k)

    def people_columns(self, grade: str, true_grade: str) -> dict[str, pa.Array]:
        """The grade codes as named (dictionary) columns for ``people.parquet``."""
        return {
            grade: arrow.dictionary(self.grade, self.names),
            true_grade: arrow.dictionary(self.true_grade, self.names),
        }

    def refresh(self, touched: np.ndarray) -> None:
        """Re-examine the citizens whose scores changed (grouped by block when many)."""
        if touched.size >= BLOCKED_FROM:
            grouped, starts = by_block(touched, self.score.size)
            _grade_blocks(
                grouped,
                starts,
                self.score,
                self.true_score,
                self.lows,
                self.grade,
                self.true_grade,
                self._pairs,
            )
            return
        _grade_touched(
            touched,
            self.score,
            self.true_score,
            self.lows,
            self.grade,
            self.true_grade,
            self._pairs,
        )


@njit(cache=True, **HELPER)
def _band(value: float, lows: np.ndarray) -> int:
    """Grade code of a score: the first band (best first) whose low end it reaches."""
    for g in range(lows.size):
        if value >= lows[g]:
            return g
    return lows.size - 1


@sized_kernel(0)
def _grade_all(
    score: np.ndarray,
    true_score: np.ndarray,
    lows: np.ndarray,
    grade: np.ndarray,
    true_grade: np.ndarray,
    pairs: np.ndarray,
) -> None:
    """Classify everyone and count (grade, true grade) pairs (blocks in parallel)."""
    k = lows.size
    n = score.size
    n_blocks = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    local = np.zeros((n_blocks, k, k), dtype=np.int64)
    for b in prange(n_blocks):
        for i in range(b * BLOCK_ROWS, min(n, b * BLOCK_ROWS + BLOCK_ROWS)):
            g = _band(score[i], lows)
            t = _band(true_score[i], lows)
            grade[i] = g
            true_grade[i] = t
            local[b, g, t] += 1
    # summed by loops: whole-array assignment and `+=` on 2-D slices compile slowly
    for g in range(k):
        for t in range(k):
            total = 0
            for b in range(n_blocks):
                total += local[b, g, t]
            pairs[g, t] = total


@njit(cache=True, **KERNEL)
def _grade_touched(
    touched: np.ndarray,
    score: np.ndarray,
    true_score: np.ndarray,
    lows: np.ndarray,
    grade: np.ndarray,
    true_grade: np.ndarray,
    pairs: np.ndarray,
) -> None:
    """Re-classify the touched citizens, keeping the pair counts in step."""
    for r in range(touched.size):
        i = touched[r]
        g, t = _band(score[i], lows), _band(true_score[i], lows)
        og, ot = grade[i], true_grade[i]
        if g != og or t != ot:
            pairs[og, ot] -= 1
            pairs[g, t] += 1
            grade[i] = g
            true_grade[i] = t


@sized_kernel(2)
def _grade_blocks(
    touched: np.ndarray,
    starts: np.ndarray,
    score: np.ndarray,
    true_score: np.ndarray,
    lows: np.ndarray,
    grade: np.ndarray,
    true_grade: np.ndarray,
    pairs: np.ndarray,
) -> None:
    """`_grade_touched` over ids grouped by block (`by_block`), the blocks in parallel.

    Every re-examination of a citizen is in its block, in order, so the codes end as in
    the one pass; the pair counts' changes are summed per block, then in block order.
    """
    n_blk = starts.size - 1
    k = lows.size
    local = np.zeros((n_blk, k, k), dtype=np.int64)
    for b in prange(n_blk):
        for r in range(starts[b], starts[b + 1]):
            i = touched[r]
            g, t = _band(score[i], lows), _band(true_score[i], lows)
            og, ot = grade[i], true_grade[i]
            if g != og or t != ot:
                local[b, og, ot] -= 1
                local[b, g, t] += 1
                grade[i] = g
                true_grade[i] = t
    for b in range(n_blk):
        for g in range(k):
            for t in range(k):
                pairs[g, t] += local[b, g, t]
