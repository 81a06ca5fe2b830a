"""Calibration: fit a scenario's free parameters to dated published figures, on Optuna.

``panopticon calibrate documented --targets targets/spc-court-list.toml --trials 100
--jobs 2 --out calib/doc`` searches the parameters the scenario names free
(``[calibration.free]``, or ``--free key=lo:hi``) for those whose simulated outputs come
closest to the targets (a TOML file of dated values of declared daily columns, each with
its uncertainty and source; see :mod:`panopticon.analysis.calibrate_targets` and
docs/calibration.md). Each trial runs ``--replicates`` seeds (``run.seed + r``, the same
for every trial: common random numbers), each a run folder under ``DIR/trials/``, through
:func:`panopticon.analysis.sweep.execute`, so every backend an ensemble has serves it.

The search is Optuna's ask/tell in batches of ``--jobs`` trials (TPE by default), stored
in ``DIR/study.db`` (SQLite): an interrupted calibration resumes, re-running the trials
it left unfinished and then only the missing ones. The sampler is rebuilt before every
batch, seeded from the scenario's seed and the number of trials already in the study, so
the same command gives the same trials, whether or not it was interrupted on the way.

The loss (docs/calibration.md): for target t with published value y_t and uncertainty
sigma_t, z_t = (mean over replicates of the simulated value - y_t) / sigma_t; the loss is
the mean over targets of the Huber function of z_t (z^2 within 3 sigma, linear beyond).
Within 3 sigma of every target it is the chi-square per target, a Gaussian likelihood; a
target the model cannot reach at all counts linearly, so that one irreconcilable figure
does not outweigh all the others.

Outputs in DIR: ``best.toml`` (the best scenario, runnable, at the scenario's own
population), ``trials.parquet`` (one row per trial) and ``fit.html`` (each target's
trajectory for the best parameters over ``max(3, R)`` replicate seeds beside the
published points).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from panopticon import __version__
from panopticon.analysis.calibrate_targets import (
    CalibrationError,
    Target,
    declared_columns,
    read_targets,
    simulated,
)
from panopticon.analysis.sweep import PlannedRun, execute, status
from panopticon.analysis.workers import Caught, Interrupted, interruptible, signal_of
from panopticon.core.params import ScenarioError
from panopticon.io.fs import write_parquet
from panopticon.io.runs import RunResult
from panopticon.scenario.overrides import set_dotted
from panopticon.scenario.ranges import Range, get_dotted, trial_overrides
from panopticon.scenario.schema import Scenario

SPEC = "calibration.json"
STUDY = "study.db"
TRIALS = "trials.parquet"
BEST = "best.toml"
FIT = "fit.html"
HUBER = 3.0  # |z| beyond which a target's loss grows linearly
FIT_REPLICATES = 3  # the least number of seeds the best parameters are rerun with
SAMPLERS = ("tpe", "random", "cmaes")


def startup_trials(n_free: int) -> int:
    """Random trials before TPE or CMA-ES model the loss: 4 + 2 per free parameter, <= 10.

    Optuna's default is 10 whatever the dimension; one or two free parameters need fewer
    to start, and short calibrations then spend more trials where the loss is low. It
    depends on nothing but the free parameters, so a resumed study samples as before.
    """
    return min(10, 4 + 2 * n_free)


__all__ = [
    "CalibrationError",
    "CalibrationInterrupted",
    "CalibrationResult",
    "Target",
    "calibrate",
    "huber",
    "loss",
    "parse_free",
]


class CalibrationInterrupted(Interrupted):
    """A calibration stopped by SIGINT or SIGTERM; `message` says how far it got."""


def huber(z: float, c: float = HUBER) -> float:
    """z^2 for |z| <= c, else 2c|z| - c^2: quadratic near the target, linear far from it."""
    a = abs(z)
    return a * a if a <= c else 2.0 * c * a - c * c


def loss(
    means: Sequence[float], targets: Sequence[Target], noise: Sequence[float] | None = None
) -> tuple[float, list[float]]:
    """The mean over targets of huber((mean simulated - value) / total sd), and each z.

    The total sd is sqrt(sigma^2 + noise^2): the target's own uncertainty and the sampling
    sd of the simulated mean at the target (`sampling_sd`; none when `noise` is None).
    """
    noise = noise if noise is not None else [0.0] * len(targets)
    zs = [
        (m - t.value) / math.hypot(t.sigma, e)
        for m, t, e in zip(means, targets, noise, strict=True)
    ]
    if not all(math.isfinite(z) for z in zs):
        return math.nan, zs
    return float(sum(huber(z) for z in zs) / len(zs)), zs


def parse_free(item: str) -> tuple[str, Range]:
    """``key=lo:hi`` with optional ``:log`` and/or ``:int`` flags, as a Range."""
    if "=" not in item:
        raise CalibrationError(
            f"error: --free: {item!r}: expected key=lo:hi (optionally :log and/or :int), "
            "e.g. behaviors.violation.rate=0.005:0.08:log"
        )
    key, raw = (s.strip() for s in item.split("=", 1))
    parts = [p.strip() for p in raw.split(":")]
    flags = set(parts[2:])
    if len(parts) < 2 or not flags <= {"log", "int"} or not key:
        raise CalibrationError(
            f"error: --free: {item!r}: expected key=lo:hi (optionally :log and/or :int)"
        )
    try:
        lo, hi = float(parts[0]), float(parts[1])
    except ValueError:
        raise CalibrationError(
            f"error: --free: {item!r}: lo and hi must be numbers, got {parts[0]!r}, {parts[1]!r}"
        ) from None
    try:
        rng = Range(
            lo=lo, hi=hi, log="log" in flags, integer="int" in flags, source="--free option"
        )
    except ValueError as exc:
        msg = str(exc).splitlines()
        why = next((m.strip() for m in msg if "lo =" in m), msg[-1].strip())
        why = why.removeprefix("Value error, ")
        raise CalibrationError(f"error: --free: {item!r}: {why}") from None
    return key, rng


def free_parameters(base: Scenario, cli: Sequence[str]) -> dict[str, Range]:
    """The scenario's [calibration.free], then --free (which overrides or adds), sorted."""
    free = dict(base.calibration.free)
    for item in cli:
        key, rng = parse_free(item)
        free[key] = rng
    if not free:
        raise CalibrationError(
            f"error: calibration.free: {{}}: scenario {base.name!r} names no free parameter; "
            "add a [calibration.free] table or give --free key=lo:hi"
        )
    data = base.to_dict()
    for key, rng in free.items():
        try:
            value = get_dotted(data, key)
        except KeyError as exc:
            raise CalibrationError(
                f"error: --free: {key}: {exc.args[0]} is not a field of this scenario; give the "
                "dotted key of a numeric parameter (as for --set)"
            ) from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CalibrationError(
                f"error: --free: {key}: the value there is {value!r}, not a number; only a "
                "numeric parameter can be calibrated"
            )
        if rng.integer and not (float(rng.lo).is_integer() and float(rng.hi).is_integer()):
            raise CalibrationError(
                f"error: --free: {key}: [{rng.lo:g}, {rng.hi:g}] with integer = true: give "
                "whole-number ends"
            )
        a = base.assumptions.get(key)
        if a is not None and not (a.lo <= rng.lo and rng.hi <= a.hi):
            raise CalibrationError(
                f"error: --free: {key}: [{rng.lo:g}, {rng.hi:g}] leaves the scenario's "
                f"assumptions.{key} range [{a.lo:g}, {a.hi:g}]; keep within it or change it"
            )
    return dict(sorted(free.items()))


