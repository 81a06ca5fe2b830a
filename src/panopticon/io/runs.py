"""The run folder: claimed atomically, written privately, moved into place when complete.

Layout: ``scenario.toml`` (fully resolved), ``manifest.json`` (version, seed, times, peak
memory, status, and the size and sha256 of every other file), ``timeseries.parquet``,
``people.parquet``, ``records.parquet`` and the tables the scenario's modules write, plus
``checkpoints/`` when the run was checkpointed.

The record log's row groups are encoded, compressed and written on one background thread
(Arrow releases the GIL while it writes), in order, while the day loop goes on: a run
at 10^6 citizens computes on one core and writes on the other. The tables are built on
the caller's thread at the same point as before, so the files have the same bytes.

A run of ``DIR`` first claims ``DIR`` (a lock beside it, `FolderLock`), so two writers to
one folder cannot both proceed: the second is refused with exit 2, with or without
``--overwrite``. Everything is written into the private sibling ``.DIR.partial/``; when
the run is complete its manifest lists each file's size and sha256, and the folder is
renamed into place (an old run, under ``--overwrite``, is renamed aside first and removed
only after the new one is in place). So ``DIR`` only ever holds a complete run whose
manifest describes exactly the tables beside it, and `RunResult` verifies that.

An interrupted run lives in ``.DIR.partial/`` (manifest ``incomplete``): with checkpoints
it is kept there for ``panopticon resume DIR``; without, it is removed when the run fails
and, if a kill left it behind, cleared by the next run of ``DIR``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import resource
import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from panopticon import __version__
from panopticon.io.fs import (
    FolderLock,
    RunError,
    fs_error,
    partial_path,
    temp_sibling,
    write_json,
)

if TYPE_CHECKING:
    import polars as pl

MANIFEST = "manifest.json"
PARTS_DIR = "records.parts"
CHECKPOINTS_DIR = "checkpoints"
FLUSH_ROWS = 1 << 20
_PART_RE = re.compile(r"part-(\d{5,})\.parquet")
_DIGESTS: dict[tuple[int, int, int, int], str] = {}  # (dev, inode, size, mtime) -> sha256

__all__ = [
    "MANIFEST",
    "PARTS_DIR",
    "FolderLock",
    "RunError",
    "RunResult",
    "RunWriter",
    "now",
    "open_run",
    "partial_path",
    "prepare_folder",
    "record_parts",
    "run_location",
    "seal",
]


def now() -> str:
    """Current UTC time, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _stat_key(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def sha256(path: Path) -> str:
    """The file's sha256, hex (remembered per file version within this process)."""
    key = _stat_key(path)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def file_list(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and sha256 of every file beside the manifest (not the manifest, not folders)."""
    return {
        p.name: {"bytes": p.stat().st_size, "sha256": sha256(p)}
        for p in sorted(folder.iterdir())
        if p.is_file()
        and p.name != MANIFEST
        and not p.name.startswith(".")
        and p.name != "report.html"
    }


def seal(folder: str | Path) -> None:
    """Re-describe a complete run folder's files in its manifest (after editing a table)."""
    path = Path(folder)
    manifest = json.loads((path / MANIFEST).read_text("utf-8"))
    manifest["files"] = file_list(path)
    write_json(path / MANIFEST, manifest)


def run_location(out: Path) -> Path | None:
    """Where the run of `out` lies: `out` itself, its interrupted ``.partial``, or None."""
    if (out / MANIFEST).is_file():
        return out
    partial = partial_path(out)
    if (partial / MANIFEST).is_file():
        return partial
    return None


def _resumable(partial: Path) -> bool:
    """Whether an interrupted run's folder holds a checkpoint to resume from."""
    folder = partial / CHECKPOINTS_DIR
    return folder.is_dir() and any(e.name.startswith("day-") for e in folder.iterdir())


def prepare_folder(out: Path, overwrite: bool) -> None:
    """Check that `out` may receive a new run (call while holding its `FolderLock`).

    Refuses a file, a non-empty folder that holds no run, a run without `overwrite`, a
    folder this process may not write, and an interrupted run that can be resumed (unless
    `overwrite`). A leftover of a killed run that cannot be resumed is cleared.
    """
    if out.exists() and not out.is_dir():
        raise RunError(f"error: --out {out}: is a file, not a folder; choose a folder path")
    if out.is_dir():
        if any(out.iterdir()):
            if not (out / MANIFEST).exists():
                raise RunError(
                    f"error: --out {out}: folder is not empty and holds no run; "
                    "choose a new or empty folder"
                )
            if not overwrite:
                raise RunError(
                    f"error: --out {out}: already holds a run; pass --overwrite to replace it "
                    "or choose another --out"
                )
        if not os.access(out, os.W_OK | os.X_OK) or not os.access(out.parent, os.W_OK):
            ro = bool(os.statvfs(out).f_flag & os.ST_RDONLY)
            why = "read-only file system" if ro else "permission denied"
            raise RunError(f"error: --out {out}: cannot write there ({why})")
    partial = partial_path(out)
    if partial.exists():
        if _resumable(partial) and not overwrite:
            raise RunError(
                f"error: --out {out}: holds an interrupted run with checkpoints; continue it "
                f"with `panopticon resume {out}` or pass --overwrite to start afresh"
            )
        shutil.rmtree(partial, ignore_errors=True)


def _claim_parent(out: Path) -> None:
    """Create `out`'s parent folders if they are missing (one clear error if they cannot be)."""
    if out.parent.exists() and not out.parent.is_dir():
        raise RunError(f"error: --out {out}: {out.parent} is a file, not a folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fs_error(exc, "creating the folders above the run folder", out.parent) from None


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
    """Streams one run's results into the private folder of `out`, then moves it into place.

    The writer holds `out`'s `FolderLock` from construction to `finish` or `abort`. Files
    go into ``folder`` (``.<out>.partial/``). With `parts` the record log goes into
    ``records.parts/part-<first day>.parquet`` files, each closed (`close_part`) when a
    checkpoint is written, so that a resumed run keeps the parts written before its
    checkpoint; `finish` merges them into ``records.parquet``. With `resume` the partial
    folder is an interrupted run being continued: it is not cleared.
    """

    def __init__(
        self,
        out: Path,
        scenario_toml: str,
        manifest: dict[str, Any],
        overwrite: bool = False,
        parts: bool = False,
        resume: bool = False,
        first_day: int = 0,
        lock: FolderLock | None = None,
    ) -> None:
        """Claim `out`, then write the incomplete manifest and the resolved scenario."""
        self.out = Path(out)
        self.folder = partial_path(self.out)
        self.parts = parts
        self._part_start = first_day
        self.manifest = {"panopticon": __version__, "status": "incomplete", **manifest}
        self.schema: pa.Schema | None = None
        self._to_table: Callable[[list[Any]], pa.Table] | None = None
        self._buffer: list[Any] = []
        self._buffered = 0
        self._writer: pq.ParquetWriter | None = None
        self._thread: ThreadPoolExecutor | None = None  # writes the log's row groups
        self._pending: list[Future[Any]] = []  # what it is doing or has queued
        self.records_written = 0
        if lock is None:
            _claim_parent(self.out)
        self.lock = lock if lock is not None else FolderLock(self.out)
        try:
            if not resume:
                prepare_folder(self.out, overwrite)
            self.folder.mkdir(exist_ok=resume)
            write_json(self.folder / MANIFEST, self.manifest)
            self._write_text("scenario.toml", scenario_toml)
        except OSError as exc:
            self._discard()
            raise fs_error(exc, "starting the run", self.out.parent) from None
        except BaseException:
            self._discard()
            raise

    def _write_text(self, name: str, text: str) -> None:
        data = text.encode("utf-8")
        tmp = self.folder / (name + ".partial")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, self.folder / name)
        except OSError as exc:
            raise fs_error(exc, f"writing {name}", self.out.parent, len(data)) from None

    def _discard(self) -> None:
        """Remove the private folder unless it can be resumed; release the claim."""
        if not _resumable(self.folder):
            shutil.rmtree(self.folder, ignore_errors=True)
        self.lock.release()

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
            return self.folder / "records.parquet.partial"
        (self.folder / PARTS_DIR).mkdir(exist_ok=True)
        return self.folder / PARTS_DIR / f"part-{self._part_start:05d}.parquet.partial"

    def close_part(self, next_day: int) -> None:
        """Close the current part of the log (before a checkpoint of `next_day`), fsynced."""
        if not self.parts:
            raise ValueError("close_part needs a writer made with parts=True")
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._log_path(), self.schema)
        self._flush()
        self._wait()
        self._writer.close()
        self._writer = None
        partial = self._log_path()
        with open(partial, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, partial.with_name(partial.name.removesuffix(".partial")))
        self._part_start = next_day

    def drop_parts_from(self, day: int) -> None:
        """Delete the parts of the log from `day` on and unfinished ones (on resume)."""
        for start, path in record_parts(self.folder).items():
            if start >= day:
                path.unlink()
        folder = self.folder / PARTS_DIR
        if folder.is_dir():
            for entry in folder.glob("*.partial"):
                entry.unlink()

    def _merge_parts(self) -> None:
        """Write the closed parts, in day order, into ``records.parquet``."""
        self.close_part(self._part_start)
        partial = self.folder / "records.parquet.partial"
        with pq.ParquetWriter(partial, self.schema) as writer:
            for path in record_parts(self.folder).values():
                f = pq.ParquetFile(path)
                for k in range(f.num_row_groups):
                    writer.write_table(f.read_row_group(k))
        self.records_written = sum(
            pq.ParquetFile(p).metadata.num_rows for p in record_parts(self.folder).values()
        )
        os.replace(partial, self.folder / "records.parquet")
        shutil.rmtree(self.folder / PARTS_DIR)

    def _flush(self) -> None:
        """Write the queued records as one row group (on the background thread).

        The table is built here, from the days' batches as they are now; only its
        encoding and writing wait for the previous row group and run in the background.
        """
        if not self._buffer or self._writer is None:
            return
        table = self._to_table(self._buffer)
        self._buffer, self._buffered, count = [], 0, self._buffered
        self._wait()  # at most one row group in flight: memory stays one group's
        self._in_background(self._writer.write_table, table)
        self.records_written += count

    def _in_background(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the log's thread, after everything queued there before."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="panopticon-log")
        self._pending.append(self._thread.submit(fn, *args))

    def _wait(self) -> None:
        """Wait for the background writes; the first failure among them is raised here."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.exception()  # waits
        for future in pending:
            future.result()

    def _stop_thread(self) -> None:
        """Wait for the background writes (ignoring their failures) and end the thread."""
        try:
            self._wait()
        except Exception:
            pass
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None

    def _finish_log(self) -> None:
        """Close the log and move it into place (on the log's thread, after its last group)."""
        assert self._writer is not None
        self._writer.close()
        self._writer = None
        path = self.folder / "records.parquet"
        os.replace(self.folder / "records.parquet.partial", path)
        sha256(path)  # remembered for the manifest, hashed while the tables are written

    def finish(
        self,
        timeseries: pa.Table,
        people: pa.Table | Iterable[pa.Table] | None,
        tables: dict[str, pa.Table],
        extra: dict[str, Any],
    ) -> None:
        """Write the tables, describe every file in the manifest, move the run into place.

        `people` is one table, or its row chunks (written as they come, one row group
        each, so that the whole table is never held), or None when the run leaves it out
        (``run.people = false``). The manifest gets the writing's seconds
        (``write_seconds``) and a ``peak_memory_bytes`` that includes it.
        """
        t0 = time.perf_counter()
        if self.parts:
            self._merge_parts()
        else:
            if self._writer is None:
                self._writer = pq.ParquetWriter(self._log_path(), self.schema)
            self._flush()
            # the log's last row group is written, closed and hashed in the background
            # while the other tables are written here
            self._in_background(self._finish_log)
        try:
            self._write_tables(timeseries, people, tables)
        except BaseException:
            self._stop_thread()
            raise
        self._wait()
        self._stop_thread()
        self.manifest.update(extra)
        self.manifest["write_seconds"] = round(time.perf_counter() - t0, 3)
        peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
        self.manifest["peak_memory_bytes"] = max(int(extra.get("peak_memory_bytes", 0)), peak)
        self.manifest["records_written"] = self.records_written
        self.manifest["status"] = "complete"
        self.manifest["files"] = file_list(self.folder)
        write_json(self.folder / MANIFEST, self.manifest)
        self._install()

    def _write_tables(
        self,
        timeseries: pa.Table,
        people: pa.Table | Iterable[pa.Table] | None,
        tables: dict[str, pa.Table],
    ) -> None:
        """Write the daily table, the people table (if any) and the modules' tables."""
        written: list[tuple[str, pa.Table | Iterable[pa.Table]]] = [("timeseries", timeseries)]
        if people is not None:
            written.append(("people", people))
        for name, table in (*written, *tables.items()):
            part = self.folder / f"{name}.parquet.partial"
            try:
                write_chunks(table, part)
            except OSError as exc:
                part.unlink(missing_ok=True)
                size = table.nbytes if isinstance(table, pa.Table) else 0
                raise fs_error(exc, f"writing {name}.parquet", self.out.parent, size) from None
            os.replace(part, self.folder / f"{name}.parquet")

    def _install(self) -> None:
        """Rename the complete folder into place (an old run renamed aside, then removed)."""
        aside = None
        try:
            if self.out.exists():
                aside = temp_sibling(self.out, "old")
                os.rename(self.out, aside)
            os.rename(self.folder, self.out)
        except OSError as exc:
            if aside is not None and not self.out.exists():
                os.rename(aside, self.out)
            raise fs_error(exc, "moving the finished run into place", self.out.parent) from None
        finally:
            self.lock.release()
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)

    def abort(self, reason: str) -> None:
        """Stop: keep a resumable run marked incomplete (saying why), remove anything else."""
        self._stop_thread()
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:
                pass
            self._writer = None
        if _resumable(self.folder):
            self.manifest.update({"status": "incomplete", "error": reason, "finished": now()})
            try:
                write_json(self.folder / MANIFEST, self.manifest)
            except RunError:
                pass
        self._discard()


def write_chunks(table: pa.Table | Iterable[pa.Table], path: Path) -> int:
    """Write a table, or a table's row chunks one row group each; returns the rows.

    pyarrow's own row groups for a whole table; chunks are written as they come, so a
    caller that builds them lazily never holds more than one.
    """
    if isinstance(table, pa.Table):
        pq.write_table(table, path)
        return table.num_rows
    rows = 0
    writer: pq.ParquetWriter | None = None
    try:
        for chunk in table:
            if writer is None:
                writer = pq.ParquetWriter(path, chunk.schema)
            writer.write_table(chunk)
            rows += chunk.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows


class RunResult:
    """A finished run: its manifest, scenario and tables as Polars DataFrames.

    Opening one checks that the folder is complete and that every file its manifest lists
    has the listed size and sha256 (a folder written before manifests listed their files
    is taken as it is).
    """

    def __init__(self, path: str | Path) -> None:
        """Open a run folder (it must be complete and its files as the manifest says)."""
        self.path = Path(path)
        manifest = self.path / MANIFEST
        if not self.path.is_dir():
            if (partial_path(self.path) / MANIFEST).is_file():
                raise RunError(
                    f"error: run {str(path)!r}: is incomplete (it did not finish; an "
                    "interrupted run with checkpoints continues with `panopticon resume "
                    f"{path}`)"
                )
            raise RunError(f"error: run {str(path)!r}: no such folder")
        if not manifest.exists():
            raise RunError(f"error: run {str(path)!r}: not a run folder (no manifest.json)")
        try:
            self.manifest: dict[str, Any] = json.loads(manifest.read_text("utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            raise RunError(f"error: run {str(path)!r}: manifest.json is unreadable") from None
        if self.manifest.get("status") != "complete":
            why = self.manifest.get("error", "it did not finish")
            raise RunError(f"error: run {str(path)!r}: is incomplete ({why})")
        self.verify()

    def verify(self) -> None:
        """Refuse the run if a file its manifest lists is missing, resized or changed."""
        listed = self.manifest.get("files")
        if listed is None:
            return
        bad = None
        for name, want in sorted(listed.items()):
            f = self.path / name
            try:
                if not f.is_file():
                    bad = f"{name} is missing"
                elif (size := f.stat().st_size) != want.get("bytes"):
                    bad = f"{name} has {size:,} bytes, its manifest says {want.get('bytes')}"
                elif sha256(f) != want.get("sha256"):
                    bad = f"{name} differs from its manifest's sha256"
            except OSError as exc:
                bad = f"{name} cannot be read ({exc.strerror})"
            if bad:
                break
        if bad is None:
            extra = sorted(p.name for p in self.path.glob("*.parquet") if p.name not in listed)
            if extra:
                bad = f"{extra[0]} is not described by its manifest"
        if bad:
            raise RunError(
                f"error: run {str(self.path)!r}: {bad}; the folder was changed after the run "
                "finished, so its results cannot be trusted; run it again"
            )

    def _table(self, name: str) -> pl.DataFrame:
        """One table of the run as a Polars frame (Polars imported here: a run never needs it)."""
        import polars as pl

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
        """Headline totals recorded in the manifest (null, for a total with no value, as NaN)."""
        return {k: math.nan if v is None else v for k, v in self.manifest.get("totals", {}).items()}

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
