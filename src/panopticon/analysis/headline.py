"""Headline metrics of a run: the numbers that `compare`, sweeps and reports line up.

Two kinds: the derived ones of :data:`METRICS` (shares, per-100,000 rates, person-days),
computed from what every run folder holds (the manifest's totals and the daily
timeseries), and every daily column a module declared ``headline`` (read from
``manifest["outputs"]["timeseries"]``, its total from ``manifest["totals"]``). A run
folder written before the manifest described its outputs has the derived ones only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from panopticon.io.runs import RunResult


def declared_order(columns: dict[str, Any]) -> list[tuple[str, Any]]:
    """Declared columns in the run's column order (the manifest's keys are sorted)."""
    return sorted(columns.items(), key=lambda kv: kv[1].get("position", 0))


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
    Metric("wrongful_record_share", "share of violation records against an innocent", "share"),
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


def declared_metrics(result: RunResult) -> list[Metric]:
    """The run's declared headline columns not among :data:`METRICS`, in the manifest's order.

    Labels come from the declaration; a float column prints with decimals.
    """
    outputs = result.manifest.get("outputs") or {}
    out = []
    for name, decl in declared_order(outputs.get("timeseries") or {}):
        if decl.get("headline") and name not in METRIC_BY_KEY:
            fmt = "score" if str(decl.get("dtype", "")).startswith("float") else "count"
            out.append(Metric(name, decl.get("label") or name, fmt))
    return out


def metrics(results: RunResult | Iterable[RunResult]) -> list[Metric]:
    """The headline metrics of one run or several: :data:`METRICS`, then every declared one.

    Over several runs, a declared metric appears once, at its first run's place.
    """
    runs = [results] if isinstance(results, RunResult) else list(results)
    seen = dict(METRIC_BY_KEY)
    for r in runs:
        for m in declared_metrics(r):
            seen.setdefault(m.key, m)
    return list(seen.values())


def _wrongful_share(t: dict[str, Any], records: float) -> float:
    """Wrongful records per record of a violation (of any act when the catalog has one kind).

    Rewards credited to the wrong person and records of lawful acts have their own
    columns: mixing them in would dilute the share of violation records against an
    innocent (the science review found 0.17% for all acts against 0.46% for violations).
    """
    if "records_violations" in t:
        v = float(t["records_violations"])
        return float(t["records_violations_wrong"]) / v if v else 0.0
    return float(t["attributed_wrong"]) / records if records else 0.0


def headline(result: RunResult) -> dict[str, float]:
    """The headline metrics of one complete run: :data:`METRICS` and its declared ones."""
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
        "wrongful_record_share": _wrongful_share(t, records),
        "sanctioned": sanctioned,
        "sanctioned_wrongly": wrongly,
        "wrongful_sanction_share": wrongly / sanctioned if sanctioned else 0.0,
        "sanctioned_per_100k": 1e5 * sanctioned / n,
        "sanctioned_wrongly_per_100k": 1e5 * wrongly / n,
        "wrongly_sanctioned_person_days": person_days,
        "mean_score": float(t["mean_score"]),
        "wall_seconds": float(m.get("wall_seconds", 0.0)),
        **{d.key: float(t.get(d.key, math.nan)) for d in declared_metrics(result)},
    }


def format_value(key: str, value: float, fmt: str | None = None) -> str:
    """A headline value as people read it (thousands separators, percentages).

    `fmt` overrides the format of :data:`METRICS` (for a declared metric's own).
    """
    if fmt is None:
        fmt = METRIC_BY_KEY[key].fmt if key in METRIC_BY_KEY else "count"
    if value != value:  # NaN: the run has no such metric
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


def format_diff(key: str, diff: float, fmt: str | None = None) -> str:
    """A signed difference of two headline values, in the metric's own units."""
    if fmt is None:
        fmt = METRIC_BY_KEY[key].fmt if key in METRIC_BY_KEY else "count"
    if diff != diff:
        return "n/a"
    if fmt == "share":
        return f"{100 * diff:+.2f} pp"
    if fmt in ("rate", "score", "seconds"):
        return f"{diff:+,.2f}"
    return f"{diff:+,.0f}"


def relative(a: float, b: float) -> str:
    """(b - a) / a as a percentage, or '' when a is 0 (and when either is missing)."""
    if a != a or b != b:
        return ""
    if a == 0:
        return "" if b == 0 else "new"
    return f"{100 * (b - a) / abs(a):+.1f}%"
