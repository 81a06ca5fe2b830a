"""The HTML report: figures present only when the run has their data, PNGs, CLI, bad input."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import panopticon as pn
from panopticon.cli import main
from panopticon.report import build_report, run_summary_html, sankey, write_report
from panopticon.report.data import label_runs
from panopticon.report.features import gini
from panopticon.report.figures import (
    FunnelCounts,
    funnel_counts,
    funnel_diagram,
    run_figures,
    score_edges,
)
from panopticon.report.model import Sankey
from panopticon.report.sankey import layout as sankey_layout

# every run writes score_histogram.parquet, so the score over time is always drawn
BASE_FIGURES = {
    "funnel",
    "records",
    "sanctions",
    "score-distribution",
    "mean-score",
    "score-over-time",
}
PRESET_SIZE = {"population": 5_000, "days": 200, "seed": 1}
# documented's dated court rates held flat: schedule dates must lie within a shortened run
SHORT = ["sanctions.court.perform_share=0.5", "sanctions.court.listing_per_year=1.0"]
# seed-article with the Rongcheng points as they are (not its fitted severity): nobody is
# sanctioned at this size, the case whose captions must say why
UNFITTED = ["scoring.deduction_scale=1"]
SETS = {"documented": SHORT, "seed-article": UNFITTED}


def small_scenario(**over: object) -> pn.Scenario:
    """A small run with sanctions and wrongful sanctions in it (threshold 995)."""
    values = {"surveillance.faceid.p_wrong": 0.1, "sanctions.blacklist.threshold": 995}
    values.update(over)
    return pn.load("minimal", population=10_000, days=60, seed=3).override(values)


@pytest.fixture(scope="module")
def report_run(tmp_path_factory: pytest.TempPathFactory) -> pn.RunResult:
    return pn.run(small_scenario(), out=tmp_path_factory.mktemp("rep") / "run")


@pytest.fixture(scope="module")
def presets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pn.RunResult]:
    """Real runs of every preset, small: what the engine writes, nothing fabricated."""
    d = tmp_path_factory.mktemp("presets")
    return {
        name: pn.run(pn.load(name, SETS.get(name, []), **PRESET_SIZE), out=d / name)
        for name in ("minimal", "city-pilot", "documented", "seed-article")
    }


def figure_ids(html: str) -> set[str]:
    return set(re.findall(r'data-figure="([^"]+)"', html))


def test_minimal_run_report_has_base_figures_only(report_run: pn.RunResult, tmp_path: Path) -> None:
    path = write_report(report_run, tmp_path / "r.html")
    html = path.read_text("utf-8")
    assert figure_ids(html) == BASE_FIGURES
    # self-contained: Plotly inlined once, nothing loaded from elsewhere
    assert html.count("<script src") == 0 and "<link" not in html
    assert len(html) > 3_000_000 and "Plotly.newPlot" in html
    assert "<meta name='panopticon-figures' content='6'>" in html
    # what is left out is listed with the reason, never drawn empty
    left = html[html.index("Figures left out") :]
    for title in ("Grade shares", "demographic group", "Access to scarce goods", "Social ties"):
        assert title in left
    # the summary has headline numbers, parameters and the manifest
    t = report_run.totals
    assert f"{t['sanctioned_wrongly']:,}" in html
    assert "surveillance.faceid.p_wrong" in html and "panopticon version" in html
    assert "Every citizen in this report is synthetic" in html


def test_funnel_flows_add_up(report_run: pn.RunResult) -> None:
    runs = label_runs([report_run])
    figures, _ = run_figures(runs)
    sk = next(f for f in figures if f.id == "funnel").sankey
    assert sk is not None
    t = report_run.totals

    def flow(src: str, dst: str) -> float:
        s = next(i for i, lab in enumerate(sk.labels) if lab.startswith(src))
        d = next(i for i, lab in enumerate(sk.labels) if lab.startswith(dst))
        return sum(
            v
            for a, b, v in zip(sk.sources, sk.targets, sk.values, strict=True)
            if a == s and b == d
        )

    assert flow("committed", "seen") + flow("committed", "not seen") == t["committed"]
    assert flow("committed", "seen") == t["observed"]
    assert flow("seen", "not identified") == t["missed"]
    assert flow("seen", "identified") == t["attributed_correct"] + t["attributed_wrong"]
    into_end = sum(flow("scored", k) for k in ("rightly", "wrongly", "not sanctioned"))
    assert into_end == t["attributed_correct"] + t["attributed_wrong"]
    wrong_node = next(lab for lab in sk.labels if lab.startswith("wrongly sanctioned"))
    assert f"{t['sanctioned_wrongly']:,} people" in wrong_node and t["sanctioned_wrongly"] > 0
    # red flows carry exactly the wrongful records
    red = sum(
        v
        for a, v, c in zip(sk.sources, sk.values, sk.colors, strict=True)
        if c == "#e45756" and sk.labels[a].startswith("seen")
    )
    assert red == t["attributed_wrong"]


def test_funnel_conserves_flows_with_channels_delays_and_appeals(tmp_path: Path) -> None:
    """The city-pilot preset has several channels, delays and appeals, and grades."""
    run = pn.run(pn.load("city-pilot", population=5_000, days=60, seed=1), out=tmp_path / "cp")
    figures, _ = run_figures(label_runs([run]))
    ids = {f.id for f in figures}
    assert "grades" in ids and "funnel" in ids
    sk = next(f for f in figures if f.id == "funnel").sankey
    assert sk is not None
    n = len(sk.labels)
    inflow, outflow = np.zeros(n), np.zeros(n)
    for a, b, v in zip(sk.sources, sk.targets, sk.values, strict=True):
        outflow[a] += v
        inflow[b] += v
    t = run.totals
    assert outflow[0] == t["committed"]
    for k in range(1, 6):  # seen, not seen, not identified, identified, recorded
        if outflow[k] > 0:
            assert outflow[k] == pytest.approx(inflow[k]), sk.labels[k]
    recorded = next(i for i, lab in enumerate(sk.labels) if lab.startswith("recorded"))
    assert inflow[recorded] == t["attributed_correct"] + t["attributed_wrong"]


def test_gini() -> None:
    assert gini(np.ones(10)) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 1.0])) == pytest.approx(0.75)
    assert gini(np.zeros(5)) == 0.0
    assert gini(np.array([1.0, 2, 3, 4])) == pytest.approx(0.25)


def test_png_per_figure(report_run: pn.RunResult, tmp_path: Path) -> None:
    from PIL import Image

    write_report(report_run, tmp_path / "r.html", png_dir=tmp_path / "png")
    pngs = sorted(p.stem for p in (tmp_path / "png").glob("*.png"))
    assert set(pngs) == BASE_FIGURES
    for name in pngs:
        im = np.asarray(Image.open(tmp_path / "png" / f"{name}.png").convert("L"))
        assert im.shape[0] > 500 and (im < 200).mean() > 0.01, name


def test_several_runs_overlay(report_run: pn.RunResult, tmp_path: Path) -> None:
    off = pn.run(small_scenario(**{"surveillance.camera.enabled": False}), out=tmp_path / "off")
    html, figures = build_report([report_run, off])
    ids = figure_ids(html)
    assert {"funnel-1", "funnel-2", "records", "sanctions"} <= ids
    sanctions = next(f for f in figures if f.id == "sanctions")
    assert len(sanctions.series) == 4
    assert "run − off" not in html  # labels are the folder names
    assert f"{off.path.name} − {report_run.path.name}" in html
    assert "surveillance.camera.enabled" in html


def test_cli_report_and_run_flag(
    report_run: pn.RunResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(report_run.path, copy)
    assert main(["report", str(copy)]) == 0
    assert (copy / "report.html").exists()
    assert (
        main(
            [
                "report",
                str(copy),
                str(report_run.path),
                "-o",
                str(tmp_path / "both.html"),
                "--png",
                str(tmp_path / "figs"),
            ]
        )
        == 0
    )
    assert (tmp_path / "both.html").exists() and (tmp_path / "figs" / "funnel-2.png").exists()
    out = tmp_path / "withreport"
    assert (
        main(
            [
                "run",
                "minimal",
                "--population",
                "3000",
                "--days",
                "30",
                "--out",
                str(out),
                "--report",
                "-q",
            ]
        )
        == 0
    )
    assert (out / "report.html").exists()
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_bad_input_exits_2(
    report_run: pn.RunResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def err(*args: str) -> str:
        capsys.readouterr()
        assert main(list(args)) == 2
        e = capsys.readouterr().err.strip()
        assert e.startswith("error: ") and "Traceback" not in e
        return e

    (tmp_path / "empty").mkdir()
    assert "not a run folder" in err("report", str(tmp_path / "empty"))
    assert "no such folder" in err("report", str(tmp_path / "nope"))
    broken = tmp_path / "broken"
    shutil.copytree(report_run.path, broken)
    m = json.loads((broken / "manifest.json").read_text())
    m.update(status="incomplete", error="interrupted")
    (broken / "manifest.json").write_text(json.dumps(m))
    e = err("report", str(broken))
    assert "incomplete" in e and "interrupted" in e
    assert "is a folder" in err("report", str(report_run.path), "-o", str(tmp_path))
    (tmp_path / "file").write_text("x")
    assert "--png" in err(
        "report",
        str(report_run.path),
        "-o",
        str(tmp_path / "a.html"),
        "--png",
        str(tmp_path / "file"),
    )
    assert not (tmp_path / "a.html").exists()


def test_repr_html(report_run: pn.RunResult) -> None:
    html = report_run._repr_html_()
    assert html == run_summary_html(report_run)
    assert "minimal" in html and "10,000 citizens" in html
    assert f"{report_run.totals['sanctioned_wrongly']:,}" in html
    assert len(html) < 5_000


# ------------------------------------------------------- real presets, declared outputs

PRESET_FIGURES = {
    "minimal": BASE_FIGURES,
    "city-pilot": BASE_FIGURES | {"grades"},
    "documented": BASE_FIGURES
    | {"lists", "grades-score", "grades-sesame", "degree", "access", "access-gini"},
    "seed-article": BASE_FIGURES
    | {"grades", "group-rates", "group-impact", "region-rates", "region-impact"}
    | {"access", "access-gini", "degree"},
}


@pytest.mark.parametrize("name", sorted(PRESET_FIGURES))
def test_preset_figures_from_declarations(presets: dict[str, pn.RunResult], name: str) -> None:
    run = presets[name]
    assert "outputs" in run.manifest
    figures, _ = run_figures(label_runs([run]))
    assert {f.id for f in figures} == PRESET_FIGURES[name]
    by_id = {f.id: f for f in figures}
    outputs = run.manifest["outputs"]
    if "lists" in by_id:  # one solid line per declared list, dashed for its wrongful part
        lists = [c for c, d in outputs["timeseries"].items() if d["family"] == "listed"]
        assert len(by_id["lists"].series) == len(lists)
    if "degree" in by_id:
        decl = sorted(outputs["timeseries"].values(), key=lambda d: d["position"])
        grades = [d["key"] for d in decl if d["family"] == "degree"]
        assert [s.name for s in by_id["degree"].series] == grades
    if "access" in by_id:  # the share allocated among the last round's applicants
        people = sorted(outputs["people"].items(), key=lambda kv: kv[1]["position"])
        access = [c for c, d in people if d["family"] == "access"]
        assert len(by_id["access"].series) == len(access)
        p = run.people.with_columns(pl.all().cast(pl.String))
        s = by_id["access"].series[0]
        good = access[0]
        for g, share in zip(s.x, s.y, strict=True):
            applied = p.filter((pl.col("grade") == g) & (pl.col(good) != "none"))
            if applied.height:
                assert share == pytest.approx((applied[good] == "allocated").mean())
            else:
                assert np.isnan(share) and f"{good}" in by_id["access"].caption
    if "group-rates" in by_id:
        p = run.people.with_columns(
            (pl.col("records_correct").cast(pl.Int64) + pl.col("records_wrong")).alias("rec"),
            pl.col("group").cast(pl.String),
        )
        rates = by_id["group-rates"].series[0]
        for g, y in zip(rates.x, rates.y, strict=True):
            sel = p.filter(pl.col("group") == g)
            assert y == pytest.approx(1e5 * sel["rec"].sum() / sel.height)


def test_folder_without_outputs_falls_back_to_names(
    presets: dict[str, pn.RunResult], tmp_path: Path
) -> None:
    """A run folder from before manifest["outputs"]: the old name rules give the same."""
    old = tmp_path / "old"
    shutil.copytree(presets["documented"].path, old)
    m = json.loads((old / "manifest.json").read_text())
    del m["outputs"]
    (old / "manifest.json").write_text(json.dumps(m))
    new_figs, _ = run_figures(label_runs([presets["documented"]]))
    old_figs, _ = run_figures(label_runs([pn.open_run(old)]))
    assert [f.id for f in old_figs] == [f.id for f in new_figs]
    for a, b in zip(old_figs, new_figs, strict=True):
        if a.id == "mean-score":  # the old rules knew only mean_score, not other policies'
            continue
        assert len(a.series) == len(b.series), a.id
        if not a.id.startswith("access"):  # goods were labelled by column name alone
            assert [s.name for s in a.series] == [s.name for s in b.series]


# ------------------------------------------------------------ a report never misleads


def _assert_readable(sk: Sankey) -> None:
    lay = sankey_layout(sk)
    boxes = lay.labels
    for i, a in enumerate(boxes):
        assert 0 <= a.x0 and a.x1 <= lay.width and sankey.TOP <= a.y0 and a.y1 <= lay.height
        for j, b in enumerate(boxes[i + 1 :], i + 1):
            assert not a.intersects(b), (sk.labels[i], sk.labels[j])
        for k, node in enumerate(lay.nodes):
            assert not a.intersects(node), (sk.labels[i], sk.labels[k])
    assert all(n.y0 >= sankey.TOP for n in lay.nodes)  # the toolbar's place stays free
    assert all(b.thickness >= sankey.MIN_BAND for b in lay.bands)  # small flows show


@pytest.mark.parametrize("scale", [1, 200, 10_000])
def test_sankey_labels_never_overlap(presets: dict[str, pn.RunResult], scale: int) -> None:
    """At the presets' magnitudes, up to the 10^6 x 3-year seed-article's counts and beyond."""
    for run in presets.values():
        c = funnel_counts(label_runs([run])[0])
        for f in ("committed", "seen", "missed", "ok", "bad", "removed_ok", "removed_bad"):
            setattr(c, f, getattr(c, f) * scale)
        c.outcomes = [(n, p * scale, rc * scale, rw * scale) for n, p, rc, rw in c.outcomes]
        _assert_readable(funnel_diagram(c))


def test_sankey_at_the_newcomers_numbers() -> None:
    """seed-article at 10^6: "scored 4,952,387" ran into "7,211 people with a record"."""
    c = FunnelCounts(
        committed=21_611_008,
        seen=6_362_102,
        missed=1_370_314,
        ok=4_958_270,
        bad=7_359,
        removed_ok=1_000,
        removed_bad=3_136,
        channels=6,
        outcomes=[
            ("rightly sanctioned", 7_211, 40_000, 10),
            ("wrongly sanctioned", 12, 0, 31),
            ("not sanctioned", 877_138, 4_912_387, 4_182),
        ],
    )
    sk = funnel_diagram(c)
    _assert_readable(sk)
    red = [b for b, col in zip(sankey_layout(sk).bands, sk.colors, strict=True) if col == "#e45756"]
    assert red and min(b.thickness for b in red) >= sankey.MIN_BAND


def test_histogram_bins_on_the_score_grid() -> None:
    """Scores on a grid of period 5 (1000 ± steps of 5, and 3 off it): no alternating bars."""
    rng = np.random.default_rng(0)
    on = 1000 + 5 * rng.integers(-40, 20, 50_000)
    off = 1000 + 5 * rng.integers(-40, 20, 5_000) + 3
    scores = np.concatenate([np.full(200_000, 1000), on, off])
    edges = score_edges([scores])
    width = edges[1] - edges[0]
    assert width % 5 == 0 and np.all(np.diff(edges) == width)
    grid = np.unique(on)
    per_bin = np.histogram(grid, bins=edges)[0]
    inner = per_bin[(edges[:-1] > grid.min()) & (edges[1:] < grid.max())]
    assert inner.size and np.all(inner == inner[0])
    assert edges[0] <= scores.min() and edges[-1] > scores.max()


def test_captions_say_what_the_data_show(presets: dict[str, pn.RunResult]) -> None:
    figures, _ = run_figures(label_runs([presets["seed-article"]]))
    by_id = {f.id: f for f in figures}
    run = presets["seed-article"]
    assert run.totals["sanctioned"] == 0
    # an empty figure says why, in words
    assert "Nobody was sanctioned" in by_id["sanctions"].caption
    assert "threshold of 600" in by_id["sanctions"].caption
    # a threshold off the data is not drawn on the axis; the caption says where it is
    hist = by_id["score-distribution"]
    assert hist.vline is None and "below every score" in hist.caption
    assert "writes no per-day score distribution" not in hist.caption
    # "ties dropped" only as the run counted them
    dropped = int(run.timeseries["ties_dropped"].sum())
    cap = by_id["degree"].caption
    assert f"{dropped:,} ties were dropped" in cap
    if dropped == 0:
        assert "No tie was dropped" in cap and "lost ties while" not in cap


def test_threshold_line_on_the_axis_when_inside(report_run: pn.RunResult) -> None:
    figures, _ = run_figures(label_runs([report_run]))
    hist = next(f for f in figures if f.id == "score-distribution")
    edges = np.asarray(hist.series[0].x)
    assert hist.vline == 995 and edges[0] <= 995 <= edges[-1]


def test_small_wrongful_series_get_their_own_axis(presets: dict[str, pn.RunResult]) -> None:
    figures, _ = run_figures(label_runs([presets["city-pilot"]]))
    records = next(f for f in figures if f.id == "records")
    innocent = next(s for s in records.series if s.name.startswith("against an innocent"))
    actor = next(s for s in records.series if s.name.startswith("against the actor"))
    if 0 < innocent.y.max() < 0.1 * actor.y.max():
        assert innocent.right and records.y2label


def test_key_parameters_are_those_the_scenario_uses(presets: dict[str, pn.RunResult]) -> None:
    html, _ = build_report([presets["seed-article"]])
    key = html[html.index("Key parameters") : html.index("All other parameters")]
    assert "surveillance.camera.model" in key and "rollout" in key
    assert "surveillance.camera.rollout.2018-01-01" in key
    assert "surveillance.camera.coverage" not in key
    assert "surveillance.faceid.gallery" in key and "surveillance.faceid.p_wrong" not in key
    html, _ = build_report([presets["minimal"]])
    key = html[html.index("Key parameters") : html.index("All other parameters")]
    assert "surveillance.camera.coverage" in key and "surveillance.faceid.p_wrong" in key
