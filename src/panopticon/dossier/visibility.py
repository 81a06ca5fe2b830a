"""Which end-state people columns a dossier may show: what the system knows.

Every column of ``people.parquet`` is declared by the module that writes it
(`panopticon.core.module.Export`), with ``truth=True`` for the simulator's own knowledge
(who really did it, the counterfactual score, which records are correct). A dossier shows
the columns declared ``truth=False``, less the identity columns it derives itself. A run
folder carries the declarations in ``manifest["outputs"]["people"]``; one written before
the manifest had them falls back to the name rules used until then (`LEGACY_HIDDEN`, plus
any ``true_*`` or ``*_true`` column) so that old runs still open.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from panopticon.core.engine import Simulation
from panopticon.scenario.schema import Scenario

IDENTITY_COLUMNS = frozenset({"id", "group", "region", "age"})
"""Declared ``truth=False`` but never shown as end state: the dossier's ``identity``
category derives id, age, group and region itself (procedurally from seed and id), so the
raw columns would only repeat it under a second name."""

LEGACY_HIDDEN = IDENTITY_COLUMNS | {
    "true_score",
    "true_grade",
    "committed",
    "records_correct",
    "records_wrong",
}
"""The deny-list for run folders written before the manifest declared its people columns."""

SIZE = 200  # population of the throwaway simulation that gives a scenario's people schema

Declared = Mapping[str, Mapping[str, Any]]  # column -> {"description": ..., "truth": ...}

_COLUMNS: dict[str, dict[str, Any]] = {}  # resolved scenario TOML -> people_columns


def declared_people(manifest: Mapping[str, Any]) -> Declared | None:
    """A run manifest's people declarations (``outputs.people``); None for an old run."""
    outputs = manifest.get("outputs")
    if not isinstance(outputs, Mapping) or "people" not in outputs:
        return None
    return outputs["people"]


def visible(column: str, declared: Declared | None) -> bool:
    """Whether the system knows this people.parquet column, so a dossier may show it.

    `declared` is the run's people declarations (`declared_people`): a column is shown
    when declared ``truth=False`` and not an identity column (`IDENTITY_COLUMNS`: the
    dossier's identity category derives those itself). A column the declarations omit is
    not shown. `declared` None (a run folder older than the declarations): the old rules,
    `LEGACY_HIDDEN` and the ``true_`` / ``_true`` names.
    """
    if column in IDENTITY_COLUMNS:
        return False
    if declared is None:
        return not (
            column in LEGACY_HIDDEN or column.endswith("_true") or column.startswith("true_")
        )
    decl = declared.get(column)
    return decl is not None and decl.get("truth") is False


def people_columns(sc: Scenario) -> dict[str, Any]:
    """End-state columns a run of this scenario writes that the system knows, with dtypes.

    Read off a simulation of the scenario built (not run) at `SIZE` citizens: its modules'
    declarations and the Polars dtypes of its people table, so they always match what a
    run writes. Cached per resolved scenario (a copy is returned).
    """
    small = sc.override({"population.size": SIZE})
    key = small.to_toml()
    if key not in _COLUMNS:
        sim = Simulation(small)
        declared = {e.name: {"truth": e.truth} for _, e in sim.exports()}
        schema = pl.from_arrow(sim.people()).schema
        _COLUMNS[key] = {k: v for k, v in schema.items() if visible(k, declared)}
    return dict(_COLUMNS[key])
