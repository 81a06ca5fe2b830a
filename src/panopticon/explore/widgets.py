"""Panel widgets made from :class:`~panopticon.explore.params.ParamSpec`: bounds and help.

Each widget carries the schema's bounds (``start`` / ``end``) and its description (the
``?`` tooltip beside the label), and the CSS class ``pe-<key>`` (dots as dashes) so that
tests and screenshots find it. Sliders for small bounded floats (probabilities and
multipliers), number boxes otherwise, a checkbox for switches.
"""

from __future__ import annotations

import re
from typing import Any

import panel as pn

from panopticon.explore.params import SECTIONS, ParamSpec

JS_SAFE_INT = 2**53 - 1
"""The largest integer a browser holds exactly (a bound past it is checked on the server)."""


def css_class(key: str) -> str:
    """The CSS class of the widget of a dotted key (``pe-run-days``)."""
    return "pe-" + re.sub(r"[^A-Za-z0-9_-]", "-", key)


def make_widget(spec: ParamSpec) -> pn.widgets.Widget:
    """One widget for one spec, carrying its bounds, value and help text."""
    common: dict[str, Any] = {
        "label": spec.label,
        "description": spec.help or None,
        "css_classes": [css_class(spec.key)],
        "sizing_mode": "stretch_width",
    }
    b = spec.bounds
    if spec.kind == "bool":
        return _make(pn.widgets.Checkbox, common, value=bool(spec.value))
    if spec.slider:
        lo = (b.lo if b.lo is not None else 0.0) + (spec.step if b.lo_open else 0.0)
        hi = (b.hi if b.hi is not None else 1.0) - (spec.step if b.hi_open else 0.0)
        return _make(
            pn.widgets.FloatSlider,
            common,
            value=float(spec.value),
            start=lo,
            end=hi,
            step=spec.step,
        )
    if spec.kind == "int":
        return pn.widgets.IntInput(
            value=int(spec.value),
            start=None if b.lo is None else int(b.lo),
            end=None if b.hi is None else min(int(b.hi), JS_SAFE_INT),
            step=1,
            **common,
        )
    return pn.widgets.FloatInput(
        value=None if spec.value is None else float(spec.value),
        start=b.lo,
        end=b.hi,
        step=spec.step,
        **common,
    )


def _make(cls: type[pn.widgets.Widget], common: dict[str, Any], **kw: Any) -> pn.widgets.Widget:
    """A widget of `cls`; without a `description` tooltip of its own, `laid_out` adds one."""
    opts = dict(common)
    if "description" not in cls.param:
        opts.pop("description")
    return cls(**opts, **kw)


def has_tooltip(widget: pn.widgets.Widget) -> bool:
    """Whether the widget shows its own help tooltip (number boxes do; sliders do not)."""
    return "description" in widget.param


def laid_out(spec: ParamSpec, widget: pn.widgets.Widget) -> pn.viewable.Viewable:
    """A widget as placed on the page: one without a tooltip gets a help icon beside it."""
    if has_tooltip(widget) or not spec.help:
        return widget
    widget.sizing_mode = None
    return pn.Row(widget, pn.widgets.TooltipIcon(value=spec.help), sizing_mode="stretch_width")


class ParamPanel:
    """The widgets of one scenario, grouped into cards by section."""

    def __init__(self, specs: list[ParamSpec]) -> None:
        """Make one widget per spec."""
        self.specs = specs
        self.widgets: dict[str, pn.widgets.Widget] = {s.key: make_widget(s) for s in specs}

    def values(self) -> dict[str, Any]:
        """The widgets' current values by dotted key."""
        return {k: w.value for k, w in self.widgets.items()}

    def set_disabled(self, key: str, disabled: bool) -> None:
        """Enable or disable one widget (e.g. the seed, fixed by a baseline)."""
        if key in self.widgets:
            self.widgets[key].disabled = disabled

    def layout(self) -> pn.Column:
        """The cards of widgets, in section order; long sections start collapsed."""
        cards = []
        for section in SECTIONS:
            ws = [laid_out(s, self.widgets[s.key]) for s in self.specs if s.section == section]
            if not ws:
                continue
            cards.append(
                pn.Card(
                    *ws,
                    title=section,
                    collapsed=len(ws) > 6,
                    sizing_mode="stretch_width",
                    css_classes=["pe-section"],
                )
            )
        return pn.Column(*cards, sizing_mode="stretch_width")
