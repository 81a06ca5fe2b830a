"""The graph container: friendships as CSR rows, households as cycles, groups as ids.

Every person here is synthetic. `Network` links the citizens of a synthetic population
so that consequences can spread: joint liability reaches the household
(`family_members`, `any_other_member`), friends' scores can enter one's own
(`neighbour_mean`), deterrence reaches kin and friends (`scale_circle`), and people may
drop friends with low grades and befriend people with high ones (`rewire`, implemented
in `avoidance`).

Memory layout (see docs/network.md):

* friendships: CSR rows ``indptr`` and ``indices`` with an overflow pool (see `rows`).
* households: ``household`` (int32 id per citizen), ``next_member`` (int32: the next
  member of the same household, a cycle) and ``role`` (uint8: HEAD, CHILD or OTHER).
* work and school groups: ``group`` (int32 id per citizen, -1 for none).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit, prange

from panopticon.core.jit import KERNEL, sized_kernel
from panopticon.stages.society import avoidance
from panopticon.stages.society import stats as graph_stats
from panopticon.stages.society.households import CHILD, HEAD
from panopticon.stages.society.params import Avoidance, NetworkParams
from panopticon.stages.society.rows import allocate_rows, bounds, row_degree

# ======================================================================================
# Kernels
# ======================================================================================


@sized_kernel(0)
def _degree(indptr: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Number of friends per citizen."""
    n = indptr.size - 1
    out = np.empty(n, dtype=np.int32)
    for i in prange(n):
        lo, hi = bounds(indptr, idx, i)
        out[i] = row_degree(idx, lo, hi)
    return out


@njit(cache=True, **KERNEL)
def _row_copy(indptr: np.ndarray, idx: np.ndarray, i: int) -> np.ndarray:
    """Copy of row i's friends."""
    lo, hi = bounds(indptr, idx, i)
    return idx[lo : lo + row_degree(idx, lo, hi)].copy()


@sized_kernel(0)
def _fill_edges(
    indptr: np.ndarray, idx: np.ndarray, offsets: np.ndarray, src: np.ndarray, dst: np.ndarray
) -> None:
    """Directed entries (i, j) of every row, row by row."""
    n = indptr.size - 1
    for i in prange(n):
        lo, hi = bounds(indptr, idx, i)
        o = offsets[i]
        for k in range(row_degree(idx, lo, hi)):
            src[o + k] = i
            dst[o + k] = idx[lo + k]


@sized_kernel(0)
def _neighbour_means_rows(
    out_a: np.ndarray,
    out_b: np.ndarray,
    indptr: np.ndarray,
    idx: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    lo: int,
    default: float,
) -> None:
    """Means of friends' a and b for citizens lo .. lo + out_a.size - 1; `default` alone.

    Every row's sums in row order, whichever rows are asked for (a shard's or everyone's).
    """
    for r in prange(out_a.size):
        start, end = bounds(indptr, idx, lo + r)
        ta = 0.0
        tb = 0.0
        d = 0
        for s in range(start, end):
            j = idx[s]
            if j < 0:
                break
            ta += a[j]
            tb += b[j]
            d += 1
        out_a[r] = ta / d if d > 0 else default
        out_b[r] = tb / d if d > 0 else default


@sized_kernel(0)
def _neighbour_mean(
    indptr: np.ndarray, idx: np.ndarray, values: np.ndarray, default: float
) -> np.ndarray:
    """Mean of friends' values per citizen; `default` for people without friends."""
    n = indptr.size - 1
    out = np.empty(n, dtype=np.float64)
    for i in prange(n):
        lo, hi = bounds(indptr, idx, i)
        total = 0.0
        d = 0
        for s in range(lo, hi):
            j = idx[s]
            if j < 0:
                break
            total += values[j]
            d += 1
        out[i] = total / d if d > 0 else default
    return out


