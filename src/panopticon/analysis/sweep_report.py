"""A sweep's report: each headline metric against each varied key, with 95% CIs.

The figures and the summary table of a sweep's ``report.html`` (see
:mod:`panopticon.analysis.sweep`), computed from the tidy table alone: the mean over
replicates and the interval mean ± t(0.975, n−1)·sd/√n.
"""

from __future__ import annotations

import math
import re
from typing import Any

import polars as pl

from panopticon.analysis.headline import METRIC_BY_KEY, Metric, format_value
from panopticon.report.html import esc, show, table
from panopticon.report.model import PALETTE, Figure, Series

TABLE = "sweep.parquet"
TIMINGS = "sweep_timings.parquet"
MAX_LINES = 10
SWEEP_METRICS = (
    "sanctioned_wrongly",
    "sanctioned_wrongly_per_100k",
    "wrongly_sanctioned_person_days",
    "wrongful_sanction_share",
    "records_wrong",
    "wrongful_record_share",
    "sanctioned",
    "sanctioned_per_100k",
    "records",
    "observed",
    "committed",
    "mean_score",
)


def t_quantile(df: int) -> float:
    """The 97.5% quantile of Student's t with `df` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def summarize(tidy: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Mean, sd, n and the 95% CI per group x metric.

    The CI is mean ± t·sd/√n (none when n = 1), cut to the metric's possible range.
    """
    g = tidy.group_by([*by, "metric"], maintain_order=True).agg(
        pl.col("value").mean().alias("mean"),
        pl.col("value").std().alias("sd"),
        pl.len().alias("n"),
    )
    half = [
        t_quantile(n - 1) * sd / math.sqrt(n) if n > 1 and sd is not None else None
        for n, sd in zip(g["n"].to_list(), g["sd"].to_list(), strict=True)
    ]
    g = g.with_columns(pl.Series("half", half, dtype=pl.Float64))
    g = g.with_columns(
        (pl.col("mean") - pl.col("half")).alias("lo"), (pl.col("mean") + pl.col("half")).alias("hi")
    ).drop("half")
    # an interval never leaves the possible range: counts, rates and seconds are >= 0,
    # shares lie in [0, 1] (a t interval on 0, 0, 1 would read "0.3 [-0.4, 1.1]")
    fmt = pl.col("metric").replace_strict(
        {m.key: m.fmt for m in METRIC_BY_KEY.values()}, default="count"
    )
    bounded = fmt.is_in(["count", "rate", "share", "seconds"])
    return g.with_columns(
        pl.when(bounded).then(pl.col("lo").clip(lower_bound=0.0)).otherwise(pl.col("lo")),
        pl.when(fmt == "share").then(pl.col("hi").clip(upper_bound=1.0)).otherwise(pl.col("hi")),
    )


def _is_numeric(s: pl.Series) -> bool:
    return s.dtype.is_numeric()


def sweep_metrics(tidy: pl.DataFrame, declared: list[Metric] | None = None) -> list[Metric]:
    """The metrics a sweep plots: :data:`SWEEP_METRICS`, then the declared headline ones.

    `declared` gives their labels (from the runs' manifests); a metric of the table
    without one is labelled by its key.
    """
    by_key = {m.key: m for m in declared or []}
    present = list(dict.fromkeys(tidy["metric"].to_list()))
    out = [METRIC_BY_KEY[k] for k in SWEEP_METRICS]
    for key in present:
        if key not in METRIC_BY_KEY:
            out.append(by_key.get(key, Metric(key, key)))
    return out


