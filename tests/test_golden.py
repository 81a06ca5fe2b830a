"""The minimal preset keeps giving the same results as features are added.

The digest covers the values of every column of the three result tables (not the file
bytes, which also carry the Parquet library's version string), except the timeseries'
`date`, which only labels `day` with the calendar (tests/test_schedules.py checks it). If
a change to the engine alters the minimal model's random streams or rules, this fails;
update the digest only for a deliberate, documented change of the model.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

import panopticon as pn

GOLDEN = "0b63660687e65d4cab5a9a432a2f486c43d1519b3e62824f5a612decc1b3e7c0"


def table_digest(run: pn.RunResult) -> str:
    """SHA-256 over the column names, dtypes and values of the result tables."""
    h = hashlib.sha256()
    for name in ("timeseries", "people", "records"):
        df: pl.DataFrame = getattr(run, name)
        for col in df.columns:
            if name == "timeseries" and col == "date":
                continue  # the calendar label of `day` (run.start_date + day), not a result
            s = df[col]
            h.update(f"{name}.{col}:{s.dtype}".encode())
            if s.dtype == pl.Categorical:
                s = s.cast(pl.String)
            if s.dtype == pl.String:
                h.update("\n".join(s.to_list()).encode())
            else:
                h.update(s.to_numpy().tobytes())
    return h.hexdigest()


def test_minimal_results_unchanged(tmp_path: Path) -> None:
    run = pn.run(pn.load("minimal", population=20_000, days=100, seed=42), out=tmp_path / "g")
    assert table_digest(run) == GOLDEN
