"""Network deterrence in a shard: a record's circle scaled where it reaches the shard.

`Network.scale_circle` scales the multipliers of every target's other household members
and friends over the whole population. A shard holds the whole graph but only its own
citizens' multipliers (ids lo..lo+n-1): `scale_circle_range` walks every target's circle
(the whole day's targets, from every shard) and scales the members that live here. Each
member's value goes through the same operation max(floor, v x factor) once per record
and tie, as in one process; the operation is the same for every record, so the order of
the targets does not change the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from panopticon.core.jit import KERNEL
from panopticon.stages.society.rows import bounds, row_degree

if TYPE_CHECKING:
    from panopticon.stages.society.graph import Network


@njit(cache=True, **KERNEL)
def _scale_circle_range(
    ids: np.ndarray,
    indptr: np.ndarray,
    idx: np.ndarray,
    nxt: np.ndarray,
    values: np.ndarray,
    lo: int,
    factor: float,
    floor: float,
) -> None:
    """values[k - lo] = max(floor, values[k - lo] x factor) for each circle member k here."""
    hi = lo + values.size
    for r in range(ids.size):
        j = ids[r]
        k = nxt[j]
        while k != j:
            if lo <= k < hi:
                values[k - lo] = max(floor, values[k - lo] * factor)
            k = nxt[k]
        a, b = bounds(indptr, idx, j)
        for s in range(a, a + row_degree(idx, a, b)):
            f = idx[s]
            if lo <= f < hi:
                values[f - lo] = max(floor, values[f - lo] * factor)


def scale_circle_range(
    net: Network, ids: np.ndarray, values: np.ndarray, lo: int, factor: float, floor: float
) -> None:
    """`Network.scale_circle` for the citizens lo..lo+values.size-1 (`values` is theirs).

    `ids` are global ids (any citizen of the graph, whoever owns them).
    """
    ids = np.atleast_1d(np.asarray(ids)).astype(np.int64, copy=False)
    if ids.size and (ids.min() < 0 or ids.max() >= net.size):
        raise ValueError(f"ids: values must be citizen ids in 0..{net.size - 1}")
    if lo < 0 or lo + values.size > net.size:
        raise ValueError(f"values: {values.size} citizens from {lo} exceed the graph")
    _scale_circle_range(
        ids,
        net.indptr,
        net.indices,
        net.next_member,
        values,
        lo,
        values.dtype.type(factor),
        values.dtype.type(floor),
    )
