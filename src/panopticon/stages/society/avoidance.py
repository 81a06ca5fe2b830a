"""Avoidance: on a schedule people drop low-grade friends and befriend better-scored people.

One round, keyed by (seed, day), removes every tie either end decides to drop, then
forms the wanted new ties in id order with partners drawn by attractiveness. Rows that
outgrow their slots move to the overflow pool (see `rows`); when the pool runs low the
graph is compacted first. The round is the same on any thread count (docs/network.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit, prange

from panopticon.core import streams
from panopticon.core.jit import HELPER, KERNEL, sized_kernel
from panopticon.stages.society.draws import P_DROP, P_NEW, P_PICK, U16, U32, network_key
from panopticon.stages.society.params import Avoidance, NetworkParams
from panopticon.stages.society.rows import BLOCK, EMPTY, bounds, row_degree

# Rounds visit only low people's rows while they are at most 1 in LOW_VISIT citizens (the
# full pass reads every row once, the visit each low row twice and each dropped tie's rows).
LOW_VISIT = 5

if TYPE_CHECKING:
    from panopticon.stages.society.graph import Network


# People wanting new ties from which their first proposals are drawn ahead, in one pass
# (`_first_partners`: the weighted searches' cache misses overlap); below it `_new_ties`
# draws each as it goes, the same proposal, and a first run compiles one kernel less.
PREDRAW_FROM = 1 << 18


@sized_kernel(0)
def _low_tie_share(indptr: np.ndarray, idx: np.ndarray, low: np.ndarray) -> tuple[int, int]:
    """(ties pointing to a low person, all ties), counted over directed entries."""
    n = indptr.size - 1
    n_blk = (n + BLOCK - 1) // BLOCK
    acc = np.zeros((n_blk, 2), dtype=np.int64)
    for b in prange(n_blk):
        for i in range(b * BLOCK, min((b + 1) * BLOCK, n)):
            lo, hi = bounds(indptr, idx, i)
            for s in range(lo, hi):
                j = idx[s]
                if j < 0:
                    break
                acc[b, 1] += 1
                if low[j]:
                    acc[b, 0] += 1
    return acc[:, 0].sum(), acc[:, 1].sum()


@njit(cache=True, **HELPER)
def _decides(key: np.uint64, i: int, j: int, low_j: bool, blind: bool, p: float) -> bool:
    """Whether i decides to drop j this round: a pure function of (round, i, j)."""
    if not (blind or low_j):
        return False
    return streams.uniform(key, (np.uint64(i) << U32) | np.uint64(j)) < p


@sized_kernel(0)
def _drop_pass(
    indptr: np.ndarray,
    idx: np.ndarray,
    low: np.ndarray,
    blind: bool,
    p: float,
    p_new: float,
    key_drop: np.uint64,
    key_new: np.uint64,
    want: np.ndarray,
) -> tuple[int, int]:
    """Remove every tie either end decides to drop (both rows agree without talking).

    want[i] = number of i's own drop decisions that will be replaced by a new tie.
    Returns (drop decisions, directed entries removed).
    """
    n = indptr.size - 1
    n_blk = (n + BLOCK - 1) // BLOCK
    acc = np.zeros((n_blk, 2), dtype=np.int64)
    for b in prange(n_blk):
        for i in range(b * BLOCK, min((b + 1) * BLOCK, n)):
            lo, hi = bounds(indptr, idx, i)
            w = lo
            k = 0
            low_i = low[i]
            for s in range(lo, hi):
                j = idx[s]
                if j < 0:
                    break
                mine = _decides(key_drop, i, j, low[j], blind, p)
                theirs = _decides(key_drop, j, i, low_i, blind, p)
                if mine:
                    acc[b, 0] += 1
                    if streams.uniform(key_new, (np.uint64(i) << U32) | np.uint64(j)) < p_new:
                        k += 1
                if mine or theirs:
                    acc[b, 1] += 1
                    continue
                idx[w] = j
                w += 1
            for s in range(w, hi):
                if idx[s] < 0:
                    break
                idx[s] = EMPTY
            want[i] = k
    return acc[:, 0].sum(), acc[:, 1].sum()


@njit(cache=True, **KERNEL)
def _low_decisions(
    indptr: np.ndarray,
    idx: np.ndarray,
    lows: np.ndarray,
    p: float,
    p_new: float,
    key_drop: np.uint64,
    key_new: np.uint64,
    want: np.ndarray,
) -> np.ndarray:
    """Every drop decision of a score-aware round, found from the low people's rows.

    Without score_blind i drops j only if j is low, so each decision (i about low j) is
    found once, in row j (rows are symmetric), with `_drop_pass`'s counters; `want`
    counts the decisions to be replaced. Returns both directions of each decided tie as
    int64 keys ``row << 32 | entry`` (a tie both ends decided appears twice).
    """
    n_cand = 0
    for r in range(lows.size):
        lo, hi = bounds(indptr, idx, np.int64(lows[r]))  # int64 rows: one `bounds`
        n_cand += row_degree(idx, lo, hi)
    keys = np.empty(2 * n_cand, dtype=np.int64)
    m = 0
    for r in range(lows.size):
        j = np.int64(lows[r])
        lo, hi = bounds(indptr, idx, j)
        for s in range(lo, hi):
            i = idx[s]
            if i < 0:
                break
            c = (np.uint64(i) << U32) | np.uint64(j)
            if streams.uniform(key_drop, c) < p:
                if streams.uniform(key_new, c) < p_new:
                    want[i] += 1
                keys[m] = (np.int64(i) << 32) | np.int64(j)
                keys[m + 1] = (np.int64(j) << 32) | np.int64(i)
                m += 2
    return keys[:m]


@njit(cache=True, **KERNEL)
def _remove_sorted(indptr: np.ndarray, idx: np.ndarray, keys: np.ndarray) -> int:
    """Remove the entries named by sorted keys ``row << 32 | entry``, row by row in order.

    The remaining entries keep their order (as in `_drop_pass`); returns entries removed.
    Rows are visited in increasing order, so memory is read nearly sequentially.
    """
    removed = 0
    q = 0
    while q < keys.size:
        i = keys[q] >> 32
        e = q
        while e < keys.size and (keys[e] >> 32) == i:
            e += 1
        lo, hi = bounds(indptr, idx, i)
        w = lo
        for s in range(lo, hi):
            v = idx[s]
            if v < 0:
                break
            gone = False
            for t in range(q, e):
                if (keys[t] & 0xFFFFFFFF) == v:
                    gone = True
                    break
            if gone:
                removed += 1
                continue
            idx[w] = v
            w += 1
        for s in range(w, hi):
            if idx[s] < 0:
                break
            idx[s] = EMPTY
        q = e
    return removed


def _drop_low(
    indptr: np.ndarray,
    idx: np.ndarray,
    lows: np.ndarray,
    p: float,
    p_new: float,
    key_drop: np.uint64,
    key_new: np.uint64,
    want: np.ndarray,
) -> tuple[int, int]:
    """`_drop_pass` for a score-aware round, visiting only the rows of low people.

    The decisions come from the low rows (`_low_decisions`); the decided ties are
    removed from both rows in row order (`_remove_sorted`). The graph, `want` and the
    counts are those of `_drop_pass`, at a cost that grows with the ties of low people.
    Returns (drop decisions, directed entries removed).
    """
    keys = _low_decisions(indptr, idx, lows, p, p_new, key_drop, key_new, want)
    decisions = keys.size // 2
    keys.sort()
    return decisions, int(_remove_sorted(indptr, idx, keys))


@njit(cache=True, **HELPER)
def _room(indptr: np.ndarray, idx: np.ndarray, top: np.ndarray, i: int) -> tuple[int, bool]:
    """A free slot of row i (moving the row to the pool if full): (slot, moved) or (-1, _)."""
    lo, hi = bounds(indptr, idx, i)
    d = row_degree(idx, lo, hi)
    if lo + d < hi:
        return lo + d, False
    cap = hi - lo
    new_cap = cap + max(4, cap // 2)
    p = top[0]
    if p + 1 + new_cap > idx.size:
        return -1, False
    idx[p] = new_cap
    for k in range(cap):
        idx[p + 1 + k] = idx[lo + k]
    for k in range(cap, new_cap):
        idx[p + 1 + k] = EMPTY
    top[0] = p + 1 + new_cap
    idx[indptr[i]] = -2 - p
    return p + 1 + cap, True


@njit(cache=True, **HELPER)
def _is_friend(indptr: np.ndarray, idx: np.ndarray, i: int, j: int) -> bool:
    """Whether j is in row i."""
    lo, hi = bounds(indptr, idx, i)
    for s in range(lo, hi):
        v = idx[s]
        if v < 0:
            return False
        if v == j:
            return True
    return False


@njit(cache=True, **HELPER)
def _partner(key: np.uint64, i: int, t: int, attempt: int, cum: np.ndarray, n: int) -> int:
    """Proposal `attempt` for i's new tie t: a pure function of (round, i, t, attempt)."""
    c = (np.uint64(i) << U32) | (np.uint64(t) << U16) | np.uint64(attempt)
    u = streams.uniform(key, c)
    if cum.size == n:
        # np.searchsorted(cum, x, side="right") by hand: the first k with cum[k] > x (the
        # library's version costs about 0.6 s to compile, for its NaN and complex cases)
        x = u * cum[n - 1]
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi) >> 1
            if cum[mid] <= x:
                lo = mid + 1
            else:
                hi = mid
        return min(lo, n - 1)
    return np.int64(u * n)