def with_free(base: Scenario, free: dict[str, Range]) -> Scenario:
    """The scenario with [calibration.free] set to `free` (so trial values stay valid)."""
    from panopticon.scenario.errors import validate

    data = base.to_dict()
    data["calibration"]["free"] = {k: r.model_dump() for k, r in free.items()}
    # the current value may lie outside a --free range; keep it valid by moving it in
    for key, rng in free.items():
        value = float(get_dotted(data, key))
        if not rng.lo <= value <= rng.hi:
            set_dotted(data, key, _cast(rng, min(max(value, rng.lo), rng.hi)))
    return validate(data)


def _cast(rng: Range, v: float) -> int | float:
    return round(v) if rng.integer else float(v)


def start_values(sc: Scenario, free: dict[str, Range]) -> dict[str, int | float]:
    """The scenario's own value of each free parameter (inside its range: `with_free`).

    A fresh study's first trial (Optuna's `enqueue_trial`): the search then starts
    where the scenario stands, and its best is never worse than that start.
    """
    data = sc.to_dict()
    return {k: _cast(r, float(get_dotted(data, k))) for k, r in free.items()}


def distributions(free: dict[str, Range]) -> dict[str, Any]:
    """Optuna's search distribution of each free parameter."""
    from optuna.distributions import FloatDistribution, IntDistribution

    return {
        k: IntDistribution(int(r.lo), int(r.hi), log=r.log)
        if r.integer
        else FloatDistribution(r.lo, r.hi, log=r.log)
        for k, r in free.items()
    }


