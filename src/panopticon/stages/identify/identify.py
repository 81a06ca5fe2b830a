"""Identify: each recorded act is attributed to someone, rightly or wrongly.

Camera detections go through face identification: a 1:N search that misses, names the
actor, or names an innocent person (a false match). Its rates come from `faceid`: fixed
rates, or the scores model's rates per (image quality, demographic group), computed once
per run for the scenario's gallery and threshold. Other channels never miss (their
detection chance already counts that) but name the wrong person at their
`wrong_person` rate. A wrongful record names a citizen of the actor's own group with a
per-(channel, group) probability, otherwise anyone but the actor. In scores mode a camera
false match names the actor's group g with q_g = m_g s_g / (m_g s_g + 1 - s_g), from the
model (the group's FMR multiplier m_g acts on same-group impostor pairs, s_g its gallery
share), so women's 3x false-match rate lands on women; fixed-mode cameras and the other
channels use the scenario's `same_group_share`. A simulated population stands for a sample
of the nation, so uniform choice among simulated citizens puts wrongful records on them
in proportion.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from panopticon.core import streams
from panopticon.core.jit import KERNEL, uniform
from panopticon.core.module import Column, DayContext, Module, Phase
from panopticon.core.params import Daily, value_on
from panopticon.core.population import demographics
from panopticon.core.records import CORRECT, MISSED, WRONG
from panopticon.core.registry import register
from panopticon.core.streams import event_key
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


def rate_table(scenario: Scenario, day: int = 0) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(rates[q, g, outcome], cumulative quality mix per behaviour [k, q], quality names).

    A behaviour's camera frames follow the quality mix of its place's camera type
    (`surveillance.camera.quality_by_place`, e.g. station gates on transport), else the
    default `surveillance.camera.quality`. Fixed rates that are dated schedules take their
    value on `day`.
    """
    params = scenario.surveillance.faceid
    n_groups = len(scenario.population.groups)
    n_kinds = len(scenario.behaviors)
    if isinstance(params, FaceIdFixed):
        rates = np.zeros((1, n_groups, 3))
        set_fixed_rates(rates, *fixed_rates(scenario, day))
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


def fixed_rates(scenario: Scenario, day: int) -> tuple[float, float]:
    """(p_miss, p_wrong) of fixed-mode face identification on `day` (schedules: that day's)."""
    params = scenario.surveillance.faceid
    assert isinstance(params, FaceIdFixed)
    start = scenario.run.start
    return value_on(params.p_miss, start, day), value_on(params.p_wrong, start, day)


def set_fixed_rates(rates: np.ndarray, p_miss: float, p_wrong: float) -> None:
    """Fill a fixed-mode rate table (one quality class) in place."""
    rates[:, :, MISSED] = p_miss
    rates[:, :, WRONG] = p_wrong
    rates[:, :, CORRECT] = 1.0 - p_miss - p_wrong


