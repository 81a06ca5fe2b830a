"""Benchmark: a sharded run's national barriers, per module: days, messages, bytes.

Runs a preset (by default `seed-article` with the overrides of tests/test_shards.py that
make avoidance rounds, school rounds with joint liability, network deterrence and the
per-group tables all fire) in one process and then with K shards, compares every table
of the run folder byte for byte, and prints per barrier module the number of barrier
days, messages (two a shard a barrier: its part to the driver, its result back) and bytes
per barrier (the parts' and the results' arrays), with the records exchange, the wall
and the peak RSS. The load average is printed: the machine is shared.

    python3 benchmarks/shards_barriers.py --sizes 2e4,1e6 --days 60 --shards 2,3
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import panopticon as pn
from panopticon.core.shards import run_sharded

ARTICLE_SETS = [
    "network.avoidance.every_days=20",
    'network.avoidance.avoid_grades=["B", "C", "D"]',
    'sanctions.measures.schools.trigger.grades=["B", "C", "D"]',
    "sanctions.measures.schools.first_day=20",
    "sanctions.measures.schools.every_days=20",
    "response.network_deterrence=0.9",
]


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every table of a run folder."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.parquet")}


def main() -> None:
    """Run the rows and print them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="seed-article")
    ap.add_argument("--sizes", default="2e4", help="populations, comma-separated")
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--shards", default="2,3", help="values of K, comma-separated")
    ap.add_argument("--backend", default="local", choices=("local", "ray"))
    ap.add_argument("--sets", action="append", default=None, help="--set items (default: tests')")
    args = ap.parse_args()
    sets = ARTICLE_SETS if args.sets is None else args.sets
    tmp = Path(tempfile.mkdtemp(prefix="barriers-bench-"))
    try:
        for size in (int(float(s)) for s in args.sizes.split(",")):
            sc = pn.load(args.preset, sets=sets, population=size, days=args.days, seed=5)
            t0 = time.perf_counter()
            one = pn.run(sc, out=tmp / f"one-{size}")
            want = digests(tmp / f"one-{size}")
            wall = time.perf_counter() - t0
            print(
                f"{args.preset} {size:,} x {args.days}: one process {wall:.1f} s, peak"
                f" {one.manifest['peak_memory_bytes'] / 2**20:,.0f} MiB,"
                f" load {os.getloadavg()[0]:.2f}"
            )
            for k in (int(x) for x in args.shards.split(",")):
                t0 = time.perf_counter()
                run = run_sharded(sc, k, out=tmp / f"k{k}-{size}", backend=args.backend)
                wall = time.perf_counter() - t0
                s = run.manifest["shards"]
                same = digests(tmp / f"k{k}-{size}") == want
                rss = "/".join(f"{b / 2**20:,.0f}" for b in s["peak_rss_bytes"])
                print(
                    f"  K={k} ({s['backend']}): wall {wall:.1f} s,"
                    f" {s['seconds_per_day']:.4f} s/day,"
                    f" messages {s['messages_per_day']:.2f}/day, {s['bytes_per_day'] / 1024:,.1f}"
                    f" KiB/day, records routed {s['records_routed_per_day']:.2f}/day, peak RSS"
                    f" {rss} MiB, same bytes: {same}, load {os.getloadavg()[0]:.2f}"
                )
                for name, b in s["barriers"].items():
                    print(
                        f"    barrier {name}: {b['days']} days, {b['messages'] // b['days']}"
                        f" messages and {b['bytes_per_barrier'] / 1024:,.1f} KiB per barrier"
                    )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