def make_sampler(kind: str, seed: int, n_existing: int, n_free: int = 5) -> Any:
    """A sampler seeded from the scenario's seed and the trials already in the study.

    Rebuilt before every batch, so a batch's trials depend only on the stored history:
    an interrupted and resumed calibration gives the trials an uninterrupted one would.
    """
    import optuna

    s = int(np.random.SeedSequence([seed, n_existing]).generate_state(1)[0])
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=s)
    if kind == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=s, n_startup_trials=startup_trials(n_free))
    # multivariate: one joint density over the free parameters, so that correlated ones
    # (a listing rate and a case rate that trade off) are searched together
    return optuna.samplers.TPESampler(
        seed=s, n_startup_trials=startup_trials(n_free), multivariate=True
    )


@dataclass
class Calibration:
    """Everything one calibration needs: scenario, targets, free ranges, folder, options."""

    base: Scenario  # the scenario at its own population, free ranges set
    trial_base: Scenario  # at the calibration population, records off
    targets: list[Target]
    targets_path: Path
    free: dict[str, Range]
    out: Path
    replicates: int
    sampler: str
    seed: int
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)  # declared daily columns
    full_base: Scenario | None = None  # trial_base without [calibration.trial], if any

    def check_trial(self, number: int, params: dict[str, Any], trial_run: PlannedRun) -> None:
        """The targets of `trial_run` must be those of the same run without [calibration.trial].

        The trial overrides only save time when the targets do not depend on what they
        switch off; one full run of the best trial's first seed checks it, value by value.
        """
        if self.full_base is None:
            return
        sc = self.full_base.override(dict(params)).override(seed=trial_run.seed)
        path = self.out / "check" / f"t{number:04d}_rep{trial_run.replicate}"
        run = PlannedRun(
            path.name,
            tuple(params.items()),
            trial_run.replicate,
            trial_run.seed,
            sc.to_toml(),
            path,
        )
        if status(run) == "todo":
            execute([run], 1)
        got = simulated(RunResult(trial_run.path), self.targets)
        want = simulated(RunResult(path), self.targets)
        for t, a, b in zip(self.targets, got, want, strict=True):
            if a != b:
                raise CalibrationError(
                    f"error: calibration.trial: target {t.name!r} is {a:g} in the trial run "
                    f"but {b:g} without calibration.trial: what it switches off changes the "
                    "targets; remove those keys from [calibration.trial]"
                )

    def runs(self, number: int, params: dict[str, Any], reps: int) -> list[PlannedRun]:
        """The planned runs of trial `number` (replicates 0..reps-1); ScenarioError if bad."""
        sc = self.trial_base.override(dict(params))
        out = []
        for r in range(reps):
            seed = self.seed + r
            rep = sc.override(seed=seed)
            run_id = f"t{number:04d}_rep{r}"
            root = self.out / ("trials" if r < self.replicates else "best")
            out.append(
                PlannedRun(run_id, tuple(params.items()), r, seed, rep.to_toml(), root / run_id)
            )
        return out

    def sampling_sd(self, reps: int) -> list[float]:
        """Each target's sampling sd of the simulated mean over `reps` seeds, at the target.

        A count column (integer dtype) counts events in a sample of n citizens; its
        sampling variance is close to Poisson, the count itself, so a national figure y
        (the sample's count times k = represents / n) has variance k y. It is taken at the
        published value, not the simulated one, so that it does not depend on the trial's
        parameters (a noise term that grew with the simulated value would favour larger,
        noisier values). Other columns get 0.
        """
        pop = self.trial_base.population
        k = float(pop.represents or pop.size) / pop.size
        out = []
        for t in self.targets:
            dtype = str(self.columns.get(t.column, {}).get("dtype", ""))
            count = dtype.startswith(("int", "uint"))
            out.append(
                math.sqrt((k if t.national else 1.0) * abs(t.value) / reps) if count else 0.0
            )
        return out

    def evaluate(self, runs: list[PlannedRun]) -> dict[str, Any]:
        """Simulated values of every target in each replicate, their means, z and loss."""
        values = [simulated(RunResult(r.path), self.targets) for r in runs]
        means = [float(np.mean(v)) for v in zip(*values, strict=True)]
        value, zs = loss(means, self.targets, self.sampling_sd(len(runs)))
        return {"loss": value, "sim": means, "z": zs, "reps": values}


