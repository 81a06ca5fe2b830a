"""Figures of the features a scenario may switch on: lists, grades, groups, access, ties.

Every builder finds its columns through the run's declarations (:class:`RunData.family`
and :meth:`RunData.people_family`), never by name prefixes, and every caption states only
what it computed from the data it shows.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from panopticon.report.data import ACCESS_STATES, RunData
from panopticon.report.model import CORRECT, PALETTE, WRONGFUL, Figure, Series

GRADES_TABLE = "grades.parquet"
KIND_LABELS = {"school": "schools", "employment": "jobs", "housing": "housing"}


def _suffix(run: RunData, many: bool) -> str:
    return f" — {run.label}" if many else ""


def _fig_id(base: str, i: int, many: bool) -> str:
    return f"{base}-{i + 1}" if many else base


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def _fmt(n: float) -> str:
    return f"{n:,.0f}"


def _names(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# --------------------------------------------------------------------------- lists


def listed_over_time(runs: list[RunData]) -> Figure | None:
    """Citizens on each black- or red-list, and those listed wrongly, over time."""
    many = len(runs) > 1
    series: list[Series] = []
    k = 0
    for run in runs:
        ts = run.timeseries
        day = ts["day"].to_numpy()
        pre = f"{run.label}: " if many else ""
        for d in run.family("listed"):
            color = PALETTE[k % len(PALETTE)]
            k += 1
            series.append(Series(f"{pre}{d.key}", day, ts[d.name].to_numpy().astype(float), color))
            part = run.wrongful_part(d.name)
            if part is not None:
                y = ts[part].to_numpy().astype(float)
                series.append(Series(f"{pre}{d.key}, wrongly", day, y, color=color, dash=True))
    if not series:
        return None
    return Figure(
        id="lists",
        title="Citizens on each list over time, and those listed wrongly",
        kind="lines",
        series=series,
        xlabel="day",
        ylabel="citizens listed",
        caption="Citizens on each black- or red-list on each day (solid) and those on it "
        "wrongly (dashed): listed, although correct records alone would not list them.",
    )


# --------------------------------------------------------------------------- grades


def grade_counts(run: RunData) -> dict[str, tuple[list[str], np.ndarray, np.ndarray]]:
    """Per score policy: grade names in order, days, and counts[day, grade].

    Read from grades.parquet (``day, policy, grade, count, wrongful``), or, in run folders
    from before it, from per-grade count columns of the timeseries.
    """
    out: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = {}
    path = run.result.path / GRADES_TABLE
    if path.exists():
        g = pl.read_parquet(path).with_columns(
            pl.col("policy").cast(pl.String), pl.col("grade").cast(pl.String)
        )
        for policy in g["policy"].unique(maintain_order=True).to_list():
            part = g.filter(pl.col("policy") == policy)
            names = part["grade"].unique(maintain_order=True).to_list()
            days = np.sort(part["day"].unique().to_numpy())
            counts = np.zeros((days.size, len(names)))
            di = np.searchsorted(days, part["day"].to_numpy())
            gi = np.array([names.index(x) for x in part["grade"].to_list()], dtype=np.int64)
            np.add.at(counts, (di, gi), part["count"].to_numpy().astype(float))
            out[str(policy)] = (names, days, counts)
        return out
    cols = run.family("grade_count")
    if cols:
        ts = run.timeseries
        counts = np.column_stack([ts[d.name].to_numpy().astype(float) for d in cols])
        out["score"] = ([d.key for d in cols], ts["day"].to_numpy(), counts)
    return out


def grade_shares(run: RunData, i: int, many: bool) -> list[Figure]:
    """Shares of citizens in each grade over time, as a stacked area (one per policy)."""
    figures = []
    tables = grade_counts(run)
    for policy, (names, days, counts) in tables.items():
        total = counts.sum(axis=1, keepdims=True)
        shares = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
        series = [
            Series(name, days, shares[:, k], color=PALETTE[k % len(PALETTE)])
            for k, name in enumerate(names)
        ]
        empty = [n for k, n in enumerate(names) if counts[:, k].sum() == 0]
        what = f" ({policy})" if len(tables) > 1 else ""
        caption = "The share of citizens in each grade on each day."
        if empty:
            caption += f" Nobody was in grade {_names(empty)} on any day shown."
        figures.append(
            Figure(
                id=_fig_id("grades" + (f"-{_slug(policy)}" if len(tables) > 1 else ""), i, many),
                title=f"Grade shares over time{what}" + _suffix(run, many),
                kind="area",
                series=series,
                xlabel="day",
                ylabel="share of citizens",
                y_percent=True,
                caption=caption,
            )
        )
    return figures


def main_grade(run: RunData) -> str | None:
    """The people column holding the main score policy's grade, if any."""
    grades = run.people_family("grade")
    for d in grades:
        if d.key == "score":
            return d.name
    return grades[0].name if grades else None


