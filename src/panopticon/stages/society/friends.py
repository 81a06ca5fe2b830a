"""Friendships by homophilous stub matching.

Each citizen's target degree is drawn first. Each of its stubs then falls in a bucket:
its region or the national pool, and its owner's age plus logistic noise, binned. Stubs
are sorted into buckets by a two-pass counting sort over fixed person blocks (one pass
counts, one places; both see the same buckets because a stub's bucket is a pure
function of (seed, citizen, stub)), shuffled within each bucket and paired with their
neighbours. Self-loops and duplicate ties are removed and counted (docs/network.md).

The ties are not written into the rows where they are made (one cache miss per stub at
10^7 citizens): the shuffle hands each finished pair to a mailbox, in segments per
(person block, bucket) sized by the counting pass, and each person block then fills its
own rows from its segments while they are in cache, and sorts them. A row's order is
its sorted friends, so the order in which its ties arrive never shows.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit, prange

from panopticon.core import streams
from panopticon.core.jit import HELPER, KERNEL, sized_kernel
from panopticon.stages.society.draws import (
    NO_COMPANION,
    P_STUB,
    P_STUB_SHUFFLE,
    U1,
    U17,
    U32,
    network_key,
    shuffle_segments,
)
from panopticon.stages.society.params import N_AGES, Avoidance, Friends
from panopticon.stages.society.rows import EMPTY, allocate_rows

_STUB_SHIFT = 15  # person blocks of the stub sort: 2^15 citizens, a constant
_MAILBOX_PARTS = 4  # ties go through the mailbox in 4 runs of buckets (2 bytes per stub)
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
    shift: int,
) -> None:
    """Counting pass: stubs per (person block, bucket) into `table` (starting at zero).

    Person block b is citizens ``b << shift`` to ``(b + 1) << shift``.

    Each stub's bucket is kept in the owner's still empty friend slots
    (``idx[indptr[i] + k]``: a row has at least as many slots as stubs), so the placing
    pass reads it back instead of drawing it again.
    """
    n = deg.size
    for b in prange(table.shape[0]):
        for i in range(b << shift, min((b + 1) << shift, n)):
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
    shift: int,
) -> None:
    """Placing pass: each stub's owner goes to its (block, bucket)'s cursor.

    `table` holds the write cursors; the stub's bucket is read from its slot, which is
    emptied again.
    """
    n = deg.size
    for b in prange(table.shape[0]):
        for i in range(b << shift, min((b + 1) << shift, n)):
            o = np.int64(indptr[i])
            for k in range(deg[i]):
                bk = idx[o + k]
                idx[o + k] = EMPTY
                pos = table[b, bk]
                table[b, bk] = pos + 1
                owner[pos] = i


@njit(cache=True, **KERNEL)
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


def _bucket_groups(starts: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """Runs of buckets of about 1/parts of the stubs each (at least one bucket each)."""
    nbk = starts.size - 1
    cap = max(1, -(-int(starts[-1]) // parts))
    groups = []
    k0 = 0
    while k0 < nbk:
        k1 = k0 + 1
        while k1 < nbk and starts[k1 + 1] - starts[k0] <= cap:
            k1 += 1
        groups.append((k0, k1))
        k0 = k1
    return groups


def _pair_and_fill(
    owner: np.ndarray,
    starts: np.ndarray,
    hist: np.ndarray,
    indptr: np.ndarray,
    idx: np.ndarray,
    shift: int,
    parts: int,
) -> tuple[int, int, int]:
    """Ties from the shuffled stubs into the rows; returns (self loops, unpaired, removed).

    The buckets go through the mailbox in runs of about 1/parts of the stubs (its
    memory: 8 bytes per stub of the largest run, not of all). Each run's ties are added
    to the rows; the last run's pass also cleans them. Neither the runs nor their number
    change the rows, whose order is sorted.
    """
    groups = _bucket_groups(starts, parts)
    box = np.empty(max(int(starts[k1] - starts[k0]) for k0, k1 in groups), dtype=np.uint64)
    fill = np.zeros(indptr.size - 1, dtype=np.int32)
    loops = odd = removed = 0
    for g, (k0, k1) in enumerate(groups):
        part = hist[:, k0:k1]  # (person block, bucket) counts, laid out block by block
        first = np.zeros(part.size, dtype=np.int64)
        np.cumsum(part.ravel()[:-1], out=first[1:])
        first = np.ascontiguousarray(first.reshape(part.shape).T)
        end = first.copy()
        lp, od = _stub_pair(owner, starts[k0 : k1 + 1], shift, end, box)
        last = g == len(groups) - 1
        removed += int(_fill_rows(indptr, idx, box, first, end, shift, fill, last))
        loops, odd = loops + int(lp), odd + int(od)
    return loops, odd, removed


@sized_kernel(0, scale=10)
def _stub_pair(
    owner: np.ndarray, starts: np.ndarray, shift: int, cursor: np.ndarray, box: np.ndarray
) -> tuple[int, int]:
    """Pair consecutive stubs within each (shuffled) bucket; returns (self loops, unpaired).

    Each tie u-v goes to the mailbox twice, as ``u << 32 | v`` at the cursor of (bucket,
    u's person block) and the reverse at v's: `cursor` (the ``box[bucket, block]``
    starts) ends as the segments' ends. The owners are read in order and the mailbox
    written in one stream per block, where writing the ties into the rows at once would
    miss the cache at every stub (a separate pass, not fused into the shuffle: the
    shuffle's random reads overlap best alone).
    """
    nbk = starts.size - 1
    loops = np.zeros(nbk, dtype=np.int64)
    odd = np.zeros(nbk, dtype=np.int64)
    for b in prange(nbk):
        lo, hi = starts[b], starts[b + 1]
        odd[b] = (hi - lo) % 2
        for p in range(lo, hi - 1, 2):
            x = np.int64(owner[p])
            y = np.int64(owner[p + 1])
            if x == y:
                loops[b] += 1
                continue
            q = cursor[b, x >> shift]
            box[q] = (np.uint64(x) << U32) | np.uint64(y)
            cursor[b, x >> shift] = q + 1
            q = cursor[b, y >> shift]
            box[q] = (np.uint64(y) << U32) | np.uint64(x)
            cursor[b, y >> shift] = q + 1
    return loops.sum(), odd.sum()


@sized_kernel(0)
def _fill_rows(
    indptr: np.ndarray,
    idx: np.ndarray,
    box: np.ndarray,
    first: np.ndarray,
    end: np.ndarray,
    shift: int,
    fill: np.ndarray,
    clean: bool,
) -> int:
    """Each person block writes its ties from its mailbox segments, then cleans its rows.

    Segment ``box[first[k, b]:end[k, b]]`` holds bucket k's ties of block b's citizens;
    they fill each row from its first slot (the rows are EMPTY; `fill`, zeros, counts the
    slots used per row), then `_clean_span` sorts the filled part of each row, so the
    result does not depend on the order the ties came in. With `clean` False the rows
    are only filled (more ties come). Returns the duplicate entries removed.
    """
    n = indptr.size - 1
    nbk, n_blk = first.shape
    blk = np.int64(1) << shift
    removed = np.zeros(n_blk, dtype=np.int64)
    mask = np.uint64(0xFFFFFFFF)
    for b in prange(n_blk):
        r0 = b * blk
        r1 = min(n, r0 + blk)
        for k in range(nbk):
            for q in range(first[k, b], end[k, b]):
                e = box[q]
                u = np.int64(e >> U32)
                s = np.int64(indptr[u]) + fill[u]
                fill[u] += 1
                idx[s] = np.int32(e & mask)
        if clean:
            removed[b] = _clean_span(indptr, idx, r0, r1, fill)
    return removed.sum()


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


@njit(cache=True, **KERNEL)
def _sort_large(a: np.ndarray, lo: int, hi: int) -> None:
    """In-place heapsort of a[lo:hi]: the same order as `sort`, without compiling quicksort."""
    n = hi - lo
    for start in range(n // 2 - 1, -1, -1):
        _sift_down(a, lo, start, n)
    for end in range(n - 1, 0, -1):
        t = a[lo]
        a[lo] = a[lo + end]
        a[lo + end] = t
        _sift_down(a, lo, np.int64(0), end)  # int64 as above: one compiled version


@njit(cache=True, **HELPER)
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


@njit(cache=True, **KERNEL)
def _clean_span(indptr: np.ndarray, idx: np.ndarray, r0: int, r1: int, used: np.ndarray) -> int:
    """Rows r0..r1: sort, drop duplicate entries, pack live entries first; returns removed.

    Only the first ``used[i]`` slots of row i are examined (the rest are EMPTY).
    """
    removed = 0
    for i in range(r0, r1):
        lo = np.int64(indptr[i])
        hi = lo + used[i]
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
                removed += 1
                continue
            idx[w] = v
            w += 1
            last = v
        for s in range(w, hi):
            idx[s] = EMPTY
    return removed


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
    # person blocks of 2^15 citizens: a block's rows fit in cache while it fills them
    shift = _STUB_SHIFT
    n_blk = (n + (1 << shift) - 1) >> shift
    key = network_key(seed, -1, P_STUB)
    hist = np.zeros((n_blk, (n_regions + 1) * nbins), dtype=np.int64)
    _stub_count(
        deg,
        age,
        region,
        key,
        p_local,
        s,
        off,
        1.0 / width,
        nbins,
        n_regions,
        indptr,
        idx,
        hist,
        shift,
    )
    cursor, starts = _stub_cursor(hist)
    n_stubs = int(starts[-1])
    owner = np.empty(n_stubs, dtype=np.int32)
    _stub_place(deg, indptr, idx, cursor, owner, shift)
    del cursor
    shuffle_segments(owner, starts, network_key(seed, -1, P_STUB_SHUFFLE), NO_COMPANION)
    loops, odd, dups = _pair_and_fill(owner, starts, hist, indptr, idx, shift, _MAILBOX_PARTS)
    del owner
    stats = {
        "stubs": n_stubs,
        "self_loops": int(loops),
        "unpaired_stubs": int(odd),
        "duplicate_edges": int(dups) // 2,
    }
    return indptr, idx, base, stats
