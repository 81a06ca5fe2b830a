"""The text summary `panopticon run` prints: the funnel, then the run's headline columns.

The funnel (acts committed, seen, recorded, sanctioned) is the minimal model's and every
run has it. The rows after it come from the columns the run's modules declared
``headline`` (``manifest["outputs"]["timeseries"]``), with their labels and units; a
column labelled "<label> wrongly" goes on its partner's row. A run folder written
before the manifest described its outputs shows the funnel only.

A sampled nation (``population.represents``) adds the national figure of every count
and its exact 95% interval (:mod:`panopticon.analysis.national`: binomial for people at
the end, Poisson for events over the run), flagging counts under 10 in the sample.
"""

from __future__ import annotations

import textwrap
from typing import Any

from panopticon.analysis import national
from panopticon.analysis.headline import declared_order
from panopticon.io.runs import RunResult

FUNNEL = frozenset(
    {
        "committed",
        "observed",
        "missed",
        "attributed_correct",
        "attributed_wrong",
        "sanctioned",
        "sanctioned_wrongly",
        "mean_score",
    }
)

# label, value in the sample, note, and the column whose declaration says how it scales
Row = tuple[str, float | None, str, str]

FOOTER_WIDTH = 80
"""The national footer's line width: fixed, so it never moves with the header's wall time."""


def _fmt(n: float) -> str:
    """Thousands separators for counts."""
    return f"{n:,.0f}"


def _funnel(m: dict[str, Any], t: dict[str, Any]) -> list[Row]:
    """The funnel rows every run has: acts, detections, records, sanctions."""
    n = m["population"]
    committed = max(t["committed"], 1)
    recorded = t["attributed_correct"] + t["attributed_wrong"]
    rows: list[Row] = [
        ("committed", t["committed"], "100.0% of acts", "committed"),
        (
            "seen by the system",
            t["observed"],
            f"{100 * t['observed'] / committed:.1f}% of acts",
            "observed",
        ),
        ("  missed by face id", t["missed"], "", "missed"),
        ("recorded", recorded, f"{100 * recorded / committed:.1f}% of acts", "attributed_correct"),
        ("  against the actor", t["attributed_correct"], "", "attributed_correct"),
        (
            "  against an innocent",
            t["attributed_wrong"],
            f"{100 * t['attributed_wrong'] / max(recorded, 1):.2f}% of records",
            "attributed_wrong",
        ),
    ]
    if "wrongful_remaining" in t:
        rows.append(
            ("  wrongful, left after appeals", t["wrongful_remaining"], "", "wrongful_remaining")
        )
    rows += [
        (
            "sanctioned at the end",
            t["sanctioned"],
            f"{100 * t['sanctioned'] / n:.2f}% of people",
            "sanctioned",
        ),
        (
            "  wrongly sanctioned",
            t["sanctioned_wrongly"],
            f"{100 * t['sanctioned_wrongly'] / max(t['sanctioned'], 1):.2f}% of sanctioned",
            "sanctioned_wrongly",
        ),
    ]
    return rows


def declared_rows(outputs: dict[str, Any], totals: dict[str, Any]) -> list[Row]:
    """One row per declared headline column outside the funnel, in the manifest's order.

    A column whose label is another's label plus " wrongly" is shown on that one's row
    ("N wrongly"); the unit follows the value otherwise.
    """
    heads = {
        name: d
        for name, d in declared_order(outputs.get("timeseries") or {})
        if d.get("headline") and name not in FUNNEL and name in totals
    }
    by_label = {d.get("label") or name: name for name, d in heads.items()}
    partner: dict[str, str] = {}
    for name, d in heads.items():
        label = d.get("label") or name
        if label.endswith(" wrongly") and label[: -len(" wrongly")] in by_label:
            partner[by_label[label[: -len(" wrongly")]]] = name
    shown_as_partner = set(partner.values())
    rows: list[Row] = []
    for name, d in heads.items():
        if name in shown_as_partner:
            continue
        unit = d.get("unit", "")
        note = f"{_fmt(totals[partner[name]])} wrongly" if name in partner else unit
        rows.append((d.get("label") or name, float(totals[name]), note, name))
    return rows


def _national_cells(rows: list[Row], m: dict[str, Any], scale: float) -> list[tuple[str, str, str]]:
    """Per row: the national figure, its 95% interval and the few-in-the-sample flag."""
    out = []
    for _, v, _, col in rows:
        f = None
        if v is not None:
            decl = national.column_decl(col, m)
            f = national.for_column(v, decl, scale, int(m["population"]))
        if f is None:
            out.append(("", "", ""))
        else:
            out.append(
                (
                    national.fmt_count(f.value),
                    national.format_interval(f),
                    "very uncertain" if f.few else "",
                )
            )
    return out


def summary_table(result: RunResult) -> str:
    """The funnel, the declared headline columns and the mean score, as aligned text.

    When the simulated population stands for a larger nation (`population.represents`),
    more columns scale each count to the nation, with its exact 95% interval and a flag
    when the sample holds under 10; amounts and means are not scaled. A footer says how.
    """
    m, t = result.manifest, result.totals
    n = m["population"]
    scale = m.get("scale")
    rows = _funnel(m, t) + declared_rows(m.get("outputs") or {}, t)
    rows.append(("mean score at the end", None, f"{t['mean_score']:,.2f}", "mean_score"))
    w0 = max(len(r[0]) for r in rows)
    cells = [_fmt(v) if v is not None else "" for _, v, _, _ in rows]
    w1 = max(len(c) for c in cells)
    head = (
        f"{m['scenario']}: {n:,} citizens x {m['days']} days, seed {m['seed']}, "
        f"{m['wall_seconds']:.1f} s, peak memory {m['peak_memory_bytes'] / 2**20:,.0f} MiB"
    )
    lines = [head, "-" * len(head)]
    if scale:
        nat = _national_cells(rows, m, scale)
        h2, h3 = f"nation x{scale:,.0f}", "95% interval"
        w2 = max(len(h2), *(len(c[0]) for c in nat))
        w3 = max(len(h3), *(len(c[1]) for c in nat))
        w4 = max(len(c[2]) for c in nat)
        lines.append(f"{'':<{w0}}  {'sample':>{w1}}  {h2:>{w2}}  {h3:<{w3}}".rstrip())
        for (a, _, c, _), cell, (v2, v3, v4) in zip(rows, cells, nat, strict=True):
            line = f"{a:<{w0}}  {cell:>{w1}}  {v2:>{w2}}  {v3:<{w3}}"
            if w4:
                line += f"  {v4:<{w4}}"
            lines.append(f"{line}  {c}".rstrip())
        foot = national.derivation(scale, m["represents"], n)
        lines += textwrap.wrap(foot, FOOTER_WIDTH, break_on_hyphens=False)
    else:
        lines += [
            f"{a:<{w0}}  {cell:>{w1}}  {c}".rstrip()
            for (a, _, c, _), cell in zip(rows, cells, strict=True)
        ]
    lines.append(f"results in {result.path}")
    return "\n".join(lines)
