"""Identify: each recorded act is attributed to someone, rightly or wrongly.

Camera detections go through face identification: a 1:N search that misses, names the
actor, or names an innocent person (a false match). Its rates come from `faceid`: fixed
rates, or the scores model's rates per (image quality, demographic group), computed once
per run for the scenario's gallery and threshold. Other channels never miss (their
detection chance already counts that) but name the wrong person at their
`wrong_person` rate. A wrongful record names a citizen of the actor's own group with
probability `same_group_share` (false matches resemble the person searched), otherwise
anyone but the actor. A simulated population stands for a sample of the nation, so
uniform choice among simulated citizens puts wrongful records on them in proportion.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from panopticon.core import streams
from panopticon.core.module import Column, DayContext, Module, Phase
from panopticon.core.records import CORRECT, MISSED, WRONG
from panopticon.core.registry import register
from panopticon.scenario.schema import FaceIdFixed, FaceIdGroupParams, Scenario
from panopticon.stages.identify import faceid
from panopticon.stages.identify.faceid import identify_fixed
from panopticon.stages.observe.observe import CAMERA


def faceid_model(scenario: Scenario) -> faceid.FaceIdScores:
    """The default scores-mode model with this scenario's groups and quality classes.

    The scenario's tables hold faceid's own fields: a quality entry is a genuine-score
    distribution (it replaces or adds a class), a group entry the differentials of a
    `faceid.Group`. The population gives the shares; a group left out has the defaults.
    """
    params = scenario.surveillance.faceid
    assert not isinstance(params, FaceIdFixed)
    base = faceid.default_model()
    qualities = dict(base.qualities)
    for name, q in params.qualities.items():
        genuine = faceid.ScoreDistribution(**q.model_dump())
        qualities[name] = faceid.QualityClass(genuine=genuine, description="set in the scenario")
    no_diff = FaceIdGroupParams()
    groups = {
        name: faceid.Group(share=g.share, **params.groups.get(name, no_diff).model_dump())
        for name, g in scenario.population.groups.items()
    }
    return faceid.FaceIdScores(impostor=base.impostor, qualities=qualities, groups=groups)


def rate_table(scenario: Scenario) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(rates[q, g, outcome], cumulative quality mix per behaviour [k, q], quality names).

    A behaviour's camera frames follow the quality mix of its place's camera type
    (`surveillance.camera.quality_by_place`, e.g. station gates on transport), else the
    default `surveillance.camera.quality`.
    """
    params = scenario.surveillance.faceid
    n_groups = len(scenario.population.groups)
    n_kinds = len(scenario.behaviors)
    if isinstance(params, FaceIdFixed):
        rates = np.zeros((1, n_groups, 3))
        rates[:, :, MISSED] = params.p_miss
        rates[:, :, WRONG] = params.p_wrong
        rates[:, :, CORRECT] = 1.0 - params.p_miss - params.p_wrong
        return rates, np.ones((n_kinds, 1)), ("fixed",)
    model = faceid_model(scenario)
    threshold = faceid.DEFAULT_THRESHOLD if params.threshold is None else params.threshold
    table = model.rate_table(params.gallery, threshold)
    cam = scenario.surveillance.camera
    mixes = [cam.quality_by_place.get(b.place, cam.quality) for b in scenario.behaviors.values()]
    names = tuple(dict.fromkeys(q for mix in [cam.quality, *mixes] for q in mix))
    idx = [table.qualities.index(q) for q in names]
    rates = np.ascontiguousarray(table.enrolled[idx])
    cum = np.cumsum(np.array([[mix.get(q, 0.0) for q in names] for mix in mixes]), axis=1)
    cum[:, -1] = 1.0
    return rates, np.ascontiguousarray(cum), names


