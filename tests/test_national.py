"""National figures scaled from a sample: exact intervals, their coverage, flags, the CLI."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import panopticon as pn
from panopticon.analysis import national
from panopticon.cli import main
from panopticon.report import build_report

Z = 5.0
DRAWS = 20_000


def _coverage_check(covered: np.ndarray, exact: float) -> None:
    """Simulated coverage matches the exact one within Z binomial standard errors, >= 95%."""
    se = math.sqrt(exact * (1 - exact) / covered.size)
    assert abs(covered.mean() - exact) <= Z * se + 1e-12, (covered.mean(), exact)
    assert exact >= 0.95 - 1e-9
    assert covered.mean() >= 0.95 - Z * math.sqrt(0.95 * 0.05 / covered.size)


@pytest.mark.parametrize("mu", [0.3, 2.5, 9.0, 40.0, 400.0])
def test_poisson_interval_covers_95_percent(mu: float) -> None:
    rng = np.random.default_rng(int(mu * 10))
    scale = 14_000.0
    ks = rng.poisson(mu, DRAWS)
    bounds = {int(k): national.national(int(k), scale) for k in np.unique(ks)}
    covered = np.array([bounds[int(k)].lo <= mu * scale <= bounds[int(k)].hi for k in ks])
    # the exact coverage: the probability of the counts whose interval holds mu
    support = np.arange(0, int(mu + 20 * math.sqrt(mu) + 30))
    holds = np.array([lo <= mu <= hi for lo, hi in map(national.poisson_interval, support)])
    _coverage_check(covered, float(stats.poisson.pmf(support, mu)[holds].sum()))


@pytest.mark.parametrize(("n", "p"), [(2_000, 0.0004), (2_000, 0.004), (2_000, 0.3), (50, 0.97)])
def test_binomial_interval_covers_95_percent(n: int, p: float) -> None:
    rng = np.random.default_rng(n + int(p * 1e4))
    scale = 1.4e9 / n
    ks = rng.binomial(n, p, DRAWS)
    bounds = {int(k): national.national(int(k), scale, n) for k in np.unique(ks)}
    truth = p * n * scale
    covered = np.array([bounds[int(k)].lo <= truth <= bounds[int(k)].hi for k in ks])
    support = np.arange(n + 1)
    holds = np.array(
        [lo <= p * n <= hi for lo, hi in (national.binomial_interval(int(k), n) for k in support)]
    )
    _coverage_check(covered, float(stats.binom.pmf(support, n, p)[holds].sum()))


def test_zero_count_interval() -> None:
    lo, hi = national.poisson_interval(0)
    assert lo == 0 and hi == pytest.approx(-math.log(0.025)) and round(hi, 2) == 3.69
    f = national.national(0, 14_000)
    assert f.value == 0 and f.lo == 0 and f.hi == pytest.approx(3.689 * 14_000, rel=1e-3)
    # none of n people: the upper bound solves (1 - p)^n = 0.025
    n = 20_000
    b = national.national(0, 70_000, n)
    assert b.lo == 0 and b.hi == pytest.approx((1 - 0.025 ** (1 / n)) * n * 70_000)
    assert national.binomial_interval(n, n)[1] == n


def test_intervals_scale_with_the_sample() -> None:
    lo, hi = national.poisson_interval(37)
    f = national.national(37, 1_400)
    assert (f.value, f.lo, f.hi, f.method) == (37 * 1_400, lo * 1_400, hi * 1_400, "poisson")
    assert lo < 37 < hi
    b = national.national(37, 1_400, 1_000_000)
    assert b.method == "binomial" and b.lo < b.value < b.hi


def test_flag_below_ten() -> None:
    assert national.national(9, 14_000).few and not national.national(10, 14_000).few
    assert "9 in the sample: very uncertain" in national.format_figure(national.national(9, 1.0))
    assert "uncertain" not in national.format_figure(national.national(10, 1.0))
    one = national.format_figure(national.national(1, 14_000))
    assert one == "14,000 [350, 78,000] (1 in the sample: very uncertain)"
    # large counts keep their interval readable, not rounded onto the value
    big = national.format_interval(national.national(36_996, 70_000))
    assert big == "[2,563,000,000, 2,616,000,000]"


def test_which_columns_scale_how() -> None:
    people = {"total": "last", "unit": "people", "dtype": "int64"}
    assert national.method_for(people) == "binomial"
    assert national.method_for({"total": "sum", "unit": "records", "dtype": "int64"}) == "poisson"
    assert national.method_for({"total": "sum", "unit": "currency", "dtype": "float64"}) is None
    assert national.method_for(None) == "poisson"
    assert national.column_decl("sanctioned", {}) == national.PEOPLE_AT_END
    assert national.for_column(2.5, None, 10.0, 100) is None


def test_cli_summary_gives_every_national_figure_an_interval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sa"
    rc = main(["run", "seed-article", "--population", "3000", "--days", "20", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    header = next(i for i, ln in enumerate(lines) if "nation x" in ln and "95% interval" in ln)
    footer = next(i for i, ln in enumerate(lines) if ln.startswith("National figures are"))
    rows = lines[header + 1 : footer]
    assert len(rows) > 10
    count = re.compile(r"^(.*?)\s{2,}([\d,]+)\s{2,}([\d,]+)\s{2,}\[([\d,]+), ([\d,]+)\]")
    scaled = 0
    for row in rows:
        m = count.match(row)
        if m is None:
            # only amounts and the mean score go unscaled
            assert "currency" in row or row.startswith("mean score"), row
            continue
        scaled += 1
        k, nat, lo, hi = (float(g.replace(",", "")) for g in m.groups()[1:])
        assert nat == pytest.approx(k * 1.4e9 / 3000, abs=0.5)
        assert lo <= nat <= hi and hi > 0
        assert ("very uncertain" in row) == (k < national.FEW), row
    assert scaled >= 10
    foot = " ".join(lines[footer:])
    assert "Poisson (Garwood)" in foot and "binomial (Clopper-Pearson)" in foot

    # the report's summary carries the same figures, in full, with how they are derived
    html, _ = build_report([pn.open_run(out)])
    assert "National figures (95% intervals)" in html and "in the sample: very uncertain" in html
    assert "Poisson (Garwood)" in html


def test_unsampled_run_has_no_national_figures(small_run: pn.RunResult) -> None:
    assert "represents" not in small_run.manifest
    assert national.headline_figures(small_run) == {}
