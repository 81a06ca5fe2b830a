"""`panopticon sensitivity`: Morris and Sobol through the same machinery, analytic and simulated.

The analytic checks use the Ishigami function (a = 7, b = 0.1, inputs uniform on
[-pi, pi]), whose Sobol indices are known in closed form, and whose Morris mu* on the
4-level grid is computed here exactly by enumerating the grid. The estimates must lie
within their own bootstrap 95% intervals of the truth. The simulated checks use the
minimal model at 2,000 citizens x 60 days: appeals are off there, so their probability
cannot change anything (its runs are identical under common random numbers, mu* = 0
exactly), and the face-identification error rate must dominate wrongful records.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from panopticon.analysis import sensitivity as sa
from panopticon.analysis.sensitivity_report import sentence
from panopticon.cli.main import main

A, B = 7.0, 0.1
PI = math.pi
ISHIGAMI_FACTORS = [sa.Factor(f"x{i}", -PI, PI) for i in (1, 2, 3)]
# closed form: V = a^2/8 + b pi^4/5 + b^2 pi^8/18 + 1/2; V1 = (1 + b pi^4/5)^2 / 2,
# V2 = a^2/8, V13 = b^2 pi^8 (1/18 - 1/50); S3 = 0
_V = A**2 / 8 + B * PI**4 / 5 + B**2 * PI**8 / 18 + 0.5
_V1 = 0.5 * (1 + B * PI**4 / 5) ** 2
_V2 = A**2 / 8
_V13 = B**2 * PI**8 * (1 / 18 - 1 / 50)
S1_TRUE = [_V1 / _V, _V2 / _V, 0.0]
ST_TRUE = [(_V1 + _V13) / _V, _V2 / _V, _V13 / _V]


def ishigami(values: np.ndarray) -> dict[str, np.ndarray]:
    """The Ishigami function of each row (one replicate)."""
    x1, x2, x3 = values.T
    return {"y": np.sin(x1) + A * np.sin(x2) ** 2 + B * x3**4 * np.sin(x1)}


def test_closed_form_is_the_known_one() -> None:
    assert S1_TRUE == pytest.approx([0.3139, 0.4424, 0.0], abs=1e-4)
    assert ST_TRUE == pytest.approx([0.5576, 0.4424, 0.2437], abs=1e-4)


def test_sobol_on_ishigami_recovers_the_known_indices() -> None:
    a = sa.evaluate_design("sobol", ISHIGAMI_FACTORS, 1024, ishigami, seed=0)
    assert a.design.shape == (1024 * (3 + 2), 3)
    idx = {r["parameter"]: r for r in a.indices.to_dicts()}
    for j, name in enumerate(("x1", "x2", "x3")):
        r = idx[name]
        assert abs(r["S1"] - S1_TRUE[j]) <= r["S1_conf"], (name, r)
        assert abs(r["ST"] - ST_TRUE[j]) <= r["ST_conf"], (name, r)
        assert 0 < r["S1_conf"] < 0.1 and 0 < r["ST_conf"] < 0.1  # informative intervals
    assert [idx[n]["rank"] for n in ("x1", "x2", "x3")] == [1, 2, 3]
    # the bootstrap intervals are seeded (SALib leaves a seed of 0 unseeded): same again
    again = sa.evaluate_design("sobol", ISHIGAMI_FACTORS, 1024, ishigami, seed=0)
    assert again.indices.equals(a.indices)
    text = sentence("sobol", "y", a.indices.sort("rank").to_dicts())
    assert text.startswith("x1 has the largest total effect on y")


def _exact_mu_star(f: callable, k: int, i: int) -> float:
    """mu* of factor i on the 4-level grid: mean |EE| over every base level and grid point."""
    levels = np.array([0.0, 1 / 3, 2 / 3, 1.0])
    delta = 2 / 3
    effects = []
    for base in (0.0, 1 / 3):
        for others in itertools.product(levels, repeat=k - 1):
            lo = [*others[:i], base, *others[i:]]
            hi = [*others[:i], base + delta, *others[i:]]
            effects.append(abs(f(np.array(hi)) - f(np.array(lo))) / delta)
    return float(np.mean(effects))


def test_morris_on_ishigami_recovers_the_exact_mu_star() -> None:
    def on_unit(u: np.ndarray) -> float:
        return float(ishigami((-PI + 2 * PI * u)[None, :])["y"][0])

    a = sa.evaluate_design("morris", ISHIGAMI_FACTORS, 200, ishigami, seed=0)
    assert a.design.shape == (200 * 4, 3)
    idx = {r["parameter"]: r for r in a.indices.to_dicts()}
    for j, name in enumerate(("x1", "x2", "x3")):
        exact = _exact_mu_star(on_unit, 3, j)
        r = idx[name]
        # x2's effect is the same at every grid point (sin^2 at the levels is 0, 3/4, 3/4, 0)
        assert abs(r["mu_star"] - exact) <= r["mu_star_conf"] + 1e-9, (name, exact, r)
    assert idx["x2"]["sigma"] > 0  # signed effects differ (up and down), |EE| does not


def test_replicates_are_averaged_and_log_and_integer_ranges_respected() -> None:
    factors = [sa.Factor("a", 0.01, 100.0, log=True), sa.Factor("n", 1, 9, integer=True)]
    seen: list[np.ndarray] = []

    def noisy(values: np.ndarray) -> dict[str, np.ndarray]:
        seen.append(values)
        y = np.log10(values[:, 0])[:, None] + np.array([[-1.0, 1.0]])
        return {"y": y, "n": np.repeat(values[:, 1:2], 2, axis=1)}

    a = sa.evaluate_design("morris", factors, 8, noisy, seed=3)
    v = seen[0]
    assert v[:, 0].min() >= 0.01 and v[:, 0].max() <= 100.0
    # 4 levels on the log scale: 0.01, 0.215, 4.64, 100
    assert np.allclose(np.unique(np.round(np.log10(v[:, 0]), 9)), [-2, -2 / 3, 2 / 3, 2])
    assert np.array_equal(v[:, 1], np.round(v[:, 1]))
    r = {(x["metric"], x["parameter"]): x for x in a.indices.to_dicts()}
    # the mean over the two replicates is log10(a): a's EE is exactly its step, 4/3 decades
    # per 2/3 of the range, i.e. mu* = 2 per unit range; n has no effect on y
    assert r[("y", "a")]["mu_star"] == pytest.approx(4.0)
    assert r[("y", "n")]["mu_star"] == pytest.approx(0.0, abs=1e-12)
    runs = a.runs
    assert runs.height == v.shape[0] * 2 * 2
    assert runs["n"].dtype == pl.Int64
    assert set(runs["replicate"].unique().to_list()) == {0, 1}
    assert runs.filter(pl.col("metric") == "y")["seed"].to_list()[:2] == [3, 4]


def test_sentences_are_cautious_when_intervals_overlap() -> None:
    rows = [
        {"parameter": "p", "mu_star": 10.0, "mu_star_conf": 4.0, "note": ""},
        {"parameter": "q", "mu_star": 8.0, "mu_star_conf": 3.0, "note": ""},
        {"parameter": "z", "mu_star": 0.5, "mu_star_conf": 1.0, "note": ""},
    ]
    text = sentence("morris", "wrongful records", rows)
    assert "overlaps that of q" in text and "not settled" in text
    assert "1 of 3 parameters has an effect indistinguishable from zero" in text
    rows[1]["mu_star"] = 2.0
    assert "clearly ahead of q" in sentence("morris", "wrongful records", rows)
    zero = [{**r, "mu_star": 0.1, "mu_star_conf": 0.2} for r in rows]
    assert "No parameter has an effect" in sentence("morris", "x", zero)
    sob = [
        {"parameter": "p", "S1": 0.8, "S1_conf": 0.05, "ST": 0.85, "ST_conf": 0.05, "note": ""},
        {"parameter": "q", "S1": 0.1, "S1_conf": 0.05, "ST": 0.15, "ST_conf": 0.05, "note": ""},
    ]
    assert sentence("sobol", "wrongful records", sob).startswith(
        "p explains most of the variance in wrongful records"
    )


MINIMAL = [
    "minimal",
    "--population",
    "2000",
    "--days",
    "60",
    "--vary",
    "surveillance.faceid.p_wrong=0.002:0.05",
    "--vary",
    "surveillance.appeals.p_appeal_wrongful=0.1:0.9",
    "--vary",
    "response.deterrence=0.5:0.9",
    "--method",
    "morris",
    "--samples",
    "4",
    "--metrics",
    "records_wrong,sanctioned,wrongful_record_share",
    "--quiet",
]


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Small runs on one thread: the results are the same on any thread count, and a
    2-thread parallel loop on a loaded 2-core machine is many times slower."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


@pytest.fixture(scope="module")
def minimal_analysis(tmp_path_factory: pytest.TempPathFactory, one_thread: None) -> Path:
    out = tmp_path_factory.mktemp("sens") / "minimal"
    assert main(["sensitivity", *MINIMAL, "--out", str(out)]) == 0
    return out


def test_minimal_model_ranks_p_wrong_first_and_an_unused_part_at_zero(
    minimal_analysis: Path,
) -> None:
    out = minimal_analysis
    idx = pl.read_parquet(out / sa.INDICES)
    assert set(idx["metric"]) == {"records_wrong", "sanctioned", "wrongful_record_share"}
    assert idx.height == 3 * 3
    wrong = {r["parameter"]: r for r in idx.filter(pl.col("metric") == "records_wrong").to_dicts()}
    pw = wrong["surveillance.faceid.p_wrong"]
    assert pw["rank"] == 1
    for other in ("surveillance.appeals.p_appeal_wrongful", "response.deterrence"):
        o = wrong[other]
        assert pw["mu_star"] - pw["mu_star_conf"] > o["mu_star"] + o["mu_star_conf"]
    # appeals are off in `minimal`: the parameter cannot act, and its index is exactly 0
    for r in idx.filter(pl.col("parameter") == "surveillance.appeals.p_appeal_wrongful").iter_rows(
        named=True
    ):
        assert r["mu_star"] == 0.0 and r["mu_star_conf"] == 0.0, r
    runs = pl.read_parquet(out / sa.RUNS)
    assert runs.height == 4 * (3 + 1) * 3  # trajectories x (k + 1) points x metrics
    assert {"sample", "replicate", "seed", "run_id", "metric", "value"} <= set(runs.columns)
    spec = json.loads((out / sa.SPEC).read_text())
    assert spec["points"] == 16 and spec["runs"] == 16
    html = (out / sa.REPORT).read_text()
    assert html.count('<section class="figure"') == 3
    assert 'href="#fig-sensitivity-records-wrong"' in html
    assert '"orientation":"h"' in html
    assert "surveillance.faceid.p_wrong has the largest effect on records against" in html


def test_resume_skips_complete_runs_and_refuses_a_changed_command(
    minimal_analysis: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = minimal_analysis
    before = (out / sa.INDICES).read_bytes(), (out / sa.RUNS).read_bytes()
    # one run lost: only it runs again, and the tables come out the same
    victim = out / "runs" / "s0005_r0"
    for f in victim.iterdir():
        f.unlink()
    victim.rmdir()
    args = [a for a in MINIMAL if a != "--quiet"]
    assert main(["sensitivity", *args, "--out", str(out)]) == 0
    got = capsys.readouterr()
    assert "ran 1 runs, 15 were already complete" in got.out
    assert (out / sa.INDICES).read_bytes() == before[0]
    assert (out / sa.RUNS).read_bytes() == before[1]
    changed = [a.replace("0.002:0.05", "0.002:0.08") for a in MINIMAL]
    assert main(["sensitivity", *changed, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "different scenario" in err and "\n" not in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--vary", "surveillance.faceid.p_wrong=0.05:0.01"], "give lo < hi"),
        (["--vary", "surveillance.faceid.p_wrong=0.01:0.01"], "give lo < hi"),
        (["--vary", "surveillance.faceid.p_wrong=low:0.1"], "give a number"),
        (["--vary", "surveillance.faceid.p_wrong=0.01"], "not a range"),
        (["--vary", "surveillance.faceid.mode=0:1"], "not a number"),
        (["--vary", "surveillance.faceid.nope=0:1"], "not a field of scenario"),
        (["--vary", "response.deterrence=0:1:log"], "give lo > 0"),
        (["--vary", "response.deterrence=0.5:0.9", "--samples", "2"], "give at least 4"),
        (
            ["--vary", "response.deterrence=0.5:0.9", "--method", "sobol", "--samples", "8"],
            "give at least 16",
        ),
        (
            ["--vary", "response.deterrence=0.5:0.9", "--method", "sobol", "--samples", "24"],
            "power of 2",
        ),
        (["--vary", "response.deterrence=0.5:0.9", "--metrics", "nonsense"], "not a metric"),
        (["--vary", "response.deterrence=0.5:0.9", "--replicates", "0"], "--replicates 0"),
        (["--assumptions"], "has no [assumptions] table"),
        (["--vary", "response.deterrence=0.5:1.5"], "--vary response.deterrence"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sensitivity", "minimal", "--population", "500", "--days", "5", *args,
                 "--out", str(tmp_path / "o"), "--quiet"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error: ") and "\n" not in err, err
    assert needle in err, err
    assert not (tmp_path / "o" / "runs").exists()  # refused before anything ran


def test_seed_article_declares_its_assumptions_and_group_metrics() -> None:
    import panopticon as pn

    sc = pn.load("seed-article")
    factors = sa.check_factors(sc, sa.assumption_factors(sc))
    keys = [f.key for f in factors]
    assert "surveillance.channels.informant.wrong_person" in keys
    assert "surveillance.faceid.same_group_share" in keys
    for f in factors:
        value = sa.get_dotted(sc.to_dict(), f.key)
        assert f.lo <= value <= f.hi and f.source, f
    names = [m.key for m in sa.available_metrics(sc)]
    assert "records_wrong" in names and "wrongly_sanctioned_person_days" in names
    assert "impact_wrongful_records_women" in names and "impact_records_women" in names
    assert "impact_records_men" not in names  # men are the reference (the larger group)


def test_a_dated_schedule_is_replaced_by_the_sampled_number() -> None:
    import panopticon as pn

    sched = '{steps = [["2018-01-01", 0.02], ["2018-01-10", 0.04]]}'
    sc = pn.load("minimal", [f"behaviors.violation.rate={sched}"], population=500, days=20)
    factors = sa.check_factors(sc, [sa.parse_factor("behaviors.violation.rate=0.01:0.05")])
    values = sa.natural_values(factors, sa.design("morris", factors, 4, 0))
    planned = sa.plan_runs(sc, factors, values, 1, "unused")
    assert {tuple(r[0].point) for r in planned} == {
        (("behaviors.violation.rate", float(v)),) for v in values[:, 0]
    }
    assert all("steps" not in r[0].scenario_toml for r in planned)


@pytest.mark.slow
def test_seed_article_runs_with_group_ratios(tmp_path: Path, one_thread: None) -> None:
    out = tmp_path / "seed"
    code = main(
        ["sensitivity", "seed-article", "--population", "3000", "--days", "60",
         "--vary", "surveillance.channels.informant.wrong_person=0.005:0.08:log",
         "--vary", "surveillance.appeals.p_win_wrongful=0.2:0.9",
         "--samples", "4", "--metrics", "records_wrong,impact_wrongful_records_women",
         "--out", str(out), "--quiet"]
    )  # fmt: skip
    assert code == 0
    runs = pl.read_parquet(out / sa.RUNS)
    ratio = runs.filter(pl.col("metric") == "impact_records_women")
    assert ratio.height == 0  # not asked for
    ratio = runs.filter(pl.col("metric") == "impact_wrongful_records_women")["value"]
    assert ratio.len() == 12 and (ratio.is_nan() | (ratio >= 0)).all()
    idx = pl.read_parquet(out / sa.INDICES).filter(pl.col("metric") == "records_wrong")
    assert idx.sort("rank")["parameter"][0] == "surveillance.channels.informant.wrong_person"
