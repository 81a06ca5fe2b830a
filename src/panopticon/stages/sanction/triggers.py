"""Triggers of measures: who a measure applies to, and who it would apply to in truth.

A trigger on a score policy is a set of conditions (grades, below, above); all triggers
on one policy share one uint32 of status bits per citizen (2 bits each), re-examined
only for the citizens whose score changed. A trigger on a list reads the list.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from panopticon.core.jit import KERNEL, sized_kernel
from panopticon.core.metrics import BLOCK_ROWS
from panopticon.stages.score import grades as score_grades

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


@sized_kernel(8)
def _trigger_status_blocks(
    ids: np.ndarray,
    starts: np.ndarray,
    score: np.ndarray,
    true_score: np.ndarray,
    grade: np.ndarray,
    true_grade: np.ndarray,
    below: np.ndarray,
    above: np.ndarray,
    status: np.ndarray,
    grade_bits: np.ndarray,
    counts: np.ndarray,
) -> None:
    """`_trigger_status` over ids grouped by block (`grades.by_block`), the blocks in parallel.

    A citizen's block holds all its re-examinations, in their order, so every status
    word ends as in the one pass; the counts' changes are summed per block, then added
    in block order (integers: the same totals). The grouped order also keeps each
    block's status words and scores in cache.
    """
    n_blk = starts.size - 1
    n_t = below.size
    local = np.zeros((n_blk, n_t, 3), dtype=np.int64)
    for b in prange(n_blk):
        _trigger_status(
            ids[starts[b] : starts[b + 1]],
            score,
            true_score,
            grade,
            true_grade,
            below,
            above,
            grade_bits,
            status,
            local[b],
        )
    for b in range(n_blk):
        for t in range(n_t):
            for c in range(3):
                counts[t, c] += local[b, t, c]


@sized_kernel(0)
def _member_bits(status: np.ndarray, shift: int, on: np.ndarray, truth: np.ndarray) -> None:
    """on[i], truth[i] = bits `shift` and `shift` + 1 of status[i] (one pass, no temporaries)."""
    n = status.size
    for b in prange((n + BLOCK_ROWS - 1) // BLOCK_ROWS):
        for i in range(b * BLOCK_ROWS, min(n, (b + 1) * BLOCK_ROWS)):
            v = np.int64(status[i]) >> shift
            on[i] = (v & 1) != 0
            truth[i] = (v & 2) != 0


@sized_kernel(0)
def _status_tally(status: np.ndarray, group: np.ndarray, n_t: int, k: int) -> np.ndarray:
    """Per trigger t and group g: members, and members not members in truth (one pass).

    Returns int64 [n_t, 2, k]: the counts `members` and a per-group tally of its two
    arrays give, for every trigger at once. Per-block sums added in block order.
    """
    n = status.size
    n_blk = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    local = np.zeros((n_blk, n_t, 2, k), dtype=np.int64)
    for b in prange(n_blk):
        for i in range(b * BLOCK_ROWS, min(n, (b + 1) * BLOCK_ROWS)):
            v = np.int64(status[i])
            if v == 0:
                continue
            g = np.int64(group[i])
            for t in range(n_t):
                bits = (v >> (2 * t)) & 3
                if bits & 1:
                    local[b, t, 0, g] += 1
                    if bits == 1:
                        local[b, t, 1, g] += 1
    out = np.zeros((n_t, 2, k), dtype=np.int64)
    for b in range(n_blk):
        for t in range(n_t):
            for g in range(k):
                out[t, 0, g] += local[b, t, 0, g]
                out[t, 1, g] += local[b, t, 1, g]
    return out


@sized_kernel(0)
def _collateral_tally(
    household: np.ndarray,
    status: np.ndarray,
    shift: int,
    group: np.ndarray,
    n_households: int,
    k: int,
) -> np.ndarray:
    """Per group: the collateral reach of one trigger's bits through households.

    With on/truth = bits `shift` / `shift` + 1 of `status`, a citizen is reached
    collaterally when not on but another member of the household is; wrongly when, too,
    no other member is on in truth (`HouseholdLiability.collateral` tallied per group).
    Returns int64 [2, k]. The per-household counts are one serial pass (on in the low 16
    bits, truth in the high: a household has at most 20 members), the tally blocks.
    """
    n = household.size
    per = np.zeros(n_households, dtype=np.int32)
    for i in range(n):
        bits = (np.int64(status[i]) >> shift) & 3
        if bits != 0:
            per[household[i]] += np.int32((bits & 1) + ((bits >> 1) << 16))
    n_blk = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    local = np.zeros((n_blk, 2, k), dtype=np.int64)
    for b in prange(n_blk):
        for i in range(b * BLOCK_ROWS, min(n, (b + 1) * BLOCK_ROWS)):
            bits = (np.int64(status[i]) >> shift) & 3
            if bits & 1:
                continue  # a member: not collateral
            c = np.int64(per[household[i]])
            if (c & 0xFFFF) == 0:
                continue  # no other member is on
            g = np.int64(group[i])
            local[b, 0, g] += 1
            if (c >> 16) - (bits >> 1) <= 0:
                local[b, 1, g] += 1
    out = np.zeros((2, k), dtype=np.int64)
    for b in range(n_blk):
        for g in range(k):
            out[0, g] += local[b, 0, g]
            out[1, g] += local[b, 1, g]
    return out


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
        if touched is not None and touched.size >= score_grades.BLOCKED_FROM:
            grouped, starts = score_grades.by_block(touched, self.status.size)
            _trigger_status_blocks(
                grouped,
                starts,
                self.policy.score,
                self.policy.true_score,
                grade,
                true_grade,
                self.below,
                self.above,
                self.status,
                self.grade_bits,
                self.counts,
            )
            return
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
        status = self.group.status
        on, truth = np.empty(status.size, np.bool_), np.empty(status.size, np.bool_)
        _member_bits(status, 2 * self.index, on, truth)
        return on, truth

    def tally(self, day: int, group: np.ndarray, k: int, cache: dict[int, Any]) -> np.ndarray:
        """`members` counted per group: int64 [2, k] (members, members not in truth).

        Every trigger of the policy is counted in one pass over the status bits, kept in
        `cache` (one snapshot's: the bits do not change within it) for the others.
        """
        key = id(self.group)
        if key not in cache:
            cache[key] = _status_tally(self.group.status, group, len(self.group.conditions), k)
        return cache[key][self.index]

    def collateral_tally(
        self, household: np.ndarray, n_households: int, group: np.ndarray, k: int
    ) -> np.ndarray:
        """The collateral reach through `household` counted per group: int64 [2, k]."""
        status = self.group.status
        return _collateral_tally(household, status, 2 * self.index, group, n_households, k)

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
