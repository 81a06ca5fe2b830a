"""`panopticon calibrate`: recovery of known parameters, resume, determinism, bad input.

Recovery: targets are generated from runs of the minimal model at known parameters
(seeds 1000+, independent of the calibration's seeds 0, 1, ...), with specific
deterrence off (``response.deterrence = 1``) so that the expected counts are exactly
proportional to what is calibrated: acts committed C to the behaviour rate, records
against the right person A to rate x (1 - p_miss - p_wrong). The tolerance is derived:

- if the best trial's loss is L (mean over T targets of z^2, all |z| <= 3 when T L <= 9),
  each target's simulated mean is within sqrt(sigma^2 + e^2) sqrt(T L) of its value, where
  e = sqrt(value / R) is the loss's sampling sd of a count at the target (R replicates);
- the simulated mean of R replicates and the target (one run) each differ from their
  expectations by sampling noise; for a mixed-Poisson total over N citizens with per-person
  mean lam g_i, g ~ Gamma(k, mean 1), the relative sd of one run is
  s = sqrt((1 + lam / k) / (N lam)); the difference of the two has relative sd
  s sqrt(1 + 1/R) (one for the target, 1/R for the mean), bounded at 3 sd;
- so |rate / rate0 - 1| <= sigma_rel sqrt(T L) + 3 s_C sqrt(1 + 1/R), and
  (1 - p_miss - p_wrong) is recovered within the sum of C's and A's bounds (A / C).

The test also asks the optimizer to have found a good fit (L <= 2), which is what fails if
the parameters are not applied, the loss is wrong or the search does not search.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from panopticon import scenario
from panopticon.analysis.calibrate import (
    CalibrationError,
    CalibrationInterrupted,
    calibrate,
    huber,
    loss,
)
from panopticon.analysis.calibrate_targets import Target
from panopticon.analysis.workers import Interrupted
from panopticon.cli.main import main
from panopticon.core.engine import run as engine_run
from panopticon.io.runs import RunResult

N, DAYS = 5000, 60
SETS = ["response.deterrence=1.0", 'run.records="none"']
RATE0, PMISS0, PWRONG, COVERAGE, SHAPE = 0.02, 0.30, 0.01, 0.3, 0.5
RATE = "behaviors.violation.rate"
PMISS = "surveillance.faceid.p_miss"


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Runs this small are fastest on one thread (results are the same on any count)."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


def base(n: int = N, days: int = DAYS) -> scenario.Scenario:
    """The minimal model without specific deterrence."""
    return scenario.load("minimal", SETS, population=n, days=days)


def truth_totals(tmp: Path, n: int, days: int, seeds: list[int]) -> dict[str, float]:
    """Mean totals of committed and attributed_correct over runs at the known values."""
    sc = base(n, days).override({RATE: RATE0, PMISS: PMISS0})
    tot = {"committed": 0.0, "attributed_correct": 0.0}
    for s in seeds:
        res = engine_run(sc.override(seed=s), out=tmp / f"truth{s}", overwrite=True)
        del res
        ts = RunResult(tmp / f"truth{s}").timeseries
        for k in tot:
            tot[k] += float(ts[k].sum()) / len(seeds)
    return tot


def write_targets(path: Path, totals: dict[str, float], sigma_rel: float, days: int) -> Path:
    """Cumulative targets on the last day, each with sigma = sigma_rel x value."""
    last = f"2018-01-{days:02d}" if days <= 31 else ("2018-03-01" if days == 60 else None)
    assert last is not None
    text = ""
    for col, v in totals.items():
        text += (
            f'[[target]]\nname = "{col}"\ncolumn = "{col}"\nkind = "cumulative"\n'
            f"date = {last}\nvalue = {v}\nsigma = {sigma_rel * v}\n"
            f'source = "synthetic: minimal at {RATE}={RATE0}, {PMISS}={PMISS0}"\n\n'
        )
    path.write_text(text, "utf-8")
    return path


def rel_sd(lam: float, n: int, shape: float = SHAPE) -> float:
    """Relative sd of a Gamma-mixed Poisson total over n citizens with mean lam each."""
    return math.sqrt((1 + lam / shape) / (n * lam))


def test_huber_and_loss() -> None:
    """Quadratic within 3, linear beyond, continuous; the loss is their mean."""
    assert huber(2.0) == 4.0
    assert huber(3.0) == 9.0
    assert huber(5.0) == pytest.approx(2 * 3 * 5 - 9)
    assert huber(-5.0) == huber(5.0)
    t = [
        Target(
            "a", "committed", "level", scenario.load("minimal").run.start, 10, 2, True, False, "x"
        ),
        Target(
            "b", "committed", "level", scenario.load("minimal").run.start, 10, 1, True, False, "x"
        ),
    ]
    value, zs = loss([12.0, 20.0], t)
    assert zs == [1.0, 10.0]
    assert value == pytest.approx((1 + (60 - 9)) / 2)


def test_recovers_the_rate(tmp_path: Path) -> None:
    """One free parameter from a range of 16x: the rate within the derived tolerance."""
    n, days = 4000, 31
    totals = truth_totals(tmp_path, n, days, [1000])
    targets = write_targets(tmp_path / "t.toml", {"committed": totals["committed"]}, 0.05, days)
    res = calibrate(
        base(n, days),
        targets,
        trials=12,
        out=tmp_path / "cal",
        free=[f"{RATE}=0.005:0.08:log"],
        quiet=True,
        report=False,
    )
    assert res.best_loss <= 2.0, res.table
    s_c = rel_sd(RATE0 * days, n)
    fit = math.hypot(0.05, 1 / math.sqrt(totals["committed"]))  # sigma and e, relative
    tol = fit * math.sqrt(1 * res.best_loss) + 3 * s_c * math.sqrt(1 + 1 / 1)
    assert abs(res.best_params[RATE] / RATE0 - 1) <= tol, (res.best_params, tol)


@pytest.mark.slow
def test_recovers_rate_and_p_miss(tmp_path: Path) -> None:
    """Two free parameters, two replicates per trial: both within the derived tolerance."""
    totals = truth_totals(tmp_path, N, DAYS, [1000])
    targets = write_targets(tmp_path / "t.toml", totals, 0.05, DAYS)
    res = calibrate(
        base(),
        targets,
        trials=40,
        out=tmp_path / "cal",
        replicates=2,
        free=[f"{RATE}=0.005:0.08:log", f"{PMISS}=0:0.6"],
        quiet=True,
    )
    assert res.best_loss <= 2.0, res.table
    r, t = 2, 2
    s_c = rel_sd(RATE0 * DAYS, N)
    q = COVERAGE * (1 - PMISS0 - PWRONG)
    s_a = rel_sd(RATE0 * DAYS * q, N)
    fit_c = math.hypot(0.05, 1 / math.sqrt(totals["committed"] * r))  # sigma and e, relative
    fit_a = math.hypot(0.05, 1 / math.sqrt(totals["attributed_correct"] * r))
    tol_c = fit_c * math.sqrt(t * res.best_loss) + 3 * s_c * math.sqrt(1 + 1 / r)
    tol_a = fit_a * math.sqrt(t * res.best_loss) + 3 * s_a * math.sqrt(1 + 1 / r)
    assert abs(res.best_params[RATE] / RATE0 - 1) <= tol_c
    keep0 = 1 - PMISS0 - PWRONG
    keep = 1 - res.best_params[PMISS] - PWRONG
    assert abs(keep / keep0 - 1) <= tol_c + tol_a, (res.best_params, tol_c + tol_a)
    assert (tmp_path / "cal" / "fit.html").stat().st_size > 100_000


def _small_targets(tmp: Path) -> Path:
    p = tmp / "small.toml"
    p.write_text(
        '[[target]]\ncolumn = "committed"\nkind = "cumulative"\ndate = 2018-01-20\n'
        'value = 900\nsource = "made up"\n\n'
        '[[target]]\ncolumn = "sanctioned"\nkind = "level"\ndate = 2018-01-15\n'
        'value = 3\nsigma = 2\nsource = "made up"\n',
        "utf-8",
    )
    return p


SMALL = dict(free=[f"{RATE}=0.005:0.08:log", f"{PMISS}=0:0.6"], quiet=True, report=False)


def small(n: int = 1500, days: int = 20) -> scenario.Scenario:
    """A tiny minimal model for the bookkeeping tests."""
    return scenario.load("minimal", population=n, days=days)


def _runs(out: Path) -> set[str]:
    return {p.name for p in (out / "trials").iterdir()}


def test_resume_runs_only_the_missing_trials(tmp_path: Path) -> None:
    """6 trials, then 10: exactly 4 new trials and run folders, the first 6 untouched."""
    t = _small_targets(tmp_path)
    out = tmp_path / "cal"
    first = calibrate(small(), t, trials=6, out=out, **SMALL)
    assert first.ran == 6 and first.table.height == 6
    before = _runs(out)
    mtimes = {p: (out / "trials" / p / "manifest.json").stat().st_mtime_ns for p in before}
    second = calibrate(small(), t, trials=10, out=out, **SMALL)
    assert second.ran == 4 and second.table.height == 10
    new = _runs(out) - before
    assert new == {f"t{k:04d}_rep0" for k in range(6, 10)}
    for p, m in mtimes.items():
        assert (out / "trials" / p / "manifest.json").stat().st_mtime_ns == m
    assert second.table.head(6).equals(first.table)
    third = calibrate(small(), t, trials=10, out=out, **SMALL)
    assert third.ran == 0


def test_interrupted_study_resumes_to_the_same_trials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted inside a batch, the study resumes to the trials of an uninterrupted one."""
    import panopticon.analysis.calibrate as cal_mod

    t = _small_targets(tmp_path)
    real = cal_mod.execute
    calls = {"n": 0}

    def here(
        todo: list[Any],
        jobs: int = 1,
        on_done: Any = None,
        backend: str = "local",
        address: str | None = None,
    ) -> None:
        """Batches of 2 trials, run in this process (worker processes start slowly)."""
        return real(todo, 1, on_done, backend, address)

    def flaky(
        todo: list[Any],
        jobs: int = 1,
        on_done: Any = None,
        backend: str = "local",
        address: str | None = None,
    ) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the second batch: run one of its runs, then a "SIGINT"
            real(todo[:1], 1)
            raise Interrupted()
        return here(todo, jobs, on_done, backend, address)

    monkeypatch.setattr(cal_mod, "execute", here)
    whole = calibrate(small(), t, trials=5, out=tmp_path / "whole", jobs=2, **SMALL)
    monkeypatch.setattr(cal_mod, "execute", flaky)
    with pytest.raises(CalibrationInterrupted) as exc:
        calibrate(small(), t, trials=5, out=tmp_path / "cut", jobs=2, **SMALL)
    assert exc.value.exit_code == 130
    assert "2 of 5 trials are complete" in exc.value.message
    monkeypatch.setattr(cal_mod, "execute", here)
    resumed = calibrate(small(), t, trials=5, out=tmp_path / "cut", jobs=2, **SMALL)
    assert resumed.ran == 3  # the two left running, then one new
    cols = ["number", "state", "loss", RATE, PMISS]
    assert resumed.table.select(cols).equals(whole.table.select(cols))


