"""The checks of shared/models/minimal.md, with tolerances from the sampling error.

Every tolerance is a number of standard errors (Z) of the quantity tested, computed from
the model's own variance formula or from the sample; none is tuned to the outcome. With
fixed seeds the tests are deterministic; Z = 5 makes a false alarm on a correct
implementation a ~1e-6 event per check, were the seed changed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import panopticon as pn

Z = 5.0


def simulate(sc: pn.Scenario) -> pn.Simulation:
    """Run a scenario in memory and return the simulation."""
    sim = pn.Simulation(sc)
    for _ in range(sc.run.days):
        sim.step()
    return sim


def test_day0_expectations() -> None:
    n = 1_000_000
    sim = simulate(pn.load("minimal", population=n, days=1, seed=11))
    row = {k: float(v[0]) for k, v in sim.metrics.columns.items()}
    # committed = sum of Poisson(lambda_i), lambda_i ~ Gamma(0.5, mean 0.02):
    # Var = E[sum lambda] + Var(sum lambda) = N*(0.02 + 0.02**2/0.5)
    mean, var = 0.02 * n, n * (0.02 + 0.02**2 / 0.5)
    assert abs(row["committed"] - mean) < Z * math.sqrt(var)
    # Given the acts, each later count is binomial in the previous one.
    c, o = row["committed"], row["observed"]
    assert abs(o - 0.3 * c) < Z * math.sqrt(c * 0.3 * 0.7)
    for key, p in (("missed", 0.10), ("attributed_wrong", 0.01), ("attributed_correct", 0.89)):
        assert abs(row[key] - p * o) < Z * math.sqrt(o * p * (1 - p)), key
    assert row["missed"] + row["attributed_wrong"] + row["attributed_correct"] == o
    # and unconditionally, E[observed] = 0.3 E[committed] within the combined variance
    assert abs(o - 0.3 * mean) < Z * math.sqrt(0.09 * var + mean * 0.3 * 0.7)


def test_negative_binomial_counts_without_deterrence_or_recovery() -> None:
    n, days = 200_000, 365
    sc = pn.load(
        "minimal",
        ["response.deterrence=1.0", "scoring.recovery.points=0"],
        population=n,
        days=days,
        seed=3,
    )
    sim = simulate(sc)
    x = sim.behave.committed.astype(np.float64)
    mean = 0.02 * days
    var = mean + mean**2 / 0.5
    assert abs(x.mean() - mean) < Z * math.sqrt(var / n)
    m4 = np.mean((x - x.mean()) ** 4)
    se_var = math.sqrt((m4 - x.var() ** 2) / n)
    assert abs(x.var() - var) < Z * se_var
    # the whole distribution: chi-square against NB(r=0.5, p=1/(1+scale*days))
    nb = stats.nbinom(0.5, 1.0 / (1.0 + (0.02 / 0.5) * days))
    edges = np.arange(0, 41)
    observed = np.array([(x == k).sum() for k in edges[:-1]] + [(x >= edges[-1]).sum()])
    expected = n * np.append(nb.pmf(edges[:-1]), nb.sf(edges[-1] - 1))
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert stats.chi2.sf(chi2, df=len(observed) - 1) > 1e-6
    # the score identity: each record costs 5 points, floored at 0, no recovery
    s = sim.score
    rc = sim.record.records_correct.astype(np.int64)
    rw = sim.record.records_wrong.astype(np.int64)
    assert np.array_equal(s.score, np.maximum(0, 1000 - 5 * (rc + rw)))
    assert np.array_equal(s.true_score, np.maximum(0, 1000 - 5 * rc))


def test_invariants_every_day() -> None:
    sc = pn.load(
        "minimal", ["surveillance.faceid.p_wrong=0.2"], population=30_000, days=150, seed=5
    )
    sim = pn.Simulation(sc)
    th = sc.sanctions.blacklist.threshold
    for _ in range(sc.run.days):
        sim.step()
        s, t = sim.score.score, sim.score.true_score
        assert (t >= s).all()
        assert (s >= 0).all() and (t <= 1000).all()
        sanctioned = s < th
        day = sim.day - 1
        assert sim.metrics.columns["sanctioned"][day] == sanctioned.sum()
        assert sim.metrics.columns["sanctioned_wrongly"][day] == (sanctioned & (t >= th)).sum()
        assert sim.metrics.columns["mean_score"][day] == pytest.approx(s.mean(), rel=1e-12)
    assert sim.metrics.columns["sanctioned_wrongly"][-1] > 0


def batch_of(day: int, targets: list[int], correct: list[bool], kinds: list[int] | None = None):
    """A record batch against the given citizens (perpetrator = target when correct)."""
    from panopticon.core.records import RecordBatch

    t = np.array(targets, dtype=np.int32)
    c = np.array(correct, dtype=bool)
    k = np.array(kinds if kinds is not None else [0] * len(targets), dtype=np.uint8)
    perp = np.where(c, t, (t + 1) % 1000).astype(np.int32)
    return RecordBatch(
        day,
        k,
        perp,
        t,
        np.zeros(t.size, np.uint8),
        c,
        np.full(t.size, day, np.int32),
        np.zeros(t.size, np.uint8),
    )


def test_recovery_rule_against_hand_computation() -> None:
    # Hand-made record sequence on three citizens.
    from panopticon.core.module import DayContext

    sc = pn.load("minimal", population=3, days=90)
    led = pn.Simulation(sc).score

    def step(day: int, batch, removed) -> None:
        led.step(DayContext(day, batch=batch, removed=removed))

    step(0, batch_of(0, [0], [True]), None)  # correct record on day 0 against 0
    step(1, batch_of(1, [1], [False]), None)  # wrongful record against 1
    for day in range(2, 30):
        step(day, batch_of(day, [], []), None)
    # day 29 closed period 0..29: both had records; no recovery on score.
    assert list(led.score) == [995, 995, 1000]
    # citizen 1 had no *correct* record: true_score recovers (already at cap 1000).
    assert list(led.true_score) == [995, 1000, 1000]
    for day in range(30, 60):
        step(day, batch_of(day, [], []), None)
    assert list(led.score) == [1000, 1000, 1000]
    assert list(led.true_score) == [1000, 1000, 1000]


def test_engine_agrees_with_reference_implementation() -> None:
    """Cross-implementation check against the whole-array NumPy version.

    Five seeds each; the difference of means is compared with Z standard errors
    estimated from the replicates' spread.
    """
    from panopticon.stages.reference import run_reference

    metrics = ("committed", "observed", "attributed_wrong", "sanctioned", "mean_score")
    a: dict[str, list[float]] = {m: [] for m in metrics}
    b: dict[str, list[float]] = {m: [] for m in metrics}
    for seed in range(5):
        sc = pn.load(
            "minimal", ["surveillance.faceid.p_wrong=0.05"], population=50_000, days=200, seed=seed
        )
        eng = simulate(sc).metrics.columns
        ref = run_reference(sc)
        for m in metrics:
            pick = (lambda c: c[-1]) if m in ("sanctioned", "mean_score") else np.sum
            a[m].append(float(pick(eng[m])))
            b[m].append(float(pick(ref[m])))
    for m in metrics:
        x, y = np.array(a[m]), np.array(b[m])
        se = math.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size)
        assert abs(x.mean() - y.mean()) < Z * se, (m, x, y)


def test_two_violation_behaviours_each_get_their_acts(tmp_path: Path) -> None:
    """With two violations of equal rate and nothing else, each gets half of the acts.

    Regression: the one-behaviour short path drew no kind, so every act of a second
    behaviour was counted as the first's. The split of N acts is Binomial(N, 1/2): the
    difference is within 4 sd, sqrt(N).
    """
    extra = 'behaviors.second={rate=0.03, points=5, place="street", channels=["camera"]}'
    sc = pn.load("minimal", [extra, "behaviors.violation.rate=0.03"], population=5000, days=20)
    ts = pn.run(sc, out=tmp_path / "r").timeseries
    a, b = int(ts["committed_violation"].sum()), int(ts["committed_second"].sum())
    assert a + b == int(ts["committed"].sum()) and a > 0 and b > 0
    assert abs(a - b) <= 4 * (a + b) ** 0.5, (a, b)
