"""Headline metrics of a run: the numbers that `compare`, sweeps and reports line up.

Every headline is derived from what the run folder holds (the manifest's totals and the
daily timeseries), so a folder written by any engine version that writes those gives
the same numbers. Per-100,000 rates make runs of different sizes comparable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from panopticon.io.runs import RunResult


@dataclass(frozen=True)
class Metric:
    """A headline metric: its key, a label for people, and how to print it."""

    key: str
    label: str
    fmt: str = "count"  # count | share | rate | score | seconds
    model: bool = True  # False: about the computer, not the system modelled


METRICS: tuple[Metric, ...] = (
    Metric("committed", "acts committed"),
    Metric("observed", "acts detected (by a camera or other channel)"),
    Metric("records", "records made"),
    Metric("records_wrong", "records against an innocent"),
    Metric("wrongful_record_share", "share of records against an innocent", "share"),
    Metric("sanctioned", "sanctioned at the end"),
    Metric("sanctioned_wrongly", "wrongly sanctioned at the end"),
    Metric("wrongful_sanction_share", "share of the sanctioned who are wrongly so", "share"),
    Metric("sanctioned_per_100k", "sanctioned per 100,000 citizens", "rate"),
    Metric("sanctioned_wrongly_per_100k", "wrongly sanctioned per 100,000 citizens", "rate"),
    Metric("wrongly_sanctioned_person_days", "person-days wrongly sanctioned"),
    Metric("mean_score", "mean score at the end", "score"),
    Metric("wall_seconds", "runtime (s)", "seconds", model=False),
)
METRIC_BY_KEY = {m.key: m for m in METRICS}


def headline(result: RunResult) -> dict[str, float]:
    """The headline metrics of one complete run, keyed as in :data:`METRICS`."""
    t: dict[str, Any] = result.totals
    m = result.manifest
    n = max(int(m.get("population", 0)), 1)
    ts = result.timeseries
    records = float(t["attributed_correct"] + t["attributed_wrong"])
    sanctioned = float(t["sanctioned"])
    wrongly = float(t["sanctioned_wrongly"])
    person_days = float(ts["sanctioned_wrongly"].sum()) if "sanctioned_wrongly" in ts else 0.0
    return {
        "committed": float(t["committed"]),
        "observed": float(t["observed"]),
        "records": records,
        "records_wrong": float(t["attributed_wrong"]),
        "wrongful_record_share": float(t["attributed_wrong"]) / records if records else 0.0,
        "sanctioned": sanctioned,
        "sanctioned_wrongly": wrongly,
        "wrongful_sanction_share": wrongly / sanctioned if sanctioned else 0.0,
        "sanctioned_per_100k": 1e5 * sanctioned / n,
        "sanctioned_wrongly_per_100k": 1e5 * wrongly / n,
        "wrongly_sanctioned_person_days": person_days,
        "mean_score": float(t["mean_score"]),
        "wall_seconds": float(m.get("wall_seconds", 0.0)),
    }


def format_value(key: str, value: float) -> str:
    """A headline value as people read it (thousands separators, percentages)."""
    fmt = METRIC_BY_KEY[key].fmt if key in METRIC_BY_KEY else "count"
    if value != value:  # NaN
        return "n/a"
    if fmt == "share":
        return f"{100 * value:.2f}%"
    if fmt == "rate":
        return f"{value:,.1f}"
    if fmt == "score":
        return f"{value:,.2f}"
    if fmt == "seconds":
        return f"{value:,.2f}"
    return f"{value:,.0f}"


def format_diff(key: str, diff: float) -> str:
    """A signed difference of two headline values, in the metric's own units."""
    fmt = METRIC_BY_KEY[key].fmt if key in METRIC_BY_KEY else "count"
    if fmt == "share":
        return f"{100 * diff:+.2f} pp"
    if fmt in ("rate", "score", "seconds"):
        return f"{diff:+,.2f}"
    return f"{diff:+,.0f}"


def relative(a: float, b: float) -> str:
    """(b - a) / a as a percentage, or '' when a is 0."""
    if a == 0:
        return "" if b == 0 else "new"
    return f"{100 * (b - a) / abs(a):+.1f}%"