def test_first_trial_is_the_scenarios_own_values(tmp_path: Path) -> None:
    """A fresh study starts at the scenario's values (so the best is never worse), once."""
    t = _small_targets(tmp_path)
    sc = small().override({RATE: 0.03, PMISS: 0.25})
    res = calibrate(sc, t, trials=3, out=tmp_path / "cal", **SMALL)
    first = res.table.row(0, named=True)
    assert first["number"] == 0 and first[RATE] == 0.03 and first[PMISS] == 0.25
    assert res.best_loss <= first["loss"]
    more = calibrate(sc, t, trials=4, out=tmp_path / "cal", **SMALL)  # resumed: not again
    assert more.table.head(3).equals(res.table)
    assert more.table.filter(pl.col(RATE) == 0.03).height == 1


def test_same_command_same_trials(tmp_path: Path) -> None:
    """Two fresh folders, the same command: the same trials, losses and best.toml."""
    t = _small_targets(tmp_path)
    a = calibrate(small(), t, trials=4, out=tmp_path / "a", **SMALL)
    b = calibrate(small(), t, trials=4, out=tmp_path / "b", **SMALL)
    assert a.table.equals(b.table)
    ta, tb = (p.read_text("utf-8") for p in (a.best_toml, b.best_toml))
    assert ta == tb
    other = calibrate(small().override(seed=7), t, trials=4, out=tmp_path / "c", **SMALL)
    assert not other.table[RATE].equals(a.table[RATE])


