"""Draw report figures with Plotly, for the interactive HTML page."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from panopticon.report.model import NEUTRAL, Figure, Sankey, Series

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


def _sankey(sk: Sankey) -> go.Sankey:
    """Plotly's Sankey, nodes aligned left so that leaks stay in their stage's column."""
    return go.Sankey(
        arrangement="snap",
        valueformat=",.0f",
        node={
            "label": sk.labels,
            "align": "left",
            "color": sk.node_colors,
            "pad": 18,
            "thickness": 14,
        },
        link={
            "source": sk.sources,
            "target": sk.targets,
            "value": sk.values,
            "color": [_rgba(c, 0.45) for c in sk.colors],
        },
    )


def to_plotly(f: Figure) -> go.Figure:
    """A Plotly figure showing `f`."""
    fig = go.Figure()
    if f.kind == "sankey" and f.sankey is not None:
        fig.add_trace(_sankey(f.sankey))
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
    if f.kind == "sankey":
        layout["margin"] = {"l": 10, "r": 10, "t": 20, "b": 20}
        layout["height"] = 520
    fig.update_layout(**layout)
    if f.hline is not None:
        fig.add_hline(y=f.hline, line_dash="dash", line_color="#555")
    if f.vline is not None:
        fig.add_vline(x=f.vline, line_dash="dash", line_color="#555")
    return fig
