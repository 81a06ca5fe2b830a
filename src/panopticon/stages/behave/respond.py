"""Respond: general deterrence, announcements and chilling, as daily rate multipliers.

Each day, every negative behaviour k gets a perceived chance of detection P_k: the
population-mean camera chance c_k, combined with its other channels' detection chances
d_j as 1 - (1 - c_k) * prod_j (1 - d_j), plus the boost of every announcement heard so far
about its place. With `response.perceived = "sightings"` c_k is the chance a camera sees
the act; with "identifications" it is that chance times n_k, the chance face
identification names someone: n_k = sum_q mix_kq sum_g share_g (1 - p_miss[q, g]) over the
behaviour's camera quality mix and the population's groups (the rates of
`identify.rate_table`). Only enabled channels count: a disabled channel adds nothing.
Its rate is multiplied by (1 + P_k / P_ref) ** -elasticity. Lawful but disfavoured acts
are chilled the same way, with P the mean perceived detection of the negative behaviours
of their place. An announcement is heard for a behaviour when one of its channels is
enabled, or it has none (perception only); with every channel off nothing is heard and
P = 0: the unwatched baseline. With elasticity 0 nothing changes. (Specific deterrence,
which acts on individuals, lives in `behavior.Adapt`.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from panopticon.core.module import DayContext, Module, Phase
from panopticon.core.params import Daily, Schedule, highest, value_on
from panopticon.core.records import MISSED
from panopticon.core.registry import register
from panopticon.scenario.schema import FaceIdFixed, Scenario
from panopticon.stages.identify.identify import rate_table
from panopticon.stages.observe.observe import camera_chance


def identification_chance(scenario: Scenario, day: int = 0) -> np.ndarray:
    """Per behaviour, the chance face identification names someone in a camera frame.

    1 - p_miss, averaged over the behaviour's camera quality mix and over the population's
    groups by share, from the same rate table `Identify` draws its outcomes from (on
    `day`, when fixed-mode rates are dated schedules).
    """
    rates, cum_quality, _ = rate_table(scenario, day)
    mix = np.diff(cum_quality, axis=1, prepend=0.0)
    shares = np.array([g.share for g in scenario.population.groups.values()], dtype=float)
    named = (1.0 - rates[:, :, MISSED]) @ (shares / shares.sum())
    return mix @ named


def camera_factor(scenario: Scenario, day: int = 0) -> np.ndarray:
    """What multiplies a camera's chance of seeing behaviour k in perceived detection."""
    if scenario.response.perceived == "identifications":
        return identification_chance(scenario, day)
    return np.ones(len(scenario.behaviors))


def watching(scenario: Scenario) -> dict[str, bool]:
    """Channel name (the camera included) -> whether it is enabled."""
    s = scenario.surveillance
    return {"camera": s.camera.enabled, **{n: c.enabled for n, c in s.channels.items()}}


def perceived_detection(
    scenario: Scenario, day: int, factor: np.ndarray | None = None
) -> np.ndarray:
    """Perceived chance of detection per behaviour on `day` (announcements included).

    `factor` is `camera_factor(scenario)`, passed by callers that compute it once.
    """
    s = scenario.surveillance
    cat = list(scenario.behaviors.values())
    on = watching(scenario)
    if not any(on.values()):
        return np.zeros(len(cat))
    factor = camera_factor(scenario, day) if factor is None else factor
    shares = np.array([r.share for r in scenario.population.regions.values()])
    cam = (camera_chance(scenario, day) @ shares) * factor
    p = np.zeros(len(cat))
    for k, beh in enumerate(cat):
        miss = 1.0
        for ch in beh.channels:
            if on[ch]:
                d = cam[k] if ch == "camera" else s.channels[ch].detection
                miss *= 1.0 - value_on(d, scenario.run.start, day)  # a schedule: today's
        p[k] = 1.0 - miss
        if beh.channels and not any(on[ch] for ch in beh.channels):
            continue
        for ann in scenario.response.announcements.values():
            if day >= ann.day and beh.place in ann.places:
                p[k] = min(1.0, p[k] + ann.boost)
    return p


