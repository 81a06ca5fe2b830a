"""The run folder: written as results stream in, complete or marked incomplete.

Layout: ``scenario.toml`` (fully resolved), ``manifest.json`` (version, seed, times, peak
memory, status), ``timeseries.parquet``, ``people.parquet`` and ``records.parquet``.
The manifest is written first with status ``incomplete`` and replaced atomically by one
saying ``complete`` only after every table is in place, so a run that is killed never
leaves a folder claiming to be complete. Tables are written under ``*.partial`` names
and renamed when whole.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from panopticon import __version__

RUN_FILES = (
    "manifest.json",
    "scenario.toml",
    "timeseries.parquet",
    "people.parquet",
    "records.parquet",
    "grades.parquet",
    "groups.parquet",
    "consequences_by_group.parquet",
    "allocations.parquet",
    "score_histogram.parquet",
    "report.html",
)
RUN_DIRS = ("checkpoints", "records.parts")
PARTS_DIR = "records.parts"
FLUSH_ROWS = 1 << 20
_PART_RE = re.compile(r"part-(\d{5,})\.parquet")


class RunError(ValueError):
    """A folder that cannot be written to or read as a run; message meant for the user."""


def now() -> str:
    """Current UTC time, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", "utf-8")
    os.replace(tmp, path)


def prepare_folder(out: Path, overwrite: bool) -> None:
    """Make `out` ready for a new run, refusing to clobber one unless `overwrite`."""
    if out.exists() and not out.is_dir():
        raise RunError(f"error: --out {out}: is a file, not a folder; choose a folder path")
    if out.is_dir() and any(out.iterdir()):
        if not (out / "manifest.json").exists():
            raise RunError(
                f"error: --out {out}: folder is not empty and holds no run; "
                "choose a new or empty folder"
            )
        if not overwrite:
            raise RunError(
                f"error: --out {out}: already holds a run; pass --overwrite to replace it "
                "or choose another --out"
            )
        for name in RUN_FILES:
            for p in (out / name, out / (name + ".partial"), out / (name + ".tmp")):
                p.unlink(missing_ok=True)
        for name in RUN_DIRS:
            shutil.rmtree(out / name, ignore_errors=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"error: --out {out}: cannot be created ({exc.strerror})") from None


def record_parts(out: Path) -> dict[int, Path]:
    """The closed parts of a run's record log by their first day (``records.parts/``)."""
    folder = Path(out) / PARTS_DIR
    if not folder.is_dir():
        return {}
    found = {}
    for entry in folder.iterdir():
        m = _PART_RE.fullmatch(entry.name)
        if m:
            found[int(m.group(1))] = entry
    return dict(sorted(found.items()))


