"""Benchmark: the scaling curve on this machine, time and peak memory against population.

Each (preset, size) runs in its own process, so its peak resident memory is its own: the
parent reads it from the child's resource usage (`os.wait4`, ``ru_maxrss``). In the child
a small warm-up run of the same preset comes first (JIT compilation and cache loading are
not counted in the times; the interpreter, Numba and Arrow are in the peak, as in every
real run), then the measured run writes a complete run folder with
``run.records = "none"`` (no record log). ``people.parquet`` is written too (with
``timeseries.parquet``, the extra tables and the manifest) unless ``--sets
run.people=false`` leaves it out: its conversion at the end of the run is part of the
measured peak.

Printed per row: engine time (the day loop: the sum of the manifest's phase seconds but
set-up), set-up time (population, graph, modules), writing (the manifest's
``write_seconds``), wall (the whole `pn.run`, writing included), the child's peak RSS, the
memory the engine estimated beforehand
(`core.engine.estimate_bytes`) and its error against the peak, declared resident state per
citizen, acts committed and engine nanoseconds per act (the work grows with acts, not with
population x days), the peak RSS already reached after the first day (set-up peak) and at
the end of the day loop, and the load average before the run. The machine is shared: a row
whose ns/act is more than `--recheck` times its preset's median is run again, and both
rows are printed.

    python3 benchmarks/scale.py                                  # the whole curve
    python3 benchmarks/scale.py --presets minimal --sizes 1e5,1e6 --days 365
    python3 benchmarks/scale.py --json out.json                  # rows also as JSON
    python3 benchmarks/scale.py --exchange 1e6                   # cross-shard effects
    python3 benchmarks/scale.py --presets minimal --sizes 1e7 --src src,/tmp/old/src
                                     # the same rows with another checkout's code, alternated
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

DEFAULT_SIZES = {
    "minimal": "1e4,1e5,1e6,1e7,1e8",
    "seed-article": "1e4,1e5,1e6,1e7",
}
PEAK_LIMIT = 8 * 2**30  # sizes whose estimate exceeds this are skipped (a shared machine)


def rss_now() -> int:
    """Peak resident bytes of this process so far (``ru_maxrss``)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def measure(preset: str, n: int, days: int, sets: list[str]) -> dict[str, Any]:
    """Warm up, then run one configuration once in this process; returns its figures."""
    import panopticon as pn
    from panopticon.core.engine import available_bytes, estimate_bytes

    sets = [*sets, 'run.records="none"']
    marks: dict[str, int] = {}

    def progress(day: int, total: int) -> None:
        """Record the peak RSS after the first and after the last day."""
        if day == 1:
            marks["after_day1"] = rss_now()
        if day == total:
            marks["after_loop"] = rss_now()

    with tempfile.TemporaryDirectory() as tmp:
        own = days <= 0  # the preset's own days (a dated preset cannot be shortened)
        warm = pn.load(preset, sets, population=min(n, 10_000), days=None if own else min(days, 40))
        pn.run(warm, out=f"{tmp}/warm")
        marks["base"] = rss_now()
        sc = pn.load(preset, sets, population=n, days=None if own else days)
        estimate = estimate_bytes(sc)
        available = available_bytes()
        t0 = time.perf_counter()
        result = pn.run(sc, out=f"{tmp}/run", progress=progress)
        wall = time.perf_counter() - t0
        m = result.manifest
        written = sorted(p.name for p in result.path.iterdir())
    phases = m["phase_seconds"]
    return {
        "preset": preset,
        "n": n,
        "days": m["days"],
        "wall": wall,
        "setup": phases["setup"],
        "write": m.get("write_seconds", 0.0),
        "src": os.path.dirname(os.path.dirname(pn.__file__)),
        "engine": sum(v for k, v in phases.items() if k != "setup"),
        "phases": phases,
        "modules": m["module_seconds"],
        "committed": m["totals"]["committed"],
        "state": m["state_bytes_per_citizen"],
        "estimate": estimate,
        "available": available,
        "marks": marks,
        "written": written,
    }


