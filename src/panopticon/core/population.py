"""Synthetic citizens: propensities derived from each id, never stored per citizen.

Citizens are split into fixed logical blocks of `BLOCK` consecutive ids. Within a block,
a keyed bijection of the local ids 0..4095 (`local_rank`, four Feistel rounds) gives
every citizen a rank r, and a counter-based stream keyed by the block (the local id as
its counter) its own uniform v; its propensity is the Gamma(shape, mean 1) quantile of
u = (r + v) / 4096. Marginally u is uniform on [0, 1), so g is Gamma-distributed; within
a block the ranks stratify the draws (one citizen per 1/4096 of probability), which lets
the day's acts be drawn without any per-citizen table:

- the *body* strata r = 0..4094 have the same envelope e_r = Q((r + 1) / 4096) in every
  block, so one alias table over them serves every block, and a candidate in stratum r
  is kept with probability g / e_r (thinning: 99.8% of candidates are kept at shape
  0.5; a squeeze decides 99.7% of them without deriving g);
- the *top* stratum r = 4095 (unbounded) is one citizen per block whose propensity is
  kept per block (`top_g`).

In the last, partial block of m < 4096 citizens the ranks of the local ids m..4095 are
empty slots: a candidate there is dropped, which keeps one code path for every block.

The quantile Q on the body strata is a table of `KNOTS` + 1 points (SciPy's Gamma
quantile at u = k / 2^16, up to 1 - 2^-12) interpolated linearly: the model's propensity
is that piecewise-linear quantile, within ~1e-6 of the Gamma in mean. The top stratum uses
the exact upper-tail quantile. Per-block data: 28 bytes per 4,096 citizens. The block
size is a constant of the model (not of the machine): a run gives the same bytes on any
thread count.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit
from scipy import special

from panopticon.core import streams
from panopticon.core.jit import HELPER, KERNEL
from panopticon.scenario.schema import Population as PopulationParams

BLOCK = 4096
CHUNK = 1 << 20  # citizens per vectorised set-up chunk (a multiple of BLOCK)
KNOTS = 1 << 16  # quantile table resolution on [0, 1)
TABLE_TOP = KNOTS - KNOTS // BLOCK  # last knot: u = 1 - 1 / BLOCK, the highest body bound
MARGIN = 2.0**-40  # relative margin of the squeeze bounds (far above rounding, ~2^-52)
PERMUTE_DAY = 0  # stream (seed, POPULATION, day, block) of the block's rank bijection
UNIFORM_DAY = 1  # stream of the citizens' own uniforms v (counter: local id)


@dataclass
class Population:
    """Per-block data of the citizens (their propensities are derived, not stored).

    `strata_*` are over the body strata 0..BLOCK-2 of a block, the same for every block
    (alias keep-probability, alias, envelope e_r = Q((r + 1) / BLOCK), squeeze).
    """

    size: int
    top_g: np.ndarray  # float64[n_blocks]: the top-rank citizen's propensity (0: no citizen)
    top_j: np.ndarray  # int32[n_blocks]: that citizen's local id
    perm_key: np.ndarray  # uint64[n_blocks]: key of the block's rank bijection
    v_key: np.ndarray  # uint64[n_blocks]: key of the block's per-citizen uniforms
    strata_prob: np.ndarray  # float64[BLOCK - 1]
    strata_alias: np.ndarray  # int32[BLOCK - 1]
    strata_env: np.ndarray  # float64[BLOCK - 1]
    strata_low: np.ndarray  # float64[BLOCK - 1]: Q(r / BLOCK) / e_r, less a margin
    strata_total: float  # sum of the envelope over the body strata
    table: np.ndarray  # float64[TABLE_TOP + 1]: Q(k / KNOTS)
    propensity_max: float

    @property
    def n_blocks(self) -> int:
        """Number of logical blocks."""
        return len(self.top_g)

    def nbytes(self) -> int:
        """Resident bytes that grow with the population: the per-block arrays (28 B each).

        The shared tables (`table`, `strata_*`: 0.6 MiB whatever the size) are not counted:
        they are a constant of the shape, not state of the citizens.
        """
        return sum(a.nbytes for a in (self.top_g, self.top_j, self.perm_key, self.v_key))


@lru_cache(maxsize=8)
def quantile_table(shape: float) -> np.ndarray:
    """Q(k / KNOTS) for k = 0..TABLE_TOP: the Gamma(shape, mean 1) quantile at the knots."""
    u = np.arange(TABLE_TOP + 1, dtype=np.float64) / KNOTS
    table = special.gammaincinv(shape, u) / shape
    table[0] = 0.0
    table = np.maximum.accumulate(table)  # monotone whatever SciPy's last bits
    table.setflags(write=False)
    return table


def tail_quantile(shape: float, q: np.ndarray) -> np.ndarray:
    """The Gamma(shape, mean 1) value exceeded with probability q (the top strata)."""
    return special.gammainccinv(shape, q) / shape


@njit(cache=True, **HELPER)
def _round(key: np.uint64, i: int, half: int) -> int:
    """Feistel round function: 6 key-dependent bits of a 6-bit half."""
    z = streams.mix64(key + np.uint64(half + 64 * i) * streams.GOLDEN)
    return np.int64(z & np.uint64(63))


@njit(cache=True, **KERNEL)
def local_id(key: np.uint64, rank: int) -> int:
    """The local id (0..4095) holding rank `rank` in its block: a keyed bijection.

    Four Feistel rounds on 6-bit halves (a loop, which LLVM unrolls). In a partial block
    of m citizens the ranks of the ids m..4095 are empty slots (no citizen).
    """
    left, right = rank >> 6, rank & 63
    for r in range(4):  # one call site (typed once); LLVM unrolls the loop
        if r % 2 == 0:
            left ^= _round(key, r, right)
        else:
            right ^= _round(key, r, left)
    return (left << 6) | right


@njit(cache=True, **KERNEL)
def local_rank(key: np.uint64, j: int) -> int:
    """The rank of local id j (the inverse of `local_id`)."""
    left, right = j >> 6, j & 63
    for r in range(3, -1, -1):  # `local_id`'s rounds undone in reverse order
        if r % 2 == 0:
            left ^= _round(key, r, right)
        else:
            right ^= _round(key, r, left)
    return (left << 6) | right


@njit(cache=True, **KERNEL)
def body_quantile(table: np.ndarray, u: float) -> float:
    """The table quantile at u (linear between knots): a body stratum's propensity."""
    x = u * KNOTS
    k = np.int64(x)
    if k >= table.size - 1:
        k = table.size - 2
    f = x - k
    return table[k] + f * (table[k + 1] - table[k])