@njit(cache=True, **KERNEL)
def _scale_circle(
    ids: np.ndarray,
    indptr: np.ndarray,
    idx: np.ndarray,
    nxt: np.ndarray,
    values: np.ndarray,
    factor: float,
    floor: float,
) -> None:
    """Scale the values of each id's other household members and friends (once per tie).

    values[k] = max(floor, values[k] * factor).
    """
    for r in range(ids.size):
        j = ids[r]
        k = nxt[j]
        while k != j:
            values[k] = max(floor, values[k] * factor)
            k = nxt[k]
        lo, hi = bounds(indptr, idx, j)
        for s in range(lo, lo + row_degree(idx, lo, hi)):
            f = idx[s]
            values[f] = max(floor, values[f] * factor)


@njit(cache=True, **KERNEL)
def _walk_households(
    ids: np.ndarray, nxt: np.ndarray, role: np.ndarray, want_from: int, want_to: int
) -> np.ndarray:
    """Members reached from `ids` around their household cycles.

    want_from < 0: every member. Otherwise only ids with role want_from start a walk and
    only members with role want_to are returned (children of heads, heads of children).
    """
    total = 0
    for q in range(ids.size):
        i = ids[q]
        if want_from >= 0 and role[i] != want_from:
            continue
        j = i
        while True:
            if want_from < 0 or role[j] == want_to:
                total += 1
            j = nxt[j]
            if j == i:
                break
    out = np.empty(total, dtype=np.int32)
    w = 0
    for q in range(ids.size):
        i = ids[q]
        if want_from >= 0 and role[i] != want_from:
            continue
        j = i
        while True:
            if want_from < 0 or role[j] == want_to:
                out[w] = j
                w += 1
            j = nxt[j]
            if j == i:
                break
    return out


@njit(cache=True, **KERNEL)
def _any_other(household: np.ndarray, mask: np.ndarray, n_households: int) -> np.ndarray:
    """Per citizen: whether another member of its household has `mask` True (two passes)."""
    per = np.zeros(n_households, dtype=np.int32)
    for i in range(household.size):
        if mask[i]:
            per[household[i]] += 1
    out = np.empty(household.size, dtype=np.bool_)
    for i in range(household.size):
        out[i] = per[household[i]] - mask[i] > 0
    return out


@sized_kernel(0)
def _copy_rows(
    indptr: np.ndarray, idx: np.ndarray, new_indptr: np.ndarray, new_idx: np.ndarray
) -> None:
    """Copy every row's live entries into a fresh layout (compaction)."""
    n = indptr.size - 1
    for i in prange(n):
        lo, hi = bounds(indptr, idx, i)
        d = row_degree(idx, lo, hi)
        o = new_indptr[i]
        for k in range(d):
            new_idx[o + k] = idx[lo + k]


# ======================================================================================
# The network
# ======================================================================================