class RunWriter:
    """Streams one run's results into its folder.

    With `parts` the record log goes into ``records.parts/part-<first day>.parquet``
    files, each closed (`close_part`) when a checkpoint is written, so that a resumed run
    keeps the parts written before its checkpoint; `finish` merges them into
    ``records.parquet``. With `claim` False the folder is an interrupted run being resumed
    (or a fork already prepared): it is not cleared.
    """

    def __init__(
        self,
        out: Path,
        scenario_toml: str,
        manifest: dict[str, Any],
        overwrite: bool = False,
        parts: bool = False,
        claim: bool = True,
        first_day: int = 0,
    ) -> None:
        """Claim the folder: write the incomplete manifest and the resolved scenario."""
        if claim:
            prepare_folder(out, overwrite)
        self.out = out
        self.parts = parts
        self._part_start = first_day
        self.manifest = {"panopticon": __version__, "status": "incomplete", **manifest}
        _write_json(out / "manifest.json", self.manifest)
        (out / "scenario.toml").write_text(scenario_toml, "utf-8")
        self.schema: pa.Schema | None = None
        self._to_table: Callable[[list[Any]], pa.Table] | None = None
        self._buffer: list[Any] = []
        self._buffered = 0
        self._writer: pq.ParquetWriter | None = None
        self.records_written = 0

    def start_log(self, schema: pa.Schema, to_table: Callable[[list[Any]], pa.Table]) -> None:
        """The record log's schema and how days' batches become one table of it."""
        self.schema, self._to_table = schema, to_table

    def add_records(self, batch: Any) -> None:
        """Queue a day's records; they are written in row groups of about a million."""
        if batch is None:
            return
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._log_path(), self.schema)
        self._buffer.append(batch)
        self._buffered += len(batch)
        if self._buffered >= FLUSH_ROWS:
            self._flush()

    def _log_path(self) -> Path:
        """Where records are being written now (a part's partial file, or the log's)."""
        if not self.parts:
            return self.out / "records.parquet.partial"
        (self.out / PARTS_DIR).mkdir(exist_ok=True)
        return self.out / PARTS_DIR / f"part-{self._part_start:05d}.parquet.partial"

    def close_part(self, next_day: int) -> None:
        """Close the current part of the log (before a checkpoint of `next_day`), fsynced."""
        if not self.parts:
            raise ValueError("close_part needs a writer made with parts=True")
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._log_path(), self.schema)
        self._flush()
        self._writer.close()
        self._writer = None
        partial = self._log_path()
        with open(partial, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, partial.with_name(partial.name.removesuffix(".partial")))
        self._part_start = next_day

    def drop_parts_from(self, day: int) -> None:
        """Delete the parts of the log from `day` on and unfinished ones (on resume)."""
        for start, path in record_parts(self.out).items():
            if start >= day:
                path.unlink()
        folder = self.out / PARTS_DIR
        if folder.is_dir():
            for entry in folder.glob("*.partial"):
                entry.unlink()

    def _merge_parts(self) -> None:
        """Write the closed parts, in day order, into ``records.parquet``."""
        self.close_part(self._part_start)
        partial = self.out / "records.parquet.partial"
        with pq.ParquetWriter(partial, self.schema) as writer:
            for path in record_parts(self.out).values():
                f = pq.ParquetFile(path)
                for k in range(f.num_row_groups):
                    writer.write_table(f.read_row_group(k))
        self.records_written = sum(
            pq.ParquetFile(p).metadata.num_rows for p in record_parts(self.out).values()
        )
        os.replace(partial, self.out / "records.parquet")
        shutil.rmtree(self.out / PARTS_DIR)

    def _flush(self) -> None:
        """Write the queued records as one row group."""
        if not self._buffer or self._writer is None:
            return
        self._writer.write_table(self._to_table(self._buffer))
        self.records_written += self._buffered
        self._buffer, self._buffered = [], 0

    def finish(
        self,
        timeseries: pa.Table,
        people: pa.Table,
        tables: dict[str, pa.Table],
        extra: dict[str, Any],
    ) -> None:
        """Write the tables, then mark the run complete."""
        if self.parts:
            self._merge_parts()
        else:
            if self._writer is None:
                self._writer = pq.ParquetWriter(self._log_path(), self.schema)
            self._flush()
            self._writer.close()
            os.replace(self.out / "records.parquet.partial", self.out / "records.parquet")
        for name, table in (("timeseries", timeseries), ("people", people), *tables.items()):
            part = self.out / f"{name}.parquet.partial"
            pq.write_table(table, part)
            os.replace(part, self.out / f"{name}.parquet")
        self.manifest.update(extra)
        self.manifest["records_written"] = self.records_written
        self.manifest["status"] = "complete"
        _write_json(self.out / "manifest.json", self.manifest)

    def abort(self, reason: str) -> None:
        """Leave the folder marked incomplete, saying why."""
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:
                pass
        self.manifest.update({"status": "incomplete", "error": reason, "finished": now()})
        _write_json(self.out / "manifest.json", self.manifest)


class RunResult:
    """A finished run: its manifest, scenario and tables as Polars DataFrames."""

    def __init__(self, path: str | Path) -> None:
        """Open a run folder (it must be complete)."""
        self.path = Path(path)
        manifest = self.path / "manifest.json"
        if not self.path.is_dir():
            raise RunError(f"error: run {str(path)!r}: no such folder")
        if not manifest.exists():
            raise RunError(f"error: run {str(path)!r}: not a run folder (no manifest.json)")
        try:
            self.manifest: dict[str, Any] = json.loads(manifest.read_text("utf-8"))
        except (OSError, json.JSONDecodeError):
            raise RunError(f"error: run {str(path)!r}: manifest.json is unreadable") from None
        if self.manifest.get("status") != "complete":
            why = self.manifest.get("error", "it did not finish")
            raise RunError(f"error: run {str(path)!r}: is incomplete ({why})")

    def _table(self, name: str) -> pl.DataFrame:
        return pl.read_parquet(self.path / f"{name}.parquet")

    @property
    def timeseries(self) -> pl.DataFrame:
        """One row per day."""
        return self._table("timeseries")

    @property
    def people(self) -> pl.DataFrame:
        """One row per citizen at the end."""
        return self._table("people")

    @property
    def records(self) -> pl.DataFrame:
        """The record log (all, a sample, or empty, per the scenario's `run.records`)."""
        return self._table("records")

    @property
    def scenario_toml(self) -> str:
        """The fully resolved scenario of this run."""
        return (self.path / "scenario.toml").read_text("utf-8")

    @property
    def totals(self) -> dict[str, Any]:
        """Headline totals recorded in the manifest."""
        return dict(self.manifest.get("totals", {}))

    def _repr_html_(self) -> str:
        """Jupyter's rich display: a compact summary of the run (funnel and sanctions)."""
        from panopticon.report import run_summary_html

        return run_summary_html(self)

    def __repr__(self) -> str:
        """Short description."""
        m = self.manifest
        return (
            f"RunResult({str(self.path)!r}, scenario={m.get('scenario')!r}, seed={m.get('seed')})"
        )


def open_run(path: str | Path) -> RunResult:
    """Open a complete run folder."""
    return RunResult(path)
