"""Scenario presets shipped with Panopticon (TOML files)."""
