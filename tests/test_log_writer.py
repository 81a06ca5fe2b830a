"""The record log written on a background thread: same bytes, failures raised as before.

`io.runs.RunWriter` builds each row group of ``records.parquet`` on the caller's thread
and encodes and writes it on one background thread while the day loop goes on.
"""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from panopticon.cli.main import main
from panopticon.io import runs

ARGS = ["run", "minimal", "--population", "20000", "--days", "40", "-q"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _inline(self: runs.RunWriter, fn: Any, *args: Any) -> None:
    """The writes on the caller's thread, as before the background thread."""
    fn(*args)


@pytest.mark.parametrize("extra", [[], ["--checkpoint-every", "15"]])
def test_background_log_has_the_inline_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: list[str]
) -> None:
    """Many row groups written in the background give the bytes of writing them inline."""
    monkeypatch.setattr(runs, "FLUSH_ROWS", 200)  # a row group every two days or so
    assert main([*ARGS, *extra, "--out", str(tmp_path / "bg")]) == 0
    with monkeypatch.context() as m:
        m.setattr(runs.RunWriter, "_in_background", _inline)
        assert main([*ARGS, *extra, "--out", str(tmp_path / "inline")]) == 0
    log = pq.ParquetFile(tmp_path / "bg" / "records.parquet")
    assert log.num_row_groups > 10
    manifest = runs.open_run(tmp_path / "bg").manifest
    assert manifest["records_written"] == log.metadata.num_rows > 0
    for name in ("records", "people", "timeseries"):
        a, b = tmp_path / "bg" / f"{name}.parquet", tmp_path / "inline" / f"{name}.parquet"
        assert _digest(a) == _digest(b), name


@pytest.mark.parametrize("when", ["during", "last"])
def test_a_failed_background_write_is_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    when: str,
) -> None:
    """A full disk met by the log's thread, mid-run or closing the log: exit 2, one line."""
    monkeypatch.setattr(runs, "FLUSH_ROWS", 200)
    write, close = pq.ParquetWriter.write_table, pq.ParquetWriter.close
    calls = {"n": 0}

    def log(writer: pq.ParquetWriter) -> bool:
        return "records" in str(getattr(writer, "where", ""))

    def full_write(self: pq.ParquetWriter, table: Any, *a: Any, **k: Any) -> None:
        if log(self) and when == "during":
            calls["n"] += 1
            if calls["n"] == 3:
                raise OSError(errno.ENOSPC, "No space left on device")
        write(self, table, *a, **k)

    def full_close(self: pq.ParquetWriter) -> None:
        close(self)
        if log(self) and when == "last":
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full_write)
    monkeypatch.setattr(pq.ParquetWriter, "close", full_close)
    out = tmp_path / "run"
    assert main([*ARGS, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "disk full" in err, err
    assert list(tmp_path.iterdir()) == []