@sized_kernel(0)
def _first_partners(
    wanting: np.ndarray, starts: np.ndarray, want: np.ndarray, cum: np.ndarray, key: np.uint64
) -> np.ndarray:
    """Every wanted tie's first proposal, drawn ahead of the serial pass.

    The draws do not depend on the graph, so they are independent: the weighted search
    through `cum` (cache misses) overlaps across ties and threads instead of waiting in
    the serial pass.
    """
    n = want.size
    out = np.empty(starts[-1], dtype=np.int64)
    for q in prange(wanting.size):
        i = wanting[q]
        for t in range(want[i]):
            # int64 arguments, as `_new_ties` passes: one compiled version of `_partner`
            out[starts[q] + t] = _partner(key, np.int64(i), np.int64(t), np.int64(0), cum, n)
    return out


@njit(cache=True, **KERNEL)
def _new_ties(
    indptr: np.ndarray,
    idx: np.ndarray,
    top: np.ndarray,
    want: np.ndarray,
    cum: np.ndarray,
    tries: int,
    key: np.uint64,
    first: np.ndarray,
) -> tuple[int, int, int]:
    """Form the wanted new ties in id order; returns (formed, failed, rows moved).

    `first` holds each wanted tie's first proposal in this order (`_first_partners`), or
    is empty (then it is drawn here).
    """
    n = want.size
    formed = 0
    failed = 0
    moved = 0
    r = 0
    for i in range(n):
        for t in range(want[i]):
            done = False
            for attempt in range(tries):
                if attempt == 0 and first.size > 0:
                    k = first[r]
                else:
                    k = _partner(key, i, t, attempt, cum, n)
                if k == i or _is_friend(indptr, idx, i, k):
                    continue
                si, mi = _room(indptr, idx, top, i)
                moved += mi
                if si < 0:
                    break
                sk, mk = _room(indptr, idx, top, k)
                moved += mk
                if sk < 0:
                    continue
                idx[si] = k
                idx[sk] = i
                formed += 1
                done = True
                break
            if not done:
                failed += 1
            r += 1
    return formed, failed, moved


