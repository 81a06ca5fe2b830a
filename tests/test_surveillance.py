"""Cameras, channels and face identification inside the engine (issue 3)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import panopticon as pn
from panopticon.cli import main
from panopticon.core.module import DayContext
from panopticon.core.records import WRONG
from panopticon.stages.identify import faceid
from panopticon.stages.identify.identify import faceid_model, rate_table
from panopticon.stages.observe.observe import camera_chance, cameras_on, region_density

Z = 5.0
UNWATCHED = [
    "surveillance.camera.enabled=false",
    *(
        f"surveillance.channels.{c}.enabled=false"
        for c in ("transaction", "court", "online", "informant", "registry")
    ),
]

SCORES = [
    'surveillance.faceid={mode="scores", gallery=1.3e9, groups={women={fmr_multiplier=3.0}}}',
    "population.groups={men={share=0.51}, women={share=0.49}}",
    "population.regions={east={share=0.4, camera_density=2.0}, west={share=0.6, "
    "camera_density=0.5}}",
    'surveillance.camera.model="rollout"',
    'surveillance.camera.rollout={"2018-01-01"=2.0e8, "2020-01-01"=6.26e8}',
    "surveillance.camera.quality={surveillance=0.8, cooperative=0.2}",
]


def test_rollout_interpolates_and_is_flat_outside() -> None:
    sc = pn.load("minimal", SCORES)
    cam = sc.surveillance.camera
    start = sc.run.start  # 2018-01-01: the rollout reads its dates against run.start_date
    assert cameras_on(cam, 0, start) == pytest.approx(2.0e8)
    assert cameras_on(cam, 730, start) == pytest.approx(6.26e8)  # 2020-01-01 is day 730
    assert cameras_on(cam, 365, start) == pytest.approx(2.0e8 + 4.26e8 * 365 / 730)
    assert cameras_on(cam, 5000, start) == pytest.approx(6.26e8)
    dens = region_density(sc)
    assert float((dens * np.array([0.4, 0.6])).sum()) == pytest.approx(1.0)


def test_camera_chance_by_place_and_region() -> None:
    sc = pn.load("city-pilot", SCORES)
    chance = camera_chance(sc, 0)
    places = [b.place for b in sc.behaviors.values()]
    per_person = 2.0e8 / 1.4e9
    dens = region_density(sc)
    for k, place in enumerate(places):
        if place in ("home", "online", "financial", "court"):
            assert (chance[k] == 0).all(), place
        else:
            sens = sc.surveillance.camera.sensitivity[place]
            assert chance[k] == pytest.approx(1 - np.exp(-sens * per_person * dens))
    assert chance[places.index("street"), 0] > chance[places.index("street"), 1]


def test_scores_mode_runs_end_to_end_with_groups(tmp_path: Path) -> None:
    sc = pn.load("minimal", SCORES, population=200_000, days=40, seed=2)
    run = pn.run(sc, out=tmp_path / "s")
    people = run.people
    assert {"group", "region"} <= set(people.columns)
    groups = pl.read_parquet(run.path / "groups.parquet")
    assert set(groups["group"].unique()) == {"men", "women"}
    ts = run.timeseries
    assert groups["wrongful_against"].sum() == ts["attributed_wrong"].sum()
    assert (
        groups["records_against"].sum()
        == ts["attributed_correct"].sum() + ts["attributed_wrong"].sum()
    )
    # group shares as drawn
    share = (people["group"] == "women").mean()
    assert abs(share - 0.49) < Z * math.sqrt(0.49 * 0.51 / people.height)


def test_identification_rates_match_the_faceid_model() -> None:
    """Miss shares per group agree with faceid's analytic rates (binomial error)."""
    sc = pn.load(
        "minimal",
        [*SCORES, "surveillance.camera.quality={surveillance=1.0}"],
        population=400_000,
        days=20,
        seed=9,
    )
    sim = pn.Simulation(sc)
    for _ in range(sc.run.days):
        sim.step()
    t = (
        pl.from_arrow(sim.groups.tables()["groups"])
        .group_by("group")
        .agg(pl.col("observed").sum(), pl.col("missed").sum())
    )
    rates, _, _ = rate_table(sc)
    model = faceid.FaceIdScores(
        impostor=faceid.default_model().impostor,
        qualities=faceid.default_model().qualities,
        groups={
            "men": faceid.Group(share=0.51),
            "women": faceid.Group(share=0.49, fmr_multiplier=3.0),
        },
    )
    for j, name in enumerate(("men", "women")):
        r = model.pair_rates(1.3e9, faceid.DEFAULT_THRESHOLD, "surveillance", name)
        assert rates[0, j, 0] == pytest.approx(r.p_miss)
        assert rates[0, j, 1] == pytest.approx(r.p_wrong)
        row = t.filter(pl.col("group") == name)
        n, missed = float(row["observed"][0]), float(row["missed"][0])
        assert n > 1000
        assert abs(missed / n - r.p_miss) < Z * math.sqrt(r.p_miss * (1 - r.p_miss) / n)