@dataclass
class Network:
    """Households, work/school groups and friendships of a synthetic population.

    Arrays are public and columnar; `nbytes()` is their resident size. Row layout and the
    overflow pool are described in `rows` and docs/network.md.
    """

    size: int
    indptr: np.ndarray  # int32[size + 1]: base slots of each row
    indices: np.ndarray  # int32[slots + pool]: friend ids, EMPTY, or pool pointers
    pool_top: np.ndarray  # int64[1]: next free pool slot
    pool_start: int  # first pool slot (= indptr[-1])
    household: np.ndarray  # int32[size]: household id
    next_member: np.ndarray  # int32[size]: next member of the same household (a cycle)
    role: np.ndarray  # uint8[size]: HEAD, CHILD or OTHER
    group: np.ndarray  # int32[size]: work group / school class, -1 for none
    n_households: int
    n_groups: int
    slack: int = 1
    pool_per_citizen: float = 0.25
    stats: dict[str, int] = field(default_factory=dict)

    # ---------------------------------------------------------------- friendships
    def degree(self) -> np.ndarray:
        """Number of friends per citizen (int32)."""
        return _degree(self.indptr, self.indices)

    def n_edges(self) -> int:
        """Number of friendships (undirected ties)."""
        return int(self.degree().sum(dtype=np.int64)) // 2

    def edges(self, directed: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Ties as int32 arrays (src, dst): each once with src < dst, or both directions.

        For export and analysis (e.g. a Parquet edge list); the engine never needs it.
        """
        deg = self.degree()
        offsets = np.zeros(self.size + 1, dtype=np.int64)
        np.cumsum(deg, out=offsets[1:])
        src = np.empty(offsets[-1], dtype=np.int32)
        dst = np.empty(offsets[-1], dtype=np.int32)
        _fill_edges(self.indptr, self.indices, offsets, src, dst)
        if directed:
            return src, dst
        keep = src < dst
        return src[keep], dst[keep]

    def friends_of(self, i: int) -> np.ndarray:
        """Ids of citizen i's friends (a copy, int32)."""
        return _row_copy(self.indptr, self.indices, int(i))

    def neighbour_means(
        self, a: np.ndarray, b: np.ndarray, default: float = np.nan
    ) -> tuple[np.ndarray, np.ndarray]:
        """`neighbour_mean` of two value arrays in one pass over the friendships."""
        return self.neighbour_means_rows(a, b, 0, self.size, default)

    def neighbour_means_rows(
        self, a: np.ndarray, b: np.ndarray, lo: int, n: int, default: float = np.nan
    ) -> tuple[np.ndarray, np.ndarray]:
        """`neighbour_means(a, b, default)[lo : lo + n]`, computed for those rows only."""
        a, b = np.asarray(a), np.asarray(b)  # any numeric dtype; means are float64
        self.check_size(a, "a")
        self.check_size(b, "b")
        if not 0 <= lo <= lo + n <= a.size:
            raise ValueError(f"rows {lo}..{lo + n - 1} are not citizen ids of 0..{a.size - 1}")
        out_a, out_b = np.empty(n, np.float64), np.empty(n, np.float64)
        _neighbour_means_rows(out_a, out_b, self.indptr, self.indices, a, b, lo, float(default))
        return out_a, out_b

    def neighbour_mean(self, values: np.ndarray, default: float = np.nan) -> np.ndarray:
        """Mean of friends' `values` per citizen, `default` for people without friends.

        This is the relationships dimension: friends' scores entering one's own.
        """
        values = np.asarray(values, dtype=np.float64)
        self.check_size(values, "values")
        return _neighbour_mean(self.indptr, self.indices, values, float(default))

    # ---------------------------------------------------------------- households
    def household_of(self, i: int) -> np.ndarray:
        """Sorted ids of everyone in citizen i's household (i included)."""
        return self.family_members(np.array([i], dtype=np.int64))

    def family_members(self, ids: np.ndarray, include_self: bool = True) -> np.ndarray:
        """Sorted unique ids of every household member of the given citizens.

        This is the reach of joint liability. With include_self=False the given citizens
        themselves are left out.
        """
        ids = self._ids(ids)
        out = np.unique(_walk_households(ids, self.next_member, self.role, -1, -1))
        if not include_self:
            out = np.setdiff1d(out, ids, assume_unique=False)
        return out

    def any_other_member(self, mask: np.ndarray) -> np.ndarray:
        """Per citizen: whether any *other* member of their household has `mask` True.

        Joint liability for whole-population decisions (e.g. a child excluded from a
        school because a parent is listed), in one vectorised pass.
        """
        mask = np.asarray(mask, dtype=bool)
        self.check_size(mask, "mask")
        return _any_other(self.household, mask, self.n_households)

    def scale_circle(
        self, ids: np.ndarray, values: np.ndarray, factor: float, floor: float
    ) -> None:
        """Scale `values` of each id's other household members and friends by `factor`.

        Not below `floor`, once per tie: network deterrence, in one pass.
        """
        _scale_circle(
            self._ids(ids),
            self.indptr,
            self.indices,
            self.next_member,
            values,
            values.dtype.type(factor),
            values.dtype.type(floor),
        )

    def children_of(self, ids: np.ndarray) -> np.ndarray:
        """Sorted unique ids of the children (members < 18) of the given heads."""
        ids = self._ids(ids)
        return np.unique(_walk_households(ids, self.next_member, self.role, HEAD, CHILD))

    def parents_of(self, ids: np.ndarray) -> np.ndarray:
        """Sorted unique ids of the household heads of the given children."""
        ids = self._ids(ids)
        return np.unique(_walk_households(ids, self.next_member, self.role, CHILD, HEAD))

    def household_sizes(self) -> np.ndarray:
        """Members per household id."""
        return np.bincount(self.household, minlength=self.n_households)

    # ---------------------------------------------------------------- metrics
    def degree_by(self, codes: np.ndarray, n_codes: int) -> np.ndarray:
        """Mean degree per code (e.g. grade); NaN for a code nobody has."""
        codes = np.asarray(codes)
        self.check_size(codes, "codes")
        return graph_stats.mean_by_code(self.degree(), codes, n_codes)

    def isolated(self) -> int:
        """Number of citizens without any friend."""
        return int(np.count_nonzero(self.degree() == 0))

    def assortativity(self, values: np.ndarray) -> float:
        """Pearson correlation of `values` across the two ends of every friendship.

        Each tie counts in both directions, so both ends have the same distribution.
        NaN when there are no ties or the values do not vary across them. Sums are per
        fixed block, then added in block order: the result does not depend on threads.
        """
        values = np.asarray(values, dtype=np.float64)
        self.check_size(values, "values")
        return graph_stats.assortativity(self.indptr, self.indices, values)

    def nbytes(self) -> int:
        """Resident bytes of the graph arrays."""
        arrays = (
            self.indptr,
            self.indices,
            self.pool_top,
            self.household,
            self.next_member,
            self.role,
            self.group,
        )
        return int(sum(a.nbytes for a in arrays))

    def pool_free(self) -> int:
        """Overflow slots not yet used."""
        return int(self.indices.size - self.pool_top[0])

    # ---------------------------------------------------------------- rewiring
    def rewire(
        self,
        low: np.ndarray,
        attractiveness: np.ndarray | None,
        day: int,
        seed: int,
        params: Avoidance | NetworkParams,
        weights: np.ndarray | None = None,
    ) -> dict[str, int]:
        """One avoidance round, keyed by (seed, day): drops and new ties (`avoidance.rewire`).

        `weights` (optional) are the cumulative partner weights instead of
        `attractiveness`. Returns counts: decisions, dropped (ties), new, failed, moved
        (rows moved to the pool), compacted (1 if the pool was refilled first), pool_free.
        """
        return avoidance.rewire(self, low, attractiveness, day, seed, params, weights)

    def row_stats(
        self, values: np.ndarray, codes: np.ndarray, n_codes: int
    ) -> tuple[np.ndarray, dict[str, object]] | None:
        """Degrees, people and degree sums per code, isolated, assortativity in one pass.

        The same numbers as `degree`, `np.bincount` and `assortativity`; None where integer
        sums cannot be exact (`stats.row_stats`).
        """
        self.check_size(values, "values")
        self.check_size(codes, "codes")
        return graph_stats.row_stats(self.indptr, self.indices, values, codes, n_codes)

    def compact(self) -> None:
        """Repack rows to degree + slack slots and refill the overflow pool (reallocates)."""
        deg = self.degree()
        indptr, idx, base = allocate_rows(deg, self.slack, self.pool_per_citizen)
        del deg
        _copy_rows(self.indptr, self.indices, indptr, idx)
        self.indptr, self.indices, self.pool_start = indptr, idx, base
        self.pool_top = np.array([base], dtype=np.int64)

    # ---------------------------------------------------------------- checks
    def check_size(self, arr: np.ndarray, name: str) -> None:
        """Raise ValueError naming `name` unless `arr` holds one value per citizen."""
        if arr.shape != (self.size,):
            raise ValueError(
                f"{name}: shape {arr.shape} is not allowed; need one value per citizen "
                f"({self.size},)"
            )

    def _ids(self, ids: np.ndarray) -> np.ndarray:
        ids = np.atleast_1d(np.asarray(ids)).astype(np.int64, copy=False)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(f"ids: values must be citizen ids in 0..{self.size - 1}")
        return ids