@njit(cache=True)
def _identify_kernel(
    seed: int,
    day: int,
    actors: np.ndarray,
    kinds: np.ndarray,
    chan: np.ndarray,
    group: np.ndarray,
    rates: np.ndarray,
    cum_quality: np.ndarray,
    wrong_person: np.ndarray,
    same_group_share: float,
    members: np.ndarray,
    member_start: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Outcome code and attributed citizen (-1 when missed) per detection."""
    key = streams.stream_key(seed, streams.IDENTIFY, day, 0)
    side = streams.stream_key(seed, streams.FACEID_QUALITY, day, 0)
    m = actors.size
    outcome = np.empty(m, dtype=np.uint8)
    target = np.empty(m, dtype=np.int32)
    for e in range(m):
        c = np.uint64(2 * e)
        i = actors[e]
        g = group[i] if group.size > 0 else 0
        if chan[e] == CAMERA:
            q = 0
            n_q = cum_quality.shape[1]
            if n_q > 1:
                k = kinds[e]
                v = streams.uniform(side, np.uint64(2 * e))
                while q < n_q - 1 and v >= cum_quality[k, q]:
                    q += 1
            o = identify_fixed(streams.uniform(key, c), rates[q, g, MISSED], rates[q, g, WRONG])
        else:
            o = WRONG if streams.uniform(key, c) < wrong_person[chan[e]] else CORRECT
        outcome[e] = o
        if o == MISSED:
            target[e] = -1
        elif o == WRONG:
            size = member_start[g + 1] - member_start[g] if members.size > 0 else 0
            j = -1
            if size > 1 and streams.uniform(side, c + np.uint64(1)) < same_group_share:
                # a member of the actor's group other than the actor: rejection, with
                # counters 2m + 64e + t (beyond the 2e, 2e+1 used above); 64 failures in a
                # row have probability <= 2^-64 and fall back to anyone
                base = np.uint64(2 * m + 64 * e)
                for t in range(64):
                    u = streams.uniform(side, base + np.uint64(t))
                    pick = members[member_start[g] + int(u * size)]
                    if pick != i:
                        j = pick
                        break
            if j >= 0:
                target[e] = j
            else:
                j = int(streams.uniform(key, c + np.uint64(1)) * (n - 1))
                target[e] = j + 1 if j >= i else j
        else:
            target[e] = i
    return outcome, target


def uses_groups(scenario: Scenario) -> bool:
    """Whether identification depends on the demographic group (several, or scores mode)."""
    return len(scenario.population.groups) > 1 or scenario.surveillance.faceid.mode == "scores"


@register
class Identify(Module):
    """Stage 3: attribution of each detection (face identification for cameras)."""

    name = "identify"
    phase = Phase.IDENTIFY

    @classmethod
    def needs(cls, scenario: Scenario, **kwargs: object) -> set[str]:
        """Groups, when error rates or false-match targets depend on them."""
        return {"group"} if uses_groups(scenario) else set()

    def __init__(self, sim: Any) -> None:
        """Compute the outcome rates once and index groups for same-group false matches."""
        super().__init__(sim)
        scenario = sim.scenario
        group = sim.need("group") if uses_groups(scenario) else None
        s = scenario.surveillance
        self.rates, self.cum_quality, self.qualities = rate_table(scenario)
        self.wrong_person = np.array(
            [0.0, *(c.wrong_person for c in s.channels.values())], dtype=np.float64
        )
        self.same_group_share = float(s.faceid.same_group_share)
        self.n = scenario.population.size
        self.group = group if group is not None else np.empty(0, dtype=np.uint8)
        if self.same_group_share > 0 and self.group.size > 0:
            self.members = np.argsort(self.group, kind="stable").astype(np.int32)
            counts = np.bincount(self.group, minlength=len(scenario.population.groups))
            self.member_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        else:
            self.members = np.empty(0, dtype=np.int32)
            self.member_start = np.zeros(2, dtype=np.int64)
        self.seed = scenario.run.seed

    def columns(self) -> list[Column]:
        """Face searches that named nobody."""
        return [
            Column("missed", agg="sum", unit="acts", label="searches that named nobody", order=3)
        ]

    def values(self, ctx: DayContext) -> dict[str, float]:
        """Today's misses."""
        return {"missed": int((ctx.outcome == MISSED).sum())}

    def step(self, ctx: DayContext) -> None:
        """Outcome codes and attributed ids for the detected acts."""
        ctx.outcome, ctx.target = _identify_kernel(
            self.seed,
            ctx.day,
            ctx.seen_actors,
            ctx.seen_kinds,
            ctx.channel,
            self.group,
            self.rates,
            self.cum_quality,
            self.wrong_person,
            self.same_group_share,
            self.members,
            self.member_start,
            self.n,
        )