def test_cli_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The command: best.toml runs at the scenario's size, trials.parquet, fit.html."""
    t = _small_targets(tmp_path)
    out = tmp_path / "cal"
    rc = main(
        [
            "calibrate", "minimal", "--targets", str(t), "--trials", "3", "--out", str(out),
            "--population", "1500", "--days", "20", "--free", f"{RATE}=0.005:0.08:log",
            "--quiet",
        ]
    )  # fmt: skip
    assert rc == 0
    text = (out / "best.toml").read_text("utf-8")
    assert text.startswith("# Calibrated by `panopticon calibrate`")
    assert "population 1,500 (this scenario runs at 1,000,000)" in text
    data = tomllib.loads(text)
    assert data["population"]["size"] == 1_000_000
    table = pl.read_parquet(out / "trials.parquet")
    best = table.filter(pl.col("state") == "COMPLETE").sort("loss").row(0, named=True)
    assert data["behaviors"]["violation"]["rate"] == best[RATE]
    assert f"-> {best[RATE]:.4g}" in text
    assert {"number", "state", "loss", RATE, "sim_committed-cumulative-2018-01-20"} <= set(
        table.columns
    )
    html = (out / "fit.html").read_text("utf-8")
    assert "<script src" not in html and "published" in html
    assert html.count('class="figure"') == 2
    scenario.validate(data)  # runnable as it is


