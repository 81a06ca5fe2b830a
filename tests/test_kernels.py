"""Fused Numba kernels checked bit for bit against slow, obvious Python references.

Each kernel does in one pass what its reference here does the plain way:

- `_trigger_status` keeps a bit-packed status word per citizen and the running counts of
  every score trigger up to date, re-examining only the touched citizens; the reference
  recounts everyone from scratch with nested loops.
- `_behave_kernel` draws a day's acts block by block from counter-based streams; the
  reference replays the same streams through a pure-Python SplitMix64 on Python
  integers (one iterator per stream, so no counter bookkeeping) and thins each
  candidate act the obvious way.

Inputs are randomised with hypothesis (few examples, no deadline) plus fixed cases that
can be checked by hand; every comparison is exact. One statistical check compares act
counts with the model's Poisson means, within Z standard deviations of the count.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from panopticon.core import streams
from panopticon.core.params import SCORE_BOUND
from panopticon.core.population import BLOCK, build, draw_propensity, tail_quantile
from panopticon.scenario.schema import Population as PopulationParams
from panopticon.scenario.schema import Trigger
from panopticon.stages.behave.behave import _behave_kernel, _count_acts, kind_alias
from panopticon.stages.sanction.triggers import (
    MAX_TRIGGERS,
    ScoreTrigger,
    ScoreTriggers,
    _trigger_status,
)
from panopticon.stages.score.grades import Grades

FEW = settings(max_examples=20, deadline=None, database=None)
Z = 5.0  # standard deviations: a false alarm is a ~1e-6 event per check

# ---------------------------------------------------------------------------------------
# Reference streams: SplitMix64 on Python integers (reduced mod 2^64 by hand)
# ---------------------------------------------------------------------------------------

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


def ref_mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


def ref_key(seed: int, stage: int, day: int, block: int) -> int:
    k = ref_mix((seed + _GOLDEN) & _MASK)
    k = ref_mix(k ^ ((stage * _M1) & _MASK))
    k = ref_mix(k ^ (((day + 1) * _M2) & _MASK))
    return ref_mix(k ^ (((block + 1) * _GOLDEN) & _MASK))


def ref_uniform(key: int, counter: int) -> float:
    return (ref_mix((key + counter * _GOLDEN) & _MASK) >> 11) / 2.0**53


class Stream:
    """The successive draws of one stream: the n-th call returns draw n."""

    def __init__(self, key: int) -> None:
        self.key, self.counter = key, 0

    def next(self) -> float:
        u = ref_uniform(self.key, self.counter)
        self.counter += 1
        return u


def ref_poisson(stream: Stream, mean: float) -> int:
    """Knuth's method: count draws until the running product falls to exp(-mean).

    Large means are split into equal parts of at most 500, as the library does.
    """
    if mean <= 0.0:
        return 0
    parts = int(mean // 500.0) + 1
    limit = math.exp(-(mean / parts))
    total = 0
    for _ in range(parts):
        product = stream.next()
        while product > limit:
            total += 1
            product *= stream.next()
    return total


@FEW
@given(
    seed=st.integers(0, 2**32 - 1),
    stage=st.integers(0, 200),
    day=st.integers(0, 10_000),
    block=st.integers(0, 100_000),
    counter=st.integers(0, 2**40),
    mean=st.one_of(st.floats(0.0, 30.0), st.floats(400.0, 1100.0)),
)
def test_reference_streams_are_the_library_streams(
    seed: int, stage: int, day: int, block: int, counter: int, mean: float
) -> None:
    key = ref_key(seed, stage, day, block)
    assert int(streams.stream_key(seed, stage, day, block)) == key
    # the library's uniform must be called with a uint64 key, as the kernels do
    for c in (0, 1, counter):
        assert streams.uniform(np.uint64(key), np.uint64(c)) == ref_uniform(key, c)
    s = Stream(key)
    s.counter = counter
    count = ref_poisson(s, mean)
    got, after = streams.poisson(np.uint64(key), np.uint64(counter), mean)
    assert (int(got), int(after)) == (count, s.counter)


# ---------------------------------------------------------------------------------------
# _trigger_status: bit-packed trigger status and counts, incremental vs from scratch
# ---------------------------------------------------------------------------------------

INF = math.inf
INT_GRID = [-5, 0, 100, 249, 250, 251, 500, 749, 750, 751, 1000]
# the schema's score bounds: the extremes a trigger may take (nan and inf are refused)
FLOAT_GRID = [*INT_GRID, 249.5, 250.5, 750.5, -SCORE_BOUND, SCORE_BOUND]


def ref_grade(value: float, lows: list[float]) -> int:
    """Code of the best band (lows sorted best first) whose low the value reaches."""
    for code, low in enumerate(lows):
        if value >= low:
            return code
    return len(lows) - 1


def ref_trigger_status(
    score: np.ndarray,
    true_score: np.ndarray,
    grade: list[int] | None,
    true_grade: list[int] | None,
    conditions: list[tuple[float, float, set[int] | None]],
) -> tuple[np.ndarray, np.ndarray]:
    """Everyone's status word and every trigger's counts, recomputed from nothing.

    A condition (above, below, allowed) holds for a value v in grade g when
    above < v < below and g is allowed (None: every grade). Bit 2t of the word: trigger
    t holds for the score; bit 2t+1: it holds for the true score. counts[t] =
    (triggered, triggered but not in truth, in truth but not triggered).
    """
    status = np.zeros(len(score), dtype=np.uint32)
    counts = np.zeros((len(conditions), 3), dtype=np.int64)
    for i in range(len(score)):
        word = 0
        for t, (above, below, allowed) in enumerate(conditions):
            on = above < float(score[i]) < below and (allowed is None or grade[i] in allowed)
            truth = above < float(true_score[i]) < below and (
                allowed is None or true_grade[i] in allowed
            )
            word += (int(on) + 2 * int(truth)) * 4**t
            counts[t, 0] += on
            counts[t, 1] += on and not truth
            counts[t, 2] += truth and not on
        status[i] = word
    return status, counts


def _policy(
    bands: dict[str, tuple[float, float]], score: np.ndarray, true_score: np.ndarray
) -> SimpleNamespace:
    """The parts of a score policy that ScoreTriggers reads."""
    grades = Grades(bands, score, true_score) if bands else None
    return SimpleNamespace(score=score, true_score=true_score, grades=grades, scheduled=False)


def _check_group(
    group: ScoreTriggers,
    views: list[ScoreTrigger],
    triggers: list[Trigger],
    bands: dict[str, tuple[float, float]],
) -> None:
    """The group's status and counts, and each trigger's view, equal a full recount."""
    pol = group.policy
    best_first = sorted(bands, key=lambda name: -bands[name][0])
    lows = [bands[name][0] for name in best_first]
    grade = true_grade = None
    if bands:
        grade = [ref_grade(float(v), lows) for v in pol.score]
        true_grade = [ref_grade(float(v), lows) for v in pol.true_score]
        assert list(pol.grades.grade) == grade  # precondition: the grades are right
        assert list(pol.grades.true_grade) == true_grade
    conditions = [
        (
            -INF if t.above is None else t.above,
            INF if t.below is None else t.below,
            {best_first.index(name) for name in t.grades} if t.grades else None,
        )
        for t in triggers
    ]
    status, counts = ref_trigger_status(pol.score, pol.true_score, grade, true_grade, conditions)
    assert group.status.dtype == np.uint32
    np.testing.assert_array_equal(group.status, status)
    np.testing.assert_array_equal(group.counts, counts)
    for t, view in enumerate(views):
        on, truth = view.members(0)
        np.testing.assert_array_equal(on, (status >> np.uint32(2 * t)) & 1 == 1)
        np.testing.assert_array_equal(truth, (status >> np.uint32(2 * t + 1)) & 1 == 1)
        assert (view.triggered, view.wrongly, view.missed) == tuple(counts[t])


def test_score_triggers_fixed_case() -> None:
    # grades A [950, 1000], B [900, 950), C below 900; t0: score < 900; t1: grade B and > 920
    bands = {"C": (0.0, 900.0), "A": (950.0, 1000.0), "B": (900.0, 950.0)}
    score = np.array([850, 930, 900, 940], dtype=np.int16)
    true_score = np.array([1000, 880, 900, 925], dtype=np.int16)
    pol = _policy(bands, score, true_score)
    triggers = [Trigger(below=900), Trigger(grades=["B"], above=920)]
    group = ScoreTriggers(pol)
    views = [ScoreTrigger(group, group.add(t)) for t in triggers]
    group.refresh(None)
    # citizen 0: t0 by score only (bit 0); 1: t0 in truth only (bit 1), t1 by score only
    # (bit 2); 2: 900 < 900 fails, nothing; 3: t1 both ways (bits 2 and 3)
    assert group.status.tolist() == [1, 2 + 4, 0, 4 + 8]
    assert group.counts.tolist() == [[1, 1, 1], [2, 1, 0]]
    # citizen 2 moves to (899: grade C, 921: grade B): t0 by score only, t1 in truth only
    score[2], true_score[2] = 899, 921
    touched = np.array([2], dtype=np.int32)
    pol.grades.refresh(touched)
    group.refresh(touched)
    assert group.status.tolist() == [1, 6, 1 + 8, 12]
    assert group.counts.tolist() == [[2, 2, 1], [2, 1, 1]]
    _check_group(group, views, triggers, bands)


def test_trigger_kernel_all_sixteen_triggers_fill_the_word() -> None:
    n = 5
    n_t = MAX_TRIGGERS
    status = np.zeros(n, dtype=np.uint32)
    counts = np.zeros((n_t, 3), dtype=np.int64)
    empty = np.empty(0, dtype=np.uint8)
    score = np.arange(n, dtype=np.float64)
    below, above = np.full(n_t, INF), np.full(n_t, -INF)
    bits = np.full(n_t, -1, dtype=np.int64)
    ids = np.arange(n, dtype=np.int32)
    _trigger_status(ids, score, score, empty, empty, below, above, bits, status, counts)
    assert status.tolist() == [2**32 - 1] * n
    assert counts.tolist() == [[n, 0, 0]] * n_t
    # the last trigger now excludes scores above 2 in truth only: bit 31 clears for 3, 4
    true_score = np.where(score > 2, 10.0, score)
    below[-1] = 5.0
    _trigger_status(ids, score, true_score, empty, empty, below, above, bits, status, counts)
    assert status.tolist() == [2**32 - 1] * 3 + [2**31 - 1] * 2
    assert counts[-1].tolist() == [n, 2, 0]
    assert counts[:-1].tolist() == [[n, 0, 0]] * (n_t - 1)


@FEW
@given(data=st.data())
def test_score_triggers_stay_equal_to_a_full_recount(data: st.DataObject) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="rng"))
    n = data.draw(st.integers(1, 150), label="n")
    dtype = data.draw(st.sampled_from([np.int16, np.int32, np.float64]), label="dtype")
    grid = INT_GRID if dtype != np.float64 else [v for v in FLOAT_GRID if abs(v) < SCORE_BOUND]
    n_grades = data.draw(st.integers(0, 4), label="grades")
    lows = rng.choice(INT_GRID, n_grades, replace=False).tolist()
    bands = {f"g{k}": (float(low), 1000.0) for k, low in enumerate(lows)}  # any dict order
    names = list(bands)
    bound = st.one_of(st.none(), st.sampled_from(FLOAT_GRID))
    condition = st.builds(
        Trigger,
        grades=st.lists(st.sampled_from(names), unique=True) if names else st.just([]),
        below=bound,
        above=bound,
    )
    triggers = data.draw(st.lists(condition, min_size=1, max_size=MAX_TRIGGERS), label="t")
    score = rng.choice(grid, n).astype(dtype)
    true_score = rng.choice(grid, n).astype(dtype)
    pol = _policy(bands, score, true_score)
    group = ScoreTriggers(pol)
    views = [ScoreTrigger(group, group.add(t)) for t in triggers]
    group.refresh(None)
    _check_group(group, views, triggers, bands)
    for _ in range(data.draw(st.integers(1, 6), label="days")):
        changed = rng.choice(n, size=rng.integers(0, n + 1), replace=False)
        score[changed] = rng.choice(grid, changed.size)
        true_score[changed] = rng.choice(grid, changed.size)
        # touched: every changed citizen, some unchanged ones, some twice, in any order
        extra = rng.integers(0, n, size=rng.integers(0, 8))
        touched = rng.permutation(np.concatenate([changed, extra, changed[:3]]))
        touched = touched.astype(np.int32)
        everyone = rng.random() < 0.2  # a population-wide pass (recovery, recomputation)
        if pol.grades is not None:
            pol.grades.refresh_all() if everyone else pol.grades.refresh(touched)
        group.refresh(None if everyone else touched)
        _check_group(group, views, triggers, bands)


@FEW
@given(data=st.data())
def test_trigger_kernel_any_grade_code_and_mask(data: st.DataObject) -> None:
    """Grade codes up to 61 and arbitrary 62-bit masks, scores of any float dtype."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="rng"))
    n = data.draw(st.integers(1, 100), label="n")
    n_t = data.draw(st.integers(1, MAX_TRIGGERS), label="triggers")
    use_grades = data.draw(st.booleans(), label="use_grades")
    dtype = data.draw(st.sampled_from([np.float32, np.float64]), label="dtype")
    grid = np.array([v for v in FLOAT_GRID if abs(v) < SCORE_BOUND])
    below = rng.choice([*FLOAT_GRID, -INF, INF], n_t)  # the kernel's "no bound" is inf
    above = rng.choice([*FLOAT_GRID, -INF, INF], n_t)
    # a trigger naming no grades has every bit set; without grades, none names any
    masks = rng.integers(0, 2**62, n_t, dtype=np.int64)
    masks[(rng.random(n_t) < 0.3) | (not use_grades)] = -1
    conditions = [
        (
            above[t],
            below[t],
            None if masks[t] == -1 else {g for g in range(62) if masks[t] >> g & 1},
        )
        for t in range(n_t)
    ]

    def draw_grade() -> np.ndarray:
        if not use_grades:
            return np.empty(0, dtype=np.uint8)
        return rng.integers(0, 62, n).astype(np.uint8)

    score, true_score = rng.choice(grid, n).astype(dtype), rng.choice(grid, n).astype(dtype)
    grade, true_grade = draw_grade(), draw_grade()
    status = np.zeros(n, dtype=np.uint32)
    counts = np.zeros((n_t, 3), dtype=np.int64)
    ids = np.arange(n, dtype=np.int32)
    for _ in range(data.draw(st.integers(1, 5), label="days")):
        _trigger_status(
            ids, score, true_score, grade, true_grade, below, above, masks, status, counts
        )
        g = grade.tolist() if use_grades else None
        tg = true_grade.tolist() if use_grades else None
        ref_status, ref_counts = ref_trigger_status(score, true_score, g, tg, conditions)
        np.testing.assert_array_equal(status, ref_status)
        np.testing.assert_array_equal(counts, ref_counts)
        changed = rng.choice(n, size=rng.integers(0, n + 1), replace=False)
        score[changed] = rng.choice(grid, changed.size)
        true_score[changed] = rng.choice(grid, changed.size)
        if use_grades:
            grade[changed] = rng.integers(0, 62, changed.size)
            true_grade[changed] = rng.integers(0, 62, changed.size)
        ids = np.concatenate([changed, changed[:2]]).astype(np.int32)


