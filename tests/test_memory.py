"""The memory estimate's arithmetic on declared state (the measured comparison is a benchmark:
benchmarks/scale.py, docs/scale.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import panopticon as pn
from panopticon.core import engine, memory


def test_footprint_counts_declared_state_and_people_views() -> None:
    """The minimal model holds exactly its declared state; people shares it but id and bool."""
    sc = pn.load("minimal", population=10_000, days=5)
    fp = memory.footprint(sc)
    sim = engine.Simulation(sc)
    assert fp.probed
    # deterrence level 1, score 2 + 2, counters 2 + 2 + 2, window 1, status 1 (no per-citizen
    # population table: propensities are derived from the id; 28 B per block of 4,096)
    assert fp.resident == pytest.approx(sim.state_bytes() / sc.population.size, abs=0.01)
    assert fp.resident == pytest.approx(13.0, abs=0.01)
    assert fp.stubs == 0.0
    # new in the people table: id (int32) and sanctioned (bit-packed bool); the rest are views
    assert fp.people_new == pytest.approx(4.0 + 1.0 / 8, abs=0.01)
    assert fp.people_row == pytest.approx(14.125, abs=0.01)


def test_footprint_counts_undeclared_arrays_and_graph() -> None:
    """The social graph and the group member lists are counted though not declared state."""
    sc = pn.load("seed-article", population=10_000, days=5)
    fp = memory.footprint(sc)
    sim = engine.Simulation(sc)
    n = sc.population.size
    graph = sim.capabilities["network"]
    declared = sim.state_bytes() / n
    assert fp.resident >= declared + graph.nbytes() / n - 1.0
    assert fp.resident <= declared + graph.nbytes() / n + 16.0  # members, degrees
    assert 8.0 < fp.stubs < 16.0  # friendship stubs per citizen (mean degree 10, pool)
    assert fp.rewires  # seed-article's avoidance rounds


def test_peak_arithmetic() -> None:
    """Peak = base + n x max(build, end) with Parquet's buffers bounded by one row group."""
    fp = memory.Footprint(resident=20.0, stubs=10.0, people_new=4.0, people_row=16.0)
    base = 300 * 2**20
    n = 10**8
    build = (20.0 + memory.GRAPH_BUILD_PER_STUB * 10.0) * n
    rewiring = memory.Footprint(20.0, 10.0, 4.0, 16.0, rewires=True)
    assert memory.peak_bytes(n, rewiring, base) == int(
        base + (20.0 + memory.GRAPH_REWIRE_PER_STUB * 10.0) * n
    )
    end = (20.0 + memory.LOOP_PER_CITIZEN + 4.0) * n
    end += memory.PARQUET_BUFFER_FACTOR * 16.0 * memory.PARQUET_ROW_GROUP
    assert memory.peak_bytes(n, fp, base) == int(base + max(build, end))
    tiny = memory.Footprint(resident=6.0, stubs=0.0, people_new=0.0, people_row=0.0)
    expected = max(memory.POPULATION_BUILD_PER_CITIZEN, 6.0 + memory.LOOP_PER_CITIZEN)
    assert memory.peak_bytes(n, tiny, base) == int(base + expected * n)
    no_graph = memory.Footprint(resident=20.0, stubs=0.0, people_new=4.0, people_row=16.0)
    small = memory.peak_bytes(1000, no_graph, base)
    per = 20.0 + memory.LOOP_PER_CITIZEN + 4.0
    assert small == int(base + (per * 1000 + memory.PARQUET_BUFFER_FACTOR * 16.0 * 1000))
    # the estimate grows linearly with the population beyond one row group
    a, b = (memory.peak_bytes(k * 10**7, no_graph, base) for k in (1, 2))
    assert b - a == pytest.approx(per * 10**7, rel=1e-6)


def test_estimate_is_at_least_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process already larger than the loaded floor is its own base."""
    sc = pn.load("minimal", population=1000, days=5)
    fp = memory.Footprint(resident=22.0, stubs=0.0, people_new=4.0, people_row=14.0)
    monkeypatch.setattr(memory, "current_rss", lambda: 2 * memory.LOADED_BYTES)
    assert memory.estimate_bytes(sc, fp) >= 2 * memory.LOADED_BYTES
    monkeypatch.setattr(memory, "current_rss", lambda: 0)
    assert memory.estimate_bytes(sc, fp) >= memory.LOADED_BYTES


def test_check_memory_refuses_and_accepts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A run that would not fit is refused with its estimate; one that fits is not probed."""
    probed: list[int] = []
    real = memory.footprint

    def spy(scenario: pn.Scenario) -> memory.Footprint:
        probed.append(scenario.population.size)
        return real(scenario)

    monkeypatch.setattr(memory, "footprint", spy)
    sc = pn.load("minimal", population=10**8, days=5)
    monkeypatch.setattr(engine, "available_bytes", lambda: 2 * 2**30)
    refusal = r"population\.size: 100,000,000 needs about \d+\.\d GiB but 2\.0 GiB"
    with pytest.raises(pn.RunError, match=refusal):
        engine.check_memory(sc)
    assert probed == [10**8]
    monkeypatch.setattr(engine, "available_bytes", lambda: 4 * 2**30)
    engine.check_memory(sc)  # 10^8 minimal citizens fit in 4 GiB (measured peak 3.0 GiB)
    probed.clear()
    engine.check_memory(pn.load("minimal", population=10_000, days=5))
    assert probed == []  # small: accepted without building the probes
    assert np.isfinite(engine.estimate_bytes(sc))


def test_deterrence_levels_replace_the_float_multiplier(monkeypatch: pytest.MonkeyPatch) -> None:
    """The minimal model keeps a 1-byte level, not a float32: the same bytes, 3 B less."""
    from panopticon.stages.behave import behave

    table = behave.deterrence_levels(pn.load("minimal"))
    assert table is not None and table.dtype == np.float32
    d, expected = np.float32(1.0), [np.float32(1.0)]
    while max(np.float32(0.2), np.float32(d * np.float32(0.8))) != d:
        d = max(np.float32(0.2), np.float32(d * np.float32(0.8)))
        expected.append(d)
    assert table.tolist() == [float(x) for x in expected] and table[-1] == np.float32(0.2)
    # fading, a dated factor, network deterrence or too many steps keep the float32
    for sets in (
        ["response.half_life_days=90"],
        ["response.deterrence=0.999", "response.deterrence_floor=0.0"],
    ):
        assert behave.deterrence_levels(pn.load("minimal", sets)) is None, sets
    assert behave.deterrence_levels(pn.load("seed-article")) is None

    def run(levels: bool) -> tuple[engine.Simulation, list[int]]:
        if not levels:
            monkeypatch.setattr(behave, "deterrence_levels", lambda scenario: None)
        sim = engine.Simulation(pn.load("minimal", population=5000, days=120))
        counts = [int(sim.step().actors.size) for _ in range(120)]
        monkeypatch.undo()
        return sim, counts

    lv, lv_counts = run(True)
    fl, fl_counts = run(False)
    assert lv.behave.deterrence.dtype == np.uint8 and fl.behave.deterrence.dtype == np.float32
    assert lv_counts == fl_counts and sum(lv_counts) > 1000
    assert np.array_equal(table[lv.behave.deterrence], fl.behave.deterrence)
    assert (lv.behave.deterrence > 0).sum() > 100  # deterrence did act
    assert lv.people().equals(fl.people())
    assert (fl.state_bytes() - lv.state_bytes()) == 3 * 5000
