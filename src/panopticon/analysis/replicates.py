"""Replicate sets: one scenario over seeds seed..seed+R-1, summarised with 95% intervals.

``panopticon run SCENARIO --replicates R`` writes ``DIR/rep0 .. DIR/rep<R-1>`` (one run
folder each, replicate r with seed ``run.seed + r``; DIR defaults to
``runs/<scenario>-<seed>``), ``DIR/replicates.json`` (what was planned) and
``DIR/summary.json``. The runs go through :func:`panopticon.analysis.sweep.execute`, so
they run in ``--jobs`` local processes or on Ray (``--backend ray``), and an interrupted
set is finished by the same command (complete replicates are kept).

**Intervals.** Each headline metric's summary is the mean over the R replicates and the
95% interval of that mean, ``mean ± t(0.975, R−1) · sd / √R`` (Student's t; sd is the
sample standard deviation over replicates), cut to the metric's possible range (counts
and rates not below 0, shares within [0, 1]). Each seed draws a new population and new
events, so the interval covers the model's run-to-run variation: it says how well R
replicates pin down what the model gives on average, not whether the model's
assumptions are right. National figures (``population.represents``) are the mean count
times ``scale = represents / size``, with the interval times the scale.

**Paired differences** (:func:`paired`, used by ``panopticon compare A B`` on two
replicate sets): replicates are paired by seed (common random numbers), and the
difference B − A gets the same t interval computed over the per-seed differences.
"""

from __future__ import annotations

import functools
import json
import math
import re
import shutil
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from panopticon.analysis import national
from panopticon.analysis.headline import (
    Metric,
    format_diff,
    format_value,
    headline,
    metrics,
    relative,
)
from panopticon.analysis.sweep import (
    SPEC as SWEEP_SPEC,
)
from panopticon.analysis.sweep import (
    PlannedRun,
    SweepError,
    SweepInterrupted,
    execute_with_bar,
    interrupted_message,
    status,
)
from panopticon.analysis.workers import Caught, interruptible, signal_of
from panopticon.io.fs import write_json
from panopticon.io.runs import MANIFEST, RunError, RunResult
from panopticon.scenario.schema import Scenario

SPEC = "replicates.json"
SUMMARY = "summary.json"
LEVEL = 0.95
_REP = re.compile(r"rep(\d+)")

INTERVAL_TEXT = (
    "95% intervals of the mean over replicates: mean ± t(0.975, R−1)·sd/√R (Student's t, "
    "sd over the R replicates, each a new population and new draws); counts and rates are "
    "cut at 0, shares at [0, 1]. They cover the model's run-to-run variation, not its "
    "assumptions."
)
NATIONAL_TEXT = (
    "National figures: the mean count times {scale:,.0f} (population.represents = "
    "{represents:,.0f} over {n:,} citizens), the interval times the same."
)
PAIRED_TEXT = (
    "paired by seed (common random numbers): replicate seeds {seeds} in both; the same seed "
    "gives both scenarios the same population and the same random draws wherever a draw "
    "does not depend on what differs. B − A is the mean of the per-seed differences, its "
    "95% interval mean ± t(0.975, n−1)·sd/√n over the n = {n} pairs."
)


