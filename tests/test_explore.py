"""`panopticon explore`: the parameter logic, the background run, and the page in Chromium.

The unit tests need neither a browser nor a server. The browser tests start the real
command (``python -m panopticon.cli explore ... --no-browser``) on a free port of
127.0.0.1 and drive headless Chromium with Selenium, as tests/test_browser.py does; they
are skipped only when Chromium is missing and ``CI`` is not set. Panel renders every
widget inside shadow roots, so elements are found with a small script that searches
through them (``deepAll``).
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import polars as pl
import pytest

import panopticon as pn
from panopticon.cli import main
from panopticon.core.params import ScenarioError
from panopticon.explore.params import (
    bands_from_cutoffs,
    build_scenario,
    field_bounds,
    grade_cutoffs,
    param_specs,
    widget_values,
)
from panopticon.explore.runner import Job, manifest_fields
from panopticon.scenario.schema import FaceIdFixed, Population, Response, RunSettings

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
HAVE_BROWSER = CHROMIUM.exists() and CHROMEDRIVER.exists()
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
FLAGS = (  # those of tests/test_browser.py, a wider window
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)

# --------------------------------------------------------------------- unit tests


def spec_by_key(sc: Any) -> dict[str, Any]:
    return {s.key: s for s in param_specs(sc)}


def test_widget_ranges_come_from_the_schema() -> None:
    specs = spec_by_key(pn.load("minimal"))
    size = specs["population.size"]
    assert (size.bounds.lo, size.bounds.hi) == (1, 2**31 - 2)
    assert size.kind == "int" and "number of citizens" in size.help.lower()
    assert specs["run.days"].bounds == field_bounds(RunSettings, "days")
    assert specs["run.days"].bounds.hi == 36500
    # a probability: [0, 1], a slider; the help text is the schema's description
    pw = specs["surveillance.faceid.p_wrong"]
    assert (pw.bounds.lo, pw.bounds.hi, pw.slider) == (0.0, 1.0, True)
    assert FaceIdFixed.model_fields["p_wrong"].description in pw.help.lower()
    # deterrence is 0 < x <= 1 (gt, not ge): the open end is kept
    det = specs["response.deterrence"]
    assert det.bounds.lo == 0.0 and det.bounds.lo_open and not det.bounds.hi_open
    assert det.bounds.text() == "0 < x ≤ 1"
    assert Response.model_fields["deterrence"].description in det.help.lower()
    assert field_bounds(Population, "size").contains(1) and not size.bounds.contains(0)


def test_specs_follow_the_scenario() -> None:
    article = spec_by_key(pn.load("seed-article"))
    # scores-mode face identification: gallery and threshold, not p_miss / p_wrong
    assert "surveillance.faceid.gallery" in article
    assert "surveillance.faceid.threshold" in article
    assert "surveillance.faceid.p_miss" not in article
    # a rollout: the camera count of its last date, not a coverage
    assert "surveillance.camera.rollout.2020-12-31" in article
    assert article["surveillance.camera.rollout.2020-12-31"].value == 6.26e8
    assert "surveillance.camera.coverage" not in article
    # one cut-off per grade boundary, one switch per measure, lawful acts have no points
    cuts = [k for k, s in article.items() if s.role == "cutoff"]
    assert cuts == [f"scoring.grades.{g}" for g in ("C", "B", "A", "AA", "AAA")]
    assert article["scoring.grades.C"].value == 600.0
    assert sum(s.role == "measure" for s in article.values()) == 11
    assert "behaviors.posting_criticism.points" not in article


@pytest.mark.parametrize("preset", ["minimal", "city-pilot", "seed-article", "documented"])
def test_unchanged_widgets_give_the_same_scenario(preset: str) -> None:
    sc = pn.load(preset)
    specs = param_specs(sc)
    assert build_scenario(sc, specs, widget_values(specs)).to_toml() == sc.to_toml()


def test_scenario_built_from_widget_values() -> None:
    sc = pn.load("city-pilot", population=1000)
    specs = param_specs(sc)
    values = widget_values(specs)
    values.update(
        {
            "population.size": 3000,
            "surveillance.faceid.p_wrong": 0.05,
            "behaviors.fare_evasion.points": 40,
            "scoring.grades.B": 900.0,
            "sanctions.measures.heating_discount": False,
            "surveillance.channels.informant.enabled": False,
            "response.deterrence": 0.5,
        }
    )
    out = build_scenario(sc, specs, values)
    assert out.population.size == 3000
    assert out.surveillance.faceid.p_wrong == 0.05
    assert out.behaviors["fare_evasion"].points == 40
    # moving B's lower edge moves C's upper edge with it: the bands still tile the range
    assert out.scoring.grades["B"] == (900.0, 960.0)
    assert out.scoring.grades["C"] == (600.0, 900.0)
    assert list(out.scoring.grades) == list(sc.scoring.grades)
    assert "heating_discount" not in out.sanctions.measures
    assert "deposit_free_bikes" in out.sanctions.measures
    assert out.surveillance.channels["informant"].enabled is False
    assert out.response.deterrence == 0.5


def test_refused_widget_values_name_field_value_and_range() -> None:
    sc = pn.load("city-pilot", population=1000)
    specs = param_specs(sc)
    values = widget_values(specs)
    with pytest.raises(ScenarioError, match=r"^error: response\.deterrence: 0: allowed 0 < x ≤ 1$"):
        build_scenario(sc, specs, {**values, "response.deterrence": 0})
    with pytest.raises(ScenarioError, match=r"^error: run\.days: 40000: allowed 1 ≤ x ≤ 36,500$"):
        build_scenario(sc, specs, {**values, "run.days": 40000})
    # within each widget's bounds, but the bands cross: the schema's own message
    with pytest.raises(ScenarioError, match=r"scoring\.grades"):
        build_scenario(sc, specs, {**values, "scoring.grades.B": 1040.0})


def test_cutoffs_round_trip() -> None:
    grades = dict(pn.load("city-pilot").scoring.grades)
    cuts = dict(grade_cutoffs(grades))
    assert bands_from_cutoffs(grades, cuts) == {k: list(v) for k, v in grades.items()}


def test_job_runs_like_the_engine(tmp_path: Path) -> None:
    sc = pn.load("minimal", population=2000, days=30, seed=3)
    job = Job(sc, tmp_path / "explore" / "a").start()
    assert job.wait(120) and job.state == "done", job.error
    assert job.day == 30 and job.result is not None
    ref = pn.run(sc, out=tmp_path / "ref")
    got = job.result
    assert got.timeseries.equals(ref.timeseries)
    assert got.people.equals(ref.people)
    assert got.scenario_toml == ref.scenario_toml
    # the fields the engine writes before a run are the ones the explorer writes
    before = set(manifest_fields(sc))
    assert before <= set(ref.manifest) and before <= set(got.manifest)
    assert set(got.manifest) == set(ref.manifest)
    ts = job.timeseries()
    assert isinstance(ts, pl.DataFrame) and ts.height == 30


def test_job_cancel_writes_nothing(tmp_path: Path) -> None:
    sc = pn.load("minimal", population=2000, days=30, seed=3)
    job = Job(sc, tmp_path / "c")
    job.cancel()  # before it starts: it stops after its first day
    job.start()
    assert job.wait(120)
    assert job.state == "cancelled" and job.day == 1 and job.result is None
    assert not (tmp_path / "c").exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".c")] == []


def test_cli_without_panel_exits_2(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    import panopticon.explore

    monkeypatch.setattr(panopticon.explore, "panel_available", lambda: False)
    assert main(["explore", "minimal", "--no-browser"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        'error: explore: panel is not installed; install it with pip install "panopticon[explore]"'
    ]


def test_cli_bad_input_exits_2(capsys: Any, tmp_path: Path) -> None:
    assert main(["explore", "minimal", "--port", "70000", "--no-browser"]) == 2
    assert capsys.readouterr().err.strip() == "error: --port: 70000: allowed 1 to 65535"
    assert main(["explore", "minimal", "--open", str(tmp_path / "no"), "--no-browser"]) == 2
    assert "error: --open:" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["explore", "minimal", "--open", str(tmp_path / "empty"), "--no-browser"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), err
    assert main(["explore", "minimal", "--days", "0", "--no-browser"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: run.days")


def test_help_does_not_import_panel() -> None:
    code = (
        "import sys; from panopticon.cli.main import build_parser; build_parser(); "
        "print(any(m == 'panel' or m.startswith('panel.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_panel_widgets_carry_bounds_and_help() -> None:
    pytest.importorskip("panel")
    from panopticon.explore.widgets import ParamPanel, css_class

    sc = pn.load("minimal", population=2000, days=30)
    panel = ParamPanel(param_specs(sc))
    size = panel.widgets["population.size"]
    assert (size.start, size.end, size.value) == (1, 2**31 - 2, 2000)
    assert "number of citizens" in size.description.lower()
    assert css_class("population.size") in size.css_classes
    pw = panel.widgets["surveillance.faceid.p_wrong"]
    assert (pw.start, pw.end, pw.value) == (0.0, 1.0, 0.01)
    det = panel.widgets["response.deterrence"]
    assert det.start > 0  # the open end: 0 itself is not offered
    assert panel.values()["run.days"] == 30


class NoPoll:
    """Stands for a periodic callback outside a server: the test calls `_tick` itself."""

    def stop(self) -> None:
        pass


@pytest.fixture
def explorer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """An Explorer page object, outside any server (its callbacks called directly)."""
    pytest.importorskip("panel")
    import panel

    from panopticon.explore.app import Explorer, Options

    monkeypatch.setattr(panel.state, "add_periodic_callback", lambda *a, **k: NoPoll())
    return Explorer(Options(population=2000, days=30, seed=2, runs_root=tmp_path / "runs"))


def finish(page: Any, timeout: float = 120) -> None:
    """Poll the page's job as its periodic callback would, until the run has ended."""
    t0 = time.monotonic()
    while page._poll is not None and time.monotonic() - t0 < timeout:
        page._tick()
        time.sleep(0.05)
    assert page._poll is None, "the run did not end"


