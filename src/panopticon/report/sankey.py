"""Where the funnel's nodes, flows and labels go: one layout, drawn by Plotly and Matplotlib.

Plotly's own Sankey places labels itself: in the last column they are drawn on the left
of the nodes, into the labels of the column before ("scored 4,952,387" ran into "7,211
people with a record"), a flow of a few thousand beside millions is thinner than a pixel,
and the toolbar can sit on a node. So the report lays the diagram out here, in pixels:

- columns are spaced so that every label fits between its node and the next column;
- each flow is at least :data:`MIN_BAND` pixels thick, so a small wrongful flow shows;
- labels sit right of their node, moved apart vertically where nodes are close (with a
  leader line back to the node), and the height grows until they all fit;
- nothing is drawn in the top :data:`TOP` pixels (the toolbar's place).

Text widths are estimated from the character count with a generous average advance
(:data:`CHAR_EM` of the font size), so the boxes tested for overlap contain the text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from panopticon.report.model import Sankey

FONT_PX = 11.0
CHAR_EM = 0.66  # wider than the average advance of Helvetica or DejaVu Sans digits
LINE_EM = 1.3  # Plotly's line spacing
PAD = 3.0  # padding around a label's text (its background box)
BAR = 14.0  # node bar width
LABEL_GAP = 8.0  # bar to label
COLUMN_GAP = 24.0  # label to the next column's bar
MIN_LINK_SPAN = 60.0  # the least horizontal room a flow gets
MIN_BAND = 3.0  # the thinnest flow drawn, in pixels
NODE_GAP = 18.0
TOP = 44.0
BOTTOM = 16.0
LEFT = 10.0
RIGHT = 10.0


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels; y grows downwards."""

    x0: float
    y0: float
    x1: float
    y1: float

    def intersects(self, other: Box) -> bool:
        """Whether the two boxes overlap (touching edges do not count)."""
        return (
            self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1
        )

    @property
    def cy(self) -> float:
        """Vertical centre."""
        return (self.y0 + self.y1) / 2


@dataclass(frozen=True)
class Band:
    """One flow: from the right edge of its source to the left edge of its target."""

    x0: float
    top0: float
    x1: float
    top1: float
    thickness: float


@dataclass
class SankeyLayout:
    """Pixel positions of everything in a Sankey diagram of `width` x `height`."""

    width: float
    height: float
    nodes: list[Box]
    labels: list[Box]
    lines: list[list[str]]
    bands: list[Band]
    leaders: list[tuple[float, float, float, float] | None]


def text_lines(label: str) -> list[str]:
    """A node label's lines (Plotly's ``<br>`` separates them)."""
    return label.split("<br>")


def text_size(lines: list[str], font_px: float = FONT_PX) -> tuple[float, float]:
    """Width and height in pixels of a label box holding these lines (an upper bound)."""
    w = max((len(s) for s in lines), default=0) * CHAR_EM * font_px
    h = len(lines) * LINE_EM * font_px
    return w + 2 * PAD, h + 2 * PAD


def _spread(desired: list[float], heights: list[float], lo: float, hi: float) -> list[float]:
    """Tops of boxes in a column, as near their desired tops as no overlap allows."""
    order = sorted(range(len(desired)), key=lambda k: desired[k])
    tops = [0.0] * len(desired)
    y = lo
    for k in order:
        tops[k] = max(desired[k], y)
        y = tops[k] + heights[k] + 2.0
    y = hi
    for k in reversed(order):
        tops[k] = min(tops[k], y - heights[k])
        y = tops[k] - 2.0
    return tops


