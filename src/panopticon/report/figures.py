"""The figures of a run report, built as plain data from run folders.

Each builder looks for the columns it needs and either returns figures or says why it
left them out. Column conventions for features later engine versions add (groups,
grades, access, the social graph, a per-day score histogram) are in ``docs/report.md``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from panopticon.io.runs import RunResult
from panopticon.report.model import (
    CORRECT,
    NEUTRAL,
    PALETTE,
    WRONGFUL,
    Figure,
    Heatmap,
    LeftOut,
    Sankey,
    Series,
)

SCORE_HISTOGRAM = "score_histogram.parquet"
GRADES_TABLE = "grades.parquet"
ACCESS_STATES = ("none", "refused", "excluded", "allocated")
PARTITIONS = (("group", "demographic group"), ("region", "region"))
GOOD_LABELS = {"school": "schools", "job": "jobs", "housing": "housing", "rental": "rentals"}


@dataclass
class RunData:
    """One run as the report reads it: label, tables and scenario, loaded once."""

    label: str
    result: RunResult

    @cached_property
    def scenario(self) -> dict[str, Any]:
        """The fully resolved scenario as plain data."""
        return tomllib.loads(self.result.scenario_toml)

    @cached_property
    def timeseries(self) -> pl.DataFrame:
        """One row per day."""
        return self.result.timeseries

    @cached_property
    def people_columns(self) -> list[str]:
        """Column names of people.parquet (read from the schema, not the data)."""
        return list(pq.read_schema(self.result.path / "people.parquet").names)

    def people(self, *columns: str) -> pl.DataFrame:
        """The given columns of people.parquet (only those are read)."""
        return pl.read_parquet(self.result.path / "people.parquet", columns=list(columns))

    @property
    def population(self) -> int:
        """Number of citizens."""
        return int(self.result.manifest["population"])

    @property
    def threshold(self) -> float | None:
        """The blacklist threshold, when the scenario has one."""
        bl = self.scenario.get("sanctions", {}).get("blacklist")
        return float(bl["threshold"]) if isinstance(bl, dict) and "threshold" in bl else None

    def wrongly_sanctioned(self) -> np.ndarray | None:
        """Per citizen: sanctioned at the end although the true score would not be."""
        cols = self.people_columns
        if "sanctioned_wrongly" in cols:
            return self.people("sanctioned_wrongly")["sanctioned_wrongly"].to_numpy()
        if self.threshold is None or "true_score" not in cols or "sanctioned" not in cols:
            return None
        p = self.people("sanctioned", "true_score")
        return p["sanctioned"].to_numpy() & (p["true_score"].to_numpy() >= self.threshold)


def label_runs(results: list[RunResult]) -> list[RunData]:
    """Short unique labels for runs: folder names, or longer paths when those collide."""
    names = [r.path.name for r in results]
    if len(set(names)) < len(names):
        names = [str(r.path) for r in results]
    if len(set(names)) < len(names):
        names = [f"{n} #{i + 1}" for i, n in enumerate(names)]
    return [RunData(n, r) for n, r in zip(names, results, strict=True)]


def _fmt(n: float) -> str:
    return f"{n:,.0f}"


def _suffix(run: RunData, many: bool) -> str:
    return f" — {run.label}" if many else ""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _fig_id(base: str, i: int, many: bool) -> str:
    return f"{base}-{i + 1}" if many else base


def _total(ts: pl.DataFrame, name: str, default: float) -> float:
    return float(ts[name].sum()) if name in ts.columns else default


# ----------------------------------------------------------------------------- funnel


def funnel(run: RunData, i: int, many: bool) -> Figure:
    """The funnel as a Sankey diagram, in acts and records, split correct / wrongful."""
    ts = run.timeseries
    committed = float(ts["committed"].sum())
    seen = float(ts["observed"].sum())
    missed = float(ts["missed"].sum())
    identified = seen - missed
    ok = float(ts["attributed_correct"].sum())
    bad = float(ts["attributed_wrong"].sum())
    pending = max(identified - ok - bad, 0.0)
    removed_bad = _total(ts, "wrongful_removed", 0.0)
    removed_ok = max(_total(ts, "appeals_won", removed_bad) - removed_bad, 0.0)
    channels = [c[len("recorded_") :] for c in ts.columns if c.startswith("recorded_")]
    seen_by = "detected by a channel" if len(channels) > 1 else "seen"

    labels = [
        f"committed<br>{_fmt(committed)} acts",
        f"{seen_by}<br>{_fmt(seen)}",
        f"not seen<br>{_fmt(committed - seen)}",
        f"not identified<br>{_fmt(missed)}",
        f"identified<br>{_fmt(identified)}",
        f"recorded<br>{_fmt(ok)} right<br>{_fmt(bad)} wrong person",
        f"scored<br>{_fmt(ok + bad - removed_ok - removed_bad)}",
    ]
    column = [0, 1, 1, 2, 2, 3, 4]
    node_colors = ["#4c4c4c", "#4c4c4c", NEUTRAL, NEUTRAL, "#4c4c4c", "#4c4c4c", "#4c4c4c"]
    src: list[int] = []
    dst: list[int] = []
    val: list[float] = []
    col: list[str] = []

    def link(a: int, b: int, v: float, c: str) -> None:
        if v > 0:
            src.append(a)
            dst.append(b)
            val.append(v)
            col.append(c)

    def node(label: str, column_: int, color: str = NEUTRAL) -> int:
        labels.append(label)
        column.append(column_)
        node_colors.append(color)
        return len(labels) - 1

    link(0, 1, seen, "#9ecae9")
    link(0, 2, committed - seen, NEUTRAL)
    link(1, 3, missed, NEUTRAL)
    if pending == 0 and abs(identified - ok - bad) < 0.5:
        link(1, 4, ok, CORRECT)
        link(1, 4, bad, WRONGFUL)
    else:
        link(1, 4, identified, "#9ecae9")
    link(4, 5, ok, CORRECT)
    link(4, 5, bad, WRONGFUL)
    if pending > 0:
        k = node(f"not yet recorded<br>{_fmt(pending)} (channel delay)", 3)
        link(4, k, pending, NEUTRAL)
    link(5, 6, ok - removed_ok, CORRECT)
    link(5, 6, bad - removed_bad, WRONGFUL)
    if removed_ok + removed_bad > 0:
        k = node(f"removed on appeal<br>{_fmt(removed_ok + removed_bad)}", 4)
        link(5, k, removed_ok, CORRECT)
        link(5, k, removed_bad, WRONGFUL)

    wrongly = run.wrongly_sanctioned()
    cols = run.people_columns
    caption = (
        "Acts flow left to right. Blue: a record against the person who acted; red: a "
        "record against an innocent (a false match); grey: no record. "
    )
    if wrongly is not None and {"sanctioned", "records_correct", "records_wrong"} <= set(cols):
        p = run.people("sanctioned", "records_correct", "records_wrong")
        sanctioned = p["sanctioned"].to_numpy()
        rc = p["records_correct"].to_numpy().astype(np.int64)
        rw = p["records_wrong"].to_numpy().astype(np.int64)
        rightly = sanctioned & ~wrongly
        outcomes = (
            ("rightly sanctioned", rightly),
            ("wrongly sanctioned", wrongly),
            ("not sanctioned", ~sanctioned & (rc + rw > 0)),
        )
        for name, mask in outcomes:
            who = "people" if name != "not sanctioned" else "people with a record"
            k = node(
                f"{name}<br>{_fmt(int(mask.sum()))} {who}",
                5,
                WRONGFUL if name == "wrongly sanctioned" else "#4c4c4c",
            )
            link(6, k, float(rc[mask].sum()), CORRECT)
            link(6, k, float(rw[mask].sum()), WRONGFUL)
        caption += (
            "The last column splits the scored records by what happened, at the end of the "
            "run, to the person each record names: sanctioned although their true score "
            "(from correct records only) would not be — wrongly sanctioned — sanctioned "
            "rightly, or not sanctioned. Node labels there count people; flows count records. "
            f"At the end {_fmt(int(sanctioned.sum()))} citizens were sanctioned, "
            f"{_fmt(int(wrongly.sum()))} of them wrongly."
        )
    return Figure(
        id=_fig_id("funnel", i, many),
        title="The funnel: committed → seen → identified → recorded → scored → sanctioned"
        + _suffix(run, many),
        kind="sankey",
        caption=caption,
        sankey=Sankey(labels, column, src, dst, val, col, node_colors),
    )


# ---------------------------------------------------------------------- time series


def _run_color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def records_over_time(runs: list[RunData]) -> Figure:
    """Records per day against the actor and against an innocent."""
    many = len(runs) > 1
    series: list[Series] = []
    for i, run in enumerate(runs):
        ts = run.timeseries
        day = ts["day"].to_numpy()
        pre = f"{run.label}: " if many else ""
        series.append(
            Series(
                pre + "against the actor",
                day,
                ts["attributed_correct"].to_numpy().astype(float),
                color=_run_color(i) if many else CORRECT,
            )
        )
        series.append(
            Series(
                pre + "against an innocent",
                day,
                ts["attributed_wrong"].to_numpy().astype(float),
                color=_run_color(i) if many else WRONGFUL,
                dash=many,
            )
        )
    return Figure(
        id="records",
        title="Records per day, against the actor and against an innocent",
        kind="lines",
        series=series,
        xlabel="day",
        ylabel="records per day",
        caption="Each day's new records, split by whether the person named is the one who "
        "acted (face identification right) or an innocent (a false match).",
    )


def sanctions_over_time(runs: list[RunData]) -> Figure:
    """Sanctioned and wrongly sanctioned citizens on each day."""
    many = len(runs) > 1
    per_100k = len({r.population for r in runs}) > 1
    series: list[Series] = []
    for i, run in enumerate(runs):
        ts = run.timeseries
        day = ts["day"].to_numpy()
        scale = 1e5 / run.population if per_100k else 1.0
        pre = f"{run.label}: " if many else ""
        series.append(
            Series(
                pre + "sanctioned",
                day,
                ts["sanctioned"].to_numpy() * scale,
                color=_run_color(i) if many else CORRECT,
            )
        )
        series.append(
            Series(
                pre + "wrongly sanctioned (right axis)",
                day,
                ts["sanctioned_wrongly"].to_numpy() * scale,
                color=_run_color(i) if many else WRONGFUL,
                dash=many,
                right=True,
            )
        )
    unit = "citizens per 100,000" if per_100k else "citizens"
    return Figure(
        id="sanctions",
        title="Sanctioned and wrongly sanctioned over time",
        kind="lines",
        series=series,
        xlabel="day",
        ylabel=f"sanctioned ({unit})",
        y2label=f"wrongly sanctioned ({unit})",
        caption="Citizens under sanction on each day (left axis) and those wrongly sanctioned "
        "(right axis, its own scale): sanctioned although their true score — the score the "
        "same rules give from correct records only — would not be. "
        + ("Runs differ in size, so counts are per 100,000 citizens." if per_100k else ""),
    )


def mean_score_over_time(runs: list[RunData]) -> Figure:
    """The population's mean score on each day (and mean true score when written)."""
    many = len(runs) > 1
    series: list[Series] = []
    for i, run in enumerate(runs):
        ts = run.timeseries
        day = ts["day"].to_numpy()
        pre = f"{run.label}: " if many else ""
        series.append(
            Series(
                pre + "mean score",
                day,
                ts["mean_score"].to_numpy(),
                color=_run_color(i) if many else CORRECT,
            )
        )
        if "mean_true_score" in ts.columns:
            series.append(
                Series(
                    pre + "mean true score",
                    day,
                    ts["mean_true_score"].to_numpy(),
                    color=_run_color(i) if many else NEUTRAL,
                    dash=True,
                )
            )
    return Figure(
        id="mean-score",
        title="Mean score over time",
        kind="lines",
        series=series,
        xlabel="day",
        ylabel="mean score",
        caption="The population's mean score at the end of each day.",
    )


