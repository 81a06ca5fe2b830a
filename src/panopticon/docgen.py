"""Generate the references in docs/ from the code, so they never drift.

python -m panopticon.docgen > docs/scenarios.md          (the scenario schema)
python -m panopticon.docgen outputs > docs/outputs.md    (the modules' output declarations)
python -m panopticon.docgen tutorials [--check]          (re-execute docs/tutorials/*.md)
"""

from __future__ import annotations

import re
import sys
import types
import typing
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from panopticon.core.params import _ScheduleOf
from panopticon.scenario import schema
from panopticon.scenario.court import COURT_LIST

if TYPE_CHECKING:
    from panopticon.core.engine import Simulation

HEADER = """# Scenario reference

Every field of a scenario file, by dotted key (the key `--set` and `--vary` take).
Generated from the schema in `src/panopticon/scenario/schema.py` by `python -m panopticon.docgen`;
a test checks that this file is current. `<name>` stands for a name you choose (a
behaviour, a channel, a policy, a measure). A file may start with
`extends = "preset-or-path"` to build on another scenario: tables merge key by key.

Values are strict: every number must be finite (`nan` and `inf` are refused), `true` and
`false` are not numbers, a quoted `"10"` is a string, and an integer field refuses `10.0`
(a float field takes `10`). A run is refused before it starts when it would draw more than
10^11 candidate acts and measure attempts (population.size x run.days x the sum of the
behaviour rates, plus the measures' attempts per person-day).

A field whose type says *or schedule* may instead be a dated schedule: a table with one
key, `steps` (each value holds from its date on) or `linear` (interpolated day by day
between dates), each entry `["YYYY-MM-DD", value]`, e.g.
`rate = { steps = [["2014-01-01", 0.001], ["2016-12-10", 0.01]] }` or
`--set 'behaviors.violation.rate={steps=[["2020-01-01",0.02],["2020-06-01",0.01]]}'`.
Dates are read against `run.start_date` (day 0), must be strictly increasing and fall
within the run; before the first date the first value holds, after the last the last.
Each value obeys the bounds of the plain number. Measures apply only from their `start`
date and before their `end` date, when given.

| key | type | default | meaning |
|---|---|---|---|
"""


def _type_name(ann: Any) -> str:
    """A short readable name for a field's type."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin in (list, tuple, dict):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in args if a is not ...)}]"
    if ann is type(None):
        return "none"
    return getattr(ann, "__name__", str(ann))


def _doc(model: type[BaseModel]) -> str:
    """First line of a model's docstring."""
    return (model.__doc__ or "").strip().splitlines()[0]


def _rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str, str]]:
    """(key, type, default, meaning) for every field under `model`."""
    rows: list[tuple[str, str, str, str]] = []
    for name, f in model.model_fields.items():
        key, ann = f"{prefix}{name}", f.annotation
        origin, args = typing.get_origin(ann), typing.get_args(ann)
        desc = f.description or ""
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            rows.append((key, "table", "", desc or _doc(ann)))
            rows += _rows(ann, key + ".")
        elif origin is dict and isinstance(args[1], type) and issubclass(args[1], BaseModel):
            rows.append((key, "named tables", "", desc or _doc(args[1])))
            rows += _rows(args[1], key + ".<name>.")
        elif (
            origin in (typing.Union, types.UnionType)
            and len(args) == 2
            and type(None) in args
            and all(
                a is type(None) or (isinstance(a, type) and issubclass(a, BaseModel)) for a in args
            )
        ):  # an optional table (absent: the mechanism is off)
            table = next(a for a in args if a is not type(None))
            rows.append((key, "table, optional", "none", desc or _doc(table)))
            rows += _rows(table, key + ".")
        elif origin in (typing.Union, types.UnionType) and all(
            isinstance(a, type) and issubclass(a, BaseModel) for a in args
        ):
            rows.append((key, "table, by `mode`", "", desc))
            for a in args:
                rows += _rows(a, key + ".")
        else:
            if f.default_factory is not None:
                default: Any = f.default_factory()  # type: ignore[call-arg]
            elif f.default is PydanticUndefined:
                default = "required"
            else:
                default = f.default
            shown = (
                "required"
                if default == "required"
                else (f'"{default}"' if isinstance(default, str) else repr(default))
            )
            dated = any(isinstance(m, _ScheduleOf) for m in f.metadata)
            rows.append((key, _type_name(ann) + (" or schedule" if dated else ""), shown, desc))
    return rows


