"""People per grade and per policy each day, and how many of them deserve a better grade."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from panopticon.core import arrow
from panopticon.core.module import DayContext, Module, Phase, TableSpec, summed_counts
from panopticon.core.registry import register


@register
class GradeCounts(Module):
    """Daily grade counts of every graded score policy, preallocated (day x grade)."""

    name = "grades"
    phase = Phase.SNAPSHOT
    shards = True  # the counts per grade add up over shards

    @classmethod
    def combine_tables(cls, scenario: Any, parts: list[dict[str, pa.Table]]) -> dict[str, pa.Table]:
        """The whole population's grade table: the shards' rows, counts summed (same rows)."""
        return {"grades": summed_counts([p["grades"] for p in parts], ("count", "wrongful"))}

    @classmethod
    def instances(cls, scenario: Any) -> list[dict[str, Any]]:
        """Present when some policy has grade bands."""
        graded = bool(scenario.scoring.grades) or any(
            f.grades for f in scenario.scoring.factors.values()
        )
        return [{}] if graded else []

    def __init__(self, sim: Any) -> None:
        """Allocate the counts lazily (policies are looked up at the first step)."""
        super().__init__(sim)
        self._graded: list[tuple[str, Any, np.ndarray, np.ndarray]] | None = None

    def _policies(self) -> list[tuple[str, Any, np.ndarray, np.ndarray]]:
        """(policy, grades, counts[day, g], wrong[day, g]) for each graded policy."""
        if self._graded is None:
            days = self.sim.days
            self._graded = [
                (
                    name,
                    p.grades,
                    np.zeros((days, len(p.grades.names)), np.int64),
                    np.zeros((days, len(p.grades.names)), np.int64),
                )
                for name, p in self.sim.find("score:").items()
                if p.grades is not None
            ]
        return self._graded

    def step(self, ctx: DayContext) -> None:
        """Store today's counts."""
        for _, g, counts, wrong in self._policies():
            counts[ctx.day] = g.counts
            wrong[ctx.day] = g.wrong

    def table_specs(self) -> list[TableSpec]:
        """The grades table."""
        return [
            TableSpec(
                "grades",
                "a policy has grade bands",
                "day x policy x grade",
                {
                    "day": "day",
                    "policy": "score policy",
                    "grade": "grade",
                    "count": "people in the grade",
                    "wrongful": "people in the grade whose counterfactual grade is better",
                },
            )
        ]

    def tables(self) -> dict[str, pa.Table]:
        """Day x policy x grade rows (day-major), from the preallocated daily counts."""
        days = self.sim.day
        parts: dict[str, list[np.ndarray]] = {
            k: [] for k in ("day", "policy", "grade", "count", "wrongful")
        }
        for d in range(days):
            for name, g, counts, wrong in self._policies():
                k = len(g.names)
                parts["day"].append(np.full(k, d, dtype=np.int32))
                parts["policy"].append(np.full(k, name, dtype=object))
                parts["grade"].append(g.names_array.astype(object))
                parts["count"].append(counts[d])
                parts["wrongful"].append(wrong[d])
        types = {
            "day": pa.int32(),
            "policy": pa.string(),
            "grade": pa.string(),
            "count": pa.int64(),
            "wrongful": pa.int64(),
        }
        if not parts["day"]:
            empty = {k: pa.array([], type=t) for k, t in types.items()}  # no days recorded
            return {"grades": pa.table(empty)}
        cols = {k: np.concatenate(v) for k, v in parts.items()}
        return {"grades": arrow.table(cols, schema=pa.schema(list(types.items())))}

    def extra_state(self) -> dict[str, np.ndarray]:
        """The daily counts so far."""
        out = {}
        for name, _, counts, wrong in self._policies():
            out[f"counts_{name}"], out[f"wrong_{name}"] = counts, wrong
        return out

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore the daily counts."""
        for name, _, counts, wrong in self._policies():
            counts[:] = arrays[f"counts_{name}"]
            wrong[:] = arrays[f"wrong_{name}"]