def _block_keys(seed: int, n_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Per block: the key of its rank bijection and of its citizens' uniforms.

    NumPy, not a kernel: one key per 4,096 citizens is cheap to compute and compiling it
    would cost the first run more than every later run spends on it.
    """
    blocks = np.arange(n_blocks, dtype=np.int64)
    perm = streams.stream_keys(seed, streams.POPULATION, PERMUTE_DAY, blocks)
    v = streams.stream_keys(seed, streams.POPULATION, UNIFORM_DAY, blocks)
    return perm, v


def _round_array(key: np.ndarray, i: int, half: np.ndarray) -> np.ndarray:
    """`_round` for arrays of keys and halves (int64 results)."""
    z = streams.mix64_array(key + (half.astype(np.uint64) + np.uint64(64 * i)) * streams.GOLDEN)
    return (z & np.uint64(63)).astype(np.int64)


def _local_id_array(key: np.ndarray, rank: int) -> np.ndarray:
    """`local_id(key[b], rank)` for each key (NumPy)."""
    left = np.full(key.size, rank >> 6, dtype=np.int64)
    right = np.full(key.size, rank & 63, dtype=np.int64)
    left ^= _round_array(key, 0, right)
    right ^= _round_array(key, 1, left)
    left ^= _round_array(key, 2, right)
    right ^= _round_array(key, 3, left)
    return (left << 6) | right


def _tops(size: int, perm_key: np.ndarray, v_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per block: the local id of its top rank and that citizen's tail q (NaN: none)."""
    n_blocks = perm_key.size
    j = _local_id_array(perm_key, BLOCK - 1)
    v = streams.uniform_from_bits(streams.mix64_array(v_key + j.astype(np.uint64) * streams.GOLDEN))
    q = np.where(np.arange(n_blocks, dtype=np.int64) * BLOCK + j < size, (1.0 - v) / BLOCK, np.nan)
    return j.astype(np.int32), q


@lru_cache(maxsize=8)
def _strata_cached(shape: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """`_strata` of the quantile table of `shape` (computed once per shape and process)."""
    return _strata(quantile_table(shape))


def _strata(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Alias table (keep-probability, alias), envelope, squeeze and the envelope's sum.

    NumPy and plain Python floats (IEEE doubles, the same operations in the same order as
    the kernel this replaces, so the same bits): 4,095 strata take milliseconds.
    """
    k = BLOCK - 1
    step = KNOTS // BLOCK
    env = table[step : (k + 1) * step : step].astype(np.float64)  # Q((r + 1) / BLOCK)
    low = np.zeros(k, dtype=np.float64)
    pos = env > 0.0
    low[pos] = table[0 : k * step : step][pos] / env[pos] * (1.0 - MARGIN)
    total = 0.0
    for e in env.tolist():  # a sequential sum, as the kernel's loop
        total += e
    scaled = (env * k / total).tolist()
    prob = np.ones(k, dtype=np.float64)
    alias = np.arange(k, dtype=np.int32)
    small = [r for r in range(k) if scaled[r] < 1.0]
    large = [r for r in range(k) if scaled[r] >= 1.0]
    while small and large:
        s = small.pop()
        g = large[-1]
        prob[s] = scaled[s]
        alias[s] = g
        scaled[g] = (scaled[g] + scaled[s]) - 1.0
        if scaled[g] < 1.0:
            large.pop()
            small.append(g)
    return prob, alias, env, low, total


def build(params: PopulationParams, seed: int) -> Population:
    """The per-block data: block keys, top citizens' propensities and the strata tables.

    Work and memory grow with the number of blocks (n / 4,096), never with n.
    """
    n = params.size
    n_blocks = (n + BLOCK - 1) // BLOCK
    shape = params.propensity.shape
    table = quantile_table(shape)
    perm_key, v_key = _block_keys(seed, n_blocks)
    top_j, q = _tops(n, perm_key, v_key)
    top_g = np.zeros(n_blocks, dtype=np.float64)
    present = ~np.isnan(q)
    top_g[present] = tail_quantile(shape, q[present])
    prob, alias, env, low, total = _strata_cached(shape)
    # copies: the cached arrays stay unchanged whatever a caller does with these (writable,
    # as before, so kernels see the array types they were compiled for)
    prob, alias, env, low = prob.copy(), alias.copy(), env.copy(), low.copy()
    return Population(
        size=n,
        top_g=top_g,
        top_j=top_j,
        perm_key=perm_key,
        v_key=v_key,
        strata_prob=prob,
        strata_alias=alias,
        strata_env=env,
        strata_low=low,
        strata_total=float(total),
        table=table,
        propensity_max=max(float(top_g.max()), float(table[TABLE_TOP])),
    )


@njit(cache=True, **KERNEL)
def _derive(
    start: int, stop: int, perm_key: np.ndarray, v_key: np.ndarray, table: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Body propensities of ids start..stop-1 (NaN for the top ranks, whose q is given)."""
    out = np.empty(stop - start, dtype=np.float64)
    q = np.full(stop - start, np.nan)
    for i in range(start, stop):
        b = i // BLOCK
        j = i - b * BLOCK
        r = local_rank(perm_key[b], j)
        v = streams.uniform(v_key[b], np.uint64(j))
        if r < BLOCK - 1:
            out[i - start] = body_quantile(table, (r + v) / BLOCK)
        else:
            out[i - start] = np.nan
            q[i - start] = (1.0 - v) / BLOCK
    return out, q


def draw_propensity(params: PopulationParams, seed: int, start: int, stop: int) -> np.ndarray:
    """Propensities g_i ~ Gamma(shape, mean 1) of ids start..stop-1, derived from each id.

    A pure function of (seed, id): the value the day loop's thinning uses. Memory grows
    with stop - start only.
    """
    perm_key, v_key = _block_keys(seed, max(start, stop - 1) // BLOCK + 1)
    out, q = _derive(start, stop, perm_key, v_key, quantile_table(params.propensity.shape))
    top = ~np.isnan(q)
    if top.any():
        out[top] = tail_quantile(params.propensity.shape, q[top])
    return out


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
