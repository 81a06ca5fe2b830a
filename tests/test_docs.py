"""The docs stay true: the scenario and output references are current, presets documented."""

from __future__ import annotations

from pathlib import Path

import panopticon as pn
from panopticon.docgen import outputs_reference, patterner, scenario_reference

ROOT = Path(__file__).resolve().parents[1]


def test_scenario_reference_is_current() -> None:
    text = (ROOT / "docs" / "scenarios.md").read_text()
    assert text == scenario_reference(), "run: python -m panopticon.docgen > docs/scenarios.md"


def test_outputs_reference_is_current() -> None:
    text = (ROOT / "docs" / "outputs.md").read_text()
    want = outputs_reference()
    assert text == want, "run: python -m panopticon.docgen outputs > docs/outputs.md"


def test_patterns_prefer_the_longest_whole_name() -> None:
    sub = patterner({"named": "<measure>", "named_defaulters": "<measure>", "A": "<grade>"})
    assert sub("triggered_named_defaulters") == "triggered_<measure>"
    assert sub("published_wrongly_named") == "published_wrongly_<measure>"
    assert sub("mean_degree_A") == "mean_degree_<grade>"
    assert sub("mean_degree_AA") == "mean_degree_AA"


def test_every_preset_validates_and_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in pn.preset_names():
        pn.load(name)
        assert name in readme, name