def partner_weights(attractiveness: np.ndarray, preference: float) -> np.ndarray:
    """Cumulative partner weights exp(preference x attractiveness), scaled by the maximum."""
    att = np.asarray(attractiveness, dtype=np.float64)
    if not np.all(np.isfinite(att)):
        raise ValueError("rewire: attractiveness must be finite for every citizen")
    return np.cumsum(np.exp(preference * (att - att.max())))


def score_weights(score: np.ndarray, preference: float) -> np.ndarray:
    """`partner_weights` of the scores' attractiveness (`module.attractiveness`), faster.

    Integer scores take few values: the weight of each value in the range in use is
    computed once, by the same NumPy operations on the same float64 inputs, and the
    running sum adds them in id order, as `np.cumsum` does; the bytes are the same.
    """
    if score.dtype.kind not in "iu" or score.size == 0:
        s = score.astype(np.float64)
        lo, hi = float(s.min()), float(s.max())
        att = (s - lo) / (hi - lo) if hi > lo else np.zeros_like(s)
        return partner_weights(att, preference)
    lo, hi = int(score.min()), int(score.max())
    if hi - lo > 1 << 16:
        s = score.astype(np.float64)
        return partner_weights((s - float(lo)) / float(hi - lo), preference)
    values = np.arange(lo, hi + 1, dtype=np.float64)
    flo, fhi = float(lo), float(hi)
    att = (values - flo) / (fhi - flo) if fhi > flo else np.zeros_like(values)
    table = np.exp(preference * (att - att.max()))
    return _cumulative_table(score, lo, table)  # the range is under 2^16