def test_page_runs_cancels_and_compares(explorer: Any, tmp_path: Path) -> None:
    page = explorer
    page.panel.widgets["run.days"].value = 40000  # past the schema's 36,500
    page._on_run()
    assert page.job is None and "error: run.days: 40000" in page.status.object
    page.panel.widgets["run.days"].value = 30
    page._on_run()
    page._on_cancel()
    finish(page)
    assert page.job.state == "cancelled" and "no run folder was written" in page.status.object
    page._on_run()
    finish(page)
    assert page.job.state == "done", page.status.object
    ids = [c for p in page.results.objects for c in p.css_classes if c.startswith("pe-fig-")]
    assert "pe-fig-funnel" in ids and "pe-fig-sanctions" in ids
    first = page.current.path
    assert first == tmp_path / "runs" / "minimal-2"
    # a baseline fixes the seed; the second run compares side by side
    page._on_save_baseline()
    seed = page.panel.widgets["run.seed"]
    assert seed.disabled and seed.value == 2
    page.panel.widgets["sanctions.blacklist.threshold"].value = 996.0
    page._on_run()
    finish(page)
    assert page.current.path == tmp_path / "runs" / "minimal-2-2"
    rows = [o for o in page.compare.objects if type(o).__name__ == "Row"]
    assert len(rows) >= 6
    left = [c for c in rows[0][0].css_classes if c.startswith("pe-")]
    assert "pe-compare-base" in left and "pe-fig-funnel" in left
    assert "pe-compare-current" in rows[0][1].css_classes
    page._on_clear_baseline()
    assert not seed.disabled