def child(
    preset: str,
    n: int,
    days: int,
    sets: list[str],
    threads: int | None = None,
    src: str | None = None,
) -> dict[str, Any]:
    """Measure in a fresh process; its peak RSS from the kernel's accounting of the child.

    `threads` sets NUMBA_NUM_THREADS for the child (the same bytes on any count); `src`
    puts another checkout's package first on the child's path (before/after rows).
    """
    load = os.getloadavg()
    cmd = [sys.executable, __file__, "--child", preset, str(n), str(days), json.dumps(sets)]
    env = dict(os.environ)
    if threads:
        env["NUMBA_NUM_THREADS"] = str(threads)
    if src:
        env["PYTHONPATH"] = os.path.abspath(src)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        process_wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        text, errors = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{preset} at {n:,}: exit {proc.returncode}\n{errors[-2000:]}")
    r: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
    r["peak"] = int(usage.ru_maxrss) * 1024
    r["process_wall"] = process_wall
    r["load_before"] = load[0]
    r["load_after"] = os.getloadavg()[0]
    r["threads"] = threads or int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1))
    return r


def estimate_only(preset: str, n: int, days: int, sets: list[str]) -> int:
    """The engine's memory estimate for a configuration (nothing is allocated)."""
    import panopticon as pn
    from panopticon.core.engine import estimate_bytes

    sets = [*sets, 'run.records="none"']
    return estimate_bytes(pn.load(preset, sets, population=n, days=days if days > 0 else None))


def exchange(n: int, days: int) -> None:
    """Print what a sharded `seed-article` run would exchange, measured in one process.

    Runs the preset at `n` x `days` with the whole record log kept, then counts the
    records naming someone other than the actor (and how many cross the preset's regions),
    the friendships across regions, the ties dropped and formed per avoidance round and
    the applicants of the scarce-good rounds: the inputs of docs/scale.md's projection.
    """
    import polars as pl

    import panopticon as pn
    from panopticon.core.engine import Simulation

    sc = pn.load("seed-article", ['run.records="all"'], population=n, days=days)
    with tempfile.TemporaryDirectory() as tmp:
        result = pn.run(sc, out=f"{tmp}/run")
        rec = result.records
        ts = result.timeseries
        alloc = pl.read_parquet(f"{tmp}/run/allocations.parquet")
    sim = Simulation(sc.override(days=1))
    region, graph = sim.need("region"), sim.need("network")
    src, dst = graph.edges()
    p, a = rec["perpetrator"].to_numpy(), rec["attributed_to"].to_numpy()
    wrong = (p >= 0) & (p != a)
    person_days = n * days
    print(f"seed-article {n:,} x {days} days, records kept: {rec.height:,}")
    print(f"records per person-day: {rec.height / person_days:.3g}")
    print(
        f"wrong-person records: {int(wrong.sum()):,} ({wrong.sum() / person_days:.3g} per "
        f"person-day), across regions: {float((region[p[wrong]] != region[a[wrong]]).mean()):.3f}"
    )
    by = rec.filter(~pl.col("correct")).group_by("channel").len().sort("channel")
    print("  by channel: " + ", ".join(f"{c} {k:,}" for c, k in by.iter_rows()))
    print(f"ties: {src.size:,}, across regions: {float((region[src] != region[dst]).mean()):.3f}")
    for c in ("ties_dropped", "ties_new"):
        rounds = int((ts[c] > 0).sum())
        print(f"{c}: {int(ts[c].sum()):,} over {rounds} rounds")
    for measure, day, k in alloc.select("measure", "day", "applicants").iter_rows():
        print(f"allocation {measure} on day {day}: {k:,} applicants")
    print(f"daily columns: {len(ts.columns)}")


def row(r: dict[str, Any], note: str = "") -> str:
    """One printed row."""
    mib = 2**20
    ns = 1e9 * r["engine"] / max(r["committed"], 1)
    err = 100.0 * (r["estimate"] - r["peak"]) / r["peak"]
    marks = r["marks"]
    return (
        f"{r['preset']:>13} {r['n']:>13,} {r['engine']:>8.2f} {r['setup']:>7.2f} "
        f"{r.get('write', 0.0):>7.2f} {r['wall']:>8.2f} {r['peak'] / mib:>9,.0f} "
        f"{r['estimate'] / mib:>9,.0f} {err:>+6.0f}% "
        f"{r['state']:>6.1f} {r['committed']:>14,} {ns:>7.1f} "
        f"{marks.get('after_day1', 0) / mib:>8,.0f} {marks.get('after_loop', 0) / mib:>8,.0f} "
        f"{r['load_before']:>5.1f} {note}"
    ).rstrip()


