"""`run --replicates`: per-seed run folders, a summary with t intervals; `compare` of sets.

Small populations (2,000 x 30 days); every replicate runs in this process (--jobs 1).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

import panopticon as pn
from panopticon.analysis.headline import headline
from panopticon.analysis.replicates import open_set, paired, t_interval
from panopticon.cli import main

SMALL = ["--population", "2000", "--days", "30", "--seed", "3"]


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_t_interval_by_hand() -> None:
    """mean ± t(0.975, n−1)·sd/√n, cut to the format's range; no interval for one value."""
    iv = t_interval([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)
    assert (iv.mean, iv.sd) == (2.0, 1.0)
    assert iv.lo == pytest.approx(2 - half) and iv.hi == pytest.approx(2 + half)
    assert t_interval([0.0, 0.0, 3.0], "count").lo == 0.0  # a count is never below 0
    assert t_interval([0.0, 0.0, 3.0]).lo < 0  # a difference may be
    share = t_interval([0.0, 1.0, 1.0], "share")
    assert share.lo >= 0.0 and share.hi == 1.0
    one = t_interval([5.0], "count")
    assert one.mean == 5.0 and one.lo is None and one.sd is None
    # coverage: the interval of the mean of 4 normal draws covers the true mean ~95%
    rng = np.random.default_rng(1)
    trials = 4000
    hits = sum(
        (lambda v: v.lo <= 0.0 <= v.hi)(t_interval(list(rng.normal(0, 1, 4))))
        for _ in range(trials)
    )
    # binomial(4000, 0.95): sd 0.0034, so 5 sd either side is [0.933, 0.967]
    assert abs(hits / trials - 0.95) < 5 * math.sqrt(0.95 * 0.05 / trials)


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Replicate sets of 3 seeds: A (base), B (p_wrong 0.2), C (base, seeds 100..102)."""
    root = tmp_path_factory.mktemp("reps")
    out = {"A": root / "a", "B": root / "b", "C": root / "c"}
    argv = ["run", "minimal", *SMALL, "--replicates", "3", "-q"]
    assert main([*argv, "--out", str(out["A"])]) == 0
    b_set = ["--set", "surveillance.faceid.p_wrong=0.2"]
    assert main([*argv, *b_set, "--out", str(out["B"])]) == 0
    assert main([*argv, "--seed", "100", "--out", str(out["C"])]) == 0
    return out


def test_replicate_folders_and_summary(sets: dict[str, Path], tmp_path: Path) -> None:
    """rep0..rep2 hold seeds 3..5; summary.json is each metric's mean and t interval."""
    a = sets["A"]
    assert sorted(p.name for p in a.iterdir()) == [
        "rep0",
        "rep1",
        "rep2",
        "replicates.json",
        "summary.json",
    ]
    runs = [pn.RunResult(a / f"rep{r}") for r in range(3)]
    assert [r.manifest["seed"] for r in runs] == [3, 4, 5]
    # a replicate is the plain run of its seed, byte for byte
    alone = pn.run(pn.load("minimal", population=2000, days=30, seed=4), out=tmp_path / "s4")
    for name in ("people.parquet", "timeseries.parquet"):
        assert alone.manifest["files"][name] == runs[1].manifest["files"][name]
    summary = json.loads((a / "summary.json").read_text("utf-8"))
    assert summary["seeds"] == [3, 4, 5] and "t(0.975, R−1)" in summary["interval"]
    by_key = {m["key"]: m for m in summary["metrics"]}
    assert "wall_seconds" not in by_key  # about the computer, not the model
    heads = [headline(r) for r in runs]
    for key in ("committed", "records", "wrongful_record_share", "mean_score"):
        values = [h[key] for h in heads]
        m = by_key[key]
        assert m["values"] == values
        assert m["mean"] == pytest.approx(sum(values) / 3)
        half = stats.t.ppf(0.975, 2) * stats.tstd(values) / math.sqrt(3)
        assert m["lo"] == pytest.approx(max(m["mean"] - half, 0.0))
        assert m["hi"] == pytest.approx(m["mean"] + half)
        assert m["lo"] < m["hi"]


def test_run_replicates_prints_resumes_and_refuses(
    sets: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The printed summary; the same command again runs nothing; another scenario is refused."""
    a = sets["A"]
    stamps = {r: (a / r / "manifest.json").stat().st_mtime_ns for r in ("rep0", "rep1", "rep2")}
    assert main(["run", "minimal", *SMALL, "--replicates", "3", "--out", str(a)]) == 0
    cap = capsys.readouterr()
    assert "3 already complete, 0 to run" in cap.err
    assert "95% interval" in cap.out and "acts committed" in cap.out
    assert "3 replicates (seeds 3..5)" in cap.out
    assert stamps == {r: (a / r / "manifest.json").stat().st_mtime_ns for r in stamps}
    other = ["run", "minimal", *SMALL, "--days", "20", "--replicates", "3", "-q", "--out", str(a)]
    assert main(other) == 2
    assert "pass --overwrite" in _one_line_error(capsys)


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--replicates", "1"], "error: --replicates 1: not allowed; give an integer >= 2"),
        (["--replicates", "0"], "error: --replicates 0: not allowed"),
        (["--replicates", "2", "--jobs", "0"], "error: --jobs 0: not allowed"),
        (["--jobs", "2"], "error: --jobs: only with --replicates"),
        (["--backend", "ray"], "error: --backend: only with --replicates"),
        (["--replicates", "2", "--report"], "error: --report: not with --replicates"),
        (["--replicates", "2", "--checkpoint-every", "5"], "error: --checkpoint-every: not"),
    ],
)
def test_run_replicates_bad_input(
    extra: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "minimal", "--population", "1000", "--days", "5", "-q"]
    assert main([*argv, *extra, "--out", str(tmp_path / "x")]) == 2
    assert _one_line_error(capsys).startswith(says)
    assert not (tmp_path / "x").exists()


def test_national_figures_scaled_with_intervals(tmp_path: Path) -> None:
    """A sampled nation: the national mean and interval are the sample's times the scale."""
    argv = ["run", "minimal", "--population", "1000", "--days", "20", "--replicates", "2"]
    argv += ["--set", "population.represents=1e6", "-q", "--out", str(tmp_path)]
    assert main(argv) == 0
    summary = json.loads((tmp_path / "summary.json").read_text("utf-8"))
    assert "times 1,000" in summary["national"]
    by_key = {m["key"]: m for m in summary["metrics"]}
    nat = by_key["committed"]["national"]
    assert nat["mean"] == pytest.approx(1000 * by_key["committed"]["mean"])
    assert nat["lo"] == pytest.approx(1000 * by_key["committed"]["lo"])
    assert by_key["wrongful_record_share"]["national"] is None  # a share is not scaled


def test_compare_sets_pairs_by_seed(
    sets: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """B − A per metric is the mean of per-seed differences, with its t interval."""
    assert main(["compare", str(sets["A"]), str(sets["B"])]) == 0
    out = capsys.readouterr().out
    assert "paired by seed (common random numbers)" in out
    assert "surveillance.faceid.p_wrong" in out and "95% paired interval" in out
    a, b = open_set(sets["A"]), open_set(sets["B"])
    seeds, rows = paired(a, b)
    assert seeds == [3, 4, 5]
    row = {p.metric.key: p for p in rows}["records_wrong"]
    diffs = [
        headline(b.runs[s])["records_wrong"] - headline(a.runs[s])["records_wrong"] for s in seeds
    ]
    assert row.diff.mean == pytest.approx(sum(diffs) / 3)
    half = stats.t.ppf(0.975, 2) * stats.tstd(diffs) / math.sqrt(3)
    assert row.diff.lo == pytest.approx(row.diff.mean - half)
    assert row.diff.lo > 0  # p_wrong 0.01 -> 0.2: more wrongful records, clearly
    # common random numbers: acts committed barely differ between the two scenarios for a
    # seed, while they vary across seeds; the paired difference is far tighter
    committed = {p.metric.key: p for p in rows}["committed"]
    assert committed.diff.sd is not None and committed.a.sd is not None
    assert committed.diff.sd < committed.a.sd / 2


def test_compare_sets_same_runs_and_refusals(
    sets: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A one-point sweep of the same seeds is the same set (differences 0); bad pairs exit 2."""
    sweep = tmp_path / "sw"
    argv = ["sweep", "minimal", *SMALL, "--replicates", "3", "-q", "--no-report"]
    assert main([*argv, "--out", str(sweep)]) == 0
    seeds, rows = paired(open_set(sets["A"]), open_set(sweep))
    assert seeds == [3, 4, 5]
    assert all(p.diff.mean == 0 for p in rows if p.diff.mean == p.diff.mean)
    for r in range(3):  # the same runs, byte for byte
        mine = pn.RunResult(sets["A"] / f"rep{r}").manifest["files"]
        theirs = pn.RunResult(sweep / "runs" / f"rep{r}").manifest["files"]
        assert all(mine[f] == theirs[f] for f in ("people.parquet", "timeseries.parquet"))
    assert main(["compare", str(sets["A"]), str(sweep)]) == 0
    assert "scenario differences: none" in capsys.readouterr().out
    cases: list[tuple[list[Any], str]] = [
        ([sets["A"], sets["C"]], "share no seed"),
        ([sets["A"], sets["A"] / "rep0"], "is a run folder"),
        ([sets["A"], sets["B"], sets["C"]], "3 sets given"),
    ]
    for paths, says in cases:
        assert main(["compare", *map(str, paths)]) == 2
        assert says in _one_line_error(capsys)
    assert (
        main(["compare", str(sets["A"]), str(sets["B"]), "--html", str(tmp_path / "x.html")]) == 2
    )
    assert "not for replicate sets" in _one_line_error(capsys)