def test_preset_switch_keeps_run_settings(explorer: Any) -> None:
    explorer.panel.widgets["population.size"].value = 3000
    explorer.preset.value = "city-pilot"
    keys = set(explorer.panel.widgets)
    assert "sanctions.measures.heating_discount" in keys and "scoring.grades.C" in keys
    assert explorer.panel.widgets["population.size"].value == 3000
    assert explorer.panel.widgets["run.days"].value == 30
    assert explorer.scenario().name == "city-pilot"


def test_open_read_only_and_downloads(explorer: Any, small_run: Any) -> None:
    import zipfile

    folder = small_run.path
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}
    explorer.open_folder(folder)
    assert explorer.current_read_only and explorer.current.path == folder
    assert not explorer.download_zip.disabled and not explorer.download_report.disabled
    report = explorer._report().getvalue()
    assert report.startswith(b"<!DOCTYPE html>") and b"panopticon-figures" in report
    names = zipfile.ZipFile(explorer._zip()).namelist()
    assert f"{folder.name}/manifest.json" in names and f"{folder.name}/people.parquet" in names
    # read-only: nothing written into the folder, nothing changed
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*")} == before
    explorer.open_folder(folder / "missing")
    assert "Cannot open" in explorer.status.object


# ------------------------------------------------------------------ browser tests

