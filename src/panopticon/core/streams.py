"""Counter-based random streams keyed by (seed, stage, day, block).

Every random number in a run is a pure function of its key and a counter: draw `n` of
stream (seed, stage, day, block) is ``mix64(key + n * GOLDEN)`` (SplitMix64 indexed by
its counter). Nothing depends on thread count, chunking or the order in which blocks are
processed, which is what makes a run byte-identical whether it uses one thread or many,
one process or many.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

# `jit.KERNEL`'s options (jit imports this module, so they are repeated here)
_KERNEL: dict[str, Any] = {"no_cfunc_wrapper": True, "error_model": "numpy"}

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0

# Stage identifiers: part of every stream key. Never renumber (it changes every run).
POPULATION = 1
BEHAVE = 2
OBSERVE = 3
IDENTIFY = 4
RECORD_SAMPLE = 5
DEMOGRAPHICS = 6
NETWORK = 7
DOSSIER = 8
APPEAL = 9
CHANNELS = 10
LISTS = 11
SANCTIONS = 12
FACEID_QUALITY = 13
BEHAVE_UNIFORM = 14
COURT = 15  # the court list of judgment defaulters (stages/sanction/court.py)
TRAITS = 108  # trait dimensions of factors scores (the value they were first drawn with)


@njit(cache=True, inline="always")
def mix64(z: np.uint64) -> np.uint64:
    """SplitMix64 finaliser: a bijective 64-bit mix with full avalanche."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, **_KERNEL)
def stream_key(seed: int, stage: int, day: int, block: int) -> np.uint64:
    """Key of the stream for (seed, stage, day, block)."""
    k = mix64(np.uint64(seed) + GOLDEN)
    k = mix64(k ^ (np.uint64(stage) * _M1))
    k = mix64(k ^ (np.uint64(day + 1) * _M2))
    k = mix64(k ^ (np.uint64(block + 1) * GOLDEN))
    return k


def mix64_array(z: np.ndarray) -> np.ndarray:
    """`mix64` of each element of a uint64 array (NumPy: the same bits, nothing compiled)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def uniform_from_bits(bits: np.ndarray) -> np.ndarray:
    """The uniforms on [0, 1) of `uniform` from the mixed bits (its last step, in NumPy)."""
    return (bits >> _S11).astype(np.int64).astype(np.float64) * _TWO_M53


def _as_u64(x: int | np.ndarray) -> np.ndarray:
    """Integers as uint64 arrays, wrapping negatives as Numba's `np.uint64(int64)` does."""
    return np.atleast_1d(np.asarray(x, dtype=np.int64)).astype(np.uint64)


def stream_keys(seed: int, stage: int, day: int, blocks: np.ndarray) -> np.ndarray:
    """`stream_key(seed, stage, day, b)` for each block b of an integer array, in NumPy.

    For set-up work called from Python (one key per block of 4,096 citizens), where
    compiling a kernel would cost more than the work.
    """
    k = mix64_array(_as_u64(seed) + GOLDEN)
    k = mix64_array(k ^ (_as_u64(stage) * _M1))
    k = mix64_array(k ^ (_as_u64(day + 1) * _M2))
    return mix64_array(k ^ ((_as_u64(blocks) + np.uint64(1)) * GOLDEN))


@njit(cache=True, no_cpython_wrapper=True, **_KERNEL)
def event_key(key: np.uint64, actor: int, ordinal: int) -> np.uint64:
    """Key of one act's own draws under stream `key`: keyed by (actor, ordinal), not order.

    An act is known by its actor and its number among the actor's acts of the day
    (`stages.observe.act_ordinals`), never by its index in the day's list, so its draws
    are the same whichever shard makes them and whatever other acts are listed with it.
    Called from kernels only (no Python wrapper: `jit.HELPER`'s options).
    """
    k = mix64(key + (np.uint64(actor) + np.uint64(1)) * GOLDEN)
    return mix64(k + (np.uint64(ordinal) + np.uint64(1)) * GOLDEN)


@njit(cache=True, **_KERNEL)
def uniform(key: np.uint64, counter: np.uint64) -> float:
    """Draw number `counter` of stream `key`, uniform on [0, 1) with 53 random bits.

    A called kernel, not inlined by Numba: inlining copies and types its IR again at every
    call site (about 0.1 s of compile time each); compiled once, it is linked into each
    caller and LLVM inlines it there, so the loops run as fast.
    """
    # the 53-bit value fits a signed int64, whose conversion to float is one instruction
    return float(np.int64(mix64(key + counter * GOLDEN) >> _S11)) * _TWO_M53


