"""Record: the credit record log. Each identified act becomes a record against someone.

A record holds the day, the behaviour, the channel, the perpetrator (known only to the
simulator), the person it is attributed to, and whether that is correct. The stage keeps
per-citizen counts of correct and wrongful records and hands the day's batch to the run's
record sink (all records, a uniform sample, or none).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from panopticon import streams
from panopticon.faceid import MISSED
from panopticon.scenario import Scenario


@dataclass
class RecordBatch:
    """One day's records, columnar."""

    day: int
    behavior: np.ndarray  # uint8 behaviour index
    perpetrator: np.ndarray  # int32
    attributed_to: np.ndarray  # int32
    channel: np.ndarray  # uint8 channel code
    correct: np.ndarray  # bool

    def __len__(self) -> int:
        """Number of records."""
        return self.perpetrator.size

    def subset(self, keep: np.ndarray) -> RecordBatch:
        """The records selected by index array `keep`."""
        return RecordBatch(
            self.day,
            self.behavior[keep],
            self.perpetrator[keep],
            self.attributed_to[keep],
            self.channel[keep],
            self.correct[keep],
        )


@njit(cache=True)
def _count_kernel(
    target: np.ndarray, correct: np.ndarray, rec_correct: np.ndarray, rec_wrong: np.ndarray
) -> None:
    """Add today's records to each citizen's correct / wrongful counts."""
    for r in range(target.size):
        if correct[r]:
            rec_correct[target[r]] += 1
        else:
            rec_wrong[target[r]] += 1


@njit(cache=True)
def _sample_kernel(seed: int, day: int, n: int, share: float) -> np.ndarray:
    """Indices of the records kept by a uniform sample with probability `share`."""
    key = streams.stream_key(seed, streams.RECORD_SAMPLE, day, 0)
    keep = np.empty(n, dtype=np.int64)
    m = 0
    for r in range(n):
        if streams.uniform(key, np.uint64(r)) < share:
            keep[m] = r
            m += 1
    return keep[:m]


class Record:
    """Stage 4: turn identified acts into records. Owns per-citizen record counts."""

    name = "record"

    def __init__(self, scenario: Scenario, count_dtype: type) -> None:
        """Allocate the per-citizen counts."""
        n = scenario.population.size
        self.records_correct = np.zeros(n, dtype=count_dtype)
        self.records_wrong = np.zeros(n, dtype=count_dtype)
        self.keep = scenario.run.records
        self.share = scenario.run.records_sample
        self.seed = scenario.run.seed

    def step(
        self,
        day: int,
        actors: np.ndarray,
        kinds: np.ndarray,
        channel: np.ndarray,
        outcome: np.ndarray,
        target: np.ndarray,
    ) -> RecordBatch:
        """Records of today's identified acts (missed searches leave no record)."""
        hit = np.flatnonzero(outcome != MISSED)
        perp = actors[hit]
        to = target[hit]
        batch = RecordBatch(day, kinds[hit], perp, to, channel[hit], perp == to)
        _count_kernel(batch.attributed_to, batch.correct, self.records_correct, self.records_wrong)
        return batch

    def to_log(self, batch: RecordBatch) -> RecordBatch | None:
        """The part of the batch the record log keeps, per the `run.records` option."""
        if self.keep == "none":
            return None
        if self.keep == "sample":
            return batch.subset(_sample_kernel(self.seed, batch.day, len(batch), self.share))
        return batch
