"""The checkpoint file format: round trips, atomic writes and every refusal."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import panopticon
from panopticon.io import checkpoint as ck
from panopticon.io.checkpoint import (
    CHECKPOINT_FORMAT,
    FINGERPRINT_KEY,
    CheckpointError,
    list_checkpoints,
    prune_checkpoints,
    read_checkpoint,
    restore_into,
    scenario_fingerprint,
    write_checkpoint,
)

FP = scenario_fingerprint("[run]\nseed = 1\npopulation = 1000\n")


def state(n: int = 50, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "alive": rng.random(n) < 0.5,
        "behave.deterrence": rng.integers(0, 255, n, dtype=np.uint8),
        "score:points": rng.integers(-30000, 30000, n, dtype=np.int16),
        "records-count": rng.integers(-(2**31), 2**31 - 1, n, dtype=np.int32),
        "risk_f32": rng.random(n, dtype=np.float32),
        "wealth": rng.standard_normal(n),
        "network.edges": rng.integers(0, n, (n, 3), dtype=np.int32),
        "empty": np.zeros(0, dtype=np.float64),
        "fortran": np.asfortranarray(rng.random((4, 5))),
    }


def meta(**extra: object) -> dict[str, object]:
    return {
        FINGERPRINT_KEY: FP,
        "streams": {"behave": 2**63 + 5, "observe": 17},
        "modules": {"score": {"floor": -50.0, "names": ["a", "b"], "none": None, "on": True}},
        **extra,
    }


def test_fingerprint_is_sha256_of_text():
    assert len(FP) == 64
    assert FP == scenario_fingerprint("[run]\nseed = 1\npopulation = 1000\n")
    assert FP != scenario_fingerprint("[run]\nseed = 2\npopulation = 1000\n")


def test_round_trip_is_exact(tmp_path: Path):
    arrays = state()
    path = write_checkpoint(tmp_path, 30, arrays, meta())
    assert path == tmp_path / "day-00030"
    assert sorted(p.name for p in path.iterdir()) == ["arrays.npz", "meta.json"]
    got, m = read_checkpoint(tmp_path, 30, fingerprint=FP, version=panopticon.__version__)
    assert list(got) == list(arrays)
    for name, arr in arrays.items():
        assert got[name].dtype == arr.dtype
        assert got[name].shape == arr.shape
        assert np.array_equal(got[name], arr)
        assert got[name].tobytes() == arr.tobytes()
    assert m["day"] == 30
    assert m["format"] == CHECKPOINT_FORMAT
    assert m["panopticon_version"] == panopticon.__version__
    assert "created" in m
    for key, value in meta().items():
        assert m[key] == value
    # A standard .npz: plain NumPy reads it without pickle.
    with np.load(path / "arrays.npz", allow_pickle=False) as npz:
        assert set(npz.files) == set(arrays)


def test_meta_converts_numpy_scalars_and_tuples(tmp_path: Path):
    m = {"n": np.int64(7), "x": np.float32(0.5), "b": np.bool_(True), "t": (1, 2)}
    write_checkpoint(tmp_path, 0, {}, m)
    _, got = read_checkpoint(tmp_path)
    assert (got["n"], got["x"], got["b"], got["t"]) == (7, 0.5, True, [1, 2])
    assert type(got["n"]) is int and type(got["b"]) is bool


def test_latest_and_listing(tmp_path: Path):
    assert list_checkpoints(tmp_path / "nothing") == []
    for day in (10, 3, 120000, 30):
        write_checkpoint(tmp_path, day, {"d": np.array([day])}, meta())
    assert list_checkpoints(tmp_path) == [3, 10, 30, 120000]
    arrays, m = read_checkpoint(tmp_path)
    assert m["day"] == 120000 and arrays["d"][0] == 120000
    arrays, m = read_checkpoint(tmp_path, 10)
    assert m["day"] == 10 and arrays["d"][0] == 10


def test_partial_and_temporary_folders_are_ignored(tmp_path: Path):
    write_checkpoint(tmp_path, 5, state(), meta())
    (tmp_path / ".partial-day-00009-abc").mkdir()
    (tmp_path / ".partial-day-00009-abc" / "arrays.npz").write_bytes(b"half")
    (tmp_path / "day-00007").mkdir()  # no files at all
    (tmp_path / "day-00008").mkdir()  # arrays but no meta
    (tmp_path / "day-00008" / "arrays.npz").write_bytes(b"x")
    (tmp_path / "day-7").mkdir()  # not our name
    (tmp_path / "notes.txt").write_text("hello")
    assert list_checkpoints(tmp_path) == [5]
    _, m = read_checkpoint(tmp_path)
    assert m["day"] == 5
    with pytest.raises(CheckpointError, match=r"day-00008: is incomplete.*days 5"):
        read_checkpoint(tmp_path, 8)
    with pytest.raises(CheckpointError, match=r"day-00011: not found.*days 5"):
        read_checkpoint(tmp_path, 11)


def test_rewrite_same_day_replaces_it(tmp_path: Path):
    write_checkpoint(tmp_path, 4, {"a": np.arange(3)}, meta(v=1))
    write_checkpoint(tmp_path, 4, {"b": np.arange(5)}, meta(v=2))
    arrays, m = read_checkpoint(tmp_path, 4)
    assert list(arrays) == ["b"] and m["v"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day-00004"]


def test_no_checkpoint_refused(tmp_path: Path):
    with pytest.raises(CheckpointError, match="holds no complete checkpoint"):
        read_checkpoint(tmp_path)


def _edit_meta(path: Path, **changes: object) -> None:
    doc = json.loads((path / "meta.json").read_text())
    doc.update(changes)
    (path / "meta.json").write_text(json.dumps(doc))


def test_other_format_refused(tmp_path: Path):
    path = write_checkpoint(tmp_path, 1, state(), meta())
    _edit_meta(path, format=CHECKPOINT_FORMAT + 1)
    with pytest.raises(CheckpointError, match=r"checkpoint format 2.*reads format 1"):
        read_checkpoint(tmp_path)


def test_other_version_refused_only_when_asked(tmp_path: Path):
    path = write_checkpoint(tmp_path, 1, state(), meta())
    _edit_meta(path, panopticon_version="0.0.9")
    read_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match=r"written by panopticon 0\.0\.9; this is"):
        read_checkpoint(tmp_path, version=panopticon.__version__)


def test_other_fingerprint_refused_only_when_asked(tmp_path: Path):
    write_checkpoint(tmp_path, 1, state(), meta())
    other = scenario_fingerprint("[run]\nseed = 2\n")
    read_checkpoint(tmp_path, fingerprint=None)  # forking into another scenario is allowed
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(tmp_path, fingerprint=other)
    msg = str(err.value)
    assert f"scenario hash {FP[:12]}.." in msg and f"this run is {other[:12]}.." in msg
    assert "resume only the run that wrote it" in msg
    write_checkpoint(tmp_path, 2, state(), {})
    with pytest.raises(CheckpointError, match="records no scenario hash"):
        read_checkpoint(tmp_path, fingerprint=FP)


def test_damaged_files_refused(tmp_path: Path):
    path = write_checkpoint(tmp_path, 1, state(), meta())
    (path / "arrays.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match=r"arrays\.npz is damaged"):
        read_checkpoint(tmp_path)
    path = write_checkpoint(tmp_path, 2, state(), meta())
    (path / "meta.json").write_text("{")
    with pytest.raises(CheckpointError, match=r"meta\.json cannot be read"):
        read_checkpoint(tmp_path, 2)
    path = write_checkpoint(tmp_path, 3, state(), meta())
    _edit_meta(path, day=4)
    with pytest.raises(CheckpointError, match=r"meta\.json says day 4"):
        read_checkpoint(tmp_path, 3)
    path = write_checkpoint(tmp_path, 5, {"a": np.arange(3)}, meta())
    _edit_meta(path, arrays={"a": {"dtype": "<i8", "shape": [3]}, "b": {}})
    with pytest.raises(CheckpointError, match=r"damaged.*missing b"):
        read_checkpoint(tmp_path, 5)
    _edit_meta(path, arrays={"a": {"dtype": "<f8", "shape": [3]}})
    with pytest.raises(CheckpointError, match=r"damaged.*'a' is <i8"):
        read_checkpoint(tmp_path, 5)


def test_object_and_structured_dtypes_refused(tmp_path: Path):
    with pytest.raises(CheckpointError, match=r"'names'.*without pickle"):
        write_checkpoint(tmp_path, 1, {"names": np.array(["a", None], dtype=object)}, {})
    rec = np.zeros(3, dtype=[("a", "i4"), ("b", "f8")])
    with pytest.raises(CheckpointError, match="structured"):
        write_checkpoint(tmp_path, 1, {"rec": rec}, {})
    with pytest.raises(CheckpointError, match="not a NumPy array"):
        write_checkpoint(tmp_path, 1, {"lst": [1, 2]}, {})  # type: ignore[dict-item]
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), np.float32("nan")])
def test_non_finite_meta_refused(tmp_path: Path, bad: float):
    with pytest.raises(CheckpointError, match=r"meta\['modules'\]\['s'\]\[1\].*JSON cannot hold"):
        write_checkpoint(tmp_path, 1, state(), {"modules": {"s": [0.0, bad]}})
    assert list_checkpoints(tmp_path) == []


def test_non_json_meta_refused(tmp_path: Path):
    with pytest.raises(CheckpointError, match="a set is not JSON"):
        write_checkpoint(tmp_path, 1, {}, {"x": {1, 2}})
    with pytest.raises(CheckpointError, match="key 3 is not a string"):
        write_checkpoint(tmp_path, 1, {}, {"x": {3: "a"}})
    with pytest.raises(CheckpointError, match="day, format: reserved"):
        write_checkpoint(tmp_path, 1, {}, {"format": 2, "day": 1})


@pytest.mark.parametrize("name", ["a/b", "../up", "", "with space", "é", "a\\b", 3])
def test_bad_array_names_refused(tmp_path: Path, name: object):
    with pytest.raises(CheckpointError, match=r"name .*not allowed"):
        write_checkpoint(tmp_path, 1, {name: np.zeros(2)}, {})  # type: ignore[dict-item]


def test_names_that_clash_with_savez_parameters_are_fine(tmp_path: Path):
    arrays = {"file": np.arange(2), "allow_pickle": np.ones(2, bool), "args": np.zeros(1)}
    write_checkpoint(tmp_path, 1, arrays, {})
    got, _ = read_checkpoint(tmp_path)
    assert set(got) == set(arrays)


@pytest.mark.parametrize("day", [-1, 1.5, True, "3"])
def test_bad_day_refused(tmp_path: Path, day: object):
    with pytest.raises(CheckpointError, match="must be an integer >= 0"):
        write_checkpoint(tmp_path, day, {}, {})  # type: ignore[arg-type]


def test_restore_into_copies_in_place(tmp_path: Path):
    saved = state(seed=1)
    write_checkpoint(tmp_path, 2, saved, meta())
    target = {k: np.zeros_like(v) for k, v in state(seed=2).items()}
    ids = {k: id(v) for k, v in target.items()}
    arrays, _ = read_checkpoint(tmp_path)
    restore_into(target, arrays)
    for name in saved:
        assert id(target[name]) == ids[name]
        assert np.array_equal(target[name], saved[name])


def test_restore_into_refusals_change_nothing():
    target = {"a": np.zeros(3, np.int32), "b": np.zeros(3), "c": np.zeros((2, 2), np.uint8)}
    cases = {
        "missing from the checkpoint: c": {"a": np.ones(3, np.int32), "b": np.ones(3)},
        "not in this run: d": {**{k: np.ones_like(v) for k, v in target.items()}, "d": np.ones(1)},
        r"c: shape \(4,\) saved, \(2, 2\) here": {
            "a": np.ones(3, np.int32),
            "b": np.ones(3),
            "c": np.ones(4, np.uint8),
        },
        "a: dtype int64 saved, int32 here": {
            "a": np.ones(3, np.int64),
            "b": np.ones(3),
            "c": np.ones((2, 2), np.uint8),
        },
    }
    for pattern, arrays in cases.items():
        with pytest.raises(CheckpointError, match=pattern) as err:
            restore_into(target, arrays, where="checkpoint runs/x/day-00003")
        assert "runs/x/day-00003: does not fit" in str(err.value)
        assert all(not v.any() for v in target.values())
    ro = {"a": np.zeros(3)}
    ro["a"].flags.writeable = False
    with pytest.raises(CheckpointError, match="read-only"):
        restore_into(ro, {"a": np.ones(3)})


def _boom(*args: object, **kwargs: object) -> None:
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("where", ["write_array", "rename", "fsync"])
def test_crash_during_write_keeps_previous(tmp_path: Path, monkeypatch, where: str):
    before = state(seed=1)
    write_checkpoint(tmp_path, 10, before, meta())
    if where == "write_array":
        monkeypatch.setattr(np.lib.format, "write_array", _boom)
    elif where == "rename":
        monkeypatch.setattr(os, "rename", _boom)
    else:
        monkeypatch.setattr(os, "fsync", _boom)
    with pytest.raises(CheckpointError, match=r"day-00020: cannot be written \(No space left"):
        write_checkpoint(tmp_path, 20, state(seed=2), meta())
    monkeypatch.undo()
    assert list_checkpoints(tmp_path) == [10]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day-00010"]
    arrays, m = read_checkpoint(tmp_path)
    assert m["day"] == 10
    assert all(np.array_equal(arrays[k], v) for k, v in before.items())


def test_hard_kill_during_write_leaves_only_a_partial_folder(tmp_path: Path, monkeypatch):
    """A killed process runs no cleanup: the temporary folder stays, and is ignored."""
    write_checkpoint(tmp_path, 10, state(seed=1), meta())

    class Killed(BaseException):
        pass

    def kill(*args: object, **kwargs: object) -> None:
        raise Killed

    monkeypatch.setattr(os, "rename", kill)
    monkeypatch.setattr(ck.shutil, "rmtree", lambda *a, **k: None)
    with pytest.raises(Killed):
        write_checkpoint(tmp_path, 20, state(seed=2), meta())
    monkeypatch.undo()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names[0].startswith(".partial-day-00020-") and names[1:] == ["day-00010"]
    assert list_checkpoints(tmp_path) == [10]
    assert read_checkpoint(tmp_path)[1]["day"] == 10
    prune_checkpoints(tmp_path, keep=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day-00010"]


def test_failed_replace_puts_the_old_checkpoint_back(tmp_path: Path, monkeypatch):
    write_checkpoint(tmp_path, 10, {"a": np.arange(3)}, meta(v=1))
    real = os.rename
    calls = []

    def second_fails(src: object, dst: object) -> None:
        calls.append((src, dst))
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(os, "rename", second_fails)
    with pytest.raises(CheckpointError, match="Input/output error"):
        write_checkpoint(tmp_path, 10, {"b": np.arange(3)}, meta(v=2))
    monkeypatch.undo()
    arrays, m = read_checkpoint(tmp_path, 10)
    assert list(arrays) == ["a"] and m["v"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day-00010"]


def test_prune_keeps_newest(tmp_path: Path):
    for day in (1, 2, 3, 4, 5):
        write_checkpoint(tmp_path, day, {"a": np.arange(2)}, {})
    assert prune_checkpoints(tmp_path, keep=2) == [1, 2, 3]
    assert list_checkpoints(tmp_path) == [4, 5]
    assert prune_checkpoints(tmp_path, keep=5) == []
    assert prune_checkpoints(tmp_path, keep=0) == [4, 5]
    assert list(tmp_path.iterdir()) == []
    assert prune_checkpoints(tmp_path / "missing", keep=1) == []
    with pytest.raises(CheckpointError, match="keep -1"):
        prune_checkpoints(tmp_path, keep=-1)
