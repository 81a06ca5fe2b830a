"""Dotted-key overrides: ``--set key=value`` items and keyword shortcuts.

Every scenario value has a dotted address such as ``surveillance.faceid.p_miss``; these
helpers parse command-line items into (key, value) pairs and write them into the plain
data of a scenario before it is validated once.
"""

from __future__ import annotations

import copy
import tomllib
from typing import TYPE_CHECKING, Any

from panopticon.core.params import ScenarioError
from panopticon.scenario.errors import validate

if TYPE_CHECKING:
    from panopticon.scenario.schema import Scenario

SHORTCUTS = {"population": "population.size", "days": "run.days", "seed": "run.seed"}
"""Keyword shortcut -> the dotted key it sets (the CLI's --population, --days, --seed)."""


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``a.b.c`` in nested dicts, creating tables on the way; errors name the key.

    ``a.b@YYYY-MM-DD`` sets the value of the dated schedule at ``a.b`` on its point of
    that date (the point must exist; its date is kept).
    """
    if "@" in key:
        _set_point(data, key, value)
        return
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise ScenarioError(f"error: --set {key!r}: not a dotted key such as run.days")
    node = data
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            where = ".".join(parts[: i + 1])
            raise ScenarioError(
                f"error: {key}: {where} is a value ({nxt!r}), not a table, so it has no fields"
            )
        node = nxt
    node[parts[-1]] = copy.deepcopy(value)


def _set_point(data: dict[str, Any], key: str, value: Any) -> None:
    """Replace the value of one dated point of a schedule (``a.b@YYYY-MM-DD``)."""
    from panopticon.scenario.ranges import get_dotted, schedule_point, split_point

    path, date = split_point(key)
    assert date is not None
    try:
        node = get_dotted(data, path)
        point = schedule_point(node, path, date)
    except KeyError as exc:
        raise ScenarioError(
            f"error: {exc.args[0]}: not a point of this scenario's schedules; give "
            "path@YYYY-MM-DD with one of the schedule's dates"
        ) from None
    points = next(iter(node.values()))
    points[points.index(point)] = [point[0], copy.deepcopy(value)]


def parse_set(item: str) -> tuple[str, Any]:
    """Parse one ``--set key=value``; the value is a TOML literal (quote strings)."""
    if "=" not in item:
        raise ScenarioError(f"error: --set {item!r}: expected key=value, e.g. run.days=30")
    key, raw = item.split("=", 1)
    key = key.strip()
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        raise ScenarioError(
            f"error: --set {item!r}: value {raw!r} is not a TOML literal; "
            'use a number, true/false, or a quoted string such as key="text"'
        ) from None
    return key, value


def apply_sets(data: dict[str, Any], sets: list[str] | None, top: dict[str, Any]) -> None:
    """Write ``--set`` items, then the shortcuts that are not None, into plain data."""
    for item in sets or []:
        key, value = parse_set(item)
        set_dotted(data, key, value)
    for key, value in top.items():
        if value is not None:
            set_dotted(data, SHORTCUTS[key], value)


def override(scenario: Scenario, values: dict[str, Any] | None, top: dict[str, Any]) -> Scenario:
    """A new, validated scenario with dotted keys and shortcuts replaced (Scenario.override)."""
    data = scenario.to_dict()
    merged = dict(values or {})
    for key, value in top.items():
        if key not in SHORTCUTS:
            raise ScenarioError(
                f"error: {key}: not an override shortcut; allowed: {', '.join(SHORTCUTS)}"
            )
        if value is not None:
            merged[SHORTCUTS[key]] = value
    for key, value in merged.items():
        set_dotted(data, key, value)
    return validate(data)