@njit(cache=True, **_KERNEL)
def poisson(key: np.uint64, counter: np.uint64, mean: float) -> tuple[int, np.uint64]:
    """Poisson(mean) by multiplying uniforms; returns (count, next counter).

    Exact for any mean: means above 500 are split into equal parts whose counts are
    summed, which keeps exp(-part) far from underflow. Cost grows with the mean, i.e.
    with the number of events drawn, never with the population.
    """
    total = 0
    if mean <= 0.0:
        return 0, counter
    parts = np.int64(mean // 500.0) + 1
    part = mean / parts
    limit = np.exp(-part)
    for _ in range(parts):
        prod = uniform(key, counter)
        counter += np.uint64(1)
        while prod > limit:
            total += 1
            prod *= uniform(key, counter)
            counter += np.uint64(1)
    return total, counter


def population_rng(seed: int, stage: int, chunk: int) -> np.random.Generator:
    """NumPy generator (Philox, counter-based) for vectorised set-up work on one chunk."""
    seq = np.random.SeedSequence(entropy=seed, spawn_key=(stage, chunk))
    return np.random.Generator(np.random.Philox(seq))


# ---- named streams: vectorised draws for on-demand work outside the day loop ----------
#
# A named stream is keyed by (seed, stage, a hash of a name, draw number); its counters
# are caller-chosen ids, so draw `i` is ``mix64(key + i * GOLDEN)`` as everywhere else.
# The dossier keys one stream per attribute name and uses the citizen id as the counter,
# which makes every value a pure function of (seed, name, id).


def name_hash(name: str) -> np.uint64:
    """64-bit hash of a stream name (BLAKE2b, little-endian): stable across processes."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


@njit(cache=True, **_KERNEL)
def _named_key(seed: int, stage: int, hashed: np.uint64, draw: int) -> np.uint64:
    """Key of draw `draw` of the stream whose name hashes to `hashed`."""
    k = mix64(np.uint64(seed) + GOLDEN)
    k = mix64(k ^ (np.uint64(stage) * _M1))
    k = mix64(k ^ hashed)
    return mix64(k ^ (np.uint64(draw + 1) * _M2))


def named_key(seed: int, stage: int, name: str, draw: int = 0) -> np.uint64:
    """Key of draw `draw` of the stream named `name` under (seed, stage)."""
    return np.uint64(_named_key(seed, stage, name_hash(name), draw))


@njit(cache=True, **_KERNEL)
def _bits(key: np.uint64, counters: np.ndarray) -> np.ndarray:
    """mix64(key + counter * GOLDEN) for each counter."""
    out = np.empty(counters.shape[0], dtype=np.uint64)
    for i in range(counters.shape[0]):
        out[i] = mix64(key + counters[i] * GOLDEN)
    return out


def bits_array(key: np.uint64 | int, counters: np.ndarray) -> np.ndarray:
    """64 random bits for each counter of stream `key` (a uint64 array, same length)."""
    flat = np.ascontiguousarray(counters, dtype=np.uint64).reshape(-1)
    return _bits(np.uint64(key), flat)


def uniform_array(key: np.uint64 | int, counters: np.ndarray) -> np.ndarray:
    """`uniform(key, counter)` for each counter: floats on [0, 1) with 53 random bits."""
    return (bits_array(key, counters) >> _S11) * _TWO_M53


def normal_array(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """Standard normals from two arrays of uniforms on [0, 1) (Box-Muller, cosine branch)."""
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def poisson_array(
    u: np.ndarray, mean: np.ndarray | float, normals: Callable[[], np.ndarray]
) -> np.ndarray:
    """Poisson(mean) counts (as floats) from one uniform each, vectorised.

    Means below 15 use the inverse CDF (at most 200 steps); larger ones the normal
    approximation ``round(mean + sqrt(mean) * z)``, floored at 0, with `z` from
    ``normals()`` (one standard normal per element), which is called only when some mean
    is that large. Negative means count as 0.
    """
    n = u.shape[0]
    m = np.broadcast_to(np.maximum(np.asarray(mean, dtype=np.float64), 0.0), (n,))
    out = np.zeros(n)
    small = m < 15.0
    idx = np.nonzero(small)[0]
    p = np.exp(-m[idx])
    cdf = p.copy()
    k = 0
    while idx.size and k < 200:
        go = u[idx] > cdf
        idx, p, cdf = idx[go], p[go], cdf[go]
        out[idx] += 1.0
        k += 1
        p = p * m[idx] / k
        cdf = cdf + p
    big = ~small
    if big.any():
        zz = normals()[big]
        out[big] = np.maximum(np.round(m[big] + np.sqrt(m[big]) * zz), 0.0)
    return out
