"""Synthetic citizens: propensities and the per-block alias tables that sample them.

Citizens are split into fixed logical blocks of `BLOCK` consecutive ids. Each block
carries an alias table over its citizens' propensities, so the engine can draw the day's
candidate acts for a block in time proportional to the number of acts, touching only that
block's memory. The block size is a constant of the model (not of the machine): a run
gives the same bytes on any thread count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from panopticon.core import streams
from panopticon.scenario.schema import Population as PopulationParams

BLOCK = 4096
CHUNK = 1 << 20  # citizens per vectorised set-up chunk (a multiple of BLOCK)


@dataclass
class Population:
    """Columnar citizens: alias tables per block and each block's total propensity."""

    size: int
    alias_prob: np.ndarray  # float32[size]: keep slot with this probability
    alias_index: np.ndarray  # uint16[size]: block-local id to take otherwise
    block_weight: np.ndarray  # float64[n_blocks]: sum of propensities in the block
    propensity_max: float

    @property
    def n_blocks(self) -> int:
        """Number of logical blocks."""
        return len(self.block_weight)

    def nbytes(self) -> int:
        """Resident bytes of the population arrays."""
        return self.alias_prob.nbytes + self.alias_index.nbytes + self.block_weight.nbytes


def draw_propensity(params: PopulationParams, seed: int, start: int, stop: int) -> np.ndarray:
    """Propensities g_i ~ Gamma(shape, mean 1) for ids start..stop-1, reproducible per id.

    Drawn chunk by chunk from counter-based generators keyed by (seed, chunk), so the
    value for a citizen depends only on the seed and the id.
    """
    shape = params.propensity.shape
    out = np.empty(stop - start, dtype=np.float64)
    first, last = start // CHUNK, (stop - 1) // CHUNK
    for chunk in range(first, last + 1):
        lo, hi = chunk * CHUNK, min((chunk + 1) * CHUNK, params.size)
        rng = streams.population_rng(seed, streams.POPULATION, chunk)
        values = rng.gamma(shape, 1.0 / shape, size=hi - lo)
        a, b = max(lo, start), min(hi, stop)
        out[a - start : b - start] = values[a - lo : b - lo]
    return out


@njit(cache=True)
def _build_alias(weights: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vose alias tables per block of `block` citizens (block-local uint16 indices)."""
    n = weights.size
    n_blocks = (n + block - 1) // block
    prob = np.empty(n, dtype=np.float32)
    alias = np.empty(n, dtype=np.uint16)
    totals = np.empty(n_blocks, dtype=np.float64)
    for b in prange(n_blocks):
        lo = b * block
        hi = min(lo + block, n)
        m = hi - lo
        total = 0.0
        for i in range(lo, hi):
            total += weights[i]
        totals[b] = total
        scaled = np.empty(m, dtype=np.float64)
        small = np.empty(m, dtype=np.int64)
        large = np.empty(m, dtype=np.int64)
        ns = 0
        nl = 0
        for k in range(m):
            alias[lo + k] = k
            scaled[k] = weights[lo + k] * m / total if total > 0 else 1.0
            if scaled[k] < 1.0:
                small[ns] = k
                ns += 1
            else:
                large[nl] = k
                nl += 1
        while ns > 0 and nl > 0:
            ns -= 1
            s = small[ns]
            g = large[nl - 1]
            prob[lo + s] = scaled[s]
            alias[lo + s] = g
            scaled[g] = (scaled[g] + scaled[s]) - 1.0
            if scaled[g] < 1.0:
                nl -= 1
                small[ns] = g
                ns += 1
        for k in range(nl):
            prob[lo + large[k]] = 1.0
        for k in range(ns):
            prob[lo + small[k]] = 1.0
    return prob, alias, totals


def build(params: PopulationParams, seed: int) -> Population:
    """Draw every citizen's propensity and build the block alias tables."""
    weights = draw_propensity(params, seed, 0, params.size)
    prob, alias, totals = _build_alias(weights, BLOCK)
    return Population(params.size, prob, alias, totals, float(weights.max()))


@dataclass
class Demographics:
    """Group, region and age of a range of citizens (uint8 codes, in catalog order)."""

    group: np.ndarray
    region: np.ndarray
    age: np.ndarray


def _categorical(rng: np.random.Generator, shares: list[float], size: int) -> np.ndarray:
    """Codes 0..k-1 drawn with the given shares, as uint8."""
    cum = np.cumsum(shares)
    cum[-1] = 1.0
    return np.searchsorted(cum, rng.random(size), side="right").astype(np.uint8)


def demographics(params: PopulationParams, seed: int, start: int, stop: int) -> Demographics:
    """Group, region and age of ids start..stop-1, reproducible per id from the seed.

    Drawn from their own counter-based streams (not the propensity's), chunk by chunk,
    so any range can be regenerated on demand without storing it.
    """
    from panopticon.scenario.schema import parse_band

    n = stop - start
    group = np.empty(n, dtype=np.uint8)
    region = np.empty(n, dtype=np.uint8)
    age = np.empty(n, dtype=np.uint8)
    bands = [parse_band(k) for k in params.age_bands]
    lows = np.array([b[0] for b in bands])
    widths = np.array([b[1] - b[0] + 1 for b in bands])
    for chunk in range(start // CHUNK, (stop - 1) // CHUNK + 1):
        lo, hi = chunk * CHUNK, min((chunk + 1) * CHUNK, params.size)
        rng = streams.population_rng(seed, streams.DEMOGRAPHICS, chunk)
        g = _categorical(rng, [v.share for v in params.groups.values()], hi - lo)
        r = _categorical(rng, [v.share for v in params.regions.values()], hi - lo)
        band = _categorical(rng, list(params.age_bands.values()), hi - lo)
        a = lows[band] + np.floor(rng.random(hi - lo) * widths[band]).astype(np.int64)
        x, y = max(lo, start), min(hi, stop)
        sl_out, sl_in = slice(x - start, y - start), slice(x - lo, y - lo)
        group[sl_out], region[sl_out], age[sl_out] = g[sl_in], r[sl_in], a[sl_in]
    return Demographics(group, region, age)
