"""What a run measures: the daily funnel, per-group rates, grades, and the end state."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numba import njit, prange

BASE_COLUMNS: dict[str, type] = {
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
FLOWS = ("committed", "observed", "missed", "attributed_correct", "attributed_wrong")


class DailyMetrics:
    """One preallocated column per metric, one row per day.

    The base columns are the minimal model's; scenarios with more features add columns
    (named in `extra`: integer counts unless the name starts with ``mean_``).
    """

    def __init__(self, days: int, extra: dict[str, type | None] | None = None) -> None:
        """Allocate `days` rows; `extra` maps column -> dtype (None: by name)."""
        cols = dict(BASE_COLUMNS)
        for name, dt in (extra or {}).items():
            cols[name] = dt or (np.float64 if name.startswith("mean_") else np.int64)
        self.columns = {k: np.zeros(days, dtype=dt) for k, dt in cols.items()}
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
        last = self.filled - 1
        flows = (*FLOWS, "appealed", "appeals_won", "wrongful_removed")
        for k, v in self.columns.items():
            if k == "day":
                continue
            if k in flows or k.startswith(
                (
                    "entries_",
                    "recorded_",
                    "committed_",
                    "blocked_",
                    "granted_",
                    "extra_interest_",
                    "excluded_",
                    "lost_wrongly_",
                )
            ):
                out[k] = int(v[: self.filled].sum())
            else:
                out[k] = v[last].item() if self.filled else 0
        if "wrongful_removed" in self.columns:
            out["wrongful_remaining"] = out["attributed_wrong"] - out["wrongful_removed"]
        return out


class LongTable:
    """Rows of a tidy per-day table (grades, groups), accumulated as column lists."""

    def __init__(self, columns: dict[str, pa.DataType]) -> None:
        """Start empty with the given schema."""
        self.schema = pa.schema(list(columns.items()))
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in columns}

    def add(self, **cols: np.ndarray) -> None:
        """Append rows (equal-length arrays or scalars broadcast to them)."""
        n = max(np.size(v) for v in cols.values())
        for k, v in cols.items():
            self.parts[k].append(np.broadcast_to(np.asarray(v), (n,)).copy())

    def table(self) -> pa.Table:
        """The accumulated rows."""
        data = {}
        for f in self.schema:
            parts = self.parts[f.name]
            arr = np.concatenate(parts) if parts else np.empty(0)
            data[f.name] = pa.array(arr, type=f.type)
        return pa.table(data, schema=self.schema)


def people_table(columns: dict[str, np.ndarray | pa.Array]) -> pa.Table:
    """One row per citizen at the end of the run (columns in the given order)."""
    return pa.table(columns)


HISTOGRAM_EVERY = 30  # days between snapshots of the score distribution (and the last day)
HISTOGRAM_BINS = 100


@njit(cache=True, parallel=True)
def _histogram_kernel(
    score: np.ndarray, true_score: np.ndarray, low: int, width: int, nb: int
) -> tuple[np.ndarray, np.ndarray]:
    """Counts per bin of score and true_score (integer scores and widths).

    Parallel over fixed blocks whose counts are then summed: the same on any thread count.
    """
    n = score.size
    n_blocks = (n + 65535) // 65536
    local = np.zeros((n_blocks, 2, nb), dtype=np.int64)
    for blk in prange(n_blocks):
        for i in range(blk * 65536, min(n, blk * 65536 + 65536)):
            b = (np.int64(score[i]) - low) // width
            t = (np.int64(true_score[i]) - low) // width
            local[blk, 0, min(max(b, 0), nb - 1)] += 1
            local[blk, 1, min(max(t, 0), nb - 1)] += 1
    total = local.sum(axis=0)
    return total[0].copy(), total[1].copy()


def score_histogram(
    score: np.ndarray, true_score: np.ndarray, low: float, high: float, bins: int = HISTOGRAM_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of score and true_score in equal bins over [low, high]: (edges, count, true)."""
    low, high = int(np.floor(low)), int(np.ceil(high))
    width = max(1, -(-(high - low + 1) // bins))
    nb = -(-(high - low + 1) // width)
    edges = (low + width * np.arange(nb + 1)).astype(np.float64)
    count, true = _histogram_kernel(score, true_score, low, width, nb)
    return edges, count, true
