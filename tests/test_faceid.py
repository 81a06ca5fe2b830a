"""Tests of the 1:N face identification error model (synthetic scores only)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import special

from panopticon.cli import faceid as faceid_cli
from panopticon.stages.identify import faceid
from panopticon.stages.identify.faceid import (
    FaceIdError,
    FaceIdScores,
    Group,
    QualityClass,
    ScoreDistribution,
)

# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _model(
    genuine: tuple[float, float] = (3.5, 1.2),
    impostor: tuple[float, float] = (0.0, 1.0),
    quality_impostor: tuple[float, float] | None = None,
    fmr_multiplier: float = 1.0,
    extra_miss: float = 0.0,
    genuine_shift: float = 0.0,
) -> FaceIdScores:
    """A one-quality, one-group model for the Monte-Carlo checks."""
    qi = None
    if quality_impostor is not None:
        qi = ScoreDistribution(mean=quality_impostor[0], sd=quality_impostor[1])
    return FaceIdScores(
        impostor=ScoreDistribution(mean=impostor[0], sd=impostor[1]),
        qualities={
            "q": QualityClass(
                genuine=ScoreDistribution(mean=genuine[0], sd=genuine[1]), impostor=qi
            )
        },
        groups={
            "g": Group(
                share=1.0,
                fmr_multiplier=fmr_multiplier,
                extra_miss=extra_miss,
                genuine_shift=genuine_shift,
            )
        },
    )


def _monte_carlo(
    gallery: int,
    threshold: float,
    genuine: tuple[float, float],
    impostor: tuple[float, float],
    trials: int,
    seed: int,
    fmr_multiplier: float = 1.0,
    extra_miss: float = 0.0,
) -> dict[str, float]:
    """Simulate searches with explicit genuine and impostor scores, independently of faceid.

    Each trial draws one genuine score and `gallery` impostor scores. The enrolled search
    uses the genuine score and the first gallery-1 impostors; the not-enrolled search uses
    all `gallery` impostors. Trials are processed in chunks to bound memory (about 4e6
    scores per chunk). With a multiplier m != 1 an impostor score has survival
    min(1, m * sf(s)), drawn by inversion: s = isf(u / m), u uniform.
    """
    rng = np.random.default_rng(seed)
    mu_i, sd_i = impostor
    correct = wrong = miss = false_pos = 0
    chunk = max(1, 4_000_000 // gallery)
    done = 0
    while done < trials:
        m = min(chunk, trials - done)
        done += m
        gen = rng.normal(genuine[0], genuine[1], m)
        if extra_miss > 0:
            gen[rng.random(m) < extra_miss] = -np.inf
        if fmr_multiplier == 1.0:
            # float32 halves the cost; its rounding (~1e-7) moves the rates by ~1e-7
            imp = np.float32(mu_i) + np.float32(sd_i) * rng.standard_normal(
                (m, gallery), dtype=np.float32
            )
        else:
            u = rng.random((m, gallery)) / fmr_multiplier
            with np.errstate(divide="ignore"):
                imp = np.where(u < 1.0, mu_i - sd_i * special.ndtri(np.minimum(u, 1.0)), -np.inf)
        best_imp = imp[:, : gallery - 1].max(axis=1) if gallery > 1 else np.full(m, -np.inf)
        best_all = imp.max(axis=1)
        correct += int(np.sum((gen >= threshold) & (gen > best_imp)))
        wrong += int(np.sum((best_imp >= threshold) & (best_imp > gen)))
        miss += int(np.sum((gen < threshold) & (best_imp < threshold)))
        false_pos += int(np.sum(best_all >= threshold))
    n = float(trials)
    return {
        "p_correct": correct / n,
        "p_wrong": wrong / n,
        "p_miss": miss / n,
        "fpir": false_pos / n,
    }


def _assert_binomial(name: str, observed: float, p: float, n: int) -> None:
    """|observed - p| within 4.5 binomial standard errors sqrt(p(1-p)/n).

    4.5 standard errors make a false failure about 7e-6 per comparison (normal
    approximation), so the ~30 comparisons here fail by chance with probability < 3e-4;
    the seeds are fixed anyway. Where n*p (or n*(1-p)) is below 1 the count is Poisson
    with a mean below 1 and the normal approximation breaks down: a floor of 5/n (five
    stray events, probability < 0.4% at mean 1) is added only there.
    """
    se = math.sqrt(p * (1.0 - p) / n)
    floor = 5.0 / n if n * min(p, 1.0 - p) < 1.0 else 0.0
    tol = 4.5 * se + floor
    assert abs(observed - p) <= tol, f"{name}: observed {observed}, model {p}, tol {tol}"


# --------------------------------------------------------------------------------------
# Monte-Carlo: explicit genuine and impostor scores reproduce the analytic rates
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gallery", "trials"),
    [(1, 20_000), (10, 20_000), (100, 20_000), (10_000, 20_000), (100_000, 2_000)],
)
def test_monte_carlo_matches_analytic(gallery: int, trials: int) -> None:
    genuine, impostor = (3.5, 1.2), (0.0, 1.0)
    # threshold where about 40% of not-enrolled searches name someone: all rates moderate
    threshold = float(-special.ndtri(0.4 / gallery))
    model = _model(genuine, impostor)
    r = model.rates(gallery, threshold, "q", "g")
    mc = _monte_carlo(gallery, threshold, genuine, impostor, trials, seed=gallery)
    for key in ("p_correct", "p_wrong", "p_miss", "fpir"):
        _assert_binomial(key, mc[key], getattr(r, key), trials)
    assert r.p_correct + r.p_wrong + r.p_miss == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("gallery", [10, 100])
def test_monte_carlo_group_and_quality_differentials(gallery: int) -> None:
    """FMR multiplier, extra miss, genuine shift and a quality-specific impostor."""
    genuine, shift = (3.5, 1.2), -0.5
    impostor = (0.5, 1.3)  # the quality class overrides the shared impostor N(0, 1)
    mult, extra = 4.0, 0.1
    model = _model(
        genuine,
        (0.0, 1.0),
        quality_impostor=impostor,
        fmr_multiplier=mult,
        extra_miss=extra,
        genuine_shift=shift,
    )
    threshold = impostor[0] + impostor[1] * float(-special.ndtri(0.4 / (gallery * mult)))
    r = model.rates(gallery, threshold, "q", "g")
    trials = 20_000
    mc = _monte_carlo(
        gallery,
        threshold,
        (genuine[0] + shift, genuine[1]),
        impostor,
        trials,
        seed=7 + gallery,
        fmr_multiplier=mult,
        extra_miss=extra,
    )
    for key in ("p_correct", "p_wrong", "p_miss", "fpir"):
        _assert_binomial(key, mc[key], getattr(r, key), trials)


def _multiplied(u: np.ndarray, mult: float) -> np.ndarray:
    """Impostor scores with survival min(1, mult * sf(s)) from uniforms, by inversion.

    With mult < 1 a share 1 - mult never matches at any score (-inf).
    """
    v = u / mult
    with np.errstate(divide="ignore"):
        return np.where(v < 1.0, -special.ndtri(np.minimum(v, 1.0)), -np.inf)


def _monte_carlo_split(
    gallery: int,
    threshold: float,
    genuine: tuple[float, float],
    mult: float,
    share: float,
    trials: int,
    seed: int,
) -> dict[str, float]:
    """Searches against a gallery split into the probe's group and the others.

    Of the gallery-1 impostors of an enrolled search, round(share * (gallery-1)) are of the
    probe's group, with survival min(1, mult * sf(s)) (drawn by inversion), the others
    standard normal. The not-enrolled search adds one impostor, of the probe's group with
    probability `share` (its expected count, so the model's G * share is matched to first
    order in FMR). Also returns the share of wrong and false-positive names that are of
    the probe's group.
    """
    rng = np.random.default_rng(seed)
    n = gallery - 1
    n_same = round(share * n)
    out = dict.fromkeys(("p_correct", "p_wrong", "p_miss", "fpir"), 0.0)
    wrong_same = fp_same = 0
    chunk = max(1, 2_000_000 // gallery)
    done = 0
    while done < trials:
        m = min(chunk, trials - done)
        done += m
        gen = rng.normal(genuine[0], genuine[1], m)
        imp = rng.standard_normal((m, gallery))
        imp[:, :n_same] = _multiplied(rng.random((m, n_same)), mult)
        last_same = rng.random(m) < share
        imp[last_same, n] = _multiplied(rng.random(int(last_same.sum())), mult)
        best = imp[:, :n].argmax(axis=1)
        best_imp = imp[np.arange(m), best]
        wrong = (best_imp >= threshold) & (best_imp > gen)
        out["p_correct"] += int(np.sum((gen >= threshold) & (gen > best_imp)))
        out["p_wrong"] += int(wrong.sum())
        out["p_miss"] += int(np.sum((gen < threshold) & (best_imp < threshold)))
        wrong_same += int(np.sum(wrong & (best < n_same)))
        best_all = imp.argmax(axis=1)
        fp = imp[np.arange(m), best_all] >= threshold
        out["fpir"] += int(fp.sum())
        same_all = (best_all < n_same) | ((best_all == n) & last_same)
        fp_same += int(np.sum(fp & same_all))
    wrong_n, fp_n = out["p_wrong"], out["fpir"]
    res = {k: v / trials for k, v in out.items()}
    res["wrong_same"] = wrong_same / wrong_n
    res["fp_same"] = fp_same / fp_n
    res["wrong_n"], res["fp_n"] = wrong_n, fp_n
    return res


@pytest.mark.parametrize(("gallery", "mult"), [(101, 4.0), (1001, 3.0), (1001, 0.5)])
def test_monte_carlo_multiplier_acts_on_same_group_pairs(gallery: int, mult: float) -> None:
    """NISTIR 8280's differential: only impostors of the probe's group get the multiplier.

    The analytic rates match a simulation with explicit same-group and other impostors, and
    the share of false matches naming the probe's group is q = m s / (m s + 1 - s).
    """
    share, genuine, trials = 0.3, (3.5, 1.2), 20_000
    n_eff = (gallery - 1) * (mult * share + 1.0 - share)
    threshold = float(-special.ndtri(0.4 / n_eff))
    model = FaceIdScores(
        impostor=ScoreDistribution(mean=0.0, sd=1.0),
        qualities={"q": QualityClass(genuine=ScoreDistribution(mean=3.5, sd=1.2))},
        groups={"a": Group(share=share, fmr_multiplier=mult), "b": Group(share=1.0 - share)},
    )
    r = model.rates(gallery, threshold, "q", "a")
    mc = _monte_carlo_split(gallery, threshold, genuine, mult, share, trials, seed=gallery)
    for key in ("p_correct", "p_wrong", "p_miss", "fpir"):
        _assert_binomial(key, mc[key], getattr(r, key), trials)
    q = model.same_group_share("a")
    assert q == pytest.approx(mult * share / (mult * share + 1.0 - share))
    _assert_binomial("wrong_same", mc["wrong_same"], q, int(mc["wrong_n"]))
    _assert_binomial("fp_same", mc["fp_same"], q, int(mc["fp_n"]))


def test_other_groups_multiplier_leaves_a_group_alone() -> None:
    """Men's rates do not depend on women's multiplier (it acts on woman-woman pairs)."""
    base = faceid.default_model()
    groups = dict(base.groups)
    groups["women"] = groups["women"].model_copy(update={"fmr_multiplier": 1.0})
    flat = base.model_copy(update={"groups": groups})
    for gallery, t in ((1e6, 5.0), (1.3e9, faceid.DEFAULT_THRESHOLD)):
        men = base.pair_rates(gallery, t, "surveillance", "men")
        assert men == flat.pair_rates(gallery, t, "surveillance", "men")
        women = base.pair_rates(gallery, t, "surveillance", "women")
        assert women.p_wrong > flat.pair_rates(gallery, t, "surveillance", "women").p_wrong


def test_fpir_of_a_group_counts_its_same_group_impostors() -> None:
    """Small N*FMR: FPIR ~ G FMR (m s + 1 - s), not G m FMR (all comparisons multiplied)."""
    model = faceid.default_model()
    t = faceid.DEFAULT_THRESHOLD
    base = float(special.ndtr(-t))
    women = model.groups["women"]
    r = model.rates(1e3, t, "enrolment", "women")
    mean_fmr = base * (women.fmr_multiplier * women.share + 1.0 - women.share)
    assert r.fmr == pytest.approx(mean_fmr, rel=1e-12)
    assert r.fpir == pytest.approx(1e3 * mean_fmr, rel=1e-6)
    assert r.expected_false_candidates == pytest.approx(1e3 * mean_fmr, rel=1e-12)
    assert model.same_group_share("men") == pytest.approx(0.51)
    assert model.same_group_share("women") == pytest.approx(1.47 / 1.98)
    table = model.rate_table(1e3, t)
    np.testing.assert_allclose(table.same_group, [0.51, 1.47 / 1.98])


# --------------------------------------------------------------------------------------
# Limits, stability, monotonicity
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("gallery", [1, 1e3, 1e10])
@pytest.mark.parametrize("threshold", [60.0, 1e6, math.inf])
def test_very_high_threshold_matches_nobody(gallery: float, threshold: float) -> None:
    r = faceid.default_model().rates(gallery, threshold, "enrolment", None)
    assert r.p_correct == 0.0
    assert r.p_wrong == 0.0
    assert r.fpir == 0.0
    assert r.expected_false_candidates == 0.0
    assert r.p_miss == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("threshold", [-1.0, 2.0, 4.0, 6.0])
@pytest.mark.parametrize("mult", [0.5, 1.0, 3.0])
def test_gallery_of_one_is_one_to_one(threshold: float, mult: float) -> None:
    genuine = ScoreDistribution(mean=3.0, sd=1.5)
    model = _model((genuine.mean, genuine.sd), fmr_multiplier=mult)
    r = model.rates(1, threshold, "q", "g")
    fmr = min(1.0, mult * float(special.ndtr(-threshold)))
    assert r.p_correct == pytest.approx(float(genuine.sf(threshold)), rel=1e-12)
    assert r.p_miss == pytest.approx(1.0 - float(genuine.sf(threshold)), rel=1e-12)
    assert r.p_wrong == 0.0
    assert r.fpir == pytest.approx(fmr, rel=1e-12)
    assert r.fmr == pytest.approx(fmr, rel=1e-12)
    assert r.expected_false_candidates == pytest.approx(fmr, rel=1e-12)


@pytest.mark.parametrize("threshold", [-math.inf, -5.0, 0.0, 6.3, 7.0, 9.0, 40.0])
@pytest.mark.parametrize("quality", ["enrolment", "cooperative", "surveillance"])
def test_huge_gallery_is_stable(threshold: float, quality: str) -> None:
    model = faceid.default_model()
    for group in ("men", "women", None):
        r = model.rates(1e10, threshold, quality, group)
        values = [r.p_correct, r.p_wrong, r.p_miss, r.fpir, r.fmr]
        assert all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values), values
        assert r.p_correct + r.p_wrong + r.p_miss == pytest.approx(1.0, abs=1e-12)
        assert math.isfinite(r.expected_false_candidates)


def test_rates_move_the_right_way_with_gallery() -> None:
    model = faceid.default_model()
    galleries = np.logspace(0, 10, 41)
    for t in (4.0, faceid.DEFAULT_THRESHOLD, 8.0):
        rs = [model.rates(g, t, "cooperative", None) for g in galleries]
        fpir = np.array([r.fpir for r in rs])
        rise = np.diff(fpir)
        assert np.all(rise >= 0)
        assert np.all(rise[fpir[:-1] < 1.0 - 1e-12] > 0)  # strictly, until it saturates at 1
        assert np.all(np.diff([r.fnir for r in rs]) >= -1e-15)
        assert np.all(np.diff([r.p_miss for r in rs]) <= 1e-15)
        assert np.all(np.diff([r.expected_false_candidates for r in rs]) > 0)


def test_fpir_is_about_gallery_times_fmr_when_small() -> None:
    """The binomial approximation FPIR ~ N * FMR (NISTIR 8429 Annex B) for small N*FMR."""
    model = faceid.default_model()
    r = model.rates(1e3, faceid.DEFAULT_THRESHOLD, "enrolment", "men")
    assert r.fpir == pytest.approx(1e3 * r.fmr, rel=1e-6)
    assert r.expected_false_candidates == pytest.approx(1e3 * r.fmr, rel=1e-12)


def test_mixtures_are_weighted_averages() -> None:
    model = faceid.default_model()
    mix = {"surveillance": 0.7, "cooperative": 0.3}
    r = model.rates(1e8, 6.5, mix, None)
    want = np.zeros(6)
    for q, qw in mix.items():
        for g, grp in model.groups.items():
            want += qw * grp.share * model.pair_rates(1e8, 6.5, q, g).vector()
    np.testing.assert_allclose(r.vector(), want, rtol=1e-12)
    assert r.fnir == pytest.approx(1.0 - want[0], rel=1e-12)


def test_hit_precision() -> None:
    r = faceid.default_model().rates(1.3e9, faceid.DEFAULT_THRESHOLD, "cooperative")
    assert r.hit_precision(1.0) == pytest.approx(r.p_correct / (r.p_correct + r.p_wrong))
    half = r.p_correct / (r.p_correct + r.p_wrong + r.fpir)
    assert r.hit_precision(0.5) == pytest.approx(half)
    assert r.hit_precision(0.0) == 0.0
    none = faceid.default_model().rates(10, math.inf, "cooperative")
    assert math.isnan(none.hit_precision(0.5))
    with pytest.raises(FaceIdError, match="enrolled_share"):
        r.hit_precision(1.5)


# --------------------------------------------------------------------------------------
# Calibration, thresholds, cache, cost
# --------------------------------------------------------------------------------------


def test_default_constants_match_a_fresh_calibration() -> None:
    threshold, means = faceid.calibrate_defaults()
    assert threshold == pytest.approx(faceid.DEFAULT_THRESHOLD, abs=1e-6)
    for name, mean in means.items():
        assert mean == pytest.approx(faceid.DEFAULT_GENUINE_MEAN[name], abs=1e-6)


@pytest.mark.parametrize(
    ("quality", "gallery", "fnir"),
    [
        ("enrolment", faceid.NIST_MUGSHOT_GALLERY, faceid.NIST_MUGSHOT_FNIR),
        ("cooperative", faceid.NIST_BORDER_GALLERY, faceid.NIST_BORDER_FNIR),
        ("surveillance", faceid.NIST_FIVE_GALLERY, faceid.NIST_FIVE_FNIR),
    ],
)
def test_defaults_reproduce_published_operating_points(
    quality: str, gallery: float, fnir: float
) -> None:
    model = faceid.default_model()
    t = faceid.threshold_for_fpir(model, gallery, faceid.NIST_FPIR)
    r = model.rates(gallery, t, quality, None)
    assert r.fpir == pytest.approx(faceid.NIST_FPIR, rel=1e-9)
    assert r.fnir == pytest.approx(fnir, rel=1e-4)


def test_default_threshold_is_the_nist_operating_point() -> None:
    r = faceid.default_model().rates(12e6, faceid.DEFAULT_THRESHOLD, "enrolment", None)
    assert r.fpir == pytest.approx(0.003, rel=1e-5)


def test_threshold_for_hit_rate() -> None:
    model = faceid.default_model()
    t = faceid.threshold_for_hit_rate(model, 1.3e9, 0.9, "cooperative")
    assert model.rates(1.3e9, t, "cooperative").p_correct == pytest.approx(0.9, abs=1e-9)
    # surveillance frames cannot reach 90% against 1.3e9 faces at any threshold
    with pytest.raises(FaceIdError, match=r"hit_rate: 0\.9 is not allowed; at most"):
        faceid.threshold_for_hit_rate(model, 1.3e9, 0.9, "surveillance")


def test_rates_are_cached_and_table_matches() -> None:
    model = faceid.default_model()
    faceid.clear_cache()
    first = model.pair_rates(1e7, 6.0, "surveillance", "women")
    before = faceid.cache_info()
    again = model.pair_rates(1e7, 6.0, "surveillance", "women")
    after = faceid.cache_info()
    assert first == again
    assert after.hits == before.hits + 1  # type: ignore[attr-defined]
    assert after.misses == before.misses  # type: ignore[attr-defined]
    table = model.rate_table(1e7, 6.0)
    assert model.rate_table(1e7, 6.0) is table
    assert not table.enrolled.flags.writeable
    i, j = table.qualities.index("surveillance"), table.groups.index("women")
    assert table.enrolled[i, j, faceid.MISSED] == first.p_miss
    assert table.enrolled[i, j, faceid.WRONG] == first.p_wrong
    assert table.enrolled[i, j, faceid.CORRECT] == first.p_correct
    assert table.fpir[i, j] == first.fpir
    np.testing.assert_allclose(table.enrolled.sum(axis=-1), 1.0, atol=1e-12)


def test_search_cost() -> None:
    c = faceid.search_cost(1.3e9, searches_per_day=1.3e9)
    assert c.bytes_per_search == 1.3e9 * 512
    assert c.seconds_memory == pytest.approx(1.3e9 * 512 / 200e9)
    assert c.seconds_per_search == max(c.seconds_memory, c.seconds_compute)
    assert c.servers_for_latency == math.ceil(c.seconds_per_search / 3.0)
    assert c.servers_for_throughput == math.ceil(1.3e9 * c.seconds_per_search / 86400)
    assert c.servers == max(c.servers_for_latency, c.servers_for_throughput, 2)
    fast = faceid.search_cost(1.3e9, 1.3e9, hardware=faceid.SearchHardware(batch_size=64))
    assert fast.bytes_per_search == pytest.approx(c.bytes_per_search / 64)
    assert fast.seconds_per_search == fast.seconds_compute  # batching makes it compute-bound
    assert fast.seconds_per_pass == pytest.approx(64 * fast.seconds_compute)
    assert fast.servers_for_latency == math.ceil(fast.seconds_per_pass / 3.0)


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


def test_parameter_validation() -> None:
    with pytest.raises(ValidationError, match="sd"):
        ScoreDistribution(mean=0.0, sd=0.0)
    with pytest.raises(ValidationError, match="sd"):
        ScoreDistribution(mean=0.0, sd=-1.0)
    with pytest.raises(ValidationError, match="mean"):
        ScoreDistribution(mean=math.nan, sd=1.0)
    with pytest.raises(ValidationError, match="share"):
        Group(share=1.5)
    with pytest.raises(ValidationError, match="extra_miss"):
        Group(share=1.0, extra_miss=-0.1)
    with pytest.raises(ValidationError, match="fmr_multiplier"):
        Group(share=1.0, fmr_multiplier=0.0)
    with pytest.raises(ValidationError, match="extra"):
        Group(share=1.0, fmr_multiplyer=2.0)  # type: ignore[call-arg]  # typo rejected
    qualities = {"q": QualityClass(genuine=ScoreDistribution(mean=3.0, sd=1.0))}
    imp = ScoreDistribution(mean=0.0, sd=1.0)
    with pytest.raises(ValueError, match=r"groups.*is not allowed; shares must sum to 1"):
        FaceIdScores(
            impostor=imp, qualities=qualities, groups={"a": Group(share=0.5), "b": Group(share=0.4)}
        )
    ok = FaceIdScores(
        impostor=imp,
        qualities=qualities,
        groups={"a": Group(share=0.3), "b": Group(share=0.7 + 5e-10)},
    )
    assert ok.group_names == ("a", "b")


def test_unknown_names_and_bad_arguments() -> None:
    model = faceid.default_model()
    with pytest.raises(FaceIdError, match=r"quality: 'gait' is not allowed; allowed: enrolment"):
        model.rates(100, 5.0, "gait")
    with pytest.raises(FaceIdError, match=r"group: 'kids' is not allowed; allowed: men, women"):
        model.rates(100, 5.0, "enrolment", "kids")
    with pytest.raises(ValueError, match=r"quality: .* shares must sum to 1"):
        model.rates(100, 5.0, {"enrolment": 0.5, "surveillance": 0.6})
    with pytest.raises(FaceIdError, match=r"gallery: 0\.5 is not allowed; a number >= 1"):
        model.rates(0.5, 5.0, "enrolment")
    with pytest.raises(FaceIdError, match="gallery"):
        model.rates(math.inf, 5.0, "enrolment")
    with pytest.raises(FaceIdError, match="threshold"):
        model.rates(10, math.nan, "enrolment")
    with pytest.raises(FaceIdError, match="fpir"):
        faceid.threshold_for_fpir(model, 10, 0.0)


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="panopticon faceid")
    faceid_cli.add_faceid_arguments(parser)
    return faceid_cli.run_faceid_command(parser.parse_args(argv))


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["--gallery", "1.3e9", "--quality", "cooperative", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in (
        "gallery",
        "threshold",
        "p_correct",
        "p_wrong",
        "p_miss",
        "fnir",
        "fpir",
        "expected_false_candidates",
        "search_cost",
    ):
        assert key in out
    assert out["gallery"] == 1.3e9
    assert out["threshold"] == faceid.DEFAULT_THRESHOLD
    assert out["p_correct"] + out["p_wrong"] + out["p_miss"] == pytest.approx(1.0)
    assert out["search_cost"]["bytes_per_search"] == 1.3e9 * 512


def test_cli_table_and_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["--gallery", "1e6", "--target-fpir", "0.003", "--group", "women"]) == 0
    text = capsys.readouterr().out
    assert "p_correct" in text and "fpir" in text and "servers" in text


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--gallery", "lots"], "gallery"),
        (["--gallery", "0"], "gallery"),
        (["--quality", "blurry"], "quality"),
        (["--group", "kids"], "group"),
        (["--enrolled-share", "-0.1"], "enrolled_share"),
        (["--threshold", "x"], "threshold"),
        (["--threshold", "6", "--target-fpir", "0.01"], "threshold"),
        (["--quality", "enrolment=0.5,surveillance=0.2"], "quality"),
        (["--target-hit-rate", "0.9"], "target_hit_rate"),
        (["--target-fpir", "2"], "target_fpir"),
    ],
)
def test_cli_bad_input_is_one_line(
    argv: list[str], field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {field}: ")
    assert " is not allowed; " in lines[0]


def test_cli_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "rates.png"
    assert _run(["--quality", "surveillance", "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
