"""Reading scenarios: presets shipped in the package, TOML files, `extends` and loading.

A scenario file may name a base with ``extends = "preset-or-path"``; its tables are merged
onto the base key by key. The file keeps its own name (its ``name``, else its file stem),
so it does not share its base's default run folder. `load` reads a preset or file,
applies ``--set`` items and shortcuts, and validates the result once.
"""

from __future__ import annotations

import copy
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from panopticon.core.params import ScenarioError
from panopticon.scenario.errors import validate
from panopticon.scenario.overrides import apply_sets
from panopticon.scenario.schema import Scenario

PRESETS = "panopticon.scenario.presets"
"""The package holding the preset TOML files."""


def preset_names() -> list[str]:
    """Names of the presets shipped inside the package."""
    files = resources.files(PRESETS).iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".toml"))


def preset_summaries() -> dict[str, str]:
    """Preset name -> its one-line description."""
    out = {}
    for name in preset_names():
        text = resources.files(PRESETS).joinpath(f"{name}.toml").read_text("utf-8")
        out[name] = str(tomllib.loads(text).get("description", "")).strip().splitlines()[0:1]
        out[name] = out[name][0] if out[name] else ""
    return out


def read_toml(source: str | Path, _depth: int = 0) -> dict[str, Any]:
    """Read a preset name or a TOML file into plain data; `extends` merges onto a base."""
    text: str
    origin: str
    path = Path(source)
    if str(source) in preset_names():
        res = resources.files(PRESETS).joinpath(f"{source}.toml")
        text, origin = res.read_text("utf-8"), f"preset {source}"
    elif path.is_dir():
        raise ScenarioError(f"error: scenario {str(source)!r}: is a folder, not a TOML file")
    elif path.suffix == ".toml" or path.exists():
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            raise ScenarioError(f"error: scenario {str(source)!r}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(
                f"error: scenario {str(source)!r}: cannot be read ({exc.__class__.__name__})"
            ) from None
        origin = str(path)
    else:
        raise ScenarioError(
            f"error: scenario {str(source)!r}: no such preset or file; "
            f"presets: {', '.join(preset_names())}"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"error: {origin}: malformed TOML ({exc})") from None
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ScenarioError(f"error: {origin}: extends = {base!r} must be a preset name or path")
    if _depth > 8:
        raise ScenarioError(f"error: {origin}: extends nests too deeply (a cycle?)")
    if (
        base not in preset_names()
        and not Path(base).is_absolute()
        and isinstance(source, Path | str)
    ):
        near = Path(source).parent / base
        base = str(near) if near.exists() else base
    merged = deep_merge(read_toml(base, _depth + 1), data)
    if "name" not in data:  # a file is named by itself (its stem, in `load`), not its base
        merged.pop("name", None)
    return merged


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`: tables merge key by key, other values replace.

    A table whose `mode` changes (e.g. face identification from fixed to scores) is
    replaced whole: the fields of one mode mean nothing in the other.
    """
    out = copy.deepcopy(base)
    for k, v in over.items():
        switched = (
            isinstance(v, dict)
            and isinstance(out.get(k), dict)
            and ("mode" in v and v["mode"] != out[k].get("mode", v["mode"]))
        )
        if isinstance(v, dict) and isinstance(out.get(k), dict) and not switched:
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load(source: str | Path, sets: list[str] | None = None, **top: Any) -> Scenario:
    """Load a preset or file, apply ``--set`` items and shortcuts, then validate once."""
    data = read_toml(source)
    if "name" not in data and str(source) not in preset_names():
        data["name"] = re.sub(r"[^A-Za-z0-9_.\-]", "_", Path(source).stem) or "scenario"
    apply_sets(data, sets, top)
    return validate(data)
