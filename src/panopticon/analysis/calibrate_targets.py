"""Calibration targets: dated values of declared daily columns, read from a TOML file.

A targets file holds a list of ``[[target]]`` tables (docs/calibration.md)::

    [[target]]
    name = "listed-2018"                # optional; default <column>-<kind>-<date>
    column = "listed_court"             # a daily column of the run's timeseries
    kind = "level"                      # "level": the value on that date;
                                        # "cumulative": the column summed from day 0 to it
    date = 2018-12-31                   # a TOML date (or "YYYY-MM-DD") within the run
    value = 13_000_000
    sigma = 1_950_000                   # optional; absent: 15% of |value|
    national = true                     # scale the sample by population.represents / size
    source = "https://..."              # required: where the figure comes from

Every field is checked before anything runs: a bad one stops the calibration with one
line naming the target and field (exit 2).
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from panopticon.io.runs import RunError, RunResult
from panopticon.scenario.schema import Scenario

DEFAULT_SIGMA = 0.15  # sigma of a target that states none: this share of |value|
KINDS = ("level", "cumulative")
FIELDS = ("name", "column", "kind", "date", "value", "sigma", "national", "source", "note")
REQUIRED = ("column", "kind", "date", "value", "source")


class CalibrationError(RunError):
    """A calibration that cannot start or resume; the message is one line for the user."""


@dataclass(frozen=True)
class Target:
    """One dated target: which column, level or cumulative, its value and uncertainty."""

    name: str
    column: str
    kind: str
    date: date
    value: float
    sigma: float
    sigma_stated: bool
    national: bool
    source: str
    note: str = ""

    @property
    def label(self) -> str:
        """How the fit report and the CLI name it."""
        return f"{self.column} ({self.kind}) on {self.date.isoformat()}"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the date as text), for the calibration's spec."""
        d = asdict(self)
        d["date"] = self.date.isoformat()
        return d


def declared_columns(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """The scenario's daily columns and their declarations, as a run's manifest has them.

    Built, not run, at a tiny population: the columns do not depend on its size.
    """
    from panopticon.core.engine import Simulation, describe_outputs

    small = scenario.override(population=min(scenario.population.size, 2000))
    return dict(describe_outputs(Simulation(small))["timeseries"])


def _where(i: int, raw: dict[str, Any]) -> str:
    name = raw.get("name")
    return f"target[{i}]" + (f" ({name})" if isinstance(name, str) else "")


def _bad(where: str, fieldname: str, value: Any, allowed: str) -> CalibrationError:
    return CalibrationError(f"error: {where}.{fieldname}: {value!r}: {allowed}")


def _number(where: str, fieldname: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise _bad(where, fieldname, v, "give a finite number")
    return float(v)


def read_targets(
    path: str | Path, columns: dict[str, dict[str, Any]], scenario: Scenario
) -> list[Target]:
    """The targets of a TOML file, each checked against the scenario and its columns."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text("utf-8"))
    except FileNotFoundError:
        raise CalibrationError(f"error: --targets: {str(p)!r}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"error: --targets: {str(p)!r}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CalibrationError(f"error: --targets: {str(p)!r}: not valid TOML ({exc})") from None
    extra = sorted(set(data) - {"target", "title", "description"})
    if extra:
        raise CalibrationError(
            f"error: --targets: {extra[0]}: unknown table or key; a targets file holds "
            "[[target]] tables (and optional title, description)"
        )
    raw_list = data.get("target")
    if not isinstance(raw_list, list) or not raw_list:
        raise CalibrationError(
            f"error: --targets: {str(p)!r}: no [[target]] tables; give at least one"
        )
    start = scenario.run.start
    last = start + timedelta(days=scenario.run.days - 1)
    scale = scenario.population.represents
    out: list[Target] = []
    names: set[str] = set()
    for i, raw in enumerate(raw_list):
        where = _where(i, raw)
        if not isinstance(raw, dict):
            raise CalibrationError(f"error: target[{i}]: not a table; use [[target]]")
        for k in raw:
            if k not in FIELDS:
                raise _bad(where, k, raw[k], f"unknown field; fields: {', '.join(FIELDS)}")
        for k in REQUIRED:
            if k not in raw:
                raise CalibrationError(f"error: {where}.{k}: missing; it is required")
        column = raw["column"]
        if column not in columns:
            near = difflib.get_close_matches(str(column), list(columns), n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise _bad(
                where,
                "column",
                column,
                "not a daily column this scenario declares (docs/outputs.md; a run's "
                f"manifest.json outputs.timeseries){hint}",
            )
        kind = raw["kind"]
        if kind not in KINDS:
            raise _bad(where, "kind", kind, 'give "level" or "cumulative"')
        d = raw["date"]
        if isinstance(d, datetime):
            d = d.date()
        if isinstance(d, str):
            try:
                d = date.fromisoformat(d)
            except ValueError:
                raise _bad(where, "date", d, "give a date YYYY-MM-DD") from None
        if not isinstance(d, date):
            raise _bad(where, "date", d, "give a date YYYY-MM-DD")
        if not start <= d <= last:
            raise _bad(
                where,
                "date",
                d.isoformat(),
                f"outside the run, {start.isoformat()} to {last.isoformat()} "
                "(run.start_date and run.days)",
            )
        value = _number(where, "value", raw["value"])
        stated = "sigma" in raw
        sigma = _number(where, "sigma", raw["sigma"]) if stated else DEFAULT_SIGMA * abs(value)
        if sigma <= 0:
            what = raw["sigma"] if stated else f"absent, and 15% of value {value:g}"
            raise _bad(where, "sigma", what, "must be > 0 (the target's uncertainty)")
        national = raw.get("national", False)
        if not isinstance(national, bool):
            raise _bad(where, "national", national, "give true or false")
        if national and scale is None:
            raise _bad(
                where,
                "national",
                True,
                "the scenario has no population.represents to scale the sample by; "
                "give national = false or set population.represents",
            )
        source = raw["source"]
        if not isinstance(source, str) or not source.strip():
            raise _bad(where, "source", source, "give where the figure comes from (text)")
        name = raw.get("name", f"{column}-{kind}-{d.isoformat()}")
        if not isinstance(name, str) or not name or any(c in name for c in " \t\n,"):
            raise _bad(where, "name", name, "give a short name without spaces or commas")
        if name in names:
            raise _bad(where, "name", name, "given twice; names must be unique")
        names.add(name)
        note = raw.get("note", "")
        if not isinstance(note, str):
            raise _bad(where, "note", note, "give text")
        out.append(Target(name, column, kind, d, value, sigma, stated, national, source, note))
    return out


def trajectory(result: RunResult, column: str, kind: str, national: bool) -> np.ndarray:
    """The column over the run's days (cumulative where asked), scaled where national."""
    ts = result.timeseries
    y = ts[column].to_numpy().astype(np.float64)
    if kind == "cumulative":
        y = np.cumsum(y)
    if national:
        y = y * float(result.manifest.get("scale") or 1.0)
    return y


def simulated(result: RunResult, targets: list[Target]) -> list[float]:
    """Each target's simulated value in one run."""
    start = date.fromisoformat(str(result.timeseries["date"][0]))
    cache: dict[tuple[str, str, bool], np.ndarray] = {}
    out = []
    for t in targets:
        key = (t.column, t.kind, t.national)
        if key not in cache:
            cache[key] = trajectory(result, *key)
        out.append(float(cache[key][(t.date - start).days]))
    return out
