"""The fast paths that let `seed-article` run at 10^8 give the bytes of the plain ones.

Avoidance rounds visit only the rows of low people (`avoidance._drop_low`), the partner
weights come from a table of the score values in use (`avoidance.score_weights`), the
snapshot statistics and degrees come from one pass (`stats.row_stats`), and joint
liability's household counts and the group tallies are single kernels. Each is compared
here with the straightforward computation it replaces, on graphs whose rows have moved
to the overflow pool, with and without threads; tests/test_golden.py and the digests in
the commit messages cover whole runs.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from panopticon.core.population import demographics
from panopticon.scenario import Population
from panopticon.stages import society as nw
from panopticon.stages.society import avoidance, stats
from panopticon.stages.society.draws import P_DROP, P_NEW, network_key
from panopticon.stages.society.module import attractiveness

REGIONS = {"north": {"share": 0.5}, "south": {"share": 0.3}, "west": {"share": 0.2}}
AGES = {"0-17": 0.22, "18-34": 0.25, "35-64": 0.38, "65-90": 0.15}


@pytest.fixture(scope="module")
def grown() -> nw.Network:
    """A 20,000-citizen graph after one round that moved many rows to the pool."""
    n = 20_000
    d = demographics(Population(size=n, regions=REGIONS, age_bands=AGES), 3, 0, n)
    params = nw.NetworkParams.model_validate({"avoidance": {"slack": 0, "pool": 1.0}})
    net = nw.build_network(params, d.age, d.region, 3)
    low = np.random.default_rng(1).random(n) < 0.1
    star = (np.arange(n) % 97 == 0).astype(float)
    counts = net.rewire(low, star, 29, 3, nw.Avoidance(p_drop=0.5, p_new=1.0, preference=6.0))
    assert counts["moved"] > 100
    return net


@pytest.mark.parametrize("share", [0.0, 0.02, 0.15, 0.6])
def test_low_visit_equals_the_full_pass(grown: nw.Network, share: float) -> None:
    n = grown.size
    low = np.random.default_rng(int(share * 100)).random(n) < share
    kd, kn = network_key(7, 59, P_DROP), network_key(7, 59, P_NEW)
    full, want_full = grown.indices.copy(), np.zeros(n, np.int32)
    a = avoidance._drop_pass(grown.indptr, full, low, False, 0.3, 0.5, kd, kn, want_full)
    visit, want_visit = grown.indices.copy(), np.zeros(n, np.int32)
    lows = np.flatnonzero(low).astype(np.int32)
    b = avoidance._drop_low(grown.indptr, visit, lows, 0.3, 0.5, kd, kn, want_visit)
    assert a == b
    assert np.array_equal(full, visit) and np.array_equal(want_full, want_visit)
    if share > 0:
        assert a[0] > 0 and not np.array_equal(full, grown.indices)


@pytest.mark.parametrize("threads", [1, 2])
def test_row_stats_equal_degree_bincount_and_assortativity(
    grown: nw.Network, threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("panopticon.core.jit.PARALLEL_FROM", 0)
    rng = np.random.default_rng(threads)
    score = (rng.integers(0, 201, grown.size) * 5).astype(np.int16)
    codes = np.minimum(score // 200, 4).astype(np.uint8)
    old = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        fused = grown.row_stats(score, codes, 6)
    finally:
        numba.set_num_threads(old)
    assert fused is not None
    degree, st = fused
    assert np.array_equal(degree, grown.degree())
    want = np.bincount(codes, weights=grown.degree(), minlength=6)
    assert st["degree_sum"].tobytes() == want.tobytes()
    assert np.array_equal(st["people"], np.bincount(codes, minlength=6))
    assert st["isolated"] == int((grown.degree() == 0).sum())
    assert st["assortativity"] == grown.assortativity(score.astype(np.float64))
    assert grown.row_stats(score.astype(np.float64), codes, 6) is None  # not integers


@pytest.mark.parametrize(("lo", "hi", "step"), [(0, 1000, 5), (600, 1300, 1), (700, 700, 1)])
def test_score_weights_equal_the_float_formula(lo: int, hi: int, step: int) -> None:
    rng = np.random.default_rng(lo)
    score = (rng.integers(lo // step, hi // step + 1, 50_001) * step).astype(np.int16)
    for preference in (2.0, 0.37, 9.5):
        want = avoidance.partner_weights(attractiveness(score), preference)
        assert avoidance.score_weights(score, preference).tobytes() == want.tobytes()


def test_any_other_member_equals_the_bincount_formula(grown: nw.Network) -> None:
    mask = np.random.default_rng(4).random(grown.size) < 0.05
    per = np.bincount(grown.household[mask], minlength=grown.n_households)
    assert np.array_equal(grown.any_other_member(mask), (per[grown.household] - mask) > 0)


def test_group_tallies_equal_bincounts() -> None:
    from panopticon.stages.snapshot.groups import _count_by, _tally

    rng = np.random.default_rng(8)
    group = rng.integers(0, 4, 10_000).astype(np.uint8)
    on, truth = rng.random(10_000) < 0.3, rng.random(10_000) < 0.5
    t = _tally(group, on, truth, 4)
    assert np.array_equal(t[0], np.bincount(group[on], minlength=4))
    assert np.array_equal(t[1], np.bincount(group[on & ~truth], minlength=4))
    ids = rng.integers(0, 10_000, 3_000)
    mask = rng.random(3_000) < 0.4
    assert np.array_equal(
        _count_by(group, ids, mask, False, 4), np.bincount(group[ids[~mask]], minlength=4)
    )
    empty = np.zeros(0, dtype=np.bool_)
    assert np.array_equal(
        _count_by(group, ids, empty, True, 4), np.bincount(group[ids], minlength=4)
    )


def test_stats_row_stats_refuses_sums_past_2_to_the_52() -> None:
    indptr = np.array([0, 1, 2], dtype=np.int32)
    idx = np.array([1, 0], dtype=np.int32)
    big = np.array([2**30, 2**30], dtype=np.int64)
    assert stats.row_stats(indptr, idx, big, np.zeros(2, np.uint8), 1) is None
    ok = stats.row_stats(indptr, idx, big // 2**10, np.zeros(2, np.uint8), 1)
    assert ok is not None and ok[1]["isolated"] == 0


@pytest.mark.parametrize("ties", [False, True])
def test_propensity_scores_equal_the_stable_sort(ties: bool) -> None:
    from scipy import special

    from panopticon.stages.score.factors import propensity_scores

    rng = np.random.default_rng(9)
    p = rng.lognormal(size=30_001)
    if ties:
        p = np.round(p, 1)  # many equal values: ranked in id order
    ranks = np.empty(p.size)
    ranks[np.argsort(p, kind="stable")] = (np.arange(p.size) + 0.5) / p.size
    assert propensity_scores(p).tobytes() == special.ndtri(ranks).tobytes()


def test_rewire_same_bytes_with_parallel_twins(monkeypatch: pytest.MonkeyPatch) -> None:
    n = 20_000
    d = demographics(Population(size=n, regions=REGIONS, age_bands=AGES), 5, 0, n)
    params = nw.NetworkParams.model_validate({"avoidance": {"slack": 0, "pool": 0.5}})
    low = np.random.default_rng(2).random(n) < 0.08
    score = (np.random.default_rng(3).integers(100, 201, n) * 5).astype(np.int16)
    weights = avoidance.score_weights(score, 2.0)
    runs = []
    for start in (10**12, 0):  # serial kernels, then every sized kernel's parallel twin
        monkeypatch.setattr("panopticon.core.jit.PARALLEL_FROM", start)
        net = nw.build_network(params, d.age, d.region, 5)
        counts = net.rewire(low, None, 29, 5, nw.Avoidance(p_drop=0.4, p_new=0.9), weights)
        runs.append((net.indptr.copy(), net.indices.copy(), counts))
    assert runs[0][2] == runs[1][2] and runs[0][2]["new"] > 500
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])
