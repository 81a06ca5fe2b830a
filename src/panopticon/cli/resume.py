"""`panopticon resume` and `panopticon fork`: continue a run, or branch one, from a checkpoint."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from panopticon.cli.common import (
    add_checkpoint_argument,
    add_output_arguments,
    finish_run,
    progress_bar,
    total_setter,
)

_RUN_DIR_HELP = "run folder written with --checkpoint-every"


def add_arguments(subparsers: Any) -> None:
    """Register `resume` and `fork` and their options on the top-level subparsers."""
    p = subparsers.add_parser("resume", help="continue an interrupted run from its last checkpoint")
    p.add_argument("run_dir", metavar="RUN_DIR", help=_RUN_DIR_HELP)
    add_output_arguments(p)
    p.add_argument(
        "--backend",
        choices=("local", "ray"),
        help="a sharded run only: run its shards on Ray actors or in this process "
        "(default: as the run did)",
    )
    p.add_argument(
        "--address",
        metavar="ADDR",
        help="a sharded run only: the Ray cluster to resume on (default: the run's)",
    )
    p.set_defaults(func=run)

    p = subparsers.add_parser(
        "fork", help="a new run from a checkpoint of a run, with --set overrides"
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help=_RUN_DIR_HELP)
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
    add_output_arguments(p)
    add_checkpoint_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run `resume` or `fork` (by `args.command`), then print the summary; exit code."""
    if args.command == "fork":
        return _fork(args)
    return _resume(args)


def _resume(args: argparse.Namespace) -> int:
    """Continue an interrupted run from its last checkpoint."""
    from panopticon.core.resume import resume as resume_run

    bar, progress = progress_bar(args.quiet, 0, f"resuming {args.run_dir}")

    def note(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr)

    try:
        result = resume_run(
            args.run_dir,
            progress=total_setter(bar, progress),
            backend=args.backend,
            address=args.address,
            note=note,
        )
    finally:
        if bar is not None:
            bar.close()
    code = finish_run(args, result)
    if "shards" in result.manifest and not args.quiet:
        from panopticon.core.shards import shard_line

        print(shard_line(result.manifest), file=sys.stderr)
    return code


def _fork(args: argparse.Namespace) -> int:
    """A new run from a checkpoint of a run, with overrides."""
    from panopticon.core.resume import fork as fork_run

    bar, progress = progress_bar(args.quiet, 0, f"fork of {args.run_dir} at day {args.day}")
    try:
        result = fork_run(
            args.run_dir,
            args.day,
            args.sets,
            args.out,
            overwrite=args.overwrite,
            progress=total_setter(bar, progress),
            checkpoint_every=args.checkpoint_every,
        )
    finally:
        if bar is not None:
            bar.close()
    return finish_run(args, result)