def scenario_reference() -> str:
    """The whole reference as Markdown."""
    seen: set[str] = set()
    lines = [HEADER.rstrip("\n")]
    for key, typ, default, desc in _rows(schema.Scenario, ""):
        if key in seen:
            continue
        seen.add(key)
        cells = [c.replace("|", "\\|") for c in (typ, default, desc)]
        lines.append(f"| `{key}` | {cells[0]} | {cells[1]} | {cells[2]} |")
    return "\n".join(lines) + "\n"


OUTPUTS_HEADER = """# Run folder

Generated from the modules' declarations (`Column`, `Export`, `TableSpec` in
`src/panopticon/core/module.py`) by `python -m panopticon.docgen outputs`, over every preset;
a test checks that this file is current. The same declarations are in each run's
`manifest.json` under `outputs`.

`panopticon run SCENARIO` writes `runs/<scenario>-<seed>/` (or `--out DIR`). Tables are
Parquet; open them with Polars, pandas, DuckDB or Arrow. A table or column that needs a
feature the scenario does not use is left out.

| file | when | rows | columns |
|---|---|---|---|
"""

TIMESERIES_HEADER = """
## timeseries.parquet

One row per day, after `day` and `date` (the calendar date, date32: `run.start_date` +
day). `<behaviour>`, `<channel>`, `<policy>` (a factors policy), `<list>`, `<measure>`,
`<grade>` and `<item>` (of a consumption measure) stand for names the scenario chooses.
*total* says how the run's total in `manifest.json` forms from the daily values: `sum` (a
flow), `last` (a stock at the end) or `mean`. *Headline* columns are compared
(`panopticon compare`), swept and summarised after a run. *Wrongly* always means: the
counterfactual policy, fed correct records only, would not have done it.

| column | dtype | total | unit | label | headline | higher is | presets |
|---|---|---|---|---|---|---|---|
"""

PEOPLE_HEADER = """
## people.parquet

One row per citizen at the end of the run. *truth* marks simulator-only knowledge (who
really did it, the counterfactual): the modelled system cannot know it, and no dossier
shows it.

| column | meaning | truth | presets |
|---|---|---|---|
"""

FILES: tuple[tuple[str, str, str, str], ...] = (
    (
        "manifest.json",
        "always",
        "-",
        "version, scenario, seed, population, days, started, finished, wall_seconds, "
        "peak_memory_bytes, state_bytes_per_citizen, phase_seconds, module_seconds, totals, "
        "outputs (every column and table below, as declared), records_written, status "
        "(`complete`; an interrupted run stays `incomplete` in the hidden `.DIR.partial/` "
        "beside it), files (size and sha256 of every other file, checked when the run is "
        "opened), represents and scale (sampled nations)",
    ),
    (
        "scenario.toml",
        "always",
        "-",
        "the fully resolved scenario; running it alone repeats the run",
    ),
    ("timeseries.parquet", "always", "one per day", "see below"),
    ("people.parquet", "always", "one per citizen", "see below"),
    (
        "records.parquet",
        "always (may be empty)",
        "one per record kept",
        "day (of the act), [day_recorded], behavior, perpetrator, attributed_to, channel, "
        "correct, [appeal]",
    ),
)

PLACEHOLDERS = ("behaviour", "channel", "policy", "list", "measure", "grade", "item")


def scenario_names(scenario: schema.Scenario) -> dict[str, str]:
    """Names the scenario chooses that appear in column names, each with its placeholder."""
    items: list[str] = []
    for m in scenario.sanctions.measures.values():
        chosen = (getattr(m, "options", None) or {}).get("items") or {}
        items += [str(k) for k in chosen]
    groups: dict[str, list[str]] = {
        "behaviour": list(scenario.behaviors),
        "channel": ["camera", *scenario.surveillance.channels],
        "policy": list(scenario.scoring.factors),
        "list": list(scenario.scoring.lists),
        "measure": list(scenario.sanctions.measures),
        "grade": [
            *scenario.scoring.grades,
            *(g for f in scenario.scoring.factors.values() for g in f.grades),
        ],
        "item": items,
    }
    # the court list's fixed name prefixes its own columns (court_cases): not a placeholder
    fixed = {COURT_LIST} if scenario.sanctions.court is not None else set()
    out: dict[str, str] = {}
    for kind in PLACEHOLDERS:
        for name in groups[kind]:
            if name not in fixed:
                out.setdefault(name, f"<{kind}>")
    return out