def grade_order(run: RunData, column: str, present: list[str]) -> list[str]:
    """Grades in their policy's order (people.parquet's dictionary), then any others."""
    col = run.people_arrow(column)
    order: list[str] = []
    if pa.types.is_dictionary(col.type) and col.num_chunks:
        order = [str(x) for x in col.chunk(0).dictionary.to_pylist()]
    known = [g for g in order if g in present]
    return known + sorted(g for g in present if g not in known)


# ---------------------------------------------------------------- groups and impact


def group_rates(run: RunData, i: int, many: bool, column: str, what: str) -> list[Figure]:
    """Rates per 100,000 by group, and their disparate-impact ratios."""
    need = ["records_correct", "records_wrong", "sanctioned"]
    if column not in run.people_columns or not set(need) <= set(run.people_columns):
        return []
    p = run.people(column, *need)
    wrongly = run.wrongly_sanctioned()
    p = p.with_columns(
        pl.col(column).cast(pl.String).alias(column),
        pl.Series("wrongly", wrongly if wrongly is not None else np.zeros(p.height, bool)),
    )
    g = (
        p.group_by(column)
        .agg(
            pl.len().alias("n"),
            (pl.col("records_correct").cast(pl.Int64) + pl.col("records_wrong"))
            .sum()
            .alias("records"),
            pl.col("records_wrong").cast(pl.Int64).sum().alias("wrongful records"),
            pl.col("sanctioned").sum().alias("sanctioned"),
            pl.col("wrongly").sum().alias("wrongly sanctioned"),
        )
        .sort(column)
    )
    if g.height < 2:
        return []
    names = g[column].to_list()
    n = g["n"].to_numpy().astype(float)
    metrics = ["records", "wrongful records", "sanctioned"]
    if wrongly is not None:
        metrics.append("wrongly sanctioned")
    ref = int(np.argmax(n))
    rates, ratios, none = [], [], []
    for k, name in enumerate(metrics):
        rate = 1e5 * g[name].to_numpy().astype(float) / n
        if not (rate > 0).any():
            none.append(name)
            continue
        color = PALETTE[k % len(PALETTE)]
        rates.append(Series(f"{name} per 100,000", names, rate, color=color))
        if rate[ref] > 0:
            ratios.append(Series(name, names, rate / rate[ref], color=color))
    if not rates:
        return []
    missing = f" Not shown, none in any {what}: {_names(none)}." if none else ""
    suffix = _suffix(run, many)
    base = _slug(column)
    figures = [
        Figure(
            id=_fig_id(f"{base}-rates", i, many),
            title=f"Records and sanctions per 100,000, by {what}" + suffix,
            kind="bars",
            series=rates,
            xlabel=what,
            ylabel="per 100,000 citizens of the group",
            log_y=True,
            caption=f"Records (all and wrongful) and sanctions at the end per 100,000 citizens "
            f"of each {what} (log scale).{missing}",
        ),
        Figure(
            id=_fig_id(f"{base}-impact", i, many),
            title=f"Disparate-impact ratios by {what}" + suffix,
            kind="bars",
            series=ratios,
            xlabel=what,
            ylabel=f"rate relative to {names[ref]}",
            hline=1.0,
            caption=f"Each {what}'s rate divided by that of the largest {what} "
            f"({names[ref]}). Above 1: recorded or sanctioned more often than the reference; "
            f"the four-fifths rule flags ratios above 1.25 or below 0.8.{missing}",
        ),
    ]
    return figures if ratios else figures[:1]


