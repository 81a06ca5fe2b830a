"""Rates per demographic group: daily funnel, and consequences every 30 days.

`groups.parquet`: per day and group, acts committed, detected, missed, records against
and wrongful records against. `consequences_by_group.parquet`: on snapshot days, per
measure (every ``membership:*``: the blacklist and each measure) and group, people it
applies to and people it applies to wrongly; for a membership that reaches people through
others (`CollateralMembership`: a joint-liability measure), also the people it reaches only
through a household member (`collateral`) and those of them whose household member is not a
member by the counterfactual either (`collateral_wrongly`); zero for other memberships.

Sharded runs: every shard writes the same rows (day, group; measure) with its own
citizens' counts, and the tables combine by summing the counts (`combine_tables`). A
joint-liability measure's collateral reach is whole-population because the catalog's
national barrier handed each shard the other shards' members' households that day.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from numba import njit

from panopticon.core.jit import KERNEL
from panopticon.core.metrics import LongTable
from panopticon.core.module import (
    CollateralMembership,
    DayContext,
    Module,
    Phase,
    TableSpec,
    summed_counts,
)
from panopticon.core.records import MISSED
from panopticon.core.registry import register
from panopticon.stages.identify.identify import uses_groups
from panopticon.stages.snapshot.histogram import snapshot_day

FUNNEL = {
    "day": pa.int32(),
    "group": pa.string(),
    "population": pa.int64(),
    "committed": pa.int64(),
    "observed": pa.int64(),
    "missed": pa.int64(),
    "records_against": pa.int64(),
    "wrongful_against": pa.int64(),
}
CONSEQUENCES = {
    "day": pa.int32(),
    "measure": pa.string(),
    "group": pa.string(),
    "population": pa.int64(),
    "triggered": pa.int64(),
    "triggered_wrongly": pa.int64(),
    "collateral": pa.int64(),
    "collateral_wrongly": pa.int64(),
}


@njit(cache=True, **KERNEL)
def _count_by(
    group: np.ndarray, ids: np.ndarray, mask: np.ndarray, want: bool, k: int
) -> np.ndarray:
    """People per group among `ids` (only where mask == want, when a mask is given)."""
    out = np.zeros(k, dtype=np.int64)
    masked = mask.size > 0
    for r in range(ids.size):
        if masked and mask[r] != want:
            continue
        out[group[ids[r]]] += 1
    return out


@njit(cache=True, **KERNEL)
def _tally(group: np.ndarray, on: np.ndarray, truth: np.ndarray, k: int) -> np.ndarray:
    """Per group: members (`on`), and members not members in truth; one pass."""
    out = np.zeros((2, k), dtype=np.int64)
    for i in range(group.size):
        if on[i]:
            g = group[i]
            out[0, g] += 1
            if not truth[i]:
                out[1, g] += 1
    return out


_NO_MASK = np.zeros(0, dtype=np.bool_)


def own_tally(m: Any, day: int, group: np.ndarray, k: int, cache: dict[int, Any]) -> np.ndarray:
    """A membership's members per group, int64 [2, k]: members, members not in truth.

    A membership with a `tally` (a score trigger: every trigger of its policy in one
    pass over the status bits) gives the counts directly; any other is tallied from
    its `members` arrays. The same numbers either way.
    """
    fast = getattr(m, "tally", None)
    got = fast(day, group, k, cache) if fast is not None else None
    if got is None:
        on, truth = m.members(day)
        got = _tally(group, on, truth, k)
    return got


def collateral_tally(m: Any, day: int, group: np.ndarray, k: int) -> np.ndarray:
    """A joint-liability membership's collateral reach per group, int64 [2, k]."""
    fast = getattr(m, "collateral_tally", None)
    got = fast(day, group, k) if fast is not None else None
    if got is None:
        got = _tally(group, *m.collateral(day), k)
    return got


