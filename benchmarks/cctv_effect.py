"""Measure: what the cameras alone do to violations, by place, beside the CCTV literature.

Runs a scenario twice per seed, cameras on and `surveillance.camera.enabled = false`
(every other channel still records, as in the CCTV evaluations, where police, courts and
informants work in both areas), over `--days` days, and prints per place the change in
camera-visible violations committed (behaviours with the camera among their channels),
watched against unwatched, with a 95% interval over the paired seeds (common random
numbers: the same seed gives the same population and draws). Welsh & Farrington (2009):
-23% on public transport, -7% in city centres (calibration.md section 8); Philadelphia
(Ratcliffe et al. 2008): -13%.

    python3 benchmarks/cctv_effect.py seed-article --population 100000 --replicates 3
    python3 benchmarks/cctv_effect.py seed-article --set response.elasticity=0.2
"""

from __future__ import annotations

import argparse
import math
from statistics import mean, stdev

from scipy import stats

PUBLISHED = {"transport": -23.0, "street": -7.0}
"""Welsh & Farrington (2009): public transport and city centres (streets, here)."""


def committed_by_place(scenario: object) -> dict[str, float]:
    """Run in memory; camera-visible violations committed per place (sum over the run)."""
    from panopticon.core.engine import Simulation

    sim = Simulation(scenario)  # type: ignore[arg-type]
    for _ in range(scenario.run.days):  # type: ignore[attr-defined]
        sim.step()
    totals = sim.totals()
    out: dict[str, float] = {}
    for name, beh in scenario.behaviors.items():  # type: ignore[attr-defined]
        if beh.valence != "negative" or beh.lawful or "camera" not in beh.channels:
            continue
        out[beh.place] = out.get(beh.place, 0.0) + totals[f"committed_{name}"]
    return out


def main() -> None:
    """Paired watched/unwatched runs per seed; the change per place with its interval."""
    import panopticon as pn

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("--population", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--replicates", type=int, default=3)
    ap.add_argument("--set", dest="sets", action="append", default=[])
    a = ap.parse_args()
    changes: dict[str, list[float]] = {}
    for r in range(a.replicates):
        base = pn.load(a.scenario, a.sets, population=a.population, days=a.days)
        base = base.override(seed=base.run.seed + r)
        on = committed_by_place(base)
        off = committed_by_place(base.override({"surveillance.camera.enabled": False}))
        for place, n in on.items():
            changes.setdefault(place, []).append(100.0 * (n / off[place] - 1.0))
    print(f"{a.scenario} {a.population:,} x {a.days} days, {a.replicates} seeds, sets {a.sets}")
    print(f"{'place':<12} {'change %':>9} {'95% interval':>18} {'published %':>12}")
    for place, xs in sorted(changes.items()):
        m = mean(xs)
        half = (
            stats.t.ppf(0.975, len(xs) - 1) * stdev(xs) / math.sqrt(len(xs))
            if len(xs) > 1
            else float("nan")
        )
        pub = PUBLISHED.get(place)
        print(
            f"{place:<12} {m:>9.1f} {f'[{m - half:.1f}, {m + half:.1f}]':>18} "
            f"{'' if pub is None else f'{pub:.0f}':>12}"
        )


if __name__ == "__main__":
    main()