# ---------------------------------------------------------------------------------------
# _behave_kernel: the day's acts, replayed draw by draw
# ---------------------------------------------------------------------------------------


@FEW
@given(
    seed=st.integers(0, 2**40),
    stage=st.integers(0, 200),
    day=st.integers(0, 10_000),
)
def test_numpy_stream_keys_are_the_kernel_keys(seed: int, stage: int, day: int) -> None:
    """`streams.stream_keys` (NumPy, for set-up) gives `stream_key`'s bits for every block."""
    blocks = np.array([0, 1, 4095, 100_000, 2**31 + 5], dtype=np.int64)
    got = streams.stream_keys(seed, stage, day, blocks)
    assert got.dtype == np.uint64
    assert [int(k) for k in got] == [ref_key(seed, stage, day, int(b)) for b in blocks]


def test_population_block_data_is_the_reference() -> None:
    """The per-block keys, top citizens and strata alias table that `build` computes in
    NumPy are those of the model: keys from the POPULATION streams, the top rank's local
    id from the Feistel bijection, its tail q from its own uniform, and an alias table
    that gives every body stratum its envelope's share of the draws."""
    n, seed = 3 * BLOCK + 100, 11
    params = PopulationParams(size=n)
    pop = build(params, seed)
    for b in range(pop.n_blocks):
        pk = ref_key(seed, streams.POPULATION, 0, b)
        vk = ref_key(seed, streams.POPULATION, 1, b)
        assert (int(pop.perm_key[b]), int(pop.v_key[b])) == (pk, vk)
        j = ref_local_id(pk, BLOCK - 1)
        assert int(pop.top_j[b]) == j
        if b * BLOCK + j < n:
            q = (1.0 - ref_uniform(vk, j)) / BLOCK
            assert pop.top_g[b] == tail_quantile(params.propensity.shape, np.array([q]))[0]
        else:
            assert pop.top_g[b] == 0.0
    k = BLOCK - 1
    assert pop.strata_alias.dtype == np.int32 and pop.strata_prob.dtype == np.float64
    mass = pop.strata_prob.copy()
    np.add.at(mass, pop.strata_alias, 1.0 - pop.strata_prob)
    want = pop.strata_env * k / pop.strata_env.sum()
    np.testing.assert_allclose(mass, want, rtol=0, atol=1e-9)
    assert math.isclose(pop.strata_total, float(pop.strata_env.sum()), rel_tol=1e-12)


