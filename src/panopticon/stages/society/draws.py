"""Random draws and bucket sorts shared by the graph builders and the rewiring rounds.

Every random number is a pure function of (seed, stage NETWORK, day or -1 for the build,
purpose, counter), so a graph and every rewiring round are identical on any thread count.
The purposes are listed here, in one place, so that no two uses share a stream.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from panopticon.core import streams
from panopticon.core.jit import HELPER, KERNEL, sized_kernel, uniform

# purposes: the `block` part of a stream key, so each use has its own stream
P_AGE_SHUFFLE = 1
P_MINOR_KEY = 2
P_MINOR_SHUFFLE = 3
P_GROUP_KEY = 4
P_GROUP_SHUFFLE = 5
P_GROUP_SIZE = 6
P_STUB = 7
P_STUB_SHUFFLE = 8
P_HOUSE = 1000  # + region
# purposes of a rewiring round (day >= 0, so they never meet the build's keys)
P_DROP = 1
P_NEW = 2
P_PICK = 3

# bit shifts that pack (id, index, attempt) into a stream counter
U1 = np.uint64(1)
U16 = np.uint64(16)
U17 = np.uint64(17)
U32 = np.uint64(32)
U40 = np.uint64(40)
NO_COMPANION = np.empty(0, dtype=np.uint16)  # `shuffle_segments` with nothing swapped alongside


def network_key(seed: int, day: int, purpose: int) -> np.uint64:
    """Stream key for (seed, NETWORK, day, purpose) as uint64 (day -1: the build)."""
    return np.uint64(streams.stream_key(seed, streams.NETWORK, day, purpose))


@njit(cache=True, **HELPER)
def normal(key: np.uint64, counter: np.uint64) -> float:
    """Standard normal by Box-Muller from draws `counter` and `counter + 1`.

    Not inlined by Numba, like `jit.uniform` (LLVM inlines it): compiled once and linked
    into each caller instead of typed again at every call site.
    """
    u1 = 1.0 - uniform(key, counter)
    u2 = uniform(key, counter + U1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True, **KERNEL)
def counting_order(keys: np.ndarray, n_buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids grouped by key (stable); keys < 0 are left out. Returns (order, bucket starts)."""
    counts = np.zeros(n_buckets + 1, dtype=np.int64)
    for i in range(keys.size):
        k = keys[i]
        if k >= 0:
            counts[k + 1] += 1
    for b in range(n_buckets):
        counts[b + 1] += counts[b]
    order = np.empty(counts[n_buckets], dtype=np.int32)
    cursor = counts[:-1].copy()
    for i in range(keys.size):
        k = keys[i]
        if k >= 0:
            order[cursor[k]] = i
            cursor[k] += 1
    return order, counts


@sized_kernel(0, scale=10)
def shuffle_segments(
    order: np.ndarray, starts: np.ndarray, key: np.uint64, companion: np.ndarray
) -> None:
    """Fisher-Yates shuffle of each bucket's segment, keyed by (key, bucket, position).

    A non-empty `companion` array gets the same swaps (stub ranks follow their owners);
    it is a uint16 array always, empty when there is none, so the kernel compiles once.
    """
    for b in prange(starts.size - 1):
        lo, hi = starts[b], starts[b + 1]
        base = np.uint64(b) << U40
        for j in range(hi - 1, lo, -1):
            u = uniform(key, base | np.uint64(j - lo))
            r = lo + np.int64(u * (j - lo + 1))
            t = order[j]
            order[j] = order[r]
            order[r] = t
            if companion.size > 0:
                t2 = companion[j]
                companion[j] = companion[r]
                companion[r] = t2


def bucket_order(keys: np.ndarray, n_buckets: int, key: np.uint64) -> tuple[np.ndarray, np.ndarray]:
    """Ids grouped by key and in random order within each key (counting sort + shuffle)."""
    order, starts = counting_order(keys, n_buckets)
    shuffle_segments(order, starts, key, NO_COMPANION)
    return order, starts
