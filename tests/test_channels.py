"""Channel switches and perceived detection: each channel on or off, sightings or names.

`surveillance.camera.enabled` switches off the cameras only, and each other channel has
its own `surveillance.channels.<name>.enabled`: a watched-vs-unwatched comparison with the
cameras off credits cameras alone. `response.perceived` says whether a camera adds to
perceived detection every act it sees or only those face identification names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import panopticon as pn
from panopticon.cli import main
from panopticon.core.records import MISSED
from panopticon.stages.behave.respond import perceived_detection, rate_multipliers
from panopticon.stages.identify.identify import rate_table
from panopticon.stages.observe.observe import camera_chance

# specific deterrence off, so both runs of a pair draw the same acts; courts quick and busy
SAME_ACTS = [
    "response.deterrence=1.0",
    "surveillance.channels.court.delay_days=0",
    "behaviors.contract_breach.rate=0.001",
]


def records_of(run: pn.RunResult, behaviours: list[str]) -> pl.DataFrame:
    """Which acts of `behaviours` were recorded, when and by which channel, in a fixed order.

    Attribution is left out: its draws follow an act's place in the day's detections,
    which shifts when the cameras' detections are gone.
    """
    cols = ["day", "day_recorded", "behavior", "perpetrator", "channel"]
    rec = run.records.select(cols).with_columns(pl.col("behavior", "channel").cast(pl.String))
    return rec.filter(pl.col("behavior").is_in(behaviours)).sort(cols)


def pilot() -> pn.Scenario:
    """A small city-pilot with the same acts whatever is recorded."""
    return pn.load("city-pilot", SAME_ACTS, population=4000, days=60, seed=11)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[pn.RunResult, pn.RunResult]:
    """city-pilot watched, and the same with its cameras off."""
    root = tmp_path_factory.mktemp("channels")
    sc = pilot()
    on = pn.run(sc, out=root / "on")
    off = pn.run(sc.override({"surveillance.camera.enabled": False}), out=root / "off")
    return on, off


def test_cameras_off_leaves_the_other_channels_recording(
    pair: tuple[pn.RunResult, pn.RunResult],
) -> None:
    """Courts, banks and the registry record as before; only camera records vanish."""
    on, off = pair
    assert on.timeseries["committed"].equals(off.timeseries["committed"])
    ts = off.timeseries
    assert ts["recorded_camera"].sum() == 0
    for ch in ("transaction", "court", "registry", "online"):
        assert ts[f"recorded_{ch}"].sum() > 0, ch
    assert set(off.records["channel"].cast(pl.String)) >= {"court", "registry", "transaction"}
    sc = pilot()
    uncamera = [k for k, b in sc.behaviors.items() if "camera" not in b.channels]
    a, b = records_of(on, uncamera), records_of(off, uncamera)
    assert a.height > 100 and a.equals(b)
    # camera-and-informant acts: the informant now gets the acts the cameras took
    both = [k for k, b in sc.behaviors.items() if b.channels == ["camera", "informant"]]
    assert records_of(off, both)["channel"].unique().to_list() == ["informant"]
    assert on.timeseries["recorded_informant"].sum() < ts["recorded_informant"].sum()


def test_a_disabled_channel_records_nothing_and_deters_nothing(tmp_path: Path) -> None:
    """Court off: no court record, court-only acts unrecorded and perceived as unwatched."""
    sets = [*SAME_ACTS, "response.elasticity=0.5"]
    sc = pn.load("city-pilot", sets, population=4000, days=60, seed=12)
    off = sc.override({"surveillance.channels.court.enabled": False})
    run = pn.run(off, out=tmp_path / "nocourt")
    assert run.timeseries["recorded_court"].sum() == 0
    assert "court" not in set(run.records["channel"].cast(pl.String))
    court_only = [k for k, b in sc.behaviors.items() if b.channels == ["court"]]
    assert court_only and records_of(run, court_only).height == 0
    assert run.timeseries["committed_contract_breach"].sum() > 0
    names = list(sc.behaviors)
    p_on, p_off = perceived_detection(sc, 0), perceived_detection(off, 0)
    m_off = rate_multipliers(off, 0)
    for k in court_only:
        assert p_on[names.index(k)] > 0 and p_off[names.index(k)] == 0.0
        assert m_off[names.index(k)] == 1.0
    # the other channels are untouched
    rest = [i for i, k in enumerate(names) if k not in court_only]
    assert np.array_equal(p_on[rest], p_off[rest])
    # informant off: camera-and-informant acts are perceived as the cameras alone
    no_inf = sc.override({"surveillance.channels.informant.enabled": False})
    cam = camera_chance(sc, 0) @ np.array([r.share for r in sc.population.regions.values()])
    k = names.index("fare_evasion")
    assert perceived_detection(no_inf, 0)[k] == pytest.approx(cam[k] * 0.9, rel=1e-12)


# a scores-mode city-pilot: two groups, two regions, a rollout, gates on transport, and an
# announcement, so every term of perceived detection is exercised
SCORES = [
    'surveillance.faceid={mode="scores", gallery=1.3e9, groups={women={fmr_multiplier=3.0}}}',
    "population.groups={men={share=0.51}, women={share=0.49}}",
    "population.regions={east={share=0.4, camera_density=2.0}, west={share=0.6, "
    "camera_density=0.5}}",
    'surveillance.camera.model="rollout"',
    'surveillance.camera.rollout={"2018-01-01"=2.0e8, "2020-01-01"=6.26e8}',
    "surveillance.camera.quality_by_place={transport={cooperative=0.7, surveillance=0.3}}",
    'response.announcements.gates={day=0, places=["transport"], boost=0.2}',
    "response.elasticity=0.3",
]
FIXED = ["response.elasticity=0.3"]


def expected_multipliers(sc: pn.Scenario, day: int, perceived: str) -> np.ndarray:
    """Rate multipliers recomputed from respond.py's formula, independently of it."""
    s, r = sc.surveillance, sc.response
    rates, cum, _ = rate_table(sc)
    mix = np.diff(cum, axis=1, prepend=0.0)
    shares = np.array([g.share for g in sc.population.groups.values()])
    named = np.array(
        [
            sum(
                mix[k, q] * (shares * (1.0 - rates[q, :, MISSED])).sum()
                for q in range(mix.shape[1])
            )
            for k in range(len(sc.behaviors))
        ]
    )
    regions = np.array([x.share for x in sc.population.regions.values()])
    cam = camera_chance(sc, day) @ regions
    if perceived == "identifications":
        cam = cam * named
    out = np.ones(len(sc.behaviors))
    for k, beh in enumerate(sc.behaviors.values()):
        if beh.valence != "negative" or beh.lawful:
            continue
        miss = 1.0
        for ch in beh.channels:
            miss *= 1.0 - (cam[k] if ch == "camera" else s.channels[ch].detection)
        p = 1.0 - miss
        for ann in r.announcements.values():
            if day >= ann.day and beh.place in ann.places:
                p = min(1.0, p + ann.boost)
        out[k] = (1.0 + p / r.reference_detection) ** -r.elasticity
    return out


