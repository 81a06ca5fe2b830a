"""Benchmark: checkpoints of a sharded run, and its resume after the whole run is killed.

A preset (``--preset``, seed-article by default) of ``--size`` citizens is run three
ways into run folders: in one process (no checkpoints), on K shards (``--shards``,
in this process: the ``local`` backend) with a checkpoint every ``--every`` days, and
on K shards stopped after day ``--stop`` (an exception from the driver loop, as a kill
would stop it) then resumed by `panopticon.resume`. Printed: per shard, the bytes of one
checkpoint and the seconds each took to write (``--via driver``: to copy, and the
driver's seconds to take and write all K); the driver's checkpoint (its head copy
and the record log since the last one) and its seconds; the resume's seconds to load
(restore every shard and rewrite the record log so far); and whether every parquet
file's sha256 of the uninterrupted and resumed sharded runs is the one-process run's.
The load average is printed with each timing: the machine is shared.

    flock /tmp/work/bigrun.lock python3 benchmarks/shards_resume.py --size 1e6 --days 100
    python3 benchmarks/shards_resume.py --size 3e4 --days 100 --shards 3 --via driver
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import panopticon as pn
from panopticon.core import shards
from panopticon.io.checkpoint import day_folder


class Stop(Exception):
    """The run stopped from the driver loop."""


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every parquet file of a run folder."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.parquet")}


def folder_bytes(path: Path) -> int:
    """Bytes of the files under `path`."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def load() -> str:
    """The 1-minute load average."""
    return f"{os.getloadavg()[0]:.2f}"


def timed(cls: Any, name: str, into: list[float]) -> Callable[[], None]:
    """Time every call of `cls.name` into `into`; returns the undo."""
    original = getattr(cls, name)

    def wrapper(self: Any, *args: Any) -> Any:
        t = time.perf_counter()
        try:
            return original(self, *args)
        finally:
            into.append(time.perf_counter() - t)

    setattr(cls, name, wrapper)
    return lambda: setattr(cls, name, original)


def main() -> None:
    """Run the three ways and print the numbers."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=float, default=1e6)
    ap.add_argument("--days", type=int, default=100)
    ap.add_argument("--every", type=int, default=30)
    ap.add_argument("--stop", type=int, default=75, help="the stopped run's last day")
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--preset", default="seed-article")
    ap.add_argument(
        "--via", default="shard", choices=("shard", "driver"), help="who writes the checkpoints"
    )
    ap.add_argument("--sets", action="append", default=[], help="--set items for the preset")
    args = ap.parse_args()
    n, k = int(args.size), args.shards
    sc = pn.load(args.preset, sets=args.sets, population=n, days=args.days)
    tmp = Path(tempfile.mkdtemp(prefix="shards-resume-"))
    try:
        t = time.perf_counter()
        pn.run(sc, out=tmp / "one")
        print(f"one process: {time.perf_counter() - t:.1f} s (load {load()})")
        want = digests(tmp / "one")

        writes: list[float] = []
        takes: list[float] = []
        saves: list[float] = []
        undo = [
            timed(shards.ShardWorker, "checkpoint", writes),
            timed(shards.Driver, "save", saves),
        ]
        if args.via == "driver":  # the shard keeps a copy; the driver writes all K
            undo.append(timed(shards.Driver, "take", takes))
        t = time.perf_counter()
        run = shards.run_sharded(
            sc,
            k,
            out=tmp / "whole",
            backend="local",
            checkpoint_every=args.every,
            checkpoint_via=args.via,
        )
        wall = time.perf_counter() - t
        for u in undo:
            u()
        day = args.every
        print(
            f"K = {k}, checkpoints every {args.every} days: {wall:.1f} s (load {load()}), "
            f"{run.manifest['shards']['seconds_per_day'] * 1000:.0f} ms a day"
        )
        for j in range(k):
            size = folder_bytes(day_folder(tmp / "whole" / "shard-checkpoints" / f"shard-{j}", day))
            mine = writes[j::k]
            print(
                f"  shard {j}: {size / 2**20:,.1f} MiB a checkpoint, "
                f"{', '.join(f'{s:.2f}' for s in mine)} s each"
            )
        driver = [folder_bytes(p) for p in sorted((tmp / "whole" / "checkpoints").iterdir())]
        print(
            f"  driver: {', '.join(f'{b / 2**20:,.1f}' for b in driver)} MiB, "
            f"{', '.join(f'{s:.2f}' for s in saves)} s each"
        )
        if takes:
            print(
                "  driver writing the K shards' checkpoints: "
                f"{', '.join(f'{s:.2f}' for s in takes)} s"
            )
        print(f"  same bytes as one process: {digests(tmp / 'whole') == want}")

        def fault(d: int, workers: Any) -> None:
            if d == args.stop:
                raise Stop

        try:
            shards.run_sharded(
                sc,
                k,
                out=tmp / "cut",
                backend="local",
                checkpoint_every=args.every,
                fault=fault,
                checkpoint_via=args.via,
            )
        except Stop:
            pass
        loads: list[float] = []
        undo = [timed(shards.Driver, "load", loads)]
        t = time.perf_counter()
        resumed = pn.resume(tmp / "cut", note=lambda line: print(" ", line))
        for u in undo:
            u()
        wall = time.perf_counter() - t
        setup = resumed.manifest["phase_seconds"]["setup"]
        print(
            f"  resume: {wall:.1f} s (load {load()}), of which {setup:.1f} s to rebuild the "
            f"shards, load their checkpoints and rewrite the log (driver load {loads[0]:.2f} s)"
        )
        print(f"  resumed same bytes as one process: {digests(tmp / 'cut') == want}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
