"""Kernels compiled serial below a size and parallel above it (`panopticon.core.jit`).

The first run after installing compiles every kernel it uses; parallel builds cost several
times more to compile, so they are compiled only when a large input comes. Both builds
must give the same results, and the heapsort that replaced `sort` in the graph build must
order rows as `np.sort` does.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
from numba import prange

from panopticon.core import jit
from panopticon.stages.society.friends import _clean_span, _sort_large

SRC = Path(__file__).resolve().parents[1] / "src" / "panopticon"


@jit.sized_kernel(0)
def _block_sums(values: np.ndarray, out: np.ndarray) -> None:
    """Sum of each block of 8 values (a fixed-block parallel loop, as in the engine)."""
    for b in prange(out.size):
        total = 0
        for i in range(b * 8, min(values.size, b * 8 + 8)):
            total += values[i]
        out[b] = total


def test_small_inputs_run_serial_and_large_ones_parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    values = np.arange(1000, dtype=np.int64)
    small = np.zeros(125, dtype=np.int64)
    _block_sums(values, small)
    assert _block_sums.serial.signatures and not _block_sums.parallel.signatures
    monkeypatch.setattr(jit, "PARALLEL_FROM", 100)
    big = np.zeros(125, dtype=np.int64)
    _block_sums(values=values, out=big)  # by keyword too
    if numba.get_num_threads() > 1:
        assert _block_sums.parallel.signatures
    np.testing.assert_array_equal(big, small)
    np.testing.assert_array_equal(small, values.reshape(125, 8).sum(axis=1))


def test_parallel_build_has_its_own_cache_name() -> None:
    """Numba's cache index does not tell parallel from serial builds: the names differ."""
    assert _block_sums.parallel.py_func.__qualname__ == "_block_sums_parallel"
    assert _block_sums.serial.py_func.__qualname__ == "_block_sums"
    assert _block_sums.__doc__ == _block_sums.serial.py_func.__doc__


def test_every_parallel_kernel_goes_through_sized_kernel() -> None:
    """`parallel=True` appears only in core/jit.py: no kernel compiles parallel by default."""
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if p.name != "jit.py" and "parallel=True" in p.read_text()
    ]
    assert offenders == []


@pytest.mark.parametrize("n", [0, 1, 2, 33, 100, 257])
def test_heapsort_orders_rows_as_numpy_sort(n: int) -> None:
    rng = np.random.default_rng(n)
    a = rng.integers(-1, 50, size=n + 10).astype(np.int32)
    expect = a.copy()
    expect[5 : 5 + n] = np.sort(a[5 : 5 + n])
    _sort_large(a, 5, 5 + n)
    np.testing.assert_array_equal(a, expect)


def test_clean_rows_sorts_dedups_and_packs_long_rows() -> None:
    rng = np.random.default_rng(3)
    sizes = np.array([5, 40, 0, 70, 33], dtype=np.int64)
    indptr = np.zeros(sizes.size + 1, dtype=np.int32)
    indptr[1:] = np.cumsum(sizes)
    idx = rng.integers(-1, 30, size=int(sizes.sum())).astype(np.int32)
    rows = [idx[indptr[i] : indptr[i + 1]].copy() for i in range(sizes.size)]
    removed = _clean_span(indptr, idx, 0, sizes.size, sizes.astype(np.int32))
    expect_removed = 0
    for i, row in enumerate(rows):
        live = row[row >= 0]
        uniq = np.unique(live)
        expect_removed += live.size - uniq.size
        got = idx[indptr[i] : indptr[i + 1]]
        np.testing.assert_array_equal(got[: uniq.size], uniq)
        assert (got[uniq.size :] == -1).all()
    assert removed == expect_removed


def _run_bytes(tmp: Path, env: dict[str, str]) -> dict[str, str]:
    """sha256 of every Parquet file of a small seed-article run under `env`."""
    args = ["seed-article", "--population", "20000", "--days", "60", "--out", str(tmp), "-q"]
    subprocess.run(
        [sys.executable, "-m", "panopticon.cli", "run", *args],
        env=dict(os.environ, **env),
        check=True,
        capture_output=True,
    )
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp.glob("*.parquet")}


@pytest.mark.slow
def test_parallel_builds_give_the_serial_bytes(tmp_path: Path) -> None:
    """seed-article (graph, avoidance, measures) with every sized kernel parallel = serial."""
    serial = _run_bytes(tmp_path / "serial", {"NUMBA_NUM_THREADS": "2"})
    parallel = _run_bytes(
        tmp_path / "parallel", {"NUMBA_NUM_THREADS": "2", "PANOPTICON_PARALLEL_FROM": "0"}
    )
    assert serial and parallel == serial


def test_openmp_threads_wait_passively_unless_told() -> None:
    """core.jit sets OMP_WAIT_POLICY=PASSIVE before any parallel kernel; a user's value wins."""
    import subprocess
    import sys

    code = "import os, panopticon.core.jit; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    got = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert got.stdout.split() == ["PASSIVE"]
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    got = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert got.stdout.split() == ["ACTIVE"]
