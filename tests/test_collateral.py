"""Collateral consequences: exclusions through a household member are their own part (issue 10).

A scarce good with joint liability excludes an applicant whose household member is
triggered. Such an exclusion is neither deserved nor wrongful for the applicant: it is
collateral (wrongfully so when no household member is triggered by the counterfactual).
The counts are checked against a recount from people.parquet (grades at the round) and
the household structure of the network capability.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import panopticon as pn
from panopticon.report.data import label_runs
from panopticon.report.figures import run_figures

HARSH = [  # as in test_sanctions_society: enough low grades at small sizes
    "behaviors.red_light_crossing.points=120",
    "behaviors.fare_evasion.points=120",
    'surveillance.faceid={mode="fixed", p_miss=0.1, p_wrong=0.1}',
]
DAYS = 61
ROUND = [  # one school round, on the last day, that every child of school age applies to
    f"sanctions.measures.schools.first_day={DAYS - 1}",
    "sanctions.measures.schools.apply_share=1.0",
    "population.groups={men={share=0.51}, women={share=0.49}}",
]
LOW = ("C", "D")  # the schools trigger in seed-article


def _run(folder: Path, *extra: str) -> tuple[pn.RunResult, pn.Scenario]:
    sc = pn.load("seed-article", [*HARSH, *ROUND, *extra], population=30_000, days=DAYS, seed=2)
    return pn.run(sc, out=folder / "run"), sc


@pytest.fixture(scope="module")
def joint(tmp_path_factory: pytest.TempPathFactory) -> tuple[pn.RunResult, pn.Scenario]:
    """seed-article, harsh points, one school round with joint liability (the preset's)."""
    return _run(tmp_path_factory.mktemp("joint"))


def _recount(run: pn.RunResult, sc: pn.Scenario) -> dict[str, np.ndarray]:
    """Per citizen, from people.parquet and the households: each part of the exclusions."""
    p = run.people.with_columns(pl.col("grade", "true_grade", "schools").cast(pl.String))
    own = p["grade"].is_in(LOW).to_numpy()
    own_truth = p["true_grade"].is_in(LOW).to_numpy()
    net = pn.Simulation(sc).need("network")  # households are built from the seed alone
    other = net.any_other_member(own)
    other_truth = net.any_other_member(own_truth)
    state = p["schools"].to_numpy()
    applied = state != "none"
    excluded = state == "excluded"
    collateral = applied & ~own & other
    return {
        "applied": applied,
        "excluded": excluded,
        "liable": applied & (own | other),
        "deserved": excluded & own & own_truth,
        "wrongly": excluded & own & ~own_truth,
        "collateral": collateral,
        "collateral_wrongly": collateral & ~other_truth,
        "reached": ~own & other,
        "reached_wrongly": ~own & other & ~other_truth,
    }


def test_collateral_exclusions_equal_a_recount_from_the_households(
    joint: tuple[pn.RunResult, pn.Scenario],
) -> None:
    run, sc = joint
    want = _recount(run, sc)
    assert want["applied"].sum() > 1000
    # the round excluded exactly the applicants who are, or live with, a C or D
    assert np.array_equal(want["excluded"], want["liable"])
    last = run.timeseries.filter(pl.col("day") == DAYS - 1)
    rounds = pl.read_parquet(run.path / "allocations.parquet").filter(
        pl.col("measure") == "schools"
    )
    assert rounds.height == 1
    for col in ("excluded", "wrongly", "collateral", "collateral_wrongly"):
        ts_col = "excluded_schools" if col == "excluded" else f"excluded_{col}_schools"
        table_col = "excluded" if col == "excluded" else f"excluded_{col}"
        assert last[ts_col][0] == want[col].sum(), col
        assert rounds[table_col][0] == want[col].sum(), col
    # deserved + wrongful + collateral = every exclusion
    deserved = want["excluded"].sum() - want["wrongly"].sum() - want["collateral"].sum()
    assert deserved == want["deserved"].sum()
    assert want["deserved"].sum() > 0 and want["wrongly"].sum() > 0
    assert want["collateral"].sum() > want["deserved"].sum()  # most children excluded are
    assert 0 < want["collateral_wrongly"].sum() < want["collateral"].sum()
    # before the issue-10 split this child counted as deserved: collateral for the member
    assert (want["collateral"] & ~want["collateral_wrongly"]).sum() > 0


def test_consequences_by_group_count_the_collateral_reach(
    joint: tuple[pn.RunResult, pn.Scenario],
) -> None:
    run, sc = joint
    want = _recount(run, sc)
    by = pl.read_parquet(run.path / "consequences_by_group.parquet")
    snap = by.filter((pl.col("day") == DAYS - 1) & (pl.col("measure") == "schools"))
    assert snap["collateral"].sum() == want["reached"].sum() > 0
    assert snap["collateral_wrongly"].sum() == want["reached_wrongly"].sum()
    others = by.filter(pl.col("measure") != "schools")  # no joint liability: none
    assert others["collateral"].sum() == 0 and others["collateral_wrongly"].sum() == 0


def test_declared_beside_deserved_and_wrongful(joint: tuple[pn.RunResult, pn.Scenario]) -> None:
    run, _ = joint
    ts = run.manifest["outputs"]["timeseries"]
    coll = ts["excluded_collateral_schools"]
    assert (coll["family"], coll["key"], coll["headline"]) == (
        "excluded_collateral",
        "schools",
        True,
    )
    assert ts["excluded_collateral_wrongly_schools"]["wrongly"] == "excluded_collateral_schools"
    assert ts["excluded_wrongly_schools"]["wrongly"] == "excluded_schools"
    # goods without joint liability carry the columns (zero) but not as headlines
    assert not ts["excluded_collateral_public_jobs"]["headline"]
    assert run.timeseries["excluded_collateral_public_jobs"].sum() == 0


def test_without_joint_liability_no_collateral(tmp_path: Path) -> None:
    run, _ = _run(tmp_path, "sanctions.measures.schools.joint_liability=false")
    ts = run.timeseries
    assert ts["excluded_collateral_schools"].sum() == 0
    assert ts["excluded_collateral_wrongly_schools"].sum() == 0
    rounds = pl.read_parquet(run.path / "allocations.parquet")
    assert rounds["excluded_collateral"].sum() == 0
    by = pl.read_parquet(run.path / "consequences_by_group.parquet")
    assert by["collateral"].sum() == 0
    # exclusions are then the applicants' own triggers, deserved or wrongful
    p = run.people.with_columns(pl.col("grade", "true_grade", "schools").cast(pl.String))
    applied = p.filter(pl.col("schools") != "none")
    own = applied["grade"].is_in(LOW)
    assert ts["excluded_schools"].sum() == own.sum() > 0
    wrong = own & ~applied["true_grade"].is_in(LOW)
    assert ts["excluded_wrongly_schools"].sum() == wrong.sum()


def test_report_shows_the_three_parts(joint: tuple[pn.RunResult, pn.Scenario]) -> None:
    run, sc = joint
    want = _recount(run, sc)
    figures, _ = run_figures(label_runs([run]))
    fig = next(f for f in figures if f.id == "exclusions")
    by = {s.name: dict(zip(s.x, s.y, strict=True)) for s in fig.series}
    assert by["deserved"]["schools"] == want["deserved"].sum()
    assert by["wrongful"]["schools"] == want["wrongly"].sum()
    assert by["collateral, wrongful"]["schools"] == want["collateral_wrongly"].sum()
    member = want["collateral"].sum() - want["collateral_wrongly"].sum()
    assert by["collateral, deserved for the member"]["schools"] == member
    assert sum(v["schools"] for v in by.values()) == want["excluded"].sum()
    assert f"Collateral exclusions: {want['collateral'].sum():,}" in fig.caption
