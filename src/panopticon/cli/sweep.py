"""`panopticon sweep`: a grid of scenarios x replicate seeds, resumable, with a report."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from panopticon.cli.common import add_backend_arguments, add_scenario_arguments, load_scenario


def add_arguments(subparsers: Any) -> None:
    """Register `sweep` and its options on the top-level subparsers."""
    p = subparsers.add_parser(
        "sweep", help="run a grid of scenarios x replicate seeds, with a report"
    )
    add_scenario_arguments(p)
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
    add_backend_arguments(p)
    p.add_argument("--out", metavar="DIR", help="sweep folder (default sweeps/<scenario>)")
    p.add_argument("--png", metavar="DIR", help="also write each figure as a PNG into DIR")
    p.add_argument("--no-report", action="store_true", help="write the table only")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the missing runs of the grid, write the table and report; exit code.

    Interrupted: the message names the complete runs; exit 130 (SIGINT) or 143 (SIGTERM).
    """
    from panopticon.analysis.sweep import SweepInterrupted, parse_vary, run_sweep

    varies = [parse_vary(v) for v in args.vary]
    base = load_scenario(args)
    out = args.out if args.out is not None else f"sweeps/{base.name}"
    try:
        res = run_sweep(
            base,
            varies,
            args.replicates,
            out,
            jobs=args.jobs,
            backend=args.backend,
            address=args.address,
            quiet=args.quiet,
            report=not args.no_report,
            png_dir=args.png,
        )
    except SweepInterrupted as exc:
        print(exc.message, file=sys.stderr)
        return exc.exit_code
    if not args.quiet:
        print(f"ran {res.ran} runs, {res.skipped} were already complete")
        print(f"table: {res.out / 'sweep.parquet'} ({res.table.height:,} rows)")
        print(f"run times: {res.out / 'sweep_timings.parquet'}")
        if res.report is not None:
            print(f"report: {res.report}")
    return 0
