"""Benchmark: `seed-article` per module, this tree beside a baseline tree, in one invocation.

Each (tree, size) runs in its own child process (``PYTHONPATH=<tree>/src``), after a small
warm-up run in that child, so compilation is not timed and the peak resident memory
(``ru_maxrss`` from `os.wait4`) is the run's own. The baseline is any source tree of the
project, e.g. a git worktree of an older commit::

    git worktree add --detach /tmp/base <commit>
    python3 benchmarks/seed_article_scale.py --baseline /tmp/base --sizes 1e6,1e7

Printed per size: engine seconds (the day loop: the manifest's module seconds but set-up)
and set-up seconds of each tree, their ratio, the modules that take the most time, peak
MiB and the engine's memory estimate. ``--preset documented --days 0`` times another
preset over its own days; ``--setup-only`` builds the simulation without running it
(set-up seconds and the build's peak). The runs write ``run.records = "none"``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

CHILD = r"""
import json, os, sys, tempfile, time
import panopticon as pn
from panopticon.core.engine import estimate_bytes
preset, n, days, setup_only = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
sets = ['run.records="none"']
own = days <= 0
with tempfile.TemporaryDirectory() as tmp:
    warm = pn.load(preset, sets, population=10_000, days=None if own else min(days, 40))
    pn.run(warm, out=f"{tmp}/warm")
    sc = pn.load(preset, sets, population=n, days=None if own else days)
    estimate = estimate_bytes(sc)
    t0 = time.perf_counter()
    if setup_only:
        sim = pn.Simulation(sc)
        seconds = {"setup": sim.module_seconds["setup"]}
    else:
        result = pn.run(sc, out=f"{tmp}/run")
        seconds = dict(result.manifest["module_seconds"])
    wall = time.perf_counter() - t0
print("RESULT " + json.dumps({"seconds": seconds, "wall": wall, "estimate": estimate}))
"""


def run_child(
    tree: Path, preset: str, n: int, days: int, threads: int, setup_only: bool
) -> dict[str, Any]:
    """One measured run in a child process using the sources of `tree`."""
    env = dict(os.environ, PYTHONPATH=str(tree / "src"), NUMBA_NUM_THREADS=str(threads))
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, preset, str(n), str(days), "1" if setup_only else "0"],
            env=env,
            stdout=out,
            stderr=subprocess.DEVNULL,
            cwd=tempfile.gettempdir(),
        )
        _, status, usage = os.wait4(proc.pid, 0)
        out.seek(0)
        text = out.read()
    if status != 0:
        raise SystemExit(f"error: run: {tree} at {n}: exit status {status}")
    line = next(x for x in text.splitlines() if x.startswith("RESULT "))
    row = json.loads(line[len("RESULT ") :])
    row["peak"] = usage.ru_maxrss * 1024
    row["load"] = os.getloadavg()[0]
    return row


def engine_seconds(row: dict[str, Any]) -> float:
    """The day loop's seconds: every module's but set-up."""
    return sum(v for k, v in row["seconds"].items() if k != "setup")


def describe(name: str, row: dict[str, Any]) -> str:
    """One printed line: engine, set-up, wall, peak, estimate and the top modules."""
    s = row["seconds"]
    top = sorted(((v, k) for k, v in s.items() if k != "setup"), reverse=True)[:5]
    mods = ", ".join(f"{k} {v:.1f}" for v, k in top)
    peak, est = row["peak"] / 2**20, row["estimate"] / 2**20
    return (
        f"  {name:9s} engine {engine_seconds(row):8.2f} s  set-up {s['setup']:7.2f} s  "
        f"wall {row['wall']:8.2f} s  peak {peak:8,.0f} MiB  estimate {est:8,.0f} MiB "
        f"({est / peak - 1:+.0%})  load {row['load']:.1f}\n            {mods}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run every size with both trees, alternating, and print them side by side."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, help="source tree of the baseline (omit: none)")
    ap.add_argument("--preset", default="seed-article")
    ap.add_argument("--sizes", default="1e6,1e7", help="comma-separated citizens")
    ap.add_argument("--days", type=int, default=365, help="0: the preset's own days")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--setup-only", action="store_true", help="build, do not run")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = ap.parse_args(argv)
    here = Path(__file__).resolve().parents[1]
    trees = [("current", here)] + ([("baseline", args.baseline)] if args.baseline else [])
    rows = []
    for size in args.sizes.split(","):
        n = int(float(size))
        print(f"{args.preset} {n:,} x {args.days or 'own'} days, {args.threads} threads")
        got = {}
        for name, tree in trees:
            got[name] = run_child(tree, args.preset, n, args.days, args.threads, args.setup_only)
            print(describe(name, got[name]), flush=True)
            rows.append({"tree": name, "n": n, "preset": args.preset, **got[name]})
        if "baseline" in got:
            cur, base = got["current"], got["baseline"]
            eng = engine_seconds(base) / max(engine_seconds(cur), 1e-9)
            setup = base["seconds"]["setup"] / max(cur["seconds"]["setup"], 1e-9)
            print(f"  baseline / current: engine x{eng:.2f}, set-up x{setup:.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
