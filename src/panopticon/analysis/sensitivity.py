"""Global sensitivity analysis on SALib: which assumptions decide the results.

``panopticon sensitivity seed-article --assumptions --method morris --samples 5`` varies
every parameter the scenario's ``[assumptions]`` table declares over its range (or the
``--vary key=lo:hi`` given), runs the sampled scenarios as an ensemble and ranks the
parameters per headline metric:

- **Morris** (elementary effects): ``--samples`` is the number of trajectories r; the
  design has r·(k+1) points for k parameters. Each parameter gets mu* (the mean absolute
  elementary effect, in the metric's units per the whole range), its bootstrap 95%
  interval and sigma (the spread of the effects: interaction or non-linearity).
- **Sobol** (variance decomposition, Saltelli's design): ``--samples`` is the base sample
  N (a power of 2); the design has N·(k+2) points. Each parameter gets S1 (the share of
  the variance it explains alone) and ST (its share with all its interactions), each with
  a bootstrap 95% interval.

The sampling and the analysis (:func:`design`, :func:`analyse`, :func:`evaluate_design`)
do not know what they evaluate: an :data:`Evaluator` maps the sampled values to metrics.
`SimulationEvaluator` runs each sample as a :class:`~panopticon.analysis.sweep.PlannedRun`
folder under ``DIR/runs`` through :func:`panopticon.analysis.sweep.execute` (so any
ensemble backend serves it, and a rerun of the same command skips the complete runs);
the tests use an analytic function (Ishigami) through the same code.

Replicates: each sample runs with R seeds, replicate r with ``run.seed + r`` for every
sample (common random numbers), and the indices are computed from each sample's mean
over its replicates. A log range is sampled uniformly on the log scale; an integer
parameter's value is rounded (the analysis uses the unrounded design point).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from panopticon.analysis.headline import METRIC_BY_KEY, Metric, headline
from panopticon.analysis.sweep import (
    PlannedRun,
    SweepError,
    _scenario_message,
    execute_with_bar,
    interrupted_message,
    status,
)
from panopticon.analysis.workers import Caught, Interrupted, interruptible, signal_of
from panopticon.core.params import ScenarioError
from panopticon.io.fs import write_parquet
from panopticon.io.runs import RunResult
from panopticon.scenario.errors import validate
from panopticon.scenario.ranges import get_dotted
from panopticon.scenario.schema import Scenario

METHODS = ("morris", "sobol")
MIN_SAMPLES = {"morris": 4, "sobol": 16}
"""The fewest --samples each method accepts (Morris: trajectories; Sobol: base sample N)."""
NUM_LEVELS = 4  # Morris grid levels (p); the step is p / (2 (p - 1)) of the range
RESAMPLES = 1000  # bootstrap resamples of the intervals
CONF_LEVEL = 0.95
SPEC = "sensitivity.json"
INDICES = "indices.parquet"
RUNS = "runs.parquet"
REPORT = "report.html"
IMPACT_PREFIX = "impact_"  # disparate-impact ratio metrics: impact_<what>_<group>

Evaluator = Callable[[np.ndarray], dict[str, np.ndarray]]
"""Sampled values (n x k, natural units) -> metric -> values (n x R, one column a replicate)."""


class SensitivityError(SweepError):
    """An analysis that cannot be planned or resumed; the message is meant for the user."""


class SensitivityInterrupted(Interrupted):
    """An analysis stopped by SIGINT or SIGTERM; `message` says which runs are complete."""


@dataclass(frozen=True)
class Factor:
    """One varied parameter: its dotted key, range, scale and why that range."""

    key: str
    lo: float
    hi: float
    log: bool = False
    integer: bool = False
    source: str = ""

    @property
    def bounds(self) -> tuple[float, float]:
        """The range in the sampling space (log10 of the values for a log range)."""
        if self.log:
            return (math.log10(self.lo), math.log10(self.hi))
        return (self.lo, self.hi)

    def natural(self, x: np.ndarray) -> np.ndarray:
        """Design values (sampling space) as parameter values: exponentiated, rounded."""
        v = np.power(10.0, x) if self.log else np.asarray(x, dtype=float)
        v = np.clip(v, self.lo, self.hi)
        return np.round(v) if self.integer else v


_NUMBER = re.compile(r"^[+-]?(\d[\d_]*\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$")


def _number(item: str, what: str, raw: str) -> float:
    text = raw.strip()
    if not _NUMBER.match(text):
        raise SensitivityError(
            f"error: --vary {item}: {what} = {text!r}: give a number (key=lo:hi, e.g. "
            "surveillance.faceid.p_wrong=0.005:0.05)"
        )
    value = float(tomllib.loads(f"v = {text}")["v"]) if "_" in text else float(text)
    if not math.isfinite(value):
        raise SensitivityError(f"error: --vary {item}: {what} = {text!r}: give a finite number")
    return value


def parse_factor(item: str) -> Factor:
    """Parse ``key=lo:hi`` or ``key=lo:hi:log`` (sampled on a log scale) into a Factor."""
    if "=" not in item:
        raise SensitivityError(
            f"error: --vary {item}: expected key=lo:hi (or key=lo:hi:log), "
            "e.g. surveillance.faceid.p_wrong=0.005:0.05"
        )
    key, raw = (s.strip() for s in item.split("=", 1))
    if not key or any(not p for p in key.split(".")):
        raise SensitivityError(
            f"error: --vary {item}: {key!r} is not a dotted key such as surveillance.faceid.p_wrong"
        )
    parts = raw.split(":")
    log = False
    if len(parts) == 3 and parts[2].strip() == "log":
        parts, log = parts[:2], True
    if len(parts) != 2:
        raise SensitivityError(
            f"error: --vary {item}: {raw!r} is not a range; give key=lo:hi (or key=lo:hi:log)"
        )
    lo, hi = _number(item, "lo", parts[0]), _number(item, "hi", parts[1])
    if lo >= hi:
        raise SensitivityError(f"error: --vary {item}: lo = {lo:g}, hi = {hi:g}: give lo < hi")
    if log and lo <= 0:
        raise SensitivityError(
            f"error: --vary {item}: lo = {lo:g} on a log range: give lo > 0 (or drop :log)"
        )
    return Factor(key, lo, hi, log)


def assumption_factors(scenario: Scenario) -> list[Factor]:
    """Every range of the scenario's ``[assumptions]`` table, in the table's order."""
    if not scenario.assumptions:
        raise SensitivityError(
            f"error: --assumptions: scenario {scenario.name!r} has no [assumptions] table; "
            "declare ranges there or give --vary key=lo:hi"
        )
    return [
        Factor(k, r.lo, r.hi, r.log, r.integer, r.source) for k, r in scenario.assumptions.items()
    ]


def check_factors(base: Scenario, factors: list[Factor]) -> list[Factor]:
    """Each key names a number (or a dated schedule); an integer field varies in integers."""
    if not factors:
        raise SensitivityError(
            "error: --vary: nothing to vary; give --vary key=lo:hi (repeatable) or --assumptions"
        )
    keys = [f.key for f in factors]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise SensitivityError(f"error: --vary {dup[0]}: given twice; give each key once")
    plain = base.to_dict()
    out = []
    for f in factors:
        try:
            value = get_dotted(plain, f.key)
        except KeyError as exc:
            raise SensitivityError(
                f"error: --vary {f.key}: {exc.args[0]} is not a field of scenario "
                f"{base.name!r}; give the dotted key of a numeric parameter (as for --set)"
            ) from None
        if isinstance(value, dict):
            out.append(f)  # a dated schedule there: each sampled number replaces it
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SensitivityError(
                f"error: --vary {f.key}: its value is {value!r}, not a number; only numeric "
                "parameters (or dated schedules of one) can be varied"
            )
        if isinstance(value, int) and not f.integer:
            f = Factor(f.key, f.lo, f.hi, f.log, True, f.source)
        out.append(f)
    return out


def check_samples(method: str, samples: int) -> None:
    """Refuse an unknown method or too few samples for it (naming the minimum)."""
    if method not in METHODS:
        raise SensitivityError(f"error: --method {method}: not allowed; give morris or sobol")
    least = MIN_SAMPLES[method]
    if samples < least:
        what = "trajectories" if method == "morris" else "base samples (a power of 2)"
        raise SensitivityError(
            f"error: --samples {samples}: too few for {method}; give at least {least} {what}"
        )
    if method == "sobol" and samples & (samples - 1):
        raise SensitivityError(
            f"error: --samples {samples}: sobol needs a power of 2 (Sobol' sequence balance), "
            f"e.g. {1 << samples.bit_length()}"
        )


def points(method: str, k: int, samples: int) -> int:
    """How many design points a method needs for k parameters."""
    return samples * (k + 1) if method == "morris" else samples * (k + 2)


def problem(factors: list[Factor]) -> dict[str, Any]:
    """The SALib problem: names and bounds in the sampling space."""
    return {
        "num_vars": len(factors),
        "names": [f.key for f in factors],
        "bounds": [list(f.bounds) for f in factors],
    }


def design(method: str, factors: list[Factor], samples: int, seed: int) -> np.ndarray:
    """The design points (n x k) in the sampling space; the same for the same arguments."""
    check_samples(method, samples)
    prob = problem(factors)
    if method == "morris":
        from SALib.sample import morris

        return np.asarray(morris.sample(prob, samples, num_levels=NUM_LEVELS, seed=seed))
    from SALib.sample import sobol

    return np.asarray(sobol.sample(prob, samples, calc_second_order=False, seed=seed))


def natural_values(factors: list[Factor], x: np.ndarray) -> np.ndarray:
    """The parameter values (n x k) of design points: log ranges exponentiated, rounded."""
    return np.column_stack([f.natural(x[:, j]) for j, f in enumerate(factors)])


def _columns(method: str) -> list[str]:
    if method == "morris":
        return ["mu_star", "mu_star_conf", "sigma", "mu"]
    return ["S1", "S1_conf", "ST", "ST_conf"]


def primary(method: str) -> tuple[str, str]:
    """The index a method ranks by, and its interval's half-width column."""
    return ("mu_star", "mu_star_conf") if method == "morris" else ("ST", "ST_conf")


