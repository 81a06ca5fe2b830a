"""The minimal model at national scale: propensities derived per id, no per-citizen tables.

What makes 1.4 x 10^9 citizens fit on one machine (docs/scale.md): the population holds
only per-block data (propensities are derived from the id), the people table and the
state only it needs are optional, and the memory estimate knows both. Every statistical
check's tolerance is Z standard errors of the quantity compared.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import panopticon as pn
from panopticon.core import memory
from panopticon.core import population as pm
from panopticon.core.engine import Simulation
from panopticon.scenario.schema import Population as PopulationParams
from panopticon.stages.behave.behave import _behave_kernel, kind_alias

Z = 5.0  # standard errors: a false alarm is a ~1e-6 event per check


def test_propensity_is_a_function_of_the_seed_and_id_only() -> None:
    """Any range, and any population size, gives a citizen the same propensity."""
    big = PopulationParams(size=3 * pm.BLOCK + 77)
    whole = pm.draw_propensity(big, 9, 0, big.size)
    np.testing.assert_array_equal(pm.draw_propensity(big, 9, 5000, 9000), whole[5000:9000])
    small = PopulationParams(size=5000)  # its last block is partial
    np.testing.assert_array_equal(pm.draw_propensity(small, 9, 0, 5000), whole[:5000])
    assert not np.array_equal(pm.draw_propensity(big, 10, 0, big.size), whole)
    # the per-block data agree with the derived values: the top rank's propensity and id
    pop = pm.build(big, 9)
    for b in range(pop.n_blocks):
        i = b * pm.BLOCK + int(pop.top_j[b])
        if i < big.size:
            assert pop.top_g[b] == whole[i]
        else:  # an empty slot of the partial block: no candidates for it
            assert pop.top_g[b] == 0.0


def test_ranks_stratify_each_block() -> None:
    """Within a block every rank holds one citizen, whose value lies in its stratum."""
    params = PopulationParams(size=2 * pm.BLOCK)
    g = pm.draw_propensity(params, 3, 0, params.size)
    table = pm.quantile_table(params.propensity.shape)
    step = pm.KNOTS // pm.BLOCK
    for b in range(2):
        block = np.sort(g[b * pm.BLOCK : (b + 1) * pm.BLOCK])
        lower = table[np.arange(pm.BLOCK) * step]  # Q(r / 4096)
        upper = np.append(table[np.arange(1, pm.BLOCK) * step], np.inf)
        assert ((block >= lower) & (block <= upper)).all()


@pytest.mark.parametrize("shape", [0.5, 2.0])
def test_propensity_is_gamma_with_mean_one(shape: float) -> None:
    """Bin shares, mean and variance against Gamma(shape, mean 1), within sampling error.

    The shares of 12 equal-probability bins are binomial at most (stratification only
    lowers their variance), so |share - 1/12| <= Z sqrt(p (1 - p) / n); so are the
    moments, with the Gamma's own variances (var of the mean 1/(k n), of g^2 from the
    fourth moment).
    """
    n = 1 << 20
    params = PopulationParams(size=n, propensity={"shape": shape})
    g = pm.draw_propensity(params, 1, 0, n)
    dist = stats.gamma(shape, scale=1.0 / shape)
    edges = dist.ppf(np.linspace(0.0, 1.0, 13))
    shares = np.histogram(g, bins=edges)[0] / n
    p = 1.0 / 12.0
    assert np.abs(shares - p).max() <= Z * math.sqrt(p * (1 - p) / n)
    assert abs(g.mean() - 1.0) <= Z * math.sqrt(1.0 / shape / n)
    m2, m4 = dist.moment(2), dist.moment(4)
    assert abs((g**2).mean() - m2) <= Z * math.sqrt((m4 - m2**2) / n)
    assert g.min() >= 0.0 and np.isfinite(g).all()


def test_minimal_path_acts_follow_the_propensities() -> None:
    """The minimal model's kernel: acts of a citizen group over D days are Poisson with
    mean D x rate x sum(d_i g_i) (the derived g_i), in full and partial blocks alike."""
    n, days, rate, seed = 2 * pm.BLOCK + 1000, 40, 0.3, 4
    pop = pm.build(PopulationParams(size=n), seed)
    g = pm.draw_propensity(PopulationParams(size=n), seed, 0, n)
    levels = np.array([1.0, 0.8, 0.5], dtype=np.float32)
    level = (np.arange(n) % 3).astype(np.uint8)
    one, kinds = np.ones(1), kind_alias(np.ones(1))
    counts = np.zeros(n, dtype=np.int64)
    for day in range(days):
        actor, _ = _behave_kernel(
            seed,
            day,
            level,
            n,
            pop.top_g,
            pop.top_j,
            pop.perm_key,
            pop.v_key,
            pop.strata_prob,
            pop.strata_alias,
            pop.strata_env,
            pop.strata_low,
            pop.strata_total,
            pop.table,
            rate,
            kinds,
            0.0,
            kinds,
            np.zeros(1, dtype=np.bool_),
            one,
            one,
            np.empty(0, dtype=np.uint8),
            np.zeros(1, dtype=np.uint8),
            np.full(1, 120, dtype=np.uint8),
            True,
            levels,
        )
        np.add.at(counts, actor, 1)
    lam = days * rate * g * levels[level]
    top = g >= np.quantile(g, 0.9)
    groups = [np.arange(n) < 2 * pm.BLOCK, np.arange(n) >= 2 * pm.BLOCK, top, ~top]
    groups += [level == k for k in range(3)]
    for part in groups:
        mean, got = lam[part].sum(), counts[part].sum()
        assert abs(got - mean) <= Z * math.sqrt(mean), (got, mean)


def test_run_without_the_people_table(tmp_path: Path) -> None:
    """run.people = false: no people.parquet, no acts-per-citizen state, same daily results."""
    sc = pn.load("minimal", population=5000, days=40, seed=3)
    with_people = pn.run(sc, out=tmp_path / "a")
    without = pn.run(
        pn.load("minimal", ["run.people=false"], population=5000, days=40, seed=3),
        out=tmp_path / "b",
    )
    assert (tmp_path / "a" / "people.parquet").exists()
    assert not (tmp_path / "b" / "people.parquet").exists()
    assert without.timeseries.equals(with_people.timeseries)
    assert without.manifest["outputs"]["people"] == {}
    # committed (2 B, uint16) is the state only the people table needs
    full, lean = (r.manifest["state_bytes_per_citizen"] for r in (with_people, without))
    assert full - lean == pytest.approx(2.0, abs=0.01)


def test_resident_state_and_estimate_of_the_national_run() -> None:
    """11 B per citizen without the people table, 13 B with it; 1.4 x 10^9 fits in 22 GiB."""
    lean = pn.load("minimal", ["run.people=false"], population=10_000, days=5)
    full = pn.load("minimal", population=10_000, days=5)
    fp_lean, fp_full = memory.footprint(lean), memory.footprint(full)
    assert fp_lean.resident == pytest.approx(11.0, abs=0.01)
    assert fp_full.resident == pytest.approx(13.0, abs=0.01)
    assert fp_lean.people_new == 0.0 and fp_lean.people_row == 0.0
    nation = 1_400_000_000
    peak = memory.peak_bytes(nation, fp_lean, memory.LOADED_BYTES)
    assert peak < 22 * 2**30
    assert memory.peak_bytes(nation, fp_full, memory.LOADED_BYTES) > peak
    # the population's own arrays are per block: 28 B per 4,096 citizens
    sim = Simulation(lean)
    assert sim.population.nbytes() == 28 * sim.population.n_blocks
