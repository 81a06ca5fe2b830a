"""Triggers of measures: who a measure applies to, and who it would apply to in truth.

A trigger on a score policy is a set of conditions (grades, below, above); all triggers
on one policy share one uint32 of status bits per citizen (2 bits each), re-examined
only for the citizens whose score changed. A trigger on a list reads the list.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from panopticon.core.jit import KERNEL

MAX_TRIGGERS = 16  # per score policy: 2 status bits each in one uint32 per citizen


@njit(cache=True, **KERNEL)
def _trigger_status(
    ids: np.ndarray,
    score: np.ndarray,
    true_score: np.ndarray,
    grade: np.ndarray,
    true_grade: np.ndarray,
    below: np.ndarray,
    above: np.ndarray,
    grade_bits: np.ndarray,
    status: np.ndarray,
    counts: np.ndarray,
) -> None:
    """Re-examine `ids` against every trigger of one policy, in one pass.

    Trigger t holds for a score s in grade g when above[t] < s < below[t] and bit g of
    grade_bits[t] is set (all bits set when it names no grades). status[i] holds 2 bits
    per trigger (bit 2t: triggered, bit 2t+1: in truth); counts[t] = [triggered,
    triggered wrongly (not in truth), missed (in truth only)].
    """
    n_t = below.size
    use_grades = grade.size > 0
    for r in range(ids.size):
        i = ids[r]
        g = np.int64(grade[i]) if use_grades else 0
        tg = np.int64(true_grade[i]) if use_grades else 0
        s_val = np.float64(score[i])
        t_val = np.float64(true_score[i])
        old_all = np.int64(status[i])  # bit arithmetic in int64: no unsigned promotions
        new_all = np.int64(0)
        for t in range(n_t):
            new = 0
            if above[t] < s_val < below[t] and (grade_bits[t] >> g) & 1:
                new = 1
            if above[t] < t_val < below[t] and (grade_bits[t] >> tg) & 1:
                new |= 2
            new_all |= new << (2 * t)
        if new_all != old_all:
            for t in range(n_t):
                new = (new_all >> (2 * t)) & 3
                old = (old_all >> (2 * t)) & 3
                if new != old:
                    counts[t, 0] += (new & 1) - (old & 1)
                    counts[t, 1] += np.int64(new == 1) - np.int64(old == 1)
                    counts[t, 2] += np.int64(new == 2) - np.int64(old == 2)
            status[i] = new_all


class ScoreTriggers:
    """Every trigger on one score policy, kept in step with its scores in one pass.

    A trigger is a set of conditions (grades, below, above); its per-citizen status is
    2 bits of one uint32 per citizen, so re-examining a citizen touches one word.
    """

    def __init__(self, policy: Any) -> None:
        """Start with no triggers; `add` them, then `refresh(None)`."""
        self.policy = policy
        # a factors score changes only when it is recomputed (a population-wide pass)
        self.scheduled = policy.scheduled
        self.conditions: list[Any] = []
        self.status = np.zeros(policy.score.size, dtype=np.uint32)
        self.counts = np.zeros((0, 3), dtype=np.int64)

    def add(self, trigger: Any) -> int:
        """Register a trigger's conditions; returns its index."""
        if len(self.conditions) == MAX_TRIGGERS:
            raise ValueError(f"at most {MAX_TRIGGERS} distinct triggers per score policy")
        self.conditions.append(trigger)
        names = self.policy.grades.names if self.policy.grades is not None else []
        self.below = np.array([t.below if t.below is not None else np.inf for t in self.conditions])
        self.above = np.array(
            [t.above if t.above is not None else -np.inf for t in self.conditions]
        )
        if len(names) > 62:
            raise ValueError(f"{len(names)} grades: measures support at most 62 per policy")
        # one bit per grade code; a trigger naming no grades allows them all
        self.grade_bits = np.array(
            [
                sum(1 << k for k, g in enumerate(names) if g in t.grades) if t.grades else -1
                for t in self.conditions
            ],
            dtype=np.int64,
        )
        self.use_grades = bool(names) and any(t.grades for t in self.conditions)
        self.counts = np.zeros((len(self.conditions), 3), dtype=np.int64)
        return len(self.conditions) - 1

    def refresh(self, touched: np.ndarray | None) -> None:
        """Re-examine the touched citizens (None: everyone)."""
        ids = np.arange(self.status.size, dtype=np.int32) if touched is None else touched
        g = self.policy.grades
        empty = np.empty(0, dtype=np.uint8)
        grade, true_grade = (g.grade, g.true_grade) if self.use_grades else (empty, empty)
        _trigger_status(
            ids,
            self.policy.score,
            self.policy.true_score,
            grade,
            true_grade,
            self.below,
            self.above,
            self.grade_bits,
            self.status,
            self.counts,
        )


class ScoreTrigger:
    """One trigger of a `ScoreTriggers` set: its members and counts."""

    def __init__(self, group: ScoreTriggers, index: int) -> None:
        """A view on trigger `index` of `group`."""
        self.group, self.index = group, index
        self.policy = group.policy

    def members(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """(triggered, triggered in truth) as boolean arrays over all citizens."""
        bits = self.group.status >> np.uint32(2 * self.index)
        return (bits & 1) > 0, (bits & 2) > 0

    @property
    def triggered(self) -> int:
        """Citizens triggered now."""
        return int(self.group.counts[self.index, 0])

    @property
    def wrongly(self) -> int:
        """Triggered now, but not by the counterfactual (correct-records-only) policy."""
        return int(self.group.counts[self.index, 1])

    @property
    def missed(self) -> int:
        """Triggered by the counterfactual policy but not now."""
        return int(self.group.counts[self.index, 2])


class ListTrigger:
    """A trigger on list membership (counts come from the list itself)."""

    def __init__(self, policy: Any) -> None:
        """Wrap a list policy's state."""
        self.policy = policy

    def members(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """(listed, listed in truth) as boolean arrays over all citizens."""
        return self.policy.until > day, self.policy.until_true > day

    @property
    def triggered(self) -> int:
        """Citizens listed now."""
        return int(self.policy.listed)

    @property
    def wrongly(self) -> int:
        """Listed now but not in truth."""
        return int(self.policy.listed_wrongly)

    @property
    def missed(self) -> int:
        """Listed in truth but not now (not tracked incrementally; computed on demand)."""
        return int(self.policy.listed_true) - (int(self.policy.listed) - self.wrongly)