def layout(sk: Sankey, width: float = 1100.0, min_height: float = 520.0) -> SankeyLayout:
    """Lay out the diagram: node boxes, flow bands and label boxes, in pixels."""
    n = len(sk.labels)
    ncol = max(sk.column) + 1 if n else 1
    cols = [[k for k in range(n) if sk.column[k] == c] for c in range(ncol)]
    lines = [text_lines(s) for s in sk.labels]
    sizes = [text_size(ls) for ls in lines]

    # horizontal: each column as wide as its widest label needs, the rest spread out
    need = [
        BAR + LABEL_GAP + max((sizes[k][0] for k in nodes), default=0.0) + COLUMN_GAP
        for nodes in cols
    ]
    need = [max(w, BAR + MIN_LINK_SPAN) for w in need]
    natural = LEFT + sum(need) + RIGHT - COLUMN_GAP
    width = max(width, natural)
    extra = (width - natural) / max(ncol - 1, 1) if ncol > 1 else 0.0
    xs = [LEFT + sum(need[:c]) + extra * c for c in range(ncol)]

    # vertical: tall enough for every column's labels, then node heights from the values
    label_need = max(
        (sum(sizes[k][1] + 2.0 for k in nodes) for nodes in cols if nodes), default=0.0
    )
    height = max(min_height, TOP + label_need + BOTTOM + 8.0)
    avail = height - TOP - BOTTOM
    inflow, outflow = np.zeros(n), np.zeros(n)
    nlinks = np.zeros(n)
    for a, b, v in zip(sk.sources, sk.targets, sk.values, strict=True):
        outflow[a] += v
        inflow[b] += v
        nlinks[a] += 1
        nlinks[b] += 1
    size = np.maximum(inflow, outflow)
    scale = min(
        (
            (avail - NODE_GAP * (len(nodes) - 1) - MIN_BAND * float(nlinks[nodes].sum()))
            / max(float(size[nodes].sum()), 1e-12)
            for nodes in cols
            if nodes
        ),
        default=1.0,
    )
    scale = max(scale, 0.0)
    thick = [max(v * scale, MIN_BAND) for v in sk.values]
    t_in, t_out = np.zeros(n), np.zeros(n)
    for j, (a, b) in enumerate(zip(sk.sources, sk.targets, strict=True)):
        t_out[a] += thick[j]
        t_in[b] += thick[j]
    h = np.maximum(np.maximum(t_in, t_out), MIN_BAND)
    nodes_box: list[Box] = [Box(0, 0, 0, 0)] * n
    for c, nodes in enumerate(cols):
        used = float(h[nodes].sum()) + NODE_GAP * (len(nodes) - 1)
        y = TOP + max(avail - used, 0.0) / 2
        for k in nodes:
            nodes_box[k] = Box(xs[c], y, xs[c] + BAR, y + float(h[k]))
            y += float(h[k]) + NODE_GAP

    # flows: stacked on each node in the order of the other end's position
    m = len(sk.values)
    top0, top1 = [0.0] * m, [0.0] * m
    off = np.zeros(n)
    for j in sorted(range(m), key=lambda j: (sk.sources[j], nodes_box[sk.targets[j]].y0)):
        a = sk.sources[j]
        top0[j] = nodes_box[a].y0 + off[a]
        off[a] += thick[j]
    off = np.zeros(n)
    for j in sorted(range(m), key=lambda j: (sk.targets[j], nodes_box[sk.sources[j]].y0)):
        b = sk.targets[j]
        top1[j] = nodes_box[b].y0 + off[b]
        off[b] += thick[j]
    bands = [
        Band(nodes_box[a].x1, top0[j], nodes_box[b].x0, top1[j], thick[j])
        for j, (a, b) in enumerate(zip(sk.sources, sk.targets, strict=True))
    ]

    # labels: right of the node, centred on it, spread apart where they would overlap
    labels: list[Box] = [Box(0, 0, 0, 0)] * n
    leaders: list[tuple[float, float, float, float] | None] = [None] * n
    for nodes in cols:
        hs = [sizes[k][1] for k in nodes]
        desired = [nodes_box[k].cy - sizes[k][1] / 2 for k in nodes]
        tops = _spread(desired, hs, TOP, height - BOTTOM)
        for k, t in zip(nodes, tops, strict=True):
            x0 = nodes_box[k].x1 + LABEL_GAP
            labels[k] = Box(x0, t, x0 + sizes[k][0], t + sizes[k][1])
            if abs(labels[k].cy - nodes_box[k].cy) > max(
                (nodes_box[k].y1 - nodes_box[k].y0) / 2, 3
            ):
                leaders[k] = (nodes_box[k].x1, nodes_box[k].cy, x0, labels[k].cy)
    return SankeyLayout(width, height, nodes_box, labels, lines, bands, leaders)


def band_path(b: Band) -> list[tuple[float, float]]:
    """The outline of a flow band as cubic Bézier control points (closed, 10 points)."""
    xm = (b.x0 + b.x1) / 2
    t = b.thickness
    return [
        (b.x0, b.top0),
        (xm, b.top0),
        (xm, b.top1),
        (b.x1, b.top1),
        (b.x1, b.top1 + t),
        (xm, b.top1 + t),
        (xm, b.top0 + t),
        (b.x0, b.top0 + t),
        (b.x0, b.top0),
    ]