def analyse(
    method: str,
    factors: list[Factor],
    x: np.ndarray,
    outputs: dict[str, np.ndarray],
    seed: int,
    conf_level: float = CONF_LEVEL,
) -> pl.DataFrame:
    """The indices of every metric: one row per metric x parameter, ranked within a metric.

    `outputs` holds one value per design point (the mean over replicates). A metric
    missing (NaN) in some point, or constant over all, gets NaN indices and a note.
    """
    prob = problem(factors)
    cols = _columns(method)
    # SALib's Sobol analysis draws unseeded resamples for a seed of 0 (`if seed:`); an odd
    # number is never 0, so the intervals are the same on every call for every seed
    boot_seed = 2 * abs(seed) + 1
    rows: dict[str, list[Any]] = {"metric": [], "parameter": [], "method": [], "rank": []}
    rows.update({c: [] for c in cols})
    rows["note"] = []
    for metric, y in outputs.items():
        y = np.asarray(y, dtype=float)
        note = ""
        if not np.isfinite(y).all():
            note = "missing in some runs"
        elif np.ptp(y) == 0:
            note = "constant over every sample"
        res: dict[str, np.ndarray]
        if note:
            res = {c: np.full(len(factors), math.nan) for c in cols}
            if note.startswith("constant") and method == "morris":
                res = {c: np.zeros(len(factors)) for c in cols}
        elif method == "morris":
            from SALib.analyze import morris

            r = morris.analyze(
                prob,
                x,
                y,
                num_resamples=RESAMPLES,
                conf_level=conf_level,
                num_levels=NUM_LEVELS,
                seed=boot_seed,
            )
            res = {c: np.asarray(r[c], dtype=float) for c in cols}
        else:
            from SALib.analyze import sobol

            r = sobol.analyze(
                prob,
                y,
                calc_second_order=False,
                num_resamples=RESAMPLES,
                conf_level=conf_level,
                seed=boot_seed,
            )
            res = {c: np.asarray(r[c], dtype=float) for c in cols}
        key = res[primary(method)[0]]
        order = np.argsort(-np.nan_to_num(key, nan=-np.inf), kind="stable")
        rank = np.empty(len(factors), dtype=np.int64)
        rank[order] = np.arange(1, len(factors) + 1)
        for j in order:
            rows["metric"].append(metric)
            rows["parameter"].append(factors[j].key)
            rows["method"].append(method)
            rows["rank"].append(int(rank[j]))
            for c in cols:
                rows[c].append(float(res[c][j]))
            rows["note"].append(note)
    schema: dict[str, Any] = {"metric": pl.String, "parameter": pl.String, "method": pl.String}
    schema["rank"] = pl.Int32
    schema.update({c: pl.Float64 for c in cols})
    schema["note"] = pl.String
    return pl.DataFrame(rows, schema=schema)


