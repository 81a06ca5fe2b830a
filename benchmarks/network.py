"""Benchmark: building the social graph and one avoidance round at 10^6 and 10^7 citizens.

Each size runs in its own process, so the peak memory is that size's alone. JIT
compilation is excluded: a 5,000-citizen graph is built and rewired first. The synthetic
population has 31 equal regions and the age bands of `AGES`; the network has default
parameters (mean degree 10). The rewiring round marks a random 10% of citizens as low
and prefers the others (default avoidance: p_drop 0.1, p_new 0.5, preference 2).

    python3 benchmarks/network.py                  # 1e6 and 1e7
    python3 benchmarks/network.py --sizes 1e5,1e6 --seed 3
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

AGES = {"0-17": 0.22, "18-34": 0.25, "35-64": 0.38, "65-90": 0.15}


def measure(n: int, seed: int) -> dict[str, float]:
    """Build and rewire one graph of n citizens in this process; return timings."""
    import numpy as np

    from panopticon.core.population import demographics
    from panopticon.scenario import Population
    from panopticon.stages import society as nw

    regions = {f"r{k:02d}": {"share": 1 / 31} for k in range(31)}
    regions["r00"]["share"] += 1.0 - sum(r["share"] for r in regions.values())
    pop = Population(size=n, regions=regions, age_bands=AGES)
    params = nw.NetworkParams()
    warm = demographics(pop.model_copy(update={"size": 5000}), seed, 0, 5000)
    small = nw.build_network(params, warm.age, warm.region, seed)
    small.rewire(np.zeros(5000, bool), np.zeros(5000), 0, seed, params.avoidance)

    t0 = time.perf_counter()
    d = demographics(pop, seed, 0, n)
    t_demo = time.perf_counter() - t0
    t0 = time.perf_counter()
    net = nw.build_network(params, d.age, d.region, seed)
    t_build = time.perf_counter() - t0
    mean_degree = float(net.degree().mean())
    low = np.random.default_rng(seed).random(n) < 0.1
    attractiveness = (~low).astype(np.float64)
    t0 = time.perf_counter()
    counts = net.rewire(low, attractiveness, 0, seed, params.avoidance)
    t_rewire = time.perf_counter() - t0
    t0 = time.perf_counter()
    net.neighbour_mean(attractiveness)
    t_mean = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "demographics_s": t_demo,
        "build_s": t_build,
        "rewire_s": t_rewire,
        "neighbour_mean_s": t_mean,
        "bytes_per_citizen": net.nbytes() / n,
        "peak_bytes": peak,
        "mean_degree": mean_degree,
        "households": net.n_households,
        "groups": net.n_groups,
        "dropped": counts["dropped"],
        "new": counts["new"],
        "moved": counts["moved"],
        "removed_ties": net.stats["self_loops"] + net.stats["duplicate_edges"],
    }


def child(n: int, seed: int) -> dict[str, float]:
    """Measure in a fresh process."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(n), str(seed)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Print the benchmark table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e6,1e7", help="comma-separated population sizes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(int(args.child[0]), int(args.child[1]))))
        return
    head = (
        f"{'citizens':>12} {'build s':>8} {'B/citizen':>9} {'rewire s':>9} "
        f"{'nbr mean s':>10} {'peak MiB':>9} {'mean deg':>8} {'demog s':>8}"
    )
    print("social graph, default parameters; JIT compilation excluded; mean degree at build")
    print(head)
    print("-" * len(head))
    for size in (int(float(s)) for s in args.sizes.split(",")):
        r = child(size, args.seed)
        print(
            f"{size:>12,} {r['build_s']:>8.2f} {r['bytes_per_citizen']:>9.1f} "
            f"{r['rewire_s']:>9.2f} {r['neighbour_mean_s']:>10.3f} "
            f"{r['peak_bytes'] / 2**20:>9.0f} {r['mean_degree']:>8.2f} "
            f"{r['demographics_s']:>8.2f}"
        )
        print(
            f"{'':>12} households {r['households']:,}, groups {r['groups']:,}, "
            f"rewire dropped {r['dropped']:,} new {r['new']:,} moved {r['moved']:,}, "
            f"ties removed at build (loops + duplicates) {r['removed_ties']:,}"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
