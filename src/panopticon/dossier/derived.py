"""Derived attributes (category ``records``): a run's record log and end state.

Both as the system sees them at the end of the run's last day. Records count against
``attributed_to`` (wrongful or not: the system cannot tell), by behaviour x channel,
behaviour, channel and in total, over the last 30, 90 and 365 days of the run;
end-state columns come from ``people.parquet``: those its modules declare known to the
system (`visibility`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from panopticon.core.records import APPEAL_STATUS
from panopticon.dossier.catalog import F64, I32, STR, WINDOWS, Attribute
from panopticon.dossier.visibility import Declared, people_columns, visible
from panopticon.io.runs import RunError, RunResult
from panopticon.scenario.schema import Scenario


def _state_dtype(dtype: Any) -> Any:
    """Categoricals are shown as strings."""
    categorical = isinstance(dtype, pl.Categorical | pl.Enum) or dtype in (pl.Categorical, pl.Enum)
    return pl.String if categorical else dtype


def _record_slots(sc: Scenario) -> list[tuple[str, str]]:
    """(behaviour, channel) pairs a record can have: each behaviour's own channels."""
    known = {"camera", *sc.surveillance.channels}
    return [
        (b, ch)
        for b, beh in sc.behaviors.items()
        if not beh.lawful
        for ch in beh.channels
        if ch in known
    ]


def attributes(
    sc: Scenario, people: Mapping[str, Any] | None, declared: Declared | None
) -> list[Attribute]:
    """Record-log and end-state attributes of a scenario.

    `people` is a run's people schema and `declared` its people declarations
    (`visibility.declared_people`; None for a run folder older than them); without a
    schema the end-state columns are those a run of the scenario would write.
    """
    mode = sc.run.records
    count_t = F64 if mode == "sample" else I32
    note = {
        "all": "",
        "none": " (null: the run kept no records)",
        "sample": f" (estimated: sample count / {sc.run.records_sample:g})",
    }[mode]
    out: list[Attribute] = []

    def add(name: str, dtype: Any, description: str) -> None:
        out.append(Attribute(name, "records", "derived", dtype, description))

    def counts(prefix: str, what: str) -> None:
        for w in WINDOWS:
            add(f"{prefix}.count_{w}d", count_t, f"records of {what} in the last {w} days{note}")
        add(f"{prefix}.last_day", I32, f"day of the last record of {what}{note}")

    for b, ch in _record_slots(sc):
        counts(f"records.{b}.{ch}", f"{b} via {ch}")
    behaviors = sorted({b for b, _ in _record_slots(sc)}, key=list(sc.behaviors).index)
    for b in behaviors:
        counts(f"records.{b}", f"{b} (all channels)")
    for ch in ["camera", *sc.surveillance.channels]:
        for w in WINDOWS:
            add(
                f"records.by_channel.{ch}.count_{w}d",
                count_t,
                f"records from {ch} in the last {w} days{note}",
            )
    counts("records.total", "any behaviour")
    add("records.total.count_run", count_t, f"records over the whole run{note}")
    add("records.total.first_day", I32, f"day of the first record{note}")
    add(
        "records.total.days_with_records_365d",
        count_t,
        f"distinct days with a record, last 365 days{note}",
    )
    add(
        "records.total.negative_count_365d",
        count_t,
        f"records of penalised acts, last 365 days{note}",
    )
    add(
        "records.total.positive_count_365d",
        count_t,
        f"records of rewarded acts, last 365 days{note}",
    )
    add(
        "records.total.points_deducted_365d",
        count_t,
        f"points the records of the last 365 days deduct{note}",
    )
    add(
        "records.total.points_awarded_365d",
        count_t,
        f"points the records of the last 365 days award{note}",
    )
    if sc.surveillance.appeals.enabled:
        for status in APPEAL_STATUS:
            add(
                f"records.appeal.{status}.count_run",
                count_t,
                f"records whose appeal status is {status!r}{note}",
            )
    if people is None:
        cols = people_columns(sc)
    else:
        cols = {k: v for k, v in people.items() if visible(k, declared)}
    for col, dtype in cols.items():
        add(f"records.state.{col}", _state_dtype(dtype), f"end-of-run {col} (people.parquet)")
    return out


