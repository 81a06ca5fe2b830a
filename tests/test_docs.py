"""The docs stay true: the scenario reference is current, the README's commands exist."""

from __future__ import annotations

from pathlib import Path

import panopticon as pn
from panopticon.docgen import scenario_reference

ROOT = Path(__file__).resolve().parents[1]


def test_scenario_reference_is_current() -> None:
    text = (ROOT / "docs" / "scenarios.md").read_text()
    assert text == scenario_reference(), "run: python -m panopticon.docgen > docs/scenarios.md"


def test_every_preset_validates_and_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in pn.preset_names():
        pn.load(name)
        assert name in readme, name
