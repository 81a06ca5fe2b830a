"""Consequences and society: measures, scarce goods, joint liability, avoidance (issue 5)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import panopticon as pn
from panopticon.cli import main
from panopticon.stages.sanction.measures.allocation import allocate

Z = 5.0
HARSH = [  # enough low grades to see consequences at small sizes (points as given)
    "scoring.deduction_scale=1",
    "behaviors.red_light_crossing.points=120",
    "behaviors.fare_evasion.points=120",
    'surveillance.faceid={mode="fixed", p_miss=0.1, p_wrong=0.1}',
]


def test_allocation_rules_on_hand_built_cases() -> None:
    score = np.array([900, 500, 700, 800, 600], dtype=np.int16)
    keys = np.array([0.5, 0.1, 0.9, 0.3, 0.2])
    applicants = np.arange(5)
    none = np.zeros(5, dtype=bool)
    # ranked: highest scores
    assert sorted(allocate(applicants, none, score, keys, 2, "ranked", 0)) == [0, 3]
    # excluded applicants never get a place
    excl = none.copy()
    excl[0] = True
    assert sorted(allocate(applicants, excl, score, keys, 2, "ranked", 0)) == [2, 3]
    # score-blind: smallest keys, whatever the score
    assert sorted(allocate(applicants, none, score, keys, 2, "score_blind", 0)) == [1, 4]
    # ties in score are broken by the key
    tied = np.full(5, 700, dtype=np.int16)
    assert list(allocate(applicants, none, tied, keys, 2, "ranked", 0)) == [1, 4]


def test_weighted_lottery_follows_weights() -> None:
    """P(first place) = w_i / sum(w) for one place (Efraimidis-Spirakis)."""
    rng = np.random.default_rng(0)
    score = np.array([100, 300, 600], dtype=np.int16)
    w = score - 0 + 1.0
    wins = np.zeros(3)
    trials = 20_000
    for _ in range(trials):
        got = allocate(
            np.arange(3), np.zeros(3, dtype=bool), score, rng.random(3), 1, "weighted_lottery", 0
        )
        wins[got[0]] += 1
    p = w / w.sum()
    assert (np.abs(wins / trials - p) < Z * np.sqrt(p * (1 - p) / trials)).all()


def test_joint_liability_reaches_exactly_the_household() -> None:
    sc = pn.load("seed-article", population=20_000, days=5)
    net = pn.Simulation(sc).need("network")
    mask = np.zeros(net.size, dtype=bool)
    mask[[3, 500, 7000]] = True
    reached = net.any_other_member(mask)
    # slow, obvious reference: j is reached if someone else in j's household is marked
    expected = np.zeros(net.size, dtype=bool)
    for i in (3, 500, 7000):
        for j in np.flatnonzero(net.household == net.household[i]):
            if j != i:
                expected[j] = True
    assert np.array_equal(reached, expected)
    assert set(np.flatnonzero(reached)) <= set(net.family_members(np.array([3, 500, 7000])))


def test_school_exclusion_follows_the_parents(tmp_path: Path) -> None:
    sets = [*HARSH, "sanctions.measures.schools.first_day=40"]
    sc = pn.load("seed-article", sets, population=30_000, days=41, seed=2)
    sim = pn.Simulation(sc)
    for _ in range(41):
        sim.step()
    access = sim.measures.kinds["schools"].access
    trig, _ = sim.measures.triggers["schools"].members(40)
    liable = trig | sim.need("network").any_other_member(trig)
    applied = access > 0
    assert applied.sum() > 100
    # excluded (2) exactly when the applicant or a household member is triggered
    assert np.array_equal(access[applied] == 2, liable[applied])
    assert (access == 2).sum() > 0


def test_travel_blocks_follow_the_attempt_rate(tmp_path: Path) -> None:
    sc = pn.load(
        "seed-article",
        [*HARSH, "sanctions.measures.hsr_ban.attempts_per_year=36.5"],
        population=20_000,
        days=60,
        seed=1,
    )
    run = pn.run(sc, out=tmp_path / "t")
    ts = run.timeseries
    exposure = ts["triggered_hsr_ban"].sum() * 0.1  # person-days x attempts per day
    blocked = ts["blocked_hsr_ban"].sum()
    assert exposure > 200
    assert abs(blocked - exposure) < Z * math.sqrt(exposure)
    wrong_exposure = ts["triggered_wrongly_hsr_ban"].sum() * 0.1
    assert abs(ts["blocked_wrongly_hsr_ban"].sum() - wrong_exposure) < Z * math.sqrt(
        wrong_exposure + 1
    )


def test_loan_extra_interest_by_hand() -> None:
    sc = pn.load("seed-article", population=2000, days=1)
    sim = pn.Simulation(sc)
    sim.step()
    m = sc.sanctions.measures["loans"]
    g = sim.score.grades
    rates = np.array([m.rates[x] for x in g.names])
    counts = np.bincount(g.grade, minlength=len(g.names))
    per_day = m.loans_per_year / 365 * m.principal
    want = float((counts * (rates - m.base_rate)).sum()) * per_day
    got = sim.metrics.columns["extra_interest_loans"][0]
    assert got == pytest.approx(want)


def _low_degree(sets: list[str]) -> tuple[float, float, int]:
    sc = pn.load(
        "seed-article",
        [*HARSH, *sets, "network.avoidance.every_days=10", "network.avoidance.p_drop=0.5"],
        population=30_000,
        days=60,
        seed=4,
    )
    sim = pn.Simulation(sc)
    for _ in range(60):
        sim.step()
    low = np.isin(sim.score.grades.grade, [sim.score.grades.names.index(g) for g in ("C", "D")])
    deg = sim.need("network").degree().astype(float)
    return deg[low].mean(), deg[low].std(), int(low.sum())


def test_avoidance_lowers_low_grade_degree_and_score_blind_does_not() -> None:
    mean_t, sd_t, n_t = _low_degree([])
    mean_b, sd_b, n_b = _low_degree(["network.avoidance.score_blind=true"])
    assert n_t > 200 and n_b > 200
    se = math.sqrt(sd_t**2 / n_t + sd_b**2 / n_b)
    assert mean_b - mean_t > Z * se
    # score-blind: the low-grade degree stays near the population's starting mean (10)
    assert abs(mean_b - 10.0) < 1.5


def test_degree_by_grade_in_outputs(tmp_path: Path) -> None:
    run = pn.run(pn.load("seed-article", population=20_000, days=31), out=tmp_path / "n")
    assert {"degree_start", "degree_end"} <= set(run.people.columns)
    ts = run.timeseries
    assert "mean_degree_A" in ts.columns and "isolated" in ts.columns
    assert ts["mean_degree_A"][0] == pytest.approx(
        run.people.filter(pl.col("grade") == "A")["degree_start"].mean(), rel=0.05
    )


@pytest.mark.parametrize(
    ("sets", "field"),
    [
        (
            ['sanctions.measures.flight_ban.trigger={policy="nope"}'],
            "sanctions.measures.flight_ban.trigger.policy",
        ),
        (
            ['sanctions.measures.flight_ban.trigger={policy="score", grades=["Z"]}'],
            "sanctions.measures.flight_ban.trigger.grades",
        ),
        (
            ["sanctions.measures.schools.capacity_share=-0.5"],
            "sanctions.measures.schools.capacity_share",
        ),
        (['sanctions.measures.schools.rule="auction"'], "sanctions.measures.schools.rule"),
        (['response.announcements.x={day=3, places=["moon"]}'], "response.announcements.x.places"),
        (["network.friends.mean=-3"], "network.friends.mean"),
        (['network.avoidance.avoid_grades=["Q"]'], "network.avoidance.avoid_grades"),
    ],
)
def test_bad_society_input_exit_2(
    capsys: pytest.CaptureFixture[str], sets: list[str], field: str
) -> None:
    args = ["validate", "seed-article"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert field in err and "Traceback" not in err, err


def test_joint_liability_needs_a_graph(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "validate",
                "documented",
                "--set",
                "sanctions.measures.public_jobs.joint_liability=true",
                "--set",
                'scoring.factors.sesame.dimensions.relationships.source="trait"',
                "--set",
                "network.friends.mean=10",
            ]
        )
        == 0
    )
    capsys.readouterr()
    f_args = [
        "validate",
        "city-pilot",
        "--set",
        'sanctions.measures.school={kind="school", joint_liability=true, '
        'trigger={policy="score", grades=["D"]}}',
    ]
    assert main(f_args) == 2
    assert "joint_liability" in capsys.readouterr().err


def test_network_deterrence_reaches_household_and_friends() -> None:
    sc = pn.load("seed-article", population=5_000, days=2)
    net = pn.Simulation(sc).need("network")
    d = np.ones(net.size, dtype=np.float32)
    ids = np.array([10, 2000], dtype=np.int64)
    net.scale_circle(ids, d, 0.5, 0.2)
    # slow reference: one factor per tie (household member or friend) to a recorded person
    ties = np.zeros(net.size, dtype=int)
    for i in ids:
        for j in np.flatnonzero(net.household == net.household[i]):
            if j != i:
                ties[j] += 1
        for f in net.friends_of(int(i)):
            ties[f] += 1
    expected = np.maximum(np.float32(0.2), np.float32(0.5) ** ties).astype(np.float32)
    assert np.allclose(d, expected) and (ties > 0).sum() > 5


def test_consequences_by_group_add_up(tmp_path: Path) -> None:
    sets = [*HARSH, "population.groups={men={share=0.51}, women={share=0.49}}"]
    run = pn.run(
        pn.load("seed-article", sets, population=20_000, days=60, seed=3), out=tmp_path / "g"
    )
    by = pl.read_parquet(run.path / "consequences_by_group.parquet")
    ts = run.timeseries
    assert sorted(by["day"].unique().to_list()) == [29, 59]
    for day in (29, 59):
        row = ts.filter(pl.col("day") == day)
        snap = by.filter(pl.col("day") == day)
        black = snap.filter(pl.col("measure") == "blacklist")
        assert black["triggered"].sum() == row["sanctioned"][0]
        assert black["triggered_wrongly"].sum() == row["sanctioned_wrongly"][0]
        hsr = snap.filter(pl.col("measure") == "hsr_ban")
        assert hsr["triggered"].sum() == row["triggered_hsr_ban"][0]
        assert hsr["triggered_wrongly"].sum() == row["triggered_wrongly_hsr_ban"][0]
    assert by.filter(pl.col("measure") == "hsr_ban")["triggered"].sum() > 0
