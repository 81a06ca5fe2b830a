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
from panopticon.report.sankey import FONT_PX, LEFT, PAD, band_path
from panopticon.report.sankey import layout as sankey_layout

DPI = 150


def _sankey(f: Figure, sk: Sankey) -> MplFigure:
    """The funnel from :func:`sankey.layout`, one layout pixel to 1/100 inch."""
    lay = sankey_layout(sk)
    fig = MplFigure(figsize=(lay.width / 100, lay.height / 100), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    codes = [MplPath.MOVETO, *[MplPath.CURVE4] * 3, MplPath.LINETO, *[MplPath.CURVE4] * 3]
    for b, color in zip(lay.bands, sk.colors, strict=True):
        verts = band_path(b)
        path = MplPath(verts, [*codes, MplPath.CLOSEPOLY])
        ax.add_patch(PathPatch(path, facecolor=color, alpha=0.5, lw=0))
    for box, color in zip(lay.nodes, sk.node_colors, strict=True):
        ax.add_patch(Rectangle((box.x0, box.y0), box.x1 - box.x0, box.y1 - box.y0, color=color))
    for lead in lay.leaders:
        if lead is not None:
            ax.plot([lead[0], lead[2]], [lead[1], lead[3]], color="#777", lw=0.6)
    for box, lines in zip(lay.labels, lay.lines, strict=True):
        ax.text(
            box.x0 + PAD,
            box.cy,
            "\n".join(lines),
            va="center",
            ha="left",
            fontsize=FONT_PX * 72 / 100,
            linespacing=1.1,
            bbox={"facecolor": "white", "alpha": 0.8, "lw": 0, "pad": 0.5},
        )
    ax.text(LEFT, 8, "\n".join(textwrap.wrap(f.title, 150)), va="top", ha="left", fontsize=9)
    ax.set_xlim(0, lay.width)
    ax.set_ylim(lay.height, 0)
    ax.axis("off")
    return fig


def draw(f: Figure) -> MplFigure:
    """A Matplotlib figure showing `f`."""
    if f.kind == "sankey" and f.sankey is not None:
        return _sankey(f, f.sankey)
    fig = MplFigure(figsize=(9, 5.2), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if f.kind == "heatmap" and f.heatmap is not None:
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
