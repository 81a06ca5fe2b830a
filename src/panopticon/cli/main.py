"""The `panopticon` command line: the top-level parser and the dispatch to each command.

Each command lives in its own module of `panopticon.cli`, which exposes
`add_arguments(subparsers)` and `run(args) -> int`. Heavy modules (the engine, Numba, Polars,
SciPy) are imported only inside the command that needs them, so `panopticon --help` is fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from panopticon import __version__
from panopticon.cli import (
    calibrate,
    compare,
    dossier,
    explore,
    faceid,
    presets,
    report,
    resume,
    run,
    sensitivity,
    sweep,
)

# In the order `panopticon --help` lists them.
COMMANDS = (
    run,
    resume,
    presets,
    report,
    compare,
    sweep,
    sensitivity,
    calibrate,
    faceid,
    dossier,
    explore,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="panopticon",
        description="Simulate a social credit system over a synthetic population.",
    )
    parser.add_argument("--version", action="version", version=f"panopticon {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_arguments(sub)
    return parser


def _user_errors() -> tuple[type[Exception], ...]:
    """The errors that mean bad input (one message, exit 2), imported only when one is raised."""
    from panopticon.core.params import ScenarioError
    from panopticon.io.checkpoint import CheckpointError
    from panopticon.io.runs import RunError

    return (ScenarioError, RunError, CheckpointError)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 on success, 2 with one clear message on bad input."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(
            "interrupted: nothing was written to the run folder (a run with "
            "--checkpoint-every continues with `panopticon resume RUN_DIR`)",
            file=sys.stderr,
        )
        return 130
    except Exception as exc:
        if isinstance(exc, _user_errors()):
            print(str(exc), file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    raise SystemExit(main())
