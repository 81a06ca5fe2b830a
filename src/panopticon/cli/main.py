"""The `panopticon` command line: run, resume, fork, validate, presets, report, compare, sweep."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from panopticon import __version__
from panopticon import scenario as scenario_mod
from panopticon.cli import dossier as dossier_cli
from panopticon.cli import faceid as faceid_cli
from panopticon.cli.summary import summary_table
from panopticon.core.engine import run as run_scenario
from panopticon.core.params import ScenarioError
from panopticon.core.resume import fork as fork_run
from panopticon.core.resume import resume as resume_run
from panopticon.io.checkpoint import CheckpointError
from panopticon.io.runs import RunError, RunResult


def _scenario_args(p: argparse.ArgumentParser) -> None:
    """Arguments shared by every command that loads a scenario."""
    p.add_argument("scenario", help="preset name (see `panopticon presets`) or TOML file")
    p.add_argument("--population", type=int, metavar="N", help="override population.size")
    p.add_argument("--days", type=int, metavar="D", help="override run.days")
    p.add_argument("--seed", type=int, metavar="S", help="override run.seed")
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any field by dotted key; VALUE is a TOML literal (repeatable)",
    )


def _load(args: argparse.Namespace) -> scenario_mod.Scenario:
    """The scenario named on the command line, with its overrides applied."""
    return scenario_mod.load(
        args.scenario, args.sets, population=args.population, days=args.days, seed=args.seed
    )


def _progress_bar(quiet: bool, days: int, desc: str) -> tuple[Any, Any]:
    """A tqdm bar on stderr and its progress callback, or (None, None) when quiet."""
    if quiet:
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=days, unit="day", delay=2.0, file=sys.stderr, leave=False, desc=desc)

    def progress(done: int, total: int) -> None:
        bar.update(done - bar.n)

    return bar, progress


def cmd_run(args: argparse.Namespace) -> int:
    """`panopticon run`: run a scenario into a run folder and print the summary."""
    sc = _load(args)
    bar, progress = _progress_bar(
        args.quiet, sc.run.days, f"{sc.name} ({sc.population.size:,} citizens)"
    )
    try:
        result = run_scenario(
            sc,
            out=args.out,
            overwrite=args.overwrite,
            progress=progress,
            checkpoint_every=args.checkpoint_every,
        )
    finally:
        if bar is not None:
            bar.close()
    return _finish(args, result)


def cmd_resume(args: argparse.Namespace) -> int:
    """`panopticon resume`: continue an interrupted run from its last checkpoint."""
    bar, progress = _progress_bar(args.quiet, 0, f"resuming {args.run_dir}")
    try:
        result = resume_run(args.run_dir, progress=_total_setter(bar, progress))
    finally:
        if bar is not None:
            bar.close()
    return _finish(args, result)


def cmd_fork(args: argparse.Namespace) -> int:
    """`panopticon fork`: a new run from a checkpoint of a run, with overrides."""
    bar, progress = _progress_bar(args.quiet, 0, f"fork of {args.run_dir} at day {args.day}")
    try:
        result = fork_run(
            args.run_dir,
            args.day,
            args.sets,
            args.out,
            overwrite=args.overwrite,
            progress=_total_setter(bar, progress),
            checkpoint_every=args.checkpoint_every,
        )
    finally:
        if bar is not None:
            bar.close()
    return _finish(args, result)


def _total_setter(bar: Any, progress: Any) -> Any:
    """A progress callback that also sets the bar's total (unknown before the run is read)."""
    if bar is None:
        return None

    def update(done: int, total: int) -> None:
        bar.total = total
        progress(done, total)

    return update


