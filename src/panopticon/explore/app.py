"""The explorer's page: pick a preset, set parameters, run, watch, compare, download.

One :class:`Explorer` per browser session (``pn.serve`` calls :func:`make_page` for each):
its widgets, its background :class:`~panopticon.explore.runner.Job` and its runs. The page
draws with the report's own figure builders (`report.figures.run_figures`, the Sankey of
`report.sankey`, `report.plotly_render.to_plotly`), so the explorer and the HTML report
always show the same numbers. While a run works, a periodic callback of the session polls
the job and redraws the time series of the days so far; when it ends, every figure of the
run is drawn. Served on 127.0.0.1 only, with every script from the local server.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import panel as pn

from panopticon.explore.params import ParamSpec, build_scenario, param_specs
from panopticon.explore.runner import Job, LiveRun, free_folder
from panopticon.explore.widgets import ParamPanel

NOTICE = (
    "Every citizen here is synthetic: Panopticon simulates a social credit system over a "
    "made-up population. No real person is scored or identified."
)
POLL_MS = 300
LIVE_EVERY_MS = 1200  # redraw the live figures at most this often


def configure() -> None:
    """Panel's settings: Plotly loaded, resources from the local server (no CDN)."""
    pn.extension("plotly", design="native", notifications=False)
    pn.config.inline = True  # inline what Panel can, serve the rest from this server


def _color(name: str) -> dict[str, str]:
    """A button colour: `color` in Panel >= 1.8 (`button_type` is deprecated there)."""
    return {"color" if "color" in pn.widgets.Button.param else "button_type": name}


def _figure_pane(title: str, fig: Any, caption: str, cls: str) -> pn.Column:
    """One figure: its title, the Plotly pane and its caption."""
    return pn.Column(
        pn.pane.Markdown(f"### {title}", margin=(0, 10)),
        pn.pane.Plotly(
            fig,
            config={"displaylogo": False, "responsive": True},
            sizing_mode="stretch_width",
            css_classes=["pe-plot"],
        ),
        pn.pane.Markdown(caption, styles={"color": "#4b5563", "font-size": "0.9em"}),
        sizing_mode="stretch_width",
        styles={"overflow-x": "auto"},  # the funnel keeps its width: scroll, do not clip
        css_classes=["pe-figure", *cls.split()],
    )


def run_panes(runs: list[Any], cls: str = "pe-final") -> tuple[list[pn.Column], list[str]]:
    """Every report figure of `runs` (RunData) as panes, and the figures left out (why)."""
    from panopticon.report.figures import run_figures
    from panopticon.report.plotly_render import to_plotly

    figures, left = run_figures(runs)
    panes = [
        _figure_pane(f.title, to_plotly(f), f.caption, f"{cls} pe-fig-{f.id}") for f in figures
    ]
    return panes, [f"**{x.title}**: {x.reason}." for x in left]


def live_figures(job: Job) -> list[tuple[str, Any, str]]:
    """The funnel and the time series of the days done so far, as Plotly figures."""
    from panopticon.report.figures import funnel, records_over_time, sanctions_over_time
    from panopticon.report.plotly_render import to_plotly

    ts = job.timeseries()
    if ts is None or job.sim is None:
        return []
    live = LiveRun(job.scenario.name, job.scenario, ts, job.sim.columns)
    so_far = f" (days 0–{ts.height - 1} so far)"
    out = []
    for f in (
        funnel(live, 0, False),  # type: ignore[arg-type]  (LiveRun stands in for RunData)
        sanctions_over_time([live]),  # type: ignore[list-item]
        records_over_time([live]),  # type: ignore[list-item]
    ):
        out.append((f.title + so_far, to_plotly(f), f.caption))
    return out


