"""One run folder as the report reads it: tables, scenario and the declared outputs.

The figures never guess what a column is from its name. A run's ``manifest["outputs"]``
declares every timeseries column (unit, label, ``family``, ``key``, ``wrongly``,
``position``) and every people column (``family``, ``key``, ``truth``); :class:`RunData`
hands those declarations to the figure builders. Run folders written before the engine
declared its outputs have no ``outputs``: for them :func:`legacy_outputs` derives the same
declarations from the old naming rules (``listed_<list>``, ``recorded_<channel>``,
``mean_degree_<grade>``, ``grade_<G>``, ``access_<good>``, allocation-state columns), so
that this one function is the only place that still reads names.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from panopticon.io.runs import RunResult

ACCESS_STATES = ("none", "refused", "excluded", "allocated")
IDENTITY_COLUMNS = ("id", "group", "region", "age")


@dataclass(frozen=True)
class Declared:
    """One declared column: its name and what the run says about it."""

    name: str
    family: str = ""
    key: str = ""
    wrongly: str = ""  # for a wrongful column: the column whose wrongful part it counts
    label: str = ""
    unit: str = ""
    position: int = 0


def _legacy_timeseries(columns: list[str]) -> dict[str, dict[str, Any]]:
    """Declarations of timeseries columns derived from the names (folders before outputs)."""
    out: dict[str, dict[str, Any]] = {}
    rules = (
        ("listed_wrongly_", "listed", "listed_"),
        ("listed_", "listed", ""),
        ("recorded_", "channel", ""),
        ("mean_degree_", "degree", ""),
        ("grade_", "grade_count", ""),
    )
    for i, c in enumerate(columns):
        decl: dict[str, Any] = {"position": i}
        if c == "mean_score":
            decl.update(family="mean_score", key="score")
        for prefix, family, partner in rules:
            if c.startswith(prefix) and len(c) > len(prefix):
                key = c[len(prefix) :]
                decl.update(family=family, key=key)
                if partner:
                    decl["wrongly"] = partner + key
                break
        out[c] = decl
    return out


def _legacy_people(schema: pa.Schema) -> dict[str, dict[str, Any]]:
    """Declarations of people columns derived from names and dictionary values."""
    out: dict[str, dict[str, Any]] = {}
    for i, f in enumerate(schema):
        decl: dict[str, Any] = {"position": i, "truth": f.name.startswith("true_")}
        if f.name == "grade":
            decl.update(family="grade", key="score")
        elif f.name == "degree":
            decl.update(family="degree", key="end")
        elif f.name.startswith("access_"):
            decl.update(family="access_share", key=f.name[len("access_") :])
        elif pa.types.is_dictionary(f.type) and f.name not in IDENTITY_COLUMNS:
            decl.update(family="access_candidate", key=f.name)
        out[f.name] = decl
    return out


def legacy_outputs(columns: list[str], schema: pa.Schema) -> dict[str, Any]:
    """The outputs declaration of a run folder that has none, from the old naming rules."""
    return {"timeseries": _legacy_timeseries(columns), "people": _legacy_people(schema)}


@dataclass
class RunData:
    """One run as the report reads it: label, tables, scenario and declarations."""

    label: str
    result: RunResult

    @cached_property
    def scenario(self) -> dict[str, Any]:
        """The fully resolved scenario as plain data."""
        return tomllib.loads(self.result.scenario_toml)

    @cached_property
    def timeseries(self) -> pl.DataFrame:
        """One row per day."""
        return self.result.timeseries

    @cached_property
    def people_schema(self) -> pa.Schema:
        """The schema of people.parquet (read without the data)."""
        return pq.read_schema(self.result.path / "people.parquet")

    @cached_property
    def people_columns(self) -> list[str]:
        """Column names of people.parquet."""
        return list(self.people_schema.names)

    @cached_property
    def declared(self) -> bool:
        """Whether the run folder declares its outputs (else the legacy name rules apply)."""
        return "outputs" in self.result.manifest

    @cached_property
    def outputs(self) -> dict[str, Any]:
        """manifest["outputs"], or the one derived from the names for older folders."""
        out = self.result.manifest.get("outputs")
        if out is None:
            return legacy_outputs(self.timeseries.columns, self.people_schema)
        return out

    def _members(self, table: str, present: list[str], family: str) -> list[Declared]:
        decls = self.outputs.get(table, {})
        got = [
            Declared(
                name,
                d.get("family", ""),
                d.get("key", ""),
                d.get("wrongly", "") or "",
                d.get("label", "") or d.get("description", "") or "",
                d.get("unit", "") or "",
                int(d.get("position", 0)),
            )
            for name, d in decls.items()
            if d.get("family") == family and name in present
        ]
        return sorted(got, key=lambda d: d.position)

    def family(self, family: str, wrongly: bool | None = False) -> list[Declared]:
        """Timeseries columns of a family in their declared order.

        `wrongly` False: only the main columns; True: only the wrongful parts; None: both.
        """
        got = self._members("timeseries", self.timeseries.columns, family)
        if wrongly is None:
            return got
        return [d for d in got if bool(d.wrongly) == wrongly]

    def wrongful_part(self, name: str) -> str | None:
        """The timeseries column declared as the wrongful part of `name`, if any."""
        for cname, d in self.outputs.get("timeseries", {}).items():
            if d.get("wrongly") == name and cname in self.timeseries.columns:
                return cname
        return None

    def people_family(self, family: str) -> list[Declared]:
        """People columns of a family in their declared order."""
        return self._members("people", self.people_columns, family)

    def people(self, *columns: str) -> pl.DataFrame:
        """The given columns of people.parquet (only those are read)."""
        return pl.read_parquet(self.result.path / "people.parquet", columns=list(columns))

    def people_arrow(self, column: str) -> pa.ChunkedArray:
        """One column of people.parquet as Arrow (keeps a dictionary's value order)."""
        return pq.read_table(self.result.path / "people.parquet", columns=[column]).column(column)

    @property
    def population(self) -> int:
        """Number of citizens."""
        return int(self.result.manifest["population"])

    @property
    def threshold(self) -> float | None:
        """The blacklist threshold, when the scenario has one."""
        bl = self.scenario.get("sanctions", {}).get("blacklist")
        return float(bl["threshold"]) if isinstance(bl, dict) and "threshold" in bl else None

    def total(self, name: str, default: float = 0.0) -> float:
        """The sum of a timeseries column over the run (default when not written)."""
        ts = self.timeseries
        return float(ts[name].sum()) if name in ts.columns else default

    def wrongly_sanctioned(self) -> np.ndarray | None:
        """Per citizen: sanctioned at the end although the true score would not be."""
        cols = self.people_columns
        if "sanctioned_wrongly" in cols:
            return self.people("sanctioned_wrongly")["sanctioned_wrongly"].to_numpy()
        if self.threshold is None or "true_score" not in cols or "sanctioned" not in cols:
            return None
        p = self.people("sanctioned", "true_score")
        return p["sanctioned"].to_numpy() & (p["true_score"].to_numpy() >= self.threshold)


def label_runs(results: list[RunResult]) -> list[RunData]:
    """Short unique labels for runs: folder names, or longer paths when those collide."""
    names = [r.path.name for r in results]
    if len(set(names)) < len(names):
        names = [str(r.path) for r in results]
    if len(set(names)) < len(names):
        names = [f"{n} #{i + 1}" for i, n in enumerate(names)]
    return [RunData(n, r) for n, r in zip(names, results, strict=True)]