def _spec(cal: Calibration) -> dict[str, Any]:
    """What defines the study: a resumed calibration must have the same."""
    return {
        "scenario": cal.base.name,
        "scenario_toml": cal.base.to_toml(),
        "population": cal.trial_base.population.size,
        "seed": cal.seed,
        "replicates": cal.replicates,
        "sampler": cal.sampler,
        "free": {k: r.model_dump() for k, r in cal.free.items()},
        "targets": [t.to_dict() for t in cal.targets],
    }


def _check_spec(out: Path, spec: dict[str, Any]) -> None:
    """Write the spec, or refuse a folder holding a calibration with another one."""
    path = out / SPEC
    if path.exists():
        try:
            old = json.loads(path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError):
            old = None
        if old != spec:
            what = "a different calibration"
            if isinstance(old, dict):
                diff = sorted(k for k in spec if old.get(k) != spec[k])
                if diff:
                    what += f" (its {', '.join(diff)} differ)"
            raise CalibrationError(
                f"error: --out: {out}: holds {what} than this command asks for; "
                "choose another --out or give the same options"
            )
        return
    elif (out / STUDY).exists():
        raise CalibrationError(
            f"error: --out: {out}: holds a study.db without {SPEC}; choose another --out"
        )
    tmp = out / (SPEC + ".tmp")
    tmp.write_text(json.dumps(spec, indent=2) + "\n", "utf-8")
    os.replace(tmp, path)


@dataclass
class CalibrationResult:
    """A finished calibration: the best trial, its values, and where the outputs are."""

    out: Path
    trials: int
    ran: int
    best_number: int
    best_loss: float
    best_params: dict[str, Any]
    targets: list[Target]
    fit: dict[str, Any]  # the best parameters' evaluation over the fit replicates
    fit_replicates: int
    table: pl.DataFrame
    best_toml: Path
    report: Path | None
    failed: int = 0
    population: int = 0
    scenario_population: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _open_study(out: Path) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(f"sqlite:///{(out / STUDY).resolve()}")
    return optuna.create_study(
        study_name="calibration", storage=storage, direction="minimize", load_if_exists=True
    )


def trials_table(study: Any, cal: Calibration) -> pl.DataFrame:
    """One row per trial: number, state, loss, each parameter, each target's mean and z."""
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    cols: list[pl.Series] = [
        pl.Series("number", [t.number for t in trials], dtype=pl.Int64),
        pl.Series("state", [t.state.name for t in trials], dtype=pl.String),
        pl.Series(
            "loss",
            [t.value if t.value is not None else math.nan for t in trials],
            dtype=pl.Float64,
        ),
    ]
    for key, rng in cal.free.items():
        vals = [t.params.get(key) for t in trials]
        dtype = pl.Int64 if rng.integer else pl.Float64
        cols.append(pl.Series(key, vals, dtype=dtype))
    for i, tg in enumerate(cal.targets):
        for what in ("sim", "z"):
            vals = []
            for t in trials:
                got = t.user_attrs.get(what)
                vals.append(float(got[i]) if got else math.nan)
            cols.append(pl.Series(f"{what}_{tg.name}", vals, dtype=pl.Float64))
    cols.append(
        pl.Series("error", [t.user_attrs.get("error", "") for t in trials], dtype=pl.String)
    )
    return pl.DataFrame(cols)


def _fmt(v: Any) -> str:
    return str(v) if isinstance(v, int) else f"{v:.4g}"


def best_toml_text(
    cal: Calibration, number: int, value: float, params: dict[str, Any], n: int
) -> str:
    """best.toml: a header naming targets, trials, loss and values, then the scenario."""
    sc = cal.base.override(dict(params))
    digest = hashlib.sha256(cal.targets_path.read_bytes()).hexdigest()[:16]
    pop, own = cal.trial_base.population.size, cal.base.population.size
    lines = [
        f"# Calibrated by `panopticon calibrate` (panopticon {__version__}).",
        f"# targets: {cal.targets_path.as_posix()} (sha256 {digest}...), {len(cal.targets)} "
        "targets",
        f"# trials: {n} ({cal.sampler} sampler, seed {cal.seed}); best: trial {number}, "
        f"loss {value:.4g}",
        "# loss: mean over targets of huber(z), z = (mean simulated - target) / sigma, "
        f"quadratic within {HUBER:g} sigma",
        f"# each trial: {cal.replicates} replicate seed(s) from {cal.seed}, at population "
        f"{pop:,}" + (f" (this scenario runs at {own:,})" if pop != own else ""),
        "# free parameters: range -> calibrated value",
    ]
    for key, rng in cal.free.items():
        flags = "".join(f", {f}" for f, on in (("log", rng.log), ("integer", rng.integer)) if on)
        lines.append(f"#   {key}: [{rng.lo:g}, {rng.hi:g}{flags}] -> {_fmt(params[key])}")
    return "\n".join(lines) + "\n\n" + sc.to_toml()


