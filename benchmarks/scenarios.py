"""Benchmark: presets side by side, cost per act relative to the minimal model.

Each row runs in its own process (peak memory is its own), timed after a small warm-up
run of the same preset (JIT compilation not counted), the fastest of `--repeat` runs,
for a complete run folder with `run.records = "none"`. Prints agent-days per second,
nanoseconds per committed act, that cost relative to `minimal` at the same size (the
day loop's time: the sum of the stages' phase times, without the one-off set-up such as
building the social graph and without writing the tables), the identification stage's
time per search (per detected act), peak memory and resident state.

    python3 benchmarks/scenarios.py --sizes 1e6 --days 365
    python3 benchmarks/scenarios.py --presets minimal,seed-article --sizes 1e6,1e7
    python3 benchmarks/scenarios.py --presets minimal --sets 'surveillance.faceid={mode="scores"}'
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time


def measure(preset: str, n: int, days: int, sets: list[str], repeat: int = 1) -> dict[str, float]:
    """Run one configuration `repeat` times in this process; the fastest run counts."""
    import panopticon as pn

    sets = [*sets, 'run.records="none"']
    with tempfile.TemporaryDirectory() as tmp:
        pn.run(
            pn.load(preset, sets, population=min(n, 20_000), days=min(days, 40)), out=f"{tmp}/warm"
        )
        sc = pn.load(preset, sets, population=n, days=days)
        wall = float("inf")
        for r in range(repeat):
            t0 = time.perf_counter()
            result = pn.run(sc, out=f"{tmp}/run{r}")
            if time.perf_counter() - t0 < wall:
                wall = time.perf_counter() - t0
                m = result.manifest
    return {
        "seconds": wall,
        "committed": m["totals"]["committed"],
        "observed": m["totals"]["observed"],
        "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "state": m["state_bytes_per_citizen"],
        "phases": m["phase_seconds"],
        "setup": m["phase_seconds"]["setup"],
    }


def child(preset: str, n: int, days: int, sets: list[str], repeat: int) -> dict[str, float]:
    """Measure in a fresh process."""
    cmd = [
        sys.executable,
        __file__,
        "--child",
        preset,
        str(n),
        str(days),
        json.dumps(sets),
        str(repeat),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="minimal,city-pilot,documented,seed-article")
    ap.add_argument("--sizes", default="1e6")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--sets", action="append", default=[], help="--set applied to every run")
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs per row below 1e7 citizens (fastest counts; 1 at 1e7 and up)",
    )
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        p, n, d, s, rep = args.child
        print(json.dumps(measure(p, int(n), int(d), json.loads(s), int(rep))))
        return
    print(
        f"{args.days} days, records='none', timed after warm-up, fastest of {args.repeat} "
        f"runs below 1e7; sets: {args.sets or '-'}"
    )
    head = (
        f"{'preset':>14} {'citizens':>11} {'seconds':>8} {'setup':>6} {'agent-days/s':>13} "
        f"{'acts':>12} {'ns/act':>7} {'vs minimal':>10} {'id ns/search':>12} {'peak MiB':>9} "
        f"{'state B':>8}"
    )
    print(head)
    print("-" * len(head))
    for size in (int(float(s)) for s in args.sizes.split(",")):
        base = None
        for preset in args.presets.split(","):
            r = child(preset, size, args.days, args.sets, args.repeat if size < 10**7 else 1)
            # cost per act: the day loop's time (the stages' phase times, without set-up and
            # without writing the tables at the end) per act
            loop = sum(v for k, v in r["phases"].items() if k != "setup")
            ns = 1e9 * loop / max(r["committed"], 1)
            if preset == "minimal":
                base = ns
            rel = f"{ns / base:.2f}x" if base else "-"
            ident = 1e9 * r["phases"]["identify"] / max(r["observed"], 1)
            print(
                f"{preset:>14} {size:>11,} {r['seconds']:>8.2f} {r['setup']:>6.2f} "
                f"{size * args.days / r['seconds']:>13.3g} {r['committed']:>12,} {ns:>7.1f} "
                f"{rel:>10} {ident:>12.1f} {r['peak_bytes'] / 2**20:>9.0f} {r['state']:>8.1f}"
            )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