def zip_folder(folder: Path) -> io.BytesIO:
    """A zip of every file of a run folder, paths relative to its parent."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(folder.parent).as_posix())
    buf.seek(0)
    return buf


def report_bytes(results: list[Any]) -> io.BytesIO:
    """The HTML report of runs, written to a temporary file (never into a run folder)."""
    from panopticon.report import write_report

    with tempfile.TemporaryDirectory(prefix="panopticon-report-") as tmp:
        path = write_report(results, Path(tmp) / "report.html")
        return io.BytesIO(path.read_bytes())


@dataclass
class Options:
    """How the page starts: the scenario, its overrides, where runs go, a run to open."""

    scenario: str = "minimal"
    sets: tuple[str, ...] = ()
    population: int | None = None
    days: int | None = None
    seed: int | None = None
    runs_root: Path = Path("runs") / "explore"
    open_run: Path | None = None


class Explorer:
    """One session's page: widgets, the run in progress and the runs made or opened."""

    def __init__(self, options: Options) -> None:
        """Build the widgets for the starting scenario (errors shown, not raised)."""
        from panopticon.scenario import load, preset_names

        self.options = options
        self.job: Job | None = None
        self.current: Any = None  # RunResult of the latest finished or opened run
        self.current_read_only = False
        self.baseline: Any = None
        self._poll: Any = None
        self._live_at = 0.0
        self._live_panes: list[pn.Column] = []

        names = preset_names()
        start = options.scenario
        self.preset = pn.widgets.Select(
            label="Scenario",
            options=names if start in names else [start, *names],
            value=start,
            css_classes=["pe-preset"],
            description="A preset shipped with Panopticon (or the file named on the command "
            "line); its values fill the widgets below",
        )
        self.base = load(
            start,
            list(options.sets),
            population=options.population,
            days=options.days,
            seed=options.seed,
        )
        self.description = pn.pane.Markdown(self.base.description, css_classes=["pe-desc"])
        self.panel = ParamPanel(param_specs(self.base))
        self.params_box = pn.Column(self.panel.layout(), sizing_mode="stretch_width")

        self.run_button = pn.widgets.Button(
            label="Run", **_color("primary"), css_classes=["pe-run"], width=100
        )
        self.cancel_button = pn.widgets.Button(
            label="Cancel",
            **_color("warning"),
            disabled=True,
            css_classes=["pe-cancel"],
            width=100,
        )
        self.progress = pn.indicators.Progress(
            value=0,
            max=max(self.base.run.days, 1),
            sizing_mode="stretch_width",
            css_classes=["pe-progress"],
        )
        self.status = pn.pane.Markdown(
            "Ready. Set the parameters and press **Run**.", css_classes=["pe-status"]
        )
        self.baseline_button = pn.widgets.Button(
            label="Save as baseline", disabled=True, css_classes=["pe-save-baseline"]
        )
        self.clear_baseline_button = pn.widgets.Button(
            label="Clear baseline", disabled=True, css_classes=["pe-clear-baseline"]
        )
        self.download_zip = pn.widgets.FileDownload(
            callback=self._zip,
            filename="run.zip",
            label="Download run folder (zip)",
            disabled=True,
            embed=False,
            css_classes=["pe-download-zip"],
        )
        self.download_report = pn.widgets.FileDownload(
            callback=self._report,
            filename="report.html",
            label="Download report (HTML)",
            disabled=True,
            embed=False,
            css_classes=["pe-download-report"],
        )
        self.open_input = pn.widgets.TextInput(
            label="Open a run folder (read-only)",
            placeholder="runs/minimal-0",
            css_classes=["pe-open-path"],
        )
        self.open_button = pn.widgets.Button(label="Open", css_classes=["pe-open"], width=80)
        self.results = pn.Column(
            pn.pane.Markdown("No run yet.", css_classes=["pe-empty"]),
            sizing_mode="stretch_width",
            css_classes=["pe-results"],
        )
        self.compare = pn.Column(
            pn.pane.Markdown(
                "Save a finished run as the baseline, change the settings and run again: the "
                "two appear here side by side, with the same seed.",
            ),
            sizing_mode="stretch_width",
            css_classes=["pe-compare"],
        )
        self.tabs = pn.Tabs(
            ("Results", self.results),
            ("Compare", self.compare),
            dynamic=False,
            sizing_mode="stretch_width",
            css_classes=["pe-tabs"],
        )
        self.preset.param.watch(self._on_preset, "value")
        self.run_button.on_click(self._on_run)
        self.cancel_button.on_click(self._on_cancel)
        self.baseline_button.on_click(self._on_save_baseline)
        self.clear_baseline_button.on_click(self._on_clear_baseline)
        self.open_button.on_click(self._on_open)
        if options.open_run is not None:
            self.open_folder(options.open_run)

    # -- layout -----------------------------------------------------------------------

    def view(self) -> pn.viewable.Viewable:
        """The whole page."""
        header = pn.pane.Markdown(
            f"# Panopticon explorer\n{NOTICE}",
            styles={"background": "#1f2937", "color": "#f9fafb", "padding": "0 16px"},
            sizing_mode="stretch_width",
            css_classes=["pe-header"],
        )
        side = pn.Column(
            self.preset,
            self.description,
            pn.Row(self.run_button, self.cancel_button),
            self.progress,
            self.status,
            self.params_box,
            pn.Row(self.baseline_button, self.clear_baseline_button),
            self.download_zip,
            self.download_report,
            pn.Row(self.open_input, self.open_button),
            width=380,
            css_classes=["pe-side"],
        )
        return pn.Column(
            header,
            pn.Row(side, self.tabs, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    # -- scenario ---------------------------------------------------------------------

    def _on_preset(self, event: Any) -> None:
        """Reload the widgets for another preset, keeping population, days and seed."""
        from panopticon.scenario import load

        v = self.panel.values()
        try:
            self.base = load(
                event.new,
                population=v.get("population.size"),
                days=v.get("run.days"),
                seed=v.get("run.seed"),
            )
        except Exception as exc:
            self._say(f"**Error:** `{str(exc).splitlines()[0]}`")
            return
        self.description.object = self.base.description
        self.panel = ParamPanel(param_specs(self.base))
        self._lock_seed()
        self.params_box.objects = [self.panel.layout()]

    @property
    def specs(self) -> list[ParamSpec]:
        """The specs of the widgets shown."""
        return self.panel.specs

    def scenario(self) -> Any:
        """The scenario the widgets describe (ScenarioError on a refused value)."""
        return build_scenario(self.base, self.specs, self.panel.values())

    # -- running ----------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.status.object = text

    def _on_run(self, _: Any = None) -> None:
        """Start a background run of the widgets' scenario."""
        if self.job is not None and not self.job.finished:
            return
        try:
            sc = self.scenario()
        except Exception as exc:
            self._say(f"**Not run:** `{str(exc).splitlines()[0]}`")
            return
        out = free_folder(self.options.runs_root, sc)
        self.job = Job(sc, out).start()
        self.progress.max = sc.run.days
        self.progress.value = 0
        self.run_button.disabled = True
        self.cancel_button.disabled = False
        self._live_at = 0.0
        self._live_panes = []
        self.results.objects = [
            pn.pane.Markdown("Building the population…", css_classes=["pe-live-note"])
        ]
        self._say(f"Running {sc.name}: {sc.population.size:,} citizens × {sc.run.days} days…")
        self._poll = pn.state.add_periodic_callback(self._tick, period=POLL_MS)

    def _on_cancel(self, _: Any = None) -> None:
        if self.job is not None:
            self.job.cancel()
            self._say("Cancelling after the current day…")

    def _tick(self) -> None:
        """Poll the job; a failure in drawing is shown on the page (and logged), not lost."""
        try:
            self._poll_job()
        except Exception as exc:
            import traceback

            traceback.print_exc()
            if self._poll is not None:
                self._poll.stop()
                self._poll = None
            self.run_button.disabled = False
            self.cancel_button.disabled = True
            self._say(
                f"**Failed to draw:** `{str(exc).splitlines()[0] if str(exc) else repr(exc)}`"
            )

    def _poll_job(self) -> None:
        """Poll the job: progress, live figures, and the end of the run."""
        import time

        job = self.job
        if job is None:
            return
        self.progress.value = min(job.day, job.days)
        if job.state == "running":
            now = time.monotonic() * 1000
            if now - self._live_at >= LIVE_EVERY_MS and self._draw_live(job):
                self._live_at = now
            self._say(f"Running {job.scenario.name}: day {job.day:,} of {job.days:,}")
            return
        if self._poll is not None:
            self._poll.stop()
            self._poll = None
        self.run_button.disabled = False
        self.cancel_button.disabled = True
        if job.state == "done":
            self._say(
                f"Done: {job.days:,} days of {job.scenario.population.size:,} citizens in "
                f"{job.seconds:.1f} s, written to `{job.out}`."
            )
            self.show_run(job.result, read_only=False)
        elif job.state == "cancelled":
            self._say(f"Cancelled on day {job.day:,}; no run folder was written.")
            self.results.objects = [
                pn.pane.Markdown("Run cancelled.", css_classes=["pe-cancelled"])
            ]
        else:
            self._say(f"**Failed:** `{job.error}`")

    def _draw_live(self, job: Job) -> bool:
        """Redraw the time series of the days done so far; whether there was any day."""
        figs = live_figures(job)
        if not figs:
            return False
        if len(self._live_panes) != len(figs):
            self._live_panes = [_figure_pane(t, f, c, "pe-live") for t, f, c in figs]
            self.results.objects = self._live_panes
            return True
        for pane, (title, fig, caption) in zip(self._live_panes, figs, strict=True):
            pane[0].object = f"### {title}"
            pane[1].object = fig
            pane[2].object = caption
        return True

    # -- results ----------------------------------------------------------------------

    def show_run(self, result: Any, read_only: bool) -> None:
        """Draw every figure of a finished run and enable its downloads."""
        from panopticon.report import run_summary_html
        from panopticon.report.data import RunData

        self.current = result
        self.current_read_only = read_only
        label = result.path.name
        panes, left = run_panes([RunData(label, result)])
        head = pn.pane.HTML(run_summary_html(result), css_classes=["pe-summary"])
        note = [pn.pane.Markdown("Left out: " + " ".join(left))] if left else []
        ro = [pn.pane.Markdown(f"Opened read-only: `{result.path}`")] if read_only else []
        self.results.objects = [*ro, head, *panes, *note]
        self.download_zip.disabled = False
        self.download_zip.filename = f"{label}.zip"
        self.download_report.disabled = False
        self.download_report.filename = f"{label}-report.html"
        self.baseline_button.disabled = False
        self.tabs.active = 0
        self._draw_compare()

    def open_folder(self, path: Path | str) -> None:
        """Show an existing complete run folder, read-only (nothing is written into it)."""
        from panopticon.io.runs import RunResult

        try:
            result = RunResult(Path(path))
        except Exception as exc:
            self._say(f"**Cannot open:** `{str(exc).splitlines()[0]}`")
            return
        self._say(f"Opened `{path}` read-only.")
        self.show_run(result, read_only=True)

    def _on_open(self, _: Any = None) -> None:
        if self.open_input.value.strip():
            self.open_folder(self.open_input.value.strip())

    def _zip(self) -> io.BytesIO | None:
        return None if self.current is None else zip_folder(self.current.path)

    def _report(self) -> io.BytesIO | None:
        return None if self.current is None else report_bytes([self.current])

    # -- compare ----------------------------------------------------------------------

    def _lock_seed(self) -> None:
        """With a baseline, the seed is the baseline's: same seed, common random numbers."""
        key = "run.seed"
        w = self.panel.widgets.get(key)
        if w is None:
            return
        if self.baseline is not None:
            w.value = int(self.baseline.manifest["seed"])
        self.panel.set_disabled(key, self.baseline is not None)

    def _on_save_baseline(self, _: Any = None) -> None:
        if self.current is None:
            return
        self.baseline = self.current
        self.clear_baseline_button.disabled = False
        self._lock_seed()
        self._say(
            f"Baseline: `{self.baseline.path.name}`. The seed stays at "
            f"{self.baseline.manifest['seed']} while it is set; change settings and run."
        )
        self._draw_compare()

    def _on_clear_baseline(self, _: Any = None) -> None:
        self.baseline = None
        self.clear_baseline_button.disabled = True
        self._lock_seed()
        self._draw_compare()

    def _draw_compare(self) -> None:
        """Baseline and current run side by side: the summary, then figure by figure."""
        from panopticon.report import summary_section
        from panopticon.report.data import RunData

        b, c = self.baseline, self.current
        if b is None or c is None or b.path == c.path:
            msg = (
                "Baseline saved; change settings and run to compare."
                if b is not None
                else "Save a finished run as the baseline, change the settings and run again: "
                "the two appear here side by side."
            )
            self.compare.objects = [pn.pane.Markdown(msg, css_classes=["pe-compare-note"])]
            return
        runs = [RunData(f"baseline ({b.path.name})", b), RunData(f"current ({c.path.name})", c)]
        note = ""
        if b.manifest.get("seed") != c.manifest.get("seed"):
            note = "**The two runs have different seeds**: differences include chance. "
        table = pn.pane.HTML(summary_section(runs), css_classes=["pe-compare-summary"])
        left, _ = run_panes(runs[:1], "pe-compare-base")
        right, _ = run_panes(runs[1:], "pe-compare-current")
        rows = [pn.Row(a, z, sizing_mode="stretch_width") for a, z in _pair(left, right)]
        self.compare.objects = [
            pn.pane.Markdown(note + "Left: the baseline; right: the current run."),
            table,
            *rows,
        ]


def _pair(a: list[pn.Column], b: list[pn.Column]) -> list[tuple[Any, Any]]:
    """Figures of two runs paired by figure id (a blank where one run lacks one)."""

    def fid(p: pn.Column) -> str:
        return next(c for c in p.css_classes if c.startswith("pe-fig-"))

    ids = list(dict.fromkeys([fid(p) for p in a] + [fid(p) for p in b]))
    by_a, by_b = {fid(p): p for p in a}, {fid(p): p for p in b}
    return [(by_a.get(i, pn.Spacer()), by_b.get(i, pn.Spacer())) for i in ids]


def make_page(options: Options) -> Callable[[], pn.viewable.Viewable]:
    """The per-session page factory for ``pn.serve``."""

    def page() -> pn.viewable.Viewable:
        return Explorer(options).view()

    return page


def serve(options: Options, port: int, open_browser: bool) -> None:
    """Serve the explorer on http://127.0.0.1:PORT/ until interrupted.

    The port is bound before the address is printed, so a port in use fails first
    (OSError, reported by the command as one line).
    """
    configure()
    origins = [f"127.0.0.1:{port}", f"localhost:{port}"]
    server = pn.serve(
        make_page(options),
        address="127.0.0.1",
        port=port,
        websocket_origin=origins,
        show=False,
        start=False,
        title="Panopticon explorer",
        verbose=False,
    )
    print(f"panopticon explore: http://127.0.0.1:{port}/ (Ctrl-C stops)", flush=True)
    server.start()
    if open_browser:
        server.io_loop.add_callback(server.show, "/")
    server.io_loop.start()