def ref_pick(table: np.ndarray, stream: Stream) -> int:
    """A behaviour from an alias table (row 0: keep chance, row 1: alias); one draw."""
    x = stream.next() * table.shape[1]
    k = int(x)
    return int(table[1, k]) if x - k >= table[0, k] else k


def ref_local_id(key: int, rank: int) -> int:
    """The local id holding rank `rank` in its block: four Feistel rounds on 6-bit halves."""

    def f(i: int, half: int) -> int:
        return ref_mix((key + (half + 64 * i) * _GOLDEN) & _MASK) & 63

    left, right = rank >> 6, rank & 63
    left ^= f(0, right)
    right ^= f(1, left)
    left ^= f(2, right)
    right ^= f(3, left)
    return (left << 6) | right


def ref_behave(args: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(actor, kind, acts per citizen) of one day, the slow way.

    Per block: a Poisson number of propensity-driven candidates (stream BEHAVE) at the
    block's envelope, each the top citizen or a body stratum's citizen (alias table, then
    the block's rank bijection), kept with probability g / e_r (g: the library's derived
    propensity, compared exactly, with no squeeze) and then a behaviour when there are
    several; then a Poisson number of uniform candidates (stream BEHAVE_UNIFORM), each a
    uniformly chosen citizen then a behaviour. A candidate (i, k) is dropped when i's age
    is outside k's range, else kept with probability multiplier[k] (times deterrence[i]
    for a negative behaviour), which costs a draw only when below 1. On the `simple` path
    every candidate takes two draws, x (who) and w (kept iff w x e_r < g x d; w < d for
    the top citizen).
    """
    a = SimpleNamespace(**args)
    n = a.n
    g = a.propensity
    actors: list[int] = []
    kinds: list[int] = []

    def keep(stream: Stream, i: int, k: int, multiplier: np.ndarray) -> bool:
        if a.age.size and not a.age_lo[k] <= a.age[i] <= a.age_hi[k]:
            return False
        p = float(multiplier[k])
        if not a.undeterred[k]:
            p *= float(a.deterrence[i])
        return p >= 1.0 or stream.next() < p

    total = float(a.s_total)
    for b in range(a.top_g.size):
        lo = b * BLOCK
        m = min(n, lo + BLOCK) - lo
        weight = total + float(a.top_g[b])
        s = Stream(ref_key(a.seed, streams.BEHAVE, a.day, b))
        for _ in range(ref_poisson(s, a.rate_a * weight)):
            x = s.next() * weight
            w = s.next() if a.simple else 0.0  # the simple path: two draws per candidate
            if x >= total:
                i, r = lo + int(a.top_j[b]), -1
            else:
                y = x / total * (BLOCK - 1)
                r = min(int(y), BLOCK - 2)
                if y - r >= float(a.s_prob[r]):
                    r = int(a.s_alias[r])
                j = ref_local_id(int(a.perm_key[b]), r)
                if j >= m:  # an empty slot of a partial block
                    continue
                i = lo + j
            env = float(a.s_env[r]) if r >= 0 else 0.0
            if a.simple:
                d = float(a.deterrence[i])
                ok = w < d if r < 0 else w * env < float(g[i]) * d
                k = 0
            else:
                if r >= 0 and not s.next() * env < float(g[i]):
                    continue
                k = ref_pick(a.kinds_a, s) if a.kinds_a.shape[1] > 1 else 0
                ok = keep(s, i, k, a.multiplier)
            if ok:
                actors.append(i)
                kinds.append(k)
        s = Stream(ref_key(a.seed, streams.BEHAVE_UNIFORM, a.day, b))
        for _ in range(ref_poisson(s, a.rate_b * m)):
            i = lo + int(s.next() * m)
            k = ref_pick(a.kinds_b, s) if a.kinds_b.shape[1] > 1 else 0
            if keep(s, i, k, a.multiplier_b):
                actors.append(i)
                kinds.append(k)
    actor = np.array(actors, dtype=np.int32)
    return actor, np.array(kinds, dtype=np.uint8), np.bincount(actor, minlength=n)


def behave_args(
    seed: int,
    day: int,
    n: int,
    rates: np.ndarray,
    loading: np.ndarray,
    positive: np.ndarray,
    ages: np.ndarray,
    age: np.ndarray,
    multiplier: np.ndarray,
    multiplier_b: np.ndarray,
    deterrence: np.ndarray,
) -> dict[str, Any]:
    """The kernel's inputs for a catalog, split into the two sources as Behave does."""
    params = PopulationParams(size=n)
    pop = build(params, seed)
    return {
        "seed": seed,
        "day": day,
        "deterrence": deterrence.astype(np.float32),
        "n": n,
        "top_g": pop.top_g,
        "top_j": pop.top_j,
        "perm_key": pop.perm_key,
        "v_key": pop.v_key,
        "s_prob": pop.strata_prob,
        "s_alias": pop.strata_alias,
        "s_env": pop.strata_env,
        "s_low": pop.strata_low,
        "s_total": pop.strata_total,
        "table": pop.table,
        "rate_a": float((rates * loading).sum()),
        "kinds_a": kind_alias(rates * loading),
        "rate_b": float((rates * (1.0 - loading)).sum()),
        "kinds_b": kind_alias(rates * (1.0 - loading)),
        "undeterred": positive.astype(np.bool_),  # rewarded (or lawful): not deterred
        "multiplier": multiplier.astype(np.float64),
        "multiplier_b": multiplier_b.astype(np.float64),
        "age": age.astype(np.uint8),
        "age_lo": ages[:, 0].astype(np.uint8),
        "age_hi": ages[:, 1].astype(np.uint8),
    }


