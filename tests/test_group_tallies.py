"""The snapshot tallies of memberships per group equal the tallies of their arrays.

`groups.own_tally` counts every trigger of a score policy in one pass over the status
bits (`triggers._status_tally`), the joint-liability reach from the bits and the
households (`triggers._collateral_tally`); `ScoreTrigger.members` is one kernel
(`triggers._member_bits`). Each is compared with the plain NumPy computation it replaces,
serial and with every sized kernel's parallel twin.
"""

from __future__ import annotations

from types import SimpleNamespace

import numba
import numpy as np
import pytest

from panopticon.stages.sanction import triggers
from panopticon.stages.sanction.measures.allocation import HouseholdLiability
from panopticon.stages.sanction.measures.catalog import InWindow
from panopticon.stages.score import grades as score_grades
from panopticon.stages.snapshot.groups import _tally, collateral_tally, own_tally

N = 30_001
K = 3  # groups


def _policy(rng: np.random.Generator) -> SimpleNamespace:
    """A graded policy: scores 0-1000, grades A (>= 800) .. D (< 400)."""
    score = rng.integers(0, 1001, N).astype(np.int16)
    true = np.clip(score + rng.integers(-50, 200, N), 0, 1000).astype(np.int16)
    lows = np.array([800, 600, 400, -np.inf])

    def band(s: np.ndarray) -> np.ndarray:
        return np.argmax(s[:, None] >= lows[None, :], axis=1).astype(np.uint8)

    grades = SimpleNamespace(names=["A", "B", "C", "D"], grade=band(score), true_grade=band(true))
    return SimpleNamespace(scheduled=False, score=score, true_score=true, grades=grades)


def _set(policy: SimpleNamespace) -> triggers.ScoreTriggers:
    """Four triggers on one policy: D, C or D, A, everyone below 500."""
    group = triggers.ScoreTriggers(policy)
    for grades, below in ((["D"], None), (["C", "D"], None), (["A"], None), ([], 500.0)):
        group.add(SimpleNamespace(grades=grades, below=below, above=None))
    group.refresh(None)
    return group


def _reference_members(group: triggers.ScoreTriggers, t: int) -> tuple[np.ndarray, np.ndarray]:
    """The shifts of the status words, as `members` computed them before its kernel."""
    bits = group.status >> np.uint32(2 * t)
    return (bits & 1) > 0, (bits & 2) > 0