def rate_multipliers(scenario: Scenario, day: int, factor: np.ndarray | None = None) -> np.ndarray:
    """Today's multiplier on each behaviour's rate (1 for rewarded acts).

    Elasticities that are dated schedules take their value on `day`.
    """
    r = scenario.response
    cat = list(scenario.behaviors.values())
    p = perceived_detection(scenario, day, factor)
    out = np.ones(len(cat))
    negative = [k for k, b in enumerate(cat) if b.valence == "negative" and not b.lawful]
    elasticity = value_on(r.elasticity, scenario.run.start, day)
    chilling = value_on(r.chilling_elasticity, scenario.run.start, day)
    if elasticity > 0:
        for k in negative:
            out[k] = (1.0 + p[k] / r.reference_detection) ** -elasticity
    if chilling > 0:
        for k, beh in enumerate(cat):
            if not beh.lawful:
                continue
            same = [j for j in negative if cat[j].place == beh.place]
            place_p = float(np.mean(p[same])) if same else 0.0
            for ann in r.announcements.values():
                if day >= ann.day and beh.place in ann.places and not same:
                    place_p = min(1.0, place_p + ann.boost)
            if not any(watching(scenario).values()):
                place_p = 0.0
            out[k] = (1.0 + place_p / r.reference_detection) ** -chilling
    return out


@register
class Respond(Module):
    """Stage 0 of each day: set the behaviour multipliers `Behave` thins with."""

    name = "respond"
    phase = Phase.RESPOND
    shards = True  # the multipliers follow from the scenario and the day alone

    @classmethod
    def instances(cls, scenario: Scenario) -> list[dict[str, object]]:
        """Present when general deterrence or chilling is on (on some day, if dated)."""
        r = scenario.response
        return [{}] if highest(r.elasticity) > 0 or highest(r.chilling_elasticity) > 0 else []

    @classmethod
    def needs(cls, scenario: Scenario, **kwargs: object) -> set[str]:
        """The multipliers owned by `Behave`."""
        return {"multiplier"}

    def __init__(self, sim: Any) -> None:
        """Share `Behave.multiplier`; decide on which days anything can change it.

        A camera rollout or an announcement: every day. Otherwise only the dated schedules
        the multipliers read (channel detection, the elasticities and, when cameras count
        identifications, fixed-mode p_miss) change them, on the days they change.
        """
        super().__init__(sim)
        scenario = sim.scenario
        self.scenario = scenario
        self.multiplier = sim.need("multiplier")
        rollout = scenario.surveillance.camera.model == "rollout"
        self.every_day = rollout or bool(scenario.response.announcements)
        r, s, run = scenario.response, scenario.surveillance, scenario.run
        values = [c.detection for c in s.channels.values()]
        values += [r.elasticity, r.chilling_elasticity]
        self.factor_dated = (
            r.perceived == "identifications"
            and isinstance(s.faceid, FaceIdFixed)
            and isinstance(s.faceid.p_miss, Schedule)
        )
        if self.factor_dated:
            values.append(s.faceid.p_miss)  # type: ignore[union-attr]
        dated = [Daily(v, run.start, run.days) for v in values if isinstance(v, Schedule)]
        change = np.zeros(run.days, dtype=bool)
        change[:1] = True
        for d in dated:
            change |= [d.changes_on(t) for t in range(run.days)]
        self.change_days = change
        self.factor = camera_factor(scenario)
        self._next_day = 0  # a first step on another day (a resumed run) recomputes

    def step(self, ctx: DayContext) -> None:
        """Recompute the multipliers when something they depend on can have changed."""
        fresh = ctx.day != self._next_day
        self._next_day = ctx.day + 1
        if not (self.every_day or fresh or self.change_days[ctx.day]):
            return
        if self.factor_dated:
            self.factor = camera_factor(self.scenario, ctx.day)
        self.multiplier[:] = rate_multipliers(self.scenario, ctx.day, self.factor)
