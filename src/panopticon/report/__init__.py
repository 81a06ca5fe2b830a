"""The report: one self-contained HTML file of interactive figures, and PNGs for papers.

``write_report([run], "report.html", png_dir="figs")`` reads one or more complete run
folders and writes a page with the funnel, scores, sanctions and, when the runs have
them, groups, grades, access and the social graph (figures a run lacks are left out and
listed with the reason). Several runs are overlaid, with a side-by-side summary.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from panopticon.analysis import national
from panopticon.analysis.headline import (
    METRICS,
    format_diff,
    format_value,
    headline,
    metrics,
    relative,
)
from panopticon.io.fs import write_atomic
from panopticon.io.runs import RunError, RunResult
from panopticon.report.data import RunData, label_runs
from panopticon.report.figures import report_name, run_figures
from panopticon.report.html import esc, flatten, page, show, table
from panopticon.report.model import Figure

__all__ = [
    "METRICS",
    "ReportError",
    "headline",
    "run_summary_html",
    "write_figures_png",
    "write_html",
    "write_report",
]

KEY_PARAMETERS = (
    "population.size",
    "population.represents",
    "run.days",
    "run.seed",
    "run.records",
    "surveillance.camera.enabled",
    "surveillance.camera.model",
    "surveillance.faceid.mode",
    "surveillance.appeals.enabled",
    "scoring.start",
    "scoring.floor",
    "scoring.cap",
    "scoring.recovery.points",
    "scoring.recovery.every_days",
    "sanctions.blacklist.threshold",
    "response.deterrence",
    "response.deterrence_floor",
)
# parameters that matter only under one choice of a model: (choice key, value) -> prefixes
USED_WHEN = {
    ("surveillance.camera.model", "fixed"): ("surveillance.camera.coverage",),
    ("surveillance.camera.model", "rollout"): (
        "surveillance.camera.rollout.",
        "surveillance.camera.national_population",
    ),
    ("surveillance.faceid.mode", "fixed"): (
        "surveillance.faceid.p_miss",
        "surveillance.faceid.p_wrong",
    ),
    ("surveillance.faceid.mode", "scores"): (
        "surveillance.faceid.gallery",
        "surveillance.faceid.threshold",
    ),
    ("surveillance.appeals.enabled", True): (
        "surveillance.appeals.p_win_wrongful",
        "surveillance.appeals.delay_days",
    ),
}
FEW_BEHAVIORS = 3


class ReportError(RunError):
    """A report that cannot be written (bad output path); message meant for the user."""


def _phase_text(phases: dict[str, float]) -> str:
    top = sorted(phases.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {v:.2f} s" for k, v in top)


def national_section(runs: list[RunData]) -> str:
    """National figures of the sampled runs, each with its 95% interval ('' if none is).

    One row per headline count (people at the end: exact binomial; events over the run:
    exact Poisson; both scaled by represents / size), counts under 10 in the sample flagged;
    the caption says how each run's figures are derived.
    """
    figs = [national.headline_figures(r.result) for r in runs]
    if not any(figs):
        return ""
    sampled = [(r, f) for r, f in zip(runs, figs, strict=True) if f]
    keys = [
        m for m in metrics([r.result for r, _ in sampled]) if any(m.key in f for _, f in sampled)
    ]
    head = ["metric", *(f"{r.label} (x{r.result.manifest['scale']:,.0f})" for r, _ in sampled)]
    rows = [
        [m.label, *(national.format_figure(f[m.key]) if m.key in f else "—" for _, f in sampled)]
        for m in keys
    ]
    how = " ".join(
        (f"{r.label}: " if len(sampled) > 1 else "")
        + national.derivation(
            r.result.manifest["scale"],
            r.result.manifest["represents"],
            r.result.manifest["population"],
        )
        for r, _ in sampled
    )
    return (
        "<h2>National figures (95% intervals)</h2>"
        + table(head, rows)
        + f"<p class='caption'>{esc(how)}</p>"
    )


def summary_section(runs: list[RunData]) -> str:
    """Headline numbers, key parameters and manifests, side by side for several runs."""
    labels = [r.label for r in runs]
    heads = [headline(r.result) for r in runs]
    head = ["metric", *labels]
    if len(runs) > 1:
        for lab in labels[1:]:
            head += [f"{lab} − {labels[0]}", "change"]
    rows = []
    for m in METRICS:
        row: list[object] = [m.label, *(format_value(m.key, h[m.key]) for h in heads)]
        for h in heads[1:]:
            row += [
                format_diff(m.key, h[m.key] - heads[0][m.key]),
                relative(heads[0][m.key], h[m.key]),
            ]
        rows.append(row)
    out = ["<section id='summary'><h2>Summary</h2>", table(head, rows), national_section(runs)]

    flats = [flatten(r.scenario) for r in runs]
    keys = list(dict.fromkeys(k for f in flats for k in f))
    differs = {k: len({show(f.get(k, "—")) for f in flats}) > 1 for k in keys}
    behaviors = {k.split(".")[1] for k in keys if k.startswith("behaviors.")}

    used = {
        prefix
        for (choice, value), prefixes in USED_WHEN.items()
        if any(f.get(choice) == value for f in flats)
        for prefix in prefixes
    }

    def is_key(k: str) -> bool:
        if k in KEY_PARAMETERS or differs[k] or any(k.startswith(p) for p in used):
            return True
        parts = k.split(".")
        return (
            len(behaviors) <= FEW_BEHAVIORS
            and parts[0] == "behaviors"
            and parts[-1] in ("rate", "points")
        )

    key_keys = [k for k in keys if is_key(k)]
    rest = [k for k in keys if k not in key_keys]

    def param_rows(ks: list[str]) -> list[list[object]]:
        return [[k, *(show(f.get(k, "—")) for f in flats)] for k in ks]

    title = "Key parameters" + (" (highlighted: differ between the runs)" if len(runs) > 1 else "")
    out.append(f"<h2>{esc(title)}</h2>")
    out.append(table(["parameter", *labels], param_rows(key_keys), [differs[k] for k in key_keys]))
    if rest:
        out.append(f"<details><summary>All other parameters ({len(rest)})</summary>")
        out.append(table(["parameter", *labels], param_rows(rest), [differs[k] for k in rest]))
        out.append("</details>")

    out.append("<h2>Manifest</h2>")
    mans = [r.result.manifest for r in runs]
    fields = (
        ("panopticon version", lambda m: m.get("panopticon", "?")),
        ("status", lambda m: m.get("status", "?")),
        ("scenario", lambda m: m.get("scenario", "?")),
        ("seed", lambda m: m.get("seed", "?")),
        ("citizens", lambda m: f"{m.get('population', 0):,}"),
        ("days", lambda m: m.get("days", "?")),
        ("started", lambda m: m.get("started", "?")),
        ("finished", lambda m: m.get("finished", "?")),
        ("runtime", lambda m: f"{m.get('wall_seconds', 0):,.2f} s"),
        ("peak memory", lambda m: f"{m.get('peak_memory_bytes', 0) / 2**20:,.0f} MiB"),
        ("threads", lambda m: m.get("threads", "?")),
        ("records written", lambda m: f"{m.get('records_written', 0):,}"),
        ("time per phase", lambda m: _phase_text(m.get("phase_seconds", {}))),
    )
    out.append(table(["", *labels], [[name, *(f(m) for m in mans)] for name, f in fields]))
    out.append(
        "<p class='caption'>Run folders: "
        + esc(", ".join(str(r.result.path) for r in runs))
        + "</p></section>"
    )
    return "".join(out)


def build_report(results: list[RunResult]) -> tuple[str, list[Figure]]:
    """The HTML page of one or more runs, and its figures (for PNG export)."""
    runs = label_runs(results)
    figures, left = run_figures(runs)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sub = f"Panopticon report of {len(runs)} run{'s' if len(runs) > 1 else ''}, written {when}."
    return page(
        "Panopticon: " + report_name(runs), sub, figures, before=summary_section(runs), left=left
    ), figures


def _check_out(path: Path, what: str) -> None:
    if path.is_dir():
        raise ReportError(f"error: {what} {path}: is a folder; give a file name ending in .html")
    if not path.parent.exists():
        raise ReportError(f"error: {what} {path}: folder {path.parent} does not exist")


def write_html(text: str, out: str | Path, what: str = "-o") -> Path:
    """Write the page atomically (unique temporary file, then rename; removed on failure)."""
    path = Path(out)
    _check_out(path, what)
    try:
        write_atomic(path, text.encode("utf-8"), f"writing {path.name}")
    except RunError as exc:
        raise ReportError(str(exc)) from None
    return path


def write_figures_png(figures: list[Figure], folder: str | Path) -> list[Path]:
    """Each figure as a PNG (Matplotlib, no browser needed), named by figure id."""
    from panopticon.report.mpl_render import write_png

    d = Path(folder)
    if d.exists() and not d.is_dir():
        raise ReportError(f"error: --png {d}: is a file, not a folder; choose a folder")
    d.mkdir(parents=True, exist_ok=True)
    return [write_png(f, d / f"{f.id}.png") for f in figures]


def write_report(
    results: list[RunResult] | RunResult,
    out: str | Path | None = None,
    png_dir: str | Path | None = None,
) -> Path:
    """Write the HTML report of one or more runs (default: RUN_DIR/report.html)."""
    rs = [results] if isinstance(results, RunResult) else list(results)
    if not rs:
        raise ReportError("error: report: give at least one run folder")
    path = (
        Path(out)
        if out is not None
        else (rs[0].path / "report.html" if len(rs) == 1 else Path("report.html"))
    )
    _check_out(path, "-o")
    if png_dir is not None:
        pd = Path(png_dir)
        if pd.exists() and not pd.is_dir():
            raise ReportError(f"error: --png {pd}: is a file, not a folder; choose a folder")
    text, figures = build_report(rs)
    write_html(text, path)
    if png_dir is not None:
        write_figures_png(figures, png_dir)
    return path


def run_summary_html(result: RunResult) -> str:
    """A compact HTML summary of one run (Jupyter's rich display of a RunResult)."""
    m = result.manifest
    h = headline(result)
    keys = (
        "committed",
        "observed",
        "records",
        "records_wrong",
        "sanctioned",
        "sanctioned_wrongly",
        "mean_score",
    )
    rows = [[METRICS_BY[k], format_value(k, h[k])] for k in keys]
    title = (
        f"<b>{esc(m.get('scenario', 'run'))}</b>: {m.get('population', 0):,} citizens × "
        f"{m.get('days', '?')} days, seed {esc(m.get('seed', '?'))}, "
        f"{m.get('wall_seconds', 0):.1f} s — <code>{esc(result.path)}</code>"
    )
    return f"<div class='panopticon-run'><p>{title}</p>{table(['', 'value'], rows)}</div>"


METRICS_BY = {m.key: m.label for m in METRICS}
