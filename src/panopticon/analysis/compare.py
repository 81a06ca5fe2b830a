"""Compare runs: headline metrics side by side with differences, and what differs.

The natural use is a scenario against the same scenario with its cameras switched off
(``--set surveillance.camera.enabled=false``): the differences are what the cameras do
(each other channel has its own ``surveillance.channels.<name>.enabled``).

Two replicate sets (folders of ``run --replicates``, or one-point sweeps) are compared
pair by pair: replicates with the same seed are paired (common random numbers), and each
metric gets the mean difference B − A with its 95% paired interval
(:func:`panopticon.analysis.replicates.paired_text`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from panopticon.analysis.headline import format_diff, format_value, headline, metrics, relative
from panopticon.io.runs import RunError, RunResult
from panopticon.report import build_report, write_figures_png, write_report
from panopticon.report.data import label_runs
from panopticon.report.html import flatten, show


def open_runs(paths: list[str | Path]) -> list[RunResult]:
    """Open complete run folders; the first bad one raises RunError naming it."""
    return [RunResult(p) for p in paths]


def scenario_differences(results: list[RunResult]) -> list[tuple[str, list[str]]]:
    """Scenario fields whose values differ between runs: (dotted key, value per run)."""
    flats = [flatten(tomllib.loads(r.scenario_toml)) for r in results]
    keys = list(dict.fromkeys(k for f in flats for k in f))
    out = []
    for k in keys:
        values = [show(f[k]) if k in f else "—" for f in flats]
        if len(set(values)) > 1:
            out.append((k, values))
    return out


def _align(rows: list[list[str]]) -> list[str]:
    """Rows of cells as aligned text: first column left, the others right."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [r[c].rjust(widths[c]) for c in range(1, len(r))]
        lines.append("  ".join(cells).rstrip())
    return lines


def compare_text(results: list[RunResult]) -> str:
    """The comparison as text: what differs, then headline metrics with differences.

    The metrics are the derived ones and every column any of the runs declared headline;
    a run without one shows ``n/a``.
    """
    if len(results) < 2:
        raise RunError("error: compare: give at least two run folders (RUN_A RUN_B ...)")
    labels = [r.label for r in label_runs(results)]
    heads = [headline(r) for r in results]
    base = labels[0]
    head = ["metric", *labels]
    for lab in labels[1:]:
        head += [f"{lab} − {base}" if len(labels) > 2 else "difference", "change"]
    rows = [head]
    nan = float("nan")
    for m in metrics(results):
        values = [h.get(m.key, nan) for h in heads]
        row = [m.label, *(format_value(m.key, v, m.fmt) for v in values)]
        for v in values[1:]:
            row += [format_diff(m.key, v - values[0], m.fmt), relative(values[0], v)]
        rows.append(row)
    lines = []
    for i, (lab, r) in enumerate(zip(labels, results, strict=True)):
        m = r.manifest
        lines.append(
            f"{chr(65 + i) if i < 26 else i}: {lab} = {r.path} ({m.get('scenario')}, "
            f"{m.get('population', 0):,} citizens x {m.get('days')} days, seed {m.get('seed')})"
        )
    diffs = scenario_differences(results)
    if diffs:
        lines.append("scenario differences:")
        drows = [["  " + k, *v] for k, v in diffs]
        lines += _align([["", *labels], *drows])
    else:
        lines.append("scenario differences: none (same scenario and seed)")
    lines.append("")
    table = _align(rows)
    lines += [table[0], "-" * len(table[0]), *table[1:]]
    return "\n".join(lines)


def compare(
    paths: list[str | Path], html: str | Path | None = None, png_dir: str | Path | None = None
) -> str:
    """Compare run folders (or two replicate sets by seed); returns the text.

    Optionally writes the overlaid HTML report and PNGs (run folders only).
    """
    from panopticon.analysis import replicates

    sets = [replicates.is_set(p) for p in paths]
    if any(sets):
        return compare_sets(paths, sets, html, png_dir)
    results = open_runs(paths)
    text = compare_text(results)
    if html is not None:
        path = write_report(results, html, png_dir=png_dir)
        text += f"\nreport: {path}"
    elif png_dir is not None:
        write_figures_png(build_report(results)[1], png_dir)
    if png_dir is not None:
        text += f"\nfigures: {png_dir}"
    return text


def compare_sets(
    paths: list[str | Path],
    sets: list[bool],
    html: str | Path | None = None,
    png_dir: str | Path | None = None,
) -> str:
    """Two replicate sets, paired by seed: each metric's B − A with its 95% interval."""
    from panopticon.analysis import replicates

    if len(paths) != 2 or not all(sets):
        which = next((str(p) for p, s in zip(paths, sets, strict=True) if not s), str(paths[0]))
        what = "is a run folder" if not all(sets) else f"{len(paths)} sets given"
        raise RunError(
            f"error: compare: {which}: {what}; give two replicate sets (run --replicates) "
            "or two or more run folders"
        )
    for flag, given in (("--html", html), ("--png", png_dir)):
        if given is not None:
            raise RunError(
                f"error: compare {flag}: not for replicate sets; compare two of their run "
                "folders (A/rep0 B/rep0) for the report"
            )
    a, b = (replicates.open_set(p) for p in paths)
    return replicates.paired_text(a, b)
