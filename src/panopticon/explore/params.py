"""The explorer's parameters: which scenario fields get a widget, with the schema's bounds.

Nothing here imports Panel, so the logic is testable (and fast) without a browser. Each
:class:`ParamSpec` names one dotted key of the scenario (as for ``--set``), its current
value in the chosen preset, and the bounds and help text read from the pydantic schema
(``Field(ge=..., le=..., description=...)``), never typed in twice. Two kinds are not a
plain field: the grade cut-offs (the lower edge of each grade band but the lowest, from
which the bands are rebuilt) and the measures and channels switched on or off.
:func:`build_scenario` turns the widget values back into a validated scenario.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from typing import Any, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from panopticon.scenario.errors import validate
from panopticon.scenario.overrides import set_dotted
from panopticon.scenario.schema import (
    Behavior,
    Blacklist,
    Camera,
    Channel,
    FaceIdFixed,
    FaceIdScoresParams,
    Population,
    Response,
    RunSettings,
    Scenario,
    Scoring,
)

Kind = Literal["int", "float", "bool"]
Role = Literal["field", "cutoff", "measure"]

SECTIONS = (
    "Run",
    "Surveillance",
    "Face identification",
    "Points per record",
    "Grades and sanction",
    "Measures",
    "Deterrence",
)
"""The widget groups, in the order the page shows them."""


@dataclass(frozen=True)
class Bounds:
    """A field's allowed interval as the schema states it (open ends for gt / lt)."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def contains(self, v: float) -> bool:
        """Whether `v` lies in the interval."""
        if self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo)):
            return False
        return not (self.hi is not None and (v > self.hi or (self.hi_open and v == self.hi)))

    def text(self) -> str:
        """The interval in words, e.g. ``0 < x ≤ 1``."""
        if self.lo is None and self.hi is None:
            return "any value"
        parts = []
        if self.lo is not None:
            parts.append(f"{_num(self.lo)} {'<' if self.lo_open else '≤'} ")
        parts.append("x")
        if self.hi is not None:
            parts.append(f" {'<' if self.hi_open else '≤'} {_num(self.hi)}")
        return "".join(parts)


def _num(v: float) -> str:
    """A bound as text: whole numbers with thousands separators, others as %g."""
    return f"{int(v):,}" if float(v).is_integer() and abs(v) < 1e13 else f"{v:g}"


@dataclass(frozen=True)
class ParamSpec:
    """One widget: the dotted key it sets, its kind, value, bounds and help text."""

    key: str
    label: str
    kind: Kind
    value: Any
    section: str
    bounds: Bounds = Bounds()
    help: str = ""
    role: Role = "field"
    optional: bool = False  # None is allowed (the schema's default applies)

    @property
    def step(self) -> float:
        """A widget step: whole numbers for ints, a thousandth of a bounded unit interval."""
        if self.kind == "int":
            return 1
        lo, hi = self.bounds.lo, self.bounds.hi
        if lo is not None and hi is not None and hi - lo <= 1:
            return 0.001
        return 0.01

    @property
    def slider(self) -> bool:
        """Whether a slider fits: a float field bounded on both sides within [0, 1]."""
        b = self.bounds
        return self.kind == "float" and b.lo is not None and b.hi is not None and b.hi - b.lo <= 1


def _metadata_bounds(metadata: list[Any]) -> Bounds:
    lo = hi = None
    lo_open = hi_open = False
    for m in metadata:
        if isinstance(m, Ge):
            lo = float(m.ge)  # type: ignore[arg-type]
        elif isinstance(m, Gt):
            lo, lo_open = float(m.gt), True  # type: ignore[arg-type]
        elif isinstance(m, Le):
            hi = float(m.le)  # type: ignore[arg-type]
        elif isinstance(m, Lt):
            hi, hi_open = float(m.lt), True  # type: ignore[arg-type]
    return Bounds(lo, hi, lo_open, hi_open)


def field_info(model: type[BaseModel], name: str) -> FieldInfo:
    """The pydantic field `name` of `model` (KeyError naming both when absent)."""
    try:
        return model.model_fields[name]
    except KeyError:
        raise KeyError(f"{model.__name__}.{name}") from None


def field_bounds(model: type[BaseModel], name: str) -> Bounds:
    """The bounds the schema declares for `model.name` (ge / gt / le / lt)."""
    return _metadata_bounds(field_info(model, name).metadata)


def dict_value_bounds(model: type[BaseModel], name: str) -> Bounds:
    """The bounds of the values of a ``dict[str, Annotated[float, Field(...)]]`` field."""
    args = typing.get_args(field_info(model, name).annotation)
    meta: list[Any] = []
    for extra in typing.get_args(args[1])[1:] if len(args) == 2 else ():
        if isinstance(extra, FieldInfo):
            meta.extend(extra.metadata)
    return _metadata_bounds(meta)