# ------------------------------------------------------------------ score histograms


def _score_edges(arrays: list[np.ndarray]) -> np.ndarray:
    """Bin edges centred on the scores that occur, at most ~120 bins, on their natural step."""
    values = np.unique(np.concatenate([np.unique(a) for a in arrays if a.size]))
    if values.size == 0:
        return np.array([-0.5, 0.5])
    steps = np.diff(values).astype(np.int64)
    step = int(np.gcd.reduce(steps)) if steps.size else 1
    lo, hi = float(values[0]), float(values[-1])
    width = step * max(1, int(np.ceil((hi - lo) / step / 120)))
    return np.arange(lo - width / 2, hi + width, width, dtype=float)


def score_distribution(runs: list[RunData]) -> Figure | None:
    """Histogram of end scores and end true scores."""
    many = len(runs) > 1
    data = []
    for run in runs:
        if not {"score", "true_score"} <= set(run.people_columns):
            return None
        p = run.people("score", "true_score")
        data.append((run, p["score"].to_numpy(), p["true_score"].to_numpy()))
    edges = _score_edges([v for _, a, b in data for v in (a, b)])
    series: list[Series] = []
    for i, (run, score, true_score) in enumerate(data):
        pre = f"{run.label}: " if many else ""
        for name, values, color, dash in (
            ("score", score, _run_color(i) if many else CORRECT, False),
            ("true score", true_score, _run_color(i) if many else NEUTRAL, True),
        ):
            counts, _ = np.histogram(values, bins=edges)
            series.append(Series(pre + name, edges, counts.astype(float), color=color, dash=dash))
    thr = runs[0].threshold
    caption = (
        "Citizens by score at the end of the run (log scale: most keep the starting score). "
        "True score: the score the same rules give from correct records only; the gap "
        "between the two histograms is made by wrongful records. "
    )
    if thr is not None:
        caption += f"Dashed line: the blacklist threshold ({thr:g}). "
    caption += (
        "This engine version writes no per-day score distribution, so the report shows the "
        "end of the run here and the mean score over time below (see docs/report.md)."
    )
    return Figure(
        id="score-distribution",
        title="Score distribution at the end of the run",
        kind="hist",
        series=series,
        xlabel="score",
        ylabel="citizens",
        caption=caption,
        log_y=True,
        vline=thr,
    )


