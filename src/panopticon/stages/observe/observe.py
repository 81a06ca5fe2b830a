"""Observe: which of the day's acts are recorded by which channel, and when.

Channels are the camera network and, where a scenario defines them, transaction,
court, online-platform and informant records. Each behaviour lists the channels that
can record it; they are tried in that order and the first that detects the act makes
the record (at most one record per act). Cameras only see acts in public places
(street, transport, venue); the chance follows from the camera model (see `Camera` in
`scenario/schema.py`). Each channel has its own switch (`surveillance.camera.enabled`,
`surveillance.channels.<name>.enabled`): a disabled channel is left out of every
behaviour's order and records nothing, while the others record as before (their random
draws are keyed by channel and act, so removing one changes no other channel's draws).
With every channel off nothing is recorded: the unwatched baseline.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from panopticon.core import streams
from panopticon.core.jit import HELPER, KERNEL, PARALLEL_FROM, sized_kernel, uniform
from panopticon.core.module import Column, DayContext, Module, Phase
from panopticon.core.params import Daily
from panopticon.core.population import BLOCK
from panopticon.core.registry import register
from panopticon.core.streams import event_key
from panopticon.scenario.schema import PUBLIC_PLACES, Camera, Scenario

SHIFT = BLOCK.bit_length() - 1  # id >> SHIFT: the id's block
CAMERA = 0  # channel code of the camera channel in the record log
NO_CHANNEL = 255


def cameras_on(camera: Camera, day: int, start_date: date) -> float:
    """National camera count on day `day` of a run from `start_date` (linear in between)."""
    if not camera.rollout:
        return 0.0
    start = start_date.toordinal()
    xs = np.array([date.fromisoformat(k).toordinal() for k in camera.rollout], dtype=float)
    ys = np.array(list(camera.rollout.values()), dtype=float)
    return float(np.interp(start + day, xs, ys))


def region_density(scenario: Scenario) -> np.ndarray:
    """Relative camera density per region, normalised to a population-weighted mean of 1."""
    regions = scenario.population.regions.values()
    raw = np.array([r.camera_density for r in regions], dtype=float)
    shares = np.array([r.share for r in regions], dtype=float)
    mean = float((raw * shares).sum())
    return raw / mean if mean > 0 else raw


def camera_chance(scenario: Scenario, day: int) -> np.ndarray:
    """P(an act of behaviour k by someone in region r is seen by a camera), shape (K, R)."""
    cam = scenario.surveillance.camera
    places = [b.place for b in scenario.behaviors.values()]
    public = np.array([p in PUBLIC_PLACES for p in places])
    n_regions = len(scenario.population.regions)
    if cam.model == "fixed":
        chance = np.where(public, cam.coverage, 0.0)[:, None].repeat(n_regions, axis=1)
    else:
        per_person = cameras_on(cam, day, scenario.run.start) / cam.national_population
        sens = np.array([cam.sensitivity.get(p, 0.0) for p in places])
        chance = 1.0 - np.exp(-np.outer(sens, region_density(scenario) * per_person))
    return np.ascontiguousarray(chance, dtype=np.float64)


def day_keys(seed: int, day: int, n_channels: int) -> np.ndarray:
    """Today's stream key per channel code (uint64): cameras', then each other channel's.

    Computed here, once a day, so that the kernel takes keys, not the seed: it calls no
    other kernel, which keeps its compile time down.
    """
    keys = [streams.stream_key(seed, streams.OBSERVE, day, 0)]
    keys += [streams.stream_key(seed, streams.CHANNELS, day, c) for c in range(1, n_channels)]
    return np.array(keys, dtype=np.uint64)


@njit(cache=True, **KERNEL)
def _ordinals(actors: np.ndarray) -> tuple[np.ndarray, bool]:
    """Each act's number among its actor's acts so far in the list; False if unusable.

    The acts of one citizen lie in its block of 4,096 and `Behave` lists blocks in
    ascending order, so one 4,096-slot tally per block suffices; a list whose blocks
    descend somewhere returns False.
    """
    n = actors.size
    out = np.zeros(n, dtype=np.uint32)
    tally = np.zeros(BLOCK, dtype=np.uint32)
    block, start = np.int64(-1), 0
    for e in range(n):
        i = np.int64(actors[e])
        b = i >> SHIFT
        if b != block:
            if b < block:
                return out, False
            for t in range(start, e):
                tally[np.int64(actors[t]) & (BLOCK - 1)] = 0
            block, start = b, e
        j = i & (BLOCK - 1)
        out[e] = tally[j]
        tally[j] += 1
    return out, True


def act_ordinals(actors: np.ndarray) -> np.ndarray:
    """Each act's number (0, 1, ...) among the acts of its actor listed before it today."""
    out, ok = _ordinals(actors)
    if ok:
        return out
    order = np.argsort(actors, kind="stable")
    sorted_ids = actors[order]
    first = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    rank = np.arange(actors.size) - np.repeat(first, np.diff(np.r_[first, actors.size]))
    out = np.empty(actors.size, dtype=np.uint32)
    out[order] = rank
    return out


