"""Observe: which of the day's acts are seen by a camera.

In the minimal model each act is seen independently with probability `coverage`.
With surveillance switched off nothing is seen: the unwatched baseline.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from panopticon import streams
from panopticon.scenario import Scenario

CAMERA = 0  # channel code of the camera channel in the record log
CHANNELS = ("camera",)


@njit(cache=True)
def _observe_kernel(seed: int, day: int, n_acts: int, coverage: float) -> np.ndarray:
    """Indices of the acts seen today (each seen with probability `coverage`)."""
    key = streams.stream_key(seed, streams.OBSERVE, day, 0)
    seen = np.empty(n_acts, dtype=np.int64)
    m = 0
    for e in range(n_acts):
        if streams.uniform(key, np.uint64(e)) < coverage:
            seen[m] = e
            m += 1
    return seen[:m]


class Observe:
    """Stage 2: the camera channel."""

    name = "observe"

    def __init__(self, scenario: Scenario) -> None:
        """Read the channel's coverage (zero when surveillance is off)."""
        s = scenario.surveillance
        self.coverage = s.camera.coverage if s.enabled else 0.0
        self.seed = scenario.run.seed

    def step(self, day: int, n_acts: int) -> np.ndarray:
        """Indices into today's acts of those that were seen."""
        if self.coverage <= 0.0:
            return np.empty(0, dtype=np.int64)
        return _observe_kernel(self.seed, day, n_acts, self.coverage)