@njit(cache=True, **KERNEL)
def _cumulative_table(score: np.ndarray, lo: int, table: np.ndarray) -> np.ndarray:
    """Running sum of table[score[i] - lo] in id order, in one pass.

    The additions of `np.cumsum(table[score - lo])` (a sequential float64 running sum),
    in the same order, without the index and weight temporaries.
    """
    out = np.empty(score.size, dtype=np.float64)
    total = 0.0
    for i in range(score.size):
        total += table[np.int64(score[i]) - lo]
        out[i] = total
    return out


def rewire(
    net: Network,
    low: np.ndarray,
    attractiveness: np.ndarray | None,
    day: int,
    seed: int,
    params: Avoidance | NetworkParams,
    weights: np.ndarray | None = None,
) -> dict[str, int]:
    """One avoidance round on `net`, keyed by (seed, day): drops and new ties.

    Each tie i-j with `low[j]` is dropped by i with probability p_drop (both directions
    go). Each of i's drops is replaced, with probability p_new, by a tie to a partner
    drawn with weight exp(preference * attractiveness), up to `tries` proposals (self,
    existing friends and full rows when the pool is spent are rejected). With
    score_blind, every tie is dropped with probability p_drop times the share of
    ties pointing to low people (the same expected churn) and partners are uniform.
    `weights`, when given, are the cumulative partner weights (`partner_weights`,
    `score_weights`) and `attractiveness` is not read.
    Returns counts: decisions, dropped (ties), new, failed, moved (rows moved to the
    pool), compacted (1 if the pool was refilled first), pool_free.
    """
    a = params.avoidance if isinstance(params, NetworkParams) else params
    low = np.asarray(low, dtype=np.bool_)
    net.check_size(low, "low")
    compacted = 0
    pool_size = net.indices.size - net.pool_start
    if pool_size > 0 and net.pool_free() < pool_size // 4:
        net.compact()
        compacted = 1
    if a.score_blind:
        n_low, n_all = _low_tie_share(net.indptr, net.indices, low)
        p = a.p_drop * (n_low / n_all) if n_all else 0.0
    else:
        p = a.p_drop
    key_drop = network_key(seed, day, P_DROP)
    key_new = network_key(seed, day, P_NEW)
    key_pick = network_key(seed, day, P_PICK)
    want = np.zeros(net.size, dtype=np.int32)
    if a.score_blind:
        decisions, removed = _drop_pass(
            net.indptr, net.indices, low, True, p, a.p_new, key_drop, key_new, want
        )
    elif np.count_nonzero(low) > low.size // LOW_VISIT:
        decisions, removed = _drop_pass(
            net.indptr, net.indices, low, False, p, a.p_new, key_drop, key_new, want
        )
    else:
        lows = np.flatnonzero(low).astype(np.int32)
        decisions, removed = _drop_low(
            net.indptr, net.indices, lows, p, a.p_new, key_drop, key_new, want
        )
    if a.score_blind or a.preference == 0:
        cum = np.zeros(0, dtype=np.float64)
    elif weights is not None:
        net.check_size(weights, "weights")
        cum = weights
    else:
        att = np.asarray(attractiveness, dtype=np.float64)
        net.check_size(att, "attractiveness")
        cum = partner_weights(att, a.preference)
    first = np.zeros(0, dtype=np.int64)
    if a.tries > 0:
        wanting = np.flatnonzero(want).astype(np.int32)
        starts = np.zeros(wanting.size + 1, dtype=np.int64)
        np.cumsum(want[wanting], out=starts[1:])
        if wanting.size >= PREDRAW_FROM:  # else `_new_ties` draws them (the same ties)
            first = _first_partners(wanting, starts, want, cum, key_pick)
        del wanting, starts
    formed, failed, moved = _new_ties(
        net.indptr, net.indices, net.pool_top, want, cum, a.tries, key_pick, first
    )
    return {
        "decisions": int(decisions),
        "dropped": int(removed) // 2,
        "new": int(formed),
        "failed": int(failed),
        "moved": int(moved),
        "compacted": compacted,
        "pool_free": net.pool_free(),
    }