@njit(cache=True, **HELPER)
def _observe_range(
    keys: np.ndarray,
    actors: np.ndarray,
    ordinal: np.ndarray,
    kinds: np.ndarray,
    region: np.ndarray,
    offset: int,
    order: np.ndarray,
    cam_chance: np.ndarray,
    chan_chance: np.ndarray,
    lo: int,
    hi: int,
    seen: np.ndarray,
    chan: np.ndarray,
) -> int:
    """`_observe_kernel` on the acts lo..hi-1: their detections from slot `lo` on; the count.

    Every channel of an act's order is drawn (draws keyed by channel and act: a channel
    after the one that detects it changes nothing) and the first detection is chosen by
    arithmetic, then the act is written to the next slot whether or not it was
    detected: nothing branches on a draw (a branch on each detection, mispredicted at
    random, held up the acts after it: 2.4 against 1.9 ms a day at 10^7). A plain
    function, not the parallel loop's body, so that it compiles as tightly as a serial
    loop (as the body it ran slower in parallel than serially).
    """
    m = lo
    for e in range(lo, hi):
        k, a, o = kinds[e], actors[e], ordinal[e]
        r = region[a - offset] if region.size > 0 else 0
        h = np.int64(NO_CHANNEL)
        for j in range(order.shape[1]):
            c = np.int64(order[k, j])
            valid = c != NO_CHANNEL  # the order's unused places come last
            cs = c * np.int64(valid)
            p_c = cam_chance[k, r] if cs == CAMERA else chan_chance[cs]
            u = uniform(event_key(keys[cs], a, o), np.uint64(0))
            first = valid & (u < p_c) & (h == NO_CHANNEL)
            h += (c - h) * np.int64(first)
        seen[m] = e
        chan[m] = h
        m += np.int64(h != NO_CHANNEL)
    return m - lo


