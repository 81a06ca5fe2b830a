"""Statistics of the friendship graph that a run reports: degree by group, assortativity.

These measure what avoidance does (docs/network.md, "Metrics for the run"). Sums over
ties are taken per fixed block of rows and then added in block order, so a statistic
does not depend on the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from panopticon.core.jit import sized_kernel
from panopticon.stages.society.rows import BLOCK, bounds


@sized_kernel(0)
def _edge_moments(indptr: np.ndarray, idx: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-block sums over directed ties (i, j): count, x_i, x_i^2, x_i x_j."""
    n = indptr.size - 1
    n_blk = (n + BLOCK - 1) // BLOCK
    acc = np.zeros((n_blk, 4), dtype=np.float64)
    for b in prange(n_blk):
        for i in range(b * BLOCK, min((b + 1) * BLOCK, n)):
            lo, hi = bounds(indptr, idx, i)
            x = values[i]
            for s in range(lo, hi):
                j = idx[s]
                if j < 0:
                    break
                acc[b, 0] += 1.0
                acc[b, 1] += x
                acc[b, 2] += x * x
                acc[b, 3] += x * values[j]
    return acc


def assortativity(indptr: np.ndarray, idx: np.ndarray, values: np.ndarray) -> float:
    """Pearson correlation of float64 `values` across the two ends of every friendship.

    Each tie counts in both directions, so both ends have the same distribution. NaN
    when there are no ties or the values do not vary across them.
    """
    m, sx, sxx, sxy = _edge_moments(indptr, idx, values).sum(axis=0)
    if m == 0:
        return float("nan")
    mean = sx / m
    var = sxx / m - mean * mean
    if var <= 1e-15 * max(1.0, abs(sxx / m)):
        return float("nan")
    return float((sxy / m - mean * mean) / var)


def mean_by_code(deg: np.ndarray, codes: np.ndarray, n_codes: int) -> np.ndarray:
    """Mean of `deg` per code 0..n_codes-1 (e.g. degree per grade); NaN for an unused code."""
    total = np.bincount(codes, weights=deg, minlength=n_codes)[:n_codes]
    count = np.bincount(codes, minlength=n_codes)[:n_codes]
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count