def score_heatmap(run: RunData, i: int, many: bool) -> Figure | None:
    """Score distribution over time, from a per-day score histogram when the run has one."""
    path = run.result.path / SCORE_HISTOGRAM
    if not path.exists():
        return None
    h = pl.read_parquet(path)
    if "policy" in h.columns:
        h = h.filter(pl.col("policy") == "score")
    if not {"day", "score_lo", "count"} <= set(h.columns) or h.height == 0:
        return None
    days = np.sort(h["day"].unique().to_numpy())
    bins = np.sort(h["score_lo"].unique().to_numpy())
    z = np.zeros((bins.size, days.size))
    di = np.searchsorted(days, h["day"].to_numpy())
    bi = np.searchsorted(bins, h["score_lo"].to_numpy())
    np.add.at(z, (bi, di), h["count"].to_numpy().astype(float))
    with np.errstate(divide="ignore"):
        zlog = np.where(z > 0, np.log10(np.maximum(z, 1e-300)), np.nan)
    return Figure(
        id=_fig_id("score-over-time", i, many),
        title="Score distribution over time" + _suffix(run, many),
        kind="heatmap",
        heatmap=Heatmap(days.astype(float), bins.astype(float), zlog, "log10 citizens"),
        xlabel="day",
        ylabel="score (bin start)",
        caption="Citizens per score bin (colour: log10 of the count), snapshots every 30 days "
        f"and on the last day, from the run's {SCORE_HISTOGRAM}.",
    )


