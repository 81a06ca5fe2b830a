"""What a run measures: the daily funnel and the per-citizen end state."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

TIMESERIES_COLUMNS: dict[str, type] = {
    "day": np.int32,
    "committed": np.int64,
    "observed": np.int64,
    "missed": np.int64,
    "attributed_correct": np.int64,
    "attributed_wrong": np.int64,
    "sanctioned": np.int64,
    "sanctioned_wrongly": np.int64,
    "mean_score": np.float64,
}


class DailyMetrics:
    """One preallocated column per metric, one row per day."""

    def __init__(self, days: int) -> None:
        """Allocate `days` rows."""
        self.columns = {k: np.zeros(days, dtype=dt) for k, dt in TIMESERIES_COLUMNS.items()}
        self.columns["day"][:] = np.arange(days)
        self.filled = 0

    def record(self, day: int, **values: float) -> None:
        """Store the day's values (keys are column names)."""
        for k, v in values.items():
            self.columns[k][day] = v
        self.filled = day + 1

    def table(self) -> pa.Table:
        """The filled rows as an Arrow table."""
        return pa.table({k: v[: self.filled] for k, v in self.columns.items()})

    def totals(self) -> dict[str, float]:
        """Sums of the flow columns and the last values of the stock columns."""
        out: dict[str, float] = {}
        for k in ("committed", "observed", "missed", "attributed_correct", "attributed_wrong"):
            out[k] = int(self.columns[k][: self.filled].sum())
        last = self.filled - 1
        for k in ("sanctioned", "sanctioned_wrongly", "mean_score"):
            out[k] = self.columns[k][last].item() if self.filled else 0
        return out


def people_table(
    score: np.ndarray,
    true_score: np.ndarray,
    committed: np.ndarray,
    records_correct: np.ndarray,
    records_wrong: np.ndarray,
    status: np.ndarray,
) -> pa.Table:
    """One row per citizen at the end of the run."""
    n = score.size
    return pa.table(
        {
            "id": np.arange(n, dtype=np.int32),
            "score": score,
            "true_score": true_score,
            "committed": committed,
            "records_correct": records_correct,
            "records_wrong": records_wrong,
            "sanctioned": (status & 1).astype(bool),
        }
    )