@pytest.fixture(params=["serial", "parallel"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Serial kernels, or every sized kernel's parallel twin on two threads."""
    if request.param == "parallel":
        monkeypatch.setattr("panopticon.core.jit.PARALLEL_FROM", 0)
        old = numba.get_num_threads()
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        request.addfinalizer(lambda: numba.set_num_threads(old))
    return str(request.param)


def test_members_and_tallies_equal_the_arrays(mode: str) -> None:
    rng = np.random.default_rng(11)
    group_of = rng.integers(0, K, N).astype(np.uint8)
    ts = _set(_policy(rng))
    cache: dict[int, object] = {}
    for t in range(4):
        trig = triggers.ScoreTrigger(ts, t)
        on, truth = trig.members(0)
        want_on, want_truth = _reference_members(ts, t)
        assert np.array_equal(on, want_on) and np.array_equal(truth, want_truth)
        assert on.sum() > 0 and (on & ~truth).sum() > 0  # something to count
        want = np.stack(
            [
                np.bincount(group_of[on], minlength=K),
                np.bincount(group_of[on & ~truth], minlength=K),
            ]
        )
        got = own_tally(trig, 0, group_of, K, cache)
        assert got.dtype == np.int64 and np.array_equal(got, want)
        assert np.array_equal(got, _tally(group_of, on, truth, K))
    assert len(cache) == 1  # one pass for the policy's four triggers


def test_collateral_tally_equals_any_other_member(mode: str) -> None:
    rng = np.random.default_rng(12)
    group_of = rng.integers(0, K, N).astype(np.uint8)
    ts = _set(_policy(rng))
    n_households = N // 3
    household = np.sort(rng.integers(0, n_households, N)).astype(np.int32)
    assert np.bincount(household).max() <= 20
    family = SimpleNamespace(
        size=N,
        household=household,
        n_households=n_households,
        any_other_member=lambda mask: (
            np.bincount(household[mask], minlength=n_households)[household] - mask > 0
        ),
    )
    for t in range(4):
        liability = HouseholdLiability(triggers.ScoreTrigger(ts, t), family)
        coll, coll_truth = liability.collateral(0)  # the arrays, through any_other_member
        want = _tally(group_of, coll, coll_truth, K)
        assert want[0].sum() > 0 and want[1].sum() > 0
        assert np.array_equal(collateral_tally(liability, 0, group_of, K), want)
        assert np.array_equal(liability.collateral_tally(0, group_of, K), want)
        cache: dict[int, object] = {}
        own = own_tally(liability, 0, group_of, K, cache)
        assert np.array_equal(own, _tally(group_of, *liability.members(0), K))


def test_a_shard_and_other_memberships_take_the_arrays() -> None:
    rng = np.random.default_rng(13)
    group_of = rng.integers(0, K, N).astype(np.uint8)
    ts = _set(_policy(rng))
    family = SimpleNamespace(size=N + 5, household=np.zeros(N + 5, np.int32), n_households=1)
    shard = HouseholdLiability(triggers.ScoreTrigger(ts, 0), family, 0, N)
    assert shard.collateral_tally(0, group_of, K) is None  # needs the barrier's households

    class Plain:
        def members(self, day: int) -> tuple[np.ndarray, np.ndarray]:
            return np.arange(N) % 3 == 0, np.arange(N) % 2 == 0

    on, truth = Plain().members(0)
    assert np.array_equal(own_tally(Plain(), 0, group_of, K, {}), _tally(group_of, on, truth, K))
    active = np.array([True, False])
    window = InWindow(triggers.ScoreTrigger(ts, 1), active, N)
    assert np.array_equal(
        own_tally(window, 0, group_of, K, {}), _tally(group_of, *window.members(0), K)
    )
    assert not own_tally(window, 1, group_of, K, {}).any()


def test_refresh_grouped_by_block_equals_the_one_pass(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    draws = np.random.default_rng(15)
    # three days of changes, some citizens twice a day (a day's records repeat ids)
    days = [draws.integers(0, N, 20_000).astype(np.int32) for _ in range(3)]
    scores = [draws.integers(0, 1001, d.size).astype(np.int16) for d in days]
    runs = []
    for blocked_from in (10**12, 0):  # the one pass in id order, then grouped by block
        monkeypatch.setattr(score_grades, "BLOCKED_FROM", blocked_from)
        policy = _policy(np.random.default_rng(14))
        ts = _set(policy)
        for touched, new in zip(days, scores, strict=True):
            policy.score[touched] = new
            policy.grades.grade[touched] = np.where(new < 400, 3, np.where(new < 600, 2, 0))
            ts.refresh(touched)
        runs.append((ts.status.copy(), ts.counts.copy()))
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])
    assert runs[0][1][:, 0].sum() > 0


def test_grade_refresh_grouped_by_block_equals_the_one_pass(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    draws = np.random.default_rng(16)
    days = [draws.integers(0, N, 20_000).astype(np.int32) for _ in range(3)]
    news = [draws.integers(0, 1001, d.size).astype(np.int16) for d in days]
    runs = []
    for blocked_from in (10**12, 0):
        monkeypatch.setattr(score_grades, "BLOCKED_FROM", blocked_from)
        rng = np.random.default_rng(17)
        score = rng.integers(0, 1001, N).astype(np.int16)
        true = np.clip(score + rng.integers(-50, 200, N), 0, 1000).astype(np.int16)
        g = score_grades.Grades({"A": (800, 1000), "B": (500, 800), "C": (0, 500)}, score, true)
        for touched, new in zip(days, news, strict=True):
            score[touched] = new
            true[touched[::2]] = new[::2]
            g.refresh(touched)
        runs.append((g.grade.copy(), g.true_grade.copy(), g.pairs().copy()))
        g.recount()  # the pairs counted from the codes
        assert np.array_equal(g.pairs(), runs[-1][2])
    for a, b in zip(runs[0], runs[1], strict=True):
        assert np.array_equal(a, b)
