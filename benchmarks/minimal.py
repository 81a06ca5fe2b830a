"""Benchmark: the minimal model (shared/models/minimal.md) at 10^5, 10^6, 10^7 x 365.

Each measurement runs in its own process so that peak memory is its own. The engine is
timed after a tiny warm-up run (so JIT compilation is not counted) for a complete run
folder with `run.records = "none"`; the baseline is the straightforward whole-array
NumPy version (`panopticon.stages.reference`), timed in the same invocation so the ratio is
measured side by side.

    python3 benchmarks/minimal.py                 # 1e5, 1e6, 1e7; baseline up to 1e6
    python3 benchmarks/minimal.py --sizes 1e6 --baseline-max 1e6 --days 365
    python3 benchmarks/minimal.py --whole --sizes 1e6   # whole `panopticon run minimal`
    python3 benchmarks/minimal.py --whole --sizes 1e6 --src src,/tmp/old/src
    python3 benchmarks/minimal.py --sizes 1e7 --src /tmp/old/src,src --rounds 3

`--whole` times what a user waits for instead: the whole `panopticon run minimal` command
in a fresh interpreter (start-up, importing, loading the compiled kernels from the cache,
set-up, the day loop, writing the run folder with its record log), beside the NumPy
version as a whole process too (start-up, loading the scenario, `run_reference`); the two
are run alternately, fastest of `--repeat` each, after one untimed engine run that fills
the kernel cache.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


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


def child(kind: str, n: int, days: int, repeat: int, src: str | None = None) -> dict[str, float]:
    """Measure in a fresh process (`src`: a source folder first on PYTHONPATH)."""
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(n), str(days), str(repeat)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


_NUMPY_WHOLE = (
    "import sys; from panopticon.scenario import load; "
    "from panopticon.stages.reference import run_reference; "
    "run_reference(load('minimal', population=int(sys.argv[1]), days=int(sys.argv[2])))"
)


def _wall(cmd: list[str], src: str | None = None) -> float:
    """Wall seconds of a command in a fresh process (output discarded); raises if it fails.

    `src`: a source folder put first on PYTHONPATH (another checkout of the package).
    """
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    # A user's install has the modules' bytecode cache (pip compiles it at install; an
    # editable install writes it on first import), so the timed runs read it: without
    # this an environment with PYTHONDONTWRITEBYTECODE compiles ~75 of panopticon's
    # modules in every process (~0.1 s), a cost no installed copy pays.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def whole(sizes: list[int], days: int, repeat: int, srcs: list[str | None]) -> None:
    """Print the whole-run table: `panopticon run minimal` against the NumPy version.

    With several `srcs` (checkouts), each round runs every checkout's engine then the
    NumPy version, so all are measured side by side under the same load.
    """
    print(
        f"whole run, minimal model, {days} days: fresh process each, kernels from the cache; "
        f"fastest of {repeat}, engine(s) and NumPy alternating"
    )
    head = (
        f"{'citizens':>12} {'src':>24} {'engine s':>9} {'numpy s':>9} {'ratio':>7}   "
        "engine: start-up+import, set-up, day loop, writing (s)"
    )
    print(head)
    print("-" * len(head))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        for n in sizes:
            eng_cmd = [sys.executable, "-m", "panopticon.cli", "run", "minimal"]
            eng_cmd += ["--population", str(n), "--days", str(days), "--out", str(out)]
            eng_cmd += ["--overwrite", "--quiet"]
            np_cmd = [sys.executable, "-c", _NUMPY_WHOLE, str(n), str(days)]
            for src in srcs:
                _wall(eng_cmd, src)  # fills the kernel cache if it is empty
            eng = {src: float("inf") for src in srcs}
            parts = {src: (0.0, 0.0, 0.0) for src in srcs}
            ref = float("inf")
            for _ in range(repeat):
                for src in srcs:
                    t = _wall(eng_cmd, src)
                    if t < eng[src]:
                        eng[src] = t
                        m = json.loads((out / "manifest.json").read_text())
                        ph = m["phase_seconds"]
                        loop = sum(v for k, v in ph.items() if k != "setup")
                        parts[src] = (ph.get("setup", 0.0), loop, m.get("write_seconds", 0.0))
                ref = min(ref, _wall(np_cmd, srcs[-1]))
            for src in srcs:
                rest = eng[src] - sum(parts[src])
                setup, loop, write = parts[src]
                print(
                    f"{n:>12,} {str(src or 'installed')[-24:]:>24} {eng[src]:>9.2f} "
                    f"{ref:>9.2f} {ref / eng[src]:>6.1f}x   "
                    f"{rest:.2f}, {setup:.2f}, {loop:.2f}, {write:.2f}"
                )
            sys.stdout.flush()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


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
    ap.add_argument(
        "--whole",
        action="store_true",
        help="time the whole `panopticon run minimal` command against the NumPy version",
    )
    ap.add_argument(
        "--src",
        default=None,
        help="comma-separated source folders (checkouts) to compare, each put on "
        "PYTHONPATH in turn, alternating (default: the installed package)",
    )
    ap.add_argument(
        "--rounds", type=int, default=1, help="engine measurements per size and checkout"
    )
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    srcs: list[str | None] = list(args.src.split(",")) if args.src else [None]
    if args.whole:
        whole([int(float(s)) for s in args.sizes.split(",")], args.days, args.repeat, srcs)
        return
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
        for round_ in range(args.rounds):
            for src in srcs:  # checkouts alternate, so they share the load
                eng = child("engine", size, args.days, rep, src)
                rate = size * args.days / eng["seconds"]
                run_base = size <= args.baseline_max and round_ == 0 and src == srcs[-1]
                base = child("numpy", size, args.days, rep, src) if run_base else None
                ratio = f"{base['seconds'] / eng['seconds']:.1f}x" if base else "-"
                loop = sum(v for k, v in eng["phases"].items() if k != "setup")
                print(
                    f"{size:>12,} {'engine':>8} {eng['seconds']:>9.2f} {rate:>14.3g} "
                    f"{eng['peak_bytes'] / 2**20:>9.0f} {eng['state_bytes_per_citizen']:>11.1f} "
                    f"{ratio:>7}  day loop {loop:.2f} s  {str(src or 'installed')[-24:]}"
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
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
