"""The reports in a real browser: headless Chromium renders every figure, without errors.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them). Skipped
only when Chromium is missing and ``CI`` is not set; under CI a missing browser fails.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import panopticon as pn
from panopticon.cli import main
from panopticon.report import write_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
)

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()) and not os.environ.get("CI"):
    pytest.skip(
        "Chromium is not installed (apt-get install chromium chromium-driver; .ci/run does)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # the Debian driver, explicitly: no Selenium Manager, no downloads
    d = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=opts)
    d.set_page_load_timeout(60)
    yield d
    d.quit()


def check_page(driver: Any, html: Path, shot: Path) -> int:
    """Open a report; assert every figure rendered, no console errors, a non-blank page."""
    from PIL import Image
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(html.resolve().as_uri())
    expected = int(
        driver.find_element(By.CSS_SELECTOR, "meta[name='panopticon-figures']").get_attribute(
            "content"
        )
    )
    sections = driver.find_elements(By.CSS_SELECTOR, "section.figure")
    assert expected > 0 and len(sections) == expected

    def all_drawn(d: Any) -> bool:
        return bool(
            d.execute_script(
                "return Array.from(document.querySelectorAll('section.figure')).every("
                "s => s.querySelector('.plot.js-plotly-plot svg.main-svg') !== null"
                " && s.querySelector('.plot').getBoundingClientRect().height > 200)"
            )
        )

    WebDriverWait(driver, 60).until(all_drawn)
    # every figure holds marks, not an empty frame: traces, bars, links or heatmap cells
    empty = driver.execute_script(
        "return Array.from(document.querySelectorAll('section.figure')).filter(s => "
        "s.querySelectorAll('.plot .trace, .plot .point, .plot .sankey-link, "
        ".plot .hm, .plot image').length === 0).map(s => s.id)"
    )
    assert empty == []
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == [], errors
    driver.save_screenshot(str(shot))
    png = np.asarray(Image.open(io.BytesIO(shot.read_bytes())).convert("RGB")).astype(int)
    assert png.shape[0] > 500
    assert png.std() > 20 and len(np.unique(png.reshape(-1, 3), axis=0)) > 50
    return expected


def test_run_report_renders(driver: Any, tmp_path: Path) -> None:
    from test_report import small_scenario

    run = pn.run(small_scenario(), out=tmp_path / "run")
    n = check_page(driver, write_report(run, tmp_path / "run.html"), tmp_path / "run.png")
    assert n == 6  # funnel, records, sanctions, histograms, score over time, mean score
    # a real run with every feature figure: groups, grades, lists, access, ties
    sc = pn.load("seed-article", population=5000, days=200, seed=1)
    rich = pn.run(sc, out=tmp_path / "rich")
    n = check_page(driver, write_report(rich, tmp_path / "rich.html"), tmp_path / "rich.png")
    assert n >= 12
    keep = os.environ.get("PANOPTICON_SCREENSHOTS")
    if keep:
        shutil.copy(tmp_path / "run.png", Path(keep) / "report.png")


def test_sweep_report_renders(driver: Any, tmp_path: Path) -> None:
    out = tmp_path / "sw"
    assert (
        main(
            [
                "sweep",
                "minimal",
                "--population",
                "3000",
                "--days",
                "30",
                "--vary",
                "surveillance.faceid.p_wrong=0.05,0.2",
                "--replicates",
                "2",
                "--out",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    assert check_page(driver, out / "report.html", tmp_path / "sweep.png") >= 10
