"""Sweeps: a grid of scenarios x replicate seeds, run as local processes, resumable.

``panopticon sweep minimal --vary surveillance.faceid.p_wrong=0.01,0.05,0.1
--replicates 3 --out sweeps/pw`` plans every grid point x replicate, validates each
scenario before running anything, runs the missing ones (``DIR/runs/<id>/``, one run
folder each) in ``--jobs`` worker processes, then writes ``DIR/sweep.parquet`` (tidy: one
row per run x metric, the varied values as columns; the same bytes however often the
sweep was interrupted and resumed), ``DIR/sweep_timings.parquet`` (each run's wall time
and peak memory: these differ between reruns, so they are kept out of the results) and
``DIR/report.html`` (each headline metric against each varied parameter with 95%
confidence intervals across replicates).

Interrupted (SIGINT, SIGTERM), a sweep stops its workers within seconds and says which
runs are complete; killed (SIGKILL), its workers die with it (see
:mod:`panopticon.analysis.workers`). The same command then finishes only the missing runs.

Replicate r of every grid point uses seed ``run.seed + r``: the grid points share their
random numbers (common random numbers), so differences between points are not noise
from different seeds. A Ray backend can later take :func:`execute`'s place.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import sys
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from panopticon.analysis.headline import headline, metrics
from panopticon.analysis.sweep_report import TABLE, TIMINGS, summary_html, sweep_figures
from panopticon.analysis.workers import (
    Caught,
    Interrupted,
    interruptible,
    run_in_workers,
    signal_of,
)
from panopticon.core.params import ScenarioError
from panopticon.io.fs import write_parquet
from panopticon.io.runs import RunError, RunResult
from panopticon.report.html import page, show
from panopticon.scenario.errors import validate
from panopticon.scenario.schema import Scenario

SPEC = "sweep.json"
REPORT = "report.html"
_RANGE = re.compile(r"^\s*([^:,\"'\[\]]+):([^:,\"'\[\]]+):([^:,\"'\[\]]+)\s*$")


class SweepError(RunError):
    """A sweep that cannot be planned or resumed; the message is meant for the user."""


class SweepInterrupted(Interrupted):
    """A sweep stopped by SIGINT or SIGTERM; `message` says which runs are complete."""


@dataclass(frozen=True)
class Vary:
    """One varied field: its dotted key and the values it takes."""

    key: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class PlannedRun:
    """One grid point x replicate: its id, values, seed, resolved scenario and folder."""

    run_id: str
    point: tuple[tuple[str, Any], ...]
    replicate: int
    seed: int
    scenario_toml: str
    path: Path


def _literal(item: str, raw: str, what: str) -> Any:
    """A TOML literal, or SweepError naming the item."""
    try:
        return tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        raise SweepError(
            f"error: --vary {item!r}: {what} {raw.strip()!r} is not a TOML literal; "
            'use numbers, true/false, or quoted strings such as "all"'
        ) from None


def linspace_values(a: float, b: float, n: int) -> list[int | float]:
    """The n evenly spaced values from a to b inclusive; integers when a, b and step are."""
    if n == 1:
        return [a]
    if isinstance(a, int) and isinstance(b, int) and (b - a) % (n - 1) == 0:
        step = (b - a) // (n - 1)
        return [a + k * step for k in range(n)]
    return [float(v) for v in np.linspace(float(a), float(b), n)]


def parse_vary(item: str) -> Vary:
    """Parse ``key=v1,v2,...`` (TOML literals) or ``key=a:b:n`` (n values from a to b)."""
    if "=" not in item:
        raise SweepError(
            f"error: --vary {item!r}: expected key=v1,v2,... or key=a:b:n, "
            "e.g. surveillance.faceid.p_wrong=0.01,0.05"
        )
    key, raw = (s.strip() for s in item.split("=", 1))
    if not key or any(not p for p in key.split(".")):
        raise SweepError(f"error: --vary {item!r}: {key!r} is not a dotted key such as run.days")
    if not raw:
        raise SweepError(f"error: --vary {item!r}: no values; give key=v1,v2,... or key=a:b:n")
    m = _RANGE.match(raw)
    if m:
        a, b, n = (_literal(item, g, w) for g, w in zip(m.groups(), ("a", "b", "n"), strict=True))
        for name, v in (("a", a), ("b", b)):
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise SweepError(
                    f"error: --vary {item!r}: {name} = {v!r} is not allowed; "
                    "a and b of a range a:b:n must be numbers"
                )
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise SweepError(
                f"error: --vary {item!r}: n = {n!r} is not allowed; "
                "n (the number of values) must be an integer >= 1"
            )
        values: list[Any] = linspace_values(a, b, n)
    else:
        try:
            parsed = tomllib.loads(f"v = [{raw}]")["v"]
        except tomllib.TOMLDecodeError:
            raise SweepError(
                f"error: --vary {item!r}: {raw!r} is not a list of TOML literals; "
                "use numbers, true/false or quoted strings, separated by commas, or a:b:n"
            ) from None
        values = list(parsed)
        if not values:
            raise SweepError(f"error: --vary {item!r}: no values; give key=v1,v2,... or a:b:n")
    seen: list[Any] = []
    for v in values:
        if isinstance(v, dict | list):
            raise SweepError(
                f"error: --vary {item!r}: value {v!r} is not allowed; "
                "values must be numbers, true/false or strings"
            )
        if any(v == s and type(v) is type(s) for s in seen):
            raise SweepError(f"error: --vary {item!r}: value {show(v)} appears twice")
        seen.append(v)
    return Vary(key, tuple(values))


def _short_keys(keys: list[str]) -> dict[str, str]:
    """The shortest dotted suffix of each key that no other key shares."""
    out = {}
    for k in keys:
        parts = k.split(".")
        for n in range(1, len(parts) + 1):
            cand = ".".join(parts[-n:])
            if not any(o != k and (o == cand or o.endswith("." + cand)) for o in keys):
                out[k] = cand
                break
        else:
            out[k] = k
    return out


def _id_value(v: Any) -> str:
    text = show(v) if not isinstance(v, int) or isinstance(v, bool) else str(v)
    return re.sub(r"[^A-Za-z0-9._+-]", "_", text)


def _scenario_message(exc: ScenarioError, varied: Iterable[str], point: str) -> str:
    """The scenario's own message, said to come from --vary where it is about a varied key."""
    lines = []
    for line in str(exc).splitlines():
        for key in varied:
            if line.startswith(f"error: {key}:") or line.startswith(f"error: {key}."):
                line = "error: --vary " + line[len("error: ") :]
                break
        else:
            if point:
                line += f" (at --vary point {point})"
        lines.append(line)
    return "\n".join(lines)


