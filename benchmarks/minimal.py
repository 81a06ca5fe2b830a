"""Benchmark: the minimal model (shared/models/minimal.md) at 10^5, 10^6, 10^7 x 365.

Each measurement runs in its own process so that peak memory is its own. The engine is
timed after a tiny warm-up run (so JIT compilation is not counted) for a complete run
folder with `run.records = "none"`; the baseline is the straightforward whole-array
NumPy version (`panopticon.stages.reference`), timed in the same invocation so the ratio is
measured side by side.

    python3 benchmarks/minimal.py                 # 1e5, 1e6, 1e7; baseline up to 1e6
    python3 benchmarks/minimal.py --sizes 1e6 --baseline-max 1e6 --days 365
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time


def measure(kind: str, n: int, days: int, repeat: int = 1) -> dict[str, float]:
    """Run one configuration `repeat` times in this process; the fastest time counts.

    The minimum over repeats is the usual estimate of a program's cost on a noisy machine
    (other load only ever adds time); both implementations get the same number of repeats.
    """
    import panopticon as pn
    from panopticon.stages.reference import run_reference

    sets = ['run.records="none"']
    if kind == "engine":
        with tempfile.TemporaryDirectory() as tmp:
            pn.run(pn.load("minimal", sets, population=1000, days=31), out=f"{tmp}/warm")
            sc = pn.load("minimal", sets, population=n, days=days)
            wall = float("inf")
            for r in range(repeat):
                t0 = time.perf_counter()
                result = pn.run(sc, out=f"{tmp}/run{r}")
                if time.perf_counter() - t0 < wall:
                    wall = time.perf_counter() - t0
                    state = result.manifest["state_bytes_per_citizen"]
                    phases = result.manifest["phase_seconds"]
    else:
        sc = pn.load("minimal", sets, population=n, days=days)
        wall = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            run_reference(sc)
            wall = min(wall, time.perf_counter() - t0)
        state, phases = float("nan"), {}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": wall, "peak_bytes": peak, "state_bytes_per_citizen": state, "phases": phases}


def child(kind: str, n: int, days: int, repeat: int) -> dict[str, float]:
    """Measure in a fresh process."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(n), str(days), str(repeat)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Print the benchmark table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e5,1e6,1e7", help="comma-separated population sizes")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument(
        "--baseline-max",
        type=float,
        default=1e6,
        help="largest size at which the NumPy baseline also runs",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs per configuration below 1e7 (fastest counts; 1 at 1e7 and up)",
    )
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, n, days, rep = args.child[0], *(int(x) for x in args.child[1:])
        print(json.dumps(measure(kind, n, days, rep)))
        return
    print(
        f"minimal model, {args.days} days; engine timed after warm-up, records='none'; "
        f"fastest of {args.repeat} runs below 1e7 citizens, for both implementations"
    )
    head = (
        f"{'citizens':>12} {'impl':>8} {'seconds':>9} {'agent-days/s':>14} "
        f"{'peak MiB':>9} {'state B/cit':>11} {'ratio':>7}"
    )
    print(head)
    print("-" * len(head))
    for size in (int(float(s)) for s in args.sizes.split(",")):
        rep = args.repeat if size < 10_000_000 else 1
        eng = child("engine", size, args.days, rep)
        rate = size * args.days / eng["seconds"]
        base = child("numpy", size, args.days, rep) if size <= args.baseline_max else None
        ratio = f"{base['seconds'] / eng['seconds']:.1f}x" if base else "-"
        print(
            f"{size:>12,} {'engine':>8} {eng['seconds']:>9.2f} {rate:>14.3g} "
            f"{eng['peak_bytes'] / 2**20:>9.0f} {eng['state_bytes_per_citizen']:>11.1f} "
            f"{ratio:>7}"
        )
        if base:
            brate = size * args.days / base["seconds"]
            print(
                f"{'':>12} {'numpy':>8} {base['seconds']:>9.2f} {brate:>14.3g} "
                f"{base['peak_bytes'] / 2**20:>9.0f} {'':>11} {'1.0x':>7}"
            )
        phases = ", ".join(f"{k} {v:.2f}" for k, v in eng["phases"].items())
        print(f"{'':>12} phases (s): {phases}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