# -------------------------------------------------------------------------- access


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0: all equal; near 1: one holds all)."""
    x = np.sort(np.asarray(values, dtype=float))
    n, total = x.size, x.sum()
    if n == 0 or total <= 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float(2.0 * np.sum(ranks * x) / (n * total) - (n + 1) / n)


def _states(run: RunData, name: str) -> np.ndarray | None:
    """Access from an allocation-state column: 1 allocated, 0 refused/excluded, NaN none."""
    col = run.people_arrow(name)
    if not (pa.types.is_dictionary(col.type) and col.num_chunks):
        return None
    if {str(x) for x in col.chunk(0).dictionary.to_pylist()} != set(ACCESS_STATES):
        return None
    v = np.asarray(col.cast(pa.string()).to_numpy(zero_copy_only=False))
    x = (v == "allocated").astype(float)
    x[v == "none"] = np.nan
    return x


def access_values(run: RunData) -> dict[str, np.ndarray]:
    """Per good (label), each citizen's access at the end: 1 or 0 (or a share), NaN if none.

    Declared ``access`` columns of people.parquet hold a scarce good's last allocation
    round (none / refused / excluded / allocated): applicants are those not 'none', access
    is 'allocated'. Older run folders may hold ``access_<good>`` shares for everyone.
    """
    out: dict[str, np.ndarray] = {}
    for d in run.people_family("access"):
        x = _states(run, d.name)
        if x is not None:
            kind = KIND_LABELS.get(d.key, d.key)
            out[d.name if kind == d.name else f"{d.name} ({kind})"] = x
    for d in run.people_family("access_candidate"):
        x = _states(run, d.name)
        if x is not None:
            out[d.name] = x
    for d in run.people_family("access_share"):
        out[d.key] = run.people(d.name)[d.name].cast(pl.Float64).to_numpy().astype(float)
    return {k: v for k, v in out.items() if np.isfinite(v).any()}


def access_by_grade(run: RunData, i: int, many: bool) -> list[Figure]:
    """Share with access to each good by grade, and the Gini of access."""
    column = main_grade(run)
    goods = access_values(run)
    if column is None or not goods:
        return []
    grade = run.people(column)[column].cast(pl.String).to_numpy()
    grades = grade_order(run, column, sorted(set(grade.tolist())))
    series = []
    for k, (good, x) in enumerate(goods.items()):
        means = []
        for g in grades:
            sel = x[grade == g]
            sel = sel[np.isfinite(sel)]
            means.append(float(sel.mean()) if sel.size else np.nan)
        series.append(Series(good, grades, np.array(means), color=PALETTE[k % len(PALETTE)]))
    labels = list(goods)
    ginis = [gini(x[np.isfinite(x)]) for x in goods.values()]
    if len(goods) > 1:
        labels.append("all goods")
        ginis.append(gini(np.nansum(np.column_stack(list(goods.values())), axis=1)))
    caption = (
        "For each grade, the share with access to each good at the end: of the applicants "
        "in the last allocation round (people who did not apply are not counted)."
    )
    gaps = [
        f"{good}: {_names([g for g, y in zip(grades, sr.y, strict=True) if not np.isfinite(y)])}"
        for good, sr in zip(goods, series, strict=True)
        if not np.isfinite(sr.y).all()
    ]
    if gaps:
        caption += " No bar where no citizen of the grade applied — " + "; ".join(gaps) + "."
    suffix = _suffix(run, many)
    return [
        Figure(
            id=_fig_id("access", i, many),
            title=f"Access to {_names(labels[: len(goods)])} by grade" + suffix,
            kind="bars",
            series=series,
            xlabel="grade",
            ylabel="share with access",
            y_percent=True,
            caption=caption,
        ),
        Figure(
            id=_fig_id("access-gini", i, many),
            title="Gini of access" + suffix,
            kind="bars",
            series=[Series("Gini", labels, np.array(ginis), color=CORRECT)],
            xlabel="good",
            ylabel="Gini coefficient",
            caption="Inequality of access across applicants: 0 when everyone has the same "
            "access, towards 1 when few hold it all (for a yes/no good it is the share "
            "without access). 'all goods': the Gini of the number of goods each citizen has.",
        ),
    ]


def exclusions(run: RunData, i: int, many: bool) -> Figure | None:
    """Applicants excluded from each scarce good over the run, by route.

    Deserved, wrongful and collateral exclusions add up to all of them: a measure's
    ``excluded`` column, its declared wrongful part, and its ``excluded_collateral``
    column (key: the measure) with that column's own wrongful part.
    """
    goods = [d for d in run.family("excluded") if run.total(d.name) > 0]
    if not goods:
        return None
    collateral = {d.key: d.name for d in run.family("excluded_collateral")}
    parts: dict[str, list[float]] = {
        "deserved": [],
        "wrongful": [],
        "collateral, deserved for the member": [],
        "collateral, wrongful": [],
    }
    for d in goods:
        w = run.total(run.wrongful_part(d.name) or "")
        coll = collateral.get(d.key, "")
        c = run.total(coll)
        cw = run.total(run.wrongful_part(coll) or "") if coll else 0.0
        parts["deserved"].append(run.total(d.name) - w - c)
        parts["wrongful"].append(w)
        parts["collateral, deserved for the member"].append(c - cw)
        parts["collateral, wrongful"].append(cw)
    names = [d.key for d in goods]
    colors = (CORRECT, WRONGFUL, PALETTE[2], PALETTE[3])
    series = [
        Series(k, names, np.array(v), color=col)
        for (k, v), col in zip(parts.items(), colors, strict=True)
    ]
    coll_total = sum(parts["collateral, deserved for the member"]) + sum(
        parts["collateral, wrongful"]
    )
    caption = (
        "Applicants excluded from each scarce good over the run: deserved (triggered "
        "themselves, and by correct records alone), wrongful (triggered themselves, not by "
        "correct records alone) and collateral (not triggered themselves: excluded because "
        "a household member is, under joint liability; wrongful when no household member "
        f"is triggered by correct records alone). Collateral exclusions: {_fmt(coll_total)}."
    )
    return Figure(
        id=_fig_id("exclusions", i, many),
        title="Exclusions from scarce goods: deserved, wrongful, collateral" + _suffix(run, many),
        kind="bars",
        series=series,
        xlabel="scarce good",
        ylabel="applicants excluded",
        caption=caption,
    )


# -------------------------------------------------------------------------- network


def _degree_claim(run: RunData, first: dict[str, float], last: dict[str, float]) -> str:
    """What the lines show about dropped ties, from the run's own tie counts."""
    dropped, formed = run.total("ties_dropped", np.nan), run.total("ties_new", np.nan)
    out = ""
    if np.isfinite(dropped):
        out = f" Over the run {_fmt(dropped)} ties were dropped and {_fmt(formed)} formed."
        if dropped == 0:
            return out + " No tie was dropped, so no grade lost ties to avoidance."
    both = [g for g in first if np.isfinite(first[g]) and np.isfinite(last.get(g, np.nan))]
    if len(both) >= 2:
        top, low = both[0], both[-1]
        d_top, d_low = last[top] - first[top], last[low] - first[low]
        out += (
            f" Grade {top}'s mean went from {first[top]:.2f} to {last[top]:.2f}, grade {low}'s "
            f"from {first[low]:.2f} to {last[low]:.2f}"
        )
        if d_low < min(0.0, d_top) and dropped > 0:
            out += f": grade {low} lost ties while grade {top} lost fewer or gained."
        else:
            out += "."
    out += (
        " A grade's mean also changes as citizens move between grades; a grade with no "
        "citizens on a day has no point."
    )
    return out