def field_help(model: type[BaseModel], name: str) -> str:
    """The schema's description of `model.name`, with its bounds in words."""
    desc = field_info(model, name).description or ""
    b = field_bounds(model, name)
    bounds = "" if b.lo is None and b.hi is None else f" (allowed: {b.text()})"
    return (desc[:1].upper() + desc[1:] + bounds).strip()


def _spec(
    key: str,
    label: str,
    section: str,
    model: type[BaseModel],
    name: str,
    value: Any,
    optional: bool = False,
) -> ParamSpec:
    """A spec of a plain field, its kind from the value's type."""
    kind: Kind = "bool" if isinstance(value, bool) else "int" if isinstance(value, int) else "float"
    if value is None:
        kind = "float"
    return ParamSpec(
        key,
        label,
        kind,
        value,
        section,
        field_bounds(model, name),
        field_help(model, name),
        optional=optional,
    )


def grade_cutoffs(grades: dict[str, tuple[float, float]]) -> list[tuple[str, float]]:
    """(grade, lower edge) of every grade band but the lowest, lowest band first."""
    ordered = sorted(grades.items(), key=lambda kv: kv[1][0])
    return [(name, float(lo)) for name, (lo, _) in ordered[1:]]


def bands_from_cutoffs(
    grades: dict[str, tuple[float, float]], cutoffs: dict[str, float]
) -> dict[str, list[float]]:
    """The grade bands with each grade's lower edge moved to its cut-off.

    The band below a grade ends where the grade starts, so the bands still tile the
    score range; the lowest band's start and the highest band's end are kept.
    """
    ordered = sorted(grades.items(), key=lambda kv: kv[1][0])
    lows = [float(ordered[0][1][0])] + [
        float(cutoffs.get(name, lo)) for name, (lo, _) in ordered[1:]
    ]
    highs = [*lows[1:], float(ordered[-1][1][1])]
    moved = {name: [lo, hi] for (name, _), lo, hi in zip(ordered, lows, highs, strict=True)}
    return {name: moved[name] for name in grades}  # the scenario's own order of grades


