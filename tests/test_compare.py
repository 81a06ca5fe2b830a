"""`panopticon compare`: headline metrics side by side, differences, overlay report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import panopticon as pn
from panopticon.analysis.compare import compare_text, scenario_differences
from panopticon.analysis.headline import METRICS, headline
from panopticon.cli import main


@pytest.fixture(scope="module")
def on_off(tmp_path_factory: pytest.TempPathFactory) -> tuple[pn.RunResult, pn.RunResult]:
    root = tmp_path_factory.mktemp("cmp")
    sc = pn.load("minimal", population=8_000, days=45, seed=5).override(
        {"sanctions.blacklist.threshold": 995, "surveillance.faceid.p_wrong": 0.1}
    )
    on = pn.run(sc, out=root / "watched")
    off = pn.run(sc.override({"surveillance.camera.enabled": False}), out=root / "unwatched")
    return on, off


def test_compare_text(on_off: tuple[pn.RunResult, pn.RunResult]) -> None:
    on, off = on_off
    text = compare_text([on, off])
    assert "surveillance.camera.enabled" in text and "true" in text and "false" in text
    assert [k for k, _ in scenario_differences([on, off])] == ["surveillance.camera.enabled"]
    for m in METRICS:
        assert m.label in text
    h_on, h_off = headline(on), headline(off)
    assert h_off["records"] == 0 and h_on["records"] > 0
    line = next(x for x in text.splitlines() if x.startswith("records made"))
    cells = re.split(r"\s{2,}", line.strip())
    assert cells[1:4] == [f"{h_on['records']:,.0f}", "0", f"{-h_on['records']:+,.0f}"]
    assert cells[4] == "-100.0%"
    # runs without surveillance commit more (no deterrence)
    assert h_off["committed"] > h_on["committed"]


def test_compare_cli(
    on_off: tuple[pn.RunResult, pn.RunResult], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    on, off = on_off
    assert (
        main(
            [
                "compare",
                str(on.path),
                str(off.path),
                "--html",
                str(tmp_path / "c.html"),
                "--png",
                str(tmp_path / "png"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "A: watched" in out and "B: unwatched" in out and "difference" in out
    html = (tmp_path / "c.html").read_text("utf-8")
    assert 'data-figure="funnel-1"' in html and 'data-figure="funnel-2"' in html
    assert (tmp_path / "png" / "sanctions.png").exists()
    # the same run twice: no scenario differences, zero differences
    assert main(["compare", str(on.path), str(on.path)]) == 0
    assert "scenario differences: none" in capsys.readouterr().out


def test_compare_bad_input(
    on_off: tuple[pn.RunResult, pn.RunResult], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    on, _ = on_off
    assert main(["compare", str(on.path)]) == 2
    assert "at least two run folders" in capsys.readouterr().err
    (tmp_path / "x").mkdir()
    assert main(["compare", str(on.path), str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a run folder" in err
