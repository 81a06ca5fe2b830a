"""Black- and red-lists: an entry rule on qualifying records, a duration, early exit.

Each list keeps its counterfactual beside it (the same rule on correct records only).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from panopticon.core import streams
from panopticon.core.jit import KERNEL
from panopticon.core.module import Column, DayContext, Export, Module, Phase, StateSpec
from panopticon.core.params import Daily, Schedule, highest
from panopticon.core.registry import register
from panopticon.scenario.schema import ListPolicy, Scenario

NEVER = np.int32(-1)


MAX_HAZARD = 40.0
"""Daily hazard of an exit chance of 1: above -log(1 - u) for every double u < 1."""


def exit_hazard(chance: np.ndarray) -> np.ndarray:
    """Cumulative daily hazard sum_{s <= t} -log(1 - p_s) of a dated exit chance."""
    p = np.clip(chance, 0.0, 1.0)
    with np.errstate(divide="ignore"):
        h = np.minimum(-np.log1p(-p), MAX_HAZARD)
    return np.cumsum(h)


@njit(cache=True, **KERNEL)
def _exit_day(cum: np.ndarray, day: int, threshold: float) -> int:
    """First day t > `day` with cum[t] - cum[day] > threshold; past the run, the last hazard."""
    t = np.searchsorted(cum, cum[day] + threshold, side="right")
    if t < cum.size:
        return int(t)
    last = cum.size - 1
    h = cum[last] - cum[last - 1] if last > 0 else cum[0]
    if h <= 0.0:
        return 2**31 - 1
    left = threshold - (cum[last] - cum[day])
    return int(min(last + math.floor(left / h) + 1.0, 2.0**31 - 1))


@njit(cache=True, **KERNEL)
def _list_add(
    day: int,
    target: np.ndarray,
    kinds: np.ndarray,
    correct: np.ndarray,
    counts_kind: np.ndarray,
    need: int,
    window: int,
    duration: int,
    exit_p: float,
    exit_cum: np.ndarray,
    seed: int,
    list_id: int,
    recent: np.ndarray,
    recent_true: np.ndarray,
    until: np.ndarray,
    until_true: np.ndarray,
    touched: np.ndarray,
    offset: int,
) -> tuple[int, int]:
    """Register qualifying records; list people who reach `need` records in `window` days.

    `recent[j]` holds the days of j's last `need` qualifying records (a ring, -1 empty).
    Early exit: the listing ends on the first day a daily Bernoulli(exit_p) succeeds,
    drawn from a stream keyed by (seed, list, citizen, entry day) so the actual and
    counterfactual listings of the same person on the same day end together. A dated
    exit chance p_t comes as `exit_cum`, the cumulative daily hazard -log(1 - p_t) (empty
    for a plain number): the listing ends on the first day t after entry where the hazard
    summed since entry exceeds -log(1 - u), which is the first success of Bernoulli(p_t)
    trials; past the last day the last day's chance holds. `target` indexes this
    simulation's state; the exit stream is keyed by the global id (+ `offset`).
    Returns (entries, counterfactual entries).
    """
    entries = 0
    entries_true = 0
    m = 0
    for r in range(target.size):
        if not counts_kind[kinds[r]]:
            continue
        j = target[r]
        touched[m] = j
        m += 1
        for which in range(2):
            if which == 1 and not correct[r]:
                break
            ring = recent if which == 0 else recent_true
            until_arr = until if which == 0 else until_true
            # push today's day, dropping the oldest
            for q in range(need - 1, 0, -1):
                ring[j, q] = ring[j, q - 1]
            ring[j, 0] = day
            oldest = ring[j, need - 1]
            if oldest >= 0 and day - oldest <= window and until_arr[j] < day:
                end = day + duration
                if exit_p > 0.0:
                    key = streams.stream_key(seed, streams.LISTS, day, list_id * 2**31 + j + offset)
                    u = streams.uniform(key, np.uint64(0))
                    # geometric number of days until the first exit success
                    if exit_cum.size > 0:
                        end = min(end, _exit_day(exit_cum, day, -math.log(1.0 - u)))
                    else:
                        k = 1
                        if exit_p < 1.0:
                            k = int(math.floor(math.log(1.0 - u) / math.log(1.0 - exit_p))) + 1  # noqa: RUF046 (Numba)
                        end = min(end, day + k)
                until_arr[j] = end
                if which == 0:
                    entries += 1
                else:
                    entries_true += 1
    return entries, entries_true


@njit(cache=True, **KERNEL)
def _list_recheck(
    day: int,
    ids: np.ndarray,
    until: np.ndarray,
    until_true: np.ndarray,
    status: np.ndarray,
    counts: np.ndarray,
) -> None:
    """Re-examine citizens whose listing may have changed today.

    status bits: 1 listed, 2 listed in truth. counts = [listed, listed wrongly, in truth].
    """
    for r in range(ids.size):
        j = ids[r]
        new = np.uint8(0)
        if until[j] > day:
            new |= np.uint8(1)
        if until_true[j] > day:
            new |= np.uint8(2)
        old = status[j]
        if new != old:
            counts[0] += int(new & 1) - int(old & 1)
            counts[1] += int(new == 1) - int(old == 1)
            counts[2] += (int(new & 2) - int(old & 2)) // 2
            status[j] = new


@register
class Listing(Module):
    """One black- or red-list and its counterfactual (correct records only).

    Provides ``list:<name>``: itself, with `members(day)` (the `Membership` protocol).
    """

    phase = Phase.SCORE
    # a listing rests on its citizen's own records and draws (keyed by the global id):
    # each shard lists its own citizens; the counts add up over shards
    shards = True

    @classmethod
    def instances(cls, scenario: Scenario) -> list[dict[str, Any]]:
        """One per `scoring.lists` table; the list id is its position."""
        return [{"name": k, "list_id": i} for i, k in enumerate(scenario.scoring.lists)]

    @classmethod
    def provided(cls, scenario: Scenario, **kwargs: Any) -> tuple[str, ...]:
        """The list."""
        return (f"list:{kwargs['name']}",)

    def __init__(self, sim: Any, name: str, list_id: int) -> None:
        """Allocate the rings of recent qualifying record days and the listing ends."""
        super().__init__(sim)
        scenario = sim.scenario
        policy: ListPolicy = scenario.scoring.lists[name]
        self.name, self.policy, self.list_id = name, policy, list_id
        n = sim.size  # the citizens this simulation owns (a shard's, or all)
        self.offset = sim.lo  # global id of local citizen 0 (its draws are keyed by it)
        kinds = list(scenario.behaviors)
        self.counts_kind = np.array([k in policy.behaviors for k in kinds], dtype=np.bool_)
        self.recent = self.add_state(
            StateSpec("recent", np.int32, "days of the last qualifying records"),
            np.full((n, policy.count), -1, dtype=np.int32),
        )
        self.recent_true = self.add_state(
            StateSpec("recent_true", np.int32, "the same, correct records only", truth=True),
            np.full((n, policy.count), -1, dtype=np.int32),
        )
        self.until = self.add_state(
            StateSpec("until", np.int32, "day the listing ends"), np.full(n, NEVER, np.int32)
        )
        self.until_true = self.add_state(
            StateSpec("until_true", np.int32, "the counterfactual listing's end", truth=True),
            np.full(n, NEVER, dtype=np.int32),
        )
        self.seed = scenario.run.seed
        run = scenario.run
        if isinstance(policy.exit_per_day, Schedule):  # dated: a cumulative hazard per day
            self.exit_p = highest(policy.exit_per_day)
            self.exit_cum = exit_hazard(Daily(policy.exit_per_day, run.start, run.days).values)
        else:
            self.exit_p = float(policy.exit_per_day)
            self.exit_cum = np.empty(0, dtype=np.float64)
        self.listed = 0
        self.listed_wrongly = 0
        self.listed_true = 0
        self.status = self.add_state(
            StateSpec("status", np.uint8, "bits: listed, listed in truth"), np.zeros(n, np.uint8)
        )
        self.counts = np.zeros(3, dtype=np.int64)
        self._ends: dict[int, list[np.ndarray]] = {}
        self.entries = 0
        self.entries_true = 0
        sim.provide(f"list:{name}", self)

    def members(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """(listed, listed in truth) on `day`, as boolean arrays over all citizens."""
        return self.until > day, self.until_true > day

    def columns(self) -> list[Column]:
        """Who is listed now (and wrongly), and today's entries (and deserved ones)."""
        n = self.name
        listed = Column(
            f"listed_{n}", agg="last", label=f"people on {n}", headline=True, family="listed", key=n
        )
        return [
            listed,
            listed.wrongful(f"listed_wrongly_{n}", f"people wrongly on {n}", higher_is="worse"),
            Column(f"entries_{n}", agg="sum", label=f"entries to {n}", family="entries", key=n),
            Column(
                f"entries_true_{n}",
                agg="sum",
                label=f"entries to {n} in truth",
                family="entries_true",
                key=n,
            ),
        ]

    def values(self, ctx: DayContext) -> dict[str, float]:
        """Today's counts."""
        n = self.name
        return {
            f"listed_{n}": self.listed,
            f"listed_wrongly_{n}": self.listed_wrongly,
            f"entries_{n}": self.entries,
            f"entries_true_{n}": self.entries_true,
        }

    def exports(self) -> list[Export]:
        """Listed at the end, and in truth."""
        return [
            Export(self.name, f"on {self.name} at the end", family="listed", key=self.name),
            Export(f"{self.name}_true", f"on {self.name} by correct records only", truth=True),
        ]

    def people(self) -> dict[str, Any]:
        """End-of-run membership."""
        on, truth = self.members(self.sim.day - 1)
        return {self.name: on, f"{self.name}_true": truth}

    def scalars(self) -> dict[str, Any]:
        """Counts and today's entries."""
        return {
            "counts": [int(x) for x in self.counts],
            "entries": int(self.entries),
            "entries_true": int(self.entries_true),
        }

    def load_scalars(self, values: dict[str, Any]) -> None:
        """Restore the counts."""
        self.counts[:] = values["counts"]
        self.listed, self.listed_wrongly, self.listed_true = (int(x) for x in self.counts)
        self.entries, self.entries_true = int(values["entries"]), int(values["entries_true"])

    def extra_state(self) -> dict[str, np.ndarray]:
        """The calendar of scheduled listing ends, as (day, id) pairs."""
        days = [np.full(a.size, d, np.int64) for d, parts in self._ends.items() for a in parts]
        ids = [a.astype(np.int64) for parts in self._ends.values() for a in parts]
        cat = np.concatenate
        return {
            "ends_day": cat(days) if days else np.empty(0, np.int64),
            "ends_id": cat(ids) if ids else np.empty(0, np.int64),
        }

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore the calendar of listing ends."""
        self._ends = {}
        d, i = arrays["ends_day"], arrays["ends_id"]
        for day in np.unique(d):
            self._ends[int(day)] = [i[d == day].astype(np.int32)]

    def step(self, ctx: DayContext) -> None:
        """Register today's records and count who is listed at the end of the day.

        A record removed on appeal ends a listing that began on or after the record's
        act day (the listing it may have caused); the counterfactual is unaffected.
        Counts change only through entries, scheduled ends and removals, so only those
        citizens are re-examined.
        """
        day, batch, removed = ctx.day, ctx.batch, ctx.removed
        p = self.policy
        touched = np.empty(len(batch), dtype=np.int32)
        e, et = _list_add(
            day,
            batch.attributed_to,
            batch.behavior,
            batch.correct,
            self.counts_kind,
            p.count,
            p.window_days,
            p.duration_days,
            self.exit_p,
            self.exit_cum,
            self.seed,
            self.list_id,
            self.recent,
            self.recent_true,
            self.until,
            self.until_true,
            touched,
            self.offset,
        )
        self.entries, self.entries_true = e, et
        check = [touched[: int((self.counts_kind[batch.behavior]).sum())]]
        if removed is not None:
            counted = self.counts_kind[removed.behavior]
            hit = removed.attributed_to[counted]
            still = self.until[hit] > day
            self.until[hit[still]] = day
            # a won appeal on a correct record removes it from the counterfactual too, as
            # the ledger's true score gives its points back
            hit_true = removed.attributed_to[counted & removed.correct]
            still_true = self.until_true[hit_true] > day
            self.until_true[hit_true[still_true]] = day
            check.append(hit)
        ids = np.concatenate(check) if len(check) > 1 else check[0]
        for arr in (self.until, self.until_true):
            ends = arr[ids]
            for d in np.unique(ends[ends > day]):
                self._ends.setdefault(int(d), []).append(ids[ends == d])
        due = self._ends.pop(day, None)
        if due:
            ids = np.concatenate([ids, *due])
        _list_recheck(day, ids, self.until, self.until_true, self.status, self.counts)
        self.listed, self.listed_wrongly, self.listed_true = (int(x) for x in self.counts)
