"""Declared parameter ranges: the ASSUMPTION table and the calibration's free parameters.

A preset states, beside each parameter it only assumes, a plausible range
(``[assumptions]``); `panopticon sensitivity --assumptions` varies exactly those. The
parameters a calibration may move, and within what, are ``[calibration.free]``. Both map a
dotted key (as for ``--set``) to a `Range`; the scenario's validation checks that the key
names a number in the scenario (a preset's own values lie within its ranges: tested).
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field, model_validator

from panopticon.core.params import Strict


class Range(Strict):
    """A plausible or allowed interval for one numeric parameter, with its reason."""

    lo: float = Field(description="lower end (inclusive)")
    hi: float = Field(description="upper end (inclusive); must exceed lo")
    log: bool = Field(False, description="sample on a log scale (lo must be > 0)")
    integer: bool = Field(False, description="the parameter takes whole numbers")
    source: str = Field("", description="why this range: a source, or ASSUMPTION and its basis")

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)):
            raise ValueError(f"lo = {self.lo}, hi = {self.hi}: give finite numbers")
        if self.lo >= self.hi:
            raise ValueError(f"lo = {self.lo}, hi = {self.hi}: not allowed; give lo < hi")
        if self.log and self.lo <= 0:
            raise ValueError(f"lo = {self.lo} with log = true: not allowed; give lo > 0")
        return self


class Calibration(Strict):
    """What `panopticon calibrate` may change in this scenario."""

    free: dict[str, Range] = Field(
        default_factory=dict,
        description=(
            "dotted key -> the range a calibration searches (e.g. a rate; "
            "`key@YYYY-MM-DD` for one point of a dated schedule)"
        ),
    )
    trial: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "dotted key -> value set in the trial runs only, to switch off parts of the "
            "model that the targets do not depend on (a `*` segment stands for every key "
            "of that table); calibrate checks that the best trial's targets are the same "
            "without them, and best.toml never carries them"
        ),
    )


def expand_keys(data: dict[str, Any], key: str) -> list[str]:
    """The dotted keys that `key` names: each ``*`` segment becomes every key of its table.

    KeyError naming the first missing part when a segment before a ``*`` is not a table.
    """
    parts = key.split(".")
    if "*" not in parts:
        return [key]
    i = parts.index("*")
    head = ".".join(parts[:i])
    node = get_dotted(data, head) if head else data
    if not isinstance(node, dict):
        raise KeyError(f"{head} (not a table, so * has nothing to stand for)")
    rest = ".".join(parts[i + 1 :])
    out: list[str] = []
    for name in node:
        k = f"{head}.{name}" if head else str(name)
        out.extend(expand_keys(data, f"{k}.{rest}" if rest else k))
    return out


def trial_overrides(trial: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """[calibration.trial] with its ``*`` keys expanded; ValueError if a key names nothing."""
    out: dict[str, Any] = {}
    for key, value in trial.items():
        try:
            keys = expand_keys(data, key)
            for k in keys:
                get_dotted(data, k)
        except KeyError as exc:
            raise ValueError(
                f"calibration.trial.{key}: {exc.args[0]} is not a field of this scenario; "
                "give dotted keys of existing fields (a * segment for every key of a table)"
            ) from None
        for k in keys:
            out[k] = value
    return out


def get_dotted(data: dict[str, Any], key: str) -> Any:
    """The value at ``a.b.c`` in nested plain data; KeyError naming the first missing part.

    ``a.b@YYYY-MM-DD`` is the value of the dated schedule at ``a.b`` on its point of that
    date, so that one point of a schedule can be a free parameter or an assumption.
    """
    path, date = split_point(key)
    node: Any = data
    parts = path.split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(".".join(parts[: i + 1]))
        node = node[part]
    if date is None:
        return node
    return schedule_point(node, path, date)[1]


def split_point(key: str) -> tuple[str, str | None]:
    """``a.b@2015-01-01`` -> (``a.b``, ``2015-01-01``); a plain key -> (key, None)."""
    if "@" not in key:
        return key, None
    path, _, date = key.partition("@")
    return path, date


def schedule_point(node: Any, path: str, date: str) -> list[Any]:
    """The ``[date, value]`` pair of the schedule `node` (plain data) dated `date`.

    KeyError, naming the schedule's dates, when `node` is not a schedule or has no point of
    that date.
    """
    points = None
    if isinstance(node, dict) and len(node) == 1:
        points = next(iter(node.values()))
    if not isinstance(points, list):
        raise KeyError(f"{path}@{date} ({path} = {node!r} is not a dated schedule)")
    for point in points:
        if isinstance(point, list | tuple) and len(point) == 2 and str(point[0]) == date:
            return point  # type: ignore[return-value]
    dates = ", ".join(str(p[0]) for p in points if isinstance(p, list | tuple) and p)
    raise KeyError(f"{path}@{date} (no point of that date; its points: {dates})")


def check_ranges(table: str, ranges: dict[str, Range], data: dict[str, Any]) -> None:
    """Each key names a number in `data` (the scenario's plain values) within its range."""
    for key, rng in ranges.items():
        where = f"{table}.{key}"
        if _point_of_a_number(data, key):
            continue  # a --set replaced the schedule by a number: the point has gone with it
        try:
            value = get_dotted(data, key)
        except KeyError as exc:
            raise ValueError(
                f"{where}: {exc.args[0]} is not a field of this scenario; give the dotted key "
                "of a numeric parameter (as for --set)"
            ) from None
        if isinstance(value, dict):
            continue  # a dated schedule there (--set): sampling a range replaces it
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(
                f"{where}: the value there is {value!r}, not a number; a range can only be "
                "declared for a numeric parameter (a dated schedule is not one)"
            )
        if rng.integer and not (float(rng.lo).is_integer() and float(rng.hi).is_integer()):
            raise ValueError(f"{where}: integer = true but lo = {rng.lo}, hi = {rng.hi}")


def outside(ranges: dict[str, Range], data: dict[str, Any]) -> list[str]:
    """The keys whose current value lies outside their range.

    Not an error in a scenario (a `--set` may explore beyond the plausible range); the
    shipped presets are tested to hold each value within its stated range.
    """
    out = []
    for key, rng in ranges.items():
        if _point_of_a_number(data, key):
            continue
        value = get_dotted(data, key)
        if isinstance(value, dict):
            values = _numbers(value)
        else:
            values = [value]
        if any(not rng.lo <= v <= rng.hi for v in values):
            out.append(f"{key} = {value} outside [{rng.lo}, {rng.hi}]")
    return out


def _point_of_a_number(data: dict[str, Any], key: str) -> bool:
    """Whether `key` is ``path@date`` and the value at ``path`` is a plain number."""
    path, date = split_point(key)
    if date is None:
        return False
    try:
        node = get_dotted(data, path)
    except KeyError:
        return False
    return isinstance(node, int | float) and not isinstance(node, bool)


def current_value(scenario: Any, key: str) -> float:
    """The scenario's current value of a dotted numeric key."""
    return float(get_dotted(scenario.to_dict(), key))


def _numbers(node: Any) -> list[float]:
    """Every number inside a schedule's plain data (its values, not its dates)."""
    if isinstance(node, dict):
        return [x for v in node.values() for x in _numbers(v)]
    if isinstance(node, list | tuple):
        return [x for v in node for x in _numbers(v)]
    if isinstance(node, int | float) and not isinstance(node, bool):
        return [float(node)]
    return []
