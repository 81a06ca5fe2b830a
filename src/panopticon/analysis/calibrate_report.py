"""fit.html: each calibration target's trajectory for the best parameters, beside the data.

One figure per (column, kind, national) among the targets: the simulated column over
time (cumulative where the targets are), the mean over the fit's replicate seeds as a
line and their range (lowest to highest replicate) as a band, and the published points
with error bars of +-sigma. A table lists every target: published value and sigma,
simulated mean and range, z. The page is self-contained (plotly.js inlined, the report's
own style), like every Panopticon report.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from panopticon import __version__
from panopticon.analysis.calibrate_targets import Target, trajectory
from panopticon.io.runs import RunResult
from panopticon.report.html import CSS, DRAW, NOTICE, esc, plotly_js, table
from panopticon.report.model import CORRECT, WRONGFUL

if TYPE_CHECKING:
    from panopticon.analysis.calibrate import Calibration
    from panopticon.analysis.sweep import PlannedRun


def _num(x: float) -> str:
    """A figure for the table: thousands separators for large values, 4 digits otherwise."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def _groups(targets: list[Target]) -> dict[tuple[str, str, bool], list[Target]]:
    out: dict[tuple[str, str, bool], list[Target]] = {}
    for t in targets:
        out.setdefault((t.column, t.kind, t.national), []).append(t)
    return out


def _section(fig_id: str, title: str, fig: go.Figure, caption: str) -> str:
    """A figure section that the report's drawing script (DRAW) renders."""
    spec = pio.to_json(fig, validate=False, remove_uids=True)
    spec = spec.replace("</", "<\\/").replace("<!--", "<\\!--")
    return (
        f'<section class="figure" id="fig-{esc(fig_id)}" data-figure="{esc(fig_id)}">'
        f"<h2>{esc(title)}</h2>"
        f'<div class="plot" id="plot-{esc(fig_id)}"></div>'
        f'<p class="caption">{esc(caption)}</p>'
        f'<script type="application/json" id="data-{esc(fig_id)}">{spec}</script>'
        "</section>"
    )


def figure(
    key: tuple[str, str, bool],
    targets: list[Target],
    results: list[RunResult],
    decl: dict[str, Any],
) -> go.Figure:
    """The simulated trajectory (mean, replicate range) and the published points."""
    column, kind, national = key
    ys = np.array([trajectory(r, column, kind, national) for r in results])
    start = date.fromisoformat(str(results[0].timeseries["date"][0]))
    x = [(start + timedelta(days=d)).isoformat() for d in range(ys.shape[1])]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=x + x[::-1],
            y=np.concatenate([ys.max(axis=0), ys.min(axis=0)[::-1]]),
            fill="toself",
            mode="lines",
            fillcolor="rgba(76,120,168,0.2)",
            line={"width": 0},
            hoverinfo="skip",
            name=f"range over {len(results)} seeds",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x, y=ys.mean(axis=0), mode="lines", line={"color": CORRECT}, name="simulated mean"
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[t.date.isoformat() for t in targets],
            y=[t.value for t in targets],
            mode="markers",
            marker={"color": WRONGFUL, "size": 9},
            error_y={"type": "data", "array": [t.sigma for t in targets], "visible": True},
            text=[f"{t.name}: {t.source}" for t in targets],
            hovertemplate="%{x}: %{y:,.4g}<br>%{text}<extra></extra>",
            name="published (±sigma)",
        )
    )
    unit = decl.get("unit", "")
    what = "cumulative from the start" if kind == "cumulative" else "on the day"
    fig.update_layout(
        height=440,
        margin={"l": 60, "r": 20, "t": 20, "b": 50},
        xaxis_title="date",
        yaxis_title=f"{unit}, {what}" + (" (national)" if national else " (in the sample)"),
        legend={"orientation": "h", "y": -0.18},
        template="plotly_white",
    )
    return fig


def fit_html(
    cal: Calibration,
    number: int,
    value: float,
    params: dict[str, Any],
    n_trials: int,
    runs: list[PlannedRun],
    fit: dict[str, Any],
) -> str:
    """The whole fit report page."""
    results = [RunResult(r.path) for r in runs]
    decls = cal.columns
    pop, own = cal.trial_base.population.size, cal.base.population.size
    represents = cal.base.population.represents
    reps = np.array(fit["reps"])
    rows = []
    for i, t in enumerate(cal.targets):
        sigma = _num(t.sigma) + ("" if t.sigma_stated else " (15%)")
        rows.append(
            (
                t.name,
                t.column,
                t.kind,
                t.date.isoformat(),
                _num(t.value),
                sigma,
                _num(fit["sim"][i]),
                f"{_num(reps[:, i].min())} to {_num(reps[:, i].max())}",
                f"{fit['z'][i]:+.2f}",
                t.source,
            )
        )
    head = (
        "target",
        "column",
        "kind",
        "date",
        "published",
        "sigma",
        "simulated (mean)",
        "replicate range",
        "z",
        "source",
    )
    pop_text = f"Trials ran at {pop:,} citizens"
    if represents:
        pop_text += (
            f" standing for {represents:,.0f}: national targets compare with the sample's "
            f"values times {represents / pop:,.1f}"
        )
    pop_text += "."
    if pop != own:
        pop_text += (
            f" The scenario itself runs at {own:,}: it was calibrated at a smaller "
            "population, which changes the sampling noise, not (in expectation) the scaled "
            "figures."
        )
    free_rows = [
        (k, f"[{r.lo:g}, {r.hi:g}]" + (" log" if r.log else ""), f"{params[k]:.6g}", r.source)
        for k, r in cal.free.items()
    ]
    intro = (
        "<section><h2>Fit</h2>"
        f"<p>Best of {n_trials} trials: trial {number}, loss {value:.4g} (mean over "
        f"{len(cal.targets)} targets of huber(z), z = (mean simulated - published) / sigma; "
        "quadratic within 3 sigma). The best parameters were rerun with "
        f"{len(results)} replicate seeds ({cal.seed} to {cal.seed + len(results) - 1}); "
        f"the loss over those is {fit['loss']:.4g}. {esc(pop_text)}</p>"
        + table(("parameter", "range", "value", "source"), free_rows)
        + table(head, rows)
        + "</section>"
    )
    sections = []
    for k, (key, group) in enumerate(_groups(cal.targets).items()):
        column, kind, _ = key
        decl = decls.get(column, {})
        title = f"{decl.get('label') or column}: {column}" + (
            ", cumulative" if kind == "cumulative" else ""
        )
        caption = (
            f"Line: mean over {len(results)} replicate seeds of the best parameters; band: "
            "lowest to highest replicate. Points: published values with error bars of "
            "±sigma (sigma absent in the targets file: 15% of the value)."
        )
        sections.append(_section(f"target-{k}", title, figure(key, group, results, decl), caption))
    title = f"Panopticon calibration: {cal.base.name}"
    sub = f"targets {cal.targets_path.as_posix()}, {n_trials} trials, {cal.sampler} sampler"
    meta = json.dumps({"trials": n_trials, "best": number, "loss": value})
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<meta name='generator' content='panopticon {esc(__version__)}'>"
        f"<meta name='panopticon-calibration' content='{esc(meta)}'>"
        f"<title>{esc(title)}</title><style>{CSS}</style>"
        f"<script>{plotly_js()}</script></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{esc(sub)}</p><p>{esc(NOTICE)}</p></header>"
        f"<main>{intro}{''.join(sections)}</main>"
        f"<script>{DRAW}</script></body></html>\n"
    )
