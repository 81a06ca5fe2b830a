"""Which end-state people columns a dossier may show: what the system knows.

The simulator's truth (who really did what, the score without wrongful records) stays
out of a dossier: the deny-list below, plus any column named ``true_*`` or ``*_true``.
Kept on its own because it is due to be replaced by the state declarations of the
engine's module contract (exported or simulator-only truth).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from panopticon.scenario.schema import Scenario

HIDDEN_PEOPLE = frozenset(
    {
        "id",
        "age",
        "group",
        "region",
        "true_score",
        "true_grade",
        "committed",
        "records_correct",
        "records_wrong",
    }
)


def visible(column: str) -> bool:
    """Whether the system knows this people.parquet column (no simulator truth)."""
    return not (column in HIDDEN_PEOPLE or column.endswith("_true") or column.startswith("true_"))


def people_columns(sc: Scenario) -> dict[str, Any]:
    """End-state columns a run of this scenario writes that the system knows."""
    cols: dict[str, Any] = {"score": pl.Int16, "sanctioned": pl.Boolean}
    if sc.scoring.grades:
        cols["grade"] = pl.String
    if sc.surveillance.appeals.enabled:
        cols["appeals_won"] = pl.UInt16
    for name, pol in sc.scoring.factors.items():
        cols[name] = pl.Int16
        if pol.grades:
            cols[f"{name}_grade"] = pl.String
    for name in sc.scoring.lists:
        cols[name] = pl.Boolean
    return cols
