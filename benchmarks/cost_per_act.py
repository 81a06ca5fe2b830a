"""Benchmark: cost per act of each preset relative to the minimal model, interleaved.

All simulations are built in one process and stepped in alternation, a slice of days at
a time (minimal, preset A, preset B, minimal, ...), so that the machine's drifting speed
affects them alike; each one's day-loop time (everything `Simulation.step` does,
including the daily tables) is summed over a whole year and divided by its acts.

    python3 benchmarks/cost_per_act.py
    python3 benchmarks/cost_per_act.py --presets benchmarks/catalog-policies.toml --size 1e6
"""

from __future__ import annotations

import argparse
import time

import panopticon as pn


def main() -> None:
    """Print ns per act and the ratio to the minimal model."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--presets", default="city-pilot,benchmarks/catalog-policies.toml,documented,seed-article"
    )
    ap.add_argument("--size", type=float, default=1e6)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--slice", type=int, default=73, help="days per turn")
    args = ap.parse_args()
    names = ["minimal", *args.presets.split(",")]
    n = int(args.size)
    sims = {}
    for name in names:
        sc = pn.load(name, ['run.records="none"'], population=n, days=args.days)
        warm = pn.Simulation(pn.load(name, population=min(n, 20_000), days=40))
        for _ in range(40):  # compile every kernel this preset uses
            warm.step()
        sims[name] = pn.Simulation(sc)
    spent = dict.fromkeys(names, 0.0)
    for start in range(0, args.days, args.slice):
        for name, sim in sims.items():
            t0 = time.perf_counter()
            for _ in range(min(args.slice, args.days - start)):
                sim.step()
            spent[name] += time.perf_counter() - t0
    base = None
    print(f"{n:,} citizens x {args.days} days, stepped in alternation ({args.slice} days a turn)")
    print(f"{'preset':>34} {'loop s':>8} {'acts':>12} {'ns/act':>8} {'vs minimal':>10}")
    for name, sim in sims.items():
        acts = int(sim.metrics.columns["committed"].sum())
        ns = 1e9 * spent[name] / max(acts, 1)
        base = ns if base is None else base
        print(f"{name:>34} {spent[name]:>8.2f} {acts:>12,} {ns:>8.1f} {ns / base:>9.2f}x")


if __name__ == "__main__":
    main()
