"""Dated schedules and the calendar (issue 10, part 3 "Time"; issue 11's dated events).

A scalar rate or probability may be a schedule of dated values (steps or linear); the run
has a start date and every daily row its date. A stepped rate changes the day's acts in
proportion; a schedule that never changes gives the same bytes as the plain number; every
bad schedule is refused with one line naming the key, the value and what is allowed.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

import panopticon as pn
from panopticon.cli import main
from panopticon.core.engine import Simulation
from panopticon.core.params import Daily, Schedule

Z = 5.0
SMALL = {"population": 20_000, "days": 60, "seed": 3}
NO_DETER = "response.deterrence=1.0"  # acts then depend on the rate alone


def test_stepped_rate_scales_acts_from_the_step_day(tmp_path: Path) -> None:
    """Doubling the rate on day 30 doubles that day's acts and later days', within Poisson error.

    Before the step the draws are those of the constant run, exactly. From the step on,
    X (stepped) ~ Poisson(2 mu) and Y (constant) ~ Poisson(mu): X - 2Y has variance
    2 mu + 4 mu, estimated by X + 4Y.
    """
    const = pn.load("minimal", [NO_DETER, 'run.start_date="2020-01-01"'], **SMALL)
    step = 'behaviors.violation.rate={steps=[["2020-01-01", 0.02], ["2020-01-31", 0.04]]}'
    stepped = pn.load("minimal", [NO_DETER, 'run.start_date="2020-01-01"', step], **SMALL)
    y = pn.run(const, out=tmp_path / "c").timeseries["committed"].to_numpy()
    x = pn.run(stepped, out=tmp_path / "s").timeseries["committed"].to_numpy()
    assert (x[:30] == y[:30]).all()
    for xs, ys in ((x[30], y[30]), (x[30:].sum(), y[30:].sum())):
        assert abs(xs - 2 * ys) < Z * math.sqrt(xs + 4 * ys), (xs, ys)
    assert x[30:].sum() / y[30:].sum() == pytest.approx(2.0, rel=0.05)


def test_flat_schedule_gives_the_same_results_as_the_number(tmp_path: Path) -> None:
    """A schedule whose value never changes draws exactly what the plain number draws."""
    plain = pn.run(pn.load("minimal", **SMALL), out=tmp_path / "p")
    flat = pn.load("minimal", ['behaviors.violation.rate={steps=[["2018-01-01", 0.02]]}'], **SMALL)
    assert isinstance(flat.behaviors["violation"].rate, Schedule)
    same = pn.run(flat, out=tmp_path / "f")
    for name in ("timeseries", "people", "records"):
        assert getattr(plain, name).equals(getattr(same, name)), name


def test_every_daily_row_carries_its_date(tmp_path: Path) -> None:
    """`date` (date32) follows `day`: run.start_date + day; DayContext carries it too."""
    sc = pn.load("minimal", ['run.start_date="2016-12-01"'], population=2000, days=40)
    ts = pn.run(sc, out=tmp_path / "d").timeseries
    assert ts.columns[:2] == ["day", "date"] and ts.schema["date"] == pl.Date
    want = [date(2016, 12, 1) + timedelta(days=d) for d in ts["day"].to_list()]
    assert ts["date"].to_list() == want
    sim = Simulation(sc)
    assert sim.step().date == date(2016, 12, 1) and sim.step().date == date(2016, 12, 2)


def test_default_start_date_keeps_the_rollout_calendar() -> None:
    """The rollout reads its dates against run.start_date (default 2018-01-01, as before)."""
    assert pn.load("minimal").run.start == date(2018, 1, 1)
    assert pn.load("seed-article").run.start_date == "2018-01-01"


def test_linear_schedule_and_daily_values() -> None:
    """Linear interpolates day by day; flat before the first and after the last date."""
    sc = pn.load(
        "minimal",
        [
            'run.start_date="2020-01-01"',
            'behaviors.violation.rate={linear=[["2020-01-03", 0.0], ["2020-01-13", 1.0]]}',
        ],
        days=20,
    )
    d = Daily(sc.behaviors["violation"].rate, sc.run.start, sc.run.days)
    assert d.values[:3].tolist() == [0.0, 0.0, 0.0]
    assert d.values[7] == pytest.approx(0.5) and d.values[12:].tolist() == [1.0] * 8
    assert d.changes_on(0) and d.changes_on(3) and not d.changes_on(1) and not d.changes_on(15)
    c = Daily(0.25, sc.run.start, sc.run.days)
    assert c.constant and c.at(7) == 0.25 and not c.changes_on(7)


def test_set_accepts_a_schedule_and_it_round_trips(tmp_path: Path) -> None:
    """`--set key={steps=...}` sets a schedule; the resolved TOML reloads to the same."""
    step = 'behaviors.violation.rate={steps=[["2020-01-01",0.02],["2020-06-01",0.01]]}'
    sc = pn.load("minimal", ['run.start_date="2020-01-01"', step])
    rate = sc.behaviors["violation"].rate
    assert isinstance(rate, Schedule) and rate.kind == "steps"
    assert [v for _, v in rate.points] == [0.02, 0.01]
    (tmp_path / "s.toml").write_text(sc.to_toml())
    assert pn.load(tmp_path / "s.toml").to_toml() == sc.to_toml()
    assert sc.to_dict()["behaviors"]["violation"]["rate"] == {
        "steps": [["2020-01-01", 0.02], ["2020-06-01", 0.01]]
    }


def test_scheduled_channel_detection_starts_recording_on_its_date(tmp_path: Path) -> None:
    """A court channel with detection 0 then 0.5 from day 20 records nothing before it."""
    sets = [
        'run.start_date="2014-01-01"',
        'surveillance.channels.court={kind="court", detection={steps=[["2014-01-01", 0.0], '
        '["2014-01-21", 0.5]]}}',
        'behaviors.violation.channels=["court"]',
    ]
    ts = pn.run(pn.load("minimal", sets, **SMALL), out=tmp_path / "court").timeseries
    obs, acts = ts["observed"].to_numpy(), ts["committed"].to_numpy()
    assert obs[:20].sum() == 0
    n, k = acts[20:].sum(), obs[20:].sum()
    assert abs(k - 0.5 * n) < Z * math.sqrt(n * 0.25)


def test_measure_start_end_and_scheduled_attempts(tmp_path: Path) -> None:
    """A travel ban applies from start to end; its attempts follow their own schedule.

    Passport binding from 2016-12-10 (day 9) as a rise of the attempts a ban meets.
    """
    sets = [
        'run.start_date="2016-12-01"',
        "sanctions.blacklist.threshold=1001",
        'sanctions.measures.ban={kind="travel", trigger={below=1001}, start="2016-12-05", '
        'end="2016-12-25", attempts_per_year={steps=[["2016-12-01", 36.5], '
        '["2016-12-10", 365.0]]}}',
    ]
    ts = pn.run(pn.load("minimal", sets, population=5000, days=30), out=tmp_path / "m").timeseries
    trig, blocked = ts["triggered_ban"].to_numpy(), ts["blocked_ban"].to_numpy()
    assert (trig[:4] == 0).all() and (blocked[:4] == 0).all()
    assert (trig[4:24] == 5000).all() and (trig[24:] == 0).all() and (blocked[24:] == 0).all()
    low, high = blocked[4:9].sum(), blocked[9:24].sum()  # 0.1 then 1 attempt a day each
    assert abs(low - 0.1 * 5000 * 5) < Z * math.sqrt(0.1 * 5000 * 5)
    assert abs(high - 5000 * 15) < Z * math.sqrt(5000 * 15)


BAD = [
    (
        'behaviors.violation.rate={steps=[["2018-03-01", 0.02], ["2018-02-01", 0.01]]}',
        "error: behaviors.violation.rate: date 2018-02-01 after 2018-03-01 is not allowed; "
        "dates must be strictly increasing, without duplicates",
    ),
    (
        'behaviors.violation.rate={steps=[["2018-03-01", 0.02], ["2018-03-01", 0.01]]}',
        "error: behaviors.violation.rate: date 2018-03-01 after 2018-03-01 is not allowed; "
        "dates must be strictly increasing, without duplicates",
    ),
    (
        'behaviors.violation.rate={steps=[["2019-06-01", 0.02]]}',
        "error: behaviors.violation.rate: date 2019-06-01 is not allowed; schedule dates must "
        "lie within the run, 2018-01-01 to 2018-12-31 (run.start_date and run.days)",
    ),
    (
        'behaviors.violation.rate={linear=[["2018-01-01", 0.02], ["2018-05-01", 2000.0]]}',
        "error: behaviors.violation.rate: value 2000.0 on 2018-05-01 is not allowed; input "
        "should be less than or equal to 1000",
    ),
    (
        'surveillance.channels.court={kind="court", detection={steps=[["2018-01-01", 1.5]]}}',
        "error: surveillance.channels.court.detection: value 1.5 on 2018-01-01 is not "
        "allowed; input should be less than or equal to 1",
    ),
    (
        'behaviors.violation.rate={steps=[["01/03/2018", 0.02]]}',
        "error: behaviors.violation.rate: date '01/03/2018' is not allowed; use a date "
        '"YYYY-MM-DD", e.g. "2020-01-01"',
    ),
    (
        'behaviors.violation.rate={step=[["2018-01-01", 0.02]]}',
        "error: behaviors.violation.rate: a table with step is not allowed; give a number or "
        'a schedule with one key, steps or linear, e.g. {steps = [["2020-01-01", 0.02], '
        '["2020-06-01", 0.01]]}',
    ),
    (
        'behaviors.violation.rate={steps=[["2018-01-01", 0.02, 3]]}',
        "error: behaviors.violation.rate: steps entry ['2018-01-01', 0.02, 3] is not allowed; "
        'each entry is ["YYYY-MM-DD", value]',
    ),
    (
        'run.start_date="2018-1-1"',
        "error: run.start_date: date '2018-1-1' is not allowed; use a date \"YYYY-MM-DD\", "
        'e.g. "2020-01-01"',
    ),
    (
        'surveillance.camera.start_date="2018-01-01"',
        "error: surveillance.camera.start_date = '2018-01-01' is no longer allowed; the "
        "rollout reads its dates against run.start_date: set that instead",
    ),
    (
        'sanctions.measures.ban={kind="travel", trigger={below=900}, start="2019-02-01"}',
        "error: sanctions.measures.ban.start: date 2019-02-01 is not allowed; it must lie "
        "within the run, 2018-01-01 to 2018-12-31 (run.start_date and run.days)",
    ),
    (
        'sanctions.measures.ban={kind="travel", trigger={below=900}, start="2018-03-01", '
        'end="2018-02-01"}',
        "error: sanctions.measures.ban.end: date 2018-02-01 is not allowed; it must come "
        "after start = 2018-03-01",
    ),
]


@pytest.mark.parametrize(("item", "line"), BAD)
def test_bad_schedule_exits_2_with_one_line(
    item: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unordered, duplicate, outside, out of range, unknown format: exit 2, one line."""
    assert main(["validate", "minimal", "--set", item]) == 2
    err = capsys.readouterr().err.strip()
    assert err == line


def test_shortening_the_run_refuses_a_later_date() -> None:
    """A schedule date beyond a shortened run is refused, naming run.days."""
    step = 'behaviors.violation.rate={steps=[["2018-01-01", 0.02], ["2018-03-01", 0.01]]}'
    with pytest.raises(pn.ScenarioError, match=r"run\.start_date and run\.days"):
        pn.load("minimal", [step], days=30)
    assert pn.load("minimal", [step], days=60).run.days == 60
