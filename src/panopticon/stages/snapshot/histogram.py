"""The score distribution of every score policy, every 30 days and on the last day."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from panopticon.core.metrics import HISTOGRAM_EVERY, LongTable, score_histogram
from panopticon.core.module import DayContext, Module, Phase, TableSpec, summed_counts
from panopticon.core.registry import register

SCHEMA = {
    "day": pa.int32(),
    "policy": pa.string(),
    "score_lo": pa.float64(),
    "score_hi": pa.float64(),
    "count": pa.int64(),
    "true_count": pa.int64(),
}


def snapshot_day(ctx: DayContext) -> bool:
    """Whether snapshots are taken today: every 30 days and on the last day."""
    return (ctx.day + 1) % HISTOGRAM_EVERY == 0 or ctx.last_day


@register
class Histogram(Module):
    """Counts of score and true score in 100 equal bins per policy (``score:*``)."""

    name = "histogram"
    phase = Phase.SNAPSHOT
    shards = True  # the counts per bin add up over shards

    @classmethod
    def combine_tables(cls, scenario: Any, parts: list[dict[str, pa.Table]]) -> dict[str, pa.Table]:
        """The whole population's histogram: the shards' rows, counts summed (same bins)."""
        tables = [p["score_histogram"] for p in parts]
        return {"score_histogram": summed_counts(tables, ("count", "true_count"))}

    def __init__(self, sim: Any) -> None:
        """Start an empty table."""
        super().__init__(sim)
        self.rows = LongTable(SCHEMA)

    def step(self, ctx: DayContext) -> None:
        """Add today's distribution of every score policy on snapshot days."""
        if not snapshot_day(ctx):
            return
        for name, pol in self.sim.find("score:").items():
            edges, count, true = score_histogram(pol.score, pol.true_score, *pol.bounds)
            self.rows.add(
                day=np.int32(ctx.day),
                policy=name,
                score_lo=edges[:-1],
                score_hi=edges[1:],
                count=count,
                true_count=true,
            )

    def table_specs(self) -> list[TableSpec]:
        """The histogram table."""
        return [
            TableSpec(
                "score_histogram",
                "always",
                "policy x bin, every 30 days and the last day",
                {
                    "day": "day of the snapshot",
                    "policy": "score policy",
                    "score_lo": "bin's low edge",
                    "score_hi": "bin's high edge",
                    "count": "people with their score in the bin",
                    "true_count": "people with their counterfactual score in the bin",
                },
            )
        ]

    def tables(self) -> dict[str, pa.Table]:
        """The rows so far."""
        return {"score_histogram": self.rows.table()}

    def extra_state(self) -> dict[str, np.ndarray]:
        """The rows so far, for checkpoints."""
        return self.rows.arrays()

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore the rows."""
        self.rows.load(arrays)