REF_ONLY = ("propensity", "simple")


def run_kernel(
    args: dict[str, Any], committed: np.ndarray, simple: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Call the kernel with `args` (its parameters by name) on `committed`."""
    kernel_args = {k: v for k, v in args.items() if k not in REF_ONLY}
    actor, kind = _behave_kernel(**kernel_args, simple=simple)
    _count_acts(actor, committed)  # what Behave.step does after the draw
    return actor, kind


def check_against_reference(args: dict[str, Any], simple: bool) -> np.ndarray:
    """Kernel and reference agree on actors, kinds and the committed counts."""
    n = args["n"]
    before = (np.arange(n) % 7).astype(np.uint16)
    committed = before.copy()
    actor, kind = run_kernel(args, committed, simple)
    params = PopulationParams(size=n)
    propensity = draw_propensity(params, args["seed"], 0, n)
    ref_actor, ref_kind, per_citizen = ref_behave(
        {**args, "propensity": propensity, "simple": simple}
    )
    assert actor.dtype == np.int32 and kind.dtype == np.uint8
    np.testing.assert_array_equal(actor, ref_actor)
    np.testing.assert_array_equal(kind, ref_kind)
    np.testing.assert_array_equal(committed, before + per_citizen)
    return kind


def minimal_like(args: dict[str, Any]) -> bool:
    """What Behave.step requires before it takes the kernel's `simple` path."""
    return bool(
        args["age"].size == 0
        and not args["undeterred"].any()
        and (args["multiplier"] == 1.0).all()
        and args["rate_b"] == 0.0
    )


@FEW
@given(data=st.data())
def test_behave_kernel_matches_reference(data: st.DataObject) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="rng"))
    seed = data.draw(st.integers(0, 2**31), label="seed")
    day = data.draw(st.integers(0, 1000), label="day")
    n = data.draw(st.integers(1, 3 * BLOCK), label="n")
    k = data.draw(st.integers(1, 5), label="behaviours")
    simple = data.draw(st.booleans(), label="minimal-like")
    rates = rng.uniform(0.0, 0.1, k) * (rng.random(k) < 0.9)
    deterrence = np.where(rng.random(n) < 0.5, 1.0, rng.uniform(0.0, 1.0, n))
    if simple:  # propensity-driven, negative, all ages, full rate: the minimal model's path
        loading, positive = np.ones(k), np.zeros(k, dtype=bool)
        ages = np.tile([0, 120], (k, 1))
        mult = mult_b = np.ones(k)
        age = np.empty(0)
    else:
        loading = rng.choice([0.0, 1.0, -1.0], k)
        loading[loading < 0] = rng.uniform(0.0, 1.0, (loading < 0).sum())
        positive = rng.random(k) < 0.4
        lo = rng.integers(0, 60, k) * (rng.random(k) < 0.6)
        ages = np.stack([lo, np.where(rng.random(k) < 0.5, 120, lo + rng.integers(0, 40, k))], 1)
        mult = np.where(rng.random(k) < 0.5, 1.0, rng.uniform(0.05, 1.0, k))
        mult_b = np.where(rng.random(k) < 0.5, 1.0, rng.uniform(0.05, 1.0, k))
        age = rng.integers(0, 100, n) if rng.random() < 0.8 else np.empty(0)
    args = behave_args(seed, day, n, rates, loading, positive, ages, age, mult, mult_b, deterrence)
    check_against_reference(args, simple=False)
    if minimal_like(args):
        check_against_reference(args, simple=True)


