"""National figures scaled from a sample, each with an exact 95% interval.

A scenario with ``population.represents`` simulates n citizens standing for a nation of
R people, and national figures are the sample's counts times ``scale = R / n``. A count
of 1 printed as "14,000" says nothing about how little one event tells, so every scaled
figure carries an interval, derived from the count k in the sample:

- **people at the end** (a stock such as "people sanctioned now", ``total = "last"``,
  unit ``people``): k of the n citizens, binomial(n, p); the exact Clopper-Pearson
  interval for p, times R (the same as the interval for k times the scale);
- **events over the run** (acts, records, attempts, exclusions: ``total = "sum"``):
  Poisson(mu); the exact Garwood interval for mu, times the scale. For k = 0 its upper
  bound is -ln(0.025) = 3.69 events, so a figure of 0 still allows 3.69 x scale.

Both intervals are exact (central, at least 95% coverage for every true value) and come
from ``scipy.stats`` chi-square and beta quantiles. They cover the sampling noise of
drawing n citizens and their events, not the model's assumptions. Events clustered in
the same people (one person's repeated acts) are over-dispersed against a Poisson, so for
them the interval is a lower bound on the uncertainty. Amounts (currency, means) are not
counts: they get no national figure. Counts under :data:`FEW` in the sample are flagged
as very uncertain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from scipy import stats

from panopticon.analysis.headline import headline, metrics
from panopticon.io.runs import RunResult

Method = Literal["poisson", "binomial"]

LEVEL = 0.95
FEW = 10  # counts below this in the sample are flagged

# the funnel's stocks of people, for run folders that do not declare their columns
PEOPLE_AT_END = {"total": "last", "unit": "people", "dtype": "int64"}
FUNNEL_PEOPLE = frozenset({"sanctioned", "sanctioned_wrongly"})
# headline metrics named apart from the column whose declaration says how they scale
HEADLINE_COLUMN = {"records": "attributed_correct", "records_wrong": "attributed_wrong"}
# headline counts that are not counts of people or events (a sum of daily stocks)
NOT_COUNTS = frozenset({"wrongly_sanctioned_person_days"})


def poisson_interval(k: float, level: float = LEVEL) -> tuple[float, float]:
    """The exact (Garwood) central interval for a Poisson mean, given a count k.

    Lower bound chi2(a/2; 2k) / 2 (0 when k = 0), upper chi2(1 - a/2; 2k + 2) / 2, with
    a = 1 - level.
    """
    if k < 0:
        raise ValueError(f"a count is never negative, got {k}")
    a = 1.0 - level
    lo = 0.0 if k == 0 else float(stats.chi2.ppf(a / 2, 2 * k)) / 2
    hi = float(stats.chi2.ppf(1 - a / 2, 2 * k + 2)) / 2
    return lo, hi


def binomial_interval(k: float, n: int, level: float = LEVEL) -> tuple[float, float]:
    """The exact (Clopper-Pearson) central interval for k of n, as counts (n x p).

    Lower bound n * Beta(a/2; k, n - k + 1) (0 when k = 0), upper n * Beta(1 - a/2;
    k + 1, n - k) (n when k = n), with a = 1 - level.
    """
    if not 0 <= k <= n:
        raise ValueError(f"a count of people must be within 0..{n}, got {k}")
    a = 1.0 - level
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return n * lo, n * hi


@dataclass(frozen=True)
class NationalFigure:
    """A count in the sample, its national value (count x scale) and its 95% interval."""

    sample: float
    value: float
    lo: float
    hi: float
    method: Method

    @property
    def few(self) -> bool:
        """True when the sample holds under :data:`FEW` of it: the figure is very uncertain."""
        return self.sample < FEW


def national(k: float, scale: float, n: int | None = None) -> NationalFigure:
    """The national figure of a sample count k: binomial out of n citizens, else Poisson."""
    if n is None:
        lo, hi = poisson_interval(k)
        method: Method = "poisson"
    else:
        lo, hi = binomial_interval(k, n)
        method = "binomial"
    return NationalFigure(float(k), k * scale, lo * scale, hi * scale, method)


def method_for(decl: dict[str, Any] | None) -> Method | None:
    """How a declared daily column's total scales: people at the end, events, or not at all.

    `decl` is the column's entry in ``manifest["outputs"]["timeseries"]``; None (a funnel
    column of a run folder without declarations) counts as events. Float columns
    (amounts, means) are not counts and get None.
    """
    if decl is None:
        return "poisson"
    if not str(decl.get("dtype", "int64")).startswith(("int", "uint")):
        return None
    if decl.get("total") == "last":
        return "binomial" if decl.get("unit") == "people" else "poisson"
    if decl.get("total", "sum") == "sum":
        return "poisson"
    return None


def column_decl(name: str, manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The declaration of daily column `name` in the run's manifest (funnel defaults)."""
    decls = (manifest.get("outputs") or {}).get("timeseries") or {}
    if name in decls:
        return decls[name]
    return PEOPLE_AT_END if name in FUNNEL_PEOPLE else None


