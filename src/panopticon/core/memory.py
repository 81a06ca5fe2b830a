"""The peak memory a run will need, estimated before it starts (what `check_memory` uses).

A run's peak resident memory is, measured (`benchmarks/scale.py`, docs/scale.md):

    peak = base + n x max(resident + build transient, resident + loop + end of run)

- `base`: the process itself (interpreter, NumPy, Numba and its compiled kernels, Arrow):
  ~320 MiB once a run's kernels are loaded, or what the process holds already if more.
- `resident`: every array the built simulation keeps per citizen, declared state
  (`StateSpec`) or not (alias tables, the social graph, group member lists). It is
  measured, not guessed: the scenario is built at two small sizes (`PROBE_SIZES`) and the
  bytes of every array the modules hold are counted; the slope is the bytes per citizen
  (the population's shared tables, 0.6 MiB whatever the size, fall out of the slope).
- graph transients: the social graph's construction and friends' neighbour means hold
  temporaries beside the graph (`GRAPH_BUILD_PER_STUB` bytes per friendship stub at their
  peak; `GRAPH_REWIRE_PER_STUB` with avoidance rounds, whose rewiring copies rows); the
  population's own draw holds `POPULATION_BUILD_PER_CITIZEN`.
- loop: the day's temporaries (acts, per-citizen masks and scores), `LOOP_PER_CITIZEN`.
- end of run: the people table's new columns (those that are not views of the state),
  measured on the probe, and Parquet's encoding buffers of one row group
  (`PARQUET_ROW_GROUP` rows); none of it when the run leaves the table out
  (``run.people = false``).

Below ~10^6 citizens NumPy's freed temporaries stay in the C heap (they are smaller than
glibc's mmap threshold), so peaks there run up to ~50 B per citizen higher than this
model, inside 15% of the peak because `base` dominates; from 10^7 up they are returned to
the system. When the probe cannot be built (a scenario valid only at its own size) the
resident state falls back to `FALLBACK_PER_CITIZEN` (the old fixed formula's order).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from panopticon.core.engine import Simulation
    from panopticon.scenario.schema import Scenario

LOADED_BYTES = 320 * 2**20
"""Resident bytes of a process with the engine imported and a run's kernels loaded."""

PROBE_SIZES = (8192, 16384)
"""Populations the scenario is built at to measure its resident bytes per citizen."""

GRAPH_BUILD_PER_STUB = 4.5
"""Bytes per friendship stub (entry of the graph's index array) of the graph's transients:
its construction, and friends' neighbour means in the day loop (measured: `documented`
at 10^7, +2%)."""

GRAPH_REWIRE_PER_STUB = 8.0
"""The same with avoidance rounds, whose rewiring copies rows late in a run (measured:
`seed-article` at 3 x 10^6 and 10^7)."""

POPULATION_BUILD_PER_CITIZEN = 0.0
"""Bytes per citizen while the population is built: none. Its data are per block (28 B per
4,096 citizens) and propensities are derived from the id when needed (`core.population`);
the float64 propensities and alias tables it once held (14 B) are gone."""

LOOP_PER_CITIZEN = 1.5
"""Bytes per citizen of the day loop's temporaries (acts, masks), beyond resident state
(measured: 0.6-0.8 B for the minimal model at 10^8, then 1.27 B at 1.4 x 10^9 once the
day's acts became candidates thinned in a second pass: 16,731 MiB peak against a 16,351
MiB estimate with 1.0 here; 1.5 puts that estimate 1.7% above the peak)."""

PARQUET_ROW_GROUP = 1 << 20
"""Rows per Parquet row group (pyarrow's default): its encoding buffers are this bounded."""

PARQUET_BUFFER_FACTOR = 2.0
"""Parquet's buffers for one row group, as a multiple of that row group's table bytes."""

FALLBACK_PER_CITIZEN = 64.0
"""Resident bytes per citizen assumed when the probe cannot be built."""


@dataclass(frozen=True)
class Footprint:
    """Per-citizen bytes of a scenario, measured on small builds of it."""

    resident: float  # every array the simulation holds, per citizen
    stubs: float  # friendship stubs per citizen (graph index entries), 0 without a network
    people_new: float  # people-table bytes per citizen that are not views of the state
    people_row: float  # people-table bytes per row (all columns)
    probed: bool = True
    rewires: bool = False  # avoidance rounds rewire the graph


