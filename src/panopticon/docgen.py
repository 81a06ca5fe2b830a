"""Generate `docs/scenarios.md` from the scenario schema, so the reference never drifts.

python -m panopticon.docgen > docs/scenarios.md
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from panopticon.scenario import schema

HEADER = """# Scenario reference

Every field of a scenario file, by dotted key (the key `--set` and `--vary` take).
Generated from the schema in `src/panopticon/scenario/schema.py` by `python -m panopticon.docgen`;
a test checks that this file is current. `<name>` stands for a name you choose (a
behaviour, a channel, a policy, a measure). A file may start with
`extends = "preset-or-path"` to build on another scenario: tables merge key by key.

| key | type | default | meaning |
|---|---|---|---|
"""


def _type_name(ann: Any) -> str:
    """A short readable name for a field's type."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
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
            rows.append((key, _type_name(ann), shown, desc))
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


if __name__ == "__main__":
    print(scenario_reference(), end="")