def test_behave_kernel_fixed_cases() -> None:
    n = BLOCK + 100  # a full block and a partial one
    k = 3
    rates = np.array([0.2, 0.1, 0.3])
    loading = np.array([1.0, 0.5, 0.0])
    ages = np.array([[0, 120], [0, 120], [0, 120]])
    ones, none = np.ones(k), np.empty(0)

    def args(**kw: Any) -> dict[str, Any]:
        base = {"positive": np.zeros(k, dtype=bool), "ages": ages, "age": none}
        base.update(kw)
        return behave_args(
            1,
            5,
            n,
            rates,
            loading,
            base["positive"],
            base["ages"],
            base["age"],
            ones,
            ones,
            base.get("deterrence", np.ones(n)),
        )

    # no deterrence, no multiplier: the acts are the two Poisson draws less the thinning
    full = args()
    kind = check_against_reference(full, simple=False)
    envelope = [full["s_total"] + full["top_g"][b] for b in range(2)]
    candidates = sum(
        ref_poisson(Stream(ref_key(1, streams.BEHAVE, 5, b)), full["rate_a"] * weight)
        + ref_poisson(Stream(ref_key(1, streams.BEHAVE_UNIFORM, 5, b)), full["rate_b"] * m)
        for b, (m, weight) in enumerate(zip([BLOCK, 100], envelope, strict=True))
    )
    # only the propensity's thinning (and the partial block's empty slots) drops candidates
    full_block = ref_poisson(Stream(ref_key(1, streams.BEHAVE, 5, 0)), full["rate_a"] * envelope[0])
    assert 0.95 * full_block <= kind.size <= candidates
    assert set(kind.tolist()) == {0, 1, 2}
    # total deterrence stops every negative act ...
    stopped = args(deterrence=np.zeros(n))
    assert check_against_reference(stopped, simple=False).size == 0
    # ... but never a rewarded one
    rewarded = args(deterrence=np.zeros(n), positive=np.array([False, True, False]))
    assert set(check_against_reference(rewarded, simple=False).tolist()) == {1}
    # a ten-year-old never does what only adults do
    adult = args(age=np.full(n, 10), ages=np.array([[0, 120], [18, 90], [11, 120]]))
    assert set(check_against_reference(adult, simple=False).tolist()) == {0}
    # the minimal model: one behaviour, partial deterrence, its short path draws the same
    one = behave_args(
        7,
        0,
        n,
        np.array([0.02]),
        np.ones(1),
        np.zeros(1, dtype=bool),
        ages[:1],
        none,
        np.ones(1),
        np.ones(1),
        np.where(np.arange(n) % 3 == 0, 0.5, 1.0),
    )
    assert minimal_like(one)
    assert check_against_reference(one, simple=True).size > 0