def _arrays(
    obj: Any, out: dict[int, np.ndarray], depth: int = 0, seen: set[int] | None = None
) -> None:
    """Collect the NumPy arrays reachable from `obj` (attributes, dicts, lists; 3 levels)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 3:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        base = obj
        while isinstance(base.base, np.ndarray):
            base = base.base
        out[id(base)] = base
        return
    if isinstance(obj, dict):
        items: Any = obj.values()
    elif isinstance(obj, (list, tuple)):
        items = obj
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        items = [v for k, v in vars(obj).items() if k != "sim"]
    else:
        return
    for v in items:
        _arrays(v, out, depth + 1, seen)


def held_arrays(sim: Simulation) -> list[np.ndarray]:
    """Every distinct array the simulation's population, modules and capabilities hold."""
    out: dict[int, np.ndarray] = {}
    seen: set[int] = {id(sim)}
    _arrays(sim.population, out, 0, seen)
    for m in sim.modules:
        _arrays(m, out, 0, seen)
    _arrays(sim.capabilities, out, 0, seen)
    return list(out.values())


def _people_bytes(sim: Simulation, arrays: list[np.ndarray]) -> tuple[int, int]:
    """(bytes of the people table's buffers that are new, bytes of the whole table)."""
    table = sim.people()
    spans = sorted(
        (a.__array_interface__["data"][0], a.__array_interface__["data"][0] + a.nbytes)
        for a in arrays
        if a.nbytes
    )
    new = 0
    for column in table.columns:
        for chunk in column.chunks:
            for buf in chunk.buffers():
                if buf is None:
                    continue
                inside = any(lo <= buf.address and buf.address + buf.size <= hi for lo, hi in spans)
                new += 0 if inside else buf.size
    return new, int(table.nbytes)


def _measure(scenario: Scenario, n: int) -> tuple[int, int, int, int]:
    """(resident bytes, graph stubs, new people bytes, people bytes) of a build at `n`."""
    from panopticon.core.engine import Simulation

    sim = Simulation(scenario.override(population=n))
    arrays = held_arrays(sim)
    resident = sum(a.nbytes for a in arrays)
    net = sim.capabilities.get("network")
    stubs = int(net.indices.size) if net is not None and hasattr(net, "indices") else 0
    new, whole = _people_bytes(sim, arrays) if scenario.run.people else (0, 0)
    return resident, stubs, new, whole


def footprint(scenario: Scenario) -> Footprint:
    """Per-citizen bytes of `scenario`, from builds at the two `PROBE_SIZES` (slopes)."""
    (n1, n2) = PROBE_SIZES
    try:
        a, b = _measure(scenario, n1), _measure(scenario, n2)
    except Exception:  # a scenario valid only at its own size: the fixed fallback
        return Footprint(FALLBACK_PER_CITIZEN, 0.0, 8.0, 16.0, probed=False)
    d = n2 - n1
    net = scenario.network
    return Footprint(
        resident=max((b[0] - a[0]) / d, 0.0),
        stubs=max((b[1] - a[1]) / d, 0.0),
        people_new=max((b[2] - a[2]) / d, 0.0),
        people_row=max((b[3] - a[3]) / d, 0.0),
        rewires=bool(net is not None and net.avoidance.enabled),
    )


def current_rss() -> int:
    """Resident bytes of this process now (Linux), else 0."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def peak_bytes(n: int, fp: Footprint, base: int) -> int:
    """The model's peak for `n` citizens of footprint `fp` over a process of `base` bytes."""
    per_stub = GRAPH_REWIRE_PER_STUB if fp.rewires else GRAPH_BUILD_PER_STUB
    build = max(fp.resident + per_stub * fp.stubs, POPULATION_BUILD_PER_CITIZEN)
    rows = min(n, PARQUET_ROW_GROUP)
    end = fp.resident + LOOP_PER_CITIZEN + fp.people_new
    parquet = PARQUET_BUFFER_FACTOR * fp.people_row * rows
    return int(base + max(build * n, end * n + parquet))


def estimate_bytes(scenario: Scenario, fp: Footprint | None = None) -> int:
    """Peak resident memory of a run of `scenario` in this process, before it starts."""
    fp = footprint(scenario) if fp is None else fp
    base = max(current_rss(), LOADED_BYTES)
    return peak_bytes(scenario.population.size, fp, base)
