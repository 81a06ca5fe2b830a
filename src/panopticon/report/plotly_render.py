"""Draw report figures with Plotly, for the interactive HTML page."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from panopticon.report.model import NEUTRAL, Figure, Sankey, Series
from panopticon.report.sankey import BAR, FONT_PX, SankeyLayout, band_path
from panopticon.report.sankey import layout as sankey_layout

HEIGHT = 470


def _rgba(color: str, alpha: float) -> str:
    """'#rrggbb' with an alpha, as Plotly's rgba()."""
    c = color.lstrip("#")
    r, g, b = (int(c[k : k + 2], 16) for k in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _line(s: Series, fig: go.Figure) -> None:
    """A line, with its confidence band under it when it has one."""
    x = np.asarray(s.x)
    numeric = x.dtype.kind in "iuf"
    if s.lo is not None and s.hi is not None and numeric:
        fig.add_trace(
            go.Scatter(
                x=np.concatenate([x, x[::-1]]),
                y=np.concatenate([s.hi, s.lo[::-1]]),
                fill="toself",
                mode="lines",
                fillcolor=_rgba(s.color or "#4c78a8", 0.18),
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                legendgroup=s.name,
                name=s.name + " 95% CI",
            )
        )
    err = None
    if s.lo is not None and s.hi is not None and not numeric:
        err = {"type": "data", "symmetric": False, "array": s.hi - s.y, "arrayminus": s.y - s.lo}
    fig.add_trace(
        go.Scatter(
            x=x if numeric else [str(v) for v in x],
            y=s.y,
            name=s.name,
            mode="lines+markers" if x.size <= 30 else "lines",
            line={"color": s.color, "dash": "dash" if s.dash else "solid"},
            legendgroup=s.name,
            error_y=err,
            yaxis="y2" if s.right else "y",
        )
    )


def _sankey(sk: Sankey, fig: go.Figure) -> SankeyLayout:
    """The funnel drawn from :func:`sankey.layout` (Plotly's own Sankey overlaps labels).

    Bands and bars are shapes, labels annotations, hover points sit on nodes and flows.
    """
    lay = sankey_layout(sk)
    shapes: list[dict[str, Any]] = []
    for b, color in zip(lay.bands, sk.colors, strict=True):
        p = band_path(b)
        path = (
            f"M {p[0][0]},{p[0][1]} C {p[1][0]},{p[1][1]} {p[2][0]},{p[2][1]} {p[3][0]},{p[3][1]} "
            f"L {p[4][0]},{p[4][1]} C {p[5][0]},{p[5][1]} {p[6][0]},{p[6][1]} {p[7][0]},{p[7][1]} Z"
        )
        shapes.append(
            {"type": "path", "path": path, "fillcolor": _rgba(color, 0.5), "line": {"width": 0}}
        )
    for box, color in zip(lay.nodes, sk.node_colors, strict=True):
        shapes.append(
            {
                "type": "rect",
                "x0": box.x0,
                "x1": box.x1,
                "y0": box.y0,
                "y1": box.y1,
                "fillcolor": color,
                "line": {"width": 0},
            }
        )
    for lead in lay.leaders:
        if lead is not None:
            x0, y0, x1, y1 = lead
            shapes.append(
                {
                    "type": "line",
                    "x0": x0,
                    "y0": y0,
                    "x1": x1,
                    "y1": y1,
                    "line": {"width": 0.8, "color": "#777"},
                }
            )
    annotations = [
        {
            "x": box.x0,
            "y": box.cy,
            "xref": "x",
            "yref": "y",
            "xanchor": "left",
            "yanchor": "middle",
            "align": "left",
            "text": "<br>".join(lines),
            "showarrow": False,
            "font": {"size": FONT_PX, "color": "#222"},
            "bgcolor": "rgba(255,255,255,0.8)",
            "borderpad": 1,
        }
        for box, lines in zip(lay.labels, lay.lines, strict=True)
    ]
    fig.add_trace(
        go.Scatter(
            x=[b.x0 + BAR / 2 for b in lay.nodes],
            y=[b.cy for b in lay.nodes],
            mode="markers",
            marker={"size": 12, "opacity": 0},
            hovertext=[" ".join(ls) for ls in lay.lines],
            hoverinfo="text",
            showlegend=False,
        )
    )
    names = [" ".join(ls[:1]) for ls in lay.lines]
    fig.add_trace(
        go.Scatter(
            x=[(b.x0 + b.x1) / 2 for b in lay.bands],
            y=[(b.top0 + b.top1 + b.thickness) / 2 for b in lay.bands],
            mode="markers",
            marker={"size": 8, "opacity": 0},
            hovertext=[
                f"{names[a]} → {names[t]}: {v:,.0f}"
                for a, t, v in zip(sk.sources, sk.targets, sk.values, strict=True)
            ],
            hoverinfo="text",
            showlegend=False,
        )
    )
    fig.update_layout(shapes=shapes, annotations=annotations)
    return lay


def to_plotly(f: Figure) -> go.Figure:
    """A Plotly figure showing `f`."""
    fig = go.Figure()
    lay: SankeyLayout | None = None
    if f.kind == "sankey" and f.sankey is not None:
        lay = _sankey(f.sankey, fig)
    elif f.kind == "heatmap" and f.heatmap is not None:
        h = f.heatmap
        fig.add_trace(
            go.Heatmap(
                x=h.x, y=h.y, z=h.z, colorscale="Viridis", colorbar={"title": {"text": h.colorbar}}
            )
        )
    else:
        for s in f.series:
            if f.kind == "lines":
                _line(s, fig)
            elif f.kind == "area":
                fig.add_trace(
                    go.Scatter(
                        x=s.x,
                        y=s.y,
                        name=s.name,
                        stackgroup="one",
                        mode="lines",
                        line={"color": s.color, "width": 0.5},
                    )
                )
            elif f.kind == "bars":
                err = None
                if s.lo is not None and s.hi is not None:
                    err = {
                        "type": "data",
                        "symmetric": False,
                        "array": s.hi - s.y,
                        "arrayminus": s.y - s.lo,
                    }
                fig.add_trace(
                    go.Bar(
                        x=[str(v) for v in s.x],
                        y=s.y,
                        name=s.name,
                        marker_color=s.color,
                        error_y=err,
                    )
                )
            elif f.kind == "hist":
                edges = np.asarray(s.x, dtype=float)
                if s.dash:
                    fig.add_trace(
                        go.Scatter(
                            x=edges,
                            y=np.append(s.y, s.y[-1] if s.y.size else 0.0),
                            name=s.name,
                            mode="lines",
                            line={
                                "shape": "hv",
                                "color": "#333" if s.color == NEUTRAL else s.color,
                                "width": 1.5,
                            },
                        )
                    )
                    continue
                fig.add_trace(
                    go.Bar(
                        x=(edges[:-1] + edges[1:]) / 2,
                        y=s.y,
                        width=np.diff(edges),
                        name=s.name,
                        marker={"color": s.color, "line": {"width": 0}},
                        opacity=0.8,
                    )
                )
    layout: dict[str, Any] = {
        "template": "plotly_white",
        "height": HEIGHT,
        "margin": {"l": 70, "r": 30, "t": 30, "b": 60},
        "xaxis": {"title": {"text": f.xlabel}},
        "yaxis": {"title": {"text": f.ylabel}},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0.0},
        "hovermode": "x unified" if f.kind in ("lines", "area", "hist") else "closest",
    }
    if f.kind == "bars":
        layout["barmode"] = "group"
    if f.kind == "hist":
        layout["barmode"] = "overlay"
        layout["bargap"] = 0
    if f.y2label:
        layout["yaxis2"] = {
            "title": {"text": f.y2label, "font": {"color": "#b91c1c"}},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
            "tickmode": "auto",
            "nticks": 8,
        }
        layout["yaxis"]["rangemode"] = "tozero"
        layout["margin"]["r"] = 70
    if f.log_y:
        layout["yaxis"]["type"] = "log"
    if f.y_percent:
        layout["yaxis"]["tickformat"] = ".0%"
    if lay is not None:
        hidden = {"visible": False, "fixedrange": True}
        layout.update(
            margin={"l": 0, "r": 0, "t": 0, "b": 0},
            width=lay.width,
            height=lay.height,
            autosize=False,
            xaxis={**hidden, "range": [0, lay.width]},
            yaxis={**hidden, "range": [lay.height, 0]},
            hovermode="closest",
            showlegend=False,
        )
    fig.update_layout(**layout)
    if f.hline is not None:
        fig.add_hline(y=f.hline, line_dash="dash", line_color="#555")
    if f.vline is not None:
        fig.add_vline(x=f.vline, line_dash="dash", line_color="#555")
    return fig