DEEP = """
window.deepIn = function(root, sel) {
  // elements matching `sel` under `root`, through every shadow root on the way
  const out = [...root.querySelectorAll(sel)];
  for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) out.push(...deepIn(el.shadowRoot, sel));
  }
  return out;
};
window.deepAll = (sel) => deepIn(document, sel);
// elements matching `sel` inside the widgets or panes with class `cls`
window.under = (cls, sel) => deepAll('.' + cls).flatMap(h => deepIn(h.shadowRoot || h, sel));
window.inside = (cls, sel) => under(cls, sel);
// per plotly div inside `cls`: how many drawn paths (a non-empty `d`) its SVG holds
window.marks = (cls) => under(cls, '.js-plotly-plot').map(p => [...p.querySelectorAll(
  'svg.main-svg path')].filter(e => (e.getAttribute('d') || '').length > 4).length);
window.textOf = function(cls) {
  // the visible text of the first widget or pane with class `cls`
  const h = deepAll('.' + cls)[0];
  if (!h) return '';
  return h.shadowRoot ? [...h.shadowRoot.children].filter(c => c.tagName !== 'STYLE')
                          .map(c => c.innerText || '').join(' ')
                      : h.innerText;
};
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The explorer served by the real command on a free port, until the module ends."""
    if not HAVE_BROWSER and not os.environ.get("CI"):
        pytest.skip("Chromium is not installed (apt-get install chromium chromium-driver)")
    pytest.importorskip("panel")
    runs = tmp_path_factory.mktemp("explore-runs")
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "panopticon.cli",
        "explore",
        "minimal",
        "--population",
        "2000",
        "--days",
        "30",
        "--seed",
        "1",
        "--port",
        str(port),
        "--runs",
        str(runs),
        "--no-browser",
    ]
    log = open(runs / "server.log", "w")  # closed below
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    if proc.poll() is not None:
        log.close()
        pytest.fail("the explorer did not start: " + (runs / "server.log").read_text())
    yield {"url": url, "runs": runs, "proc": proc}
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def driver(app: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    d = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=opts)
    d.set_page_load_timeout(60)
    yield d
    d.quit()


def js(driver: Any, script: str, *args: Any) -> Any:
    return driver.execute_script(DEEP + script, *args)


