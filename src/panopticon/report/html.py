"""Assemble one self-contained HTML page: Plotly's script, the data and the tables inlined.

The page loads nothing from anywhere: it opens offline, from a USB stick, in any current
browser. Each figure is a ``<section class="figure">`` holding a ``div.plot`` and its
data as JSON; one script at the end draws them all.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

import plotly.io as pio
import plotly.offline

from panopticon import __version__
from panopticon.report.model import Figure, LeftOut
from panopticon.report.plotly_render import to_plotly

NOTICE = (
    "Every citizen in this report is synthetic: Panopticon simulates a social credit "
    "system over a made-up population. No real person is scored or identified."
)

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 margin:0;color:#222;background:#fafafa}
main{max-width:1150px;margin:0 auto;padding:0 24px 48px}
header{background:#1f2937;color:#f9fafb;padding:20px 24px}
header h1{margin:0 auto;max-width:1150px;font-size:1.5em}
header p{margin:6px auto 0;max-width:1150px;color:#d1d5db;font-size:.92em}
h2{font-size:1.15em;margin:0 0 8px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:16px 18px;
 margin:18px 0}
.caption{color:#4b5563;font-size:.9em;margin:8px 0 0;line-height:1.4}
table{border-collapse:collapse;font-size:.9em;margin:6px 0 12px}
th,td{border-bottom:1px solid #e5e7eb;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f3f4f6}
tr.differs td{font-weight:600;background:#fff7ed}
nav ul{columns:2;margin:4px 0;padding-left:20px;font-size:.9em}
details summary{cursor:pointer;color:#374151;margin:6px 0}
.plot{width:100%;min-height:300px;overflow-x:auto}
.wrong{color:#b91c1c}
"""

DRAW = """
(function(){
  var cfg={displaylogo:false,responsive:true,
    toImageButtonOptions:{format:"png",scale:2}};
  document.querySelectorAll("section.figure").forEach(function(sec){
    var id=sec.getAttribute("data-figure");
    var spec=JSON.parse(document.getElementById("data-"+id).textContent);
    var c=Object.assign({},cfg,{toImageButtonOptions:
      Object.assign({},cfg.toImageButtonOptions,{filename:id})});
    Plotly.newPlot(document.getElementById("plot-"+id),spec.data,spec.layout,c);
  });
})();
"""


@cache
def plotly_js() -> str:
    """The whole plotly.js bundle shipped with the Python package (inlined once)."""
    return plotly.offline.get_plotlyjs()


def esc(text: object) -> str:
    """HTML-escape any value's text."""
    return html.escape(str(text), quote=True)


def _json_for_script(data: str) -> str:
    """JSON safe inside a <script> element."""
    return data.replace("</", "<\\/").replace("<!--", "<\\!--")


def table(
    head: Sequence[str], rows: Iterable[Sequence[object]], differs: Iterable[bool] = ()
) -> str:
    """An HTML table; rows flagged in `differs` are highlighted."""
    flags = list(differs)
    out = ["<table><thead><tr>", *(f"<th>{esc(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for k, row in enumerate(rows):
        cls = ' class="differs"' if k < len(flags) and flags[k] else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def figure_section(f: Figure) -> str:
    """One figure: heading, plot container, caption and its data as JSON."""
    spec = pio.to_json(to_plotly(f), validate=False, remove_uids=True)
    return (
        f'<section class="figure" id="fig-{esc(f.id)}" data-figure="{esc(f.id)}">'
        f"<h2>{esc(f.title)}</h2>"
        f'<div class="plot" id="plot-{esc(f.id)}"></div>'
        f'<p class="caption">{esc(f.caption)}</p>'
        f'<script type="application/json" id="data-{esc(f.id)}">{_json_for_script(spec)}</script>'
        "</section>"
    )


def left_out_section(left: list[LeftOut]) -> str:
    """The figures not drawn, each with the reason."""
    if not left:
        return ""
    items = "".join(f"<li><b>{esc(x.title)}</b>: {esc(x.reason)}.</li>" for x in left)
    return (
        '<section id="left-out"><h2>Figures left out</h2>'
        "<p class='caption'>Left out, not drawn empty, because the runs lack what they "
        f"need:</p><ul>{items}</ul></section>"
    )


def page(
    title: str,
    subtitle: str,
    figures: list[Figure],
    before: str = "",
    after: str = "",
    left: list[LeftOut] | None = None,
) -> str:
    """The whole self-contained HTML document."""
    nav = "".join(f'<li><a href="#fig-{esc(f.id)}">{esc(f.title)}</a></li>' for f in figures)
    body = "".join(figure_section(f) for f in figures)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<meta name='generator' content='panopticon {esc(__version__)}'>"
        f"<meta name='panopticon-figures' content='{len(figures)}'>"
        f"<title>{esc(title)}</title><style>{CSS}</style>"
        f"<script>{plotly_js()}</script></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p><p>{esc(NOTICE)}</p></header>"
        f"<main>{before}"
        f"<section id='contents'><h2>Figures</h2><nav><ul>{nav}</ul></nav></section>"
        f"{body}{left_out_section(left or [])}{after}</main>"
        f"<script>{DRAW}</script></body></html>\n"
    )


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables as dotted keys (``surveillance.faceid.p_wrong``)."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def show(v: object) -> str:
    """A scenario value as TOML-ish text."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10_000 else str(v)
    return json.dumps(v) if not isinstance(v, str) else v