def _message(done: int, total: int, signum: int) -> str:
    name = signal.Signals(signum).name
    return (
        f"interrupted ({name}): {done} of {total} trials are complete (stored in the study); "
        "run the same command again to run only the missing ones"
    )


def calibrate(
    base: Scenario,
    targets_path: str | Path,
    trials: int,
    out: str | Path,
    jobs: int = 1,
    replicates: int = 1,
    population: int | None = None,
    sampler: str = "tpe",
    free: Sequence[str] = (),
    backend: str = "local",
    address: str | None = None,
    quiet: bool = False,
    report: bool = True,
) -> CalibrationResult:
    """Run the missing trials of the calibration in `out`, then write its outputs.

    `base` is the scenario at its own population; trials run at `population` (default
    the same). SIGINT or SIGTERM raises `CalibrationInterrupted` (exit code 130 or 143);
    the same call then resumes.
    """
    for name, v in (("--trials", trials), ("--jobs", jobs), ("--replicates", replicates)):
        if v < 1:
            raise CalibrationError(f"error: {name}: {v}: not allowed; give an integer >= 1")
    if sampler not in SAMPLERS:
        raise CalibrationError(f"error: --sampler: {sampler}: give one of {', '.join(SAMPLERS)}")
    if sampler == "cmaes":
        try:
            import cmaes  # noqa: F401
        except ImportError:
            raise CalibrationError(
                "error: --sampler: cmaes: needs the cmaes package (pip install cmaes); "
                "use tpe or random"
            ) from None
    out_path = Path(out)
    if out_path.exists() and not out_path.is_dir():
        raise CalibrationError(f"error: --out: {out_path}: is a file, not a folder")
    targets_path = Path(targets_path)
    fr = free_parameters(base, free)
    try:
        own = with_free(base, fr)
        full_base = own.override(
            {"run.records": "none"},
            population=population if population is not None else own.population.size,
        )
        trial_set = trial_overrides(own.calibration.trial, own.to_dict())
        trial_base = full_base.override(trial_set) if trial_set else full_base
    except ScenarioError as exc:
        raise CalibrationError(
            str(exc).replace("error: population.size", "error: --population")
        ) from None
    decls = declared_columns(trial_base)
    targets = read_targets(targets_path, decls, trial_base)
    cal = Calibration(
        own,
        trial_base,
        targets,
        targets_path,
        fr,
        out_path,
        replicates,
        sampler,
        own.run.seed,
        decls,
        full_base if trial_set else None,
    )
    out_path.mkdir(parents=True, exist_ok=True)
    _check_spec(out_path, _spec(cal))
    from optuna.trial import Trial, TrialState

    study = _open_study(out_path)
    dists = distributions(fr)
    finished = (TrialState.COMPLETE, TrialState.FAIL)

    def n_finished() -> int:
        return len(study.get_trials(deepcopy=False, states=finished))

    def best() -> tuple[int, float] | None:
        done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
        if not done:
            return None
        b = min(done, key=lambda t: (t.value, t.number))
        return b.number, float(b.value)

    if not study.trials:  # a fresh study: its first trial is the scenario's own values
        study.enqueue_trial(start_values(own, fr))
    start = n_finished()
    total = max(trials, start)
    if not quiet:
        print(
            f"calibrate {base.name}: {trials} trials ({start} already complete, "
            f"{max(0, trials - start)} to run), {replicates} replicate(s) each, at "
            f"{trial_base.population.size:,} citizens",
        )
    bar: Any = None
    if not quiet and trials > start:
        from tqdm import tqdm

        bar = tqdm(
            total=trials,
            initial=start,
            unit="trial",
            desc="calibrate",
            file=sys.stderr,
            leave=False,
        )
        b = best()
        if b is not None:
            bar.set_postfix_str(f"best loss {b[1]:.4g}", refresh=False)
    ran = 0
    caught = Caught()
    try:
        with interruptible() as caught:
            try:
                while n_finished() < trials:
                    have = n_finished()
                    pending = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                    pending = sorted(pending, key=lambda t: t.number)[: min(jobs, trials - have)]
                    batch: list[tuple[Any, dict[str, Any]]] = [
                        (Trial(study, t._trial_id), dict(t.params)) for t in pending
                    ]
                    if len(batch) < min(jobs, trials - have):
                        study.sampler = make_sampler(sampler, cal.seed, len(study.trials), len(fr))
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            while len(batch) < min(jobs, trials - have):
                                t = study.ask(dists)
                                batch.append((t, dict(t.params)))
                    ran += _run_batch(cal, study, batch, jobs, backend, address)
                    write_parquet(trials_table(study, cal), out_path / TRIALS)
                    if bar is not None:
                        b = best()
                        if b is not None:
                            bar.set_postfix_str(f"best loss {b[1]:.4g}", refresh=False)
                        bar.update(n_finished() - bar.n)
            finally:
                if bar is not None:
                    bar.close()
            result = _finish(cal, study, jobs, backend, address, report, ran)
    except BaseException as exc:
        signum = signal_of(exc, caught)
        if signum is None:
            raise
        raise CalibrationInterrupted(signum, _message(n_finished(), total, signum)) from None
    return result