def main() -> None:
    """Print the scaling table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="minimal,seed-article")
    ap.add_argument(
        "--sizes",
        default=None,
        help="comma-separated sizes for every preset (default: minimal 1e4..1e8, "
        "seed-article 1e4..1e7)",
    )
    ap.add_argument("--days", type=int, default=365, help="0: each preset's own days")
    ap.add_argument("--sets", action="append", default=[], help="--set applied to every run")
    ap.add_argument(
        "--recheck",
        type=float,
        default=1.5,
        help="run a row again when its ns/act is this many times its preset's median (0: never)",
    )
    ap.add_argument(
        "--threads", type=int, default=None, help="NUMBA_NUM_THREADS of every run (default: all)"
    )
    ap.add_argument(
        "--exchange",
        type=float,
        default=None,
        metavar="N",
        help="instead of the curve: what a sharded seed-article run at N would exchange",
    )
    ap.add_argument("--json", default=None, help="also write every row to this JSON file")
    ap.add_argument(
        "--peak-limit",
        type=float,
        default=PEAK_LIMIT / 2**30,
        help="GiB: skip sizes whose estimate is above (default 8; run bigger ones under "
        "the shared lock: flock /tmp/work/bigrun.lock ...)",
    )
    ap.add_argument(
        "--src",
        default=None,
        help="comma-separated package source folders (e.g. src,/tmp/old/src): every row "
        "is run with each in turn, side by side",
    )
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        p, n, d, s = args.child
        print(json.dumps(measure(p, int(float(n)), int(d), json.loads(s))))
        return
    if args.exchange:
        exchange(int(args.exchange), args.days)
        return
    print(
        f"{args.days or 'each preset own'} days, records='none' (people, timeseries and extra "
        "tables written), "
        f"each row its own process after a warm-up; {os.cpu_count()} cores, "
        f"{args.threads or 'all'} Numba threads; sets: {args.sets or '-'}"
    )
    head = (
        f"{'preset':>13} {'citizens':>13} {'engine s':>8} {'setup s':>7} {'write s':>7} "
        f"{'wall s':>8} "
        f"{'peak MiB':>9} {'est MiB':>9} {'est err':>7} {'B/cit':>6} {'acts':>14} "
        f"{'ns/act':>7} {'day1 MiB':>8} {'loop MiB':>8} {'load':>5}"
    )
    print(head)
    print("-" * len(head))
    rows: list[dict[str, Any]] = []
    for preset in args.presets.split(","):
        sizes = args.sizes or DEFAULT_SIZES.get(preset, "1e4,1e5,1e6,1e7")
        done: list[dict[str, Any]] = []
        for n in (int(float(s)) for s in sizes.split(",")):
            try:
                est = estimate_only(preset, n, args.days, args.sets)
            except ValueError as exc:  # ScenarioError: e.g. a dated preset's schedule
                print(f"{preset:>13} {n:>13,} skipped: {exc}")
                continue
            if est > args.peak_limit * 2**30:
                print(
                    f"{preset:>13} {n:>13,} skipped: estimate {est / 2**30:.1f} GiB is over "
                    f"{args.peak_limit:.0f} GiB"
                )
                continue
            for src in args.src.split(",") if args.src else [None]:
                r = child(preset, n, args.days, args.sets, args.threads, src)
                done.append(r)
                print(row(r, f"({src})" if src else ""))
                sys.stdout.flush()
        # repeat rows whose cost per act is far from the preset's median (a busy moment)
        big = [r for r in done if r["committed"] >= 10**6]
        if args.recheck and len(big) >= 2 and not args.src:
            med = statistics.median(1e9 * r["engine"] / r["committed"] for r in big)
            for r in big:
                if 1e9 * r["engine"] / r["committed"] > args.recheck * med:
                    again = child(preset, r["n"], args.days, args.sets, args.threads)
                    again["recheck_of"] = r["n"]
                    done.append(again)
                    print(row(again, "(again)"))
                    sys.stdout.flush()
        rows.extend(done)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
