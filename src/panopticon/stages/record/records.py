"""Record: the credit record log. Each attributed act becomes a record against someone.

A record holds the day of the act, the day it appears (after its channel's delay), the
behaviour, the channel, the perpetrator (known only to the simulator), the person it is
attributed to, whether that is correct, and its appeal status. Records wait in a
calendar until their day comes; on that day they reach the score policies.

Appeals: when a record appears, the person it names appeals it with one probability if
it is wrongful and another if it is correct, wins with one probability or the other,
and the decision comes `delay_days` later. A won appeal removes the record: its points
are given back and it stops counting toward lists and factor scores (a direct grade
drop it caused is not undone). Outcomes are drawn when the record appears, so the log
can be written as the run goes; decisions due after the last day are `pending`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from panopticon.core import streams
from panopticon.core.records import (
    APPEAL_LOST,
    APPEAL_NONE,
    APPEAL_PENDING,
    APPEAL_WON,
    MISSED,
    RecordBatch,
)
from panopticon.scenario.schema import Scenario


@njit(cache=True)
def _count_kernel(
    target: np.ndarray, correct: np.ndarray, rec_correct: np.ndarray, rec_wrong: np.ndarray
) -> None:
    """Add records to each citizen's correct / wrongful counts."""
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


@njit(cache=True)
def _appeal_kernel(
    seed: int, day: int, correct: np.ndarray, p_appeal: np.ndarray, p_win: np.ndarray
) -> np.ndarray:
    """Appeal outcome per record: 0 not appealed, 1 appealed and lost, 2 won."""
    key = streams.stream_key(seed, streams.APPEAL, day, 0)
    out = np.zeros(correct.size, dtype=np.uint8)
    for r in range(correct.size):
        w = 0 if correct[r] else 1
        if streams.uniform(key, np.uint64(2 * r)) < p_appeal[w]:
            out[r] = 2 if streams.uniform(key, np.uint64(2 * r + 1)) < p_win[w] else 1
    return out


class Record:
    """Stage 4: turn attributed acts into records; delays and appeals.

    Owns per-citizen counts of correct and wrongful records (records ever made, including
    ones later removed on appeal) and, with appeals, the count of appeals won.
    """

    name = "record"

    def __init__(self, scenario: Scenario, count_dtype: type, delays: np.ndarray) -> None:
        """Allocate the per-citizen counts and the calendar of records to come."""
        n = scenario.population.size
        self.days = scenario.run.days
        self.records_correct = np.zeros(n, dtype=count_dtype)
        self.records_wrong = np.zeros(n, dtype=count_dtype)
        self.keep = scenario.run.records
        self.share = scenario.run.records_sample
        self.seed = scenario.run.seed
        self.delays = delays
        self.delayed = bool((delays > 0).any())
        a = scenario.surveillance.appeals
        self.appeals = a.enabled
        self.appeal_delay = a.delay_days
        self.p_appeal = np.array([a.p_appeal_correct, a.p_appeal_wrongful])
        self.p_win = np.array([a.p_win_correct, a.p_win_wrongful])
        self.appeals_won = np.zeros(n, dtype=np.uint16) if a.enabled else None
        self._pending: dict[int, list[RecordBatch]] = {}
        self._reversals: dict[int, list[RecordBatch]] = {}
        self.today_counts = {"appealed": 0, "appeals_won": 0, "wrongful_removed": 0}

    def step(
        self,
        day: int,
        actors: np.ndarray,
        kinds: np.ndarray,
        channel: np.ndarray,
        outcome: np.ndarray,
        target: np.ndarray,
    ) -> tuple[RecordBatch, RecordBatch | None]:
        """Records appearing today, and records removed today on appeal (or None)."""
        hit = np.flatnonzero(outcome != MISSED)
        perp = actors[hit]
        to = target[hit]
        made = RecordBatch(
            day,
            kinds[hit],
            perp,
            to,
            channel[hit],
            perp == to,
            np.full(hit.size, day, dtype=np.int32),
            np.zeros(hit.size, dtype=np.uint8),
        )
        if self.delayed:
            due = day + self.delays[made.channel]
            now = np.flatnonzero(due == day)
            parts = self._pending.pop(day, [])
            parts.append(made.subset(now))
            for d in np.unique(due[due != day]):
                if d < self.days:
                    self._pending.setdefault(int(d), []).append(
                        made.subset(np.flatnonzero(due == d))
                    )
            batch = RecordBatch.concat(day, parts)
            batch.day = day
        else:
            batch = made
        _count_kernel(batch.attributed_to, batch.correct, self.records_correct, self.records_wrong)
        reversed_today = None
        self.today_counts = {"appealed": 0, "appeals_won": 0, "wrongful_removed": 0}
        if self.appeals:
            result = _appeal_kernel(self.seed, day, batch.correct, self.p_appeal, self.p_win)
            decision = day + self.appeal_delay
            status = np.where(
                result == 0, APPEAL_NONE, np.where(result == 2, APPEAL_WON, APPEAL_LOST)
            )
            if decision >= self.days:
                status = np.where(result == 0, APPEAL_NONE, APPEAL_PENDING)
            batch.appeal = status.astype(np.uint8)
            won = np.flatnonzero(status == APPEAL_WON)
            if won.size:
                self._reversals.setdefault(decision, []).append(batch.subset(won))
            self.today_counts["appealed"] = int((result > 0).sum())
            rev = self._reversals.pop(day, None)
            if rev:
                reversed_today = RecordBatch.concat(day - self.appeal_delay, rev)
                np.add.at(self.appeals_won, reversed_today.attributed_to, 1)
                self.today_counts["appeals_won"] = len(reversed_today)
                self.today_counts["wrongful_removed"] = int((~reversed_today.correct).sum())
        return batch, reversed_today

    def to_log(self, batch: RecordBatch) -> RecordBatch | None:
        """The part of the batch the record log keeps, per the `run.records` option."""
        if self.keep == "none":
            return None
        if self.keep == "sample":
            return batch.subset(_sample_kernel(self.seed, batch.day, len(batch), self.share))
        return batch