def runs_table(
    factors: list[Factor],
    values: np.ndarray,
    outputs: dict[str, np.ndarray],
    seed: int = 0,
    run_ids: list[list[str]] | None = None,
) -> pl.DataFrame:
    """The tidy table: one row per sample x replicate x metric, the parameter values as columns.

    Replicate r has seed ``seed + r``; `run_ids[i][r]` names the run folder where there is one.
    """
    n = values.shape[0]
    reps = next(iter(outputs.values())).shape[1] if outputs else 1
    sample = np.repeat(np.arange(n), reps)
    replicate = np.tile(np.arange(reps), n)
    base: dict[str, Any] = {
        "sample": pl.Series(sample, dtype=pl.Int32),
        "replicate": pl.Series(replicate, dtype=pl.Int32),
        "seed": pl.Series(seed + replicate, dtype=pl.Int64),
    }
    if run_ids is not None:
        base["run_id"] = pl.Series([rid for row in run_ids for rid in row], dtype=pl.String)
    for j, f in enumerate(factors):
        col = np.repeat(values[:, j], reps)
        base[f.key] = pl.Series(col.astype(np.int64) if f.integer else col)
    frame = pl.DataFrame(base)
    parts = [
        frame.with_columns(
            pl.lit(metric, dtype=pl.String).alias("metric"),
            pl.Series("value", np.asarray(y, dtype=float).reshape(-1), dtype=pl.Float64),
        )
        for metric, y in outputs.items()
    ]
    if not parts:
        return frame.with_columns(
            pl.lit(None, dtype=pl.String).alias("metric"),
            pl.lit(None, dtype=pl.Float64).alias("value"),
        ).head(0)
    return pl.concat(parts).sort(["sample", "replicate"], maintain_order=True)