# --------------------------------------------------------------------------- grades


def grade_columns(ts: pl.DataFrame, prefix: str = "grade_") -> list[str]:
    """Timeseries columns holding one value per grade (e.g. mean_degree_A), in order."""
    return [c for c in ts.columns if c.startswith(prefix) and len(c) > len(prefix)]


def grade_counts(run: RunData) -> dict[str, tuple[list[str], np.ndarray, np.ndarray]]:
    """Per score policy: grade names in order, days, and counts[day, grade].

    Read from grades.parquet (``day, policy, grade, count, wrongful``), or else from
    ``grade_<G>`` count columns of the timeseries.
    """
    out: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = {}
    path = run.result.path / GRADES_TABLE
    if path.exists():
        g = pl.read_parquet(path).with_columns(
            pl.col("policy").cast(pl.String), pl.col("grade").cast(pl.String)
        )
        for policy in g["policy"].unique(maintain_order=True).to_list():
            part = g.filter(pl.col("policy") == policy)
            names = part["grade"].unique(maintain_order=True).to_list()
            days = np.sort(part["day"].unique().to_numpy())
            counts = np.zeros((days.size, len(names)))
            di = np.searchsorted(days, part["day"].to_numpy())
            gi = np.array([names.index(x) for x in part["grade"].to_list()], dtype=np.int64)
            np.add.at(counts, (di, gi), part["count"].to_numpy().astype(float))
            out[str(policy)] = (names, days, counts)
        return out
    ts = run.timeseries
    cols = grade_columns(ts)
    if cols:
        counts = np.column_stack([ts[c].to_numpy().astype(float) for c in cols])
        out["score"] = ([c[len("grade_") :] for c in cols], ts["day"].to_numpy(), counts)
    return out


