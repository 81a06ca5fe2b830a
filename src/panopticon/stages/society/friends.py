"""Friendships by homophilous stub matching.

Each citizen's target degree is drawn first. Each of its stubs then falls in a bucket:
its region or the national pool, and its owner's age plus logistic noise, binned. Stubs
are sorted into buckets by a two-pass counting sort over fixed person blocks (one pass
counts, one places; both see the same buckets because a stub's bucket is a pure
function of (seed, citizen, stub)), shuffled within each bucket and paired with their
neighbours. Self-loops and duplicate ties are removed and counted (docs/network.md).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit, prange

from panopticon.core import streams
from panopticon.core.jit import sized_kernel
from panopticon.stages.society.draws import (
    P_STUB,
    P_STUB_SHUFFLE,
    U1,
    U17,
    network_key,
    shuffle_segments,
)
from panopticon.stages.society.params import N_AGES, Avoidance, Friends
from panopticon.stages.society.rows import BLOCK, EMPTY, allocate_rows

_STUB_BLOCKS = 64  # person blocks of the stub counting sort: a constant
_CHUNK = 1 << 20  # citizens per vectorised chunk of degree draws


def _draw_degrees(p: Friends, n: int, seed: int) -> np.ndarray:
    """Target degree per citizen (int32), chunk by chunk from counter-based generators.

    Each chunk has its own generator, so chunks are drawn on Numba's thread count of
    Python threads (NumPy's samplers release the GIL) with the same bytes as in order.
    """
    out = np.empty(n, dtype=np.int32)
    cv = p.dispersion

    def draw(chunk: int) -> None:
        lo, hi = chunk * _CHUNK, min((chunk + 1) * _CHUNK, n)
        rng = streams.population_rng(seed, streams.NETWORK, chunk)
        m = hi - lo
        if p.mean == 0:
            d = np.zeros(m)
        elif p.distribution == "negative_binomial":
            lam = p.mean if cv == 0 else rng.gamma(1.0 / cv**2, p.mean * cv**2, size=m)
            d = rng.poisson(lam, size=m)
        else:
            sigma = math.sqrt(math.log1p(cv**2))
            x = rng.lognormal(math.log(p.mean) - sigma**2 / 2, sigma, size=m)
            d = np.floor(np.minimum(x, p.max_degree) + rng.random(m))
        out[lo:hi] = np.minimum(d, p.max_degree)

    chunks = range((n + _CHUNK - 1) // _CHUNK)
    workers = min(numba.get_num_threads(), len(chunks))
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(draw, chunks))
    else:
        for chunk in chunks:
            draw(chunk)
    return out


@njit(cache=True, inline="always")
def _stub_bucket(
    key: np.uint64,
    i: int,
    k: int,
    a: float,
    r: int,
    p_local: float,
    s: float,
    off: float,
    inv_w: float,
    nbins: int,
    nreg: int,
) -> int:
    """Bucket of friendship stub k of citizen i: (region or national pool, noisy age bin)."""
    c = (np.uint64(i) << U17) | (np.uint64(k) << U1)
    local = streams.uniform(key, c) < p_local
    u = streams.uniform(key, c | U1)
    if u <= 0.0:
        u = 1e-17
    z = s * math.log(u / (1.0 - u))
    z = min(max(z, -off), off)
    b = int((a + z + off) * inv_w)
    b = min(max(b, 0), nbins - 1)
    return r * nbins + b if local else nreg * nbins + b


@sized_kernel(0)
def _stub_count(
    deg: np.ndarray,
    age: np.ndarray,
    region: np.ndarray,
    key: np.uint64,
    p_local: float,
    s: float,
    off: float,
    inv_w: float,
    nbins: int,
    nreg: int,
    indptr: np.ndarray,
    idx: np.ndarray,
    table: np.ndarray,
) -> None:
    """Counting pass: stubs per (person block, bucket) into `table` (starting at zero).

    Each stub's bucket is kept in the owner's still empty friend slots
    (``idx[indptr[i] + k]``: a row has at least as many slots as stubs), so the placing
    pass reads it back instead of drawing it again.
    """
    n = deg.size
    n_blk = table.shape[0]
    blk = (n + n_blk - 1) // n_blk
    for b in prange(n_blk):
        for i in range(b * blk, min((b + 1) * blk, n)):
            a = float(age[i])
            r = np.int64(region[i])
            o = np.int64(indptr[i])
            for k in range(deg[i]):
                bk = _stub_bucket(key, i, k, a, r, p_local, s, off, inv_w, nbins, nreg)
                idx[o + k] = bk
                table[b, bk] += 1


@sized_kernel(0)
def _stub_place(
    deg: np.ndarray,
    indptr: np.ndarray,
    idx: np.ndarray,
    table: np.ndarray,
    owner: np.ndarray,
    rank: np.ndarray,
) -> None:
    """Placing pass: each stub's owner and rank go to its (block, bucket)'s cursor.

    `table` holds the write cursors; the stub's bucket is read from its slot, which is
    emptied again.
    """
    n = deg.size
    n_blk = table.shape[0]
    blk = (n + n_blk - 1) // n_blk
    for b in prange(n_blk):
        for i in range(b * blk, min((b + 1) * blk, n)):
            o = np.int64(indptr[i])
            for k in range(deg[i]):
                bk = idx[o + k]
                idx[o + k] = EMPTY
                pos = table[b, bk]
                table[b, bk] = pos + 1
                owner[pos] = i
                rank[pos] = k


@njit(cache=True)
def _stub_cursor(hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each (person block, bucket) starts writing, and bucket starts."""
    n_blk, nbk = hist.shape
    cursor = np.empty((n_blk, nbk), dtype=np.int64)
    starts = np.empty(nbk + 1, dtype=np.int64)
    pos = 0
    for k in range(nbk):
        starts[k] = pos
        for b in range(n_blk):
            cursor[b, k] = pos
            pos += hist[b, k]
    starts[nbk] = pos
    return cursor, starts


@sized_kernel(3)
def _stub_pair(
    owner: np.ndarray, rank: np.ndarray, starts: np.ndarray, indptr: np.ndarray, idx: np.ndarray
) -> tuple[int, int]:
    """Pair consecutive stubs within each bucket into ties; returns (self loops, unpaired)."""
    nbk = starts.size - 1
    loops = np.zeros(nbk, dtype=np.int64)
    odd = np.zeros(nbk, dtype=np.int64)
    for b in prange(nbk):
        lo, hi = starts[b], starts[b + 1]
        odd[b] = (hi - lo) % 2
        for p in range(lo, hi - 1, 2):
            u = owner[p]
            v = owner[p + 1]
            if u == v:
                loops[b] += 1
                continue
            idx[indptr[u] + rank[p]] = v
            idx[indptr[v] + rank[p + 1]] = u
    return loops.sum(), odd.sum()


@njit(cache=True, inline="always")
def _sort_small(a: np.ndarray, lo: int, hi: int) -> None:
    """In-place insertion sort of a[lo:hi] (rows are short)."""
    for j in range(lo + 1, hi):
        v = a[j]
        q = j - 1
        while q >= lo and a[q] > v:
            a[q + 1] = a[q]
            q -= 1
        a[q + 1] = v


@njit(cache=True)
def _sort_large(a: np.ndarray, lo: int, hi: int) -> None:
    """In-place heapsort of a[lo:hi]: the same order as `sort`, without compiling quicksort."""
    n = hi - lo
    for start in range(n // 2 - 1, -1, -1):
        _sift_down(a, lo, start, n)
    for end in range(n - 1, 0, -1):
        t = a[lo]
        a[lo] = a[lo + end]
        a[lo + end] = t
        _sift_down(a, lo, 0, end)


@njit(cache=True)
def _sift_down(a: np.ndarray, lo: int, root: int, n: int) -> None:
    """Move a[lo + root] down the max-heap a[lo:lo + n] to its place."""
    while True:
        child = 2 * root + 1
        if child >= n:
            return
        if child + 1 < n and a[lo + child] < a[lo + child + 1]:
            child += 1
        if a[lo + root] >= a[lo + child]:
            return
        t = a[lo + root]
        a[lo + root] = a[lo + child]
        a[lo + child] = t
        root = child


@sized_kernel(0)
def _clean_rows(indptr: np.ndarray, idx: np.ndarray) -> int:
    """Sort each row, drop duplicate entries, pack live entries first; returns removed."""
    n = indptr.size - 1
    n_blk = (n + BLOCK - 1) // BLOCK
    removed = np.zeros(n_blk, dtype=np.int64)
    for b in prange(n_blk):
        for i in range(b * BLOCK, min((b + 1) * BLOCK, n)):
            lo, hi = indptr[i], indptr[i + 1]
            if hi - lo <= 32:
                _sort_small(idx, lo, hi)
            else:
                _sort_large(idx, lo, hi)
            w = lo
            last = -1
            for s in range(lo, hi):
                v = idx[s]
                if v < 0:
                    continue
                if v == last:
                    removed[b] += 1
                    continue
                idx[w] = v
                w += 1
                last = v
            for s in range(w, hi):
                idx[s] = EMPTY
    return removed.sum()


def build_friends(
    p: Friends, a: Avoidance, age: np.ndarray, region: np.ndarray, n_regions: int, seed: int
) -> tuple[np.ndarray, np.ndarray, int, dict[str, int]]:
    """Friendship CSR (indptr, indices, pool start) by homophilous stub matching."""
    n = age.size
    deg = _draw_degrees(p, n, seed)
    indptr, idx, base = allocate_rows(deg, a.slack, a.pool)
    p_local = 1.0 if n_regions == 1 else p.same_region
    s = p.age_scale * math.sqrt(3.0 / (2.0 * math.pi**2))  # logistic scale per stub
    off = 8.0 * s
    width = max(1.0, p.age_scale / 4.0)
    nbins = math.ceil((N_AGES + 2 * off) / width) + 1
    n_blk = max(1, min(_STUB_BLOCKS, n // 1024))
    key = network_key(seed, -1, P_STUB)
    hist = np.zeros((n_blk, (n_regions + 1) * nbins), dtype=np.int64)
    _stub_count(
        deg, age, region, key, p_local, s, off, 1.0 / width, nbins, n_regions, indptr, idx, hist
    )
    cursor, starts = _stub_cursor(hist)
    del hist
    n_stubs = int(starts[-1])
    owner = np.empty(n_stubs, dtype=np.int32)
    rank = np.empty(n_stubs, dtype=np.uint16)
    _stub_place(deg, indptr, idx, cursor, owner, rank)
    del cursor
    shuffle_segments(owner, starts, network_key(seed, -1, P_STUB_SHUFFLE), rank)
    loops, odd = _stub_pair(owner, rank, starts, indptr, idx)
    del owner, rank
    dups = _clean_rows(indptr, idx)
    stats = {
        "stubs": n_stubs,
        "self_loops": int(loops),
        "unpaired_stubs": int(odd),
        "duplicate_edges": int(dups) // 2,
    }
    return indptr, idx, base, stats
