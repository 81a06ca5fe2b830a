"""A sensitivity analysis' report: a ranked bar chart per metric and its reading in words.

Built from the indices alone (see :mod:`panopticon.analysis.sensitivity`): each metric
gets a horizontal bar chart of its parameters, largest effect on top, with the bootstrap
95% interval as whiskers, and one or two sentences that name the parameters that matter
and say so cautiously where their intervals overlap. The page is the reports' own
(:func:`panopticon.report.html.page`): self-contained, Plotly inlined, opens offline.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
import plotly.io as pio
import polars as pl

from panopticon.analysis.headline import Metric
from panopticon.report.html import esc, page, table
from panopticon.report.model import PALETTE

if TYPE_CHECKING:
    from panopticon.analysis.sensitivity import Analysis

INDEX_NAMES = {
    "mu_star": "mu*",
    "sigma": "sigma",
    "S1": "S1 (first order)",
    "ST": "ST (total)",
}


def _g(v: float) -> str:
    """A number in three significant figures (thousands separated when large)."""
    if v != v:
        return "n/a"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _pm(v: float, conf: float) -> str:
    return f"{_g(v)} ± {_g(conf)}"


def _rows(indices: pl.DataFrame, metric: str) -> list[dict[str, Any]]:
    return indices.filter(pl.col("metric") == metric).sort("rank").to_dicts()


def sentence(method: str, label: str, rows: list[dict[str, Any]]) -> str:
    """The reading of one metric's indices in words, cautious where intervals overlap."""
    if not rows:
        return f"No parameter was analysed for {label}."
    note = rows[0]["note"]
    if note.startswith("constant"):
        return (
            f"{label[0].upper() + label[1:]} did not change over the samples: no parameter "
            "moved it within its range."
        )
    if note:
        return f"No indices for {label}: it is {note}."
    est, cf = ("mu_star", "mu_star_conf") if method == "morris" else ("ST", "ST_conf")
    clear = [r for r in rows if r[est] - r[cf] > 0]
    if not clear:
        return (
            f"No parameter has an effect on {label} distinguishable from zero at this "
            "sample size (every interval reaches 0)."
        )
    top = rows[0]
    second = rows[1] if len(rows) > 1 else None
    ahead = second is None or top[est] - top[cf] > second[est] + second[cf]
    if method == "sobol":
        s1_lo = top["S1"] - top["S1_conf"]
        if s1_lo > 0.5:
            head = (
                f"{top['parameter']} explains most of the variance in {label} on its own "
                f"(S1 = {_pm(top['S1'], top['S1_conf'])}, ST = {_pm(top['ST'], top['ST_conf'])})"
            )
        elif top["ST"] - top["ST_conf"] > 0.5:
            head = (
                f"{top['parameter']}, with its interactions, accounts for most of the variance "
                f"in {label} (ST = {_pm(top['ST'], top['ST_conf'])})"
            )
        else:
            head = (
                f"{top['parameter']} has the largest total effect on {label} "
                f"(ST = {_pm(top['ST'], top['ST_conf'])}, share of the variance)"
            )
    else:
        total = sum(r[est] for r in rows if r[est] == r[est])
        share = f", {100 * top[est] / total:.0f}% of the summed mu*" if total > 0 else ""
        head = (
            f"{top['parameter']} has the largest effect on {label} "
            f"(mu* = {_pm(top[est], top[cf])} over its range{share})"
        )
    if second is None:
        tail = "."
    elif ahead:
        tail = f", clearly ahead of {second['parameter']} ({_pm(second[est], second[cf])})."
    else:
        tied = [r["parameter"] for r in rows[1:] if r[est] + r[cf] >= top[est] - top[cf]]
        names = ", ".join(tied[:3]) + (f" and {len(tied) - 3} more" if len(tied) > 3 else "")
        tail = (
            f"; but its interval overlaps that of {names}, so which matters most is not "
            "settled at this sample size."
        )
    rest = len(rows) - len(clear)
    verb = "has an effect" if rest == 1 else "have effects"
    zero = f" {rest} of {len(rows)} parameters {verb} indistinguishable from zero." if rest else ""
    return head + tail + zero