def plan(base: Scenario, varies: list[Vary], replicates: int, out: str | Path) -> list[PlannedRun]:
    """Every grid point x replicate, validated; raises SweepError before anything runs."""
    if replicates < 1:
        raise SweepError(f"error: --replicates {replicates}: not allowed; give an integer >= 1")
    keys = [v.key for v in varies]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise SweepError(f"error: --vary {sorted(dup)[0]}: given twice; give each key once")
    short = _short_keys(keys)
    root = Path(out) / "runs"
    planned: list[PlannedRun] = []
    ids: set[str] = set()
    for values in product(*(v.values for v in varies)):
        point = tuple(zip(keys, values, strict=True))
        text = ", ".join(f"{k}={show(v)}" for k, v in point)
        try:
            sc = base.override(dict(point))
        except ScenarioError as exc:
            raise SweepError(_scenario_message(exc, keys, text)) from None
        name = "_".join(f"{short[k]}={_id_value(v)}" for k, v in point)
        for r in range(replicates):
            seed = sc.run.seed + r
            try:
                rep = sc.override(seed=seed)
            except ScenarioError as exc:
                raise SweepError(_scenario_message(exc, keys, text)) from None
            run_id = f"{name}_rep{r}" if name else f"rep{r}"
            if run_id in ids:
                run_id = f"p{len(planned):04d}_{run_id}"
            ids.add(run_id)
            planned.append(PlannedRun(run_id, point, r, seed, rep.to_toml(), root / run_id))
    return planned


def status(run: PlannedRun) -> str:
    """'done' (complete, same scenario), 'todo' (absent or incomplete), or raises SweepError."""
    manifest = run.path / "manifest.json"
    if not run.path.exists():
        return "todo"
    if not run.path.is_dir():
        raise SweepError(f"error: {run.path}: is a file, not a run folder; remove it")
    if not manifest.exists():
        if any(run.path.iterdir()):
            raise SweepError(
                f"error: {run.path}: folder holds no run (no manifest.json); remove it or "
                "choose another --out"
            )
        return "todo"
    try:
        m = json.loads(manifest.read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return "todo"
    if m.get("status") != "complete":
        return "todo"
    toml = run.path / "scenario.toml"
    if not toml.exists() or toml.read_text("utf-8") != run.scenario_toml:
        raise SweepError(
            f"error: {run.path}: holds a complete run of a different scenario than this sweep "
            "plans (was the command changed?); choose another --out"
        )
    return "done"


def _init_worker(threads: int) -> None:
    """Worker process start: share the cores between the workers."""
    import numba

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))