def grade_shares(run: RunData, i: int, many: bool) -> list[Figure]:
    """Shares of citizens in each grade over time, as a stacked area (one per policy)."""
    figures = []
    tables = grade_counts(run)
    for policy, (names, days, counts) in tables.items():
        total = counts.sum(axis=1, keepdims=True)
        shares = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
        series = [
            Series(name, days, shares[:, k], color=PALETTE[k % len(PALETTE)])
            for k, name in enumerate(names)
        ]
        what = f" ({policy})" if len(tables) > 1 else ""
        figures.append(
            Figure(
                id=_fig_id("grades" + (f"-{_slug(policy)}" if len(tables) > 1 else ""), i, many),
                title=f"Grade shares over time{what}" + _suffix(run, many),
                kind="area",
                series=series,
                xlabel="day",
                ylabel="share of citizens",
                y_percent=True,
                caption="The share of citizens in each grade on each day.",
            )
        )
    return figures


def listed_over_time(runs: list[RunData]) -> Figure | None:
    """Citizens on each black- or red-list, and those listed wrongly, over time."""
    many = len(runs) > 1
    series: list[Series] = []
    k = 0
    for run in runs:
        ts = run.timeseries
        day = ts["day"].to_numpy()
        pre = f"{run.label}: " if many else ""
        for c in ts.columns:
            if not c.startswith("listed_") or c.startswith("listed_wrongly_"):
                continue
            name = c[len("listed_") :]
            color = PALETTE[k % len(PALETTE)]
            k += 1
            series.append(Series(f"{pre}{name}", day, ts[c].to_numpy().astype(float), color=color))
            if f"listed_wrongly_{name}" in ts.columns:
                series.append(
                    Series(
                        f"{pre}{name}, wrongly",
                        day,
                        ts[f"listed_wrongly_{name}"].to_numpy().astype(float),
                        color=color,
                        dash=True,
                    )
                )
    if not series:
        return None
    return Figure(
        id="lists",
        title="Citizens on each list over time, and those listed wrongly",
        kind="lines",
        series=series,
        xlabel="day",
        ylabel="citizens listed",
        caption="Citizens on each black- or red-list on each day (solid) and those on it "
        "wrongly (dashed): listed, although correct records alone would not list them.",
    )