def wait_for(driver: Any, script: str, timeout: float = 60, *args: Any) -> Any:
    """Poll a script until it returns something truthy; that value."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        got = js(driver, script, *args)
        if got:
            return got
        time.sleep(0.25)
    raise AssertionError(
        f"timed out after {timeout} s waiting for: {script}; the page says: {status(driver)!r}"
    )


def click(driver: Any, cls: str) -> None:
    """Click the button of the widget with CSS class `cls`."""
    ok = js(
        driver,
        "const b = inside(arguments[0], 'button')[0]; if (!b || b.disabled) return false;"
        "b.click(); return true;",
        cls,
    )
    assert ok, f"no enabled button .{cls}"


def type_into(driver: Any, cls: str, text: str) -> None:
    """Replace the text of the input of widget `cls` as a user would, then press Enter."""
    from selenium.webdriver.common.keys import Keys

    el = js(driver, "return inside(arguments[0], 'input')[0];", cls)
    assert el is not None, f"no input in .{cls}"
    el.send_keys(Keys.END, *[Keys.BACKSPACE] * 24, text, Keys.ENTER)


def status(driver: Any) -> str:
    return str(js(driver, "return textOf('pe-status');"))


def wait_run(driver: Any, cls: str = "pe-final", timeout: float = 90) -> list[int]:
    """Wait for a run's figures: every plotly div under `.cls` drawn; their path counts."""
    wait_for(driver, "return textOf('pe-status').includes('Done');", timeout)
    return wait_for(
        driver,
        "const m = marks(arguments[0]); return m.length > 0 && m.every(n => n > 0) && m;",
        30,
        cls,
    )


def sanctions_data(driver: Any, cls: str = "pe-final") -> str:
    return str(
        js(
            driver,
            "const p = under(arguments[0] + '.pe-fig-sanctions', '.js-plotly-plot')[0];"
            "return p ? JSON.stringify(p.data.map(t => t.y)) : '';",
            cls,
        )
    )


