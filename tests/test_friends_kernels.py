"""The friendship pairing kernels checked against a slow, obvious reference.

`shuffle_segments` shuffles each bucket's stubs, `_stub_pair` hands the pairs to a
mailbox, `_fill_rows` writes each person block's ties from it and cleans the rows, run
by run of buckets (`_pair_and_fill`; neither the number of blocks, 2^shift citizens
each, nor the number of runs changes the graph). The reference shuffles
each bucket in plain Python with the same draws, pairs neighbours into per-citizen
lists and sorts them: the rows must be equal entry for entry, with the same counts,
for any number of person blocks and for the serial and parallel versions.
"""

from __future__ import annotations

import numpy as np
import pytest

from panopticon.core import streams
from panopticon.stages.society import friends
from panopticon.stages.society.draws import NO_COMPANION, shuffle_segments
from panopticon.stages.society.friends import _pair_and_fill, _stub_cursor, _stub_place
from panopticon.stages.society.rows import EMPTY, allocate_rows

KEY = np.uint64(0x1234_5678_9ABC_DEF1)


def _reference(
    deg: np.ndarray, bucket: list[list[int]], nbk: int
) -> tuple[list[list[int]], int, int, int]:
    """Rows (sorted, unique), self loops, unpaired stubs, duplicate entries removed."""
    n = deg.size
    members: list[list[int]] = [[] for _ in range(nbk)]
    for i in range(n):
        for k in range(int(deg[i])):
            members[bucket[i][k]].append(i)
    rows: list[list[int]] = [[] for _ in range(n)]
    loops = odd = 0
    for b, seg in enumerate(members):
        m = len(seg)
        for j in range(m - 1, 0, -1):
            u = streams.uniform(KEY, np.uint64((b << 40) | j))
            r = int(u * (j + 1))
            seg[j], seg[r] = seg[r], seg[j]
        odd += m % 2
        for p in range(0, m - 1, 2):
            u, v = seg[p], seg[p + 1]
            if u == v:
                loops += 1
            else:
                rows[u].append(v)
                rows[v].append(u)
    dups = sum(len(r) - len(set(r)) for r in rows)
    return [sorted(set(r)) for r in rows], loops, odd, dups


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shift", [3, 5, 8])
@pytest.mark.parametrize("version", ["serial", "parallel"])
@pytest.mark.parametrize("parts", [1, 3])
def test_pairing_matches_reference(
    seed: int, shift: int, version: str, parts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 200))
    nbk = int(rng.integers(1, 6))
    deg = rng.integers(0, 40 if seed == 2 else 8, size=n).astype(np.int32)
    deg[rng.integers(0, n)] = 45  # a row sorted by the heapsort (over 32 slots)
    bucket = [list(rng.integers(0, nbk, size=int(d))) for d in deg]
    expect, e_loops, e_odd, e_dups = _reference(deg, bucket, nbk)

    indptr, idx, _base = allocate_rows(deg, 2, 0.5)
    hist = np.zeros(((n >> shift) + 1, nbk), dtype=np.int64)
    for i in range(n):
        for k, bk in enumerate(bucket[i]):
            idx[indptr[i] + k] = bk
            hist[i >> shift, bk] += 1
    cursor, starts = _stub_cursor(hist)
    owner = np.empty(int(starts[-1]), dtype=np.int32)
    _stub_place.serial(deg, indptr, idx, cursor, owner, shift)
    assert (idx == EMPTY).all()
    getattr(shuffle_segments, version)(owner, starts, KEY, NO_COMPANION)
    for name in ("_stub_pair", "_fill_rows"):
        monkeypatch.setattr(friends, name, getattr(getattr(friends, name), version))
    loops, odd, dups = _pair_and_fill(owner, starts, hist, indptr, idx, shift, parts)
    assert (loops, odd, dups) == (e_loops, e_odd, e_dups)
    for i in range(n):
        row = idx[indptr[i] : indptr[i + 1]]
        d = len(expect[i])
        assert list(row[:d]) == expect[i]
        assert (row[d:] == EMPTY).all()
