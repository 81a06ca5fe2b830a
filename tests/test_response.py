"""Behaviour responds: general deterrence, announcements, chilling, fading deterrence."""

from __future__ import annotations

import math

import numpy as np
import pytest

import panopticon as pn
from panopticon.stages.behave.respond import perceived_detection, rate_multipliers

Z = 5.0
LAWFUL = [
    'behaviors.posting_criticism={rate=0.01, points=0, place="online", lawful=true, channels=[]}'
]


def run_days(sc: pn.Scenario) -> pn.Simulation:
    sim = pn.Simulation(sc)
    for _ in range(sc.run.days):
        sim.step()
    return sim


def test_elasticity_zero_changes_nothing() -> None:
    base = pn.load("city-pilot", population=20_000, days=60, seed=3)
    loud = base.override(
        {"response.announcements": {"transit": {"day": 10, "places": ["transport"], "boost": 0.5}}}
    )
    a, b = run_days(base), run_days(loud)
    assert np.array_equal(a.behave.committed, b.behave.committed)
    assert np.array_equal(a.score.score, b.score.score)


def test_general_deterrence_matches_its_formula() -> None:
    sets = ["response.elasticity=0.5", "response.deterrence=1.0"]
    sc = pn.load("city-pilot", sets, population=200_000, days=30, seed=1)
    watched = run_days(sc).metrics.columns
    # red lights are seen by cameras only: cameras off is their unwatched baseline
    free = run_days(sc.override({"surveillance.camera.enabled": False})).metrics.columns
    mult = rate_multipliers(sc, 0)
    p = perceived_detection(sc, 0)
    k = list(sc.behaviors).index("red_light_crossing")
    assert mult[k] == pytest.approx((1 + p[k] / 0.05) ** -0.5)
    a = watched["committed_red_light_crossing"].sum()
    b = free["committed_red_light_crossing"].sum()
    # ratio of two Poisson-mixture totals: delta-method standard error (overdispersion of
    # the Gamma propensity included: Var = m + m^2/(N*shape) per total)
    n, shape = 200_000, 0.5
    va = a + a**2 / (n * shape)
    vb = b + b**2 / (n * shape)
    ratio = a / b
    se = ratio * math.sqrt(va / a**2 + vb / b**2)
    assert abs(ratio - mult[k]) < Z * se
    # rewarded acts are not deterred
    v = list(sc.behaviors).index("volunteering")
    assert mult[v] == 1.0


def test_announcement_raises_perceived_detection_from_its_day() -> None:
    sc = pn.load(
        "city-pilot",
        [
            "response.elasticity=0.5",
            'response.announcements.trains={day=5, places=["transport"], boost=0.3}',
        ],
    )
    k = list(sc.behaviors).index("fare_evasion")
    before, after = rate_multipliers(sc, 4), rate_multipliers(sc, 5)
    assert after[k] < before[k]
    street = list(sc.behaviors).index("red_light_crossing")
    assert after[street] == before[street]


def test_chilling_of_lawful_acts_and_unwatched_baseline() -> None:
    sc = pn.load("city-pilot", [*LAWFUL, "response.chilling_elasticity=0.4"])
    k = list(sc.behaviors).index("posting_criticism")
    assert rate_multipliers(sc, 0)[k] < 1.0
    off = sc.override(
        {
            "surveillance.camera.enabled": False,
            **{f"surveillance.channels.{c}.enabled": False for c in sc.surveillance.channels},
        }
    )
    assert (rate_multipliers(off, 0) == 1.0).all()


def test_specific_deterrence_fades() -> None:
    sc = pn.load("minimal", ["response.half_life_days=30"], population=2000, days=60)
    sim = pn.Simulation(sc)
    sim.behave.deterrence[:10] = 0.2
    for _ in range(30):
        sim.step()
    d = sim.behave.deterrence[:10]
    # after one decay step of 30 days: 1 - 0.8 * 2^-1 = 0.6, unless records lowered it again
    assert (d <= np.float32(0.6) + 1e-6).all() and (d >= 0.2).all()
    assert (d == np.float32(0.6)).sum() >= 5
