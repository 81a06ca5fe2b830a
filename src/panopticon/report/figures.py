"""The figures of a run report, built as plain data from run folders.

Each builder reads the columns the run declares (``manifest["outputs"]``, through
:class:`~panopticon.report.data.RunData`) and either returns figures or says why it left
them out. Captions state only what is computed from the data they caption: an empty
figure says in words why it is empty. The feature figures (lists, grades, groups, access,
ties) are in :mod:`panopticon.report.features`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from panopticon.report.data import RunData
from panopticon.report.features import (
    GRADES_TABLE,
    access_by_grade,
    degree_by_grade,
    exclusions,
    grade_shares,
    group_rates,
    listed_over_time,
)
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
PARTITIONS = (("group", "demographic group"), ("region", "region"))
RIGHT_AXIS_BELOW = 0.1  # a wrongful series this much smaller than its partner gets its own axis


def _fmt(n: float) -> str:
    return f"{n:,.0f}"


def _suffix(run: RunData, many: bool) -> str:
    return f" — {run.label}" if many else ""


def _fig_id(base: str, i: int, many: bool) -> str:
    return f"{base}-{i + 1}" if many else base


def _run_color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


# ----------------------------------------------------------------------------- funnel


@dataclass
class FunnelCounts:
    """The run's totals the funnel shows, and at the end what happened to the people named.

    `outcomes`: (what happened, people, correct records, wrongful records) per outcome.
    """

    committed: float
    seen: float
    missed: float
    ok: float
    bad: float
    removed_ok: float = 0.0
    removed_bad: float = 0.0
    channels: int = 1
    outcomes: list[tuple[str, int, float, float]] = field(default_factory=list)


def funnel_diagram(c: FunnelCounts) -> Sankey:
    """The Sankey diagram of the funnel: nodes in columns, flows split correct / wrongful."""
    identified = c.seen - c.missed
    pending = max(identified - c.ok - c.bad, 0.0)
    seen_by = "detected by a channel" if c.channels > 1 else "seen"
    labels = [
        f"committed<br>{_fmt(c.committed)} acts",
        f"{seen_by}<br>{_fmt(c.seen)}",
        f"not seen<br>{_fmt(c.committed - c.seen)}",
        f"not identified<br>{_fmt(c.missed)}",
        f"identified<br>{_fmt(identified)}",
        f"recorded<br>{_fmt(c.ok)} right person<br>{_fmt(c.bad)} wrong person",
        f"scored<br>{_fmt(c.ok + c.bad - c.removed_ok - c.removed_bad)}",
    ]
    column = [0, 1, 1, 2, 2, 3, 4]
    node_colors = ["#4c4c4c", "#4c4c4c", NEUTRAL, NEUTRAL, "#4c4c4c", "#4c4c4c", "#4c4c4c"]
    src: list[int] = []
    dst: list[int] = []
    val: list[float] = []
    col: list[str] = []

    def link(a: int, b: int, v: float, color: str) -> None:
        if v > 0:
            src.append(a)
            dst.append(b)
            val.append(v)
            col.append(color)

    def node(label: str, column_: int, color: str = NEUTRAL) -> int:
        labels.append(label)
        column.append(column_)
        node_colors.append(color)
        return len(labels) - 1

    link(0, 1, c.seen, "#9ecae9")
    link(0, 2, c.committed - c.seen, NEUTRAL)
    link(1, 3, c.missed, NEUTRAL)
    if pending == 0 and abs(identified - c.ok - c.bad) < 0.5:
        link(1, 4, c.ok, CORRECT)
        link(1, 4, c.bad, WRONGFUL)
    else:
        link(1, 4, identified, "#9ecae9")
    link(4, 5, c.ok, CORRECT)
    link(4, 5, c.bad, WRONGFUL)
    if pending > 0:
        k = node(f"not yet recorded<br>{_fmt(pending)} (channel delay)", 3)
        link(4, k, pending, NEUTRAL)
    link(5, 6, c.ok - c.removed_ok, CORRECT)
    link(5, 6, c.bad - c.removed_bad, WRONGFUL)
    if c.removed_ok + c.removed_bad > 0:
        k = node(f"removed on appeal<br>{_fmt(c.removed_ok + c.removed_bad)}", 4)
        link(5, k, c.removed_ok, CORRECT)
        link(5, k, c.removed_bad, WRONGFUL)
    for name, people, rc, rw in c.outcomes:
        who = "people with a record" if name == "not sanctioned" else "people"
        color = WRONGFUL if name == "wrongly sanctioned" else "#4c4c4c"
        k = node(f"{name}<br>{_fmt(people)} {who}", 5, color)
        link(6, k, rc, CORRECT)
        link(6, k, rw, WRONGFUL)
    return Sankey(labels, column, src, dst, val, col, node_colors)


def funnel_counts(run: RunData) -> FunnelCounts:
    """The funnel's numbers from a run's totals and end state."""
    removed_bad = run.total("wrongful_removed")
    counts = FunnelCounts(
        committed=run.total("committed"),
        seen=run.total("observed"),
        missed=run.total("missed"),
        ok=run.total("attributed_correct"),
        bad=run.total("attributed_wrong"),
        removed_bad=removed_bad,
        removed_ok=max(run.total("appeals_won", removed_bad) - removed_bad, 0.0),
        channels=len(run.family("channel")),
    )
    wrongly = run.wrongly_sanctioned()
    if wrongly is not None and {"sanctioned", "records_correct", "records_wrong"} <= set(
        run.people_columns
    ):
        p = run.people("sanctioned", "records_correct", "records_wrong")
        sanctioned = p["sanctioned"].to_numpy()
        rc = p["records_correct"].to_numpy().astype(np.int64)
        rw = p["records_wrong"].to_numpy().astype(np.int64)
        for name, mask in (
            ("rightly sanctioned", sanctioned & ~wrongly),
            ("wrongly sanctioned", wrongly),
            ("not sanctioned", ~sanctioned & (rc + rw > 0)),
        ):
            counts.outcomes.append(
                (name, int(mask.sum()), float(rc[mask].sum()), float(rw[mask].sum()))
            )
    return counts


def funnel(run: RunData, i: int, many: bool) -> Figure:
    """The funnel as a Sankey diagram, in acts and records, split correct / wrongful."""
    c = funnel_counts(run)
    caption = (
        "Acts flow left to right. Blue: a record against the person who acted; red: a "
        f"record against an innocent (a false match: {_fmt(c.bad)} of "
        f"{_fmt(c.ok + c.bad)} records); grey: no record. Every flow is drawn at least a "
        "few pixels thick, so small ones stay visible; node labels give the exact numbers. "
    )
    if c.outcomes:
        people = {name: n for name, n, _, _ in c.outcomes}
        caption += (
            "The last column splits the scored records by what happened, at the end of the "
            "run, to the person each record names: sanctioned although their true score "
            "(from correct records only) would not be — wrongly sanctioned — sanctioned "
            "rightly, or not sanctioned. Node labels there count people; flows count records. "
            f"At the end {_fmt(people['rightly sanctioned'] + people['wrongly sanctioned'])} "
            f"citizens were sanctioned, {_fmt(people['wrongly sanctioned'])} of them wrongly."
        )
    return Figure(
        id=_fig_id("funnel", i, many),
        title="The funnel: committed → seen → identified → recorded → scored → sanctioned"
        + _suffix(run, many),
        kind="sankey",
        caption=caption,
        sankey=funnel_diagram(c),
    )


# ---------------------------------------------------------------------- time series


def _pair_figure(
    runs: list[RunData],
    names: tuple[str, str],
    labels: tuple[str, str],
    per_100k: bool,
) -> tuple[list[Series], bool]:
    """A main series and its wrongful part per run, the latter on a right axis if small.

    On the main series' scale a wrongful part under a tenth of it is drawn flat at 0.
    """
    many = len(runs) > 1
    main_max = max(float(np.nanmax(r.timeseries[names[0]].to_numpy(), initial=0)) for r in runs)
    wrong_max = max(float(np.nanmax(r.timeseries[names[1]].to_numpy(), initial=0)) for r in runs)
    right = 0 < wrong_max < RIGHT_AXIS_BELOW * main_max
    series: list[Series] = []
    for i, run in enumerate(runs):
        ts = run.timeseries
        day = ts["day"].to_numpy()
        scale = 1e5 / run.population if per_100k else 1.0
        pre = f"{run.label}: " if many else ""
        series.append(
            Series(
                pre + labels[0],
                day,
                ts[names[0]].to_numpy().astype(float) * scale,
                color=_run_color(i) if many else CORRECT,
            )
        )
        series.append(
            Series(
                pre + labels[1] + (" (right axis)" if right else ""),
                day,
                ts[names[1]].to_numpy().astype(float) * scale,
                color=_run_color(i) if many else WRONGFUL,
                dash=many,
                right=right,
            )
        )
    return series, right


def records_over_time(runs: list[RunData]) -> Figure:
    """Records per day against the actor and against an innocent."""
    series, right = _pair_figure(
        runs,
        ("attributed_correct", "attributed_wrong"),
        ("against the actor", "against an innocent"),
        False,
    )
    caption = (
        "Each day's new records, split by whether the person named is the one who acted "
        "(face identification right) or an innocent (a false match). "
    )
    totals = "; ".join(
        f"{r.label + ': ' if len(runs) > 1 else ''}{_fmt(r.total('attributed_wrong'))} of "
        f"{_fmt(r.total('attributed_correct') + r.total('attributed_wrong'))} records "
        "against an innocent"
        for r in runs
    )
    caption += totals + ". "
    if right:
        caption += "Records against an innocent are on the right axis, with their own scale."
    return Figure(
        id="records",
        title="Records per day, against the actor and against an innocent",
        kind="lines",
        series=series,
        xlabel="day",
        ylabel="records per day",
        y2label="records against an innocent per day" if right else "",
        caption=caption,
    )


def _lowest_score(run: RunData) -> float | None:
    """The lowest score any citizen had on a snapshot day or at the end."""
    lows = []
    if "score" in run.people_columns:
        lows.append(float(run.people("score")["score"].min()))
    path = run.result.path / SCORE_HISTOGRAM
    if path.exists():
        h = pl.read_parquet(path)
        if "policy" in h.columns:
            h = h.filter(pl.col("policy") == "score")
        h = h.filter(pl.col("count") > 0)
        if h.height:
            lows.append(float(h["score_lo"].min()))
    return min(lows) if lows else None


def why_nobody_sanctioned(run: RunData) -> str:
    """In words, why a run sanctioned nobody (from its scenario and scores)."""
    thr = run.threshold
    if thr is None:
        return f"{run.label} sanctions nobody: its scenario has no blacklist threshold."
    low = _lowest_score(run)
    if run.total("attributed_correct") + run.total("attributed_wrong") == 0:
        return f"Nobody was sanctioned in {run.label}: the run made no record."
    if low is not None and low >= thr:
        return (
            f"Nobody was sanctioned in {run.label}: a citizen is sanctioned while the score is "
            f"below the threshold of {thr:g}, and the lowest score seen was {low:g}."
        )
    return f"Nobody was sanctioned in {run.label} at the end of any day."


def sanctions_over_time(runs: list[RunData]) -> Figure:
    """Sanctioned and wrongly sanctioned citizens on each day."""
    per_100k = len({r.population for r in runs}) > 1
    series, right = _pair_figure(
        runs,
        ("sanctioned", "sanctioned_wrongly"),
        ("sanctioned", "wrongly sanctioned"),
        per_100k,
    )
    unit = "citizens per 100,000" if per_100k else "citizens"
    caption = (
        "Citizens under sanction on each day and those wrongly sanctioned: sanctioned "
        "although their true score — the score the same rules give from correct records "
        "only — would not be. "
    )
    if right:
        caption += "The wrongly sanctioned are on the right axis, with their own scale. "
    if per_100k:
        caption += "Runs differ in size, so counts are per 100,000 citizens. "
    empty = [r for r in runs if float(r.timeseries["sanctioned"].max() or 0) == 0]
    caption += " ".join(why_nobody_sanctioned(r) for r in empty)
    return Figure(
        id="sanctions",
        title="Sanctioned and wrongly sanctioned over time",
        kind="lines",
        series=series,
        xlabel="day",
        ylabel=f"sanctioned ({unit})",
        y2label=f"wrongly sanctioned ({unit})" if right else "",
        caption=caption.strip(),
    )


def mean_score_over_time(runs: list[RunData]) -> Figure:
    """Each score policy's mean on each day (and the mean true score where written)."""
    many = len(runs) > 1
    series: list[Series] = []
    k = 0
    for run in runs:
        ts = run.timeseries
        day = ts["day"].to_numpy()
        pre = f"{run.label}: " if many else ""
        for d in run.family("mean_score"):
            name = "mean score" if d.key in ("score", "") else f"mean {d.key}"
            color = _run_color(k) if (many or k) else CORRECT
            k += 1
            series.append(Series(pre + name, day, ts[d.name].to_numpy(), color=color))
        if "mean_true_score" in ts.columns:
            series.append(
                Series(
                    pre + "mean true score",
                    day,
                    ts["mean_true_score"].to_numpy(),
                    color=_run_color(k - 1) if many else NEUTRAL,
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
        caption="The population's mean of each score at the end of each day.",
    )


# ------------------------------------------------------------------ score histograms


def grid_period(values: np.ndarray, counts: np.ndarray, step: int) -> tuple[int, float]:
    """The period of the score grid, in points, and a grid point (where the mass sits).

    Scores move in fixed steps (a recovery of 5 points, penalties of 10 ...), so most
    citizens sit on one residue modulo some period: the smallest period (in units of
    `step`) holding at least 60% of the citizens on one residue (not counting the most
    common score, usually the starting one, which alone would fit any period).
    """
    units = np.round((values - values[0]) / step).astype(np.int64)
    counts = counts.copy()
    counts[np.argmax(counts)] = 0  # the starting score alone would fit any period
    total = float(counts.sum())
    for p in range(2, 51):
        if units[-1] < 2 * p:
            break
        share = np.bincount(units % p, weights=counts, minlength=p)
        r = int(np.argmax(share))
        if share[r] >= 0.6 * total:
            return p * step, float(values[0] + r * step)
    return step, float(values[0])


def score_edges(arrays: list[np.ndarray], target_bins: int = 120) -> np.ndarray:
    """Bin edges on the score grid: every bin holds the same number of grid points.

    A bin width that is not a multiple of the grid's period makes bars alternate high and
    low; so the width is the smallest multiple of the period giving at most `target_bins`
    bins, and each grid point sits in the middle of its bin.
    """
    joined = np.concatenate([a for a in arrays if a.size]) if any(a.size for a in arrays) else []
    if len(joined) == 0:
        return np.array([-0.5, 0.5])
    values, counts = np.unique(np.asarray(joined), return_counts=True)
    steps = np.diff(values).astype(np.int64)
    step = int(np.gcd.reduce(steps)) if steps.size else 1
    period, anchor = grid_period(values.astype(float), counts.astype(float), step)
    lo, hi = float(values[0]), float(values[-1])
    width = period * max(1, int(np.ceil((hi - lo) / period / target_bins)))
    start = anchor - width / 2 - max(np.ceil((anchor - width / 2 - lo) / width), 0) * width
    return np.arange(start, hi + width + 1e-9, width, dtype=float)


def score_distribution(runs: list[RunData]) -> Figure | None:
    """Histogram of end scores and end true scores, with the blacklist threshold."""
    many = len(runs) > 1
    data = []
    for run in runs:
        if not {"score", "true_score"} <= set(run.people_columns):
            return None
        p = run.people("score", "true_score")
        data.append((run, p["score"].to_numpy(), p["true_score"].to_numpy()))
    edges = score_edges([v for _, a, b in data for v in (a, b)])
    series: list[Series] = []
    for i, (run, score, true_score) in enumerate(data):
        pre = f"{run.label}: " if many else ""
        for name, values, color, dash in (
            ("score", score, _run_color(i) if many else CORRECT, False),
            ("true score", true_score, _run_color(i) if many else NEUTRAL, True),
        ):
            counts, _ = np.histogram(values, bins=edges)
            series.append(Series(pre + name, edges, counts.astype(float), color=color, dash=dash))
    caption = (
        "Citizens by score at the end of the run (log scale). True score: the score the same "
        "rules give from correct records only; the gap between the two histograms is made by "
        f"wrongful records. Each bar is {edges[1] - edges[0]:g} points wide. "
    )
    thr = runs[0].threshold
    vline = None
    if thr is not None:
        low = float(min(a.min() for _, a, _ in data))
        high = float(max(a.max() for _, a, _ in data))
        if edges[0] <= thr <= edges[-1]:
            vline = thr
            caption += f"Dashed line: the blacklist threshold ({thr:g}); below it, sanctioned. "
        elif thr < edges[0]:
            caption += (
                f"The blacklist threshold ({thr:g}) is below every score (lowest {low:g}), "
                "so it is off the axis: nobody is below it at the end. "
            )
        else:
            caption += (
                f"The blacklist threshold ({thr:g}) is above every score (highest {high:g}), "
                "so it is off the axis: everybody is below it at the end. "
            )
    if any((r.result.path / SCORE_HISTOGRAM).exists() for r in runs):
        caption += (
            f"The distribution on each snapshot day is in the next figure ({SCORE_HISTOGRAM})."
        )
    return Figure(
        id="score-distribution",
        title="Score distribution at the end of the run",
        kind="hist",
        series=series,
        xlabel="score",
        ylabel="citizens",
        caption=caption.strip(),
        log_y=True,
        vline=vline,
    )


def score_heatmap(run: RunData, i: int, many: bool) -> Figure | None:
    """Score distribution over time, from the run's per-snapshot score histogram."""
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
    used = np.flatnonzero(z.sum(axis=1) > 0)
    if used.size:  # only the score range anybody is in (and a bin either side)
        keep = slice(max(used[0] - 1, 0), min(used[-1] + 2, bins.size))
        bins, z = bins[keep], z[keep]
    with np.errstate(divide="ignore"):
        zlog = np.where(z > 0, np.log10(np.maximum(z, 1e-300)), np.nan)
    gaps = np.unique(np.diff(days))
    when = (
        f"on {days.size} snapshot days, every {int(gaps[0])} days"
        if gaps.size == 1
        else f"on {days.size} snapshot days ({', '.join(str(int(d)) for d in days[:6])}"
        + (", …)" if days.size > 6 else ")")
    )
    width = float(bins[1] - bins[0]) if bins.size > 1 else 0.0
    return Figure(
        id=_fig_id("score-over-time", i, many),
        title="Score distribution over time" + _suffix(run, many),
        kind="heatmap",
        heatmap=Heatmap(days.astype(float), bins.astype(float), zlog, "log10 citizens"),
        xlabel="day",
        ylabel="score (bin start)",
        caption=f"Citizens per score bin of {width:g} points (colour: log10 of the count), "
        f"{when}, from the run's {SCORE_HISTOGRAM}; the axis covers the scores anybody had.",
    )


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
        f"the run folder has no {SCORE_HISTOGRAM} (a per-snapshot score histogram)",
        score_heatmap,
    )
    figures.append(mean_score_over_time(runs))
    per_run("Grade shares over time", f"the runs have no grades (no {GRADES_TABLE})", grade_shares)
    for column, what in PARTITIONS:
        per_run(
            f"Rates and disparate-impact ratios by {what}",
            f"people.parquet has no '{column}' column with at least two values",
            lambda r, i, m, c=column, w=what: group_rates(r, i, m, c, w),
        )
    per_run(
        "Access to scarce goods by grade; Gini of access",
        "the runs declare no grade and no access column (allocation states of a scarce "
        "good with at least one applicant) in people.parquet",
        access_by_grade,
    )
    per_run(
        "Exclusions from scarce goods: deserved, wrongful, collateral",
        "no applicant was excluded from a scarce good (no declared 'excluded' column with "
        "a total above 0)",
        exclusions,
    )
    per_run(
        "Social ties by grade",
        "the runs have no social graph (no degree columns declared in the timeseries or "
        "people.parquet)",
        degree_by_grade,
    )
    return figures, left


def report_name(runs: list[RunData]) -> str:
    """A title for the report."""
    if len(runs) == 1:
        m = runs[0].result.manifest
        return f"{m.get('scenario', 'run')} — {runs[0].label}"
    return "comparison of " + ", ".join(r.label for r in runs)