def run_one(scenario_toml: str, out: str) -> str:
    """Run one planned scenario into its folder (replacing an incomplete run there)."""
    from panopticon.core.engine import run as engine_run

    sc = validate(tomllib.loads(scenario_toml))
    engine_run(sc, out=out, overwrite=True)
    return out


BACKENDS = ("local", "ray")
"""Where an ensemble's runs execute: local worker processes, or tasks on a Ray cluster."""


def execute(
    todo: list[PlannedRun],
    jobs: int = 1,
    on_done: Callable[[PlannedRun], None] | None = None,
    backend: str = "local",
    address: str | None = None,
) -> None:
    """Run the planned runs, `jobs` at a time in worker processes (in this one if 1).

    Every ensemble (sweep, calibration, sensitivity) runs through here, so a backend added
    here serves them all. Workers never outlive this call nor this process: see
    :func:`run_in_workers`.
    """
    if backend not in BACKENDS:
        raise SweepError(f"error: --backend {backend}: not allowed; give one of local, ray")
    if backend == "ray":
        from panopticon.analysis.ray_backend import execute_ray

        execute_ray(todo, jobs, on_done, address)
        return
    if jobs <= 1 or len(todo) <= 1:
        for r in todo:
            run_one(r.scenario_toml, str(r.path))
            if on_done is not None:
                on_done(r)
        return
    threads = max(1, (os.cpu_count() or 1) // jobs)
    run_in_workers(
        run_one,
        [(r.scenario_toml, str(r.path)) for r in todo],
        jobs,
        on_done=(lambda i: on_done(todo[i])) if on_done is not None else None,
        initializer=_init_worker,
        initargs=(threads,),
    )


def execute_with_bar(
    todo: list[PlannedRun],
    jobs: int,
    desc: str,
    quiet: bool,
    backend: str = "local",
    address: str | None = None,
) -> None:
    """`execute` with a progress bar of runs on stderr (none when quiet or nothing to run)."""
    bar: Any = None
    if not quiet and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="run", desc=desc, file=sys.stderr, smoothing=0.1)
    try:
        execute(
            todo,
            jobs,
            on_done=(lambda _r: bar.update(1)) if bar else None,
            backend=backend,
            address=address,
        )
    finally:
        if bar is not None:
            bar.close()


def _names(ids: list[str]) -> str:
    return ", ".join(ids) if ids else "none"


def interrupted_message(planned: list[PlannedRun], signum: int) -> str:
    """What an interrupted sweep tells the user: exactly which runs are complete (on disk)."""
    done, missing = [], []
    for r in planned:
        try:
            complete = status(r) == "done"
        except SweepError:
            complete = False
        (done if complete else missing).append(r.run_id)
    name = signal.Signals(signum).name
    head = f"interrupted ({name}): {len(done)} of {len(planned)} runs are complete"
    if not missing:
        head += "; the table was not written"
    return (
        f"{head}\ncomplete ({len(done)}): {_names(done)}\n"
        f"not complete ({len(missing)}): {_names(missing)}\n"
        "run the same command again to finish only the missing runs and write the table"
    )


def _column(values: list[Any]) -> pl.Series:
    """Varied values as a typed column: bool, integer, float, or text."""
    if all(isinstance(v, bool) for v in values):
        return pl.Series(values, dtype=pl.Boolean)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pl.Series(values, dtype=pl.Int64)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return pl.Series([float(v) for v in values], dtype=pl.Float64)
    return pl.Series([show(v) for v in values], dtype=pl.String)


def tidy_table(planned: list[PlannedRun], keys: list[str]) -> pl.DataFrame:
    """One row per run x metric: run_id, seed, replicate, one column per key, metric, value.

    The metrics are the derived ones and every column any run declared headline (NaN in
    a run that lacks it); not those about the computer (wall time: see `timings_table`),
    so that the same sweep always gives the same table.
    """
    rows: dict[str, list[Any]] = {
        "run_id": [],
        "seed": [],
        "replicate": [],
        "metric": [],
        "value": [],
    }
    varied: dict[str, list[Any]] = {k: [] for k in keys}
    results = [RunResult(r.path) for r in planned]
    every = [m for m in metrics(results) if m.model]
    for r, result in zip(planned, results, strict=True):
        h = headline(result)
        point = dict(r.point)
        for m in every:
            rows["run_id"].append(r.run_id)
            rows["seed"].append(r.seed)
            rows["replicate"].append(r.replicate)
            rows["metric"].append(m.key)
            rows["value"].append(float(h.get(m.key, math.nan)))
            for k in keys:
                varied[k].append(point[k])
    cols = [
        pl.Series("run_id", rows["run_id"], dtype=pl.String),
        pl.Series("seed", rows["seed"], dtype=pl.Int64),
        pl.Series("replicate", rows["replicate"], dtype=pl.Int32),
        *(_column(varied[k]).alias(k) for k in keys),
        pl.Series("metric", rows["metric"], dtype=pl.String),
        pl.Series("value", rows["value"], dtype=pl.Float64),
    ]
    return pl.DataFrame(cols)


