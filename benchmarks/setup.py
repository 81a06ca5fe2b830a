"""Benchmark: a scenario's set-up (`Simulation(scenario)`), per stage, against a baseline tree.

Each measurement runs in its own process, after a warm-up set-up at 5,000 citizens (JIT
compilation excluded: the warm-up runs with every sized kernel parallel, so the parallel
twins are loaded too, or compiled once into the cache, outside the timed set-up). With
``--baseline TREE`` the same measurement runs with ``PYTHONPATH=TREE/src`` too,
alternated with this tree's (before, after, before, after), so both see the same load;
the table gives the ratios. The stages are timed by wrapping the graph builder's
functions and every module's constructor; "page faults" counts the set-up's minor
faults (first touches of fresh memory, about 1 s per GB when the kernel has to compact
memory for huge pages).

On a machine shared with other work, numba's OpenMP threads spin-wait: a tiny parallel
kernel can then take a second of CPU (`_grade_all`, in PointsLedger's and each factors
score's set-up, 0.04 s serial at 10^7 citizens, measured 0.8-1.3 s parallel at load 2.5
on 2 cores; 0.04 s with OMP_WAIT_POLICY=PASSIVE, the workqueue layer or one thread).
Quote the load with the table, and repeat.

    python3 benchmarks/setup.py --scenarios documented,seed-article --sizes 1e6,1e7
    python3 benchmarks/setup.py --baseline /tmp/base --repeat 2
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent

# (module, function) pairs timed inside the set-up, in build order
STAGES = (
    ("panopticon.stages.society.build", "build_households"),
    ("panopticon.stages.society.build", "build_groups"),
    ("panopticon.stages.society.friends", "_draw_degrees"),
    ("panopticon.stages.society.friends", "allocate_rows"),
    ("panopticon.stages.society.friends", "_stub_count"),
    ("panopticon.stages.society.friends", "_stub_place"),
    ("panopticon.stages.society.friends", "shuffle_segments"),
    ("panopticon.stages.society.friends", "_stub_pair"),
    ("panopticon.stages.society.friends", "_fill_rows"),
    ("panopticon.stages.society.friends", "_clean_rows"),
)


def _timed(times: dict[str, float], name: str, fn: Any) -> Any:
    """`fn` adding its wall seconds to times[name]."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            times[name] = times.get(name, 0.0) + time.perf_counter() - t0

    return wrapper


def measure(scenario_name: str, n: int) -> dict[str, Any]:
    """Set up `scenario_name` at n citizens in this process; seconds per stage."""
    import importlib

    from panopticon import scenario
    from panopticon.core import engine, jit, population

    threshold = jit.PARALLEL_FROM
    jit.PARALLEL_FROM = 0  # the warm-up loads (or compiles) the parallel twins as well
    engine.Simulation(scenario.load(scenario_name, [], population=5000, days=5))
    jit.PARALLEL_FROM = threshold
    engine.Simulation(scenario.load(scenario_name, [], population=5000, days=5))
    times: dict[str, float] = {}
    for mod_name, fn_name in STAGES:
        mod = importlib.import_module(mod_name)
        if hasattr(mod, fn_name):
            setattr(mod, fn_name, _timed(times, fn_name, getattr(mod, fn_name)))
    population.build = _timed(times, "population", population.build)
    engine.population_mod.build = population.build
    sim0 = engine.Simulation(scenario.load(scenario_name, [], population=5000, days=5))
    classes = {type(m) for m in sim0.modules}
    for cls in classes:
        cls.__init__ = _timed(times, f"module:{cls.__name__}", cls.__init__)
    del sim0
    times.clear()
    sc = scenario.load(scenario_name, [], population=n, days=5)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    sim = engine.Simulation(sc)
    total = time.perf_counter() - t0
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return {
        "total": total,
        "setup": sim.module_seconds["setup"],
        "page faults (10^5)": faults / 1e5,
        **times,
    }


def child(tree: Path, scenario_name: str, n: int) -> dict[str, Any]:
    """`measure` in a fresh process with PYTHONPATH=tree/src."""
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    out = subprocess.run(
        [sys.executable, __file__, "--child", scenario_name, str(n)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Print the set-up table (and the ratios against a baseline)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default="documented,seed-article")
    ap.add_argument("--sizes", default="1e6", help="comma-separated population sizes")
    ap.add_argument("--baseline", type=Path, help="a tree whose src/ is the code before")
    ap.add_argument("--repeat", type=int, default=1, help="alternated pairs per row")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]))))
        return
    threads = os.environ.get("NUMBA_NUM_THREADS")
    print(f"load average {os.getloadavg()}; NUMBA_NUM_THREADS={threads}")
    for name in args.scenarios.split(","):
        for n in (int(float(s)) for s in args.sizes.split(",")):
            runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
            for _ in range(args.repeat):
                if args.baseline is not None:
                    runs["before"].append(child(args.baseline, name, n))
                runs["after"].append(child(HERE, name, n))
            keys = sorted({k for r in runs["after"] + runs["before"] for k in r})
            print(f"\n{name} at {n:,} citizens (best of {args.repeat}), seconds")
            for k in keys:
                after = min(r.get(k, 0.0) for r in runs["after"])
                line = f"  {k:<34} {after:>8.2f}"
                if runs["before"]:
                    before = min(r.get(k, 0.0) for r in runs["before"])
                    ratio = before / after if after > 0 else float("nan")
                    line = f"  {k:<34} {before:>8.2f} -> {after:>8.2f}  x{ratio:.2f}"
                print(line)
            sys.stdout.flush()
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