def _figure(method: str, metric: Metric, rows: list[dict[str, Any]]) -> go.Figure:
    """A ranked horizontal bar chart with interval whiskers (largest on top)."""
    fig = go.Figure()
    names = [r["parameter"] for r in rows][::-1]
    pairs = (
        [("mu_star", "mu_star_conf")]
        if method == "morris"
        else [("S1", "S1_conf"), ("ST", "ST_conf")]
    )
    for j, (col, conf) in enumerate(pairs):
        vals = [r[col] for r in rows][::-1]
        errs = [r[conf] for r in rows][::-1]
        fig.add_trace(
            go.Bar(
                x=[0.0 if v != v else v for v in vals],
                y=names,
                orientation="h",
                name=INDEX_NAMES[col],
                marker_color=PALETTE[j],
                # the indices are >= 0: the whisker stops at 0 (mu* 0.5 ± 0.9 reads 0 .. 1.4)
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [0.0 if e != e else e for e in errs],
                    "arrayminus": [
                        0.0 if e != e or v != v else min(e, max(v, 0.0))
                        for v, e in zip(vals, errs, strict=True)
                    ],
                },
            )
        )
    xlabel = (
        f"mu*: mean |elementary effect| on {metric.label}, per the whole range"
        if method == "morris"
        else "share of the variance"
    )
    fig.update_layout(
        template="plotly_white",
        height=140 + 26 * len(rows) * (1 if method == "morris" else 2),
        margin={"l": 300, "r": 30, "t": 30, "b": 60},
        xaxis={"title": {"text": xlabel}, "rangemode": "tozero"},
        barmode="group",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0.0},
        hovermode="closest",
    )
    return fig


def _section(fid: str, title: str, fig: go.Figure, caption: str) -> str:
    """A figure section the page's drawing script picks up (as report figures are)."""
    spec = pio.to_json(fig, validate=False, remove_uids=True)
    spec = spec.replace("</", "<\\/").replace("<!--", "<\\!--")
    return (
        f'<section class="figure" id="fig-{esc(fid)}" data-figure="{esc(fid)}">'
        f"<h2>{esc(title)}</h2>"
        f'<div class="plot" id="plot-{esc(fid)}"></div>'
        f'<p class="caption">{esc(caption)}</p>'
        f'<script type="application/json" id="data-{esc(fid)}">{spec}</script>'
        "</section>"
    )


def readings(analysis: Analysis, metrics: list[Metric]) -> list[tuple[Metric, str]]:
    """Each metric with its sentence, in the metrics' order."""
    return [
        (m, sentence(analysis.method, m.label, _rows(analysis.indices, m.key))) for m in metrics
    ]


def report_html(analysis: Analysis, metrics: list[Metric], spec: dict[str, Any]) -> str:
    """The whole report page."""
    method = analysis.method
    est = "mu* (Morris)" if method == "morris" else "S1 and ST (Sobol)"
    conf = (
        f"bootstrap {int(100 * 0.95)}% intervals over the trajectories"
        if method == "morris"
        else "bootstrap 95% intervals"
    )
    overview = table(
        ["", ""],
        [
            ("scenario", spec["scenario"]),
            ("method", method),
            (
                "samples",
                f"{spec['samples']} ({'trajectories' if method == 'morris' else 'base N'})",
            ),
            ("design points", f"{spec['points']:,}"),
            (
                "replicates per point",
                f"{spec['replicates']} ("
                + (
                    f"seeds {spec['seed']}..{spec['seed'] + spec['replicates'] - 1}"
                    if spec["replicates"] > 1
                    else f"seed {spec['seed']}"
                )
                + ", the same for every point)",
            ),
            ("runs", f"{spec['runs']:,}"),
        ],
    )
    factors = table(
        ["parameter", "low", "high", "scale", "basis of the range"],
        [
            (
                f.key,
                _g(f.lo),
                _g(f.hi),
                ("log" if f.log else "linear") + (", integer" if f.integer else ""),
                f.source,
            )
            for f in analysis.factors
        ],
    )
    words = "".join(
        f"<li><b>{esc(m.label)}</b>: {esc(text)}</li>" for m, text in readings(analysis, metrics)
    )
    before = (
        f"<section id='summary'><h2>Analysis</h2>{overview}"
        f"<h2>Parameters varied</h2>{factors}"
        f"<h2>In words</h2><ul>{words}</ul>"
        f"<p class='caption'>Indices: {esc(est)} with {esc(conf)}, computed from each "
        "point's mean over its replicates. An effect whose interval reaches 0 is "
        "indistinguishable from none at this sample size.</p></section>"
    )
    sections, nav = [], []
    for m in metrics:
        rows = _rows(analysis.indices, m.key)
        if not rows or rows[0]["note"]:
            continue
        fid = re.sub(r"[^a-z0-9]+", "-", f"sensitivity-{m.key}".lower())
        title = f"What drives {m.label}"
        sections.append(
            _section(fid, title, _figure(method, m, rows), sentence(method, m.label, rows))
        )
        nav.append(f'<li><a href="#fig-{esc(fid)}">{esc(title)}</a></li>')
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    html = page(
        f"Panopticon sensitivity: {spec['scenario']}",
        f"{method}, {spec['runs']:,} runs, written {when}.",
        [],
        before=before,
        after="".join(sections),
    )
    return html.replace("<nav><ul></ul></nav>", f"<nav><ul>{''.join(nav)}</ul></nav>", 1)


def write_report(
    path: Path, analysis: Analysis, metrics: list[Metric], spec: dict[str, Any]
) -> Path:
    """Write report.html atomically; its path."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(report_html(analysis, metrics, spec), "utf-8")
    os.replace(tmp, path)
    return path
