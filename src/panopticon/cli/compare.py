"""`panopticon compare`: headline metrics of runs side by side, with differences.

Given two replicate sets (``run --replicates`` folders or one-point sweeps), replicates
are paired by seed and each metric's difference gets its 95% paired interval.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_arguments(subparsers: Any) -> None:
    """Register `compare` and its options on the top-level subparsers."""
    p = subparsers.add_parser(
        "compare", help="headline metrics of runs side by side, with differences"
    )
    p.add_argument(
        "runs",
        nargs="+",
        metavar="RUN_DIR",
        help="two or more run folders, or two replicate sets (run --replicates, one-point "
        "sweeps): then paired by seed, with 95%% intervals of the differences",
    )
    p.add_argument("--html", metavar="FILE.html", help="also write a report overlaying the runs")
    p.add_argument("--png", metavar="DIR", help="also write each figure as a PNG into DIR")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the comparison table (and write the overlay report if asked); exit code."""
    from panopticon.analysis.compare import compare

    print(compare(args.runs, html=args.html, png_dir=args.png))
    return 0
