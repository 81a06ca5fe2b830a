"""Scenario files: the schema, presets, validation and `--set` overrides."""

from panopticon.scenario.errors import format_validation_error, validate
from panopticon.scenario.io import deep_merge, load, preset_names, preset_summaries, read_toml
from panopticon.scenario.overrides import parse_set, set_dotted
from panopticon.scenario.schema import Population, Scenario

__all__ = [
    "Population",
    "Scenario",
    "deep_merge",
    "format_validation_error",
    "load",
    "parse_set",
    "preset_names",
    "preset_summaries",
    "read_toml",
    "set_dotted",
    "validate",
]