def shoot(driver: Any, name: str) -> None:
    """A small PNG of the page into $PANOPTICON_SCREENSHOTS (docs/img), when set."""
    keep = os.environ.get("PANOPTICON_SCREENSHOTS")
    if not keep:
        return
    from PIL import Image

    img = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    img = img.resize((img.width * 3 // 4, img.height * 3 // 4), Image.LANCZOS)
    img.quantize(colors=128).save(Path(keep) / f"explore-{name}.png", optimize=True)


def console_errors(driver: Any) -> list[dict[str, Any]]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def test_page_loads_without_errors(app: dict[str, Any], driver: Any) -> None:
    driver.get(app["url"])
    wait_for(driver, "return inside('pe-run', 'button').length > 0;", 60)
    # the widgets carry the schema's bounds into the page
    days = js(driver, "return inside('pe-run-days', 'input').map(i => i.value);")
    assert days == ["30"]
    assert "Ready" in status(driver)
    shoot(driver, "before")
    assert console_errors(driver) == []


def assert_local_requests(driver: Any) -> set[str]:
    """No request left 127.0.0.1: every URL (and web socket) asked for since the last call."""
    hosts = set()
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            url = msg["params"]["request"]["url"]
        elif msg["method"] == "Network.webSocketCreated":
            url = msg["params"]["url"]
        else:
            continue
        u = urlparse(url)
        # data:, blob: and the browser's own chrome:// pages never leave the machine
        assert u.scheme in ("http", "https", "ws", "wss", "data", "blob", "chrome"), url
        if u.scheme in ("http", "https", "ws", "wss"):
            hosts.add(str(u.hostname))
    assert hosts <= LOCAL_HOSTS, hosts
    return hosts


def ensure_page(app: dict[str, Any], driver: Any) -> None:
    """The explorer open in the browser (when a test runs alone)."""
    if not js(driver, "return inside('pe-run', 'button').length > 0;"):
        driver.get(app["url"])
        wait_for(driver, "return inside('pe-run', 'button').length > 0;", 60)


def first_run(app: dict[str, Any], driver: Any) -> str:
    """Run once from the page (unless done already); the sanctions figure's data."""
    ensure_page(app, driver)
    if not (Path(app["runs"]) / "minimal-1" / "manifest.json").is_file():
        click(driver, "pe-run")
    marks = wait_run(driver)
    assert len(marks) >= 6 and min(marks) > 0  # funnel, records, sanctions, histogram...
    return sanctions_data(driver)


def test_run_from_the_page(app: dict[str, Any], driver: Any) -> None:
    first = first_run(app, driver)
    assert first
    manifest = json.loads((Path(app["runs"]) / "minimal-1" / "manifest.json").read_text())
    assert (manifest["status"], manifest["population"], manifest["days"]) == ("complete", 2000, 30)
    # the funnel is the report's Sankey: its node labels carry the run's totals
    funnel = js(
        driver, "return under('pe-fig-funnel', '.annotation-text').map(a => a.textContent);"
    )
    committed = manifest["totals"]["committed"]
    assert any(f"{committed:,} acts" in t for t in funnel), funnel
    driver.execute_script("window.scrollTo(0, 0);")
    shoot(driver, "after")
    assert console_errors(driver) == []
    hosts = assert_local_requests(driver)
    assert "127.0.0.1" in hosts  # the page and its scripts came from the local server


@pytest.mark.slow
def test_change_and_compare(app: dict[str, Any], driver: Any) -> None:
    first = first_run(app, driver)
    click(driver, "pe-save-baseline")
    # one record (5 points below 1000) now puts a citizen under the threshold
    type_into(driver, "pe-sanctions-blacklist-threshold", "996")
    time.sleep(0.5)
    click(driver, "pe-run")
    wait_for(driver, "return textOf('pe-status').includes('minimal-1-2');", 90)
    wait_run(driver)
    second = sanctions_data(driver)
    assert second and json.loads(second) != json.loads(first)
    scenario = tomllib.loads((Path(app["runs"]) / "minimal-1-2" / "scenario.toml").read_text())
    assert scenario["sanctions"]["blacklist"]["threshold"] == 996
    manifest = json.loads((Path(app["runs"]) / "minimal-1-2" / "manifest.json").read_text())
    assert manifest["seed"] == 1  # the baseline's seed

    # the compare tab: both runs' figures, side by side
    js(
        driver,
        "const t = deepAll('.bk-tab').find(t => t.textContent.trim() === 'Compare');"
        "if (t) t.click(); return !!t;",
    )
    script = "const m = marks(arguments[0]); return m.length > 0 && m.every(n => n > 0) && m;"
    base = wait_for(driver, script, 30, "pe-compare-base")
    cur = wait_for(driver, script, 30, "pe-compare-current")
    assert len(base) == len(cur) >= 6
    assert sanctions_data(driver, "pe-compare-base") == first
    assert sanctions_data(driver, "pe-compare-current") == second
    js(driver, "under('pe-compare-base', '.js-plotly-plot')[0].scrollIntoView(); return 1;")
    shoot(driver, "compare")
    assert console_errors(driver) == []
    assert_local_requests(driver)


@pytest.mark.slow
def test_live_figures_and_cancel(app: dict[str, Any], driver: Any) -> None:
    """A long run from the page (300,000 × 1,095): days drawn as they come, then cancelled."""
    from selenium.webdriver.support.select import Select

    ensure_page(app, driver)
    Select(js(driver, "return inside('pe-preset', 'select')[0];")).select_by_visible_text(
        "seed-article"
    )
    wait_for(driver, "return inside('pe-surveillance-faceid-gallery', 'input').length > 0;", 30)
    type_into(driver, "pe-population-size", "300000")
    type_into(driver, "pe-run-days", "1095")  # a preset switch keeps the days: 30 here
    time.sleep(0.5)
    click(driver, "pe-run")
    # the page answers while the run works: the day count moves, live figures have marks
    days = set()
    t0 = time.monotonic()
    while len(days) < 3 and time.monotonic() - t0 < 120:
        text = status(driver)
        if "day " in text:
            days.add(text.split("day ")[1].split(" ")[0])
        time.sleep(0.3)
    assert len(days) >= 3, days
    got = wait_for(
        driver, "const m = marks('pe-live'); return m.length == 3 && m.every(n => n > 0) && m;", 60
    )
    assert got
    js(driver, "window.scrollTo(0, 0); return 1;")
    shoot(driver, "running")
    click(driver, "pe-cancel")
    wait_for(driver, "return textOf('pe-status').includes('Cancelled');", 60)
    assert "no run folder was written" in status(driver)
    assert not any(p.name.startswith("seed-article") for p in Path(app["runs"]).iterdir())
    assert console_errors(driver) == []
    assert_local_requests(driver)
