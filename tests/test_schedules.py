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

import numpy as np
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
        "error: behaviors.violation.rate: date 2019-06-01 is not allowed; a schedule's first "
        "date must fall on or before the run's last day, 2018-12-31 (run.start_date and "
        "run.days); later dates are allowed",
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


def test_a_shortened_run_sees_the_start_of_its_schedules(tmp_path: Path) -> None:
    """A schedule date beyond a shortened run is allowed: the short run's results are the
    first days of the long run's (same seed), byte for byte; a schedule that begins after
    the run's last day is refused."""
    step = 'behaviors.violation.rate={steps=[["2018-01-01", 0.02], ["2018-03-01", 0.01]]}'
    short = pn.run(pn.load("minimal", [step], population=3000, days=30), out=tmp_path / "s")
    long = pn.run(pn.load("minimal", [step], population=3000, days=90), out=tmp_path / "l")
    a, b = short.timeseries, long.timeseries.head(30)
    assert a.drop("date").equals(b.drop("date"))
    assert long.timeseries["committed"][70:].sum() < long.timeseries["committed"][:59].sum()
    late = 'behaviors.violation.rate={steps=[["2018-02-01", 0.02]]}'
    with pytest.raises(pn.ScenarioError, match=r"first date must fall on or before"):
        pn.load("minimal", [late], days=30)


# -- every scalar rate or probability may be dated (issue 10, item 3: the rest) -----------

DATED = {"population": 20_000, "days": 30, "seed": 5}


def _steps(before: float, after: float, when: str) -> str:
    """A two-step schedule from the run's first day (2018-01-01) to `after` on `when`."""
    return f'{{steps=[["2018-01-01", {before}], ["{when}", {after}]]}}'


D10, D15, D20 = "2018-01-11", "2018-01-16", "2018-01-21"  # days 10, 15 and 20

MECHANISMS = [
    "population.groups={a={share=0.5}, b={share=0.5}}",
    f"surveillance.faceid.p_wrong={_steps(0.0, 0.5, D10)}",
    f"surveillance.faceid.p_miss={_steps(0.0, 0.4, D20)}",
    f"surveillance.faceid.same_group_share={_steps(0.0, 1.0, D20)}",
    f'surveillance.channels.court={{kind="court", detection=0.5, '
    f"wrong_person={_steps(0.0, 1.0, D10)}}}",
    'behaviors.debt={rate=0.02, points=5, place="court", channels=["court"]}',
    "surveillance.appeals.enabled=true",
    "surveillance.appeals.delay_days=0",
    f"surveillance.appeals.p_appeal_correct={_steps(0.0, 1.0, D10)}",
    f"surveillance.appeals.p_appeal_wrongful={_steps(0.0, 1.0, D10)}",
    f"surveillance.appeals.p_win_correct={_steps(0.0, 1.0, D20)}",
    f"surveillance.appeals.p_win_wrongful={_steps(0.0, 1.0, D20)}",
    "scoring.grades={A=[970, 1001], D=[0, 970]}",
    f'scoring.lists.debtors={{behaviors=["debt"], duration_days=1000, '
    f"exit_per_day={_steps(0.0, 1.0, D15)}}}",
    f'sanctions.measures.loan={{kind="loan", rates={{A=0.04, D=0.08}}, '
    f"loans_per_year={_steps(0.0, 1.0, D10)}}}",
    f'sanctions.measures.school={{kind="school", trigger={{below=990}}, every_days=10, '
    f"first_day=0, ages=[0, 120], apply_share={_steps(0.1, 0.5, D10)}, "
    f"capacity_share={_steps(0.5, 0.1, D20)}}}",
]


@pytest.fixture(scope="module")
def dated_run(tmp_path_factory: pytest.TempPathFactory) -> pn.RunResult:
    """One run in which every newly dated field steps on day 10, 15 or 20."""
    sc = pn.load("minimal", MECHANISMS, **DATED)
    return pn.run(sc, out=tmp_path_factory.mktemp("dated") / "run", checkpoint_every=15)


def _binomial_close(k: float, n: float, p: float) -> bool:
    """k successes of n trials lie within Z standard errors of n p."""
    return abs(k - n * p) <= Z * math.sqrt(max(n * p * (1 - p), 1.0))