BAD_TARGETS = [
    ('column = "nope"', "target[0].column: 'nope'"),
    ("date = 2019-06-01", "target[0].date: '2019-06-01': outside the run"),
    ("sigma = 0", "target[0].sigma: 0"),
    ("sigma = -3", "target[0].sigma: -3"),
    ("national = true", "target[0].national: True"),
    ('kind = "peak"', "target[0].kind: 'peak'"),
    ("value = 0", "target[0].sigma: 'absent, and 15% of value 0'"),
    ('colour = "red"', "target[0].colour"),
]


@pytest.mark.parametrize(("line", "message"), BAD_TARGETS)
def test_bad_targets_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    """Each bad target field: exit 2, one line naming it, nothing run."""
    fields = {
        "column": 'column = "committed"',
        "kind": 'kind = "cumulative"',
        "date": "date = 2018-01-10",
        "value": "value = 100",
        "source": 'source = "x"',
    }
    key = line.split(" ")[0]
    fields[key] = line
    (tmp_path / "t.toml").write_text("[[target]]\n" + "\n".join(fields.values()) + "\n")
    out = tmp_path / "cal"
    rc = main(
        [
            "calibrate", "minimal", "--targets", str(tmp_path / "t.toml"), "--trials", "2",
            "--out", str(out), "--population", "500", "--days", "20",
            "--free", f"{RATE}=0.005:0.08",
        ]
    )  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith(f"error: {message}"), err
    assert not (out / "trials").exists()


