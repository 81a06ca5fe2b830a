"""Scenario files: the schema, presets, validation and `--set` overrides."""

from panopticon.scenario.schema import *  # noqa: F403
