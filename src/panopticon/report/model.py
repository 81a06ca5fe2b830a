"""What a figure shows, independent of how it is drawn.

Each figure of a report is built once as plain data (a :class:`Figure`) and drawn twice:
by Plotly for the interactive HTML page and by Matplotlib for the PNG files. Keeping the
data apart from the drawing means the two always show the same numbers, and that a
figure whose data a run lacks is simply never built (left out, not drawn empty).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Kind = Literal["lines", "area", "bars", "hist", "sankey", "heatmap"]

CORRECT = "#4c78a8"
WRONGFUL = "#e45756"
NEUTRAL = "#bab0ac"
PALETTE = (
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#b279a2",
    "#72b7b2",
    "#eeca3b",
    "#9d755d",
    "#ff9da6",
    "#79706e",
    "#e45756",
)


@dataclass
class Series:
    """One line, band, bar set or histogram of a figure.

    For ``hist`` figures ``x`` holds the bin edges (one more than ``y``); for ``bars``
    ``x`` holds category labels. ``lo``/``hi`` give an optional confidence band (lines)
    or error bars (bars).
    """

    name: str
    x: np.ndarray | list[object]
    y: np.ndarray
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    color: str | None = None
    dash: bool = False
    hover: str = ""
    right: bool = False  # drawn against a second y axis on the right


@dataclass
class Sankey:
    """A flow diagram: nodes placed in columns, links between them with values."""

    labels: list[str]
    column: list[int]
    sources: list[int]
    targets: list[int]
    values: list[float]
    colors: list[str]
    node_colors: list[str]


@dataclass
class Heatmap:
    """A matrix of values: ``z[row, col]`` over ``x`` (columns) and ``y`` (rows)."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    colorbar: str = ""


@dataclass
class Figure:
    """One figure of a report: its id, title, kind, data, axis labels and a caption."""

    id: str
    title: str
    kind: Kind
    series: list[Series] = field(default_factory=list)
    xlabel: str = ""
    ylabel: str = ""
    y2label: str = ""
    caption: str = ""
    sankey: Sankey | None = None
    heatmap: Heatmap | None = None
    log_y: bool = False
    hline: float | None = None
    vline: float | None = None
    y_percent: bool = False


@dataclass
class LeftOut:
    """A figure not drawn because the runs lack what it needs, and why."""

    title: str
    reason: str
