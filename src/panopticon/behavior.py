"""Behave: the day's acts, drawn by thinning against the static block alias tables.

Citizen i commits Poisson(g_i * R * d_i) acts a day, where g_i is the propensity, R the
sum of the behaviour rates and d_i the deterrence multiplier (1 = undeterred). Candidate
acts are drawn at the undeterred rate g_i * R (a static alias table per block) and each
is kept with probability d_i, which is exactly Poisson(g_i * R * d_i). The behaviour of a
kept act is drawn by rate share. Cost grows with acts, not with population x days.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from panopticon import streams
from panopticon.population import BLOCK, Population
from panopticon.scenario import Scenario


@njit(cache=True, parallel=True)
def _behave_kernel(
    seed: int,
    day: int,
    rate: float,
    prob: np.ndarray,
    alias: np.ndarray,
    block_weight: np.ndarray,
    cum_share: np.ndarray,
    deterrence: np.ndarray,
    committed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Acts of one day as (actor, behaviour) arrays, in block order."""
    n = prob.size
    n_blocks = block_weight.size
    n_kinds = cum_share.size
    counts = np.empty(n_blocks, dtype=np.int64)
    for b in prange(n_blocks):
        key = streams.stream_key(seed, streams.BEHAVE, day, b)
        counts[b], _ = streams.poisson(key, np.uint64(0), rate * block_weight[b])
    offsets = np.zeros(n_blocks + 1, dtype=np.int64)
    for b in range(n_blocks):
        offsets[b + 1] = offsets[b] + counts[b]
    actor = np.empty(offsets[n_blocks], dtype=np.int32)
    kind = np.empty(offsets[n_blocks], dtype=np.uint8)
    kept = np.zeros(n_blocks, dtype=np.int64)
    for b in prange(n_blocks):
        key = streams.stream_key(seed, streams.BEHAVE, day, b)
        k, c = streams.poisson(key, np.uint64(0), rate * block_weight[b])
        lo = b * BLOCK
        m = min(lo + BLOCK, n) - lo
        out = offsets[b]
        for _ in range(k):
            u = streams.uniform(key, c) * m
            c += np.uint64(1)
            slot = int(u)
            if u - slot >= prob[lo + slot]:
                slot = int(alias[lo + slot])
            i = lo + slot
            if deterrence[i] < 1.0:
                if streams.uniform(key, c) >= deterrence[i]:
                    c += np.uint64(1)
                    continue
                c += np.uint64(1)
            kk = 0
            if n_kinds > 1:
                v = streams.uniform(key, c)
                c += np.uint64(1)
                while kk < n_kinds - 1 and v >= cum_share[kk]:
                    kk += 1
            committed[i] += 1
            actor[out] = i
            kind[out] = kk
            out += 1
        kept[b] = out - offsets[b]
    total = 0
    for b in range(n_blocks):
        total += kept[b]
    actor_out = np.empty(total, dtype=np.int32)
    kind_out = np.empty(total, dtype=np.uint8)
    pos = 0
    for b in range(n_blocks):
        s = offsets[b]
        for j in range(kept[b]):
            actor_out[pos] = actor[s + j]
            kind_out[pos] = kind[s + j]
            pos += 1
    return actor_out, kind_out


class Behave:
    """Stage 1: who commits which acts today. Owns `committed` and `deterrence`."""

    name = "behave"

    def __init__(self, scenario: Scenario, population: Population, count_dtype: type) -> None:
        """Set up the catalog's rates and the per-citizen state this stage owns."""
        rates = np.array([b.rate for b in scenario.behaviors.values()], dtype=np.float64)
        self.total_rate = float(rates.sum())
        shares = rates / self.total_rate if self.total_rate > 0 else np.ones_like(rates)
        self.cum_share = np.cumsum(shares)
        self.cum_share[-1] = 1.0
        self.population = population
        self.committed = np.zeros(population.size, dtype=count_dtype)
        self.deterrence = np.ones(population.size, dtype=np.float32)
        self.seed = scenario.run.seed

    def step(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """The day's acts: (actor ids, behaviour indices), using deterrence at day start."""
        p = self.population
        return _behave_kernel(
            self.seed,
            day,
            self.total_rate,
            p.alias_prob,
            p.alias_index,
            p.block_weight,
            self.cum_share,
            self.deterrence,
            self.committed,
        )


@njit(cache=True)
def _deter_kernel(target: np.ndarray, factor: float, floor: float, d: np.ndarray) -> None:
    """d_j = max(floor, d_j * factor) once per record against j."""
    for r in range(target.size):
        j = target[r]
        d[j] = max(floor, d[j] * factor)


class Adapt:
    """Stage 7: specific deterrence. Each record against j lowers j's rate multiplier.

    Applied after the day's behaviour, so acts always use d as it was at day start.
    """

    name = "adapt"

    def __init__(self, scenario: Scenario, deterrence: np.ndarray) -> None:
        """Share the deterrence array owned by `Behave`."""
        self.factor = np.float32(scenario.response.deterrence)
        self.floor = np.float32(scenario.response.deterrence_floor)
        self.deterrence = deterrence
        self.active = scenario.response.deterrence < 1.0

    def step(self, target: np.ndarray) -> None:
        """Lower the multiplier of everyone with a record today."""
        if self.active:
            _deter_kernel(target, self.factor, self.floor, self.deterrence)