@pytest.mark.parametrize("mode", ["scores", "fixed"])
def test_identifications_lower_perceived_detection_by_the_miss_rate(mode: str) -> None:
    """Under "identifications" a camera counts only what face ID names: 1 - p_miss."""
    base = pn.load("city-pilot", SCORES if mode == "scores" else FIXED)
    sights = base.override({"response.perceived": "sightings"})
    names = base.override({"response.perceived": "identifications"})
    for day in (0, 200):
        got_s, got_n = rate_multipliers(sights, day), rate_multipliers(names, day)
        assert got_s == pytest.approx(expected_multipliers(sights, day, "sightings"), rel=1e-12)
        assert got_n == pytest.approx(
            expected_multipliers(names, day, "identifications"), rel=1e-12
        )
    # a camera-only behaviour, no announcement: P falls by exactly the hit rate 1 - p_miss
    k = list(base.behaviors).index("red_light_crossing")
    rates, cum, _ = rate_table(base)
    shares = np.array([g.share for g in base.population.groups.values()])
    q = int(np.argmax(cum[k] >= 1.0 - 1e-12))  # street frames: a single quality class
    hit = float((shares * (1.0 - rates[q, :, MISSED])).sum())
    ratio = perceived_detection(names, 0)[k] / perceived_detection(sights, 0)[k]
    assert ratio == pytest.approx(hit, rel=1e-12)
    assert ratio < 1.0
    if mode == "fixed":
        assert ratio == pytest.approx(0.9, rel=1e-12)  # fixed mode: p_miss = 0.10
    else:
        assert 0.5 < ratio < 0.7  # surveillance frames at the default threshold: ~60% named
    # fewer perceived detections deter less
    neg = [i for i, b in enumerate(base.behaviors.values()) if "camera" in b.channels]
    neg = [i for i in neg if rate_multipliers(sights, 0)[i] < 1.0]
    assert (rate_multipliers(names, 0)[neg] > rate_multipliers(sights, 0)[neg]).all()