def _run_batch(
    cal: Calibration,
    study: Any,
    batch: list[tuple[Any, dict[str, Any]]],
    jobs: int,
    backend: str,
    address: str | None,
) -> int:
    """Run the batch's trials (their missing runs) and tell Optuna each one's loss."""
    from optuna.trial import TrialState

    planned: list[tuple[Any, list[PlannedRun]]] = []
    for trial, params in batch:
        try:
            planned.append((trial, cal.runs(trial.number, params, cal.replicates)))
        except ScenarioError as exc:
            trial.set_user_attr("error", str(exc).splitlines()[0])
            study.tell(trial, state=TrialState.FAIL)
    todo = [r for _, runs in planned for r in runs if status(r) == "todo"]
    execute(todo, jobs, backend=backend, address=address)
    for trial, runs in planned:
        ev = cal.evaluate(runs)
        for k in ("sim", "z", "reps"):
            trial.set_user_attr(k, ev[k])
        if math.isnan(ev["loss"]):
            trial.set_user_attr("error", "a simulated value is not a number")
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, ev["loss"])
    return len(batch)


def _finish(
    cal: Calibration,
    study: Any,
    jobs: int,
    backend: str,
    address: str | None,
    report: bool,
    ran: int,
) -> CalibrationResult:
    """Rerun the best trial over the fit replicates; write trials.parquet, best.toml, fit.html."""
    from optuna.trial import TrialState

    table = trials_table(study, cal)
    write_parquet(table, cal.out / TRIALS)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise CalibrationError(
            f"error: --trials: all {table.height} trials failed; first reason: "
            f"{table['error'][0] or 'unknown'}"
        )
    b = min(complete, key=lambda t: (t.value, t.number))
    params = {k: b.params[k] for k in cal.free}
    # the report's band needs a few seeds; without a report the trial's own runs suffice
    reps = max(FIT_REPLICATES, cal.replicates) if report else cal.replicates
    runs = cal.runs(b.number, params, reps)
    todo = [r for r in runs if status(r) == "todo"]
    execute(todo, jobs, backend=backend, address=address)
    fit = cal.evaluate(runs)
    cal.check_trial(b.number, params, runs[0])
    n = table.height
    best_path = cal.out / BEST
    tmp = cal.out / (BEST + ".tmp")
    tmp.write_text(best_toml_text(cal, b.number, float(b.value), params, n), "utf-8")
    os.replace(tmp, best_path)
    report_path = None
    if report:
        from panopticon.analysis.calibrate_report import fit_html

        report_path = cal.out / FIT
        tmp = cal.out / (FIT + ".tmp")
        tmp.write_text(fit_html(cal, b.number, float(b.value), params, n, runs, fit), "utf-8")
        os.replace(tmp, report_path)
    failed = int((table["state"] == "FAIL").sum())
    return CalibrationResult(
        cal.out,
        n,
        ran,
        b.number,
        float(b.value),
        params,
        cal.targets,
        fit,
        reps,
        table,
        best_path,
        report_path,
        failed,
        cal.trial_base.population.size,
        cal.base.population.size,
    )