def for_column(
    k: float, decl: dict[str, Any] | None, scale: float, n: int
) -> NationalFigure | None:
    """The national figure of a column's total k, or None when it is not a count."""
    method = method_for(decl)
    if method is None or k != k or k < 0 or k != math.floor(k):
        return None
    if method == "binomial" and k <= n:
        return national(k, scale, n)
    return national(k, scale)


def headline_figures(result: RunResult) -> dict[str, NationalFigure]:
    """The national figure of each headline count of a sampled run ({} when not sampled).

    Shares, rates, scores and amounts are not scaled; nor are person-days.
    """
    m = result.manifest
    scale = m.get("scale")
    if not scale:
        return {}
    h = headline(result)
    out = {}
    for metric in metrics(result):
        if metric.fmt != "count" or not metric.model or metric.key in NOT_COUNTS:
            continue
        decl = column_decl(HEADLINE_COLUMN.get(metric.key, metric.key), m)
        f = for_column(h[metric.key], decl, scale, int(m["population"]))
        if f is not None:
            out[metric.key] = f
    return out


def round_bound(x: float, width: float) -> float:
    """An interval bound to two significant figures of itself and of the interval's width.

    Two of the width keep a narrow interval around a large count readable
    ([2,563,000,000, 2,616,000,000], not [2,600,000,000, 2,600,000,000]); two of the
    bound itself keep a small lower bound from rounding to 0.
    """
    if x == 0 or not math.isfinite(x):
        return x
    mag = math.floor(math.log10(abs(x)))
    if width > 0:
        mag = min(mag, math.floor(math.log10(width)))
    return round(x, 1 - mag)


def fmt_count(x: float) -> str:
    """A count with thousands separators."""
    return f"{x:,.0f}"


def format_interval(f: NationalFigure) -> str:
    """The interval as "[lo, hi]", bounds rounded by :func:`round_bound`."""
    w = f.hi - f.lo
    return f"[{fmt_count(round_bound(f.lo, w))}, {fmt_count(round_bound(f.hi, w))}]"


def flag(f: NationalFigure) -> str:
    """The warning for a count under :data:`FEW` in the sample, else ''."""
    return f"({fmt_count(f.sample)} in the sample: very uncertain)" if f.few else ""


def format_figure(f: NationalFigure) -> str:
    """The figure in full: "14,000 [350, 78,000] (1 in the sample: very uncertain)"."""
    return f"{fmt_count(f.value)} {format_interval(f)} {flag(f)}".rstrip()


def derivation(scale: float, represents: float, n: int) -> str:
    """How the national figures and their intervals are derived, in one paragraph."""
    return (
        f"National figures are the sample's counts times {scale:,.0f} "
        f"(population.represents = {represents:,.0f} over {n:,} citizens). "
        f"95% intervals are exact: binomial (Clopper-Pearson) for people at the end, "
        f"k of {n:,}; Poisson (Garwood) for events over the run; both scaled by "
        f"{scale:,.0f}. They cover sampling noise only, not the model's assumptions, and "
        f"are too narrow for events the same people repeat (over-dispersed); amounts and "
        f"means are not scaled. Under {FEW} in the sample: very uncertain."
    )
