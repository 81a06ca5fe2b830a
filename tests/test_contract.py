"""The module contract end to end: a new module's declarations reach every output.

A toy module defined here (one headline column, one state array, one people column, one
table) is registered for these tests only; with no change to the engine it appears in
the run folder, the manifest's outputs, `panopticon compare`, a sweep's table and the
run summary. Run folders written before the manifest described its outputs still work.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

import panopticon as pn
import panopticon.stages.builtin  # the built-in modules register first
from panopticon.analysis.compare import compare_text
from panopticon.analysis.headline import METRICS, headline, metrics
from panopticon.cli import main
from panopticon.cli.summary import summary_table
from panopticon.core.module import Column, DayContext, Export, Module, Phase, StateSpec, TableSpec
from panopticon.core.registry import REGISTRY, register

# documented's dated court rates held flat: schedule dates must lie within a shortened run
SHORT = ["sanctions.court.perform_share=0.5", "sanctions.court.listing_per_year=1.0"]

DAYS = 6


class ToyModule(Module):
    """Counts the days each citizen has lived through; a test of the contract only."""

    name = "toy"
    phase = Phase.SNAPSHOT

    def __init__(self, sim: Any, **kwargs: Any) -> None:
        """Declare one int32 state array over all citizens."""
        super().__init__(sim, **kwargs)
        self.days_seen = self.add_state(
            StateSpec("toy_days", np.int32, "days lived through", truth=True),
            np.zeros(sim.size, np.int32),
        )
        self.rows: list[tuple[int, int]] = []

    def step(self, ctx: DayContext) -> None:
        """Everyone lives through the day; the table keeps the day and today's acts."""
        self.days_seen += 1
        self.rows.append((ctx.day, int(ctx.actors.size)))

    def columns(self) -> list[Column]:
        """One headline column: the day's number, plus one."""
        return [Column("toy_count", agg="sum", unit="things", label="toy things", headline=True)]

    def values(self, ctx: DayContext) -> dict[str, float]:
        """Today's value: day + 1 (so the run's total is 1 + 2 + ... + days)."""
        return {"toy_count": ctx.day + 1}

    def exports(self) -> list[Export]:
        """One people column, simulator-only."""
        return [Export("toy_days", "days lived through", truth=True)]

    def people(self) -> dict[str, np.ndarray]:
        """The state array at the end."""
        return {"toy_days": self.days_seen}

    def table_specs(self) -> list[TableSpec]:
        """One extra table, one row per day."""
        return [TableSpec("toy_table", "the toy module", "one per day", {"day": "day", "acts": ""})]

    def tables(self) -> dict[str, pa.Table]:
        """The days and their act counts."""
        day, acts = zip(*self.rows, strict=True) if self.rows else ((), ())
        return {
            "toy_table": pa.table(
                {"day": pa.array(day, pa.int32()), "acts": pa.array(acts, pa.int64())}
            )
        }


@pytest.fixture(scope="module")
def toy() -> Iterator[type[Module]]:
    """The toy module registered for this file's tests, and removed afterwards."""
    register(ToyModule)
    try:
        yield ToyModule
    finally:
        REGISTRY.remove(ToyModule)
    assert ToyModule not in REGISTRY


@pytest.fixture(scope="module")
def runs(toy: type[Module], tmp_path_factory: pytest.TempPathFactory) -> list[pn.RunResult]:
    """Two small minimal-model runs (two seeds) with the toy module in them."""
    root = tmp_path_factory.mktemp("contract")
    return [
        pn.run(pn.load("minimal", population=1500, days=DAYS, seed=s), out=root / f"s{s}")
        for s in (1, 2)
    ]


def test_run_folder_has_the_toy_outputs(runs: list[pn.RunResult]) -> None:
    r = runs[0]
    ts = pl.read_parquet(r.path / "timeseries.parquet")
    assert ts["toy_count"].to_list() == list(range(1, DAYS + 1))
    people = pl.read_parquet(r.path / "people.parquet")
    assert people["toy_days"].to_list() == [DAYS] * 1500
    table = pl.read_parquet(r.path / "toy_table.parquet")
    assert table["day"].to_list() == list(range(DAYS)) and table["acts"].sum() > 0
    out = r.manifest["outputs"]
    toy = out["timeseries"]["toy_count"]
    assert {k: toy[k] for k in ("dtype", "total", "unit", "label", "headline", "higher_is")} == {
        "dtype": "int64",
        "total": "sum",
        "unit": "things",
        "label": "toy things",
        "headline": True,
        "higher_is": "neutral",
    }
    assert toy["position"] == len(out["timeseries"]) - 1  # a snapshot module's column is last
    days = out["people"]["toy_days"]
    assert (days["description"], days["truth"]) == ("days lived through", True)
    assert out["tables"]["toy_table"]["rows"] == "one per day"
    assert r.totals["toy_count"] == sum(range(1, DAYS + 1))


def test_the_toy_headline_is_compared_and_summarised(
    runs: list[pn.RunResult], capsys: pytest.CaptureFixture[str]
) -> None:
    assert headline(runs[0])["toy_count"] == sum(range(1, DAYS + 1))
    assert "toy_count" in [m.key for m in metrics(runs)]
    assert main(["compare", str(runs[0].path), str(runs[1].path)]) == 0
    text = capsys.readouterr().out
    line = next(x for x in text.splitlines() if x.startswith("toy things"))
    assert line.split()[2:5] == ["21", "21", "+0"]
    assert "toy things" in summary_table(runs[0])


def test_the_toy_headline_is_swept(toy: type[Module], tmp_path: Path) -> None:
    out = tmp_path / "sw"
    args = ["sweep", "minimal", "--population", "1000", "--days", str(DAYS), "-q"]
    args += ["--vary", "surveillance.faceid.p_wrong=0.02,0.2", "--out", str(out)]
    assert main(args) == 0
    t = pl.read_parquet(out / "sweep.parquet").filter(pl.col("metric") == "toy_count")
    assert t["value"].to_list() == [float(sum(range(1, DAYS + 1)))] * 2
    assert "toy things" in (out / "report.html").read_text()


def test_old_run_folder_without_outputs(runs: list[pn.RunResult], tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(runs[0].path, old)
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["outputs"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    r = pn.RunResult(old)
    assert [m.key for m in metrics(r)] == [m.key for m in METRICS]
    assert set(headline(r)) == {m.key for m in METRICS}
    text = compare_text([r, runs[1]])
    assert "toy things" in text and "n/a" in text
    assert "toy things" not in summary_table(r)


def test_build_order_does_not_follow_import_order() -> None:
    """Modules of a phase are built in the fixed order, whatever was imported first."""
    code = (
        "import panopticon.stages.sanction.measures, panopticon as pn\n"
        f"sim = pn.Simulation(pn.load('documented', {SHORT!r}, population=2000, days=1))\n"
        "print([m.name for m in sim.modules])\n"
    )
    other = "import panopticon as pn\n" + code.split("\n", 1)[1]
    a = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    b = subprocess.run([sys.executable, "-c", other], capture_output=True, text=True, check=True)
    assert a.stdout == b.stdout
    names = json.loads(a.stdout.replace("'", '"'))
    assert names.index("blacklist") < names.index("measures")