def _finish(args: argparse.Namespace, result: RunResult) -> int:
    """Print the summary of a finished run and write its report if asked."""
    if not args.quiet:
        print(summary_table(result))
    if args.report:
        from panopticon.report import write_report

        path = write_report(result)
        if not args.quiet:
            print(f"report in {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """`panopticon report`: one self-contained HTML file (and PNGs) of one or more runs."""
    from panopticon.report import write_report

    results = [RunResult(p) for p in args.runs]
    path = write_report(results, args.output, png_dir=args.png)
    print(f"report: {path}")
    if args.png:
        print(f"figures: {args.png}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """`panopticon compare`: headline metrics of runs side by side, with differences."""
    from panopticon.analysis.compare import compare

    print(compare(args.runs, html=args.html, png_dir=args.png))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """`panopticon sweep`: a grid of scenarios x replicates, resumable, with a report."""
    from panopticon.analysis.sweep import parse_vary, run_sweep

    varies = [parse_vary(v) for v in args.vary]
    base = _load(args)
    out = args.out if args.out is not None else f"sweeps/{base.name}"
    try:
        res = run_sweep(
            base,
            varies,
            args.replicates,
            out,
            jobs=args.jobs,
            quiet=args.quiet,
            report=not args.no_report,
            png_dir=args.png,
        )
    except KeyboardInterrupt:
        print(
            "interrupted: unfinished runs are marked incomplete; run the same command again "
            "to finish only the missing runs",
            file=sys.stderr,
        )
        return 130
    if not args.quiet:
        print(f"ran {res.ran} runs, {res.skipped} were already complete")
        print(f"table: {res.out / 'sweep.parquet'} ({res.table.height:,} rows)")
        if res.report is not None:
            print(f"report: {res.report}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """`panopticon validate`: check a scenario without running it."""
    sc = _load(args)
    print(f"ok: {sc.name} is valid ({sc.population.size:,} citizens x {sc.run.days} days)")
    if args.show:
        print(sc.to_toml(), end="")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    """`panopticon presets`: list the shipped scenarios, one line each."""
    summaries = scenario_mod.preset_summaries()
    width = max(map(len, summaries), default=0)
    for name, text in summaries.items():
        print(f"{name:<{width}}  {text}")
    return 0


def _checkpoint_arg(p: argparse.ArgumentParser) -> None:
    """The --checkpoint-every option."""
    p.add_argument(
        "--checkpoint-every",
        type=int,
        metavar="D",
        help="checkpoint the state every D days into RUN_DIR/checkpoints (see `resume`)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="panopticon",
        description="Simulate a social credit system over a synthetic population.",
    )
    parser.add_argument("--version", action="version", version=f"panopticon {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run a scenario and write its run folder")
    _scenario_args(p)
    p.add_argument("--out", metavar="DIR", help="run folder (default runs/<scenario>-<seed>)")
    p.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary")
    p.add_argument("--report", action="store_true", help="also write report.html in the run folder")
    _checkpoint_arg(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("resume", help="continue an interrupted run from its last checkpoint")
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder written with --checkpoint-every")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary")
    p.add_argument("--report", action="store_true", help="also write report.html in the run folder")
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("fork", help="a new run from a checkpoint of a run, with --set overrides")
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder written with --checkpoint-every")
    p.add_argument("--day", type=int, required=True, metavar="D", help="day of the checkpoint")
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field of the resolved scenario from day D on (repeatable)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="the new run folder")
    p.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary")
    p.add_argument("--report", action="store_true", help="also write report.html in the run folder")
    _checkpoint_arg(p)
    p.set_defaults(func=cmd_fork)

    p = sub.add_parser("validate", help="check a scenario without running it")
    _scenario_args(p)
    p.add_argument("--show", action="store_true", help="print the fully resolved scenario")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("presets", help="list the shipped scenarios")
    p.set_defaults(func=cmd_presets)

    p = sub.add_parser("report", help="write one self-contained HTML report of run folders")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="complete run folders")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE.html",
        help="report file (default RUN_DIR/report.html for one run, report.html for several)",
    )
    p.add_argument("--png", metavar="DIR", help="also write each figure as a PNG into DIR")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("compare", help="headline metrics of runs side by side, with differences")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="two or more run folders")
    p.add_argument("--html", metavar="FILE.html", help="also write a report overlaying the runs")
    p.add_argument("--png", metavar="DIR", help="also write each figure as a PNG into DIR")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("sweep", help="run a grid of scenarios x replicate seeds, with a report")
    _scenario_args(p)
    p.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="KEY=V1,V2|KEY=A:B:N",
        help="a field to vary: TOML literals separated by commas, or N values from A to B "
        "(repeatable; the grid is every combination)",
    )
    p.add_argument(
        "--replicates",
        type=int,
        default=1,
        metavar="R",
        help="seeds per grid point: run.seed, run.seed+1, ... (default 1)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="J",
        help="runs at a time, each in its own process (default 1)",
    )
    p.add_argument("--out", metavar="DIR", help="sweep folder (default sweeps/<scenario>)")
    p.add_argument("--png", metavar="DIR", help="also write each figure as a PNG into DIR")
    p.add_argument("--no-report", action="store_true", help="write the table only")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser(
        "faceid",
        help="the 1:N face identification error model on its own",
        description="Miss, wrong-hit and false-positive rates of a 1:N search against a "
        "gallery of G enrolled faces, and the hardware an exhaustive search needs.",
    )
    faceid_cli.add_faceid_arguments(p)
    p.set_defaults(func=faceid_cli.run_faceid_command)

    p = sub.add_parser(
        "dossier",
        help="the 800+ data points the system holds on simulated citizens",
        description="Materialise the dossier of simulated citizens of a run, on demand.",
    )
    dossier_cli.add_dossier_arguments(p)
    p.set_defaults(func=dossier_cli.run_dossier_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 on success, 2 with one clear message on bad input."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ScenarioError, RunError, CheckpointError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the run folder is marked incomplete", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