def sweep_figures(
    tidy: pl.DataFrame, keys: list[str], declared: list[Metric] | None = None
) -> list[Figure]:
    """Each headline metric against each varied key, with 95% CIs across replicates."""
    figures: list[Figure] = []
    replicates = int(tidy["replicate"].max() or 0) + 1
    for m in sweep_metrics(tidy, declared):
        metric, label = m.key, m.label
        sub = tidy.filter(pl.col("metric") == metric)
        for key in keys:
            others = [k for k in keys if k != key]
            combos = sub.select(others).unique(maintain_order=True) if others else None
            aggregate = combos is not None and combos.height > MAX_LINES
            by = [key] if (not others or aggregate) else [*others, key]
            s = summarize(sub, by).sort(by)
            series: list[Series] = []
            groups = (
                [((), s)] if not others or aggregate else s.group_by(others, maintain_order=True)
            )
            for j, (gkey, part) in enumerate(groups):
                name = (
                    label
                    if not others or aggregate
                    else ", ".join(f"{k}={show(v)}" for k, v in zip(others, gkey, strict=True))
                )
                x = part[key].to_numpy() if _is_numeric(part[key]) else part[key].to_list()
                has_ci = part["lo"].null_count() < part.height
                series.append(
                    Series(
                        name,
                        x,
                        part["mean"].to_numpy(),
                        lo=part["lo"].fill_null(part["mean"]).to_numpy() if has_ci else None,
                        hi=part["hi"].fill_null(part["mean"]).to_numpy() if has_ci else None,
                        color=PALETTE[j % len(PALETTE)],
                    )
                )
            ci = (
                f"Points: the mean of {replicates} replicates; band: 95% confidence interval "
                f"(mean ± t(0.975, {replicates - 1})·sd/√{replicates})."
                if replicates > 1
                else "One replicate per point: no confidence interval."
            )
            if aggregate:
                ci += f" Averaged over the other varied keys ({', '.join(others)})."
            figures.append(
                Figure(
                    id=re.sub(r"[^a-z0-9]+", "-", f"{metric}-vs-{key}".lower()),
                    title=f"{label[0].upper() + label[1:]} against {key}",
                    kind="lines",
                    series=series,
                    xlabel=key,
                    ylabel=label,
                    y_percent=m.fmt == "share",
                    caption=ci,
                )
            )
    return figures


def summary_html(tidy: pl.DataFrame, keys: list[str], spec: dict[str, Any]) -> str:
    """The grid and a table of means with 95% CIs of the main metrics."""
    main = (
        "sanctioned_wrongly",
        "records_wrong",
        "wrongful_record_share",
        "sanctioned",
        "mean_score",
    )
    s = (
        summarize(tidy, keys)
        if keys
        else summarize(tidy.with_columns(pl.lit("all").alias("point")), ["point"])
    )
    by = keys or ["point"]
    points = s.select(by).unique(maintain_order=True)
    rows = []
    for p in points.iter_rows():
        row: list[object] = [show(v) for v in p]
        for m in main:
            cell = s.filter(
                (pl.col("metric") == m)
                & pl.all_horizontal([pl.col(k) == v for k, v in zip(by, p, strict=True)])
            )
            mean, lo, hi = cell["mean"][0], cell["lo"][0], cell["hi"][0]
            text = format_value(m, mean)
            if lo is not None:
                text += f" [{format_value(m, lo)}, {format_value(m, hi)}]"
            row.append(text)
        rows.append(row)
    grid = (
        "; ".join(f"{v['key']} = {', '.join(show(x) for x in v['values'])}" for v in spec["vary"])
        or "no varied key"
    )
    head = [*by, *(METRIC_BY_KEY[m].label for m in main)]
    return (
        "<section id='summary'><h2>Sweep</h2>"
        f"<p>Scenario <b>{esc(spec['scenario'])}</b>: {esc(grid)}; {spec['replicates']} "
        f"replicate(s) per point (seeds {spec['seed']} … {spec['seed'] + spec['replicates'] - 1}"
        f", shared by all points); {spec['runs']} runs in total. Table: "
        f"<code>{TABLE}</code>; run times: <code>{TIMINGS}</code>; run folders: "
        "<code>runs/</code>.</p>"
        f"<h2>Means and 95% confidence intervals</h2>{table(head, rows)}</section>"
    )
