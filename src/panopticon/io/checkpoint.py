"""Checkpoints on disk: per-citizen arrays plus JSON metadata, written atomically, no pickle.

The engine's modules declare their per-citizen state, so a checkpoint is generic: a dict of
named NumPy arrays and a dict of JSON-safe metadata (scenario fingerprint, random-stream
counters, each module's scalar state). This module is only the file format; it knows
nothing of the engine.

Layout: one folder per day under a checkpoint folder, ``day-00030/`` (at least five digits)
holding

- ``arrays.npz``: a standard uncompressed NumPy ``.npz`` (``np.load`` reads it), one
  member per array, written without pickle and read back with ``allow_pickle=False``;
- ``meta.json``: ``format`` (:data:`CHECKPOINT_FORMAT`), ``day``, ``panopticon_version``,
  ``created`` (UTC, ISO 8601), ``arrays`` (name -> dtype and shape, checked on read), and
  the caller's own keys at the top level beside them.

Writing is atomic: the checkpoint is built in a private temporary sibling folder
(``.partial-day-00030-*``), every file and the folder are fsynced, and only then is it
renamed to ``day-00030``. A folder with the final name is therefore always complete; a
killed writer leaves at most a ``.partial-*`` folder, which readers ignore and
:func:`prune_checkpoints` removes. Rewriting a day that exists moves the old folder aside
(``.trash-*``), renames the new one in and deletes the old; if the rename fails the old one
is put back. A kill between those two renames leaves that day absent (never half-written),
and earlier days readable. One writer per checkpoint folder.

Choices beyond the first sketch of this API, and why:

- Arrays are written member by member with :func:`numpy.lib.format.write_array` into a
  ``zipfile`` rather than through ``np.savez(**arrays)``: the output is the same ``.npz``
  format, but names such as ``file`` or ``allow_pickle`` cannot collide with ``savez``'s
  own parameters, pickling is off on the writing side too, and the file handle is ours to
  fsync.
- Array names match ``[A-Za-z0-9_.:-]+`` (no slashes, so no member paths; dots and colons
  allow ``module.attribute`` names). Dtypes may be bool, integer, float, complex, datetime,
  timedelta, bytes or str; object dtypes (would need pickle) and structured dtypes are
  refused.
- Metadata values must be JSON: ``str``, ``int``, finite ``float``, ``bool``, ``None``,
  lists or tuples (read back as lists) and dicts with string keys. NumPy scalars are
  accepted and stored as the matching Python value. NaN and infinities are refused (JSON
  has no such numbers). The keys this module writes (:data:`RESERVED_KEYS`) are refused.
- The scenario fingerprint travels in the caller's metadata under
  :data:`FINGERPRINT_KEY`; :func:`read_checkpoint` compares it only when asked, so a
  checkpoint can be forked into another scenario after a shared burn-in.
- :func:`read_checkpoint` returns the whole ``meta.json`` (the caller's keys plus the
  reserved ones). :func:`restore_into` takes an optional ``where`` naming the checkpoint in
  its messages.

Every refusal is a :class:`CheckpointError` whose message is meant for the user: it names
the checkpoint, what differs and what to do.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from panopticon import __version__
from panopticon.io.runs import RunError

CHECKPOINT_FORMAT = 1
FINGERPRINT_KEY = "scenario_fingerprint"
RESERVED_KEYS = ("format", "day", "panopticon_version", "created", "arrays")
ARRAYS_FILE = "arrays.npz"
META_FILE = "meta.json"

_NAME_RE = re.compile(r"[A-Za-z0-9_.:-]+")
_DAY_RE = re.compile(r"day-(\d{5,})")
_PARTIAL_PREFIX = ".partial-"
_TRASH_PREFIX = ".trash-"
_ALLOWED_KINDS = "biufcmMSU"


class CheckpointError(ValueError):
    """A checkpoint that cannot be written, read or restored; message meant for the user."""


def scenario_fingerprint(scenario_toml: str) -> str:
    """SHA-256 (hex) of the resolved scenario text, UTF-8: which scenario a checkpoint is of."""
    return hashlib.sha256(scenario_toml.encode("utf-8")).hexdigest()


def day_folder(folder: Path, day: int) -> Path:
    """The folder that holds the checkpoint of `day` under `folder` (``day-00030``)."""
    return Path(folder) / f"day-{day:05d}"


# --- validation -------------------------------------------------------------------------


def _check_day(day: object) -> int:
    """Refuse a day that is not a non-negative integer."""
    if isinstance(day, bool) or not isinstance(day, int | np.integer) or day < 0:
        raise CheckpointError(f"error: checkpoint day {day!r}: must be an integer >= 0")
    return int(day)


def _check_arrays(arrays: Mapping[str, np.ndarray]) -> None:
    """Refuse bad names, non-arrays and dtypes that cannot be stored without pickle."""
    for name, arr in arrays.items():
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise CheckpointError(
                f"error: checkpoint array name {name!r}: not allowed; use letters, digits "
                "and _ . : - only (no slashes or spaces)"
            )
        if not isinstance(arr, np.ndarray):
            raise CheckpointError(
                f"error: checkpoint array {name!r}: is a {type(arr).__name__}, not a NumPy "
                "array; pass np.ndarray values"
            )
        if arr.dtype.hasobject:
            raise CheckpointError(
                f"error: checkpoint array {name!r}: has dtype {arr.dtype} (Python objects), "
                "which cannot be stored without pickle; store it as a numeric, bool or "
                "string array"
            )
        if arr.dtype.kind not in _ALLOWED_KINDS:
            raise CheckpointError(
                f"error: checkpoint array {name!r}: has dtype {arr.dtype}; only bool, "
                "integer, float, complex, datetime, bytes and str arrays can be stored "
                "(split a structured array into one array per field)"
            )


def _json_safe(value: object, where: str) -> Any:
    """`value` as plain JSON data, or a CheckpointError naming the offending key path."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            raise CheckpointError(
                f"error: checkpoint {where}: is {float(value)}, which JSON cannot hold; "
                "store finite numbers only (e.g. None for 'no value')"
            )
        return float(value)
    if isinstance(value, list | tuple):
        return [_json_safe(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise CheckpointError(
                    f"error: checkpoint {where}: key {k!r} is not a string; JSON keys are strings"
                )
            out[k] = _json_safe(v, f"{where}[{k!r}]")
        return out
    raise CheckpointError(
        f"error: checkpoint {where}: a {type(value).__name__} is not JSON; use str, int, "
        "float, bool, None, list or dict"
    )


def _check_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The caller's metadata as plain JSON data; reserved keys and non-JSON values refused."""
    clash = sorted(k for k in meta if k in RESERVED_KEYS)
    if clash:
        raise CheckpointError(
            f"error: checkpoint meta key(s) {', '.join(clash)}: reserved for the checkpoint "
            "itself; choose other names"
        )
    return _json_safe(meta, "meta")


# --- writing ----------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    """Flush a folder's entries to disk (POSIX only; a no-op elsewhere)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write `arrays` as an uncompressed ``.npz`` without pickle, fsynced."""
    with open(path, "wb") as fh:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, arr in arrays.items():
                with zf.open(name + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, arr, allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())


def _write_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path`, fsynced."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def write_checkpoint(
    folder: Path, day: int, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]
) -> Path:
    """Write the checkpoint of `day` under `folder` atomically; returns its folder.

    `arrays` are the per-citizen state arrays by name; `meta` is the caller's JSON-safe
    metadata (pass the scenario fingerprint under :data:`FINGERPRINT_KEY`). Everything is
    validated before anything is written. An existing checkpoint of the same day is
    replaced. Disk errors become a :class:`CheckpointError`.
    """
    folder = Path(folder)
    day = _check_day(day)
    _check_arrays(arrays)
    doc: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "day": day,
        "panopticon_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "arrays": {
            name: {"dtype": arr.dtype.str, "shape": list(arr.shape)} for name, arr in arrays.items()
        },
    }
    doc.update(_check_meta(meta))
    text = json.dumps(doc, indent=2, allow_nan=False) + "\n"
    final = day_folder(folder, day)
    tag = f"{final.name}-"
    tmp: Path | None = None
    trash: Path | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=_PARTIAL_PREFIX + tag, dir=folder))
        _write_npz(tmp / ARRAYS_FILE, arrays)
        _write_text(tmp / META_FILE, text)
        _fsync_dir(tmp)
        if final.exists():
            trash = Path(tempfile.mkdtemp(prefix=_TRASH_PREFIX + tag, dir=folder))
            os.rename(final, trash / final.name)
        os.rename(tmp, final)
        tmp = None
        _fsync_dir(folder)
    except BaseException as exc:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if trash is not None and not final.exists() and (trash / final.name).exists():
            try:
                os.rename(trash / final.name, final)
            except OSError:
                trash = None  # keep the old checkpoint where it is rather than delete it
        if isinstance(exc, OSError):
            raise CheckpointError(
                f"error: checkpoint {final}: cannot be written ({exc.strerror or exc}); "
                "check the folder's permissions and free space"
            ) from exc
        raise
    finally:
        if trash is not None and final.exists():
            shutil.rmtree(trash, ignore_errors=True)
    return final


# --- listing and pruning ----------------------------------------------------------------


def list_checkpoints(folder: Path) -> list[int]:
    """Days with a complete checkpoint under `folder`, ascending; partial folders ignored."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    days = []
    for entry in folder.iterdir():
        m = _DAY_RE.fullmatch(entry.name)
        if m and (entry / META_FILE).is_file() and (entry / ARRAYS_FILE).is_file():
            days.append(int(m.group(1)))
    return sorted(days)


def prune_checkpoints(folder: Path, keep: int) -> list[int]:
    """Delete all but the newest `keep` checkpoints, and leftover partial folders.

    Each old checkpoint is first renamed out of sight, then deleted, so an interrupted prune
    never leaves a half-deleted folder under a checkpoint name. Returns the days deleted.
    """
    folder = Path(folder)
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise CheckpointError(f"error: checkpoints to keep {keep!r}: must be an integer >= 0")
    if not folder.is_dir():
        return []
    days = list_checkpoints(folder)
    return _delete_days(folder, days[: max(len(days) - keep, 0)], "old")


def drop_checkpoints_after(folder: Path, day: int) -> list[int]:
    """Delete the checkpoints of days after `day`, and leftover partial folders.

    A resume from `day` calls this first: a later checkpoint was written by the run it
    continues past a point it does not go back to, and would otherwise be taken for the
    latest one. Each is renamed out of sight, then deleted (as in `prune_checkpoints`).
    Returns the days deleted.
    """
    folder = Path(folder)
    day = _check_day(day)
    if not folder.is_dir():
        return []
    return _delete_days(folder, [d for d in list_checkpoints(folder) if d > day], "later")


def _delete_days(folder: Path, drop: list[int], which: str) -> list[int]:
    """Delete the checkpoints of days `drop` and leftover partial folders; returns `drop`.

    Each is renamed out of sight first, so a reader never sees a half-deleted checkpoint.
    """
    try:
        for day in drop:
            path = day_folder(folder, day)
            trash = Path(tempfile.mkdtemp(prefix=_TRASH_PREFIX + path.name + "-", dir=folder))
            os.rename(path, trash / path.name)
            shutil.rmtree(trash)
        for entry in folder.iterdir():
            if entry.is_dir() and entry.name.startswith((_PARTIAL_PREFIX, _TRASH_PREFIX)):
                shutil.rmtree(entry)
    except OSError as exc:
        raise CheckpointError(
            f"error: checkpoint folder {folder}: {which} checkpoints cannot be deleted "
            f"({exc.strerror or exc}); check the folder's permissions"
        ) from exc
    return drop


# --- reading ----------------------------------------------------------------------------


def _short(fingerprint: object) -> str:
    """A fingerprint shortened for messages."""
    return f"{str(fingerprint)[:12]}.." if isinstance(fingerprint, str) else repr(fingerprint)


def _days_text(days: list[int]) -> str:
    """'days 10, 20' or 'none', for messages."""
    return "days " + ", ".join(str(d) for d in days) if days else "none"


def _read_meta(path: Path, day: int) -> dict[str, Any]:
    """The parsed ``meta.json`` of the checkpoint folder `path`, checked for shape."""
    try:
        meta = json.loads((path / META_FILE).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"error: checkpoint {path}: {META_FILE} cannot be read ({exc}); the checkpoint is "
            "damaged: resume from an earlier one or delete it"
        ) from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("arrays"), dict):
        raise CheckpointError(
            f"error: checkpoint {path}: {META_FILE} is not a checkpoint description; the "
            "checkpoint is damaged: resume from an earlier one or delete it"
        )
    return meta


def _load_arrays(path: Path, listed: dict[str, Any]) -> dict[str, np.ndarray]:
    """Every array of ``arrays.npz``, checked against the names, dtypes and shapes listed."""
    damaged = (
        f"error: checkpoint {path}: {ARRAYS_FILE} is damaged ({{}}); resume from an earlier "
        "checkpoint or delete this one"
    )
    try:
        with np.load(path / ARRAYS_FILE, allow_pickle=False) as npz:
            names = set(npz.files)
            if names != set(listed):
                lost = sorted(set(listed) - names)
                odd = sorted(names - set(listed))
                what = "; ".join(
                    part
                    for part in (
                        f"missing {', '.join(lost)}" if lost else "",
                        f"unlisted {', '.join(odd)}" if odd else "",
                    )
                    if part
                )
                raise CheckpointError(damaged.format(what))
            out = {name: npz[name] for name in listed}
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise CheckpointError(damaged.format(exc)) from exc
    for name, arr in out.items():
        spec = listed[name]
        if (
            not isinstance(spec, dict)
            or spec.get("dtype") != arr.dtype.str
            or spec.get("shape") != list(arr.shape)
        ):
            raise CheckpointError(
                damaged.format(
                    f"array {name!r} is {arr.dtype.str} {list(arr.shape)}, {META_FILE} says {spec}"
                )
            )
    return out


def read_checkpoint(
    folder: Path,
    day: int | None = None,
    *,
    fingerprint: str | None = None,
    version: str | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and metadata of the checkpoint of `day` (the latest when None).

    Refuses a missing, partial or damaged checkpoint, another checkpoint format, another
    panopticon version (only when `version` is given: pass ``panopticon.__version__`` to
    insist on this one) and another scenario (only when `fingerprint` is given).
    """
    meta, path = _checked_meta(folder, day, fingerprint, version)
    return _load_arrays(path, meta["arrays"]), meta


def read_meta(
    folder: Path,
    day: int | None = None,
    *,
    fingerprint: str | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    """The metadata of the checkpoint of `day` (the latest when None), arrays not loaded.

    The same checks as `read_checkpoint` except the arrays' (a sharded resume checks
    every shard's checkpoint this way before any worker loads its arrays).
    """
    return _checked_meta(folder, day, fingerprint, version)[0]


def _checked_meta(
    folder: Path, day: int | None, fingerprint: str | None, version: str | None
) -> tuple[dict[str, Any], Path]:
    """The checked ``meta.json`` of the checkpoint of `day` and its folder."""
    folder = Path(folder)
    days = list_checkpoints(folder)
    if day is None:
        if not days:
            raise CheckpointError(
                f"error: checkpoint folder {folder}: holds no complete checkpoint; there is "
                "nothing to resume: start the run afresh"
            )
        day = days[-1]
    day = _check_day(day)
    path = day_folder(folder, day)
    if not path.is_dir():
        raise CheckpointError(
            f"error: checkpoint {path}: not found; complete checkpoints there: {_days_text(days)}"
        )
    if day not in days:
        raise CheckpointError(
            f"error: checkpoint {path}: is incomplete (no {META_FILE} or {ARRAYS_FILE}); "
            f"complete checkpoints there: {_days_text(days)}; resume from one of those or "
            "delete this folder"
        )
    meta = _read_meta(path, day)
    written_by = meta.get("panopticon_version")
    fmt = meta.get("format")
    if fmt != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"error: checkpoint {path}: is in checkpoint format {fmt!r} (written by panopticon "
            f"{written_by}); panopticon {__version__} reads format {CHECKPOINT_FORMAT}; "
            f"resume with panopticon {written_by} or start the run afresh"
        )
    if version is not None and written_by != version:
        raise CheckpointError(
            f"error: checkpoint {path}: written by panopticon {written_by}; this is "
            f"panopticon {version}; resume with panopticon {written_by} or start the run afresh"
        )
    if fingerprint is not None and meta.get(FINGERPRINT_KEY) != fingerprint:
        saved = meta.get(FINGERPRINT_KEY)
        if saved is None:
            raise CheckpointError(
                f"error: checkpoint {path}: records no scenario hash; this run is "
                f"{_short(fingerprint)}; it cannot be checked against this scenario: start "
                "the run afresh"
            )
        raise CheckpointError(
            f"error: checkpoint {path}: written by panopticon {written_by} for scenario hash "
            f"{_short(saved)}; this run is {_short(fingerprint)}; resume only the run that "
            "wrote it"
        )
    if meta.get("day") != day:
        raise CheckpointError(
            f"error: checkpoint {path}: {META_FILE} says day {meta.get('day')!r}; the "
            "checkpoint is damaged or was moved: resume from another one or delete it"
        )
    return meta, path


def restore_into(
    target: Mapping[str, np.ndarray],
    arrays: Mapping[str, np.ndarray],
    *,
    where: str = "checkpoint",
) -> None:
    """Copy the saved `arrays` into the existing `target` arrays in place (``np.copyto``).

    The names must be the same sets, and each pair must have the same shape and dtype;
    every difference is listed in one message before anything is copied, so a refused
    restore changes nothing. `where` names the checkpoint in that message.
    """
    problems = []
    lost = sorted(set(target) - set(arrays))
    extra = sorted(set(arrays) - set(target))
    if lost:
        problems.append(f"missing from the checkpoint: {', '.join(lost)}")
    if extra:
        problems.append(f"not in this run: {', '.join(extra)}")
    for name in sorted(set(target) & set(arrays)):
        dst, src = target[name], arrays[name]
        if dst.shape != src.shape:
            problems.append(f"{name}: shape {src.shape} saved, {dst.shape} here")
        if dst.dtype != src.dtype:
            problems.append(f"{name}: dtype {src.dtype} saved, {dst.dtype} here")
        if not dst.flags.writeable:
            problems.append(f"{name}: the array here is read-only")
    if problems:
        raise CheckpointError(
            f"error: {where}: does not fit this run's state ({'; '.join(problems)}); resume "
            "only the run that wrote it, with the same population and modules"
        )
    for name, dst in target.items():
        np.copyto(dst, arrays[name], casting="no")


def check_every(checkpoint_every: int | None) -> None:
    """Refuse a checkpoint interval that is not a positive number of days."""
    if checkpoint_every is not None and (
        isinstance(checkpoint_every, bool)
        or not isinstance(checkpoint_every, int)
        or checkpoint_every < 1
    ):
        raise RunError(
            f"error: --checkpoint-every {checkpoint_every!r}: must be a whole number of days >= 1"
        )
