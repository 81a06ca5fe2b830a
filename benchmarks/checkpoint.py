"""Benchmark: writing and reading a checkpoint of 10^7 citizens' state (270 MB, 12 arrays).

The state mimics the engine's per-citizen arrays (27 bytes a citizen: float64, float32,
int32, two int16, three uint8, four bool). Writing counts everything `write_checkpoint`
does, fsync of every file and folder included; reading is `read_checkpoint` (CRC-checked,
into fresh arrays) and restoring is `restore_into` (copy into existing arrays). The
fastest of `--repeat` runs counts. The checkpoint is written in a temporary folder under
`--dir` (default: the system's temporary folder; pass the disk your run folders live on if
that differs).

    python3 benchmarks/checkpoint.py                 # 1e7 citizens, 3 repeats
    python3 benchmarks/checkpoint.py --citizens 1e6 --repeat 5
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from panopticon.io.checkpoint import (
    read_checkpoint,
    restore_into,
    scenario_fingerprint,
    write_checkpoint,
)

DTYPES = {
    "wealth": np.float64,
    "behave.deterrence": np.float32,
    "household": np.int32,
    "score.points": np.int16,
    "score.true": np.int16,
    "records.count": np.uint8,
    "sanction.status": np.uint8,
    "recovery.window": np.uint8,
    "alive": np.bool_,
    "blacklisted": np.bool_,
    "observed": np.bool_,
    "appealing": np.bool_,
}


def make_state(n: int) -> dict[str, np.ndarray]:
    """Twelve per-citizen arrays of `n` entries with random contents."""
    rng = np.random.default_rng(0)
    out: dict[str, np.ndarray] = {}
    for name, dtype in DTYPES.items():
        dt = np.dtype(dtype)
        if dt.kind == "f":
            out[name] = rng.random(n, dtype=np.float64).astype(dt)
        elif dt.kind == "b":
            out[name] = rng.random(n) < 0.1
        else:
            out[name] = rng.integers(0, np.iinfo(dt).max, n, dtype=dt)
    return out


def main() -> None:
    """Measure write, read and restore; print seconds and MB/s for each."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--citizens", type=float, default=1e7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    n = int(args.citizens)
    state = make_state(n)
    mb = sum(a.nbytes for a in state.values()) / 1e6
    meta = {
        "scenario_fingerprint": scenario_fingerprint("[run]\nseed = 1\n"),
        "streams": {name: 123456789 for name in ("behave", "observe", "identify")},
    }
    target = {k: np.empty_like(v) for k, v in state.items()}
    best = {"write": float("inf"), "read": float("inf"), "restore": float("inf")}
    with tempfile.TemporaryDirectory(dir=args.dir, prefix=".bench-ckpt-") as tmp:
        folder = Path(tmp)
        for r in range(args.repeat):
            t0 = time.perf_counter()
            write_checkpoint(folder, r, state, meta)
            t1 = time.perf_counter()
            arrays, _ = read_checkpoint(folder, r, fingerprint=meta["scenario_fingerprint"])
            t2 = time.perf_counter()
            restore_into(target, arrays)
            t3 = time.perf_counter()
            del arrays
            best["write"] = min(best["write"], t1 - t0)
            best["read"] = min(best["read"], t2 - t1)
            best["restore"] = min(best["restore"], t3 - t2)
    assert all(np.array_equal(target[k], v) for k, v in state.items())
    print(f"{n:,} citizens, {len(state)} arrays, {mb:.0f} MB, fastest of {args.repeat}")
    for what, sec in best.items():
        print(f"{what:>8}: {sec:6.3f} s  {mb / sec:8.0f} MB/s")


if __name__ == "__main__":
    main()