def test_dated_face_id_rates_and_wrong_person(dated_run: pn.RunResult) -> None:
    """p_wrong 0 -> 0.5 on day 10, p_miss 0 -> 0.4 on day 20, court wrong_person 0 -> 1.

    Before its date a rate of 0 leaves no trace (no wrongful camera or court record, no
    miss); after it the share of camera detections so attributed is the rate.
    """
    rec = dated_run.records
    ts = dated_run.timeseries
    cam, court = rec.filter(pl.col("channel") == "camera"), rec.filter(pl.col("channel") == "court")
    wrong_cam = cam.filter(~pl.col("correct")).group_by("day").len()
    assert wrong_cam.filter(pl.col("day") < 10).height == 0
    missed = ts["missed"].to_numpy()
    assert missed[:20].sum() == 0 and missed[20:].sum() > 0
    assert court.filter((pl.col("day") < 10) & ~pl.col("correct")).height == 0
    late = court.filter(pl.col("day") >= 10)
    assert late.height > 100 and not late["correct"].any()
    # camera outcomes by period: observed camera acts = camera records + misses
    cam_days = cam.group_by("day").agg(
        pl.len().alias("n"), (~pl.col("correct")).sum().alias("wrong")
    )
    mid = cam_days.filter(pl.col("day").is_between(10, 19))
    n_mid, w_mid = float(mid["n"].sum()), float(mid["wrong"].sum())
    assert _binomial_close(w_mid, n_mid, 0.5), (w_mid, n_mid)  # p_miss 0: every act named
    end = cam_days.filter(pl.col("day") >= 20)
    seen = float(end["n"].sum() + missed[20:].sum())
    assert _binomial_close(float(missed[20:].sum()), seen, 0.4)
    assert _binomial_close(float(end["wrong"].sum()), seen, 0.5)


def test_dated_same_group_share(dated_run: pn.RunResult) -> None:
    """same_group_share 0 -> 1 on day 20: from then every false match names the own group."""
    group = dated_run.people["group"].cast(pl.Utf8).to_numpy()
    cam = dated_run.records.filter((pl.col("channel") == "camera") & ~pl.col("correct"))
    same = group[cam["perpetrator"].to_numpy()] == group[cam["attributed_to"].to_numpy()]
    day = cam["day"].to_numpy()
    assert same[day >= 20].all() and (day >= 20).sum() > 100
    before = same[(day >= 10) & (day < 20)]
    assert _binomial_close(float(before.sum()), float(before.size), 0.5)  # anyone but the actor


def test_dated_appeal_and_win_rates(dated_run: pn.RunResult) -> None:
    """Appeal chances 0 -> 1 on day 10, win chances 0 -> 1 on day 20 (decided the same day)."""
    ts = dated_run.timeseries
    made = (ts["attributed_correct"] + ts["attributed_wrong"]).to_numpy()
    appealed, won = ts["appealed"].to_numpy(), ts["appeals_won"].to_numpy()
    assert appealed[:10].sum() == 0 and (appealed[10:] == made[10:]).all()
    assert won[:20].sum() == 0 and (won[20:] == made[20:]).all() and won[20:].sum() > 0


def test_dated_list_exit(dated_run: pn.RunResult) -> None:
    """exit_per_day 0 -> 1 on day 15: no exit before; from day 15 only today's entries stay."""
    ts = dated_run.timeseries
    listed, entries = ts["listed_debtors"].to_numpy(), ts["entries_debtors"].to_numpy()
    assert (listed[:15] == entries.cumsum()[:15]).all() and listed[14] > 100
    assert (listed[15:20] == entries[15:20]).all()


def test_dated_loans_per_year(dated_run: pn.RunResult) -> None:
    """loans_per_year 0 -> 1 on day 10: no extra interest before, a daily amount from then."""
    extra = dated_run.timeseries["extra_interest_loan"].to_numpy()
    assert (extra[:10] == 0).all() and (extra[10:] != 0).all()


def test_dated_scarce_good_shares(dated_run: pn.RunResult) -> None:
    """apply_share 0.1 -> 0.5 on day 10, capacity_share 0.5 -> 0.1 on day 20, per round."""
    rounds = pl.read_parquet(dated_run.path / "allocations.parquet").sort("day")
    assert rounds["day"].to_list() == [0, 10, 20]
    n = DATED["population"]
    for applicants, share in zip(rounds["applicants"].to_list(), (0.1, 0.5, 0.5), strict=True):
        assert _binomial_close(applicants, n, share), (applicants, share)
    want = [round(c * a) for c, a in zip((0.5, 0.5, 0.1), rounds["applicants"], strict=True)]
    assert rounds["capacity"].to_list() == want


RESPONSE = {"population": 20_000, "days": 30, "seed": 7}
LAWFUL = "behaviors.speech={rate=0.02, points=0, lawful=true, channels=[]}"


@pytest.fixture(scope="module")
def response_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pn.RunResult]:
    """Plain (no deterrence at all), dated elasticities, dated specific deterrence."""
    base = [NO_DETER, LAWFUL]
    sets = {
        "plain": base,
        "general": [
            *base,
            f"response.elasticity={_steps(0.0, 1.0, D10)}",
            f"response.chilling_elasticity={_steps(0.0, 2.0, D20)}",
        ],
        "specific": [*base, f"response.deterrence={_steps(1.0, 0.2, D10)}"],
    }
    root = tmp_path_factory.mktemp("response")
    return {
        k: pn.run(pn.load("minimal", v, **RESPONSE), out=root / k, checkpoint_every=15)
        for k, v in sets.items()
    }