def test_behave_kernel_counts_follow_the_model_law() -> None:
    """Acts of kind k over D days are Poisson with mean D * sum_i lambda_ik, where

    lambda_ik = rate_k * eligible_ik * d_ik * (loading_k * g_i * m_ak + (1 - loading_k) * m_bk)

    (d_ik = deterrence_i for a negative behaviour, 1 for a rewarded one), given the
    propensities g_i. Checked per kind and per deterred/undeterred citizens, within Z
    Poisson standard deviations; acts of ineligible citizens must be exactly zero.
    """
    seed, n, days = 11, 2 * BLOCK + 500, 30
    rates = np.array([0.3, 0.2, 0.1, 0.15])
    loading = np.array([1.0, 0.4, 0.0, 0.7])
    positive = np.array([False, False, True, True])
    ages = np.array([[0, 120], [18, 64], [10, 90], [0, 120]])
    mult = np.array([0.9, 0.5, 1.0, 0.3])
    mult_b = np.array([1.0, 0.6, 0.8, 0.3])
    rng = np.random.default_rng(5)
    age = rng.integers(0, 100, n)
    deterred = rng.random(n) < 0.5
    deterrence = np.where(deterred, rng.uniform(0.2, 1.0, n), 1.0).astype(np.float32)
    g = draw_propensity(PopulationParams(size=n), seed, 0, n)
    counts = np.zeros((rates.size, n), dtype=np.int64)
    committed = np.zeros(n, dtype=np.uint16)
    args = behave_args(seed, 0, n, rates, loading, positive, ages, age, mult, mult_b, deterrence)
    for day in range(days):
        args["day"] = day
        actor, kind = run_kernel(args, committed, simple=False)
        np.add.at(counts, (kind, actor), 1)
    np.testing.assert_array_equal(committed, counts.sum(axis=0))
    for k in range(rates.size):
        eligible = (age >= ages[k, 0]) & (age <= ages[k, 1])
        assert counts[k, ~eligible].sum() == 0
        d = np.ones(n) if positive[k] else deterrence.astype(np.float64)
        lam = rates[k] * eligible * d * (loading[k] * g * mult[k] + (1 - loading[k]) * mult_b[k])
        for part in (deterred, ~deterred):
            mean = days * lam[part].sum()
            got = counts[k, part].sum()
            assert abs(got - mean) <= Z * math.sqrt(mean), (k, got, mean)


