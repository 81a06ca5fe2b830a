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
from panopticon.core.jit import sized_kernel
from panopticon.stages.society.draws import P_DROP, P_NEW, P_PICK, U16, U32, network_key
from panopticon.stages.society.params import Avoidance, NetworkParams
from panopticon.stages.society.rows import BLOCK, EMPTY, bounds, row_degree

if TYPE_CHECKING:
    from panopticon.stages.society.graph import Network


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


@njit(cache=True, inline="always")
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


@njit(cache=True)
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


@njit(cache=True)
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


@njit(cache=True)
def _new_ties(
    indptr: np.ndarray,
    idx: np.ndarray,
    top: np.ndarray,
    want: np.ndarray,
    cum: np.ndarray,
    tries: int,
    key: np.uint64,
) -> tuple[int, int, int]:
    """Form the wanted new ties in id order; returns (formed, failed, rows moved)."""
    n = want.size
    formed = 0
    failed = 0
    moved = 0
    weighted = cum.size == n
    total = cum[n - 1] if weighted else 0.0
    for i in range(n):
        for t in range(want[i]):
            done = False
            for attempt in range(tries):
                c = (np.uint64(i) << U32) | (np.uint64(t) << U16) | np.uint64(attempt)
                u = streams.uniform(key, c)
                if weighted:
                    k = min(np.int64(np.searchsorted(cum, u * total, side="right")), n - 1)
                else:
                    k = np.int64(u * n)
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
    return formed, failed, moved


def rewire(
    net: Network,
    low: np.ndarray,
    attractiveness: np.ndarray,
    day: int,
    seed: int,
    params: Avoidance | NetworkParams,
) -> dict[str, int]:
    """One avoidance round on `net`, keyed by (seed, day): drops and new ties.

    Each tie i-j with `low[j]` is dropped by i with probability p_drop (both directions
    go). Each of i's drops is replaced, with probability p_new, by a tie to a partner
    drawn with weight exp(preference * attractiveness), up to `tries` proposals (self,
    existing friends and full rows when the pool is spent are rejected). With
    score_blind, every tie is dropped with probability p_drop times the share of
    ties pointing to low people (the same expected churn) and partners are uniform.
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
    decisions, removed = _drop_pass(
        net.indptr, net.indices, low, a.score_blind, p, a.p_new, key_drop, key_new, want
    )
    if a.score_blind or a.preference == 0:
        cum = np.zeros(0, dtype=np.float64)
    else:
        att = np.asarray(attractiveness, dtype=np.float64)
        net.check_size(att, "attractiveness")
        if not np.all(np.isfinite(att)):
            raise ValueError("rewire: attractiveness must be finite for every citizen")
        cum = np.cumsum(np.exp(a.preference * (att - att.max())))
    formed, failed, moved = _new_ties(
        net.indptr, net.indices, net.pool_top, want, cum, a.tries, key_pick
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