# ---------------------------------------------------------------- groups and impact


def group_rates(run: RunData, i: int, many: bool, column: str, what: str) -> list[Figure]:
    """Rates per 100,000 by group, and their disparate-impact ratios."""
    if column not in run.people_columns:
        return []
    need = ["records_correct", "records_wrong", "sanctioned"]
    if not set(need) <= set(run.people_columns):
        return []
    p = run.people(column, *need)
    wrongly = run.wrongly_sanctioned()
    p = p.with_columns(
        pl.col(column).cast(pl.String).alias(column),
        pl.Series("wrongly", wrongly if wrongly is not None else np.zeros(p.height, bool)),
    )
    g = (
        p.group_by(column)
        .agg(
            pl.len().alias("n"),
            (pl.col("records_correct").cast(pl.Int64) + pl.col("records_wrong"))
            .sum()
            .alias("records"),
            pl.col("records_wrong").cast(pl.Int64).sum().alias("wrongful records"),
            pl.col("sanctioned").sum().alias("sanctioned"),
            pl.col("wrongly").sum().alias("wrongly sanctioned"),
        )
        .sort(column)
    )
    if g.height < 2:
        return []
    names = g[column].to_list()
    n = g["n"].to_numpy().astype(float)
    metrics = ["records", "wrongful records", "sanctioned"]
    if wrongly is not None:
        metrics.append("wrongly sanctioned")
    ref = int(np.argmax(n))
    rates, ratios = [], []
    for k, name in enumerate(metrics):
        rate = 1e5 * g[name].to_numpy().astype(float) / n
        if not (rate > 0).any():
            continue  # nothing to show (e.g. no sanctions, or surveillance off)
        color = PALETTE[k % len(PALETTE)]
        rates.append(Series(f"{name} per 100,000", names, rate, color=color))
        if rate[ref] > 0:
            ratios.append(Series(name, names, rate / rate[ref], color=color))
    if not rates:
        return []
    suffix = _suffix(run, many)
    base = _slug(column)
    figures = [
        Figure(
            id=_fig_id(f"{base}-rates", i, many),
            title=f"Records and sanctions per 100,000, by {what}" + suffix,
            kind="bars",
            series=rates,
            xlabel=what,
            ylabel="per 100,000 citizens of the group",
            log_y=True,
            caption=f"Records (all and wrongful) and sanctions at the end per 100,000 citizens "
            f"of each {what} (log scale).",
        ),
        Figure(
            id=_fig_id(f"{base}-impact", i, many),
            title=f"Disparate-impact ratios by {what}" + suffix,
            kind="bars",
            series=ratios,
            xlabel=what,
            ylabel=f"rate relative to {names[ref]}",
            hline=1.0,
            caption=f"Each {what}'s rate divided by that of the largest {what} "
            f"({names[ref]}). Above 1: recorded or sanctioned more often than the reference; "
            "the four-fifths rule flags ratios above 1.25 or below 0.8.",
        ),
    ]
    return figures if ratios else figures[:1]