@dataclass
class Analysis:
    """The design, the evaluations and the indices of one analysis."""

    method: str
    factors: list[Factor]
    design: np.ndarray
    values: np.ndarray
    outputs: dict[str, np.ndarray]
    indices: pl.DataFrame
    runs: pl.DataFrame


def evaluate_design(
    method: str,
    factors: list[Factor],
    samples: int,
    evaluate: Evaluator,
    seed: int = 0,
    conf_level: float = CONF_LEVEL,
    run_ids: list[list[str]] | None = None,
) -> Analysis:
    """Sample, evaluate (any Evaluator: a simulation or a function) and analyse."""
    x = design(method, factors, samples, seed)
    values = natural_values(factors, x)
    outputs = {
        k: np.atleast_2d(np.asarray(v, dtype=float).T).T for k, v in evaluate(values).items()
    }
    means = {k: v.mean(axis=1) for k, v in outputs.items()}
    indices = analyse(method, factors, x, means, seed, conf_level)
    if run_ids is None and hasattr(evaluate, "run_ids"):
        run_ids = evaluate.run_ids()
    runs = runs_table(factors, values, outputs, seed, run_ids)
    return Analysis(method, factors, x, values, outputs, indices, runs)


# ------------------------------------------------------------------ the simulation


def group_ratios(result: RunResult) -> dict[str, float]:
    """Disparate-impact ratios from a run's per-group table (``groups.parquet``), if any.

    For each group but the largest (the reference): its rate per person of records
    against it (``impact_records_<g>``) and of wrongful ones (``impact_wrongful_records_<g>``)
    over the run, divided by the reference group's (NaN where the reference has none).
    """
    tables = (result.manifest.get("outputs") or {}).get("tables") or {}
    path = result.path / "groups.parquet"
    if "groups" not in tables or not path.exists():
        return {}
    g = (
        pl.read_parquet(path)
        .group_by("group", maintain_order=True)
        .agg(
            pl.col("population").mean().alias("n"),
            pl.col("records_against").sum().alias("records"),
            pl.col("wrongful_against").sum().alias("wrongful_records"),
        )
    )
    if g.height < 2:
        return {}
    ref = int(np.argmax(g["n"].to_numpy()))
    n = g["n"].to_numpy().astype(float)
    out: dict[str, float] = {}
    for what in ("records", "wrongful_records"):
        rate = g[what].to_numpy().astype(float) / n
        for i, name in enumerate(g["group"].to_list()):
            if i != ref:
                out[f"{IMPACT_PREFIX}{what}_{name}"] = (
                    float(rate[i] / rate[ref]) if rate[ref] > 0 else math.nan
                )
    return out


