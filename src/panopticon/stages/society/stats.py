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


@sized_kernel(0)
def _row_stats(
    indptr: np.ndarray,
    idx: np.ndarray,
    values: np.ndarray,
    codes: np.ndarray,
    n_codes: int,
    degree: np.ndarray,
) -> np.ndarray:
    """One pass over the rows: degrees, degree sums and people per code, edge moments.

    `values` are integers (scores), so every sum is an exact int64: the same numbers as
    `_edge_moments` and `np.bincount` in floating point as long as those stay below 2^53
    (`row_stats` checks). Returns the per-block sums: count, x_i, x_i^2, x_i x_j,
    isolated, then per code its people and its degree sum.
    """
    n = indptr.size - 1
    n_blk = (n + BLOCK - 1) // BLOCK
    acc = np.zeros((n_blk, 5 + 2 * n_codes), dtype=np.int64)
    for b in prange(n_blk):
        for i in range(b * BLOCK, min((b + 1) * BLOCK, n)):
            lo, hi = bounds(indptr, idx, i)
            x = np.int64(values[i])
            d = 0
            t = np.int64(0)
            for s in range(lo, hi):
                j = idx[s]
                if j < 0:
                    break
                t += np.int64(values[j])
                d += 1
            degree[i] = d
            acc[b, 0] += d
            acc[b, 1] += d * x
            acc[b, 2] += d * x * x
            acc[b, 3] += x * t
            if d == 0:
                acc[b, 4] += 1
            c = np.int64(codes[i])
            acc[b, 5 + 2 * c] += 1
            acc[b, 6 + 2 * c] += d
    return acc


def row_stats(
    indptr: np.ndarray, idx: np.ndarray, values: np.ndarray, codes: np.ndarray, n_codes: int
) -> tuple[np.ndarray, dict[str, object]] | None:
    """Degrees and the snapshot statistics in one pass, or None where it cannot be exact.

    Returns (degree int32, {"people": int64 per code, "degree_sum": float64 per code,
    "isolated": int, "assortativity": float}), the same numbers as `degree`,
    `np.bincount` and `assortativity` over float64 values. None when `values` are not
    integers or their sums could exceed 2^53 (then floating point rounds).
    """
    n = indptr.size - 1
    if values.dtype.kind not in "iu" or codes.dtype.kind not in "iu" or n == 0:
        return None
    top = max(abs(int(values.min())), abs(int(values.max())))
    if float(idx.size) * top * top >= 2.0**52:
        return None
    degree = np.empty(n, dtype=np.int32)
    acc = _row_stats(indptr, idx, values, codes, n_codes, degree).sum(axis=0)
    per = acc[5:].reshape(n_codes, 2)
    m, sx, sxx, sxy = (float(v) for v in acc[:4])
    return degree, {
        "people": per[:, 0].copy(),
        "degree_sum": per[:, 1].astype(np.float64),
        "isolated": int(acc[4]),
        "assortativity": correlation(m, sx, sxx, sxy),
    }


def assortativity(indptr: np.ndarray, idx: np.ndarray, values: np.ndarray) -> float:
    """Pearson correlation of float64 `values` across the two ends of every friendship.

    Each tie counts in both directions, so both ends have the same distribution. NaN
    when there are no ties or the values do not vary across them.
    """
    m, sx, sxx, sxy = _edge_moments(indptr, idx, values).sum(axis=0)
    return correlation(float(m), float(sx), float(sxx), float(sxy))


def correlation(m: float, sx: float, sxx: float, sxy: float) -> float:
    """Pearson correlation across tie ends from the sums over m directed ties."""
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