def attribution_tables(scenario: Scenario, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(p_same, p_other) per [channel code, group]: how a wrongful record picks its target.

    With p_same it names a member of the actor's group, with p_other a member of another
    group, otherwise anyone but the actor (who is of the actor's group with probability
    s' = (size - 1) / (n - 1), `counts` being the simulated group sizes). Row 0 is the
    camera: in scores mode it is set so that a false match names the actor's group with the
    model's q_g (`FaceIdScores.same_group_share`): p_same = (q - s') / (1 - s') when q >= s'
    (an FMR multiplier >= 1), else p_other = 1 - q / s'. Fixed-mode cameras and the other
    channels: p_same = `same_group_share`, p_other = 0, in both modes (its value on day 0,
    when it is a schedule: `Identify` updates it on the days it changes).
    """
    s = scenario.surveillance
    n_groups = len(scenario.population.groups)
    shape = (1 + len(s.channels), n_groups)
    p_same = np.full(shape, value_on(s.faceid.same_group_share, scenario.run.start, 0))
    p_other = np.zeros(shape)
    if isinstance(s.faceid, FaceIdFixed):
        return p_same, p_other
    model = faceid_model(scenario)
    n = int(counts.sum())
    for g, name in enumerate(scenario.population.groups):
        q = model.same_group_share(name)
        size = int(counts[g]) if g < counts.size else 0
        if size < 2 or n - size < 1:  # no one else in the group, or no other group
            p_same[0, g] = 0.0
            continue
        base = (size - 1) / (n - 1)
        p_same[0, g] = (q - base) / (1.0 - base) if q >= base else 0.0
        p_other[0, g] = 0.0 if q >= base else 1.0 - q / base
    return p_same, p_other


@njit(cache=True, **KERNEL)
def _identify_kernel(
    key: np.uint64,
    side: np.uint64,
    actors: np.ndarray,
    ordinal: np.ndarray,
    kinds: np.ndarray,
    chan: np.ndarray,
    group: np.ndarray,
    offset: int,
    rates: np.ndarray,
    cum_quality: np.ndarray,
    wrong_person: np.ndarray,
    p_same: np.ndarray,
    p_other: np.ndarray,
    members: np.ndarray,
    member_start: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Outcome code and attributed citizen (-1 when missed) per detection.

    `key` and `side` are today's keys of the IDENTIFY and FACEID_QUALITY streams, computed
    by the caller (the kernel calls no stream_key: less to compile). Each detection's
    draws are keyed by its act (actor and ordinal, `event_key`), never by its position in
    the day's list, so they do not depend on which shard identifies it. Of the act's
    IDENTIFY draws, 0 is the outcome and 1 the uniform pick of a wrongful target; of its
    FACEID_QUALITY draws, 0 the image quality, 1 the choice of group, 2, 3, ... the group
    member. `group` holds the citizens' from global id `offset` on.
    """
    m = actors.size
    outcome = np.empty(m, dtype=np.uint8)
    target = np.empty(m, dtype=np.int32)
    for e in range(m):
        i = actors[e]
        ek = event_key(key, i, ordinal[e])
        sk = event_key(side, i, ordinal[e])
        g = group[i - offset] if group.size > 0 else 0
        if chan[e] == CAMERA:
            q = 0
            n_q = cum_quality.shape[1]
            if n_q > 1:
                k = kinds[e]
                v = uniform(sk, np.uint64(0))
                while q < n_q - 1 and v >= cum_quality[k, q]:
                    q += 1
            o = identify_fixed(uniform(ek, np.uint64(0)), rates[q, g, MISSED], rates[q, g, WRONG])
        else:
            o = WRONG if uniform(ek, np.uint64(0)) < wrong_person[chan[e]] else CORRECT
        outcome[e] = o
        if o == MISSED:
            target[e] = -1
        elif o == WRONG:
            size = member_start[g + 1] - member_start[g] if members.size > 0 else 0
            j = -1
            ps = p_same[chan[e], g]
            po = p_other[chan[e], g]
            if size > 1 or po > 0:
                v = uniform(sk, np.uint64(1))
                if size > 1 and v < ps:
                    # a member of the actor's group other than the actor: rejection; 64
                    # failures in a row have probability <= 2^-64 and fall back to anyone
                    for t in range(64):
                        u = uniform(sk, np.uint64(2 + t))
                        pick = members[member_start[g] + np.int64(u * size)]
                        if pick != i:
                            j = pick
                            break
                elif v >= ps and v < ps + po and members.size > size:
                    # a member of another group: members are sorted by group, so skip
                    # the actor's block [member_start[g], member_start[g + 1])
                    k = np.int64(uniform(sk, np.uint64(2)) * (members.size - size))
                    if k >= member_start[g]:
                        k += size
                    j = members[k]
            if j >= 0:
                target[e] = j
            else:
                j = np.int64(uniform(ek, np.uint64(1)) * (n - 1))
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
    # keyed by act; a false match may name anyone (`Record` routes it); with groups, a
    # shard indexes the national members of each group, redrawn from their keyed streams
    shards = True

    @classmethod
    def needs(cls, scenario: Scenario, **kwargs: object) -> set[str]:
        """Groups, when error rates or false-match targets depend on them."""
        return {"group"} if uses_groups(scenario) else set()

    def __init__(self, sim: Any) -> None:
        """Compute the outcome rates once and index groups for same-group false matches.

        Rates that are dated schedules are precomputed per day; the tables the kernel reads
        are updated in place only on the days one of them changes.
        """
        super().__init__(sim)
        scenario = sim.scenario
        group = sim.need("group") if uses_groups(scenario) else None
        s = scenario.surveillance
        run = scenario.run
        self.rates, self.cum_quality, self.qualities = rate_table(scenario)
        self.wrong_person = np.array(
            [0.0, *(value_on(c.wrong_person, run.start, 0) for c in s.channels.values())],
            dtype=np.float64,
        )
        fixed = isinstance(s.faceid, FaceIdFixed)
        self.p_miss = Daily(s.faceid.p_miss, run.start, run.days) if fixed else None
        self.p_wrong = Daily(s.faceid.p_wrong, run.start, run.days) if fixed else None
        self.wrong_daily = [Daily(c.wrong_person, run.start, run.days) for c in s.channels.values()]
        self.same_share = Daily(s.faceid.same_group_share, run.start, run.days)
        self.same_rows = 0 if fixed else 1  # in scores mode row 0 (cameras) is the model's
        dated = [self.p_miss, self.p_wrong, *self.wrong_daily, self.same_share]
        self.dated = [d for d in dated if d is not None and not d.constant]
        self._next_day = 0  # a first step on another day (a resumed run) refreshes
        self.n = scenario.population.size
        self.group = group if group is not None else np.empty(0, dtype=np.uint8)
        n_groups = len(scenario.population.groups)
        national = self.group
        if group is not None and self.group.size != self.n:
            # a shard: the whole population's groups (drawn per chunk from keyed streams,
            # as the population module draws them), for the group sizes and the members
            national = demographics(scenario.population, sim.seed, 0, self.n).group
        counts = np.bincount(national, minlength=n_groups)
        self.p_same, self.p_other = attribution_tables(scenario, counts)
        same_ever = max(self.p_same.max(), self.p_other.max(), self.same_share.peak)
        if same_ever > 0 and self.group.size > 0:
            # global ids by group (ascending within each): the same list in every shard
            self.members = np.argsort(national, kind="stable").astype(np.int32)
            self.member_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        else:
            self.members = np.empty(0, dtype=np.int32)
            self.member_start = np.zeros(2, dtype=np.int64)
        self.seed = scenario.run.seed
        self.offset = sim.lo  # global id of group[0] (a shard's first citizen; else 0)

    def columns(self) -> list[Column]:
        """Face searches that named nobody."""
        return [
            Column("missed", agg="sum", unit="acts", label="searches that named nobody", order=3)
        ]

    def values(self, ctx: DayContext) -> dict[str, float]:
        """Today's misses."""
        return {"missed": int((ctx.outcome == MISSED).sum())}

    def _refresh(self, day: int) -> None:
        """Today's values of the dated rates, written into the kernel's tables."""
        if self.p_miss is not None and self.p_wrong is not None:
            set_fixed_rates(self.rates, self.p_miss.at(day), self.p_wrong.at(day))
        for k, d in enumerate(self.wrong_daily):
            self.wrong_person[1 + k] = d.at(day)
        self.p_same[self.same_rows :, :] = self.same_share.at(day)

    def step(self, ctx: DayContext) -> None:
        """Outcome codes and attributed ids for the detected acts."""
        fresh = ctx.day != self._next_day
        self._next_day = ctx.day + 1
        if self.dated and (fresh or any(d.changes_on(ctx.day) for d in self.dated)):
            self._refresh(ctx.day)
        ctx.outcome, ctx.target = _identify_kernel(
            np.uint64(streams.stream_key(self.seed, streams.IDENTIFY, ctx.day, 0)),
            np.uint64(streams.stream_key(self.seed, streams.FACEID_QUALITY, ctx.day, 0)),
            ctx.seen_actors,
            ctx.seen_ordinal,
            ctx.seen_kinds,
            ctx.channel,
            self.group,
            self.offset,
            self.rates,
            self.cum_quality,
            self.wrong_person,
            self.p_same,
            self.p_other,
            self.members,
            self.member_start,
            self.n,
        )
