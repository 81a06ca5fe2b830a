"""Scarce goods: public-sector jobs, school places, housing, allocated in rounds.

On each round's day, eligible citizens (by age) apply with probability `apply_share`;
applicants the trigger names (or, with joint liability, whose household member it
names) are excluded; `capacity_share` x applicants places go by the rule (ranked by
score, a score-weighted lottery, or score-blind). A dated share takes the value of the
round's day. The counterfactual round uses true
scores and the counterfactual trigger; `lost_wrongly` counts places the counterfactual
would have given and this round did not.

Every exclusion falls in exactly one of three parts, by the route that excluded it:

- deserved: the applicant is triggered, and triggered by the counterfactual too;
- wrongful (`excluded_wrongly`): the applicant is triggered, but not by the
  counterfactual (even if a household member is, so that the counterfactual would have
  excluded them collaterally);
- collateral (`excluded_collateral`, joint liability only): the applicant is not
  triggered, another household member is. Its wrongful part
  (`excluded_collateral_wrongly`): no other household member is triggered by the
  counterfactual either (the member's trigger is itself wrongful); the rest is collateral
  deserved for the member: the child of a parent rightly graded low.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from numba import njit

from panopticon.core import arrow, streams
from panopticon.core.jit import KERNEL
from panopticon.core.module import Column, DayContext, Export, Membership, StateSpec
from panopticon.core.params import Daily
from panopticon.stages.sanction.measures.base import MeasureKind, register_kind


@njit(cache=True, **KERNEL)
def _allocation_keys(seed: int, day: int, measure: int, lo: int, n: int) -> np.ndarray:
    """One uniform key per citizen lo..lo+n-1 for a round (lottery keys and tie breaks).

    Keyed by the global id, so a shard draws its citizens' keys of the one-process run.
    """
    key = streams.stream_key(seed, streams.SANCTIONS, day, 1000 + measure)
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        out[i] = streams.uniform(key, np.uint64(lo + i))
    return out


def allocate(
    applicants: np.ndarray,
    excluded: np.ndarray,
    score: np.ndarray,
    keys: np.ndarray,
    capacity: int,
    rule: str,
    low: float,
) -> np.ndarray:
    """Ids allocated a place: among non-excluded applicants, by the rule.

    ranked: highest score first, ties by key. weighted_lottery: Efraimidis-Spirakis keys
    u^(1/w) with weight w = score - low + 1. score_blind: by key alone.
    """
    return allocate_rows(
        applicants, excluded[applicants], score[applicants], keys[applicants], capacity, rule, low
    )


def allocate_rows(
    ids: np.ndarray,
    excluded: np.ndarray,
    score: np.ndarray,
    keys: np.ndarray,
    capacity: int,
    rule: str,
    low: float,
) -> np.ndarray:
    """`allocate` on one row per applicant (ids ascending): what a national round ranks.

    A sharded run concatenates the shards' applicant rows in shard order, which is id
    order, so the candidates, their keys and the sort are the one-process ones.
    """
    keep = ~excluded
    cand = ids[keep]
    if cand.size == 0 or capacity <= 0:
        return np.empty(0, dtype=np.int64)
    u, s = keys[keep], score[keep]
    if rule == "ranked":
        order = np.lexsort((u, -s.astype(np.float64)))
    elif rule == "weighted_lottery":
        w = np.maximum(s.astype(np.float64) - low + 1.0, 1e-9)
        order = np.argsort(-(np.log(np.maximum(u, 1e-300)) / w), kind="stable")
    else:
        order = np.argsort(u, kind="stable")
    return cand[order[:capacity]]


ACCESS = ("none", "refused", "excluded", "allocated")


def other_member(
    household: np.ndarray, mask: np.ndarray, members: np.ndarray, n_households: int
) -> np.ndarray:
    """Per row: whether another member of its household is in `members`.

    `household` and `mask` are one row per citizen considered (the citizen's household,
    and whether the citizen is a member); `members` lists the household of every member
    of the whole population (the rows' own members among them, any order). The count per
    household minus the row's own membership: `Network.any_other_member` on the whole
    population, read at these rows.
    """
    per = np.bincount(members, minlength=n_households)
    return per[household] - mask.astype(np.int64) > 0


class HouseholdLiability:
    """A trigger shared by each member's household: the membership of a joint-liability measure.

    `members` are the trigger's own members; `collateral` those it reaches only through
    another household member (the `CollateralMembership` protocol).

    In a shard (`n` citizens from `lo`, fewer than the graph's) household members may
    live in other shards: on the days a collateral reach is read, the catalog's national
    barrier hands it the households of the other shards' members (`set_foreign`), and the
    reach counts them with its own (`other_member`): the one-process values.
    """

    def __init__(self, trigger: Membership, family: Any, lo: int = 0, n: int | None = None) -> None:
        """Wrap a trigger and the household structure (``any_other_member``)."""
        self.trigger, self.family = trigger, family
        self.n = family.size if n is None else n
        self.whole = lo == 0 and self.n == family.size
        self.household = family.household[lo : lo + self.n]  # this simulation's citizens'
        self.foreign: tuple[int, np.ndarray, np.ndarray] | None = None  # (day, on, truth)

    def members(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """(triggered, triggered in truth): the trigger's own members."""
        return self.trigger.members(day)

    def collateral(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """(not triggered but a household member is, a household member is in truth)."""
        return self.split(*self.trigger.members(day), day=day)[2:]

    def tally(self, day: int, group: np.ndarray, k: int, cache: dict[int, Any]) -> Any:
        """The trigger's `tally` of `members` per group (None where it has none)."""
        fast = getattr(self.trigger, "tally", None)
        return fast(day, group, k, cache) if fast is not None else None

    def collateral_tally(self, day: int, group: np.ndarray, k: int) -> Any:
        """`collateral` counted per group, int64 [2, k], in one process (else None).

        The same counts as a tally of `collateral`'s two arrays, from the trigger's status
        bits and the households, without the whole-population boolean arrays.
        """
        fast = getattr(self.trigger, "collateral_tally", None)
        if not self.whole or fast is None:
            return None
        return fast(self.household, self.family.n_households, group, k)

    def households(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """The households of this simulation's members (now, in truth): its barrier part."""
        on, truth = self.trigger.members(day)
        return self.household[on], self.household[truth]

    def set_foreign(self, day: int, on: np.ndarray, truth: np.ndarray) -> None:
        """The households of the other shards' members today (now, in truth)."""
        self.foreign = (day, on, truth)

    def split(
        self, on: np.ndarray, truth: np.ndarray, day: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(liable now, liable in truth, collateral now, another member triggered in truth)."""
        if self.whole:
            other_on = self.family.any_other_member(on)
            other_truth = self.family.any_other_member(truth)
        else:
            if self.foreign is None or self.foreign[0] != day:
                raise RuntimeError(
                    f"joint liability on day {day}: no households of the other shards' "
                    "members (the catalog's national barrier did not run today)"
                )
            _, f_on, f_truth = self.foreign
            h, k = self.household, self.family.n_households
            other_on = other_member(h, on, np.concatenate([h[on], f_on]), k)
            other_truth = other_member(h, truth, np.concatenate([h[truth], f_truth]), k)
        return on | other_on, truth | other_truth, other_on & ~on, other_truth


@register_kind
class Allocation(MeasureKind):
    """A scarce good allocated in rounds, with exclusion by the trigger."""

    kinds = ("employment", "school", "housing")
    # a round is national: each shard gathers its applicants, the driver ranks them all
    # (`gather`, `decide`, `scatter`), the other days read nothing but the day
    shards = True

    @classmethod
    def needs(cls, scenario: Any, params: Any) -> set[str]:
        """Ages (who may apply), the ranking score and, for joint liability, the graph."""
        out = {"age", f"score:{params.rank_policy}"}
        if params.joint_liability and scenario.network is not None:
            out.add("network")
        return out

    def __init__(self, catalog: Any, name: str, index: int, params: Any, trigger: Any) -> None:
        """The last round's outcome per citizen: none, refused, excluded, allocated."""
        super().__init__(catalog, name, index, params, trigger)
        sim = catalog.sim
        self.age = sim.need("age")
        family = sim.need("network") if params.joint_liability and sim.has("network") else None
        self.liability = (
            HouseholdLiability(trigger, family, sim.lo, catalog.n) if family is not None else None
        )
        if self.liability is not None:
            self.membership = self.liability
        self.access = catalog.add_state(
            StateSpec(f"access_{name}", np.uint8, f"{name}: last round's outcome"),
            np.zeros(catalog.n, dtype=np.uint8),
        )
        self.rounds: list[dict[str, Any]] = catalog.rounds  # shared: rows in day order
        run = sim.scenario.run  # dated shares: the round day's value
        self.apply_share = Daily(params.apply_share, run.start, run.days)
        self.capacity_share = Daily(params.capacity_share, run.start, run.days)
        self._pending: tuple[np.ndarray, np.ndarray] | None = None  # gathered, not scattered
        self._round: dict[str, float] = {}  # today's round's values, from `decide`

    def columns(self) -> list[Column]:
        """Applicants excluded, wrongly, collaterally, and places lost wrongly (round days).

        The collateral columns exist for every scarce good (zero without joint
        liability); they are headline columns only where joint liability is on.
        """
        n = self.name
        joint = self.liability is not None
        excluded = Column(
            f"excluded_{n}",
            agg="sum",
            unit="applicants",
            label=f"{n}: excluded",
            headline=True,
            higher_is="worse",
            family="excluded",
            key=n,
        )
        collateral = replace(
            excluded,
            name=f"excluded_collateral_{n}",
            label=f"{n}: excluded through a household member",
            headline=joint,
            family="excluded_collateral",
        )
        return [
            excluded,
            excluded.wrongful(f"excluded_wrongly_{n}", f"{n}: excluded wrongly"),
            collateral,
            collateral.wrongful(
                f"excluded_collateral_wrongly_{n}",
                f"{n}: excluded through a household member wrongly",
            ),
            replace(
                excluded,
                name=f"lost_wrongly_{n}",
                unit="places",
                label=f"{n}: places lost wrongly",
                family="lost_wrongly",
            ),
        ]

    def exports(self) -> list[Export]:
        """The last round's outcome."""
        return [
            Export(
                self.name,
                f"{self.name}: last round (none/refused/excluded/allocated)",
                family="access",
                key=self.params.kind,
            )
        ]

    def people(self) -> dict[str, Any]:
        """Outcomes as a named column."""
        return {self.name: arrow.dictionary(self.access, list(ACCESS))}

    def round_day(self, day: int) -> bool:
        """Whether a round takes place on `day` (its first day, then every `every_days`)."""
        m = self.params
        return day >= m.first_day and (day - m.first_day) % m.every_days == 0

    def gather(self, day: int) -> dict[str, np.ndarray]:
        """Today's applicants among this simulation's citizens, one row each (ids ascending).

        Each row holds what the national ranking and the round's counts read: the
        exclusions (own trigger, liable, in truth, collateral), both scores and the key.
        """
        m, catalog = self.params, self.catalog
        seed, n, lo = catalog.seed, catalog.n, catalog.sim.lo
        age = self.age
        eligible = (
            np.ones(n, dtype=bool) if age is None else ((age >= m.ages[0]) & (age <= m.ages[1]))
        )
        apply_keys = _allocation_keys(seed, day, 500 + self.index, lo, n)
        app = np.flatnonzero(eligible & (apply_keys < self.apply_share.at(day)))
        own, own_truth = self.trigger.members(day)
        rank = catalog.sim.need(f"score:{m.rank_policy}")
        self._pending = app
        rows = {
            "ids": app.astype(np.int64) + np.int64(lo),
            "own": own[app],
            "own_truth": own_truth[app],
            "score": rank.score[app],
            "true_score": rank.true_score[app],
            "keys": _allocation_keys(seed, day, self.index, lo, n)[app],
        }
        if self.liability is not None:  # decided with the whole population's members
            rows["household"] = self.liability.household[app]
        return rows

    def decide(
        self,
        day: int,
        parts: list[dict[str, np.ndarray]],
        households: list[tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> list[dict[str, Any]]:
        """The round over every applicant (the parts in id order); one result per part.

        With joint liability `households` holds each part's members' households (now, in
        truth: `HouseholdLiability.households`), and an applicant is liable when another
        member of its household is a member anywhere. Places go by the rule among the
        non-excluded (and, for the counterfactual, by true scores and exclusions); each
        part's result says which of its rows were excluded and got a place, with the
        round's counts and its row of the `allocations` table.
        """
        m, name = self.params, self.name
        a = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        own, own_truth = a["own"], a["own_truth"]
        if "household" in a:
            if households is None:
                raise ValueError(f"measure {name}: joint liability needs the members' households")
            h = a["household"]
            members = [np.concatenate([x[i] for x in households]) for i in (0, 1)]
            k = 1 + max(int(x.max(initial=-1)) for x in (h, *members))
            other_on = other_member(h, own, members[0], k)
            other_truth = other_member(h, own_truth, members[1], k)
            a["on"], a["truth"] = own | other_on, own_truth | other_truth
            a["collateral"], a["other_truth"] = other_on & ~own, other_truth
        else:
            a["on"], a["truth"] = own, own_truth
            a["collateral"] = a["other_truth"] = np.zeros(own.size, dtype=bool)
        ids, on = a["ids"], a["on"]
        low = self.catalog.sim.need(f"score:{m.rank_policy}").bounds[0]
        capacity = round(self.capacity_share.at(day) * ids.size)
        got = allocate_rows(ids, on, a["score"], a["keys"], capacity, m.rule, low)
        got_true = allocate_rows(ids, a["truth"], a["true_score"], a["keys"], capacity, m.rule, low)
        blind = allocate_rows(
            ids, np.zeros(ids.size, dtype=bool), a["score"], a["keys"], capacity, "score_blind", low
        )
        coll = on & a["collateral"]
        out: dict[str, float] = {
            f"excluded_{name}": int(on.sum()),
            f"excluded_wrongly_{name}": int((a["own"][on] & ~a["own_truth"][on]).sum()),
            f"excluded_collateral_{name}": int(coll.sum()),
            f"excluded_collateral_wrongly_{name}": int((~a["other_truth"][coll]).sum()),
            f"lost_wrongly_{name}": int(np.isin(got_true, got, invert=True).sum()),
        }
        row = {
            "day": day,
            "measure": name,
            "kind": m.kind,
            "rule": m.rule,
            "applicants": int(ids.size),
            "capacity": capacity,
            "excluded": out[f"excluded_{name}"],
            "excluded_wrongly": out[f"excluded_wrongly_{name}"],
            "excluded_collateral": out[f"excluded_collateral_{name}"],
            "excluded_collateral_wrongly": out[f"excluded_collateral_wrongly_{name}"],
            "allocated": int(got.size),
            "lost_wrongly": out[f"lost_wrongly_{name}"],
            "gained_wrongly": int(np.isin(got, got_true, invert=True).sum()),
            "blind_overlap": int(np.isin(blind, got).sum()),
        }
        self._round = out
        results, at = [], 0
        for p in parts:
            rows = slice(at, at + p["ids"].size)
            at += p["ids"].size
            results.append(
                {"allocated": np.isin(p["ids"], got), "on": on[rows], "values": out, "row": row}
            )
        return results

    def scatter(self, result: dict[str, Any]) -> None:
        """Each citizen's outcome of the round (none, refused, excluded, allocated)."""
        if self._pending is None:
            raise RuntimeError(f"measure {self.name}: scatter() before gather()")
        app, on = self._pending, result["on"]
        access = self.access
        access[:] = 0
        access[app] = 1
        access[app[on]] = 2
        access[app[result["allocated"]]] = 3
        self._round = dict(result["values"])
        self.catalog.rounds.append(dict(result["row"]))
        self._pending = None

    def values(self, ctx: DayContext, key: np.uint64) -> dict[str, float]:
        """Today's round's counts (from `decide`), zeros on other days."""
        name = self.name
        if self.round_day(ctx.day):
            return dict(self._round)
        return {
            f"excluded_{name}": 0,
            f"excluded_wrongly_{name}": 0,
            f"excluded_collateral_{name}": 0,
            f"excluded_collateral_wrongly_{name}": 0,
            f"lost_wrongly_{name}": 0,
        }
