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
import pyarrow as pa
from numba import njit

from panopticon.core import streams
from panopticon.core.module import Column, DayContext, Export, Membership, StateSpec
from panopticon.core.params import Daily
from panopticon.stages.sanction.measures.base import MeasureKind, register_kind


@njit(cache=True)
def _allocation_keys(seed: int, day: int, measure: int, n: int) -> np.ndarray:
    """One uniform key per citizen for a round (lottery keys and tie breaks)."""
    key = streams.stream_key(seed, streams.SANCTIONS, day, 1000 + measure)
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        out[i] = streams.uniform(key, np.uint64(i))
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
    cand = applicants[~excluded[applicants]]
    if cand.size == 0 or capacity <= 0:
        return np.empty(0, dtype=np.int64)
    u = keys[cand]
    if rule == "ranked":
        order = np.lexsort((u, -score[cand].astype(np.float64)))
    elif rule == "weighted_lottery":
        w = np.maximum(score[cand].astype(np.float64) - low + 1.0, 1e-9)
        order = np.argsort(-(np.log(np.maximum(u, 1e-300)) / w), kind="stable")
    else:
        order = np.argsort(u, kind="stable")
    return cand[order[:capacity]]


ACCESS = ("none", "refused", "excluded", "allocated")


class HouseholdLiability:
    """A trigger shared by each member's household: the membership of a joint-liability measure.

    `members` are the trigger's own members; `collateral` those it reaches only through
    another household member (the `CollateralMembership` protocol).
    """

    def __init__(self, trigger: Membership, family: Any) -> None:
        """Wrap a trigger and the household structure (``any_other_member``)."""
        self.trigger, self.family = trigger, family

    def members(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """(triggered, triggered in truth): the trigger's own members."""
        return self.trigger.members(day)

    def collateral(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """(not triggered but a household member is, a household member is in truth)."""
        return self.split(*self.trigger.members(day))[2:]

    def split(
        self, on: np.ndarray, truth: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(liable now, liable in truth, collateral now, another member triggered in truth)."""
        other_on = self.family.any_other_member(on)
        other_truth = self.family.any_other_member(truth)
        return on | other_on, truth | other_truth, other_on & ~on, other_truth


@register_kind
class Allocation(MeasureKind):
    """A scarce good allocated in rounds, with exclusion by the trigger."""

    kinds = ("employment", "school", "housing")

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
        self.liability = HouseholdLiability(trigger, family) if family is not None else None
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
        return {self.name: pa.DictionaryArray.from_arrays(self.access, list(ACCESS))}

    def values(self, ctx: DayContext, key: np.uint64) -> dict[str, float]:
        """A round of a scarce good, on its schedule; zeros on other days."""
        day, idx, name, m = ctx.day, self.index, self.name, self.params
        out = {
            f"excluded_{name}": 0,
            f"excluded_wrongly_{name}": 0,
            f"excluded_collateral_{name}": 0,
            f"excluded_collateral_wrongly_{name}": 0,
            f"lost_wrongly_{name}": 0,
        }
        if day < m.first_day or (day - m.first_day) % m.every_days:
            return out
        seed, n = self.catalog.seed, self.catalog.n
        keys = _allocation_keys(seed, day, idx, n)
        age = self.age
        eligible = (
            np.ones(n, dtype=bool) if age is None else ((age >= m.ages[0]) & (age <= m.ages[1]))
        )
        apply_keys = _allocation_keys(seed, day, 500 + idx, n)
        applicants = np.flatnonzero(eligible & (apply_keys < self.apply_share.at(day)))
        own, own_truth = self.trigger.members(day)
        on, truth = own, own_truth
        collateral = other_truth = np.zeros(n, dtype=bool)
        if self.liability is not None:
            on, truth, collateral, other_truth = self.liability.split(own, own_truth)
        rank = self.catalog.sim.need(f"score:{m.rank_policy}")
        low = rank.bounds[0]
        capacity = round(self.capacity_share.at(day) * applicants.size)
        got = allocate(applicants, on, rank.score, keys, capacity, m.rule, low)
        got_true = allocate(applicants, truth, rank.true_score, keys, capacity, m.rule, low)
        blind = allocate(
            applicants, np.zeros(n, dtype=bool), rank.score, keys, capacity, "score_blind", low
        )
        access = self.access
        access[:] = 0
        access[applicants] = 1
        access[applicants[on[applicants]]] = 2
        access[got] = 3
        in_got = np.zeros(n, dtype=bool)
        in_got[got] = True
        in_true = np.zeros(n, dtype=bool)
        in_true[got_true] = True
        excluded = applicants[on[applicants]]
        out[f"excluded_{name}"] = excluded.size
        coll = excluded[collateral[excluded]]
        out[f"excluded_wrongly_{name}"] = int((own[excluded] & ~own_truth[excluded]).sum())
        out[f"excluded_collateral_{name}"] = coll.size
        out[f"excluded_collateral_wrongly_{name}"] = int((~other_truth[coll]).sum())
        out[f"lost_wrongly_{name}"] = int((in_true & ~in_got).sum())
        self.rounds.append(
            {
                "day": day,
                "measure": name,
                "kind": m.kind,
                "rule": m.rule,
                "applicants": int(applicants.size),
                "capacity": capacity,
                "excluded": int(excluded.size),
                "excluded_wrongly": out[f"excluded_wrongly_{name}"],
                "excluded_collateral": out[f"excluded_collateral_{name}"],
                "excluded_collateral_wrongly": out[f"excluded_collateral_wrongly_{name}"],
                "allocated": int(got.size),
                "lost_wrongly": out[f"lost_wrongly_{name}"],
                "gained_wrongly": int((in_got & ~in_true).sum()),
                "blind_overlap": int(in_got[blind].sum()),
            }
        )
        return out
