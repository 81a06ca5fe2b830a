"""Scenario validation errors as messages a reader can act on.

Pydantic reports problems as nested locations and terse messages; these helpers turn them
into one line per problem naming the dotted field, the bad value and what is allowed, and
raise the result as ScenarioError (defined in `panopticon.core.params`).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from panopticon.core.params import ScenarioError
from panopticon.scenario.schema import Behavior, Scenario


def _allowed_fields(loc: tuple[Any, ...]) -> list[str]:
    """Field names allowed at the table holding ``loc`` (for 'unknown field' messages)."""
    model: Any = Scenario
    for part in loc[:-1]:
        fields = getattr(model, "model_fields", None)
        if fields is None:
            return []
        if part in fields:
            model = fields[part].annotation
            if getattr(model, "__origin__", None) is dict:
                model = model.__args__[1]
        elif isinstance(part, str) and model is Behavior:
            continue
        else:
            return []
    fields = getattr(model, "model_fields", None)
    return list(fields) if fields else []


def format_validation_error(err: ValidationError) -> str:
    """One line per problem: the field, the bad value and what is allowed."""
    lines = []
    for e in err.errors():
        loc = tuple(
            p
            for i, p in enumerate(e["loc"])
            if not (i > 0 and e["loc"][i - 1] == "faceid" and p in ("fixed", "scores"))
        )
        field = ".".join(str(p) for p in loc) or "scenario"
        value = e.get("input")
        if e["type"] == "extra_forbidden":
            allowed = _allowed_fields(loc)
            hint = f"allowed here: {', '.join(allowed)}" if allowed else "remove it"
            lines.append(f"error: {field}: unknown field (value {value!r}); {hint}")
            continue
        if e["type"] == "missing":
            lines.append(f"error: {field}: missing; this field is required")
            continue
        msg = e["msg"]
        if e["type"] in ("model_type", "model_attributes_type", "dict_type"):
            msg = "a table is needed here"
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
            named = msg.split(" ", 1)[0].rstrip(":").split("=")[0]
            lines.append(f"error: {msg}" if "." in named else f"error: {field}: {msg}")
            continue
        shown = value if not isinstance(value, dict) else "{...}"
        lines.append(f"error: {field}: {shown!r} is not allowed; {msg[0].lower() + msg[1:]}")
    return "\n".join(lines)


def validate(data: dict[str, Any]) -> Scenario:
    """Validate plain data into a Scenario, or raise ScenarioError with a clear message."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(format_validation_error(err)) from None
