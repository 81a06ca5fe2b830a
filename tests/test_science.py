"""Fixes of the scientific review (shared/reviews/science.md), each checked on its own.

Each test failed on main before its fix: appeals and the recovery block concern
violations only; specific deterrence thins violations only (lawful acts respond to
chilling alone); a won appeal on a correct record ends the counterfactual listing too;
avoidance attractiveness spans the scores in use.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl

import panopticon as pn
from panopticon.analysis.headline import headline
from panopticon.core.module import DayContext
from panopticon.stages.society.module import attractiveness
from test_policies import batch

LAWFUL = (
    'behaviors.posting_criticism={rate=0.05, points=0, place="online", lawful=true, channels=[]}'
)


def test_rewards_are_never_appealed(tmp_path: Path) -> None:
    sets = [
        "surveillance.appeals.enabled=true",
        "surveillance.appeals.p_appeal_correct=0.5",
        "surveillance.appeals.p_appeal_wrongful=0.9",
    ]
    sc = pn.load("city-pilot", sets, population=20_000, days=60, seed=2)
    run = pn.run(sc, out=tmp_path / "a")
    rewarded = [k for k, b in sc.behaviors.items() if b.valence == "positive"]
    rec = run.records.with_columns(pl.col("behavior").cast(pl.String))
    rewards = rec.filter(pl.col("behavior").is_in(rewarded))
    violations = rec.filter(~pl.col("behavior").is_in(rewarded))
    assert rewards.height > 100
    assert (rewards["appeal"].cast(pl.String) == "none").all()
    appealed = (violations["appeal"].cast(pl.String) != "none").mean()
    assert appealed > 0.4  # about half the (mostly correct) violation records


def test_a_reward_does_not_stop_recovery() -> None:
    sc = pn.load("city-pilot", ["behaviors.volunteering.points=1"], population=3, days=90)
    led = pn.Simulation(sc).score
    kinds = list(sc.behaviors)
    fare, volunteer = kinds.index("fare_evasion"), kinds.index("volunteering")
    empty = batch(0, [], [], [])
    for day in range(60):
        records = empty
        if day == 0:
            records = batch(0, [0], [True], [fare])  # 1000 - 5
        elif day == 35:
            records = batch(35, [0], [True], [volunteer])  # + 1
        led.step(DayContext(day, batch=records))
    # period 0 (days 0-29) had a violation: no recovery; period 1 only a reward: recovers
    assert int(led.score[0]) == 1000 and int(led.true_score[0]) == 1000


def test_lawful_acts_are_not_deterred_by_records() -> None:
    quiet = ["response.elasticity=0", "response.chilling_elasticity=0"]
    sc = pn.load("city-pilot", [LAWFUL, *quiet], population=20_000, days=20, seed=3)
    sim = pn.Simulation(sc)
    sim.behave.deterrence[:] = 0.0  # everyone fully deterred from violations
    for _ in range(sc.run.days):
        sim.step()
    cols = sim.metrics.columns
    lawful = int(cols["committed_posting_criticism"].sum())
    # each citizen: Poisson(g x 0.05 x 20 days), g ~ Gamma(shape, mean 1): the total has
    # mean N m and variance N (m + m^2 / shape), m = 1
    n, m, shape = 20_000, 0.05 * 20, sc.population.propensity.shape
    mean, var = n * m, n * (m + m**2 / shape)
    assert abs(lawful - mean) < 5 * math.sqrt(var)
    violations = sum(
        int(cols[f"committed_{k}"].sum())
        for k, b in sc.behaviors.items()
        if b.valence == "negative" and not b.lawful
    )
    assert violations == 0


def test_won_appeal_on_a_correct_record_ends_the_counterfactual_listing() -> None:
    sets = [
        # a behaviour-driven list beside documented's court mechanism
        'scoring.lists.court_blacklist={behaviors=["ignoring_court_judgment"]}',
        "scoring.lists.court_blacklist.count=1",
        "scoring.lists.court_blacklist.exit_per_day=0.0",
        "scoring.lists.court_blacklist.duration_days=100",
    ]
    sc = pn.load("documented", sets, population=10)
    lst = pn.Simulation(sc).court_blacklist
    court = list(sc.behaviors).index("ignoring_court_judgment")
    record = batch(0, [3], [True], [court])
    lst.step(DayContext(0, batch=record))
    assert lst.until[3] == 100 and lst.until_true[3] == 100
    lst.step(DayContext(10, batch=batch(10, [], [], []), removed=record))
    assert lst.until[3] == 10 and lst.until_true[3] == 10
    assert lst.listed == 0 and lst.listed_wrongly == 0


def test_avoidance_preference_acts_on_the_scores_in_use() -> None:
    score = np.array([900, 950, 1000, 1050], dtype=np.int16)  # a pilot's 0-1200 range
    a = attractiveness(score)
    assert a.min() == 0.0 and a.max() == 1.0
    preference = 2.0  # the default: the best scorer is e^2 times as likely as the worst
    w = np.exp(preference * a)
    assert w.max() / w.min() == np.exp(preference)


def test_the_funnel_separates_violations_lawful_acts_and_rewards(tmp_path: Path) -> None:
    sc = pn.load("seed-article", [LAWFUL], population=20_000, days=60, seed=5)
    run = pn.run(sc, out=tmp_path / "f")
    t, ts = run.totals, run.timeseries
    kinds = ("violations", "lawful", "rewarded")
    assert sum(t[f"committed_{k}"] for k in kinds) == t["committed"]
    assert sum(t[f"records_{k}"] for k in kinds) == t["attributed_correct"] + t["attributed_wrong"]
    assert sum(t[f"records_{k}_wrong"] for k in kinds) == t["attributed_wrong"]
    by_behaviour = {
        k: sum(t[f"committed_{b}"] for b, beh in sc.behaviors.items() if kind(beh) == k)
        for k in kinds
    }
    assert by_behaviour == {k: t[f"committed_{k}"] for k in kinds}
    share = headline(run)["wrongful_record_share"]
    assert share == t["records_violations_wrong"] / t["records_violations"]
    assert ts["records_violations"].sum() == t["records_violations"]


def kind(b: object) -> str:
    """The kind of a behaviour, as the funnel counts it."""
    if b.valence == "positive":
        return "rewarded"
    return "lawful" if b.lawful else "violations"


def test_preset_values_lie_within_their_declared_ranges() -> None:
    """Every [assumptions] and [calibration.free] range of a preset holds the preset's value."""
    from panopticon.scenario.io import preset_names
    from panopticon.scenario.ranges import outside

    for name in preset_names():
        sc = pn.load(name)
        plain = sc.to_dict()
        assert outside(sc.assumptions, plain) == [], name
        assert outside(sc.calibration.free, plain) == [], name


def test_deduction_scale_multiplies_every_deduction(tmp_path: Path) -> None:
    """scoring.deduction_scale = 3: each record costs 3 x 5 points (no recovery in 20 days)."""
    sets = ["scoring.recovery.every_days=1000", "scoring.deduction_scale=3"]
    sc = pn.load("minimal", sets, population=5000, days=20)
    res = pn.run(sc, out=tmp_path / "scaled")
    people = pl.read_parquet(res.path / "people.parquet")
    records = people["records_correct"] + people["records_wrong"]
    assert int(records.sum()) > 100
    expected = (1000 - 15 * records).clip(lower_bound=0)
    assert (people["score"] == expected).all()
    plain = pn.run(pn.load("minimal", sets[:1], population=5000, days=20), out=tmp_path / "one")
    unscaled = pl.read_parquet(plain.path / "people.parquet")
    rec1 = unscaled["records_correct"] + unscaled["records_wrong"]
    assert (unscaled["score"] == (1000 - 5 * rec1).clip(lower_bound=0)).all()
