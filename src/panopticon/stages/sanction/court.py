"""The court list of judgment defaulters (SPC 失信被执行人名单) as a mechanism.

calibration.md section 3; the equations are in docs/court-list.md. Per eligible citizen
(aged within `ages`, no open case):

- an enforcement case arrives on a day with probability 1 - exp(-c(t)/365);
- at judgment the debtor performs with probability p(t) (the case closes), or defaults;
- a defaulting debtor is listed at hazard l(t) and complies unlisted at hazard h(t)
  (per year); a listed debtor complies at hazard m(t) h(t) (`listing_multiplier` m);
- compliance ends the listing; a listing lasts at most D days (`duration_days`), then the
  debtor is removed (expired) and no longer followed.

Hazards may be dated schedules. Each waiting time is drawn once, when its state begins:
an Exp(1) threshold E keyed by (seed, citizen, day), and the event falls on the first day
t whose cumulative hazard since the start reaches E (inverse cumulative hazard). For a
constant hazard this is exactly the daily Bernoulli process: P(T > k) = exp(-k h/365),
a geometric law with q = 1 - exp(-h/365). Work is proportional to events (cases,
listings, exits), never to the population: a calendar holds each open case's next event.

Provides ``list:court``: `members(day)` (the `Membership` protocol) and the counts a list
trigger reads, so measures with ``trigger = { policy = "court" }`` restrict listed people.
When a measure on the list takes its rate at each member's listing date (a travel
measure's `options.rate_date = "listed"`), the module also keeps each member's listing
day (`since`) and the members by listing day (`by_since`), so that `cohort_sum(rates)`
gives the sum over today's members of the rate at their listing day.
The list has no counterfactual (listing does not rest on records), so nobody is on it
wrongly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from panopticon.core import streams
from panopticon.core.jit import KERNEL
from panopticon.core.module import Column, DayContext, Export, Module, Phase, StateSpec
from panopticon.core.params import Daily
from panopticon.core.registry import register
from panopticon.scenario.court import COURT_LIST, CourtList

NEVER = np.int32(-1)
# phase codes: what a citizen's open case waits for
FREE = np.uint8(0)  # no open case
TO_LIST = np.uint8(1)  # defaulting, next event: listed
TO_PAY = np.uint8(2)  # defaulting, next event: complies unlisted (or never, within the run)
TO_COMPLY = np.uint8(3)  # listed, next event: complies
TO_EXPIRE = np.uint8(4)  # listed, next event: the listing expires
SETUP_DAY = -1  # stream day of the backlog drawn at set-up
POP_BLOCK = 2**31  # stream blocks above every citizen id: population-level draws
# counters of a citizen's (seed, COURT, day, citizen) stream
C_SELECT, C_PERFORM, C_LIST, C_PAY, C_COMPLY = 0, 1, 2, 3, 4
# the counts kept between days
K_LISTED, K_DEFAULTING = 0, 1


def cumulative(daily_per_year: np.ndarray) -> np.ndarray:
    """H[0] = 0, H[t + 1] = H[t] + h(t) / 365: the cumulative daily hazard through day t."""
    out = np.zeros(daily_per_year.size + 1, dtype=np.float64)
    np.cumsum(daily_per_year / 365.0, out=out[1:])
    return out


@njit(cache=True, **KERNEL)
def _exp1(key: np.uint64, counter: int) -> float:
    """An Exp(1) threshold from draw `counter` of stream `key`."""
    return -math.log(1.0 - streams.uniform(key, np.uint64(counter)))


@njit(cache=True, **KERNEL)
def _first_day(cum: np.ndarray, day: int, threshold: float) -> int:
    """The first day t > `day` whose hazard since `day` reaches `threshold`; -1: not in the run.

    `cum[t + 1]` is the cumulative hazard through day t, so the hazard from day+1 to t is
    cum[t + 1] - cum[day + 1].
    """
    target = cum[day + 1] + threshold
    i = np.searchsorted(cum, target, side="left")
    if i >= cum.size:
        return -1
    return max(int(i) - 1, day + 1)


@njit(cache=True, **KERNEL)
def _default(
    j: int,
    day: int,
    key: np.uint64,
    cum_list: np.ndarray,
    cum_pay: np.ndarray,
    phase: np.ndarray,
    out_ids: np.ndarray,
    out_days: np.ndarray,
    m: int,
) -> int:
    """Citizen j defaults on `day`: draw the listing and the unlisted compliance, schedule."""
    t_list = _first_day(cum_list, day, _exp1(key, C_LIST))
    t_pay = _first_day(cum_pay, day, _exp1(key, C_PAY))
    if t_pay >= 0 and (t_list < 0 or t_pay <= t_list):  # compliance wins a tie
        phase[j] = TO_PAY
        nxt = t_pay
    else:
        phase[j] = TO_LIST if t_list >= 0 else TO_PAY
        nxt = t_list
    if nxt >= 0:
        out_ids[m] = j
        out_days[m] = nxt
        m += 1
    return m


@njit(cache=True, **KERNEL)
def _backlog(
    seed: int,
    share: float,
    age: np.ndarray,
    lo: int,
    hi: int,
    cum_list: np.ndarray,
    cum_pay: np.ndarray,
    phase: np.ndarray,
    out_ids: np.ndarray,
    out_days: np.ndarray,
    offset: int,
) -> tuple[int, int]:
    """Day-0 backlog: each eligible citizen is defaulting with probability `share`.

    Returns (defaulting, events scheduled); draws are keyed by (seed, citizen): `offset`
    is the global id of local citizen 0 (a shard's first; else 0).
    """
    m = 0
    n_def = 0
    use_age = age.size > 0
    for j in range(phase.size):
        if use_age and (age[j] < lo or age[j] > hi):
            continue
        key = streams.stream_key(seed, streams.COURT, SETUP_DAY, j + offset)
        if streams.uniform(key, np.uint64(C_SELECT)) >= share:
            continue
        n_def += 1
        m = _default(j, SETUP_DAY, key, cum_list, cum_pay, phase, out_ids, out_days, m)
    return n_def, m


@njit(cache=True, **KERNEL)
def _events(
    day: int,
    seed: int,
    ids: np.ndarray,
    duration: int,
    cum_comply: np.ndarray,
    phase: np.ndarray,
    until: np.ndarray,
    out_ids: np.ndarray,
    out_days: np.ndarray,
    today: np.ndarray,
    counts: np.ndarray,
    since: np.ndarray,
    by_since: np.ndarray,
    offset: int,
) -> int:
    """Today's scheduled events: listings, compliance (listed or not), expiries.

    `ids` index this simulation's state; draws are keyed by the global id (+ `offset`).
    today = [cases, performed, listings, complied, expired, paid unlisted] (adds to it);
    counts = [listed, defaulting]. With cohorts tracked (`since` not empty), a listing
    records its day in `since` and adds one to `by_since[day]`; leaving the list takes
    one from `by_since[since[j]]`. Returns the number of events scheduled.
    """
    m = 0
    cohorts = since.size > 0
    for r in range(ids.size):
        j = ids[r]
        ph = phase[j]
        if ph == TO_LIST:
            key = streams.stream_key(seed, streams.COURT, day, j + offset)
            end = day + duration
            t_c = _first_day(cum_comply, day, _exp1(key, C_COMPLY))
            if t_c >= 0 and t_c < end:
                phase[j] = TO_COMPLY
                until[j] = t_c
            else:
                phase[j] = TO_EXPIRE
                until[j] = end
            today[2] += 1
            counts[K_LISTED] += 1
            counts[K_DEFAULTING] -= 1
            if cohorts:
                since[j] = day
                by_since[day] += 1
            out_ids[m] = j
            out_days[m] = until[j]
            m += 1
        elif ph == TO_PAY:
            phase[j] = FREE
            today[5] += 1
            counts[K_DEFAULTING] -= 1
        elif ph == TO_COMPLY:
            phase[j] = FREE
            today[3] += 1
            counts[K_LISTED] -= 1
            if cohorts:
                by_since[since[j]] -= 1
        elif ph == TO_EXPIRE:
            phase[j] = FREE
            today[4] += 1
            counts[K_LISTED] -= 1
            if cohorts:
                by_since[since[j]] -= 1
    return m


@njit(cache=True, **KERNEL)
def _cohort_sum(by_since: np.ndarray, rates: np.ndarray, upto: int) -> float:
    """Sum over listing days s <= `upto` of members listed on s times rates[s], in day order."""
    total = 0.0
    for s in range(min(upto + 1, by_since.size)):
        if by_since[s] != 0:
            total += by_since[s] * rates[s]
    return total


def tracks_cohorts(scenario: Any) -> bool:
    """Whether a measure on the court list takes its rate at each member's listing date."""
    return any(
        m.trigger.policy == COURT_LIST and m.options.get("rate_date") == "listed"
        for m in scenario.sanctions.measures.values()
    )


@njit(cache=True, **KERNEL)
def _cases(
    day: int,
    seed: int,
    picks: np.ndarray,
    age: np.ndarray,
    lo: int,
    hi: int,
    perform: float,
    cum_list: np.ndarray,
    cum_pay: np.ndarray,
    phase: np.ndarray,
    out_ids: np.ndarray,
    out_days: np.ndarray,
    today: np.ndarray,
    counts: np.ndarray,
    offset: int,
) -> int:
    """Today's new cases (`picks`: distinct citizens hit today); returns events scheduled.

    A pick outside `ages` or with an open case is dropped (thinning: the eligible keep
    the case rate exactly). `picks` index this simulation's state; draws are keyed by
    the global id (+ `offset`).
    """
    m = 0
    use_age = age.size > 0
    for r in range(picks.size):
        j = picks[r]
        if phase[j] != FREE or (use_age and (age[j] < lo or age[j] > hi)):
            continue
        today[0] += 1
        key = streams.stream_key(seed, streams.COURT, day, j + offset)
        if streams.uniform(key, np.uint64(C_PERFORM)) < perform:
            today[1] += 1
            continue
        counts[K_DEFAULTING] += 1
        m = _default(j, day, key, cum_list, cum_pay, phase, out_ids, out_days, m)
    return m


@njit(cache=True, **KERNEL)
def _picks(key: np.uint64, count: int, n: int) -> np.ndarray:
    """`count` uniform citizen ids (draws 0 .. count-1 of `key`), sorted, without repeats."""
    out = np.empty(count, dtype=np.int32)
    for k in range(count):
        out[k] = min(int(streams.uniform(key, np.uint64(k)) * n), n - 1)
    return np.unique(out)


@register
class CourtListModule(Module):
    """The court list of judgment defaulters (`sanctions.court`); provides ``list:court``."""

    name = COURT_LIST
    phase = Phase.SANCTION
    # a shard follows its own citizens' cases: the day's case count and picks are drawn
    # from population streams (the same in every shard), each shard keeps the picks it
    # owns; the counts add up, and the cohorts (members by listing day) too
    shards = True

    @classmethod
    def instances(cls, scenario: Any) -> list[dict[str, Any]]:
        """Present when the scenario has a `sanctions.court` table."""
        return [{}] if scenario.sanctions.court is not None else []

    @classmethod
    def needs(cls, scenario: Any, **kwargs: Any) -> set[str]:
        """Ages, to know who may be a judgment debtor."""
        return {"age"}

    @classmethod
    def provided(cls, scenario: Any, **kwargs: Any) -> tuple[str, ...]:
        """The list."""
        return (f"list:{COURT_LIST}",)

    def __init__(self, sim: Any) -> None:
        """Precompute the dated rates and cumulative hazards; draw the day-0 backlog."""
        super().__init__(sim)
        scenario = sim.scenario
        p: CourtList = scenario.sanctions.court
        self.params = p
        run = scenario.run
        self.days, self.seed, self.n = run.days, run.seed, scenario.population.size
        # this simulation's citizens: global ids offset .. offset + size - 1 (a shard's)
        self.offset, self.size = sim.lo, sim.size
        self.duration = p.duration_days
        self.age = sim.need("age")
        self.lo, self.hi = p.ages
        self.cases_rate = Daily(p.cases_per_year, run.start, run.days)
        self.perform = Daily(p.perform_share, run.start, run.days)
        pay = Daily(p.compliance_per_year, run.start, run.days).values
        self.cum_list = cumulative(Daily(p.listing_per_year, run.start, run.days).values)
        self.cum_pay = cumulative(pay)
        self.cum_comply = cumulative(pay * Daily(p.listing_multiplier, run.start, run.days).values)
        self.phase_of = self.add_state(
            StateSpec("phase", np.uint8, "open case: 0 none, 1-2 defaulting, 3-4 listed"),
            np.zeros(self.size, dtype=np.uint8),
        )
        self.until = self.add_state(
            StateSpec("until", np.int32, "day the listing ends (listed while day < until)"),
            np.full(self.size, NEVER, dtype=np.int32),
        )
        self.until_true = self.until  # no counterfactual: nobody is listed wrongly
        # cohorts: each member's listing day, and members by listing day (only when asked)
        self.cohorts = tracks_cohorts(scenario)
        self.since = np.empty(0, dtype=np.int32)
        self.by_since = np.zeros(self.days if self.cohorts else 0, dtype=np.int64)
        if self.cohorts:
            self.since = self.add_state(
                StateSpec("since", np.int32, "day the current listing began"),
                np.full(self.size, NEVER, dtype=np.int32),
            )
        self.counts = np.zeros(2, dtype=np.int64)
        self.today = np.zeros(6, dtype=np.int64)
        self._due: dict[int, list[np.ndarray]] = {}
        if p.initial_defaulting > 0:
            out_ids = np.empty(self.size, dtype=np.int32)
            out_days = np.empty(self.size, dtype=np.int32)
            n_def, m = _backlog(
                self.seed,
                p.initial_defaulting,
                self.age,
                self.lo,
                self.hi,
                self.cum_list,
                self.cum_pay,
                self.phase_of,
                out_ids,
                out_days,
                self.offset,
            )
            self.counts[K_DEFAULTING] = n_def
            self._schedule(out_ids[:m], out_days[:m])
        sim.provide(f"list:{COURT_LIST}", self)

    # -- what a list trigger reads ------------------------------------------------------

    @property
    def listed(self) -> int:
        """Debtors on the list now."""
        return int(self.counts[K_LISTED])

    @property
    def listed_true(self) -> int:
        """The same: the list has no counterfactual."""
        return self.listed

    listed_wrongly = 0

    def members(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """(listed, listed in truth: the same) on `day`, as boolean arrays over citizens."""
        on = self.until > day
        return on, on

    def cohort_sum(self, rates: np.ndarray, day: int) -> float:
        """Sum over today's members of `rates` (one per run day) at their listing day.

        Needs cohorts tracked (`tracks_cohorts`); exact and in a fixed order (by listing
        day), so the same on any thread count.
        """
        if not self.cohorts:
            raise RuntimeError("court list: cohorts are not tracked in this scenario")
        return float(_cohort_sum(self.by_since, rates, day))

    # -- the day ------------------------------------------------------------------------

    def _schedule(self, ids: np.ndarray, days: np.ndarray) -> None:
        """Put events into the calendar (days past the run are dropped)."""
        keep = days < self.days
        ids, days = ids[keep], days[keep]
        if not ids.size:
            return
        order = np.argsort(days, kind="stable")
        ids, days = ids[order], days[order]
        cut = np.flatnonzero(np.diff(days)) + 1
        for part_ids, part_days in zip(np.split(ids, cut), np.split(days, cut), strict=True):
            self._due.setdefault(int(part_days[0]), []).append(part_ids.copy())

    def step(self, ctx: DayContext) -> None:
        """Process today's scheduled events, then today's new cases."""
        day = ctx.day
        self.today[:] = 0
        due = self._due.pop(day, None)
        if due:
            ids = np.concatenate(due) if len(due) > 1 else due[0]
            out_ids = np.empty(ids.size, dtype=np.int32)
            out_days = np.empty(ids.size, dtype=np.int32)
            m = _events(
                day,
                self.seed,
                ids,
                self.duration,
                self.cum_comply,
                self.phase_of,
                self.until,
                out_ids,
                out_days,
                self.today,
                self.counts,
                self.since,
                self.by_since,
                self.offset,
            )
            self._schedule(out_ids[:m], out_days[:m])
        rate = self.cases_rate.at(day)
        if rate <= 0:
            return
        key = np.uint64(streams.stream_key(self.seed, streams.COURT, day, POP_BLOCK))
        count, _ = streams.poisson(key, np.uint64(0), rate / 365.0 * self.n)
        if count == 0:
            return
        picks_key = np.uint64(streams.stream_key(self.seed, streams.COURT, day, POP_BLOCK + 1))
        picks = _picks(picks_key, int(count), self.n)  # global ids, sorted
        if self.size < self.n:  # a shard: the picks it owns, as indices into its state
            lo, hi = np.searchsorted(picks, (self.offset, self.offset + self.size))
            picks = picks[lo:hi] - np.int32(self.offset)
        out_ids = np.empty(picks.size, dtype=np.int32)
        out_days = np.empty(picks.size, dtype=np.int32)
        m = _cases(
            day,
            self.seed,
            picks,
            self.age,
            self.lo,
            self.hi,
            self.perform.at(day),
            self.cum_list,
            self.cum_pay,
            self.phase_of,
            out_ids,
            out_days,
            self.today,
            self.counts,
            self.offset,
        )
        self._schedule(out_ids[:m], out_days[:m])

    # -- sharded runs -------------------------------------------------------------------

    def shard_values(self, ctx: DayContext) -> dict[str, Any]:
        """Today's counts in this shard and, with cohorts, its members by listing day."""
        out: dict[str, Any] = dict(self.values(ctx))
        if self.cohorts:
            out["by_since"] = self.by_since[: ctx.day + 1].copy()
        return out

    def combine_shards(self, day: int, parts: list[dict[str, Any]]) -> dict[str, Any]:
        """The summed counts; with cohorts, the national members by listing day.

        The driver's copy keeps the summed `by_since` (integers: the one-process array
        exactly), so the measures combined after it (`Measures.combine_shards`) read the
        national `cohort_sum` of today, in the one-process order.
        """
        out = type(self).combine_values(self.sim.scenario, parts)
        cohorts = out.pop("by_since", None)
        if cohorts is not None:
            self.by_since[:] = 0
            self.by_since[: cohorts.size] = cohorts
        return out

    # -- declarations -------------------------------------------------------------------

    def columns(self) -> list[Column]:
        """Cases, performance, listings, who is listed and defaulting, and the exits."""

        def flow(name: str, label: str, unit: str = "people", **kw: Any) -> Column:
            return Column(name, agg="sum", unit=unit, label=label, **kw)

        return [
            flow("court_cases", "court: enforcement cases opened", unit="cases"),
            flow("court_performed", "court: debtors performing at judgment", unit="cases"),
            flow(
                "court_listings",
                "court: defaulters newly listed",
                headline=True,
                higher_is="worse",
                family="entries",
                key=COURT_LIST,
            ),
            Column(
                f"listed_{COURT_LIST}",
                agg="last",
                label="court: debtors on the list",
                headline=True,
                higher_is="worse",
                family="listed",
                key=COURT_LIST,
            ),
            Column(
                "court_defaulting",
                agg="last",
                label="court: defaulting debtors not (yet) listed",
            ),
            flow("court_complied", "court: listed debtors complying (removed)", headline=True),
            flow("court_expired", "court: listings expired at the longest duration"),
            flow("court_paid_unlisted", "court: defaulters complying before any listing"),
        ]

    def values(self, ctx: DayContext) -> dict[str, float]:
        """Today's counts."""
        t = self.today
        return {
            "court_cases": int(t[0]),
            "court_performed": int(t[1]),
            "court_listings": int(t[2]),
            f"listed_{COURT_LIST}": self.listed,
            "court_defaulting": int(self.counts[K_DEFAULTING]),
            "court_complied": int(t[3]),
            "court_expired": int(t[4]),
            "court_paid_unlisted": int(t[5]),
        }

    def exports(self) -> list[Export]:
        """On the list at the end; defaulting at the end."""
        return [
            Export(
                COURT_LIST,
                "on the court list of judgment defaulters at the end",
                family="listed",
                key=COURT_LIST,
            ),
            Export("court_defaulting", "a defaulting judgment debtor, not listed, at the end"),
        ]

    def people(self) -> dict[str, Any]:
        """End-of-run membership and open unlisted defaults."""
        on, _ = self.members(self.sim.day - 1)
        ph = self.phase_of
        return {COURT_LIST: on, "court_defaulting": (ph == TO_LIST) | (ph == TO_PAY)}

    # -- checkpoints --------------------------------------------------------------------

    def scalars(self) -> dict[str, Any]:
        """The counts kept between days, and today's."""
        return {"counts": [int(x) for x in self.counts], "today": [int(x) for x in self.today]}

    def load_scalars(self, values: dict[str, Any]) -> None:
        """Restore the counts."""
        self.counts[:] = values["counts"]
        self.today[:] = values["today"]

    def extra_state(self) -> dict[str, np.ndarray]:
        """The calendar of scheduled events, as (day, id) pairs in calendar order."""
        days = [np.full(a.size, d, np.int32) for d, parts in self._due.items() for a in parts]
        ids = [a for parts in self._due.values() for a in parts]
        out = {
            "due_day": np.concatenate(days) if days else np.empty(0, np.int32),
            "due_id": np.concatenate(ids) if ids else np.empty(0, np.int32),
        }
        if self.cohorts:
            out["by_since"] = self.by_since.copy()
        return out

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore the calendar (an event's order within its day does not change results)."""
        self._due = {}
        d, i = arrays["due_day"], arrays["due_id"]
        for day in np.unique(d):
            self._due[int(day)] = [i[d == day].astype(np.int32)]
        if self.cohorts:
            self.by_since[:] = arrays["by_since"]