@sized_kernel(1)
def _observe_kernel(
    keys: np.ndarray,
    actors: np.ndarray,
    ordinal: np.ndarray,
    kinds: np.ndarray,
    region: np.ndarray,
    offset: int,
    order: np.ndarray,
    cam_chance: np.ndarray,
    chan_chance: np.ndarray,
    parts: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """(act index, channel code) of every act recorded by some channel today.

    `keys` holds today's stream key per channel code (`day_keys`); each act's draw is
    keyed by its actor and ordinal (`event_key`). `region` holds the citizens' from
    global id `offset` on (a shard's; 0 in one process). The acts are cut into `parts`
    consecutive ranges (one per thread in the parallel version) whose detections are
    joined in order: the same lists whatever `parts`.

    Each range is `_observe_range`'s.
    """
    n = actors.size
    seen = np.empty(n, dtype=np.int64)
    chan = np.empty(n, dtype=np.uint8)
    found = np.zeros(parts, dtype=np.int64)
    for p in prange(parts):
        lo, hi = n * p // parts, n * (p + 1) // parts
        found[p] = _observe_range(
            keys, actors, ordinal, kinds, region, offset, order, cam_chance, chan_chance,
            lo, hi, seen, chan,
        )  # fmt: skip
    total = 0
    for p in range(parts):  # join the ranges' detections, in order
        lo = n * p // parts
        for t in range(found[p]):
            seen[total + t] = seen[lo + t]
            chan[total + t] = chan[lo + t]
        total += found[p]
    return seen[:total], chan[:total]


@register
class Observe(Module):
    """Stage 2: the channels. Channel codes: 0 camera, then `surveillance.channels` in order.

    Provides ``channels`` (their names, by code) and ``delays`` (days from act to record).
    """

    name = "observe"
    phase = Phase.OBSERVE
    provides = ("channels", "delays")
    shards = True  # its draws are keyed by act (actor, ordinal), not by list position

    @classmethod
    def needs(cls, scenario: Scenario, **kwargs: object) -> set[str]:
        """Regions, when camera coverage differs between them."""
        return {"region"} if len(scenario.population.regions) > 1 else set()

    def __init__(self, sim: Any) -> None:
        """Build each behaviour's channel order and each channel's detection chance."""
        super().__init__(sim)
        scenario = sim.scenario
        s = scenario.surveillance
        self.scenario = scenario
        self.channels = ("camera", *s.channels)
        code = {name: i for i, name in enumerate(self.channels)}
        on = {"camera": s.camera.enabled, **{n: c.enabled for n, c in s.channels.items()}}
        width = max(1, max(len(b.channels) for b in scenario.behaviors.values()))
        self.order = np.full((len(scenario.behaviors), width), NO_CHANNEL, dtype=np.uint8)
        for k, beh in enumerate(scenario.behaviors.values()):
            for j, ch in enumerate(c for c in beh.channels if on[c]):
                self.order[k, j] = code[ch]
        self.enabled = bool((self.order != NO_CHANNEL).any())
        start, days = scenario.run.start, scenario.run.days
        self.detection = [Daily(c.detection, start, days) for c in s.channels.values()]
        self.chan_chance = np.array([0.0, *(d.first for d in self.detection)], dtype=np.float64)
        self._dated = [(j + 1, d) for j, d in enumerate(self.detection) if not d.constant]
        self.delay = np.array(
            [s.camera.delay_days, *(c.delay_days for c in s.channels.values())], dtype=np.int64
        )
        region = sim.need("region") if "region" in self.needs(scenario) else None
        self.region = region if region is not None else np.empty(0, dtype=np.uint8)
        self.seed = scenario.run.seed
        self.offset = sim.lo  # global id of region[0] (a shard's first citizen; else 0)
        self._static = scenario.surveillance.camera.model == "fixed"
        self._chance: np.ndarray | None = None
        # a large population's acts in one range per thread (the same lists for any)
        self.parts = numba.get_num_threads() if sim.size >= PARALLEL_FROM else 1
        sim.provide("channels", self.channels)
        sim.provide("delays", self.delay)

    def camera_chance(self, day: int) -> np.ndarray:
        """Today's camera detection chance per (behaviour, region)."""
        if self._chance is None or not self._static:
            self._chance = camera_chance(self.scenario, day)
        return self._chance

    def columns(self) -> list[Column]:
        """Acts detected by any channel."""
        return [
            Column(
                "observed", agg="sum", unit="acts", label="acts detected", headline=True, order=2
            )
        ]

    def values(self, ctx: DayContext) -> dict[str, float]:
        """Today's detections."""
        return {"observed": ctx.seen.size}

    def step(self, ctx: DayContext) -> None:
        """Which of today's acts are detected, and by which channel."""
        for code, detection in self._dated:  # scheduled detection: today's value
            self.chan_chance[code] = detection.at(ctx.day)
        ctx.ordinal = act_ordinals(ctx.actors)
        if self.enabled:
            kernel = _observe_kernel.parallel if self.parts > 1 else _observe_kernel.serial
            ctx.seen, ctx.channel = kernel(
                day_keys(self.seed, ctx.day, len(self.channels)),
                ctx.actors,
                ctx.ordinal,
                ctx.kinds,
                self.region,
                self.offset,
                self.order,
                self.camera_chance(ctx.day),
                self.chan_chance,
                self.parts,
            )
        ctx.seen_actors, ctx.seen_kinds = ctx.actors[ctx.seen], ctx.kinds[ctx.seen]
        ctx.seen_ordinal = ctx.ordinal[ctx.seen]