@register
class Groups(Module):
    """Per-group tables (module name ``groups``), when the scenario distinguishes groups."""

    name = "groups"
    phase = Phase.SNAPSHOT
    shards = True  # counts of its own citizens; the shards' tables sum

    @classmethod
    def combine_tables(cls, scenario: Any, parts: list[dict[str, pa.Table]]) -> dict[str, pa.Table]:
        """Each table's counts summed over the shards (every shard has the same rows)."""
        out: dict[str, pa.Table] = {}
        for name, spec in (("groups", FUNNEL), ("consequences_by_group", CONSEQUENCES)):
            counts = tuple(k for k, t in spec.items() if t == pa.int64())
            out[name] = summed_counts([p[name] for p in parts], counts)
        return out

    @classmethod
    def instances(cls, scenario: Any) -> list[dict[str, Any]]:
        """Present when groups matter (several, or face-ID scores mode)."""
        return [{}] if uses_groups(scenario) else []

    @classmethod
    def needs(cls, scenario: Any, **kwargs: Any) -> set[str]:
        """The group codes."""
        return {"group"}

    def __init__(self, sim: Any) -> None:
        """Index the groups."""
        super().__init__(sim)
        self.group = sim.need("group")
        self.lo = sim.lo  # acts name global ids; the group codes are this shard's
        self.names = list(sim.scenario.population.groups)
        self.size = np.bincount(self.group, minlength=len(self.names))
        self.funnel = LongTable(FUNNEL)
        self.consequences = LongTable(CONSEQUENCES)

    def _by(self, ids: np.ndarray, mask: np.ndarray = _NO_MASK, want: bool = True) -> np.ndarray:
        """People per group among `ids` (where `mask` is `want`, if a mask is given)."""
        return _count_by(self.group, ids, mask, want, len(self.names))

    def step(self, ctx: DayContext) -> None:
        """Today's funnel per group; on snapshot days, consequences per group."""
        batch, lo = ctx.batch, np.int32(self.lo)
        actors = ctx.actors - lo if self.lo else ctx.actors
        seen = ctx.seen_actors - lo if self.lo else ctx.seen_actors
        self.funnel.add(
            day=np.int32(ctx.day),
            group=np.array(self.names),
            population=self.size,
            committed=self._by(actors),
            observed=self._by(seen),
            missed=self._by(seen, ctx.outcome == MISSED),
            records_against=self._by(batch.attributed_to),
            wrongful_against=self._by(batch.attributed_to, batch.correct, False),
        )
        if not snapshot_day(ctx):
            return
        k = len(self.names)
        cache: dict[int, Any] = {}  # one pass per score policy's status bits, this snapshot
        for name, m in self.sim.find("membership:").items():
            own = own_tally(m, ctx.day, self.group, k, cache)
            if isinstance(m, CollateralMembership):
                coll = collateral_tally(m, ctx.day, self.group, k)
            else:
                coll = np.zeros((2, k), dtype=np.int64)
            self.consequences.add(
                day=np.int32(ctx.day),
                measure=name,
                group=np.array(self.names),
                population=self.size,
                triggered=own[0],
                triggered_wrongly=own[1],
                collateral=coll[0],
                collateral_wrongly=coll[1],
            )

    def table_specs(self) -> list[TableSpec]:
        """The two tables."""
        return [
            TableSpec(
                "groups", "groups defined", "day x group", {k: k.replace("_", " ") for k in FUNNEL}
            ),
            TableSpec(
                "consequences_by_group",
                "groups defined",
                "every 30 days and the last day: measure x group",
                {
                    **{k: k.replace("_", " ") for k in CONSEQUENCES},
                    "collateral": "reached only through a household member's membership: "
                    "joint liability, 0 otherwise",
                    "collateral_wrongly": "collateral, and no household member is a member "
                    "by the counterfactual",
                },
            ),
        ]

    def tables(self) -> dict[str, pa.Table]:
        """The rows so far."""
        return {
            "groups": self.funnel.table(),
            "consequences_by_group": self.consequences.table(),
        }

    def extra_state(self) -> dict[str, np.ndarray]:
        """The rows so far."""
        return {
            **{f"funnel.{k}": v for k, v in self.funnel.arrays().items()},
            **{f"consequences.{k}": v for k, v in self.consequences.arrays().items()},
        }

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore the rows."""
        for prefix, table in (("funnel.", self.funnel), ("consequences.", self.consequences)):
            n = len(prefix)
            table.load({k[n:]: v for k, v in arrays.items() if k.startswith(prefix)})