def run_metrics(result: RunResult) -> dict[str, float]:
    """Every metric of one run: the headline ones and the disparate-impact ratios."""
    h = headline(result)
    h.pop("wall_seconds", None)
    return {**h, **group_ratios(result)}


def available_metrics(base: Scenario) -> list[Metric]:
    """The metrics runs of this scenario will have, from its modules' declarations.

    Built (not run) at a small population: the model's headline metrics, the declared
    headline columns, and a disparate-impact ratio per non-reference group when the
    scenario declares a per-group table.
    """
    from panopticon.core.engine import Simulation, describe_outputs

    small = base.override(population=min(base.population.size, 2000), days=1)
    sim = Simulation(small)
    out = [m for m in METRIC_BY_KEY.values() if m.model]
    for c in sim.columns:
        if c.headline and c.name not in METRIC_BY_KEY:
            fmt = "score" if np.dtype(c.dtype).kind == "f" else "count"
            out.append(Metric(c.name, c.label or c.name, fmt))
    tables = describe_outputs(sim)["tables"]
    groups = base.population.groups
    if "groups" in tables and len(groups) >= 2:
        shares = [g.share for g in groups.values()]
        ref = list(groups)[int(np.argmax(shares))]
        for what, label in (("records", "records"), ("wrongful_records", "wrongful records")):
            for name in groups:
                if name != ref:
                    out.append(
                        Metric(
                            f"{IMPACT_PREFIX}{what}_{name}",
                            f"disparate impact: {label} per person, {name} / {ref}",
                            "score",
                        )
                    )
    return out


def select_metrics(available: list[Metric], wanted: list[str] | None) -> list[Metric]:
    """The metrics asked for with --metrics (all when none); an unknown one is refused."""
    if not wanted:
        return available
    by_key = {m.key: m for m in available}
    out = []
    for key in wanted:
        if key not in by_key:
            raise SensitivityError(
                f"error: --metrics {key}: not a metric of this scenario; give some of "
                f"{', '.join(by_key)}"
            )
        if by_key[key] not in out:
            out.append(by_key[key])
    return out


def run_scenario_base(base: Scenario) -> Scenario:
    """The base of every sampled run: the scenario without its declared range tables.

    The ranges are the analysis' business; a --vary range beyond a declared one must not
    make a sample invalid.
    """
    data = base.to_dict()
    data.pop("assumptions", None)
    data.pop("calibration", None)
    return validate(data)


def plan_runs(
    base: Scenario,
    factors: list[Factor],
    values: np.ndarray,
    replicates: int,
    out: str | Path,
) -> list[list[PlannedRun]]:
    """Every sample x replicate as a run folder ``runs/s<sample>_r<replicate>``, validated."""
    if replicates < 1:
        raise SensitivityError(
            f"error: --replicates {replicates}: not allowed; give an integer >= 1"
        )
    root = Path(out) / "runs"
    keys = [f.key for f in factors]
    runs_base = run_scenario_base(base)
    width = max(4, len(str(values.shape[0] - 1)))
    planned: list[list[PlannedRun]] = []
    for i in range(values.shape[0]):
        point = tuple(
            (f.key, int(v) if f.integer else float(v))
            for f, v in zip(factors, values[i], strict=True)
        )
        text = ", ".join(f"{k}={v:g}" for k, v in point)
        try:
            sc = runs_base.override(dict(point))
        except ScenarioError as exc:
            raise SensitivityError(_scenario_message(exc, keys, text)) from None
        row = []
        for r in range(replicates):
            seed = base.run.seed + r
            rep = sc.override(seed=seed)
            run_id = f"s{i:0{width}d}_r{r}"
            row.append(PlannedRun(run_id, point, r, seed, rep.to_toml(), root / run_id))
        planned.append(row)
    return planned


