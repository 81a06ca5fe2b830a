"""Sharded runs (core/shards.py): the run folder's tables are the one-process bytes.

The population is 20,000 x 60 days with p_wrong raised to 0.2, so that many false matches
name citizens of another shard (their records cross the barrier every day). The fast
tests step K shards in this process through the same exchange code as the Ray actors;
the slow ones run them as actors on one local Ray cluster (module-scoped: it takes ~10 s
to start) and kill one mid-run.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

import panopticon as pn
from panopticon.cli import main
from panopticon.core.engine import Simulation
from panopticon.core.shards import BUILDING_HEAD, ShardError, run_sharded, shard_bounds
from panopticon.stages.observe.observe import act_ordinals

TABLES = ("timeseries", "people", "records", "score_histogram")


def scenario() -> pn.Scenario:
    """The minimal model with many false matches (p_wrong 0.2)."""
    return pn.load(
        "minimal",
        sets=["surveillance.faceid.p_wrong=0.2"],
        population=20_000,
        days=60,
        seed=42,
    )


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of each result table's file bytes."""
    return {t: hashlib.sha256((folder / f"{t}.parquet").read_bytes()).hexdigest() for t in TABLES}


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The digests of the one-process run."""
    out = tmp_path_factory.mktemp("one") / "run"
    pn.run(scenario(), out=out)
    return digests(out)


def test_act_ordinals() -> None:
    """An act's ordinal counts its actor's earlier acts, listed in block order or not."""
    rng = np.random.default_rng(1)
    acts = np.sort(rng.integers(0, 50_000, 20_000)).astype(np.int32)
    for listed in (acts, acts[::-1].copy(), rng.permutation(acts)):
        got = act_ordinals(listed)
        seen: dict[int, int] = {}
        want = []
        for i in listed.tolist():
            want.append(seen.get(i, 0))
            seen[i] = seen.get(i, 0) + 1
        assert got.tolist() == want


def test_bounds_fall_on_blocks() -> None:
    """Shards cover every id once, cut on 4,096-id blocks; too many shards is refused."""
    bounds = shard_bounds(20_000, 3)
    assert bounds[0][0] == 0 and bounds[-1][1] == 20_000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert all(lo % 4096 == 0 for lo, _ in bounds)
    with pytest.raises(ShardError, match="allowed 1 to 5"):
        shard_bounds(20_000, 6)


@pytest.mark.parametrize("k", [2, 3])
def test_in_process_shards_same_bytes(k: int, one_process: dict[str, str], tmp_path: Path) -> None:
    """K shards stepped in this process: every table's bytes equal the one-process run's."""
    run = run_sharded(scenario(), k, out=tmp_path / "run", backend="local")
    assert digests(tmp_path / "run") == one_process
    s = run.manifest["shards"]
    assert s["count"] == k and s["messages_per_day"] > 0  # records did cross shards
    assert s["records_routed_per_day"] > 5  # ~20 false matches a day, (k-1)/k of them out


def test_cli_shards_backend_local(one_process: dict[str, str], tmp_path: Path, capsys: Any) -> None:
    """`run --shards 2 --backend local` shards in this process (no Ray) with the same bytes."""
    argv = ["run", "minimal", "--population", "20000", "--days", "60", "--seed", "42", "-q"]
    argv += ["--set", "surveillance.faceid.p_wrong=0.2", "--out", str(tmp_path / "run")]
    assert main([*argv, "--shards", "2", "--backend", "local"]) == 0
    assert digests(tmp_path / "run") == one_process
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["shards"]["backend"] == "local"
    capsys.readouterr()
    bad = [*argv, "--overwrite", "--shards", "2", "--backend", "local", "--address", "x:1"]
    assert main(bad) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: --address: not with --backend local (shards in this process); drop one of them"
    ]


def test_in_process_lost_shard_is_restored(one_process: dict[str, str], tmp_path: Path) -> None:
    """A shard lost on day 25 is rebuilt from its day-20 checkpoint; the bytes are the same."""

    def fault(day: int, shards: Any) -> None:
        if day == 24:
            shards.kill(1)

    run = run_sharded(
        scenario(), 3, out=tmp_path / "run", backend="local", checkpoint_every=10, fault=fault
    )
    assert run.manifest["shards"]["recoveries"] == [{"shard": 1, "day": 25, "from_checkpoint": 20}]
    assert digests(tmp_path / "run") == one_process


def test_grades_and_general_deterrence_shard(tmp_path: Path) -> None:
    """Grade bands (their daily table) and general deterrence (rate multipliers) shard too."""
    sets = [
        "surveillance.faceid.p_wrong=0.2",
        "response.elasticity=0.5",
        "scoring.grades.A=[990, 1001]",
        "scoring.grades.B=[960, 990]",
        "scoring.grades.C=[0, 960]",
    ]
    sc = pn.load("minimal", sets=sets, population=20_000, days=60, seed=42)
    pn.run(sc, out=tmp_path / "one")
    run_sharded(sc, 3, out=tmp_path / "k3", backend="local")
    names = (*TABLES, "grades")
    for name in names:
        one = (tmp_path / "one" / f"{name}.parquet").read_bytes()
        assert (tmp_path / "k3" / f"{name}.parquet").read_bytes() == one, name


PILOT_SETS = [
    "surveillance.faceid.p_wrong=0.2",  # false matches: records cross the barrier daily
    'sanctions.measures.deposit_free_bikes.trigger.grades=["AAA", "AA", "A"]',  # many granted
]


def pilot() -> pn.Scenario:
    """city-pilot, 20,000 x 100 days: delays up to 90 days, appeals decided after 60."""
    return pn.load("city-pilot", sets=PILOT_SETS, population=20_000, days=100, seed=3)


PILOT_TABLES = (*TABLES, "grades")


def pilot_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of each of city-pilot's result tables."""
    return {
        t: hashlib.sha256((folder / f"{t}.parquet").read_bytes()).hexdigest() for t in PILOT_TABLES
    }


