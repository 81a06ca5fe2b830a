"""The court list of judgment defaulters (stages/sanction/court.py, docs/court-list.md).

Hand-computed cases (rates so high that each event falls on a known day), the
geometric law of the time to compliance, the passport binding of travel blocks, a
checkpoint resumed to the same bytes, and a small run of the `documented` preset.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numba
import numpy as np
import polars as pl
import pytest
import tomli_w
from scipy import stats

import panopticon as pn
from panopticon.core.module import Membership

START = date(2020, 1, 1)
SURE = 100_000.0  # a hazard per year that makes the day's event certain (1 - e^-274)


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    """One Numba thread: the same results (streams are keyed, not ordered), and on the
    loaded 2-core test machine a 2-thread parallel region per day costs ~50 ms of waiting."""
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


def day(d: int) -> str:
    """The date of day `d` of a run from START."""
    return (START + timedelta(days=d)).isoformat()


def court_scenario(
    tmp_path: Path, court: dict[str, Any], days: int, size: int = 200, **extra: Any
) -> pn.Scenario:
    """A scenario with no acts, the court list and a flight ban on it."""
    data: dict[str, Any] = {
        "name": "court-test",
        "run": {"start_date": START.isoformat(), "days": days, "seed": 3},
        "population": {"size": size, "age_bands": {"0-17": 0.3, "18-80": 0.7}},
        "behaviors": {"violation": {"rate": 0.0}},
        "sanctions": {
            "court": court,
            "measures": {
                "flight_ban": {
                    "kind": "travel",
                    "trigger": {"policy": "court"},
                    "attempts_per_year": 365.0,
                    **extra.pop("flight", {}),
                }
            },
        },
        **extra,
    }
    path = tmp_path / "court.toml"
    path.write_text(tomli_w.dumps(data))
    return pn.load(path)


def adults(run: pn.RunResult) -> int:
    """Citizens aged 18 or more (the default `ages` of debtors)."""
    return int((run.people["age"] >= 18).sum())


def test_listed_then_expired_at_the_longest_duration(tmp_path: Path) -> None:
    # everyone eligible gets a case on day 0, defaults, is listed on day 1, never complies:
    # listed on days 1..5 (duration 5), expired on day 6, new case on day 6, listed day 7
    court = {
        "cases_per_year": SURE,
        "perform_share": 0.0,
        "listing_per_year": SURE,
        "compliance_per_year": 0.0,
        "duration_days": 5,
    }
    run = pn.run(court_scenario(tmp_path, court, days=14), out=tmp_path / "r")
    ts, n = run.timeseries, adults(run)
    assert 0 < n < 200  # minors are never debtors
    want_listed = [0, n, n, n, n, n, 0, n, n, n, n, n, 0, n]
    assert ts["listed_court"].to_list() == want_listed
    assert ts["court_cases"].to_list() == [n, 0, 0, 0, 0, 0, n, 0, 0, 0, 0, 0, n, 0]
    assert ts["court_listings"].to_list() == [0, n, 0, 0, 0, 0, 0, n, 0, 0, 0, 0, 0, n]
    assert ts["court_expired"].to_list() == [0, 0, 0, 0, 0, 0, n, 0, 0, 0, 0, 0, n, 0]
    assert ts["court_defaulting"].to_list() == [n, 0, 0, 0, 0, 0, n, 0, 0, 0, 0, 0, n, 0]
    assert ts["court_performed"].sum() == ts["court_complied"].sum() == 0
    # the measure restricts exactly the listed
    assert ts["triggered_flight_ban"].to_list() == want_listed
    assert (ts["blocked_flight_ban"].to_numpy()[np.array(want_listed) == 0] == 0).all()
    people = run.people
    assert people["court"].sum() == n  # listed again on the last day
    assert (people.filter(pl.col("court"))["age"] >= 18).all()


def test_compliance_removes_the_listing(tmp_path: Path) -> None:
    # compliance becomes certain from day 3: listed on day 1, complies on day 3; the new
    # case of day 3 defaults, and compliance (certain on day 4) wins the tie with listing
    court = {
        "cases_per_year": SURE,
        "perform_share": 0.0,
        "listing_per_year": SURE,
        "compliance_per_year": {"steps": [[day(0), 0.0], [day(3), SURE]]},
        "duration_days": 100,
    }
    run = pn.run(court_scenario(tmp_path, court, days=6), out=tmp_path / "r")
    ts, n = run.timeseries, adults(run)
    assert ts["listed_court"].to_list() == [0, n, n, 0, 0, 0]
    assert ts["court_complied"].to_list() == [0, 0, 0, n, 0, 0]
    assert ts["court_paid_unlisted"].to_list() == [0, 0, 0, 0, n, n]
    assert ts["court_cases"].to_list() == [n, 0, 0, n, n, n]
    assert ts["court_expired"].sum() == 0
    # everyone performs: no default, no listing
    sc = court_scenario(tmp_path, {**court, "perform_share": 1.0}, days=6)
    ts2 = pn.run(sc, out=tmp_path / "p").timeseries
    assert ts2["court_performed"].to_list() == [n] * 6
    assert ts2["listed_court"].sum() == ts2["court_defaulting"].sum() == 0


def test_time_to_compliance_is_geometric(tmp_path: Path) -> None:
    # all listed on day 1; from day 2 a listed debtor complies with a constant daily
    # chance q = 1 - exp(-m h / 365): T = days listed is geometric, P(T = k) = (1-q)^(k-1) q
    days, size, h, m = 120, 20_000, 12.0, 3.0
    court = {
        "cases_per_year": {"steps": [[day(0), SURE], [day(1), 0.0]]},
        "perform_share": 0.0,
        "listing_per_year": SURE,
        "compliance_per_year": {"steps": [[day(0), 0.0], [day(2), h]]},
        "listing_multiplier": m,
        "duration_days": 36_500,
    }
    run = pn.run(court_scenario(tmp_path, court, days=days, size=size), out=tmp_path / "r")
    ts, n = run.timeseries, adults(run)
    q = 1.0 - math.exp(-m * h / 365.0)
    complied = ts["court_complied"].to_numpy()
    assert complied[:2].sum() == 0 and ts["court_listings"].sum() == n
    k = np.arange(1, days - 1)  # compliance on day t means T = t - 1 days listed
    observed = complied[2:]
    still = n - observed.sum()
    assert still == ts["listed_court"][-1]
    expected = n * (1 - q) ** (k - 1) * q
    tail = n * (1 - q) ** k[-1]  # still listed at the end: T > days - 2
    # bins with at least 5 expected, the rest pooled with the tail
    ok = expected >= 5
    obs = np.append(observed[ok], observed[~ok].sum() + still)
    exp = np.append(expected[ok], expected[~ok].sum() + tail)
    assert abs(exp.sum() - n) < 1e-6 * n
    chi2 = ((obs - exp) ** 2 / exp).sum()
    assert stats.chi2.sf(chi2, obs.size - 1) > 1e-3
    # mean of T (the tail is negligible: (1-q)^118 n < 1): within 4 standard errors
    assert tail < 1
    mean = (observed * k).sum() / observed.sum()
    se = math.sqrt(1 - q) / q / math.sqrt(observed.sum())
    assert abs(mean - 1 / q) < 4 * se


def test_passport_binding_closes_the_loophole(tmp_path: Path) -> None:
    # everyone eligible listed from day 1 for the whole run; a share s of attempts
    # escapes before the binding date (day 20), none from it
    s, size, bind = 0.3, 2_000, 20
    court = {
        "cases_per_year": {"steps": [[day(0), SURE], [day(1), 0.0]]},
        "perform_share": 0.0,
        "listing_per_year": SURE,
        "compliance_per_year": 0.0,
        "duration_days": 36_500,
    }
    flight = {"options": {"escape_share": s, "escape_until": day(bind)}}
    sc = court_scenario(tmp_path, court, days=40, size=size, flight=flight)
    ts = pn.run(sc, out=tmp_path / "r").timeseries
    blocked, escaped = ts["blocked_flight_ban"].to_numpy(), ts["escaped_flight_ban"].to_numpy()
    listed = ts["listed_court"].to_numpy()
    assert (escaped[bind:] == 0).all() and escaped[1:bind].sum() > 0
    before = escaped[1:bind].sum() / (escaped[1:bind].sum() + blocked[1:bind].sum())
    total = escaped[1:bind].sum() + blocked[1:bind].sum()
    assert abs(before - s) < 4 * math.sqrt(s * (1 - s) / total)
    # the blocked rate per listed person-day rises from (1 - s) x 1 to 1 on the date
    rate_before = blocked[1:bind].sum() / listed[1:bind].sum()
    rate_after = blocked[bind:].sum() / listed[bind:].sum()
    assert abs(rate_before - (1 - s)) < 4 * math.sqrt((1 - s) / listed[1:bind].sum())
    assert abs(rate_after - 1.0) < 4 * math.sqrt(1.0 / listed[bind:].sum())
    # bad options are refused with the field named
    with pytest.raises(pn.ScenarioError, match="escape_share"):
        court_scenario(tmp_path, court, days=40, flight={"options": {"escape_share": 2.0}})


def cohort_run(tmp_path: Path, rate_date: str | None, name: str) -> pl.DataFrame:
    """Everyone eligible listed on day 1, 7, 13, ... (5-day listings, a case every day);
    the flight rate is 0 before day 4 and 365 (one a day) from it."""
    court = {
        "cases_per_year": SURE,
        "perform_share": 0.0,
        "listing_per_year": SURE,
        "compliance_per_year": 0.0,
        "duration_days": 5,
    }
    flight: dict[str, Any] = {"attempts_per_year": {"steps": [[day(0), 0.0], [day(4), 365.0]]}}
    if rate_date is not None:
        flight["options"] = {"rate_date": rate_date}
    sc = court_scenario(tmp_path, court, days=14, size=400, flight=flight)
    return pn.run(sc, out=tmp_path / name).timeseries


def test_cohort_rate_is_the_listing_dates(tmp_path: Path) -> None:
    # rate_date = "listed": the cohort listed on day 1 attempts at r(day 1) = 0 for its
    # whole listing (days 1-5), though today's rate is 1 a day from day 4; relisted on
    # day 7 (and 13), its members take r(day 7) = 1 a day
    ts = cohort_run(tmp_path, "listed", "listed")
    blocked = ts["blocked_flight_ban"].to_numpy()
    listed = ts["listed_court"].to_numpy()
    n = int(listed[1])
    assert n > 0 and (listed[[1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 13]] == n).all()
    assert (blocked[:7] == 0).all()
    assert ts["blocked_wrongly_flight_ban"].sum() == 0
    later = blocked[7:12].sum()  # 5 days of n members at one attempt a day
    assert abs(later - 5 * n) < 4 * math.sqrt(5 * n) and blocked[12] == 0
    # the default (today's rate): days 4 and 5 block at today's rate 1 a day
    today = cohort_run(tmp_path, None, "today")["blocked_flight_ban"].to_numpy()
    assert (today[:4] == 0).all() and today[4:6].sum() > 0
    assert abs(today[4:6].sum() - 2 * n) < 4 * math.sqrt(2 * n)
    # "today" given explicitly draws the same numbers as the option left out
    explicit = cohort_run(tmp_path, "today", "explicit")
    assert explicit.equals(cohort_run(tmp_path, None, "default"))


def test_cohort_option_refused_where_it_cannot_apply(tmp_path: Path) -> None:
    court = {"cases_per_year": 1.0}
    with pytest.raises(pn.ScenarioError, match="rate_date"):
        court_scenario(tmp_path, court, days=5, flight={"options": {"rate_date": "ever"}})
    off_list = {"options": {"rate_date": "listed"}, "trigger": {"policy": "score"}}
    with pytest.raises(pn.ScenarioError, match="rate_date: 'listed' is not allowed"):
        court_scenario(tmp_path, court, days=5, flight=off_list)
    no_court = tmp_path / "no-court.toml"
    no_court.write_text(
        'extends = "minimal"\n[sanctions.measures.x]\nkind = "travel"\n'
        'trigger = { policy = "court" }\noptions = { rate_date = "listed" }\n'
    )
    with pytest.raises(pn.ScenarioError, match=r"x\.options\.rate_date: 'listed' needs the court"):
        pn.load(no_court)


@pytest.mark.parametrize("rate_date", ["today", "listed"])
def test_checkpoint_resume_same_bytes(tmp_path: Path, rate_date: str) -> None:
    court = {
        "cases_per_year": 2.0,
        "perform_share": 0.4,
        "listing_per_year": {"linear": [[day(0), 1.0], [day(50), 20.0]]},
        "compliance_per_year": 3.0,
        "listing_multiplier": 2.0,
        "duration_days": 30,
        "initial_defaulting": 0.05,
    }
    flight = {
        "attempts_per_year": {"linear": [[day(0), 3.0], [day(80), 0.5]]},
        "options": {"rate_date": rate_date},
    }
    sc = court_scenario(tmp_path, court, days=90, size=3_000, flight=flight)
    whole = tmp_path / "whole"
    pn.run(sc, out=whole, checkpoint_every=40)

    def stop(done: int, total: int) -> None:
        if done == 60:
            raise RuntimeError("stop")

    cut = tmp_path / "cut"
    with pytest.raises(RuntimeError):
        pn.run(sc, out=cut, checkpoint_every=40, progress=stop)
    pn.resume(cut)
    for name in ("timeseries", "people"):
        a = pl.read_parquet(whole / f"{name}.parquet")
        b = pl.read_parquet(cut / f"{name}.parquet")
        assert a.equals(b), name
    ts = pl.read_parquet(whole / "timeseries.parquet")
    # every kind of event happened before and after the checkpoint of day 40
    for col in ("court_listings", "court_complied", "court_expired", "court_paid_unlisted"):
        assert ts[col][:40].sum() > 0 and ts[col][40:].sum() > 0, col


def test_documented_preset_small(tmp_path: Path) -> None:
    # 1,918 days: to the last schedule date of the preset (2018-12-31, day 1917)
    sc = pn.load("documented", population=1_000, days=1_918, seed=1)
    assert sc.run.start_date == "2013-10-01" and sc.population.represents == 1.4e9
    assert pn.load("documented").run.days == 2130
    sim = pn.Simulation(sc)
    assert isinstance(sim.court, Membership)
    run = pn.run(sc, out=tmp_path / "d")
    ts = run.timeseries
    listed = ts["listed_court"].to_numpy()
    assert listed[0] == 0 and listed[-1] > 0
    for m in ("flight_ban", "hsr_ban", "named_defaulters", "high_consumption"):
        assert (ts[f"triggered_{m}"].to_numpy() == listed).all(), m
    binding = (date(2016, 12, 10) - date(2013, 10, 1)).days
    assert ts["escaped_flight_ban"][binding:].sum() == 0
    assert ts["blocked_flight_ban"].sum() > 0
    assert run.people["court"].sum() == listed[-1]
