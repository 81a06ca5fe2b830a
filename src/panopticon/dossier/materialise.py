"""A scenario's catalog and the dossiers of a run's citizens, materialised on demand.

Nothing is stored: procedural values are recomputed from (seed, id), derived ones read
from the run folder's ``records.parquet`` and ``people.parquet``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from panopticon.core import streams
from panopticon.core.params import ScenarioError
from panopticon.dossier import derived
from panopticon.dossier.catalog import Attribute, DossierError
from panopticon.dossier.procedural import attributes as procedural_attributes
from panopticon.dossier.procedural import procedural
from panopticon.dossier.visibility import Declared, declared_people
from panopticon.io.runs import RunError, RunResult
from panopticon.scenario.io import load as load_scenario
from panopticon.scenario.schema import Scenario


def catalog(
    scenario: Scenario,
    people_schema: Mapping[str, Any] | None = None,
    declared: Declared | None = None,
) -> list[Attribute]:
    """Every attribute of a scenario's dossier: procedural first, then derived.

    `people_schema` (a run's ``people.schema``) and `declared` (its people declarations,
    `declared_people(run.manifest)`) fix the end-state columns: those declared known to
    the system; a schema without declarations is an old run folder, read by the old name
    rules. Without a schema the columns are those a run of the scenario would write.
    """
    attrs = procedural_attributes() + derived.attributes(scenario, people_schema, declared)
    seen: set[str] = set()
    for a in attrs:
        if a.name in seen:
            raise DossierError(
                f"error: dossier: attribute {a.name!r} is defined twice (a behaviour or "
                "channel name clashes with a reserved name: total, by_channel, appeal, state)"
            )
        seen.add(a.name)
    return attrs


def run_catalog(run: RunResult, scenario: Scenario | None = None) -> list[Attribute]:
    """The catalog of a run folder: its people columns and their declarations."""
    sc = scenario_of(run) if scenario is None else scenario
    schema = dict(pl.read_parquet_schema(run.path / "people.parquet"))
    return catalog(sc, schema, declared_people(run.manifest))


def check_ids(ids: np.ndarray, size: int) -> None:
    """Every id must be a citizen of the run; DossierError naming the allowed range."""
    bad = ids[(ids < 0) | (ids >= size)]
    if bad.size:
        raise DossierError(
            f"error: --person: {int(bad[0])} is not allowed; ids run from 0 to {size - 1}"
        )


def scenario_of(run: RunResult) -> Scenario:
    """The resolved scenario of a run folder."""
    try:
        return load_scenario(run.path / "scenario.toml")
    except ScenarioError as exc:
        raise RunError(f"error: run {str(run.path)!r}: scenario.toml: {exc}") from None


def materialise(run: RunResult, ids: Sequence[int] | np.ndarray) -> pl.DataFrame:
    """One row per citizen in `ids` (in order): `id` plus one column per attribute."""
    sc = scenario_of(run)
    ids_arr = np.asarray(ids, dtype=np.int64).reshape(-1)
    check_ids(ids_arr, sc.population.size)
    attrs = run_catalog(run, sc)
    derived_attrs = [a for a in attrs if a.kind == "derived"]
    if ids_arr.size == 0:
        return pl.DataFrame(schema={"id": pl.Int64, **{a.name: a.dtype for a in attrs}})
    return pl.concat(
        [
            procedural(sc, ids_arr),
            derived.frame(run, sc, ids_arr, derived_attrs),
        ],
        how="horizontal",
    )


def sample(run: RunResult, k: int, seed: int = 0) -> pl.DataFrame:
    """The dossiers of `k` distinct citizens drawn reproducibly (by `seed`), by id."""
    size = scenario_of(run).population.size
    if not 1 <= k <= size:
        raise DossierError(f"error: --sample: {k} is not allowed; K runs from 1 to {size}")
    rng = streams.population_rng(seed, streams.DOSSIER, 0)
    ids = np.sort(rng.choice(size, size=k, replace=False))
    return materialise(run, ids)


def records_note(scenario: Scenario) -> str | None:
    """A one-line warning when the run's record log is incomplete, else None."""
    if scenario.run.records == "none":
        return (
            "warning: the run kept no records (run.records = 'none'): record-derived "
            "data points are null"
        )
    if scenario.run.records == "sample":
        p = scenario.run.records_sample
        return (
            f"warning: the run kept a {p:.2%} sample of records: record-derived counts "
            f"are estimates (sample count / {p:g}) and last days come from the sample"
        )
    return None