@dataclass
class SimulationEvaluator:
    """Runs each sample x replicate as a run folder and reads back its metrics."""

    base: Scenario
    factors: list[Factor]
    replicates: int
    out: Path
    metrics: list[Metric]
    jobs: int = 1
    backend: str = "local"
    address: str | None = None
    quiet: bool = False
    planned: list[list[PlannedRun]] = field(default_factory=list)
    ran: int = 0
    skipped: int = 0

    def plan(self, values: np.ndarray) -> list[PlannedRun]:
        """Plan and check every run; the ones still to do."""
        self.planned = plan_runs(self.base, self.factors, values, self.replicates, self.out)
        flat = [r for row in self.planned for r in row]
        try:
            todo = [r for r in flat if status(r) == "todo"]
        except SweepError as exc:
            text = str(exc).replace("this sweep plans", "this analysis plans")
            raise SensitivityError(text) from None
        self.skipped = len(flat) - len(todo)
        self.ran = len(todo)
        return todo

    def run_ids(self) -> list[list[str]]:
        """The run folder names, sample by sample."""
        return [[r.run_id for r in row] for row in self.planned]

    def __call__(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """Run what is missing (through `execute`), then every run's metrics (n x R)."""
        todo = self.plan(values)
        flat = [r for row in self.planned for r in row]
        if not self.quiet:
            print(
                f"sensitivity {self.base.name}: {len(flat)} runs ({len(self.planned)} samples "
                f"x {self.replicates} replicates); {self.skipped} already complete, "
                f"{len(todo)} to run",
                file=sys.stderr,
            )
        execute_with_bar(todo, self.jobs, "sensitivity", self.quiet, self.backend, self.address)
        n, reps = len(self.planned), self.replicates
        out = {m.key: np.full((n, reps), math.nan) for m in self.metrics}
        for i, row in enumerate(self.planned):
            for r, run in enumerate(row):
                got = run_metrics(RunResult(run.path))
                for m in self.metrics:
                    out[m.key][i, r] = float(got.get(m.key, math.nan))
        return out


@dataclass
class SensitivityResult:
    """A finished analysis: its folder, the analysis, the report path and run counts."""

    out: Path
    analysis: Analysis
    metrics: list[Metric]
    report: Path | None
    ran: int
    skipped: int


def run_sensitivity(
    base: Scenario,
    factors: list[Factor],
    method: str,
    samples: int,
    replicates: int,
    out: str | Path,
    metrics: list[str] | None = None,
    jobs: int = 1,
    backend: str = "local",
    address: str | None = None,
    quiet: bool = False,
    report: bool = True,
) -> SensitivityResult:
    """Check everything, run the missing runs, and write the indices, the table and the report.

    SIGINT or SIGTERM meanwhile stops the workers and raises `SensitivityInterrupted`,
    whose message names the complete runs (its `exit_code` is 130 or 143).
    """
    if jobs < 1:
        raise SensitivityError(f"error: --jobs {jobs}: not allowed; give an integer >= 1")
    if replicates < 1:
        raise SensitivityError(
            f"error: --replicates {replicates}: not allowed; give an integer >= 1"
        )
    check_samples(method, samples)
    factors = check_factors(base, factors)
    chosen = select_metrics(available_metrics(base), metrics)
    out_path = Path(out)
    if out_path.exists() and not out_path.is_dir():
        raise SensitivityError(f"error: --out {out_path}: is a file, not a folder; choose a folder")
    ev = SimulationEvaluator(
        base, factors, replicates, out_path, chosen, jobs, backend, address, quiet
    )
    x = design(method, factors, samples, base.run.seed)
    ev.plan(natural_values(factors, x))  # validate every sample before anything runs
    out_path.mkdir(parents=True, exist_ok=True)
    spec = {
        "scenario": base.name,
        "method": method,
        "samples": samples,
        "replicates": replicates,
        "seed": base.run.seed,
        "points": int(x.shape[0]),
        "runs": int(x.shape[0]) * replicates,
        "factors": [f.__dict__ for f in factors],
        "metrics": [m.key for m in chosen],
        "base_scenario": base.to_toml(),
    }
    tmp = out_path / (SPEC + ".tmp")
    tmp.write_text(json.dumps(spec, indent=2) + "\n", "utf-8")
    os.replace(tmp, out_path / SPEC)
    caught = Caught()
    try:
        with interruptible() as caught:
            analysis = evaluate_design(method, factors, samples, ev, base.run.seed)
    except BaseException as exc:
        signum = signal_of(exc, caught)
        if signum is None:
            raise
        flat = [r for row in ev.planned for r in row]
        raise SensitivityInterrupted(signum, interrupted_message(flat, signum)) from None
    write_parquet(analysis.indices, out_path / INDICES)
    write_parquet(analysis.runs, out_path / RUNS)
    report_path = None
    if report:
        from panopticon.analysis.sensitivity_report import write_report

        report_path = write_report(out_path / REPORT, analysis, chosen, spec)
    return SensitivityResult(out_path, analysis, chosen, report_path, ev.ran, ev.skipped)
