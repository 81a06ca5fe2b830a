"""Benchmark: one population sharded over K Ray actors against the one-process run.

For each size, the one-process run and then K = 1, 2, 4 shards (``--shards``) of a
preset (``--preset``, the minimal model by default) are run into run folders (record log
written, as by default) and the tables' bytes compared with the one-process run's.
Printed per row: wall of the run, seconds per day of the day loop, the share of the day
outside the slowest shard's work (exchange, barrier waits, Ray's transport), messages
and KiB exchanged per day (non-empty shard-to-shard parts of the routed records), records
routed per day, the peak RSS of each shard's actor, and whether the tables are the
one-process bytes. A local Ray cluster of the machine's cores serves every sharded row
(started once, not counted in the rows' times after the first). The load average is
printed before each row: the machine is shared.

    python3 benchmarks/shards.py --sizes 1e6 --days 100
    python3 benchmarks/shards.py --preset seed-article --sizes 1e6 --days 60
    flock /tmp/work/bigrun.lock python3 benchmarks/shards.py --sizes 1e7 --days 30
    flock /tmp/work/bigrun.lock python3 benchmarks/shards.py --sizes 1e8 --days 20 \
        --sets run.people=false --sets 'run.records="none"'
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

TABLES = ("timeseries", "people", "records", "score_histogram")


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of each result table's bytes (those the run wrote)."""
    paths = {t: folder / f"{t}.parquet" for t in TABLES}
    return {t: hashlib.sha256(p.read_bytes()).hexdigest() for t, p in paths.items() if p.exists()}


def main() -> None:
    """Run the rows and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e6", help="populations, comma-separated")
    ap.add_argument("--days", type=int, default=100)
    ap.add_argument("--shards", default="1,2,4", help="values of K, comma-separated")
    ap.add_argument("--preset", default="minimal", help="the scenario (default: minimal)")
    ap.add_argument("--sets", action="append", default=[], help="--set items for the preset")
    args = ap.parse_args()
    import ray

    ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    warm = pn.load(args.preset, population=20_000, days=5)
    tmp = Path(tempfile.mkdtemp(prefix="shards-bench-"))
    try:
        run_sharded(warm, 2, out=tmp / "warm")  # compile in the actors, not in the rows
        print(
            "| population | K | load | wall s | s/day | outside work | messages/day | "
            "KiB/day | routed/day | peak RSS per shard MiB | same bytes |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for size in (int(float(s)) for s in args.sizes.split(",")):
            sc = pn.load(args.preset, sets=args.sets, population=size, days=args.days)
            pn.run(sc, out=tmp / "one", overwrite=True)  # compiles the parallel kernels
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            one = pn.run(sc, out=tmp / "one", overwrite=True)
            wall = time.perf_counter() - t0
            m = one.manifest
            loop = sum(v for k, v in m["phase_seconds"].items() if k != "setup")
            print(
                f"| {size:,} | one process | {load:.2f} | {wall:.1f} | {loop / args.days:.4f} "
                f"| - | - | - | - | {m['peak_memory_bytes'] / 2**20:,.0f} | - |",
                flush=True,
            )
            want = digests(tmp / "one")
            for k in (int(x) for x in args.shards.split(",")):
                load = os.getloadavg()[0]
                t0 = time.perf_counter()
                run = run_sharded(sc, k, out=tmp / f"k{k}", overwrite=True)
                wall = time.perf_counter() - t0
                s = run.manifest["shards"]
                rss = "/".join(f"{b / 2**20:,.0f}" for b in s["peak_rss_bytes"])
                same = digests(tmp / f"k{k}") == want
                print(
                    f"| {size:,} | {k} | {load:.2f} | {wall:.1f} | {s['seconds_per_day']:.4f} "
                    f"| {s['exchange_share']:.0%} | {s['messages_per_day']:.1f} "
                    f"| {s['bytes_per_day'] / 1024:,.1f} | {s['records_routed_per_day']:,.0f} "
                    f"| {rss} | {'yes' if same else 'NO'} |",
                    flush=True,
                )
                shutil.rmtree(tmp / f"k{k}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        ray.shutdown()


if __name__ == "__main__":
    main()
