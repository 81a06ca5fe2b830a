"""Identify: each seen act is searched; missed, attributed to the actor, or to another.

A wrongful attribution names a citizen drawn uniformly from everyone but the actor.
The outcome rates come from the face identification model (`faceid`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from panopticon import streams
from panopticon.faceid import MISSED, WRONG, identify_fixed
from panopticon.scenario import Scenario


@njit(cache=True)
def _identify_kernel(
    seed: int, day: int, actors: np.ndarray, p_miss: float, p_wrong: float, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Outcome code and attributed citizen (-1 when missed) per seen act."""
    key = streams.stream_key(seed, streams.IDENTIFY, day, 0)
    m = actors.size
    outcome = np.empty(m, dtype=np.uint8)
    target = np.empty(m, dtype=np.int32)
    for e in range(m):
        c = np.uint64(2 * e)
        o = identify_fixed(streams.uniform(key, c), p_miss, p_wrong)
        outcome[e] = o
        if o == MISSED:
            target[e] = -1
        elif o == WRONG:
            j = int(streams.uniform(key, c + np.uint64(1)) * (n - 1))
            target[e] = j + 1 if j >= actors[e] else j
        else:
            target[e] = actors[e]
    return outcome, target


class Identify:
    """Stage 3: face identification with fixed outcome rates."""

    name = "identify"

    def __init__(self, scenario: Scenario) -> None:
        """Read the outcome rates."""
        f = scenario.surveillance.faceid
        self.p_miss, self.p_wrong = f.p_miss, f.p_wrong
        self.n = scenario.population.size
        self.seed = scenario.run.seed

    def step(self, day: int, actors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Outcome codes and attributed ids for the seen acts' actors."""
        return _identify_kernel(self.seed, day, actors, self.p_miss, self.p_wrong, self.n)