# -------------------------------------------------------------------------- access


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0: all equal; near 1: one holds all)."""
    x = np.sort(np.asarray(values, dtype=float))
    n, total = x.size, x.sum()
    if n == 0 or total <= 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float(2.0 * np.sum(ranks * x) / (n * total) - (n + 1) / n)


def _grade_order(run: RunData, present: list[str]) -> list[str]:
    """Grades in their policy's order (people.parquet's dictionary), then any others."""
    col = pq.read_table(run.result.path / "people.parquet", columns=["grade"]).column("grade")
    order: list[str] = []
    if pa.types.is_dictionary(col.type) and col.num_chunks:
        order = [str(x) for x in col.chunk(0).dictionary.to_pylist()]
    known = [g for g in order if g in present]
    return known + sorted(g for g in present if g not in known)


def access_values(run: RunData) -> dict[str, np.ndarray]:
    """Per good, each citizen's access at the end: 1 or 0 (or a share), NaN if not applicable.

    Two forms are read from people.parquet: allocation states (a dictionary column with
    the values none / refused / excluded / allocated, one per scarce good, as the
    sanctions catalog writes them: applicants are those not 'none', access is
    'allocated'), and ``access_<good>`` columns (bool or a share, everyone applicable).
    """
    out: dict[str, np.ndarray] = {}
    schema = pq.read_schema(run.result.path / "people.parquet")
    for field in schema:
        name = field.name
        if name.startswith("access_"):
            out[name[len("access_") :]] = (
                run.people(name)[name].cast(pl.Float64).to_numpy().astype(float)
            )
        elif pa.types.is_dictionary(field.type) and name not in ("grade", "group", "region"):
            col = pq.read_table(run.result.path / "people.parquet", columns=[name]).column(name)
            if not col.num_chunks:
                continue
            states = [str(x) for x in col.chunk(0).dictionary.to_pylist()]
            if set(states) != set(ACCESS_STATES):
                continue
            v = np.asarray(col.cast(pa.string()).to_numpy(zero_copy_only=False))
            x = (v == "allocated").astype(float)
            x[v == "none"] = np.nan
            out[name] = x
    return {k: v for k, v in out.items() if np.isfinite(v).any()}


def access_by_grade(run: RunData, i: int, many: bool) -> list[Figure]:
    """Share with access to each good by grade, and the Gini of access."""
    if "grade" not in run.people_columns:
        return []
    goods = access_values(run)
    if not goods:
        return []
    grade = run.people("grade")["grade"].cast(pl.String).to_numpy()
    grades = _grade_order(run, sorted(set(grade.tolist())))
    series = []
    for k, (good, x) in enumerate(goods.items()):
        means = []
        for g in grades:
            sel = x[grade == g]
            sel = sel[np.isfinite(sel)]
            means.append(float(sel.mean()) if sel.size else np.nan)
        series.append(
            Series(
                GOOD_LABELS.get(good, good),
                grades,
                np.array(means),
                color=PALETTE[k % len(PALETTE)],
            )
        )
    labels = [GOOD_LABELS.get(g, g) for g in goods]
    ginis = [gini(x[np.isfinite(x)]) for x in goods.values()]
    if len(goods) > 1:
        labels.append("all goods")
        ginis.append(gini(np.nansum(np.column_stack(list(goods.values())), axis=1)))
    suffix = _suffix(run, many)
    return [
        Figure(
            id=_fig_id("access", i, many),
            title="Access to schools, jobs, housing and rentals by grade" + suffix,
            kind="bars",
            series=series,
            xlabel="grade",
            ylabel="share with access",
            y_percent=True,
            caption="For each grade, the share with access to each good at the end: of the "
            "applicants in the last allocation round for scarce goods (schools, jobs, "
            "housing), of everyone for goods given as access_<good> columns.",
        ),
        Figure(
            id=_fig_id("access-gini", i, many),
            title="Gini of access" + suffix,
            kind="bars",
            series=[Series("Gini", labels, np.array(ginis), color=CORRECT)],
            xlabel="good",
            ylabel="Gini coefficient",
            caption="Inequality of access across citizens: 0 when everyone has the same "
            "access, towards 1 when few hold it all (for a yes/no good it is the share "
            "without access). 'all goods': the Gini of the number of goods each citizen has.",
        ),
    ]


# -------------------------------------------------------------------------- network


def degree_by_grade(run: RunData, i: int, many: bool) -> Figure | None:
    """Mean number of social ties by grade: over time, or at the end."""
    ts = run.timeseries
    cols = grade_columns(ts, "mean_degree_")
    suffix = _suffix(run, many)
    caption = "Mean number of social ties (friends, family, colleagues) of citizens by grade; "
    if cols:
        day = ts["day"].to_numpy()
        series = [
            Series(
                c[len("mean_degree_") :],
                day,
                ts[c].to_numpy().astype(float),
                color=PALETTE[k % len(PALETTE)],
            )
            for k, c in enumerate(cols)
        ]
        return Figure(
            id=_fig_id("degree", i, many),
            title="Social ties by grade over time" + suffix,
            kind="lines",
            series=series,
            xlabel="day",
            ylabel="mean degree",
            caption=caption + "a falling line means low scorers are being dropped.",
        )
    if {"degree", "grade"} <= set(run.people_columns):
        p = run.people("degree", "grade").with_columns(pl.col("grade").cast(pl.String))
        grades = _grade_order(run, p["grade"].unique().to_list())
        m = p.group_by("grade").agg(pl.col("degree").cast(pl.Float64).mean())
        m = m.join(pl.DataFrame({"grade": grades}), on="grade", how="right")
        return Figure(
            id=_fig_id("degree", i, many),
            title="Social ties by grade at the end" + suffix,
            kind="bars",
            series=[Series("mean degree", grades, m["degree"].to_numpy(), color=CORRECT)],
            xlabel="grade",
            ylabel="mean degree",
            caption=caption + "at the end of the run (no per-day degree columns written).",
        )
    return None


# --------------------------------------------------------------------------- all


def run_figures(runs: list[RunData]) -> tuple[list[Figure], list[LeftOut]]:
    """Every figure the runs have data for, and the ones left out with the reason."""
    many = len(runs) > 1
    figures: list[Figure] = []
    left: list[LeftOut] = []

    def per_run(
        title: str, reason: str, build: Callable[[RunData, int, bool], Figure | list[Figure] | None]
    ) -> None:
        made = False
        for i, run in enumerate(runs):
            out = build(run, i, many)
            got = [out] if isinstance(out, Figure) else (out or [])
            figures.extend(got)
            made = made or bool(got)
        if not made:
            left.append(LeftOut(title, reason))

    per_run("funnel", "", funnel)
    figures.append(records_over_time(runs))
    figures.append(sanctions_over_time(runs))
    lists = listed_over_time(runs)
    if lists is not None:
        figures.append(lists)
    hist = score_distribution(runs)
    if hist is not None:
        figures.append(hist)
    per_run(
        "Score distribution over time",
        f"the run folder has no {SCORE_HISTOGRAM} (a per-day score histogram); this engine "
        "version does not write one, so only the end-of-run distribution and the mean score "
        "over time are shown",
        score_heatmap,
    )
    figures.append(mean_score_over_time(runs))
    per_run(
        "Grade shares over time",
        f"the runs have no grades (no {GRADES_TABLE})",
        grade_shares,
    )
    for column, what in PARTITIONS:
        per_run(
            f"Rates and disparate-impact ratios by {what}",
            f"people.parquet has no '{column}' column with at least two values",
            lambda r, i, m, c=column, w=what: group_rates(r, i, m, c, w),
        )
    per_run(
        "Access to schools, jobs, housing and rentals by grade; Gini of access",
        "people.parquet has no 'grade' column with access to goods (allocation states of "
        "scarce goods with at least one applicant, or access_* columns)",
        access_by_grade,
    )
    per_run(
        "Social ties by grade",
        "the runs have no social graph (no mean_degree_* columns in timeseries.parquet, "
        "no 'degree' and 'grade' columns in people.parquet)",
        degree_by_grade,
    )
    return figures, left


def report_name(runs: list[RunData]) -> str:
    """A title for the report."""
    if len(runs) == 1:
        m = runs[0].result.manifest
        return f"{m.get('scenario', 'run')} — {runs[0].label}"
    return "comparison of " + ", ".join(r.label for r in runs)