def patterner(names: dict[str, str]) -> typing.Callable[[str], str]:
    """A function replacing each scenario-chosen name in a text by its placeholder.

    Names match whole words (between ``_``, spaces or punctuation); a longer name wins
    over its prefix (``named_defaulters`` over ``named``).
    """
    if not names:
        return lambda text: text
    alt = "|".join(re.escape(n) for n in sorted(names, key=lambda n: (-len(n), n)))
    rx = re.compile(rf"(?<![A-Za-z0-9])({alt})(?![A-Za-z0-9])")
    return lambda text: rx.sub(lambda m: names[m.group(1)], text)


def _merge(merged: list[str], keys: list[str]) -> None:
    """Add `keys` to `merged` in place, each new one right after its predecessor in `keys`."""
    at = 0
    for key in dict.fromkeys(keys):
        if key in merged:
            at = max(at, merged.index(key) + 1)
        else:
            merged.insert(at, key)
            at += 1


def preset_simulations(population: int = 2000) -> list[tuple[str, Simulation]]:
    """A Simulation of every preset at a tiny population (built, not run).

    Each keeps its own days: a dated preset cannot be shortened past its schedule dates.
    """
    import panopticon as pn
    from panopticon.core.engine import Simulation

    return [(name, Simulation(pn.load(name, population=population))) for name in pn.preset_names()]


def _presets_cell(have: list[str], every: list[str]) -> str:
    """Which presets have a row: "all" or their names."""
    return "all" if have == every else ", ".join(have)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell; placeholders shown as code."""
    return re.sub(r"(<[a-z]+>)", r"`\1`", text.replace("|", "\\|"))


def outputs_reference(sims: list[tuple[str, Simulation]] | None = None) -> str:
    """The run-folder reference as Markdown, from the declarations of every preset's modules.

    Rows keep each preset's declaration order (a row first seen in a later preset goes
    right after its predecessor there); a name the scenario chooses is shown as its
    placeholder (`<measure>`).
    """
    sims = preset_simulations() if sims is None else sims
    every = [name for name, _ in sims]
    ordered = sorted(sims, key=lambda x: (-len(x[1].columns), x[0]))
    series_order: list[str] = []
    people_order: list[str] = []
    tables: dict[str, tuple[str, str, dict[str, str]]] = {}
    series: dict[str, tuple[tuple[str, ...], list[str]]] = {}
    people: dict[str, tuple[tuple[str, ...], list[str]]] = {}
    for preset, sim in ordered:
        sub = patterner(scenario_names(sim.scenario))
        for m in sim.modules:
            for spec in m.table_specs():
                tables.setdefault(spec.name, (spec.description, spec.rows, spec.columns))
        _merge(series_order, [sub(c.name) for c in sim.columns])
        _merge(people_order, [sub(e.name) for _, e in sim.exports()])
        for c in sim.columns:
            key = sub(c.name)
            row = (
                np.dtype(c.dtype).name,
                c.agg,
                c.unit,
                sub(c.label),
                "yes" if c.headline else "",
                c.higher_is,
            )
            entry = series.setdefault(key, (row, []))
            if preset not in entry[1]:
                entry[1].append(preset)
        for _, e in sim.exports():
            key = sub(e.name)
            entry = people.setdefault(key, ((sub(e.description), "yes" if e.truth else ""), []))
            if preset not in entry[1]:
                entry[1].append(preset)
    lines = [OUTPUTS_HEADER.rstrip("\n")]
    lines += [f"| `{a}` | {b} | {c} | {d} |" for a, b, c, d in FILES]
    for name, (when, rows, cols) in tables.items():
        colnames = ", ".join(f"{k} ({v})" if v and v != k else k for k, v in cols.items())
        lines.append(f"| `{name}.parquet` | {_cell(when)} | {_cell(rows)} | {_cell(colnames)} |")
    lines.append(TIMESERIES_HEADER.rstrip("\n"))
    for key in series_order:
        row, have = series[key]
        cells = " | ".join(_cell(x) for x in row)
        lines.append(f"| `{key}` | {cells} | {_presets_cell(sorted(have), every)} |")
    lines.append(PEOPLE_HEADER.rstrip("\n"))
    for key in people_order:
        row, have = people[key]
        cells = " | ".join(_cell(x) for x in row)
        lines.append(f"| `{key}` | {cells} | {_presets_cell(sorted(have), every)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """`python -m panopticon.docgen [scenarios|outputs|tutorials]`: print or refresh a reference."""
    what = argv[0] if argv else "scenarios"
    if what == "tutorials":
        from panopticon import docgen_tutorials

        return docgen_tutorials.main(argv[1:])
    if what == "scenarios":
        print(scenario_reference(), end="")
    elif what == "outputs":
        print(outputs_reference(), end="")
    else:
        print(f"error: {what!r}: give scenarios, outputs or tutorials", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