# _apply_kernel (points ledger), _observe_kernel, _update_touched (blacklist) and
# _level_kernel (adapt): split into parts (threads), the same results for any number


def ref_apply(
    target: np.ndarray,
    kinds: np.ndarray,
    correct: np.ndarray,
    delta: np.ndarray,
    floor: int,
    cap: int,
    score: np.ndarray,
    true_score: np.ndarray,
    window: np.ndarray,
    blocks: np.ndarray,
    sign: int,
) -> int:
    """The ledger's records one by one in list order, in plain Python (no drops)."""
    total = 0
    for j, k, ok in zip(target.tolist(), kinds.tolist(), correct.tolist(), strict=True):
        d = sign * int(delta[k])
        new = min(cap, max(floor, int(score[j]) + d))
        total += new - int(score[j])
        score[j] = new
        if ok:
            true_score[j] = min(cap, max(floor, int(true_score[j]) + d))
        if sign > 0 and blocks[k]:
            window[j] |= 3 if ok else 1
    return total


@FEW
@given(data=st.data())
def test_ledger_apply_is_the_same_in_any_number_of_parts(data: st.DataObject) -> None:
    from panopticon.stages.score.ledger import NO_DROP, _apply_kernel

    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="rng"))
    n = data.draw(st.integers(1, 300), label="citizens")
    m = data.draw(st.integers(0, 2000), label="records")
    sign = data.draw(st.sampled_from([1, -1]), label="sign")
    target = rng.integers(0, n, m).astype(np.int32)  # repeats: clamping makes order matter
    kinds = rng.integers(0, 2, m).astype(np.uint8)
    correct = rng.random(m) < 0.8
    delta = np.array([-40, 25], dtype=np.int64)
    blocks = np.array([True, False])
    drop_to = np.full(2, NO_DROP, dtype=np.int64)
    start = rng.integers(0, 1000, n).astype(np.uint16)
    want = [start.copy(), start.copy(), np.zeros(n, dtype=np.uint8)]
    ref_total = ref_apply(target, kinds, correct, delta, 0, 1000, *want, blocks, sign)
    for parts in (1, 2, 3, 7):
        for kernel in (_apply_kernel.serial, _apply_kernel.parallel):
            got = [start.copy(), start.copy(), np.zeros(n, dtype=np.uint8)]
            total = kernel(
                target, kinds, correct, delta, drop_to, 0, 1000, *got, blocks, sign, parts
            )
            assert total == ref_total
            for a, b in zip(got, want, strict=True):
                np.testing.assert_array_equal(a, b)


def test_observe_kernel_is_the_same_in_any_number_of_parts() -> None:
    from panopticon.stages.observe.observe import NO_CHANNEL, _observe_kernel

    rng = np.random.default_rng(3)
    keys = np.array([11, 12, 13], dtype=np.uint64)
    order = np.array([[0, 1], [2, NO_CHANNEL]], dtype=np.uint8)
    cam = np.array([[0.3], [0.0]])
    chan = np.array([0.0, 0.2, 0.5])
    for n in (0, 1, 5, 1000):
        actors = np.sort(rng.integers(0, 5000, n)).astype(np.int32)
        ordinal = np.zeros(n, dtype=np.uint32)
        kinds = rng.integers(0, 2, n).astype(np.uint8)
        args = (keys, actors, ordinal, kinds, np.empty(0, np.uint8), 0, order, cam, chan)
        seen, code = _observe_kernel.serial(*args, 1)
        if n == 1000:  # every channel records some acts, the rest none
            assert 0 < seen.size < n and set(code.tolist()) == {0, 1, 2}
        for parts in (2, 3, 8):
            for kernel in (_observe_kernel.serial, _observe_kernel.parallel):
                s2, c2 = kernel(*args, parts)
                np.testing.assert_array_equal(s2, seen)
                np.testing.assert_array_equal(c2, code)


def ref_observe(
    keys: np.ndarray,
    actors: np.ndarray,
    ordinal: np.ndarray,
    kinds: np.ndarray,
    region: np.ndarray,
    order: np.ndarray,
    cam: np.ndarray,
    chan: np.ndarray,
) -> tuple[list[int], list[int]]:
    """(act index, channel) of each detected act, the slow way: the act's channels in
    order, each a draw keyed by (channel key, actor, ordinal), the first success records."""
    seen, code = [], []
    for e in range(actors.size):
        a, k = int(actors[e]), int(kinds[e])
        for c in order[k].tolist():
            if c == 255:
                break
            p = float(cam[k, region[a] if region.size else 0]) if c == 0 else float(chan[c])
            ek = ref_mix((int(keys[c]) + (a + 1) * _GOLDEN) & _MASK)
            ek = ref_mix((ek + (int(ordinal[e]) + 1) * _GOLDEN) & _MASK)
            if ref_uniform(ek, 0) < p:
                seen.append(e)
                code.append(c)
                break
    return seen, code