def degree_by_grade(run: RunData, i: int, many: bool) -> Figure | None:
    """Mean number of social ties by grade: over time, or at the end."""
    ts = run.timeseries
    cols = run.family("degree")
    suffix = _suffix(run, many)
    caption = "Mean number of social ties (friends, family, colleagues) of citizens by grade."
    if cols:
        day = ts["day"].to_numpy()
        series, first, last = [], {}, {}
        for k, d in enumerate(cols):
            y = ts[d.name].to_numpy().astype(float)
            series.append(Series(d.key, day, y, color=PALETTE[k % len(PALETTE)]))
            ok = np.flatnonzero(np.isfinite(y))
            first[d.key] = float(y[ok[0]]) if ok.size else np.nan
            last[d.key] = float(y[ok[-1]]) if ok.size else np.nan
        return Figure(
            id=_fig_id("degree", i, many),
            title="Social ties by grade over time" + suffix,
            kind="lines",
            series=series,
            xlabel="day",
            ylabel="mean degree",
            caption=caption + _degree_claim(run, first, last),
        )
    ends = [d for d in run.people_family("degree") if d.key == "end"]
    column = main_grade(run)
    if ends and column is not None:
        deg = ends[0].name
        p = run.people(deg, column).with_columns(pl.col(column).cast(pl.String))
        grades = grade_order(run, column, p[column].unique().to_list())
        m = p.group_by(column).agg(pl.col(deg).cast(pl.Float64).mean())
        m = m.join(pl.DataFrame({column: grades}), on=column, how="right")
        return Figure(
            id=_fig_id("degree", i, many),
            title="Social ties by grade at the end" + suffix,
            kind="bars",
            series=[Series("mean degree", grades, m[deg].to_numpy(), color=CORRECT)],
            xlabel="grade",
            ylabel="mean degree",
            caption=caption + " At the end of the run (the run wrote no daily degree by grade).",
        )
    return None