def _scaled(x: float, y: float, m: float) -> bool:
    """X ~ Poisson(m mu) beside Y ~ Poisson(mu): X - m Y within Z sd, estimated X + m^2 Y."""
    return abs(x - m * y) < Z * math.sqrt(x + m * m * y)


def test_dated_elasticities_scale_acts_from_their_dates(
    response_runs: dict[str, pl.DataFrame],
) -> None:
    """Elasticity 0 -> 1 on day 10 and chilling 0 -> 2 on day 20 thin acts from those days.

    Perceived detection P = 0.3 coverage x 0.9 identified = 0.27, reference 0.05: the
    violation rate is multiplied by (1 + 0.27 / 0.05)^-1 from day 10, the lawful act's by
    (1 + 0.27 / 0.05)^-2 from day 20; before its date each is the plain run's, exactly.
    """
    plain, dated = response_runs["plain"].timeseries, response_runs["general"].timeseries
    m = 1.0 + 0.27 / 0.05
    for col, day, mult in (("committed_violation", 10, 1 / m), ("committed_speech", 20, m**-2)):
        x, y = dated[col].to_numpy(), plain[col].to_numpy()
        assert (x[:10] == y[:10]).all(), col
        if day == 20:  # chilling still 0: the same law as the plain run
            assert _scaled(float(x[10:20].sum()), float(y[10:20].sum()), 1.0)
        assert _scaled(float(x[day:].sum()), float(y[day:].sum()), mult), (col, x, y)


def test_dated_specific_deterrence_starts_on_its_date(
    response_runs: dict[str, pl.DataFrame],
) -> None:
    """deterrence 1 -> 0.2 on day 10: acts as the plain run's through day 10, fewer after.

    From day 10 each record cuts its person's rate to a fifth; about a seventh of the acts
    are by people with a record by then, so acts fall by about a tenth.
    """
    x = response_runs["specific"].timeseries["committed_violation"].to_numpy()
    y = response_runs["plain"].timeseries["committed_violation"].to_numpy()
    assert (x[:11] == y[:11]).all()
    xs, ys = float(x[11:].sum()), float(y[11:].sum())
    assert ys - xs > Z * math.sqrt(xs + ys), (xs, ys)


def test_fork_after_a_step_equals_the_whole_run(
    dated_run: pn.RunResult, response_runs: dict[str, pn.RunResult], tmp_path: Path
) -> None:
    """A run continued from day 15 uses the rates of day 15, not those of day 0.

    Identify and Respond write dated values into their tables only on the days they
    change (10 and 20 here); a run restored on day 15 must start from day 15's values.
    """
    for name, whole in (("dated", dated_run), ("general", response_runs["general"])):
        fork = pn.fork(whole.path, 15, [], tmp_path / name)
        for table in ("timeseries", "people", "records"):
            assert getattr(fork, table).equals(getattr(whole, table)), (name, table)


def test_measure_outside_its_days_reaches_nobody(tmp_path: Path) -> None:
    """Before start and from end a measure has no members, counts nothing, excludes no one.

    consequences_by_group (snapshots on days 29 and 39) reads each measure's membership: a
    school restriction starting on day 30 has nobody on day 29, one ending on day 20
    nobody on either day; their rounds outside the window exclude no one.
    """
    everyone = "trigger={below=1001}, every_days=5, first_day=0, ages=[0, 120]"
    sets = [
        "population.groups={a={share=0.5}, b={share=0.5}}",
        f'sanctions.measures.later={{kind="school", {everyone}, start="2018-01-31"}}',
        f'sanctions.measures.earlier={{kind="school", {everyone}, end="2018-01-21"}}',
    ]
    res = pn.run(pn.load("minimal", sets, population=3000, days=40), out=tmp_path / "w")
    ts = res.timeseries
    for name, on in (("later", slice(30, 40)), ("earlier", slice(0, 20))):
        inside = np.zeros(40, dtype=bool)
        inside[on] = True
        trig, excl = ts[f"triggered_{name}"].to_numpy(), ts[f"excluded_{name}"].to_numpy()
        assert (trig[~inside] == 0).all() and (excl[~inside] == 0).all(), name
        assert (trig[inside] == 3000).all() and excl[inside].sum() > 0, name
    cons = pl.read_parquet(res.path / "consequences_by_group.parquet")
    by = cons.group_by("measure", "day").agg(pl.col("triggered").sum())
    got = {(r["measure"], r["day"]): r["triggered"] for r in by.iter_rows(named=True)}
    assert got[("later", 29)] == 0 and got[("later", 39)] == 3000
    assert got[("earlier", 29)] == 0 and got[("earlier", 39)] == 0
    rounds = pl.read_parquet(res.path / "allocations.parquet")
    for name, lo, hi in (("later", 30, 40), ("earlier", 0, 20)):
        days = rounds.filter(pl.col("measure") == name)["day"].to_list()
        assert days and all(lo <= d < hi for d in days), (name, days)