@FEW
@given(data=st.data())
def test_observe_kernel_matches_reference(data: st.DataObject) -> None:
    from panopticon.stages.observe.observe import NO_CHANNEL, _observe_kernel

    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="rng"))
    n = data.draw(st.integers(0, 400), label="acts")
    n_kinds = data.draw(st.integers(1, 3), label="behaviours")
    n_chan = data.draw(st.integers(1, 4), label="channels")
    n_regions = data.draw(st.integers(1, 3), label="regions")
    order = np.full((n_kinds, n_chan), NO_CHANNEL, dtype=np.uint8)
    for k in range(n_kinds):  # each behaviour: some channels in some order, unused last
        use = rng.permutation(n_chan)[: rng.integers(0, n_chan + 1)]
        order[k, : use.size] = use
    keys = rng.integers(0, 2**63, n_chan).astype(np.uint64)
    cam = np.where(rng.random((n_kinds, n_regions)) < 0.3, 0.0, rng.random((n_kinds, n_regions)))
    chan = np.r_[0.0, rng.random(n_chan - 1)]
    people = 50
    actors = np.sort(rng.integers(0, people, n)).astype(np.int32)
    ordinal = rng.integers(0, 3, n).astype(np.uint32)
    kinds = rng.integers(0, n_kinds, n).astype(np.uint8)
    region = (
        rng.integers(0, n_regions, people).astype(np.uint8)
        if n_regions > 1
        else np.empty(0, np.uint8)
    )
    want = ref_observe(keys, actors, ordinal, kinds, region, order, cam, chan)
    for parts in (1, 3):
        for kernel in (_observe_kernel.serial, _observe_kernel.parallel):
            seen, code = kernel(keys, actors, ordinal, kinds, region, 0, order, cam, chan, parts)
            assert seen.tolist() == want[0]
            assert code.tolist() == want[1]


def test_blacklist_and_levels_are_the_same_in_any_number_of_parts() -> None:
    from panopticon.stages.behave.behave import _level_kernel
    from panopticon.stages.sanction.blacklist import _update_touched

    rng = np.random.default_rng(8)
    n, m = 500, 3000
    target = rng.integers(0, n, m).astype(np.int32)
    level0 = rng.integers(0, 4, n).astype(np.uint8)
    want = level0.copy()
    for j in target.tolist():  # the reference: one record at a time, capped at 5
        want[j] = min(5, want[j] + 1)
    score = rng.integers(900, 1000, n).astype(np.uint16)
    true_score = np.minimum(1000, score + rng.integers(0, 30, n)).astype(np.uint16)
    status0 = np.zeros(n, dtype=np.uint8)
    ref_status = np.where(score < 950, 1, 0) | np.where((score < 950) & (true_score >= 950), 2, 0)
    for parts in (1, 2, 5):
        for kernel in (_level_kernel.serial, _level_kernel.parallel):
            level = level0.copy()
            kernel(target, 5, level, parts)
            np.testing.assert_array_equal(level, want)
        for update in (_update_touched.serial, _update_touched.parallel):
            status, counts = status0.copy(), np.zeros(2, dtype=np.int64)
            update(target, score, true_score, 950.0, status, counts, parts)
            touched = np.zeros(n, dtype=bool)
            touched[target] = True
            np.testing.assert_array_equal(status, np.where(touched, ref_status, 0))
            assert counts.tolist() == [
                int((status & 1).sum()),
                int(((status & 2) > 0).sum()),
            ]


@pytest.mark.parametrize("minimal", [True, False])
def test_behave_kernel_levels_equal_their_values(minimal: bool) -> None:
    """d_i given as levels[level_i] (uint8 levels) draws the acts of d_i given as floats.

    The two are one kernel source; `levels is None` is decided when Numba compiles.
    """
    n, k = 2 * BLOCK + 300, 1 if minimal else 3
    rng = np.random.default_rng(11)
    levels = np.array([1.0, 0.7, 0.3, 0.05], dtype=np.float32)
    level = rng.integers(0, levels.size, n).astype(np.uint8)
    ones = np.ones(k)
    loading = np.ones(k) if minimal else np.array([1.0, 0.5, 0.0])
    ages = np.tile([0, 120], (k, 1))
    args = behave_args(
        3, 9, n, np.full(k, 0.2), loading, np.zeros(k, dtype=bool), ages, np.empty(0),
        ones, ones, levels[level],
    )  # fmt: skip
    kernel_args = {a: v for a, v in args.items() if a not in REF_ONLY}
    assert minimal_like(args) == minimal
    as_floats = _behave_kernel(**kernel_args, simple=minimal)
    kernel_args["deterrence"] = level
    as_levels = _behave_kernel(**kernel_args, simple=minimal, levels=levels)
    assert as_floats[0].size > 500  # about n x 0.2 x mean(d) = 870 acts or more
    for a, b in zip(as_floats, as_levels, strict=True):
        np.testing.assert_array_equal(a, b)


def test_record_counts_are_one_per_record() -> None:
    """`_count_kernel` (prefetching ahead) against counting one record at a time."""
    from panopticon.stages.record.records import _count_kernel

    rng = np.random.default_rng(4)
    for n, m in ((1, 0), (1, 5), (300, 17), (300, 4000)):
        target = rng.integers(0, n, m).astype(np.int32)
        correct = rng.random(m) < 0.7
        got_c, got_w = np.zeros(n, np.uint16), np.zeros(n, np.uint16)
        _count_kernel(target, correct, got_c, got_w)
        want_c, want_w = np.zeros(n, np.int64), np.zeros(n, np.int64)
        for j, ok in zip(target.tolist(), correct.tolist(), strict=True):
            if ok:
                want_c[j] += 1
            else:
                want_w[j] += 1
        np.testing.assert_array_equal(got_c, want_c)
        np.testing.assert_array_equal(got_w, want_w)
