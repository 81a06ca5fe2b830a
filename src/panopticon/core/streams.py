"""Counter-based random streams keyed by (seed, stage, day, block).

Every random number in a run is a pure function of its key and a counter: draw `n` of
stream (seed, stage, day, block) is ``mix64(key + n * GOLDEN)`` (SplitMix64 indexed by
its counter). Nothing depends on thread count, chunking or the order in which blocks are
processed, which is what makes a run byte-identical whether it uses one thread or many,
one process or many.
"""

from __future__ import annotations

import numpy as np
from numba import njit

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
TRAITS = 108  # trait dimensions of factors scores (the value they were first drawn with)


@njit(cache=True, inline="always")
def mix64(z: np.uint64) -> np.uint64:
    """SplitMix64 finaliser: a bijective 64-bit mix with full avalanche."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def stream_key(seed: int, stage: int, day: int, block: int) -> np.uint64:
    """Key of the stream for (seed, stage, day, block)."""
    k = mix64(np.uint64(seed) + GOLDEN)
    k = mix64(k ^ (np.uint64(stage) * _M1))
    k = mix64(k ^ (np.uint64(day + 1) * _M2))
    k = mix64(k ^ (np.uint64(block + 1) * GOLDEN))
    return k


@njit(cache=True, inline="always")
def uniform(key: np.uint64, counter: np.uint64) -> float:
    """Draw number `counter` of stream `key`, uniform on [0, 1) with 53 random bits."""
    # the 53-bit value fits a signed int64, whose conversion to float is one instruction
    return float(np.int64(mix64(key + counter * GOLDEN) >> _S11)) * _TWO_M53


@njit(cache=True)
def poisson(key: np.uint64, counter: np.uint64, mean: float) -> tuple[int, np.uint64]:
    """Poisson(mean) by multiplying uniforms; returns (count, next counter).

    Exact for any mean: means above 500 are split into equal parts whose counts are
    summed, which keeps exp(-part) far from underflow. Cost grows with the mean, i.e.
    with the number of events drawn, never with the population.
    """
    total = 0
    if mean <= 0.0:
        return 0, counter
    parts = int(mean // 500.0) + 1
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