@functools.lru_cache(maxsize=256)
def t_quantile(df: int, level: float = LEVEL) -> float:
    """The (1 + level) / 2 quantile of Student's t with `df` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf((1 + level) / 2, df))


@dataclass(frozen=True)
class Interval:
    """The mean of n values, their sd, and the 95% t interval of the mean (None if n < 2)."""

    n: int
    mean: float
    sd: float | None
    lo: float | None
    hi: float | None


def t_interval(values: list[float], fmt: str | None = None) -> Interval:
    """Mean ± t(0.975, n−1)·sd/√n; with `fmt`, cut to the possible range of that format.

    A count, rate or seconds is never below 0 and a share lies in [0, 1]; differences
    (`fmt` None) are not cut. NaN values (a run lacking the metric) make the result NaN.
    """
    n = len(values)
    if n == 0:
        return Interval(0, math.nan, None, None, None)
    mean = math.fsum(values) / n
    if n < 2 or mean != mean:
        return Interval(n, mean, None, None, None)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(n - 1) * sd / math.sqrt(n)
    lo, hi = mean - half, mean + half
    if fmt in ("count", "rate", "share", "seconds"):
        lo = max(lo, 0.0)
    if fmt == "share":
        hi = min(hi, 1.0)
    return Interval(n, mean, sd, lo, hi)


@dataclass(frozen=True)
class ReplicateSet:
    """Complete runs of one scenario over several seeds: where, and the runs by seed."""

    path: Path
    kind: str  # "replicates" (run --replicates) or "sweep" (a one-point sweep)
    runs: dict[int, RunResult] = field(repr=False)

    @property
    def seeds(self) -> list[int]:
        """The seeds, in increasing order."""
        return sorted(self.runs)

    @property
    def first(self) -> RunResult:
        """The run of the lowest seed (for the scenario's description)."""
        return self.runs[self.seeds[0]]


def is_set(path: str | Path) -> bool:
    """Whether `path` is a replicate set or a sweep folder (not a single run folder)."""
    p = Path(path)
    return (p / SPEC).is_file() or (p / SWEEP_SPEC).is_file()


def _seed_runs(path: Path, folders: list[Path]) -> dict[int, RunResult]:
    """The complete runs of `folders` by seed; RunError on a missing run or a repeated seed."""
    runs: dict[int, RunResult] = {}
    for f in folders:
        r = RunResult(f)
        seed = int(r.manifest["seed"])
        if seed in runs:
            raise RunError(
                f"error: {path}: seed {seed} appears in {runs[seed].path.name} and {f.name}; "
                "a replicate set holds each seed once"
            )
        runs[seed] = r
    if not runs:
        raise RunError(f"error: {path}: holds no complete run")
    return runs


def open_set(path: str | Path) -> ReplicateSet:
    """Open a replicate set (``run --replicates``) or a one-point sweep; RunError if not."""
    p = Path(path)
    if (p / SPEC).is_file():
        spec = json.loads((p / SPEC).read_text("utf-8"))
        folders = [p / name for name in spec["runs"]]
        return ReplicateSet(p, "replicates", _seed_runs(p, folders))
    if (p / SWEEP_SPEC).is_file():
        spec = json.loads((p / SWEEP_SPEC).read_text("utf-8"))
        points = spec["runs"] // max(1, spec["replicates"])
        if points != 1:
            raise RunError(
                f"error: {p}: is a sweep of {points} grid points; compare replicate sets "
                "(run --replicates) or sweeps of one point each"
            )
        runs = p / "runs"
        folders = (
            sorted(f for f in runs.iterdir() if not f.name.startswith(".") and f.is_dir())
            if runs.is_dir()
            else []
        )
        if len(folders) != spec["replicates"]:
            raise RunError(
                f"error: {p}: holds {len(folders)} of its {spec['replicates']} runs; finish "
                "the sweep first (run the same sweep command again)"
            )
        return ReplicateSet(p, "sweep", _seed_runs(p, folders))
    raise RunError(f"error: {p}: not a replicate set (no {SPEC}) nor a sweep (no {SWEEP_SPEC})")


# ---- running a replicate set ------------------------------------------------------------


def default_folder(scenario: Scenario) -> Path:
    """The first free default folder: runs/<scenario>-<seed>, then -2, -3, ..."""
    base = Path("runs") / f"{scenario.name}-{scenario.run.seed}"
    for k in range(1, 10_000):
        out = base if k == 1 else base.with_name(f"{base.name}-{k}")
        if not out.exists() and not (out.parent / f".{out.name}.partial").exists():
            return out
    raise RunError(f"error: {base}: 10,000 default run folders are taken; pass --out")


def plan_replicates(scenario: Scenario, replicates: int, out: Path) -> list[PlannedRun]:
    """Replicate r: seed ``run.seed + r`` into ``out/rep<r>``; SweepError on bad input."""
    if replicates < 2:
        raise SweepError(
            f"error: --replicates {replicates}: not allowed; give an integer >= 2 "
            "(an interval needs two replicates; without --replicates, run makes one run)"
        )
    planned = []
    for r in range(replicates):
        seed = scenario.run.seed + r
        toml = scenario.override(seed=seed).to_toml()
        planned.append(PlannedRun(f"rep{r}", (), r, seed, toml, out / f"rep{r}"))
    return planned


def _spec(scenario: Scenario, planned: list[PlannedRun]) -> dict[str, Any]:
    return {
        "scenario": scenario.name,
        "seed": scenario.run.seed,
        "replicates": len(planned),
        "seeds": [r.seed for r in planned],
        "runs": [r.run_id for r in planned],
        "base_scenario": scenario.to_toml(),
    }


def _prepare(out: Path, spec: dict[str, Any], overwrite: bool) -> bool:
    """Check that `out` may take this set; True when its complete replicates may be kept."""
    if out.exists() and not out.is_dir():
        raise RunError(f"error: --out {out}: is a file, not a folder; choose a folder")
    if not out.exists() or not any(out.iterdir()):
        return False
    if (out / MANIFEST).exists():
        raise RunError(
            f"error: --out {out}: holds a single run; choose another --out for a replicate set"
        )
    old_path = out / SPEC
    if not old_path.is_file():
        raise RunError(
            f"error: --out {out}: is not empty and holds no replicate set; choose another --out"
        )
    old = json.loads(old_path.read_text("utf-8"))
    same = old.get("base_scenario") == spec["base_scenario"] and old.get("runs") == spec["runs"]
    if same and not overwrite:
        return True
    if not overwrite:
        raise RunError(
            f"error: --out {out}: holds a replicate set of another scenario or number of "
            "replicates; pass --overwrite to replace it or choose another --out"
        )
    for entry in out.iterdir():  # --overwrite: only what a replicate set writes goes
        name = entry.name.lstrip(".").removesuffix(".partial").removesuffix(".lock")
        if _REP.fullmatch(name):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    return False


def run_replicates(
    scenario: Scenario,
    replicates: int,
    out: str | Path | None = None,
    jobs: int = 1,
    backend: str = "local",
    address: str | None = None,
    overwrite: bool = False,
    quiet: bool = False,
) -> ReplicateSet:
    """Run the missing replicates of the set into `out`, then write its summary.json.

    SIGINT or SIGTERM meanwhile raises `SweepInterrupted` naming the complete replicates.
    """
    if jobs < 1:
        raise SweepError(f"error: --jobs {jobs}: not allowed; give an integer >= 1")
    out_path = Path(out) if out is not None else default_folder(scenario)
    planned = plan_replicates(scenario, replicates, out_path)
    spec = _spec(scenario, planned)
    keep = _prepare(out_path, spec, overwrite)
    todo = [r for r in planned if not keep or status(r) == "todo"]
    out_path.mkdir(parents=True, exist_ok=True)
    write_json(out_path / SPEC, spec)
    if not quiet:
        print(
            f"{scenario.name}: {replicates} replicates (seeds {planned[0].seed}.."
            f"{planned[-1].seed}) into {out_path}; {replicates - len(todo)} already complete, "
            f"{len(todo)} to run",
            file=sys.stderr,
        )
    caught = Caught()
    try:
        with interruptible() as caught:
            execute_with_bar(todo, jobs, "replicates", quiet, backend, address)
    except BaseException as exc:
        signum = signal_of(exc, caught)
        if signum is None:
            raise
        raise SweepInterrupted(signum, interrupted_message(planned, signum)) from None
    rs = ReplicateSet(out_path, "replicates", _seed_runs(out_path, [r.path for r in planned]))
    write_json(out_path / SUMMARY, summary(rs))
    return rs


# ---- summaries ----------------------------------------------------------------------------


def _model_metrics(results: list[RunResult]) -> list[Metric]:
    """The headline metrics of the runs that are about the model (not the wall time)."""
    return [m for m in metrics(results) if m.model]


def _national(metric: Metric, rs: ReplicateSet, iv: Interval) -> dict[str, Any] | None:
    """The national figure of a count metric's mean, with its interval (None if not one)."""
    m = rs.first.manifest
    scale = m.get("scale")
    if not scale or metric.fmt != "count" or metric.key in national.NOT_COUNTS:
        return None
    decl = national.column_decl(national.HEADLINE_COLUMN.get(metric.key, metric.key), m)
    if national.method_for(decl) is None or iv.mean != iv.mean:
        return None
    return {
        "scale": scale,
        "mean": iv.mean * scale,
        "lo": None if iv.lo is None else iv.lo * scale,
        "hi": None if iv.hi is None else iv.hi * scale,
    }


def summary(rs: ReplicateSet) -> dict[str, Any]:
    """Per headline metric: the replicates' values, mean, sd and 95% interval (JSON-ready)."""
    results = [rs.runs[s] for s in rs.seeds]
    heads = [headline(r) for r in results]
    m = rs.first.manifest
    out: dict[str, Any] = {
        "scenario": m.get("scenario"),
        "population": m.get("population"),
        "days": m.get("days"),
        "replicates": len(results),
        "seeds": rs.seeds,
        "runs": [r.path.name for r in results],
        "level": LEVEL,
        "interval": INTERVAL_TEXT,
        "metrics": [],
    }
    if m.get("scale"):
        out["national"] = NATIONAL_TEXT.format(
            scale=m["scale"], represents=m["represents"], n=int(m["population"])
        )
    for metric in _model_metrics(results):
        values = [float(h.get(metric.key, math.nan)) for h in heads]
        iv = t_interval(values, metric.fmt)
        out["metrics"].append(
            {
                "key": metric.key,
                "label": metric.label,
                "format": metric.fmt,
                "values": values,
                "mean": iv.mean,
                "sd": iv.sd,
                "lo": iv.lo,
                "hi": iv.hi,
                "national": _national(metric, rs, iv),
            }
        )
    return out


def _align(rows: list[list[str]], left: int = 1) -> list[str]:
    """Rows of cells as aligned text: the first `left` columns left, the others right."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return [
        "  ".join(
            cell.ljust(widths[c]) if c < left else cell.rjust(widths[c]) for c, cell in enumerate(r)
        ).rstrip()
        for r in rows
    ]


def _bracket(key: str, lo: float | None, hi: float | None, fmt: str, diff: bool = False) -> str:
    """An interval as "[lo, hi]" in the metric's format ('' when there is none)."""
    if lo is None or hi is None:
        return ""
    if diff:
        return f"[{format_diff(key, lo, fmt)}, {format_diff(key, hi, fmt)}]"
    return f"[{format_value(key, lo, fmt)}, {format_value(key, hi, fmt)}]"


def summary_text(data: dict[str, Any], path: str | Path) -> str:
    """The summary as aligned text: mean and 95% interval per metric, national if sampled."""
    seeds = data["seeds"]
    head = (
        f"{data['scenario']}: {data['population']:,} citizens x {data['days']} days, "
        f"{data['replicates']} replicates (seeds {seeds[0]}..{seeds[-1]})"
    )
    nat = "national" in data
    header = ["metric", "mean", "95% interval"]
    if nat:
        header += ["nation (mean)", "95% interval"]
    rows = [header]
    for e in data["metrics"]:
        k, f = e["key"], e["format"]
        row = [e["label"], format_value(k, e["mean"], f), _bracket(k, e["lo"], e["hi"], f)]
        if nat:
            n = e["national"]
            if n is None:
                row += ["", ""]
            else:
                w = (n["hi"] - n["lo"]) if n["lo"] is not None else 0.0
                lo = national.round_bound(n["lo"], w) if n["lo"] is not None else None
                hi = national.round_bound(n["hi"], w) if n["hi"] is not None else None
                row += [national.fmt_count(n["mean"]), _bracket(k, lo, hi, "count")]
        rows.append(row)
    table = _align(rows)
    lines = [head, "-" * len(head), table[0], *table[1:]]
    lines += textwrap.wrap(data["interval"], max(len(head), 80))
    if nat:
        lines += textwrap.wrap(data["national"], max(len(head), 80))
    lines.append(f"results in {path} (summary.json; replicates {', '.join(data['runs'])})")
    return "\n".join(lines)


# ---- paired comparison ------------------------------------------------------------------


@dataclass(frozen=True)
class Paired:
    """One metric compared across two replicate sets paired by seed."""

    metric: Metric
    a: Interval
    b: Interval
    diff: Interval


def paired(a: ReplicateSet, b: ReplicateSet) -> tuple[list[int], list[Paired]]:
    """The seeds both sets hold, and per headline metric the paired difference B − A.

    RunError when the sets share no seed.
    """
    seeds = sorted(set(a.runs) & set(b.runs))
    if not seeds:
        raise RunError(
            f"error: compare: {a.path} (seeds {_seed_list(a.seeds)}) and {b.path} (seeds "
            f"{_seed_list(b.seeds)}) share no seed; pairing by seed needs the same seeds "
            "(run both with the same --seed and --replicates)"
        )
    ra = [a.runs[s] for s in seeds]
    rb = [b.runs[s] for s in seeds]
    ha, hb = [headline(r) for r in ra], [headline(r) for r in rb]
    out = []
    for metric in _model_metrics(ra + rb):
        va = [float(h.get(metric.key, math.nan)) for h in ha]
        vb = [float(h.get(metric.key, math.nan)) for h in hb]
        out.append(
            Paired(
                metric,
                t_interval(va, metric.fmt),
                t_interval(vb, metric.fmt),
                t_interval([y - x for x, y in zip(va, vb, strict=True)]),
            )
        )
    return seeds, out


def _seed_list(seeds: list[int]) -> str:
    """Seeds as "7..11" when consecutive, else listed."""
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}..{seeds[-1]}"
    return ", ".join(str(s) for s in seeds)