def test_no_channel_on_is_the_unwatched_baseline() -> None:
    """Cameras and every channel off: nothing perceived, announcements unheard."""
    sc = pn.load("city-pilot", SCORES)
    off = sc.override(
        {
            "surveillance.camera.enabled": False,
            **{f"surveillance.channels.{c}.enabled": False for c in sc.surveillance.channels},
        }
    )
    assert (perceived_detection(off, 0) == 0.0).all()
    assert (rate_multipliers(off, 0) == 1.0).all()
    cams_off = sc.override({"surveillance.camera.enabled": False})
    k = list(sc.behaviors).index("fare_evasion")  # informants still watch transport
    assert perceived_detection(cams_off, 0)[k] == pytest.approx(
        1.0 - (1.0 - sc.surveillance.channels["informant"].detection) + 0.2, rel=1e-12
    )
    k = list(sc.behaviors).index("red_light_crossing")  # cameras only
    assert perceived_detection(cams_off, 0)[k] == 0.0


BAD = [
    ("surveillance.enabled=false", "surveillance.camera.enabled"),
    ("surveillance.camera.enabled=0", "surveillance.camera.enabled"),
    ('surveillance.channels.court.enabled="no"', "surveillance.channels.court.enabled"),
    ('response.perceived="glimpses"', "'sightings' or 'identifications'"),
    ("response.perceived=1", "response.perceived"),
]


@pytest.mark.parametrize(("item", "expected"), BAD)
def test_bad_values_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], item: str, expected: str
) -> None:
    """One line naming the key and what is allowed; the old global switch names the new."""
    out = tmp_path / "never"
    rc = main(["run", "city-pilot", "--days", "2", "--set", item, "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert rc == 2
    assert expected in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_old_switch_in_a_file_is_refused(tmp_path: Path) -> None:
    """A scenario file with [surveillance] enabled = false is refused, naming the new keys."""
    path = tmp_path / "old.toml"
    path.write_text("[surveillance]\nenabled = false\n")
    with pytest.raises(pn.ScenarioError) as info:
        pn.load(str(path))
    msg = str(info.value)
    assert "surveillance.camera.enabled" in msg and "surveillance.channels.<name>.enabled" in msg


def test_appeal_draws_follow_the_act_not_the_batch() -> None:
    """A record's appeal outcome is keyed by its act (act day, perpetrator, ordinal).

    Permuting the day's records (as a shard's subset of them does) permutes the outcomes
    with them; the share appealed matches p_appeal within 4 binomial standard errors.
    """
    from panopticon.stages.record.records import _appeal_kernel

    rng = np.random.default_rng(5)
    n = 20_000
    act_day = rng.integers(0, 90, n).astype(np.int32)
    perp = rng.integers(0, 1_000_000, n).astype(np.int32)
    ordinal = rng.integers(0, 3, n).astype(np.uint32)
    correct = rng.random(n) < 0.9
    appealable = np.ones(n, dtype=bool)
    p_appeal, p_win = np.array([0.1, 0.6]), np.array([0.05, 0.5])
    args = (7, act_day, perp, ordinal, correct, appealable, p_appeal, p_win)
    out = _appeal_kernel(*args)
    perm = rng.permutation(n)
    permuted = _appeal_kernel(7, *(a[perm] for a in args[1:6]), p_appeal, p_win)
    assert np.array_equal(permuted, out[perm])
    for w, sel in ((0, correct), (1, ~correct)):
        share, m = (out[sel] > 0).mean(), sel.sum()
        assert abs(share - p_appeal[w]) < 4 * np.sqrt(p_appeal[w] * (1 - p_appeal[w]) / m)
