"""Friendship rows: the CSR slot layout with its overflow pool, shared by every kernel.

Row i owns slots ``indptr[i] .. indptr[i + 1]`` of ``indices`` (both int32; a graph holds
fewer than 2^31 slots): ``degree_at_build + slack`` slots, live friends first, free slots
``EMPTY`` (-1). A shared overflow *pool* at the end of ``indices`` takes rows that outgrow
their slots: the row moves there and its first base slot holds ``-2 - offset`` pointing
at the pool chunk ``[capacity, friends...]``. Every kernel reads a row through `bounds`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from panopticon.core.jit import KERNEL

EMPTY = -1
BLOCK = 4096  # rows per parallel work item: a constant, never the thread count
MAX_SLOTS = 2**31 - 2  # int32 indices and pool pointers


@njit(cache=True, **KERNEL)
def bounds(indptr: np.ndarray, idx: np.ndarray, i: int) -> tuple[int, int]:
    """Slot range [lo, hi) of row i, following a pool pointer if the row has moved."""
    lo = np.int64(indptr[i])
    hi = np.int64(indptr[i + 1])
    if hi > lo:
        v = idx[lo]
        if v <= -2:
            p = np.int64(-2) - np.int64(v)
            return p + 1, p + 1 + np.int64(idx[p])
    return lo, hi


@njit(cache=True, **KERNEL)
def row_degree(idx: np.ndarray, lo: int, hi: int) -> int:
    """Live entries at the front of a row's slots."""
    d = 0
    for s in range(lo, hi):
        if idx[s] < 0:
            break
        d += 1
    return d


@njit(cache=True, **KERNEL)
def _row_starts(degree: np.ndarray, slack: int, out: np.ndarray) -> int:
    """out[i + 1] = out[i] + max(degree[i] + slack, 1) while it fits int32; the total.

    The running sum is int64; the int32 starts stop being written past `MAX_SLOTS` (the
    caller then refuses the graph), so no int64 array of starts is ever held.
    """
    total = np.int64(0)
    out[0] = 0
    for i in range(degree.size):
        total += max(np.int64(degree[i]) + slack, 1)
        if total <= MAX_SLOTS:
            out[i + 1] = total
    return total


def allocate_rows(
    degree: np.ndarray, slack: int, pool: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """`allocate` for capacities max(degree + slack, 1), without int64 temporaries."""
    n = degree.size
    indptr = np.empty(n + 1, dtype=np.int32)
    base = int(_row_starts(degree, slack, indptr))
    return _finish(indptr, base, n, pool)


def allocate(capacity: np.ndarray, pool: float) -> tuple[np.ndarray, np.ndarray, int]:
    """CSR indptr for the given row capacities and an EMPTY indices array with a pool.

    Returns (indptr, indices, first pool slot).
    """
    n = capacity.size
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(capacity, out=indptr[1:])
    base = int(indptr[-1])
    if base <= MAX_SLOTS:
        indptr = indptr.astype(np.int32)
    return _finish(indptr, base, n, pool)


def _finish(
    indptr: np.ndarray, base: int, n: int, pool: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Check the slot count, then the EMPTY indices array with its pool."""
    total = base + math.ceil(pool * n)
    if total > MAX_SLOTS:
        raise ValueError(
            f"network: {total} friend slots are not allowed in one graph; at most {MAX_SLOTS} "
            "(lower friends.mean, avoidance.slack or avoidance.pool, or shard by region)"
        )
    idx = np.full(total, EMPTY, dtype=np.int32)
    return indptr, idx, base