def test_same_group_share_of_wrongful_records(tmp_path: Path) -> None:
    sets = [
        "population.groups={a={share=0.3}, b={share=0.7}}",
        "surveillance.faceid.p_wrong=0.2",
        "surveillance.faceid.same_group_share=1.0",
    ]
    run = pn.run(pn.load("minimal", sets, population=50_000, days=30, seed=1), out=tmp_path / "a")
    rec = run.records.filter(~pl.col("correct"))
    grp = run.people["group"]
    same = (grp.gather(rec["perpetrator"]) == grp.gather(rec["attributed_to"])).all()
    assert same and rec.height > 100
    # with share 0, the named person's group follows the population shares
    sets[-1] = "surveillance.faceid.same_group_share=0.0"
    run = pn.run(pn.load("minimal", sets, population=50_000, days=30, seed=1), out=tmp_path / "b")
    rec = run.records.filter(~pl.col("correct"))
    named_a = (run.people["group"].gather(rec["attributed_to"]) == "a").mean()
    share_a = (run.people["group"] == "a").mean()
    assert abs(named_a - share_a) < Z * math.sqrt(share_a * (1 - share_a) / rec.height)


def test_camera_false_matches_name_the_group_in_the_model_proportion() -> None:
    """Scores mode: a false match names the searched person's group with the model's q_g.

    q = m s / (m s + 1 - s): 0.75 for a 3x multiplier at share 0.5 (the kernel adds
    same-group picks to the uniform ones), 1/3 for 0.5x (it adds picks from other groups).
    """
    sets = [
        'surveillance.faceid={mode="scores", gallery=1.3e9, threshold=5.5, '
        "groups={a={fmr_multiplier=3.0}, b={fmr_multiplier=0.5}}}",
        "population.groups={a={share=0.5}, b={share=0.5}}",
    ]
    sc = pn.load("minimal", sets, population=20_000)
    sim = pn.Simulation(sc)
    group = sim.identify.group
    n = 400_000
    actors = np.random.default_rng(5).integers(0, 20_000, n).astype(np.int32)
    ctx = DayContext(
        0, seen_actors=actors, seen_kinds=np.zeros(n, np.uint8), channel=np.zeros(n, np.uint8)
    )
    sim.identify.step(ctx)
    wrong = ctx.outcome == WRONG
    assert (ctx.target[wrong] != actors[wrong]).all()
    model = faceid_model(sc)
    for code, name in enumerate(("a", "b")):
        sel = wrong & (group[actors] == code)
        k = int(sel.sum())
        same = float((group[ctx.target[sel]] == code).mean())
        q = model.same_group_share(name)
        assert k > 10_000
        assert abs(same - q) < Z * math.sqrt(q * (1 - q) / k), (name, same, q)


