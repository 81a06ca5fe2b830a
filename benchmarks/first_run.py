"""Benchmark: a newcomer's first run: compilation on an empty cache, the cached run, `--help`.

Numba compiles every kernel a scenario uses on first use and caches the machine code; the
first run after installing therefore pays for compilation once. This script measures it
with a private, emptied `NUMBA_CACHE_DIR` (the cache the installed package writes is left
alone), so it measures the same thing on every invocation:

* `--help`: wall time of `panopticon --help` (fastest of `--repeat`);
* fresh: the scenario run in a new process on an empty cache: wall time, the time spent
  compiling (Numba's `numba:compile` events, outermost only; wall and CPU seconds of the
  compiling thread), the number of kernels compiled;
* cached: the same run again in a new process: it must load every kernel from the cache
  (0 compiled) and its wall time is what every later run costs (fastest of `--repeat`).

Each run is a whole `panopticon run` in a fresh interpreter (start-up, set-up and writing
the run folder included). Compile CPU time is the figure to compare across invocations on
a shared machine: wall time there depends on the other load.

    python3 benchmarks/first_run.py                          # seed-article, as the README
    python3 benchmarks/first_run.py --population 100000 --days 90
    python3 benchmarks/first_run.py --scenario minimal --no-report
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _child(out_json: str, argv: list[str]) -> int:
    """Run `panopticon` with `argv` in this process; write compile statistics to `out_json`."""
    t0 = time.perf_counter()
    from numba.core import event

    compiles: list[dict[str, Any]] = []

    class _Listener(event.Listener):
        """Times every `numba:compile` event (nested ones are inside the outer ones)."""

        def __init__(self) -> None:
            self.stack: list[tuple[float, float]] = []

        def on_start(self, ev: event.Event) -> None:
            self.stack.append((time.perf_counter(), time.thread_time()))

        def on_end(self, ev: event.Event) -> None:
            wall, cpu = self.stack.pop()
            fn = ev.data["dispatcher"].py_func
            compiles.append(
                {
                    "kernel": f"{fn.__module__}.{fn.__qualname__}",
                    "wall": time.perf_counter() - wall,
                    "cpu": time.thread_time() - cpu,
                    "outer": not self.stack,
                }
            )

    event.register("numba:compile", _Listener())
    from panopticon.cli.main import main

    rc = main(argv)
    import gc

    from numba.core.registry import CPUDispatcher

    hits = sum(
        sum(o._cache_hits.values()) for o in gc.get_objects() if isinstance(o, CPUDispatcher)
    )
    outer = [c for c in compiles if c["outer"]]
    per_kernel: dict[str, float] = {}
    for c in outer:
        per_kernel[c["kernel"]] = per_kernel.get(c["kernel"], 0.0) + c["cpu"]
    stats = {
        "rc": rc,
        "seconds": time.perf_counter() - t0,
        "compile_wall": sum(c["wall"] for c in outer),
        "compile_cpu": sum(c["cpu"] for c in outer),
        "compiled": len(outer),
        "cache_hits": hits,
        "kernels": sorted(per_kernel.items(), key=lambda kv: -kv[1]),
    }
    Path(out_json).write_text(json.dumps(stats))
    return rc


def _timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    """Wall seconds of `cmd` (stdout and stderr discarded); raises if it fails."""
    t = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t


def _run(
    scenario_argv: list[str], env: dict[str, str], cwd: Path, out: Path
) -> tuple[float, dict[str, Any]]:
    """One whole run in a fresh interpreter: (wall seconds, the child's compile statistics)."""
    stats = cwd / "stats.json"
    cmd = [sys.executable, __file__, "--child", str(stats), "run", *scenario_argv]
    cmd += ["--out", str(out), "--overwrite", "--quiet"]
    wall = _timed(cmd, env, cwd)
    return wall, json.loads(stats.read_text())


def main() -> None:
    """Measure `--help`, the fresh-cache run and the cached run; print the table."""
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        raise SystemExit(_child(sys.argv[2], sys.argv[3:]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="seed-article")
    ap.add_argument("--population", type=float, default=None, help="default: the scenario's")
    ap.add_argument("--days", type=int, default=None, help="default: the scenario's")
    ap.add_argument("--no-report", action="store_true", help="leave out --report")
    ap.add_argument("--repeat", type=int, default=3, help="runs of --help and the cached run")
    ap.add_argument("--kernels", type=int, default=10, help="slowest kernels to list")
    args = ap.parse_args()

    scenario_argv = [args.scenario]
    if args.population is not None:
        scenario_argv += ["--population", str(int(args.population))]
    if args.days is not None:
        scenario_argv += ["--days", str(args.days)]
    if not args.no_report:
        scenario_argv.append("--report")
    # the entry point installed beside this interpreter (a venv's bin/), else `-m`
    exe = Path(sys.executable).parent / "panopticon"
    help_cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "panopticon.cli"]
    help_cmd.append("--help")

    with tempfile.TemporaryDirectory(prefix="panopticon-first-run-") as tmp:
        work = Path(tmp)
        cache = work / "numba-cache"
        cache.mkdir()
        env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
        helps = [_timed(help_cmd, env, work) for _ in range(args.repeat)]
        fresh_wall, fresh = _run(scenario_argv, env, work, work / "fresh")
        cached = [_run(scenario_argv, env, work, work / "cached") for _ in range(args.repeat)]
        cached_wall, cached_stats = min(cached, key=lambda r: r[0])

    print(f"{' '.join(scenario_argv)} (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    print(f"{'step':<14} {'wall s':>8} {'compile s':>10} {'compile CPU s':>14} {'compiled':>9}")
    print(f"{'--help':<14} {min(helps):8.2f} {'':>10} {'':>14} {'':>9}")
    for name, wall, st in (
        ("fresh cache", fresh_wall, fresh),
        ("cached", cached_wall, cached_stats),
    ):
        print(
            f"{name:<14} {wall:8.2f} {st['compile_wall']:10.2f} {st['compile_cpu']:14.2f} "
            f"{st['compiled']:9d}"
        )
    print(f"cached run: {cached_stats['cache_hits']} kernels loaded from the cache")
    if args.kernels and fresh["kernels"]:
        print(f"slowest kernels to compile (CPU s, of {fresh['compiled']}):")
        for name, cpu in fresh["kernels"][: args.kernels]:
            print(f"  {cpu:6.2f}  {name}")


if __name__ == "__main__":
    main()