def paired_text(a: ReplicateSet, b: ReplicateSet) -> str:
    """Two replicate sets compared: what differs, then per metric A, B and B − A [95%]."""
    from panopticon.analysis.compare import scenario_differences

    seeds, rows = paired(a, b)
    lines = []
    for tag, s in (("A", a), ("B", b)):
        m = s.first.manifest
        lines.append(
            f"{tag}: {s.path} ({m.get('scenario')}, {m.get('population', 0):,} citizens x "
            f"{m.get('days')} days, {len(s.runs)} replicates, seeds {_seed_list(s.seeds)})"
        )
    diffs = scenario_differences([a.runs[seeds[0]], b.runs[seeds[0]]])
    if diffs:
        lines.append("scenario differences:")
        lines += _align([["", "A", "B"], *(["  " + k, *v] for k, v in diffs)])
    else:
        lines.append("scenario differences: none (same scenario)")
    unpaired = [s for s in (*a.seeds, *b.seeds) if s not in seeds]
    if unpaired:
        lines.append(f"left out (in one set only): seeds {_seed_list(sorted(set(unpaired)))}")
    lines += textwrap.wrap(PAIRED_TEXT.format(seeds=_seed_list(seeds), n=len(seeds)), 88)
    lines.append("")
    table = [["metric", "A (mean)", "B (mean)", "B − A", "95% paired interval", "change"]]
    for p in rows:
        k, f = p.metric.key, p.metric.fmt
        table.append(
            [
                p.metric.label,
                format_value(k, p.a.mean, f),
                format_value(k, p.b.mean, f),
                format_diff(k, p.diff.mean, f),
                _bracket(k, p.diff.lo, p.diff.hi, f, diff=True) or "n/a (one pair)",
                relative(p.a.mean, p.b.mean),
            ]
        )
    text = _align(table)
    lines += [text[0], "-" * len(text[0]), *text[1:]]
    return "\n".join(lines)
