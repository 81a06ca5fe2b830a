"""Draw report figures with Matplotlib (Agg), for PNG files that need no browser."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.ticker import FuncFormatter, PercentFormatter

from panopticon.report.model import Figure, Sankey

DPI = 150


def _sankey(ax: object, sk: Sankey) -> None:
    """An alluvial diagram: nodes as bars in columns, links as curved bands."""
    n = len(sk.labels)
    inflow, outflow = np.zeros(n), np.zeros(n)
    for a, b, v in zip(sk.sources, sk.targets, sk.values, strict=True):
        outflow[a] += v
        inflow[b] += v
    size = np.maximum(inflow, outflow)
    ncol = max(sk.column) + 1
    cols = [[k for k in range(n) if sk.column[k] == c] for c in range(ncol)]
    gap = 0.06
    scale = min(
        (1 - gap * (len(nodes) - 1)) / max(sum(size[k] for k in nodes), 1e-12)
        for nodes in cols
        if nodes
    )
    width = 0.012
    xs = [0.02 + 0.74 * c / max(ncol - 1, 1) for c in range(ncol)]
    top = np.zeros(n)
    for c, nodes in enumerate(cols):
        used = sum(size[k] for k in nodes) * scale + gap * (len(nodes) - 1)
        y = 1 - (1 - used) / 2
        for k in nodes:
            top[k] = y
            h = size[k] * scale
            ax.add_patch(Rectangle((xs[c], y - h), width, max(h, 0.002), color=sk.node_colors[k]))
            ax.text(
                xs[c] + width + 0.006,
                y - h / 2,
                sk.labels[k].replace("<br>", "\n"),
                va="center",
                ha="left",
                fontsize=7,
            )
            y -= h + gap
    links = list(zip(sk.sources, sk.targets, sk.values, sk.colors, strict=True))
    y_out, y_in = [0.0] * len(links), [0.0] * len(links)
    off = np.zeros(n)
    for j in sorted(range(len(links)), key=lambda j: (links[j][0], -top[links[j][1]])):
        a = links[j][0]
        y_out[j] = top[a] - off[a]
        off[a] += links[j][2] * scale
    off = np.zeros(n)
    for j in sorted(range(len(links)), key=lambda j: (links[j][1], -top[links[j][0]])):
        b = links[j][1]
        y_in[j] = top[b] - off[b]
        off[b] += links[j][2] * scale
    for j, (a, b, v, color) in enumerate(links):
        t = v * scale
        x0, x1 = xs[sk.column[a]] + width, xs[sk.column[b]]
        y0, y1 = y_out[j], y_in[j]
        xm = (x0 + x1) / 2
        verts = [
            (x0, y0),
            (xm, y0),
            (xm, y1),
            (x1, y1),
            (x1, y1 - t),
            (xm, y1 - t),
            (xm, y0 - t),
            (x0, y0 - t),
            (x0, y0),
        ]
        codes = [
            MplPath.MOVETO,
            MplPath.CURVE4,
            MplPath.CURVE4,
            MplPath.CURVE4,
            MplPath.LINETO,
            MplPath.CURVE4,
            MplPath.CURVE4,
            MplPath.CURVE4,
            MplPath.CLOSEPOLY,
        ]
        ax.add_patch(PathPatch(MplPath(verts, codes), facecolor=color, alpha=0.5, lw=0))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")


def draw(f: Figure) -> MplFigure:
    """A Matplotlib figure showing `f`."""
    fig = MplFigure(figsize=(9, 5.2 if f.kind != "sankey" else 5.8), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if f.kind == "sankey" and f.sankey is not None:
        _sankey(ax, f.sankey)
    elif f.kind == "heatmap" and f.heatmap is not None:
        h = f.heatmap
        mesh = ax.pcolormesh(h.x, h.y, np.ma.masked_invalid(h.z), shading="nearest", cmap="viridis")
        fig.colorbar(mesh, ax=ax, label=h.colorbar)
    elif f.kind == "bars":
        cats = [str(v) for v in f.series[0].x] if f.series else []
        k = max(len(f.series), 1)
        w = 0.8 / k
        pos = np.arange(len(cats))
        for j, s in enumerate(f.series):
            err = None
            if s.lo is not None and s.hi is not None:
                err = np.vstack([s.y - s.lo, s.hi - s.y])
            ax.bar(
                pos + (j - (k - 1) / 2) * w,
                np.nan_to_num(s.y),
                w,
                label=s.name,
                color=s.color,
                yerr=err,
                capsize=3,
            )
        ax.set_xticks(pos, cats, rotation=20 if len(cats) > 6 else 0)
    elif f.kind == "area":
        x = np.asarray(f.series[0].x) if f.series else np.array([])
        ax.stackplot(
            x,
            *[s.y for s in f.series],
            labels=[s.name for s in f.series],
            colors=[s.color for s in f.series],
        )
    else:
        ax2 = ax.twinx() if any(s.right for s in f.series) else None
        for s in f.series:
            style = "--" if s.dash else "-"
            x = np.asarray(s.x)
            target = ax2 if (s.right and ax2 is not None) else ax
            if f.kind == "hist":
                if s.dash:
                    ax.stairs(s.y, x.astype(float), label=s.name, color="#333", lw=1.2)
                else:
                    ax.stairs(
                        s.y, x.astype(float), label=s.name, color=s.color, fill=True, alpha=0.8
                    )
                continue
            numeric = x.dtype.kind in "iuf"
            xs = x if numeric else np.arange(x.size)
            if s.lo is not None and s.hi is not None:
                if numeric:
                    target.fill_between(xs, s.lo, s.hi, color=s.color, alpha=0.2, lw=0)
                else:
                    target.errorbar(
                        xs,
                        s.y,
                        yerr=[s.y - s.lo, s.hi - s.y],
                        fmt="none",
                        ecolor=s.color,
                        capsize=3,
                    )
            target.plot(
                xs,
                s.y,
                style,
                label=s.name,
                color=s.color,
                marker="o" if x.size <= 30 else None,
                ms=3,
            )
            if not numeric:
                ax.set_xticks(xs, [str(v) for v in x])
        if ax2 is not None:
            ax2.set_ylabel(f.y2label, color="#b91c1c")
            ax2.set_ylim(bottom=0)
            ax.set_ylim(bottom=0)
            h1, l1 = ax.get_legend_handles_labels()
            h2, l2 = ax2.get_legend_handles_labels()
            ax.legend(h1 + h2, l1 + l2, fontsize=7, frameon=False)
    if f.kind != "sankey":
        ax.set_xlabel(f.xlabel)
        ax.set_ylabel(f.ylabel)
        ax.grid(alpha=0.3)
        if f.log_y and any(
            (np.nan_to_num(np.asarray(s.y, dtype=float)) > 0).any() for s in f.series
        ):
            ax.set_yscale("log")
        if f.y_percent:
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        elif not f.log_y:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.6g}"))
        if f.hline is not None:
            ax.axhline(f.hline, color="#555", ls="--", lw=1)
        if f.vline is not None:
            ax.axvline(f.vline, color="#555", ls="--", lw=1)
        if f.series and f.kind != "heatmap" and not any(s.right for s in f.series):
            ax.legend(fontsize=7, frameon=False)
    ax.set_title("\n".join(textwrap.wrap(f.title, 90)), fontsize=10)
    fig.tight_layout()
    return fig


def write_png(f: Figure, path: Path) -> Path:
    """Write `f` as a PNG file; returns the path."""
    draw(f).savefig(path, dpi=DPI)
    return path