BAD_ARGS = [
    (["--trials", "0"], "error: --trials: 0"),
    (["--free", "run.nope=0:1"], "error: --free: run.nope"),
    (["--free", f"{RATE}=0.1:0.01"], "error: --free: "),
    (["--free", f"{RATE}=a:b"], "error: --free: "),
    (["--free", "run.records=0:1"], "error: --free: run.records: the value there is"),
    (["--population", "0"], "error: --population"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_ARGS)
def test_bad_arguments_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    """Bad options: exit 2 and one line."""
    t = _small_targets(tmp_path)
    argv = ["calibrate", "minimal", "--targets", str(t), "--out", str(tmp_path / "c")]
    argv += ["--days", "20"]
    if "--free" not in extra:
        argv += ["--free", f"{RATE}=0.005:0.08"]
    rc = main(argv + extra)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith(message), err


def test_no_free_parameter_and_changed_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No free parameter: exit 2; the same --out with other options: exit 2, nothing run."""
    t = _small_targets(tmp_path)
    argv = ["calibrate", "minimal", "--targets", str(t), "--out", str(tmp_path / "c")]
    argv += ["--days", "20", "--population", "500", "--trials", "1", "--quiet"]
    assert main(argv) == 2
    assert "calibration.free" in capsys.readouterr().err
    assert main([*argv, "--free", f"{RATE}=0.005:0.08"]) == 0
    capsys.readouterr()
    assert main([*argv, "--free", f"{RATE}=0.005:0.09"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "differ" in err[0] and "free" in err[0]
    with pytest.raises(CalibrationError):
        calibrate(small(500), t, trials=1, out=tmp_path / "c", free=[f"{RATE}=0.01:0.09"])


def test_schedule_point_keys() -> None:
    """`path@date` reads and sets one point of a dated schedule; a bad date is an error."""
    from panopticon.core.params import ScenarioError
    from panopticon.scenario.ranges import get_dotted

    sc = scenario.load("documented")
    key = "sanctions.court.listing_per_year@2015-01-01"
    before = sc.to_dict()["sanctions"]["court"]["listing_per_year"]["linear"]
    assert get_dotted(sc.to_dict(), key) == before[1][1]
    after = sc.override({key: 0.55}).to_dict()["sanctions"]["court"]["listing_per_year"]
    assert [p[0] for p in after["linear"]] == [p[0] for p in before]
    assert [p[1] for p in after["linear"]] == [before[0][1], 0.55] + [p[1] for p in before[2:]]
    with pytest.raises(ScenarioError, match="no point of that date; its points: 2013-10-01"):
        sc.override({"sanctions.court.listing_per_year@2015-02-01": 0.5})
    with pytest.raises(ScenarioError, match="is not a dated schedule"):
        sc.override({"sanctions.court.duration_days@2015-01-01": 2.0})
    # a --set that replaces the schedule by a number leaves its free points nothing to name:
    # the scenario stays valid (the ranges apply to a schedule that is not there)
    flat = sc.override({"sanctions.court.listing_per_year": 1.0})
    assert flat.sanctions.court.listing_per_year == 1.0


def test_schedule_point_set_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """`--set path@date=v` with a date that is not a point: exit 2, one line naming it."""
    rc = main(
        ["run", "documented", "--population", "1000", "--days", "2", "--set",
         "sanctions.court.listing_per_year@2015-02-01=0.5"]
    )  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "listing_per_year@2015-02-01" in err[0] and "2015-01-01" in err[0]


def test_trial_keys_expand_and_are_checked() -> None:
    """A `*` segment stands for every key of its table; a key naming nothing is refused."""
    from panopticon.core.params import ScenarioError
    from panopticon.scenario.ranges import trial_overrides

    sc = scenario.load("documented")
    got = trial_overrides({"behaviors.*.rate": 0.0}, sc.to_dict())
    assert got == {f"behaviors.{b}.rate": 0.0 for b in sc.behaviors}
    with pytest.raises(ScenarioError, match=r"calibration\.trial\.behaviors\.\*\.nope"):
        sc.override({"calibration.trial": {"behaviors.*.nope": 0.0}})


def _committed_target(tmp: Path) -> Path:
    p = tmp / "committed.toml"
    p.write_text(
        '[[target]]\ncolumn = "committed"\nkind = "cumulative"\ndate = 2018-01-20\n'
        'value = 900\nsource = "made up"\n',
        "utf-8",
    )
    return p


def test_trial_overrides_that_keep_the_targets_pass(tmp_path: Path) -> None:
    """Face-ID errors do not change acts committed without specific deterrence: accepted,
    the check run exists, and best.toml keeps the scenario's own p_miss."""
    sc = base(1500, 20).override({"calibration.trial": {PMISS: 0.9}})
    res = calibrate(sc, _committed_target(tmp_path), trials=2, out=tmp_path / "cal",
                    free=[f"{RATE}=0.005:0.08:log"], quiet=True, report=False)  # fmt: skip
    assert (tmp_path / "cal" / "check").is_dir()
    trial_toml = tomllib.loads(
        next((tmp_path / "cal" / "trials").glob("*/scenario.toml")).read_text()
    )
    assert trial_toml["surveillance"]["faceid"]["p_miss"] == 0.9
    best = tomllib.loads(res.best_toml.read_text("utf-8"))
    assert best["surveillance"]["faceid"]["p_miss"] == sc.surveillance.faceid.p_miss != 0.9


def test_trial_overrides_that_change_the_targets_are_refused(tmp_path: Path) -> None:
    """Narrowing who can act, in the trials only, changes acts committed: CalibrationError."""
    sc = base(1500, 20).override({"calibration.trial": {"behaviors.*.ages": [60, 90]}})
    why = r"calibration\.trial: target 'committed-cumulative-2018-01-20' is \d+ in the trial run"
    with pytest.raises(CalibrationError, match=why):
        calibrate(sc, _committed_target(tmp_path), trials=2, out=tmp_path / "cal",
                  free=[f"{RATE}=0.005:0.08:log"], quiet=True, report=False)  # fmt: skip