def test_women_searches_name_women_three_times_as_often(tmp_path: Path) -> None:
    """Issue 10: a 3x FMR multiplier for women, equal shares, in a seed-article run.

    Per camera search, women's searches name a wrong woman 3x as often as men's searches
    name a wrong man (NISTIR 8280 measures the differential on same-sex impostor pairs),
    while the cross-sex false matches are equally frequent (ratio 1; the old model, which
    multiplied all of women's comparisons, gave 3 here too). The ratios are compared with
    the model's at this threshold, which are within 2% of 3 and 1 (the small-FMR limit:
    at 1.6-3% wrong per search the probabilities barely saturate). The tolerance is Z = 5
    standard errors of the log ratio, sqrt(1/W1 + 1/W2) for Poisson counts W.
    """
    sets = [
        "population.groups={men={share=0.5}, women={share=0.5}}",
        "surveillance.faceid.threshold=6.6",
        "surveillance.camera.quality_by_place={}",  # surveillance frames everywhere
        'surveillance.camera.rollout={"2018-01-01"=1.4e10, "2020-12-31"=1.4e10}',
        "surveillance.camera.coverage=1.0",
        'run.records="all"',
    ]
    sc = pn.load("seed-article", sets, population=500_000, days=30, seed=3)
    run = pn.run(sc, out=tmp_path / "w")
    rec = run.records.filter(pl.col("channel") == "camera")
    grp = run.people["group"]
    by = grp.gather(rec["perpetrator"])
    named = grp.gather(rec["attributed_to"])
    wrong = ~rec["correct"]
    missed = (
        pl.read_parquet(run.path / "groups.parquet")
        .group_by("group")
        .agg(pl.col("missed").sum())
        .rows_by_key("group", unique=True)
    )
    rates, _, _ = rate_table(sc)
    model = faceid_model(sc)
    searches, same, other, p_same, p_other = {}, {}, {}, {}, {}
    for code, g in enumerate(("men", "women")):
        searches[g] = int((by == g).sum()) + missed[g][0]
        same[g] = int((wrong & (by == g) & (named == g)).sum())
        other[g] = int((wrong & (by == g) & (named != g)).sum())
        q = model.same_group_share(g)
        p_same[g], p_other[g] = rates[0, code, WRONG] * q, rates[0, code, WRONG] * (1 - q)
    for counts, p, limit in ((same, p_same, 3.0), (other, p_other, 1.0)):
        want = p["women"] / p["men"]
        assert want == pytest.approx(limit, rel=0.02)
        got = (counts["women"] / searches["women"]) / (counts["men"] / searches["men"])
        se = math.sqrt(1.0 / counts["women"] + 1.0 / counts["men"])
        assert min(counts.values()) > 500
        assert abs(math.log(got / want)) < Z * se, (counts, searches, got, want)


def test_unwatched_baseline_records_nothing(tmp_path: Path) -> None:
    run = pn.run(
        pn.load("city-pilot", UNWATCHED, population=5000, days=30),
        out=tmp_path / "u",
    )
    ts = run.timeseries
    assert ts["committed"].sum() > 0 and ts["observed"].sum() == 0
    assert run.records.height == 0


@pytest.mark.parametrize(
    ("sets", "field"),
    [
        (
            ['surveillance.camera.rollout={"2020-01-01"=2e8, "2019-01-01"=3e8}'],
            "surveillance.camera.rollout",
        ),
        (['surveillance.camera.model="rollout"'], "surveillance.camera.rollout"),
        (
            ["surveillance.camera.quality={blurry=1.0}", 'surveillance.faceid={mode="scores"}'],
            "surveillance.camera.quality.blurry",
        ),
        (
            ['surveillance.faceid={mode="scores", groups={martians={fmr_multiplier=2}}}'],
            "surveillance.faceid.groups.martians",
        ),
        (["population.groups={a={share=0.5}, b={share=0.4}}"], "population.groups"),
        (['surveillance.faceid={mode="scores", gallery=0.5}'], "surveillance.faceid.gallery"),
        (["surveillance.camera.coverage=1.5"], "surveillance.camera.coverage"),
        (["surveillance.faceid.same_group_share=-0.1"], "surveillance.faceid.same_group_share"),
    ],
)
def test_bad_surveillance_input_exit_2(
    capsys: pytest.CaptureFixture[str], sets: list[str], field: str
) -> None:
    args = ["validate", "minimal"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert field in err and "Traceback" not in err


def test_camera_type_by_place_sets_the_quality_mix() -> None:
    sets = [
        'surveillance.faceid={mode="scores", gallery=1.3e9}',
        "surveillance.camera.quality={surveillance=1.0}",
        "surveillance.camera.quality_by_place={transport={cooperative=1.0}}",
    ]
    sc = pn.load("city-pilot", sets, population=10_000)
    ident = pn.Simulation(sc).identify
    kinds = list(sc.behaviors)
    n = 200_000
    rng = np.random.default_rng(3)
    actors = rng.integers(0, 10_000, n).astype(np.int32)
    model = faceid.default_model()
    for name, quality in (("fare_evasion", "cooperative"), ("red_light_crossing", "surveillance")):
        k = np.full(n, kinds.index(name), dtype=np.uint8)
        ctx = DayContext(0, seen_actors=actors, seen_kinds=k, channel=np.zeros(n, np.uint8))
        ident.step(ctx)
        outcome = ctx.outcome
        p = model.pair_rates(1.3e9, faceid.DEFAULT_THRESHOLD, quality, "men")
        # population groups default to one group 'all' with no differential: like 'men'
        missed = float((outcome == 0).mean())
        assert abs(missed - p.p_miss) < Z * math.sqrt(p.p_miss * (1 - p.p_miss) / n), name