def param_specs(sc: Scenario) -> list[ParamSpec]:
    """The widgets of a scenario, in page order, each with its current value.

    Which ones depend on the scenario: coverage for a fixed camera model, the last dated
    camera count for a rollout; p_miss / p_wrong for fixed face identification, gallery
    and threshold for the score model; one points value per negative or positive act;
    one cut-off per grade boundary; one switch per measure and per non-camera channel.
    """
    specs: list[ParamSpec] = [
        _spec("population.size", "Population", "Run", Population, "size", sc.population.size),
        _spec("run.days", "Days", "Run", RunSettings, "days", sc.run.days),
        _spec("run.seed", "Seed", "Run", RunSettings, "seed", sc.run.seed),
    ]
    cam = sc.surveillance.camera
    sv = "Surveillance"
    specs.append(
        _spec("surveillance.camera.enabled", "Cameras on", sv, Camera, "enabled", cam.enabled)
    )
    if cam.model == "fixed":
        specs.append(
            _spec(
                "surveillance.camera.coverage",
                "Camera coverage",
                sv,
                Camera,
                "coverage",
                cam.coverage,
            )
        )
    elif cam.rollout:
        last = list(cam.rollout)[-1]
        b = dict_value_bounds(Camera, "rollout")
        specs.append(
            ParamSpec(
                f"surveillance.camera.rollout.{last}",
                f"Cameras nationally on {last}",
                "float",
                float(cam.rollout[last]),
                sv,
                b,
                f"Camera count of the rollout's last date (linear from the previous date); "
                f"{field_info(Camera, 'rollout').description} (allowed: {b.text()})",
            )
        )
    for name, ch in sc.surveillance.channels.items():
        specs.append(
            _spec(
                f"surveillance.channels.{name}.enabled",
                f"Channel: {name}",
                sv,
                Channel,
                "enabled",
                ch.enabled,
            )
        )
    fid = sc.surveillance.faceid
    fs = "Face identification"
    if isinstance(fid, FaceIdFixed):
        specs.append(
            _spec("surveillance.faceid.p_miss", "P(miss)", fs, FaceIdFixed, "p_miss", fid.p_miss)
        )
        specs.append(
            _spec(
                "surveillance.faceid.p_wrong",
                "P(wrong person)",
                fs,
                FaceIdFixed,
                "p_wrong",
                fid.p_wrong,
            )
        )
    elif isinstance(fid, FaceIdScoresParams):
        specs.append(
            _spec(
                "surveillance.faceid.gallery",
                "Gallery size",
                fs,
                FaceIdScoresParams,
                "gallery",
                fid.gallery,
            )
        )
        specs.append(
            _spec(
                "surveillance.faceid.threshold",
                "Match threshold",
                fs,
                FaceIdScoresParams,
                "threshold",
                fid.threshold,
                optional=True,
            )
        )
    for name, beh in sc.behaviors.items():
        if beh.lawful:
            continue  # never recorded: its points never count
        specs.append(
            _spec(
                f"behaviors.{name}.points",
                f"{name.replace('_', ' ')}" + (" (+)" if beh.valence == "positive" else ""),
                "Points per record",
                Behavior,
                "points",
                beh.points,
            )
        )
    gs = "Grades and sanction"
    score_bounds = Bounds(float(sc.scoring.floor), float(sc.scoring.top))
    for grade, lo in grade_cutoffs(dict(sc.scoring.grades)):
        specs.append(
            ParamSpec(
                f"scoring.grades.{grade}",
                f"Grade {grade} from",
                "float",
                lo,
                gs,
                score_bounds,
                f"Lowest score of grade {grade} (the grade below ends here). "
                f"{field_info(Scoring, 'grades').description}; bands must tile the score "
                f"range {sc.scoring.floor} to {sc.scoring.top} (allowed: {score_bounds.text()})",
                role="cutoff",
            )
        )
    specs.append(
        _spec(
            "sanctions.blacklist.threshold",
            "Blacklist threshold",
            gs,
            Blacklist,
            "threshold",
            sc.sanctions.blacklist.threshold,
        )
    )
    for name, m in sc.sanctions.measures.items():
        specs.append(
            ParamSpec(
                f"sanctions.measures.{name}",
                name.replace("_", " "),
                "bool",
                True,
                "Measures",
                help=f"{m.kind}: {m.description}".strip().rstrip(":")
                + "; off removes the measure from the scenario",
                role="measure",
            )
        )
    ds = "Deterrence"
    r = sc.response
    specs.append(
        _spec(
            "response.deterrence", "Deterrence per record", ds, Response, "deterrence", r.deterrence
        )
    )
    specs.append(
        _spec(
            "response.deterrence_floor",
            "Deterrence floor",
            ds,
            Response,
            "deterrence_floor",
            r.deterrence_floor,
        )
    )
    specs.append(
        _spec(
            "response.elasticity",
            "General deterrence elasticity",
            ds,
            Response,
            "elasticity",
            r.elasticity,
        )
    )
    return specs


def check_value(spec: ParamSpec, value: Any) -> str | None:
    """One line ``error: <key>: <value>: <allowed>`` when `value` is out of bounds, else None."""
    if value is None:
        return None if spec.optional else f"error: {spec.key}: empty: give a value"
    if spec.kind == "bool":
        return None
    v = float(value)
    if not math.isfinite(v) or not spec.bounds.contains(v):
        return f"error: {spec.key}: {value}: allowed {spec.bounds.text()}"
    return None


def build_scenario(base: Scenario, specs: list[ParamSpec], values: dict[str, Any]) -> Scenario:
    """The base scenario with the widget values applied, validated by the schema.

    `values` maps a spec's key to its widget value (a missing key keeps the base value).
    Raises ScenarioError (one line per problem) on a value the schema refuses.
    """
    from panopticon.core.params import ScenarioError

    data = base.to_dict()
    cutoffs: dict[str, float] = {}
    for spec in specs:
        if spec.key not in values:
            continue
        value = values[spec.key]
        problem = check_value(spec, value)
        if problem:
            raise ScenarioError(problem)
        if spec.role == "cutoff":
            cutoffs[spec.key.rsplit(".", 1)[1]] = float(value)
        elif spec.role == "measure":
            if not value:
                data["sanctions"]["measures"].pop(spec.key.rsplit(".", 1)[1], None)
        elif value is None:
            parent, _, leaf = spec.key.rpartition(".")
            node: Any = data
            for part in parent.split("."):
                node = node[part]
            node.pop(leaf, None)
        else:
            v = (
                int(value)
                if spec.kind == "int"
                else bool(value)
                if spec.kind == "bool"
                else float(value)
            )
            set_dotted(data, spec.key, v)
    if cutoffs:
        data["scoring"]["grades"] = bands_from_cutoffs(dict(base.scoring.grades), cutoffs)
    return validate(data)


def widget_values(specs: list[ParamSpec]) -> dict[str, Any]:
    """Each spec's current value (what the widgets start at)."""
    return {s.key: s.value for s in specs}