@pytest.fixture(scope="module")
def pilot_one(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The digests of city-pilot's one-process run (and that it appealed and granted)."""
    out = tmp_path_factory.mktemp("pilot") / "run"
    run = pn.run(pilot(), out=out)
    totals = run.manifest["totals"]
    assert totals["appeals_won"] > 50 and totals["granted_deposit_free_bikes"] > 1000
    return pilot_digests(out)


def test_city_pilot_shards_same_bytes(pilot_one: dict[str, str], tmp_path: Path) -> None:
    """Delayed channels, appeals and reward measures: K = 2, 3 give the one-process bytes.

    Records wait for their channel's delay and their appeal's decision with the shard of
    the citizen they name; the log merges the shards' parts in the one-process order; the
    measures' Poisson counts are drawn once from the shards' summed trigger counts.
    """
    for k in (2, 3):
        run = run_sharded(pilot(), k, out=tmp_path / f"k{k}", backend="local")
        assert pilot_digests(tmp_path / f"k{k}") == pilot_one, k
        assert run.manifest["shards"]["records_routed_per_day"] > 1


def test_city_pilot_lost_shard_keeps_its_calendars(
    pilot_one: dict[str, str], tmp_path: Path
) -> None:
    """A shard lost on day 45 comes back from day 40 with its delayed and appealed records."""

    def fault(day: int, shards: Any) -> None:
        if day == 44:
            shards.kill(1)

    run = run_sharded(
        pilot(), 2, out=tmp_path / "run", backend="local", checkpoint_every=20, fault=fault
    )
    assert run.manifest["shards"]["recoveries"] == [{"shard": 1, "day": 45, "from_checkpoint": 40}]
    assert pilot_digests(tmp_path / "run") == pilot_one


def test_identify_with_groups_shards(tmp_path: Path) -> None:
    """Same-group false matches and the per-group tables: K = 3 gives the one-process bytes.

    Three groups, p_wrong 0.2, 80% of false matches in the actor's own group: a shard's
    Identify holds the one-process member list and tables; the per-group tables (module
    ``groups``) count each shard's citizens and sum over the shards.
    """
    sets = [
        "surveillance.faceid.p_wrong=0.2",
        "surveillance.faceid.same_group_share=0.8",
        "population.groups={a={share=0.3}, b={share=0.5}, c={share=0.2}}",
    ]
    sc = pn.load("minimal", sets=sets, population=20_000, days=60, seed=42)

    def identify(sim: Simulation) -> Any:
        return next(m for m in sim.plan if m.name == "identify")

    whole, shard = identify(Simulation(sc, 0, 20_000)), identify(Simulation(sc, 8192, 16384))
    assert shard.group.size == 8192 and shard.offset == 8192
    for name in ("members", "member_start", "p_same", "p_other"):
        assert np.array_equal(getattr(shard, name), getattr(whole, name)), name
    pn.run(sc, out=tmp_path / "one")
    run_sharded(sc, 3, out=tmp_path / "k3", backend="local")
    want = round_digests(tmp_path / "one")
    assert {"groups.parquet", "consequences_by_group.parquet"} <= set(want)
    assert round_digests(tmp_path / "k3") == want


def test_lost_shard_without_checkpoints_is_one_line(tmp_path: Path) -> None:
    """Without checkpoints a lost shard cannot be restored: one line saying what to do."""
    with pytest.raises(ShardError, match="rerun with --checkpoint-every D"):
        run_sharded(
            scenario(),
            2,
            out=tmp_path / "run",
            backend="local",
            fault=lambda day, shards: shards.kill(0),
        )


ROUND_SETS = [
    "surveillance.faceid.p_wrong=0.2",
    'sanctions.measures.jobs.kind="employment"',
    'sanctions.measures.jobs.trigger.policy="score"',
    'sanctions.measures.jobs.trigger.grades=["B", "C", "D"]',
    "sanctions.measures.jobs.ages=[22, 55]",
    "sanctions.measures.jobs.apply_share=0.05",
    "sanctions.measures.jobs.capacity_share=0.3",
    "sanctions.measures.jobs.first_day=10",
    "sanctions.measures.jobs.every_days=20",
    'sanctions.measures.flats.kind="housing"',
    'sanctions.measures.flats.trigger.policy="score"',
    'sanctions.measures.flats.trigger.grades=["B", "C", "D"]',
    'sanctions.measures.flats.rule="weighted_lottery"',
    "sanctions.measures.flats.first_day=15",
    "sanctions.measures.flats.every_days=30",
]


def rounds() -> pn.Scenario:
    """city-pilot with two scarce goods (ranked, lottery): national rounds every 20/30 days."""
    return pn.load("city-pilot", sets=ROUND_SETS, population=20_000, days=60, seed=3)


def round_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every table of the run folder (the allocations table included)."""
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in folder.glob("*.parquet")}


def test_scarce_good_rounds_shard_same_bytes(tmp_path: Path) -> None:
    """National rounds: each shard gathers its applicants, the driver ranks them all.

    K = 2 and 3 give the one-process bytes of every table; a shard lost after day 14 is
    rebuilt from its day-10 checkpoint, replays day 10's round from the driver's
    decisions, and day 15's round (the lottery) still gives the same bytes.
    """
    one = tmp_path / "one"
    pn.run(rounds(), out=one)
    rows = pq.read_table(one / "allocations.parquet")
    assert rows.num_rows == 5 and sum(rows.column("excluded").to_pylist()) > 0
    assert min(rows.column("allocated").to_pylist()) > 0
    assert sum(rows.column("lost_wrongly").to_pylist()) > 0  # the ranking matters
    want = round_digests(one)
    assert "allocations.parquet" in want
    for k in (2, 3):
        got = run_sharded(rounds(), k, out=tmp_path / f"k{k}", backend="local")
        assert round_digests(tmp_path / f"k{k}") == want, k
        assert got.manifest["shards"]["messages_per_day"] > 0

    def fault(day: int, shards: Any) -> None:
        if day == 14:
            shards.kill(1)

    lost = run_sharded(
        rounds(), 3, out=tmp_path / "lost", backend="local", checkpoint_every=10, fault=fault
    )
    assert lost.manifest["shards"]["recoveries"] == [{"shard": 1, "day": 15, "from_checkpoint": 10}]
    assert round_digests(tmp_path / "lost") == want


NETWORK_SETS = [
    "surveillance.faceid.p_wrong=0.2",
    "network.friends.mean=10",
    "network.avoidance.enabled=true",
    "network.avoidance.every_days=15",  # rounds on days 14, 29, 44, 59
    'network.avoidance.avoid_grades=["B", "C", "D"]',
]


def test_network_avoidance_shards_same_bytes(tmp_path: Path) -> None:
    """The graph replicated per shard: avoidance rounds and degree snapshots at a barrier.

    city-pilot with a social graph, 20,000 x 60 days, rounds every 15 days: each shard
    builds the whole graph, hands its citizens' scores and grades to the driver on the
    round and snapshot days, and rewires its replica from the whole arrays; K = 2 and 3
    give the one-process bytes (degrees at the end in people, ties dropped in timeseries).
    """
    sc = pn.load("city-pilot", sets=NETWORK_SETS, population=20_000, days=60, seed=3)
    one = pn.run(sc, out=tmp_path / "one")
    assert one.manifest["totals"]["ties_dropped"] > 0
    want = round_digests(tmp_path / "one")
    for k in (2, 3):
        got = run_sharded(sc, k, out=tmp_path / f"k{k}", backend="local")
        assert round_digests(tmp_path / f"k{k}") == want, k
        # 5 national days (0, 14, 29, 44, 59), two messages per shard each, and records
        assert got.manifest["shards"]["messages_per_day"] * 60 >= 5 * 2 * k


ARTICLE_SETS = [
    "network.avoidance.every_days=20",  # avoidance rounds on days 19, 39, 59
    'network.avoidance.avoid_grades=["B", "C", "D"]',
    'sanctions.measures.schools.trigger.grades=["B", "C", "D"]',  # many liable parents
    "sanctions.measures.schools.first_day=20",  # school rounds on days 20 and 40
    "sanctions.measures.schools.every_days=20",
    "response.network_deterrence=0.9",  # records lower their circles' multipliers
]


def article() -> pn.Scenario:
    """seed-article, 20,000 x 60 days: avoidance, joint liability, network deterrence, groups."""
    return pn.load("seed-article", sets=ARTICLE_SETS, population=20_000, days=60, seed=5)


@pytest.fixture(scope="module")
def article_one(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The digests of seed-article's one-process run, having checked that all of it fired."""
    out = tmp_path_factory.mktemp("article") / "run"
    run = pn.run(article(), out=out)
    totals = run.manifest["totals"]
    assert totals["ties_dropped"] > 1000 and totals["excluded_collateral_schools"] > 10
    rows = pq.read_table(out / "consequences_by_group.parquet").to_pandas()
    assert rows.loc[rows.measure == "schools", "collateral"].sum() > 1000
    return round_digests(out)


def test_seed_article_shards_same_bytes(article_one: dict[str, str], tmp_path: Path) -> None:
    """The social graph, joint liability, network deterrence, per-group tables: same bytes.

    Households straddle the shards (formed per region over shuffled ids), so a child's
    exclusion from a school round and the collateral counts of the per-group tables need
    the other shards' members: the catalog's barrier hands each shard their households.
    A record lowers the multipliers of its target's household and friends wherever they
    live: Adapt's daily barrier hands every shard the day's targets. K = 2 and 3.
    """
    graph = Simulation(article(), 0, 8192).need("network")
    assert graph.size == 20_000  # a shard holds the whole graph
    token = BUILDING_HEAD.set(True)
    try:  # the driver's head copy, which never steps, only its block's
        assert Simulation(article(), 0, 4096).need("network").size == 4096
    finally:
        BUILDING_HEAD.reset(token)
    crossing = np.intersect1d(graph.household[:8192], graph.household[8192:])
    assert crossing.size > 500
    for k in (2, 3):
        got = run_sharded(article(), k, out=tmp_path / f"k{k}", backend="local")
        assert round_digests(tmp_path / f"k{k}") == article_one, k
        s = got.manifest["shards"]
        # national days: adapt every day; network 0, 19, 29, 39, 59; measures 20, 29, 40, 59
        assert s["messages_per_day"] * 60 >= (60 + 9) * 2 * k and s["bytes_per_day"] > 0


def test_seed_article_lost_shard_is_restored(article_one: dict[str, str], tmp_path: Path) -> None:
    """A shard lost on day 25 comes back from day 20 (its whole graph with it): same bytes."""

    def fault(day: int, shards: Any) -> None:
        if day == 24:
            shards.kill(1)

    run = run_sharded(
        article(), 3, out=tmp_path / "run", backend="local", checkpoint_every=10, fault=fault
    )
    assert run.manifest["shards"]["recoveries"] == [{"shard": 1, "day": 25, "from_checkpoint": 20}]
    assert round_digests(tmp_path / "run") == article_one


def test_seed_article_shard_lost_between_barriers(
    article_one: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shard lost between two of a day's barriers is replayed through the first: same bytes.

    Day 59 has three national barriers (measures, adapt, network); shard 1 is lost just
    before the second `resume`. It is rebuilt from its day-40 checkpoint, replays days
    40-58 with the driver's records and decisions, then day 59 up to the barrier it was
    lost at.
    """
    from panopticon.core.shards import LocalShards

    original = LocalShards.call
    resumes = []

    def call(self: LocalShards, method: str, args: Any = None) -> list[Any]:
        first = self.workers[0]
        if method == "resume" and first is not None and first.sim.day == 59:
            resumes.append(1)
            if len(resumes) == 2:
                self.kill(1)
        return original(self, method, args)

    monkeypatch.setattr(LocalShards, "call", call)
    run = run_sharded(article(), 3, out=tmp_path / "run", backend="local", checkpoint_every=20)
    assert run.manifest["shards"]["recoveries"] == [{"shard": 1, "day": 59, "from_checkpoint": 40}]
    assert len(resumes) == 3
    assert round_digests(tmp_path / "run") == article_one


def test_joint_liability_in_a_shard_needs_the_barrier() -> None:
    """A shard's collateral reach without today's national households raises, never guesses."""
    sim = Simulation(article(), 8192, 20_000)
    liability = sim.measures.kinds["schools"].liability
    with pytest.raises(RuntimeError, match="national barrier did not run today"):
        liability.collateral(0)


def test_graph_replicas_that_do_not_fit_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """K shards on one machine each hold the whole graph: refused when K copies do not fit."""
    import panopticon.core.shards as shards

    monkeypatch.setattr(shards, "available_bytes", lambda: 2**29)
    with pytest.raises(ShardError, match="each hold the whole social graph of 20,000"):
        run_sharded(article(), 3, out=tmp_path / "run", backend="local")
    assert not (tmp_path / "run").exists()


def test_scale_circle_range_matches_the_whole_population() -> None:
    """A shard's circle scaling equals `Network.scale_circle` on everyone, read at the shard."""
    from panopticon.stages.society.circle import scale_circle_range

    graph = Simulation(article(), 0, 20_000).need("network")
    rng = np.random.default_rng(2)
    targets = rng.integers(0, 20_000, 3000)  # repeats included: once per record
    start = rng.uniform(0.5, 1.0, 20_000).astype(np.float32)
    whole = start.copy()
    graph.scale_circle(targets, whole, 0.9, 0.6)
    for lo, hi in ((0, 8192), (8192, 12288), (12288, 20_000)):
        part = start[lo:hi].copy()
        scale_circle_range(graph, rng.permutation(targets), part, lo, 0.9, 0.6)
        assert np.array_equal(part, whole[lo:hi]), (lo, hi)
    with pytest.raises(ValueError, match="citizen ids"):
        scale_circle_range(graph, np.array([20_000]), start[:10], 0, 0.9, 0.6)


def test_unshardable_scenario_is_refused(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scenario with modules not shardable yet: exit 2, one line naming them.

    Every registered module shards today, so two of `documented`'s are marked as not.
    """
    from panopticon.stages.score.factors import FactorsScore
    from panopticon.stages.score.lists import Listing

    monkeypatch.setattr(FactorsScore, "shards", False)
    monkeypatch.setattr(Listing, "shards", False)
    argv = ["run", "documented", "--population", "20000", "--days", "5", "-q"]
    assert main([*argv, "--shards", "2", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: --shards: modules 'FactorsScore', 'Listing' cannot")
    assert "cannot be sharded yet (shardable: " in err[0]
    assert "network" in err[0] and "court" in err[0] and "adapt" in err[0]


def test_too_many_shards_is_one_line(tmp_path: Path, capsys: Any) -> None:
    """More shards than blocks: exit 2 naming the allowed range."""
    argv = ["run", "minimal", "--population", "5000", "--days", "5", "-q"]
    assert main([*argv, "--shards", "3", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: --shards: 3 for 5,000 citizens; allowed 1 to 2 (one shard holds "
        "at least one block of 4,096 ids)"
    ]


# -- on Ray -------------------------------------------------------------------------------


def _ray() -> Any:
    """The ray module; skip without it (fail under CI, which installs it)."""
    if os.environ.get("CI"):
        import ray
    else:
        ray = pytest.importorskip("ray")
    return ray


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """One local Ray cluster of 2 CPUs for the module's Ray tests."""
    ray = _ray()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.slow
@pytest.mark.parametrize("k", [2, 3])
def test_ray_shards_same_bytes(
    k: int, cluster: Any, one_process: dict[str, str], tmp_path: Path
) -> None:
    """K Ray actors: the same table bytes as one process; costs measured per shard."""
    run = run_sharded(scenario(), k, out=tmp_path / "run")
    assert digests(tmp_path / "run") == one_process
    s = run.manifest["shards"]
    assert s["backend"] == "ray" and len(s["peak_rss_bytes"]) == k
    assert all(b > 50 * 2**20 for b in s["peak_rss_bytes"])  # actors' own processes
    assert s["messages_per_day"] > 0 and 0.0 <= s["exchange_share"] < 1.0


@pytest.mark.slow
def test_ray_city_pilot_same_bytes(cluster: Any, pilot_one: dict[str, str], tmp_path: Path) -> None:
    """city-pilot on 2 and 3 Ray actors: the one-process bytes."""
    for k in (2, 3):
        run_sharded(pilot(), k, out=tmp_path / f"k{k}")
        assert pilot_digests(tmp_path / f"k{k}") == pilot_one, k


@pytest.mark.slow
def test_ray_killed_actor_is_restored(
    cluster: Any, one_process: dict[str, str], tmp_path: Path
) -> None:
    """`ray.kill` of one actor on day 25: rebuilt from its checkpoint, the same bytes."""

    def fault(day: int, shards: Any) -> None:
        if day == 24:
            cluster.kill(shards.workers[1])

    run = run_sharded(scenario(), 2, out=tmp_path / "run", checkpoint_every=10, fault=fault)
    assert run.manifest["shards"]["recoveries"] == [{"shard": 1, "day": 25, "from_checkpoint": 20}]
    assert digests(tmp_path / "run") == one_process


@pytest.mark.slow
def test_ray_seed_article_same_bytes(
    cluster: Any, article_one: dict[str, str], tmp_path: Path
) -> None:
    """seed-article on 2 Ray actors (graph replicas, liability, network deterrence): same bytes."""
    run = run_sharded(article(), 2, out=tmp_path / "k2")
    assert round_digests(tmp_path / "k2") == article_one
    barriers = run.manifest["shards"]["barriers"]
    assert {"network", "measures", "adapt"} <= set(barriers)
    assert barriers["adapt"]["days"] == 60 and barriers["network"]["bytes"] > 0


# -- documented: the factors score, the red-list, the court list ----------------------------

DOCUMENTED_SETS = [
    "sanctions.court.cases_per_year=0.05",  # ~2 cases a day at 20,000
    "sanctions.court.listing_per_year=2.0",  # listed from the start (not from 0 in 2013)
    "sanctions.court.duration_days=120",  # listings expire within the run
    "sanctions.court.compliance_per_year=0.5",
    "sanctions.court.initial_defaulting=0.01",
    "scoring.lists.redlist.exit_per_day=0.01",  # early exits: draws keyed by citizen
]


def documented() -> pn.Scenario:
    """documented, 20,000 x 300 days: Sesame recomputed 10 times, the court list busy."""
    return pn.load("documented", sets=DOCUMENTED_SETS, population=20_000, days=300, seed=7)


@pytest.fixture(scope="module")
def documented_one(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The digests of documented's one-process run, having checked that all of it fired."""
    out = tmp_path_factory.mktemp("documented") / "run"
    t = pn.run(documented(), out=out).manifest["totals"]
    assert t["court_listings"] > 100 and t["court_complied"] > 10 and t["court_expired"] > 10
    assert t["court_cases"] > 300 and t["court_paid_unlisted"] > 10
    assert t["blocked_flight_ban"] > 10 and t["escaped_flight_ban"] > 0  # cohort rates
    assert t["entries_redlist"] > 50 and t["granted_redlist_green_channel"] > 10
    assert t["listed_redlist"] < t["entries_redlist"] - 20  # early exits (listings last 365)
    means = pq.read_table(out / "timeseries.parquet").column("mean_sesame").to_numpy()
    assert np.unique(means).size >= 10  # recomputed every 30 days, friends' scores in it
    return round_digests(out)


def test_documented_shards_same_bytes(documented_one: dict[str, str], tmp_path: Path) -> None:
    """Sesame (traits, friends' scores), the red-list and the court list: K = 2, 3 same bytes.

    Sesame's recomputation days are national barriers (friends live in other shards);
    the trait dimensions rank everyone's propensity; the court's daily case picks are
    drawn from population streams and kept by their owner; the flight ban's cohort rate
    reads the national members by listing day, summed on the driver.
    """
    for k in (2, 3):
        got = run_sharded(documented(), k, out=tmp_path / f"k{k}", backend="local")
        assert round_digests(tmp_path / f"k{k}") == documented_one, k
        sesame = got.manifest["shards"]["barriers"]["sesame"]
        assert sesame["days"] == 10 and sesame["messages"] == 10 * 2 * k
        assert sesame["bytes_per_barrier"] == 4 * 20_000 * k  # uint16 scores, both ways


def test_documented_lost_shard_is_restored(documented_one: dict[str, str], tmp_path: Path) -> None:
    """A shard lost on day 125 comes back from day 100 through day 119's barrier: same bytes."""

    def fault(day: int, shards: Any) -> None:
        if day == 124:
            shards.kill(1)

    run = run_sharded(
        documented(), 3, out=tmp_path / "run", backend="local", checkpoint_every=50, fault=fault
    )
    assert run.manifest["shards"]["recoveries"] == [
        {"shard": 1, "day": 125, "from_checkpoint": 100}
    ]
    assert round_digests(tmp_path / "run") == documented_one


def test_factors_traits_in_a_shard_are_the_whole_rows() -> None:
    """A shard's trait values and starting scores are its rows of the one-process ones."""
    whole = Simulation(documented(), 0, 20_000).sesame
    part = Simulation(documented(), 8192, 16384).sesame
    assert part.trait.shape == (2, 8192)
    assert np.array_equal(part.trait, whole.trait[:, 8192:16384])
    assert np.array_equal(part.score, whole.score[8192:16384])


def test_friends_means_rows_match_the_whole_population() -> None:
    """A shard's friends' means equal `Network.neighbour_means` of everyone, at its rows.

    Checked too against the obvious mean of `friends_of(i)` for a few citizens.
    """
    from panopticon.stages.score.factors import friends_means_rows

    graph = Simulation(documented(), 0, 20_000).need("network")
    rng = np.random.default_rng(3)
    a = rng.integers(350, 951, 20_000).astype(np.uint16)
    b = rng.integers(350, 951, 20_000).astype(np.uint16)
    whole_a, whole_b = graph.neighbour_means(a, b)
    for lo, hi in ((0, 8192), (8192, 12288), (12288, 20_000)):
        got_a, got_b = friends_means_rows(graph, a, b, lo, hi - lo)
        np.testing.assert_array_equal(got_a, whole_a[lo:hi])
        np.testing.assert_array_equal(got_b, whole_b[lo:hi])
    for i in rng.integers(0, 20_000, 50):
        f = graph.friends_of(int(i))
        want = a[f].astype(np.float64).mean() if f.size else np.nan
        np.testing.assert_allclose(whole_a[i], want, rtol=1e-12)
    with pytest.raises(ValueError, match="citizen ids"):
        friends_means_rows(graph, a, b, 12288, 8192)


@pytest.mark.slow
def test_ray_documented_same_bytes(
    cluster: Any, documented_one: dict[str, str], tmp_path: Path
) -> None:
    """documented on 2 Ray actors (Sesame's barrier, court cohorts summed): same bytes."""
    run = run_sharded(documented(), 2, out=tmp_path / "k2")
    assert round_digests(tmp_path / "k2") == documented_one
    assert run.manifest["shards"]["barriers"]["sesame"]["days"] == 10
