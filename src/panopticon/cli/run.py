"""`panopticon run`: run a scenario into a run folder and print its summary."""

from __future__ import annotations

import argparse
from typing import Any

from panopticon.cli.common import (
    add_checkpoint_argument,
    add_output_arguments,
    add_scenario_arguments,
    finish_run,
    load_scenario,
    progress_bar,
)


def add_arguments(subparsers: Any) -> None:
    """Register `run` and its options on the top-level subparsers."""
    p = subparsers.add_parser("run", help="run a scenario and write its run folder")
    add_scenario_arguments(p)
    p.add_argument(
        "--out",
        metavar="DIR",
        help="run folder (default runs/<scenario>-<seed>, or -2, -3... if that is taken)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    add_output_arguments(p)
    add_checkpoint_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the scenario into its run folder, then print the summary; exit code."""
    from panopticon.core.engine import run as run_scenario

    sc = load_scenario(args)
    bar, progress = progress_bar(
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
    return finish_run(args, result)
