"""Respond: general deterrence, announcements and chilling, as daily rate multipliers.

Each day, every negative behaviour k gets a perceived chance of detection P_k: the
population-mean chance that its place's cameras see it, combined with its other
channels' detection chances, plus the boost of every announcement heard so far about
its place. Its rate is multiplied by (1 + P_k / P_ref) ** -elasticity. Lawful but
disfavoured acts are chilled the same way, with P the mean perceived detection of the
negative behaviours of their place. With elasticity 0 nothing changes; with
surveillance switched off P = 0 and nothing changes either: the unwatched baseline.
(Specific deterrence, which acts on individuals, lives in `behavior.Adapt`.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from panopticon.core.module import DayContext, Module, Phase
from panopticon.core.params import Schedule, value_on
from panopticon.core.registry import register
from panopticon.scenario.schema import Scenario
from panopticon.stages.observe.observe import camera_chance


def perceived_detection(scenario: Scenario, day: int) -> np.ndarray:
    """Perceived chance of detection per behaviour on `day` (announcements included)."""
    s = scenario.surveillance
    cat = list(scenario.behaviors.values())
    if not s.enabled:
        return np.zeros(len(cat))
    shares = np.array([r.share for r in scenario.population.regions.values()])
    cam = camera_chance(scenario, day) @ shares
    p = np.zeros(len(cat))
    for k, beh in enumerate(cat):
        miss = 1.0
        for ch in beh.channels:
            d = cam[k] if ch == "camera" else s.channels[ch].detection
            miss *= 1.0 - value_on(d, scenario.run.start, day)  # a schedule: today's
        p[k] = 1.0 - miss
        for ann in scenario.response.announcements.values():
            if day >= ann.day and beh.place in ann.places:
                p[k] = min(1.0, p[k] + ann.boost)
    return p


def rate_multipliers(scenario: Scenario, day: int) -> np.ndarray:
    """Today's multiplier on each behaviour's rate (1 for rewarded acts)."""
    r = scenario.response
    cat = list(scenario.behaviors.values())
    p = perceived_detection(scenario, day)
    out = np.ones(len(cat))
    negative = [k for k, b in enumerate(cat) if b.valence == "negative" and not b.lawful]
    if r.elasticity > 0:
        for k in negative:
            out[k] = (1.0 + p[k] / r.reference_detection) ** -r.elasticity
    if r.chilling_elasticity > 0:
        for k, beh in enumerate(cat):
            if not beh.lawful:
                continue
            same = [j for j in negative if cat[j].place == beh.place]
            place_p = float(np.mean(p[same])) if same else 0.0
            for ann in r.announcements.values():
                if day >= ann.day and beh.place in ann.places and not same:
                    place_p = min(1.0, place_p + ann.boost)
            if not scenario.surveillance.enabled:
                place_p = 0.0
            out[k] = (1.0 + place_p / r.reference_detection) ** -r.chilling_elasticity
    return out


@register
class Respond(Module):
    """Stage 0 of each day: set the behaviour multipliers `Behave` thins with."""

    name = "respond"
    phase = Phase.RESPOND

    @classmethod
    def instances(cls, scenario: Scenario) -> list[dict[str, object]]:
        """Present when general deterrence or chilling is on."""
        r = scenario.response
        return [{}] if r.elasticity > 0 or r.chilling_elasticity > 0 else []

    @classmethod
    def needs(cls, scenario: Scenario, **kwargs: object) -> set[str]:
        """The multipliers owned by `Behave`."""
        return {"multiplier"}

    def __init__(self, sim: Any) -> None:
        """Share `Behave.multiplier`; decide whether anything can ever change it."""
        super().__init__(sim)
        scenario = sim.scenario
        self.scenario = scenario
        self.multiplier = sim.need("multiplier")
        rollout = scenario.surveillance.camera.model == "rollout"
        chans = scenario.surveillance.channels.values()
        dated = any(isinstance(c.detection, Schedule) for c in chans)  # detection by date
        self.static = not rollout and not scenario.response.announcements and not dated

    def step(self, ctx: DayContext) -> None:
        """Recompute the multipliers when something they depend on can have changed."""
        if self.static and ctx.day > 0:
            return
        self.multiplier[:] = rate_multipliers(self.scenario, ctx.day)
