"""Tests of the social graph: structure, households, joint liability, avoidance, memory.

Every population here is synthetic. Tolerances are derived from sampling error: a test
allows a few standard errors of the quantity it checks, never a hand-tuned margin.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from pydantic import ValidationError

from panopticon.core.population import demographics
from panopticon.scenario import Population, format_validation_error
from panopticon.stages import society as nw
from panopticon.stages.society import avoidance

REGIONS = {"north": {"share": 0.5}, "south": {"share": 0.3}, "west": {"share": 0.2}}
AGES = {"0-17": 0.22, "18-34": 0.25, "35-64": 0.38, "65-90": 0.15}


def _people(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic ages and regions for n citizens."""
    d = demographics(Population(size=n, regions=REGIONS, age_bands=AGES), seed, 0, n)
    return d.age, d.region


def _build(n: int, seed: int = 1, **tables: dict) -> tuple[nw.Network, np.ndarray, np.ndarray]:
    age, region = _people(n, seed)
    params = nw.NetworkParams.model_validate(tables)
    return nw.build_network(params, age, region, seed), age, region


def _check_graph(net: nw.Network) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric, no self-loops, no duplicate ties; returns the directed entries."""
    src, dst = net.edges(directed=True)
    n = np.int64(net.size)
    fwd = np.sort(src.astype(np.int64) * n + dst)
    back = np.sort(dst.astype(np.int64) * n + src)
    assert np.array_equal(fwd, back), "ties must be symmetric"
    assert not np.any(src == dst), "no self-loops"
    assert np.unique(fwd).size == fwd.size, "no duplicate ties"
    assert np.array_equal(np.bincount(src, minlength=net.size), net.degree())
    return src, dst


@pytest.fixture(scope="module")
def graph() -> tuple[nw.Network, np.ndarray, np.ndarray]:
    """A 60,000-citizen graph with default parameters."""
    return _build(60_000)


# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "needles"),
    [
        ({"households": {"sizes": {"1": 0.5, "2": 0.4}}}, ["sizes", "sum to 0.9", "sum to 1"]),
        ({"households": {"sizes": {"0": 1.0}}}, ["sizes.0", "'1' to '20'"]),
        ({"friends": {"mean": -1}}, ["friends.mean", "-1", "greater than or equal to 0"]),
        ({"friends": {"dispersion": -0.5}}, ["friends.dispersion", "-0.5"]),
        ({"friends": {"mean": 50, "max_degree": 20}}, ["friends.mean = 50", "max_degree"]),
        ({"avoidance": {"p_drop": 1.5}}, ["avoidance.p_drop", "1.5", "less than or equal"]),
        ({"households": {"parent_gap_min": 40, "parent_gap_mean": 28}}, ["parent_gap_min"]),
        ({"workplaces": {"school_max_age": 20}}, ["school_max_age = 20", "work_min_age"]),
        ({"friends": {"degree": 3}}, ["friends.degree", "unknown field"]),
    ],
)
def test_bad_parameters_name_field_value_and_rule(data: dict, needles: list[str]) -> None:
    with pytest.raises(ValidationError) as err:
        nw.NetworkParams.model_validate(data)
    message = format_validation_error(err.value)
    for needle in needles:
        assert needle in message, (needle, message)


def test_defaults_are_valid_and_round_trip() -> None:
    params = nw.NetworkParams()
    again = nw.NetworkParams.model_validate(params.model_dump())
    assert again == params
    assert params.friends.mean == 10


# --------------------------------------------------------------------------------------
# Friendships
# --------------------------------------------------------------------------------------


def test_structure_and_degree_distribution(graph: tuple) -> None:
    net, _, _ = graph
    _check_graph(net)
    f = nw.NetworkParams().friends
    n = net.size
    var = f.mean + (f.dispersion * f.mean) ** 2  # negative binomial (Gamma-Poisson)
    drawn_mean = net.stats["stubs"] / n
    assert abs(drawn_mean - f.mean) < 4 * np.sqrt(var / n)
    removed = 2 * net.stats["self_loops"] + net.stats["unpaired_stubs"]
    removed += 2 * net.stats["duplicate_edges"]
    deg = net.degree()
    assert deg.sum() == net.stats["stubs"] - removed  # every removal is counted
    assert removed / net.stats["stubs"] < 0.01  # negligible, and shrinks like 1/n
    # variance of a sample variance ~ 2 var^2 / n for a near-normal; NB tails: allow 10 SE
    assert abs(deg.var() - var) < 10 * var * np.sqrt(2 / n)
    assert net.isolated() == np.count_nonzero(deg == 0)


def test_homophily_by_region_and_age(graph: tuple) -> None:
    net, age, region = graph
    f = nw.NetworkParams().friends
    src, dst = net.edges()
    shares = np.bincount(region) / region.size
    expected = f.same_region + (1 - f.same_region) * np.sum(shares**2)
    same = np.mean(region[src] == region[dst])
    assert abs(same - expected) < 5 * np.sqrt(expected * (1 - expected) / src.size)
    diff = age[src].astype(float) - age[dst]
    # design: sd of friends' age difference = age_scale (plus binning, minus age edges)
    assert 0.85 * f.age_scale < diff.std() < 1.15 * f.age_scale
    rng = np.random.default_rng(0)
    random_diff = (
        age[rng.integers(0, age.size, 10_000)].astype(float)
        - age[rng.integers(0, age.size, 10_000)]
    )
    assert random_diff.std() > 2.5 * diff.std()


def test_no_age_homophily_when_scale_is_huge_and_all_local() -> None:
    net, age, region = _build(30_000, friends={"age_scale": 1000, "same_region": 1.0})
    src, dst = net.edges()
    assert np.all(region[src] == region[dst])
    r = np.corrcoef(age[src].astype(float), age[dst])[0, 1]
    assert abs(r) < 5 / np.sqrt(src.size) + 0.02  # binning leaves a trace at most


def test_lognormal_degrees() -> None:
    net, _, _ = _build(30_000, friends={"distribution": "lognormal", "mean": 6, "dispersion": 1})
    _check_graph(net)
    n = net.size
    var = (1.0 * 6) ** 2 + 1 / 6  # lognormal variance plus rounding
    assert abs(net.stats["stubs"] / n - 6) < 5 * np.sqrt(var / n)


def test_neighbour_mean_matches_slow_reference() -> None:
    net, _, _ = _build(3_000, seed=5)
    values = np.random.default_rng(1).random(net.size)
    fast = net.neighbour_mean(values, default=-1.0)
    for i in range(net.size):
        friends = net.friends_of(i)
        expected = values[friends].mean() if friends.size else -1.0
        assert fast[i] == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert np.isnan(net.neighbour_mean(values)[net.degree() == 0]).all()


def test_metrics_match_numpy(graph: tuple) -> None:
    net, age, _ = graph
    src, dst = net.edges(directed=True)
    x = age.astype(float) + np.random.default_rng(2).random(net.size)
    assert net.assortativity(x) == pytest.approx(np.corrcoef(x[src], x[dst])[0, 1], abs=1e-9)
    codes = (age // 20).astype(np.uint8)
    deg = net.degree()
    by = net.degree_by(codes, 8)
    for c in range(8):
        if np.any(codes == c):
            assert by[c] == pytest.approx(deg[codes == c].mean())
        else:
            assert np.isnan(by[c])
    assert np.isnan(net.assortativity(np.ones(net.size)))


# --------------------------------------------------------------------------------------
# Households, joint liability, groups
# --------------------------------------------------------------------------------------


def test_household_sizes_and_family_ages(graph: tuple) -> None:
    net, age, _ = graph
    hp = nw.NetworkParams().households
    sizes = net.household_sizes()
    assert sizes.sum() == net.size and sizes.min() >= 1
    h = net.n_households
    for key, share in hp.sizes.items():
        got = np.mean(sizes == int(key))
        assert abs(got - share) < 5 * np.sqrt(share * (1 - share) / h) + 31 / h  # truncation
    age = age.astype(np.int64)
    assert np.all(age[net.role == nw.CHILD] < 18)
    assert np.all(age[net.role != nw.CHILD] >= 18)
    assert np.all(np.bincount(net.household[net.role == nw.HEAD], minlength=h) <= 2)
    kids = net.role == nw.CHILD
    oldest = np.full(h, -1)
    youngest = np.full(h, 999)
    np.maximum.at(oldest, net.household[kids], age[kids])
    np.minimum.at(youngest, net.household[kids], age[kids])
    heads = np.flatnonzero(net.role == nw.HEAD)
    hh = net.household[heads]
    has = oldest[hh] >= 0
    gap_lo = age[heads][has] - oldest[hh][has]
    gap_hi = age[heads][has] - youngest[hh][has]
    bad = np.count_nonzero((gap_lo < hp.parent_gap_min) | (gap_hi > hp.parent_gap_max))
    assert bad == net.stats["parent_age_violations"] == 0
    assert abs(gap_lo.mean() - hp.parent_gap_mean) < 3  # oldest child + drawn gap
    assert net.stats["households_without_adult"] == 0
    # every child has at least one parent in the household
    assert np.all(np.isin(net.household[kids], hh[has]))


def test_joint_liability_reaches_exactly_the_linked_family() -> None:
    net, _, _ = _build(3_000, seed=3)
    members: dict[int, set[int]] = {}
    for i in range(net.size):
        members.setdefault(int(net.household[i]), set()).add(i)
    rng = np.random.default_rng(4)
    for _ in range(20):
        ids = rng.choice(net.size, size=rng.integers(1, 40), replace=False)
        expected = set().union(*(members[int(net.household[i])] for i in ids))
        assert set(net.family_members(ids).tolist()) == expected
        assert set(net.family_members(ids, include_self=False).tolist()) == expected - set(
            ids.tolist()
        )
        kids = {
            j
            for i in ids
            if net.role[i] == nw.HEAD
            for j in members[int(net.household[i])]
            if net.role[j] == nw.CHILD
        }
        assert set(net.children_of(ids).tolist()) == kids
        parents = {
            j
            for i in ids
            if net.role[i] == nw.CHILD
            for j in members[int(net.household[i])]
            if net.role[j] == nw.HEAD
        }
        assert set(net.parents_of(ids).tolist()) == parents
    for i in rng.choice(net.size, 50):
        assert set(net.household_of(i).tolist()) == members[int(net.household[i])]
    assert net.family_members(np.array([], dtype=np.int64)).size == 0


def test_work_and_school_groups(graph: tuple) -> None:
    net, age, region = graph
    wp = nw.NetworkParams().workplaces
    g = net.group
    assert g.min() >= -1 and g.max() == net.n_groups - 1
    pupils = (age >= wp.school_min_age) & (age <= wp.school_max_age)
    working = (age >= wp.work_min_age) & (age <= wp.work_max_age)
    assert np.all(g[pupils] >= 0)
    assert np.all(g[~pupils & ~working] == -1)
    employed = np.mean(g[working] >= 0)
    assert abs(employed - wp.employment) < 5 * np.sqrt(0.25 / working.sum())
    members = g >= 0
    regions_per_group = np.zeros(net.n_groups, dtype=np.int64)
    np.maximum.at(regions_per_group, g[members], region[members])
    assert np.array_equal(regions_per_group[g[members]], region[members])  # never crosses
    classes = np.unique(g[pupils])
    work = np.unique(g[working & members])
    assert np.intersect1d(classes, work).size == 0
    # class and team sizes: 1 + Poisson(mean - 1), truncated at each pool's end
    assert abs(np.bincount(g[pupils]).astype(float)[classes].mean() - wp.school_mean_size) < 6
    assert abs(np.bincount(g[members])[work].mean() - wp.work_mean_size) < 2


def test_small_and_skewed_populations() -> None:
    params = nw.NetworkParams()
    one = nw.build_network(params, np.array([30], np.uint8), np.array([0], np.uint8), 1)
    assert one.degree().tolist() == [0] and one.family_members([0]).tolist() == [0]
    adults = np.full(1000, 40, np.uint8)
    net = nw.build_network(params, adults, np.zeros(1000, np.uint8), 1)
    assert not np.any(net.role == nw.CHILD) and net.children_of(np.arange(1000)).size == 0
    minors = np.full(500, 10, np.uint8)
    kids = nw.build_network(params, minors, np.zeros(500, np.uint8), 1)
    assert kids.stats["households_without_adult"] == kids.n_households
    assert kids.parents_of(np.arange(500)).size == 0
    _check_graph(kids)


# --------------------------------------------------------------------------------------
# Avoidance
# --------------------------------------------------------------------------------------


def _round(blind: bool, n: int = 60_000) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    net, _, _ = _build(n, seed=11)
    rng = np.random.default_rng(5)
    low = rng.random(n) < 0.1
    attractiveness = np.where(low, 0.0, 1.0) + 0.1 * rng.random(n)
    params = nw.Avoidance(enabled=True, p_drop=0.3, p_new=0.5, preference=3.0, score_blind=blind)
    before = net.degree()
    counts = net.rewire(low, attractiveness, day=30, seed=11, params=params)
    _check_graph(net)
    return low, before, net.degree(), counts


def _gap(low: np.ndarray, before: np.ndarray, after: np.ndarray) -> tuple[float, float]:
    """Mean degree change of low people minus others, and its standard error."""
    delta = after.astype(float) - before
    a, b = delta[low], delta[~low]
    return a.mean() - b.mean(), np.sqrt(a.var() / a.size + b.var() / b.size)


def test_avoidance_lowers_low_grade_degree_and_score_blind_does_not() -> None:
    low, before, after, counts = _round(blind=False)
    gap, se = _gap(low, before, after)
    assert gap < -10 * se
    # a low person's tie goes if either end decides: expected loss ~ p_drop * degree
    assert (after[low].mean() - before[low].mean()) < -0.25 * before[low].mean()
    assert counts["new"] + counts["failed"] <= counts["decisions"]
    share = counts["new"] / counts["decisions"]
    assert abs(share - 0.5) < 5 * np.sqrt(0.25 / counts["decisions"])

    low_b, before_b, after_b, counts_b = _round(blind=True)
    gap_b, se_b = _gap(low_b, before_b, after_b)
    assert abs(gap_b) < 4 * se_b
    # same expected churn: decisions agree within sampling error
    d1, d2 = counts["decisions"], counts_b["decisions"]
    assert abs(d1 - d2) < 5 * np.sqrt(d1 + d2)


def test_new_ties_prefer_attractive_people_and_rows_can_grow() -> None:
    net, _, _ = _build(8_000, seed=2, avoidance={"slack": 0, "pool": 1.0})
    n = net.size
    rng = np.random.default_rng(3)
    low = rng.random(n) < 0.2
    star = rng.random(n) < 0.01
    attractiveness = star.astype(float)
    params = nw.Avoidance(p_drop=0.5, p_new=1.0, preference=8.0)
    before = net.degree()
    counts = net.rewire(low, attractiveness, day=0, seed=2, params=params)
    _check_graph(net)
    gained = net.degree().astype(float) - before
    assert counts["moved"] > 0  # full rows moved to the pool
    assert gained[star].mean() > 10 * max(gained[~star & ~low].mean(), 0.1)
    edges_before = net.edges()
    net.compact()
    assert net.pool_free() == int(np.ceil(1.0 * n))
    assert all(np.array_equal(a, b) for a, b in zip(net.edges(), edges_before, strict=True))


def test_spent_pool_counts_failures_then_compacts() -> None:
    net, _, _ = _build(8_000, seed=2, avoidance={"slack": 0, "pool": 0.01})
    n = net.size
    low = np.random.default_rng(3).random(n) < 0.3
    attractiveness = (np.arange(n) < 20).astype(float)  # 20 stars everyone wants
    params = nw.Avoidance(p_drop=0.5, p_new=1.0, preference=10.0, tries=5)
    first = net.rewire(low, attractiveness, day=0, seed=2, params=params)
    assert first["failed"] > 0 and first["pool_free"] < 0.25 * 0.01 * n
    _check_graph(net)
    second = net.rewire(low, attractiveness, day=1, seed=2, params=params)
    assert second["compacted"] == 1
    _check_graph(net)


def test_rewire_rejects_bad_input(graph: tuple) -> None:
    net, _, _ = graph
    with pytest.raises(ValueError, match="low: shape"):
        net.rewire(np.zeros(3, bool), np.zeros(net.size), 0, 1, nw.Avoidance())


# --------------------------------------------------------------------------------------
# Determinism and memory
# --------------------------------------------------------------------------------------


def _arrays(net: nw.Network) -> list[np.ndarray]:
    return [
        net.indptr,
        net.indices,
        net.pool_top,
        net.household,
        net.next_member,
        net.role,
        net.group,
    ]


def _build_and_rewire(seed: int) -> tuple[nw.Network, dict]:
    net, _, _ = _build(20_000, seed=seed)
    low = np.random.default_rng(0).random(net.size) < 0.1
    counts = net.rewire(low, (~low).astype(float), 7, seed, nw.Avoidance(p_drop=0.4))
    return net, counts


def test_same_seed_same_bytes_on_any_thread_count() -> None:
    a, ca = _build_and_rewire(9)
    b, cb = _build_and_rewire(9)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        c, cc = _build_and_rewire(9)
    finally:
        numba.set_num_threads(threads)
    for x, y, z in zip(_arrays(a), _arrays(b), _arrays(c), strict=True):
        assert np.array_equal(x, y) and np.array_equal(x, z)
    assert ca == cb == cc and a.stats == b.stats == c.stats
    d, _ = _build_and_rewire(10)
    assert not np.array_equal(a.indices, d.indices)


def test_memory_under_64_bytes_per_citizen_at_mean_degree_10() -> None:
    net, _, _ = _build(100_000, seed=4)
    assert net.degree().mean() == pytest.approx(10, abs=0.1)
    assert net.nbytes() / net.size < 64


def test_neighbour_means_equal_two_neighbour_mean_calls() -> None:
    import panopticon as pn

    net = pn.Simulation(pn.load("seed-article", population=20_000, days=2)).need("network")
    rng = np.random.default_rng(5)
    a, b = rng.random(net.size), rng.random(net.size)
    ma, mb = net.neighbour_means(a, b, default=0.5)
    assert np.array_equal(ma, net.neighbour_mean(a, default=0.5))
    assert np.array_equal(mb, net.neighbour_mean(b, default=0.5))


@pytest.mark.parametrize("weighted", [True, False])
def test_first_proposals_drawn_ahead_or_inline_give_the_same_graph(
    weighted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`_first_partners` (large rounds) and `_new_ties`' own draws make the same ties."""
    params = nw.Avoidance(p_drop=0.5, p_new=1.0, preference=4.0 if weighted else 0.0, tries=3)
    graphs = []
    for predraw in (1 << 40, 0):
        monkeypatch.setattr(avoidance, "PREDRAW_FROM", predraw)
        net, _, _ = _build(8_000, seed=5, avoidance={"slack": 0, "pool": 0.2})
        rng = np.random.default_rng(4)
        low = rng.random(net.size) < 0.2
        counts = net.rewire(low, rng.random(net.size), day=3, seed=5, params=params)
        assert counts["new"] > 0
        graphs.append(net.edges())
    assert all(np.array_equal(a, b) for a, b in zip(*graphs, strict=True))
