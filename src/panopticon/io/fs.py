"""File-system plumbing of run folders: a lock per folder, atomic writes, clear errors.

A run folder ``DIR`` is claimed by locking ``.DIR.lock`` beside it (``flock``, released by
the kernel when the holder exits however it exits, so a killed run never leaves a lock
that blocks a rerun). Results are written into the private sibling ``.DIR.partial/`` and
renamed into place only when complete. Files are written under unique temporary names
and renamed; an ``OSError`` (read-only, missing, full) becomes one `RunError` line saying
what failed, where, and how much space was needed when that is known.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any


class RunError(ValueError):
    """A folder that cannot be written to or read as a run; message meant for the user."""


class FolderBusy(RunError):
    """Another process holds the run folder's lock."""


def partial_path(out: Path) -> Path:
    """The private sibling a run of `out` is written into before it is moved into place."""
    return out.parent / f".{out.name}.partial"


def lock_path(out: Path) -> Path:
    """The lock file beside `out` that its writer holds."""
    return out.parent / f".{out.name}.lock"


def temp_sibling(path: Path, kind: str = "tmp") -> Path:
    """A unique hidden name beside `path` (``.<name>.<pid>.<random>.<kind>``)."""
    return path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.{kind}"


def _size(n: float) -> str:
    """Bytes in a short human unit."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GiB"  # pragma: no cover


def _free(where: Path) -> int | None:
    """Free bytes on the file system holding `where` (or its nearest existing parent)."""
    p = where
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def fs_error(exc: OSError, what: str, where: Path, need: int | None = None) -> RunError:
    """One line for an `OSError` met while `what` (e.g. "writing people.parquet") in `where`.

    Arrow's I/O errors carry the errno only in their text ("[Errno 28] ..."); it is read
    from there when the attribute is unset.
    """
    code = exc.errno
    if code is None:
        m = re.search(r"\[Errno (\d+)\]", str(exc))
        code = int(m.group(1)) if m else None
    if code in (errno.ENOSPC, errno.EDQUOT):
        free = _free(where)
        needed = f"; needed about {_size(need)}" if need else ""
        have = f", {_size(free)} free" if free is not None else ""
        return RunError(
            f"error: {where}: disk full while {what}{needed}{have}; "
            "free some space or choose another folder"
        )
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        why = "read-only file system" if code == errno.EROFS else "permission denied"
        return RunError(f"error: {where}: cannot write there ({why}) while {what}")
    if code in (errno.ENOENT, errno.ENOTDIR):
        return RunError(
            f"error: {where}: folder missing or not a folder while {what}; "
            "check the path (was it removed during the run?)"
        )
    text = str(exc).splitlines()
    reason = exc.strerror or (text[0] if text else exc.__class__.__name__)
    return RunError(f"error: {where}: {reason} while {what}")


def finite(data: Any) -> Any:
    """`data` with every non-finite float replaced by None (JSON has no NaN or infinity)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite(v) for v in data]
    return data


def json_text(data: dict[str, Any]) -> str:
    """Strict JSON (non-finite floats written as null), indented, keys sorted."""
    return json.dumps(finite(data), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_atomic(path: Path, data: bytes, what: str | None = None) -> None:
    """Write `data` to `path` via a unique temporary sibling, then rename.

    On failure the temporary file is removed and a one-line `RunError` raised; `path`
    keeps what it held before.
    """
    tmp = temp_sibling(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise fs_error(exc, what or f"writing {path.name}", path.parent, len(data)) from None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write strict JSON atomically."""
    write_atomic(path, json_text(data).encode("utf-8"))


def write_parquet(df: Any, path: Path) -> None:
    """Write a Polars table atomically: a unique temporary sibling, then rename."""
    tmp = temp_sibling(path)
    try:
        df.write_parquet(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise fs_error(exc, f"writing {path.name}", path.parent) from None


class FolderLock:
    """An exclusive claim on a run folder: ``flock`` on ``.DIR.lock`` beside it.

    Held by one process at a time; the kernel drops it when the holder dies, so a stale
    lock file never blocks anyone. `release` unlinks the file while still holding it; an
    acquirer checks that the file it locked is still the one at the path.
    """

    def __init__(self, out: Path) -> None:
        """Claim `out` now, or raise `RunError` naming the process that holds it."""
        self.out = out
        self.path = lock_path(out)
        self.fd: int | None = None
        while self.fd is None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise fs_error(exc, "claiming the run folder", out.parent) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 64).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise FolderBusy(
                    f"error: --out {out}: another run (pid {holder}) is writing it now; wait "
                    "for it to finish or choose another --out"
                ) from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # released and unlinked between our open and flock: try again
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode("ascii"))
            self.fd = fd

    def release(self) -> None:
        """Drop the claim (idempotent)."""
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None
