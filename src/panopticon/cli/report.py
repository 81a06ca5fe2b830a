"""`panopticon report`: one self-contained HTML file (and PNGs) of one or more runs."""

from __future__ import annotations

import argparse
from typing import Any


def add_arguments(subparsers: Any) -> None:
    """Register `report` and its options on the top-level subparsers."""
    p = subparsers.add_parser("report", help="write one self-contained HTML report of run folders")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="complete run folders")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE.html",
        help="report file (default RUN_DIR/report.html for one run, report.html for several)",
    )
    p.add_argument("--png", metavar="DIR", help="also write each figure as a PNG into DIR")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the report of the run folders and print where it is; exit code."""
    from panopticon.io.runs import RunResult
    from panopticon.report import write_report

    results = [RunResult(p) for p in args.runs]
    path = write_report(results, args.output, png_dir=args.png)
    print(f"report: {path}")
    if args.png:
        print(f"figures: {args.png}")
    return 0
