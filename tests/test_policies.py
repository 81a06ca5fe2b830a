"""Behaviour catalog, channels, the credit record, score policies and appeals (issue 4)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import panopticon as pn
from panopticon.cli import main
from panopticon.core.module import DayContext
from panopticon.core.records import RecordBatch

COURT_REC = "ignoring_court_judgment"  # the records a behaviour-driven court list counts

Z = 5.0


def batch(day: int, targets: list[int], correct: list[bool], kinds: list[int]) -> RecordBatch:
    t = np.array(targets, dtype=np.int32)
    c = np.array(correct, dtype=bool)
    return RecordBatch(
        day,
        np.array(kinds, dtype=np.uint8),
        np.where(c, t, 99).astype(np.int32),
        t,
        np.zeros(t.size, np.uint8),
        c,
        np.full(t.size, day, np.int32),
        np.zeros(t.size, np.uint8),
    )


def empty(day: int) -> RecordBatch:
    return batch(day, [], [], [])


def pilot(*sets: str, population: int = 10) -> pn.Scenario:
    return pn.load("city-pilot", list(sets), population=population)


def step(module, day: int, batch, removed=None) -> None:
    """Step one module alone with a hand-made day."""
    module.step(DayContext(day, batch=batch, removed=removed))


def kind(sc: pn.Scenario, name: str) -> int:
    return list(sc.behaviors).index(name)


def test_points_ledger_hand_computed() -> None:
    sc = pilot("scoring.recovery.points=0")
    led = pn.Simulation(sc).score
    fare, heroic, drunk = (kind(sc, k) for k in ("fare_evasion", "heroic_act", "drunk_driving"))
    # citizen 0: fare evasion (-5), then a heroic act (+30): 1025
    step(led, 0, batch(0, [0, 0], [True, True], [fare, heroic]), None)
    assert led.score[0] == 1025 and led.true_score[0] == 1025
    # citizen 1: wrongly recorded fare evasion: score moves, true_score does not
    step(led, 1, batch(1, [1], [False], [fare]), None)
    assert (led.score[1], led.true_score[1]) == (995, 1000)
    # citizen 2: drunk driving drops straight to the top of grade C (849)
    step(led, 2, batch(2, [2], [True], [drunk]), None)
    assert led.score[2] == 849 and led.grades.names[led.grades.grade[2]] == "C"
    # citizen 3: heroic acts up to the cap 1200
    step(led, 3, batch(3, [3] * 8, [True] * 8, [heroic] * 8), None)
    assert led.score[3] == 1200
    # reversal (won appeal) gives the points back
    step(led, 4, empty(4), batch(1, [1], [False], [fare]))
    assert led.score[1] == 1000
    assert led.score_sum == led.score.astype(np.int64).sum()


def test_grade_boundaries_and_counts() -> None:
    sc = pilot()
    led = pn.Simulation(sc).score
    g = led.grades
    for value, name in [
        (1200, "AAA"),
        (1050, "AAA"),
        (1049, "AA"),
        (1030, "AA"),
        (1029, "A"),
        (960, "A"),
        (959, "B"),
        (850, "B"),
        (849, "C"),
        (600, "C"),
        (599, "D"),
        (0, "D"),
    ]:
        led.score[0] = value
        g.refresh(np.array([0], dtype=np.int32))
        assert g.names[g.grade[0]] == name, value
    # counts kept incrementally equal a full recount
    rng = np.random.default_rng(1)
    led.score[:] = rng.integers(0, 1201, size=led.score.size)
    g.refresh(np.arange(led.score.size, dtype=np.int32))
    full = np.bincount(g.grade, minlength=len(g.names))
    assert (g.counts == full).all()


def test_grade_counts_stay_exact_during_a_run() -> None:
    sc = pn.load("city-pilot", ["surveillance.faceid.p_wrong=0.2"], population=20_000, days=70)
    sim = pn.Simulation(sc)
    for _ in range(70):
        sim.step()
        g = sim.score.grades
        assert (g.counts == np.bincount(g.grade, minlength=len(g.names))).all()
        true_g = np.array([np.argmax(v >= g.lows) for v in sim.score.true_score[:200]])
        assert (g.true_grade[:200] == true_g).all()
        wrong = np.bincount(g.grade[g.grade > g.true_grade], minlength=len(g.names))
        assert (g.wrong == wrong).all()


def test_list_entry_window_expiry_and_counterfactual() -> None:
    sc = pn.load(
        "documented",
        [
            # a behaviour-driven list beside documented's court mechanism
            f"scoring.lists.court_blacklist={{behaviors=[{COURT_REC!r}]}}",
            "scoring.lists.court_blacklist.count=2",
            "scoring.lists.court_blacklist.window_days=10",
            "scoring.lists.court_blacklist.duration_days=30",
            "scoring.lists.court_blacklist.exit_per_day=0.0",
        ],
        population=10,
    )
    lst = pn.Simulation(sc).court_blacklist
    court = kind(sc, "ignoring_court_judgment")
    step(lst, 0, batch(0, [0, 1, 2], [True, True, False], [court] * 3), None)
    assert lst.listed == 0  # one record each: not enough
    step(lst, 5, batch(5, [0, 2], [True, True], [court] * 2), None)
    assert lst.listed == 2 and lst.until[0] == 35 and lst.until[2] == 35
    # citizen 2's first record was wrongful: truly only one record, not listed in truth
    assert lst.until_true[0] == 35 and lst.until_true[2] == -1
    assert lst.listed_wrongly == 1
    step(lst, 20, batch(20, [1], [True], [court]), None)  # 20 days after its first: window passed
    assert lst.until[1] == -1
    step(lst, 34, empty(34), None)
    assert lst.listed == 2
    step(lst, 35, empty(35), None)
    assert lst.listed == 0  # listed for days 5..34: 30 days


def test_list_early_exit_is_geometric() -> None:
    p = 0.05
    sc = pn.load(
        "documented",
        [
            f"scoring.lists.court_blacklist={{behaviors=[{COURT_REC!r}]}}",
            f"scoring.lists.court_blacklist.exit_per_day={p}",
            "scoring.lists.court_blacklist.duration_days=10000",
        ],
        population=40_000,
    )
    lst = pn.Simulation(sc).court_blacklist
    court = kind(sc, "ignoring_court_judgment")
    ids = list(range(40_000))
    step(lst, 0, batch(0, ids, [True] * len(ids), [court] * len(ids)), None)
    stay = lst.until.astype(float)
    mean, var = 1 / p, (1 - p) / p**2
    assert abs(stay.mean() - mean) < Z * math.sqrt(var / stay.size)
    assert (lst.until == lst.until_true).all()  # same draw for truth and record


def test_factors_score_hand_computed() -> None:
    # the documented preset maps every dimension into [0, 0.5]: a weight w counts 0.5 w
    sc = pn.load("documented", population=5)
    pol = pn.Simulation(sc).sesame
    pol.network = None  # by hand: without a graph, friends count as the middle (0.5)
    half = 0.5
    traits = [d for d in sc.scoring.factors["sesame"].dimensions.values() if d.source == "trait"]
    tw = sum(d.weight * half * pol.trait[j] / 255.0 for j, d in enumerate(traits))
    tw = tw + 0.05 * half * 0.5  # relationships: friends' scores, the middle before any exist
    # no records: credit history (0.35) and behaviour (0.20) are at their best value
    expected = np.round(350 + 600 * (half * (0.35 + 0.20) + tw))
    assert (pol.score == expected).all() and (pol.true_score == expected).all()
    arrears = kind(sc, "card_arrears")
    step(pol, 0, batch(0, [0], [True], [arrears]), None)
    assert pol.score[0] == expected[0]  # recomputed only at the end of the period
    for day in range(1, 30):
        step(pol, day, empty(day), None)
    # one record 29 days before the recomputation, half-life 730: n = 2^(-29/730)
    n = 2 ** (-29 / 730)
    want = np.round(350 + 600 * (half * (0.35 * math.exp(-n / 1.0) + 0.20) + tw[0]))
    assert pol.score[0] == want
    assert pol.true_score[0] == want
    # a wrongful record moves the score but not the counterfactual
    step(pol, 30, batch(30, [1], [False], [arrears]), None)
    for day in range(31, 60):
        step(pol, day, empty(day), None)
    assert pol.score[1] < pol.true_score[1] == expected[1]


def test_channel_delays_in_the_log(tmp_path: Path) -> None:
    run = pn.run(pn.load("city-pilot", population=20_000, days=120, seed=2), out=tmp_path / "d")
    rec = run.records
    sc = pn.load(run.path / "scenario.toml")
    delays = {"camera": 0, **{k: c.delay_days for k, c in sc.surveillance.channels.items()}}
    lag = rec.with_columns((pl.col("day_recorded") - pl.col("day")).alias("lag"))
    for ch, d in delays.items():
        got = lag.filter(pl.col("channel") == ch)["lag"].unique().to_list()
        assert got in ([d], []), (ch, got)
    assert set(rec["channel"].unique()) >= {"camera", "transaction", "online", "registry"}
    # nothing appears after the last day
    assert rec["day_recorded"].max() <= 119


def test_appeals_rates_and_reversals(tmp_path: Path) -> None:
    sets = ["surveillance.faceid.p_wrong=0.3", "surveillance.appeals.delay_days=10"]
    run = pn.run(
        pn.load("city-pilot", sets, population=30_000, days=120, seed=4), out=tmp_path / "a"
    )
    rec = run.records
    sc = pn.load(run.path / "scenario.toml")
    a = sc.surveillance.appeals
    # only records of violations are appealed (rewards and lawful acts never are)
    violations = [k for k, b in sc.behaviors.items() if b.valence == "negative" and not b.lawful]
    decided = rec.filter(
        (pl.col("day_recorded") + 10 < 120) & pl.col("behavior").cast(pl.String).is_in(violations)
    )
    for correct, p_appeal, p_win in (
        (False, a.p_appeal_wrongful, a.p_win_wrongful),
        (True, a.p_appeal_correct, a.p_win_correct),
    ):
        part = decided.filter(pl.col("correct") == correct)
        n = part.height
        appealed = part.filter(pl.col("appeal") != "none").height
        assert abs(appealed / n - p_appeal) < Z * math.sqrt(p_appeal * (1 - p_appeal) / n)
        won = part.filter(pl.col("appeal") == "won").height
        assert abs(won / appealed - p_win) < Z * math.sqrt(p_win * (1 - p_win) / appealed)
    ts = run.timeseries
    assert ts["appeals_won"].sum() == rec.filter(pl.col("appeal") == "won").height
    assert (
        ts["wrongful_removed"].sum()
        == rec.filter((pl.col("appeal") == "won") & ~pl.col("correct")).height
    )
    assert (
        run.totals["wrongful_remaining"]
        == ts["attributed_wrong"].sum() - ts["wrongful_removed"].sum()
    )
    assert rec.filter(pl.col("appeal") == "pending")["day_recorded"].min() + 10 >= 120


def test_scenario_extends_a_preset(tmp_path: Path) -> None:
    f = tmp_path / "stricter.toml"
    f.write_text(
        'extends = "city-pilot"\nname = "stricter"\n[behaviors.fare_evasion]\npoints = 50\n'
    )
    sc = pn.load(f)
    assert sc.behaviors["fare_evasion"].points == 50
    assert sc.behaviors["fare_evasion"].place == "transport"
    assert len(sc.behaviors) == len(pn.load("city-pilot").behaviors)


@pytest.mark.parametrize(
    ("sets", "field"),
    [
        (['scoring.drops={jaywalking="C"}'], "scoring.drops"),
        (['scoring.drops={drunk_driving="Z"}'], "scoring.drops.drunk_driving"),
        (['behaviors.fare_evasion.channels=["carrier_pigeon"]'], "behaviors.fare_evasion.channels"),
        (["scoring.grades.A=[950, 1030]"], "scoring.grades"),
        (["scoring.grades.A=[970, 1030]"], "scoring.grades"),
        (
            ["scoring.lists.redlist.window_days=-1"],
            "scoring.lists.redlist.window_days",
        ),
        (
            ['scoring.lists.redlist.behaviors=["loitering"]'],
            "scoring.lists.redlist.behaviors",
        ),
        (["scoring.factors.sesame.dimensions.identity.weight=0.5"], "scoring.factors.sesame"),
        (["behaviors.fare_evasion.ages=[30, 20]"], "behaviors.fare_evasion"),
        (['population.age_bands={"0-17"=0.5, "18-99"=0.4}'], "population.age_bands"),
    ],
)
def test_bad_policy_input_exit_2(
    capsys: pytest.CaptureFixture[str], sets: list[str], field: str
) -> None:
    args = ["validate", "documented"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert field in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