def timings_table(planned: list[PlannedRun]) -> pl.DataFrame:
    """One row per run: run_id, seed, replicate, wall_seconds, peak_memory_bytes."""
    manifests = [RunResult(r.path).manifest for r in planned]
    return pl.DataFrame(
        [
            pl.Series("run_id", [r.run_id for r in planned], dtype=pl.String),
            pl.Series("seed", [r.seed for r in planned], dtype=pl.Int64),
            pl.Series("replicate", [r.replicate for r in planned], dtype=pl.Int32),
            pl.Series(
                "wall_seconds",
                [float(m.get("wall_seconds", math.nan)) for m in manifests],
                dtype=pl.Float64,
            ),
            pl.Series(
                "peak_memory_bytes",
                [m.get("peak_memory_bytes") for m in manifests],
                dtype=pl.Int64,
            ),
        ]
    )


@dataclass
class SweepResult:
    """A finished sweep: its folder, the tidy table and the report path."""

    out: Path
    table: pl.DataFrame
    report: Path | None
    ran: int
    skipped: int


def write_outputs(
    out: Path,
    planned: list[PlannedRun],
    varies: list[Vary],
    spec: dict[str, Any],
    report: bool = True,
    png_dir: str | Path | None = None,
) -> tuple[pl.DataFrame, Path | None]:
    """Write the tidy table and (optionally) the report and PNGs of a finished sweep."""
    keys = [v.key for v in varies]
    tidy = tidy_table(planned, keys)
    write_parquet(tidy, out / TABLE)
    write_parquet(timings_table(planned), out / TIMINGS)
    report_path = None
    figures = sweep_figures(tidy, keys, metrics(RunResult(r.path) for r in planned))
    if report:
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        html = page(
            f"Panopticon sweep: {spec['scenario']}",
            f"{spec['runs']} runs, written {when}.",
            figures,
            before=summary_html(tidy, keys, spec),
        )
        report_path = out / REPORT
        tmp = out / (REPORT + ".tmp")
        tmp.write_text(html, "utf-8")
        os.replace(tmp, report_path)
    if png_dir is not None:
        from panopticon.report import write_figures_png

        write_figures_png(figures, png_dir)
    return tidy, report_path


def run_sweep(
    base: Scenario,
    varies: list[Vary],
    replicates: int,
    out: str | Path,
    jobs: int = 1,
    quiet: bool = False,
    report: bool = True,
    png_dir: str | Path | None = None,
    backend: str = "local",
    address: str | None = None,
) -> SweepResult:
    """Plan, validate, run the missing runs, and write the table and the report.

    SIGINT or SIGTERM meanwhile stops the workers and raises `SweepInterrupted`, whose
    message names the complete runs (its `exit_code` is 130 or 143).
    """
    if jobs < 1:
        raise SweepError(f"error: --jobs {jobs}: not allowed; give an integer >= 1")
    out_path = Path(out)
    if out_path.exists() and not out_path.is_dir():
        raise SweepError(f"error: --out {out_path}: is a file, not a folder; choose a folder")
    planned = plan(base, varies, replicates, out_path)
    states = [status(r) for r in planned]
    todo = [r for r, s in zip(planned, states, strict=True) if s == "todo"]
    skipped = len(planned) - len(todo)
    out_path.mkdir(parents=True, exist_ok=True)
    spec = {
        "scenario": base.name,
        "seed": base.run.seed,
        "replicates": replicates,
        "runs": len(planned),
        "vary": [{"key": v.key, "values": list(v.values)} for v in varies],
        "base_scenario": base.to_toml(),
    }
    tmp = out_path / (SPEC + ".tmp")
    tmp.write_text(json.dumps(spec, indent=2) + "\n", "utf-8")
    os.replace(tmp, out_path / SPEC)
    if not quiet:
        print(
            f"sweep {base.name}: {len(planned)} runs ({len(planned) // replicates} points x "
            f"{replicates} replicates); {skipped} already complete, {len(todo)} to run",
            file=sys.stderr,
        )
    caught = Caught()
    try:
        with interruptible() as caught:
            execute_with_bar(todo, jobs, "sweep", quiet, backend, address)
            tidy, report_path = write_outputs(out_path, planned, varies, spec, report, png_dir)
    except BaseException as exc:
        signum = signal_of(exc, caught)
        if signum is None:
            raise
        raise SweepInterrupted(signum, interrupted_message(planned, signum)) from None
    return SweepResult(out_path, tidy, report_path, len(todo), skipped)