BAD_DATED = [
    (
        f"surveillance.faceid.p_wrong={_steps(0.0, 0.95, '2018-02-11')}",
        "error: surveillance.faceid: p_miss + p_wrong = 1.05 on 2018-02-11 is not allowed; "
        "the two outcome rates must sum to at most 1 on every day",
    ),
    (
        'surveillance.faceid={mode="fixed", p_wrong={steps=[["2018-01-01", 0.5], '
        '["2018-03-01", 0.0]]}, p_miss={linear=[["2018-01-01", 0.0], ["2018-04-01", 0.9]]}}',
        "error: surveillance.faceid: p_miss + p_wrong = 1.01 on 2018-02-21 is not allowed; "
        "the two outcome rates must sum to at most 1 on every day",
    ),
    (
        'surveillance.appeals.p_win_wrongful={steps=[["2018-03-01", 0.2], ["2018-02-01", 0.1]]}',
        "error: surveillance.appeals.p_win_wrongful: date 2018-02-01 after 2018-03-01 is not "
        "allowed; dates must be strictly increasing, without duplicates",
    ),
    (
        'response.elasticity={steps=[["2018-01-01", 0.5], ["2018-01-01", 1.0]]}',
        "error: response.elasticity: date 2018-01-01 after 2018-01-01 is not allowed; dates "
        "must be strictly increasing, without duplicates",
    ),
    (
        'response.deterrence={steps=[["2018-01-01", 0.0]]}',
        "error: response.deterrence: value 0.0 on 2018-01-01 is not allowed; input should be "
        "greater than 0",
    ),
    (
        'response.chilling_elasticity={steps=[["2019-01-01", 1.0]]}',
        "error: response.chilling_elasticity: date 2019-01-01 is not allowed; a schedule's "
        "first date must fall on or before the run's last day, 2018-12-31 (run.start_date "
        "and run.days); later dates are allowed",
    ),
    (
        'scoring.lists.x={behaviors=["violation"], exit_per_day={steps=[["2018-01-01", 1.5]]}}',
        "error: scoring.lists.x.exit_per_day: value 1.5 on 2018-01-01 is not allowed; input "
        "should be less than or equal to 1",
    ),
    (
        'surveillance.channels.c={kind="court", detection=0.1, '
        'wrong_person={steps=[["2018-13-01", 0.1]]}}',
        "error: surveillance.channels.c.wrong_person: date '2018-13-01' is not allowed; use a "
        'date "YYYY-MM-DD", e.g. "2020-01-01"',
    ),
    (
        'sanctions.measures.s={kind="school", trigger={below=900}, '
        'capacity_share={linear=[["2018-01-01", 0.5], ["2018-06-01", -0.1]]}}',
        "error: sanctions.measures.s.capacity_share: value -0.1 on 2018-06-01 is not allowed; "
        "input should be greater than or equal to 0",
    ),
    (
        'sanctions.measures.l={kind="loan", trigger={policy="score"}, '
        'loans_per_year={steps=[["2018-01-01", 2000]]}}',
        "error: sanctions.measures.l.loans_per_year: value 2000 on 2018-01-01 is not allowed; "
        "input should be less than or equal to 1000",
    ),
]


@pytest.mark.parametrize(("item", "line"), BAD_DATED)
def test_bad_dated_field_exits_2_with_one_line(
    item: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The newly dated fields refuse bad schedules like the others: exit 2, one line."""
    assert main(["validate", "minimal", "--set", item]) == 2
    assert capsys.readouterr().err.strip() == line


def test_dated_fields_round_trip_and_plain_numbers_stay_numbers() -> None:
    """A schedule on each new field reloads from the resolved TOML; numbers stay floats."""
    sc = pn.load("minimal", MECHANISMS, **DATED)
    assert isinstance(sc.surveillance.faceid.p_wrong, Schedule)
    assert isinstance(sc.sanctions.measures["school"].apply_share, Schedule)
    again = pn.load("minimal").override(sc.to_dict())
    assert again.to_toml() == sc.to_toml()
    plain = pn.load("minimal")
    assert isinstance(plain.response.deterrence, float)
    assert isinstance(plain.surveillance.faceid.p_miss, float)