def frame(run: RunResult, sc: Scenario, ids: np.ndarray, attrs: list[Attribute]) -> pl.DataFrame:
    """Record-log and end-state attributes of `ids` (one row per id, in order)."""
    uniq, inv = np.unique(ids, return_inverse=True)
    n = len(uniq)
    last = sc.run.days - 1
    mode = sc.run.records
    scale = 1.0 / sc.run.records_sample if mode == "sample" else 1.0
    values: dict[str, np.ndarray] = {}
    if mode != "none":
        rec = (
            pl.scan_parquet(run.path / "records.parquet")
            .filter(pl.col("attributed_to").is_in(uniq.tolist()))
            .select(
                "day",
                pl.col("behavior").cast(pl.String),
                pl.col("channel").cast(pl.String),
                "attributed_to",
                *([pl.col("appeal").cast(pl.String)] if sc.surveillance.appeals.enabled else []),
            )
            .collect()
        )
        pos_all = np.searchsorted(uniq, rec["attributed_to"].to_numpy())
        day_all = rec["day"].to_numpy()

        def family(prefix: str, mask: np.ndarray) -> None:
            pos, day = pos_all[mask], day_all[mask]
            for w in WINDOWS:
                keep = day >= last - w + 1
                values[f"{prefix}.count_{w}d"] = np.bincount(pos[keep], minlength=n) * scale
            lastd = np.full(n, -1.0)
            np.maximum.at(lastd, pos, day)
            values[f"{prefix}.last_day"] = np.where(lastd < 0, np.nan, lastd)

        beh = rec["behavior"].to_numpy()
        ch = rec["channel"].to_numpy()
        for b, c in _record_slots(sc):
            family(f"records.{b}.{c}", (beh == b) & (ch == c))
        for b in {b for b, _ in _record_slots(sc)}:
            family(f"records.{b}", beh == b)
        for c in ["camera", *sc.surveillance.channels]:
            m = ch == c
            for w in WINDOWS:
                keep = m & (day_all >= last - w + 1)
                values[f"records.by_channel.{c}.count_{w}d"] = (
                    np.bincount(pos_all[keep], minlength=n) * scale
                )
        family("records.total", np.ones(len(rec), dtype=bool))
        values["records.total.count_run"] = np.bincount(pos_all, minlength=n) * scale
        first = np.full(n, np.inf)
        np.minimum.at(first, pos_all, day_all)
        values["records.total.first_day"] = np.where(np.isinf(first), np.nan, first)
        y = day_all >= last - 364
        pairs = np.unique(pos_all[y].astype(np.int64) * (last + 2) + day_all[y])
        values["records.total.days_with_records_365d"] = (
            np.bincount(pairs // (last + 2), minlength=n) * scale
        )
        points = {
            b: float(v.points if v.valence == "positive" else sc.scoring.deducted(v.points))
            for b, v in sc.behaviors.items()
        }
        positive = {b for b, v in sc.behaviors.items() if v.valence == "positive"}
        is_pos = np.isin(beh, list(positive)) if positive else np.zeros(len(rec), bool)
        pts = np.array([points.get(b, 0.0) for b in beh.tolist()]) if len(rec) else np.zeros(0)
        values["records.total.negative_count_365d"] = (
            np.bincount(pos_all[y & ~is_pos], minlength=n) * scale
        )
        values["records.total.positive_count_365d"] = (
            np.bincount(pos_all[y & is_pos], minlength=n) * scale
        )
        values["records.total.points_deducted_365d"] = (
            np.bincount(pos_all[y & ~is_pos], weights=pts[y & ~is_pos], minlength=n) * scale
        )
        values["records.total.points_awarded_365d"] = (
            np.bincount(pos_all[y & is_pos], weights=pts[y & is_pos], minlength=n) * scale
        )
        if sc.surveillance.appeals.enabled:
            app = rec["appeal"].to_numpy()
            for status in APPEAL_STATUS:
                values[f"records.appeal.{status}.count_run"] = (
                    np.bincount(pos_all[app == status], minlength=n) * scale
                )
    people = (
        pl.scan_parquet(run.path / "people.parquet")
        .filter(pl.col("id").is_in(uniq.tolist()))
        .sort("id")
        .collect()
    )
    if people.height != n:
        raise RunError(f"error: run {str(run.path)!r}: people.parquet lacks some citizens")
    cols: list[pl.Series] = []
    for a in attrs:
        if a.name.startswith("records.state."):
            s = people[a.name.removeprefix("records.state.")]
            s = s.cast(pl.String) if a.dtype == STR else s
            cols.append(s.gather(inv).alias(a.name))
            continue
        v = values.get(a.name)
        if v is None:  # no records kept (mode "none"), or a slot absent from the log
            v = np.full(n, np.nan) if mode == "none" else np.zeros(n)
        s = pl.Series(a.name, np.asarray(v, dtype=np.float64)[inv], nan_to_null=True)
        cols.append(s if a.dtype == F64 else s.cast(a.dtype))
    return pl.DataFrame(cols)
