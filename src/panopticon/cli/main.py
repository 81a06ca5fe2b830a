"""The `panopticon` command line: the top-level parser and the dispatch to each command.

Each command lives in its own module of `panopticon.cli`, which exposes
`add_arguments(subparsers)` and `run(args) -> int`. Heavy modules (the engine, Numba, Polars,
SciPy) are imported only inside the command that needs them, so `panopticon --help` is fast.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from collections.abc import Sequence

from panopticon import __version__

# Each command module of `panopticon.cli` with the commands it registers and their one-line
# help, in the order `panopticon --help` lists them. A module is imported only to run or
# describe one of its own commands (`build_parser()` with no argv imports them all), so
# `panopticon --help` imports none; tests/test_cli_startup.py checks these lines against
# what the modules register.
COMMANDS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("run", (("run", "run a scenario and write its run folder"),)),
    (
        "resume",
        (
            ("resume", "continue an interrupted run from its last checkpoint"),
            ("fork", "a new run from a checkpoint of a run, with --set overrides"),
        ),
    ),
    (
        "presets",
        (
            ("validate", "check a scenario without running it"),
            ("presets", "list the shipped scenarios"),
        ),
    ),
    ("report", (("report", "write one self-contained HTML report of run folders"),)),
    ("compare", (("compare", "headline metrics of runs side by side, with differences"),)),
    ("sweep", (("sweep", "run a grid of scenarios x replicate seeds, with a report"),)),
    (
        "sensitivity",
        (
            (
                "sensitivity",
                "rank parameters by their effect on the headline metrics (Morris or Sobol)",
            ),
        ),
    ),
    (
        "calibrate",
        (("calibrate", "fit the scenario's free parameters to dated targets (resumable)"),),
    ),
    ("faceid", (("faceid", "the 1:N face identification error model on its own"),)),
    ("dossier", (("dossier", "the 800+ data points the system holds on simulated citizens"),)),
    (
        "explore",
        (("explore", "a local web app: set parameters, run, see and compare the results"),),
    ),
)


_PROGRAM = False
"""Whether this process is the `panopticon` command itself (`main()` called without argv)."""


def startup_done() -> None:
    """Freeze the objects made so far out of the garbage collector, and turn it back on.

    Start-up leaves about 150,000 objects that live until the process ends (modules,
    NumPy's, Numba's and pydantic's tables, the scenario): the program collects nothing
    while it makes them (none is garbage; 200 collections, 0.05 s), and once frozen no
    later collection scans them again. Only in the `panopticon` process itself: a Python
    caller's objects (a notebook, the tests) are its own to collect. A command that loads
    what it needs before its long work (`run`) calls this itself, once it has; for every
    other command `main` calls it as soon as the arguments are parsed.
    """
    if _PROGRAM:
        gc.freeze()
        gc.enable()


def _command(argv: Sequence[str]) -> str | None:
    """The command named in `argv` (its first word that is not an option), if any."""
    for word in argv:
        if not word.startswith("-"):
            return word
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser: every command in full, or only the one `argv` names.

    With `argv`, the other commands are listed by name and help alone, without importing
    their modules: `panopticon --help` and each command start faster.
    """
    parser = argparse.ArgumentParser(
        prog="panopticon",
        description="Simulate a social credit system over a synthetic population.",
    )
    parser.add_argument("--version", action="version", version=f"panopticon {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = _command(argv) if argv is not None else None
    for module, commands in COMMANDS:
        if argv is None or chosen in {name for name, _ in commands}:
            importlib.import_module(f"panopticon.cli.{module}").add_arguments(sub)
        else:
            for name, help_text in commands:
                sub.add_parser(name, help=help_text)
    return parser


def _user_errors() -> tuple[type[Exception], ...]:
    """The errors that mean bad input (one message, exit 2), imported only when one is raised."""
    from panopticon.core.params import ScenarioError
    from panopticon.io.checkpoint import CheckpointError
    from panopticon.io.runs import RunError

    return (ScenarioError, RunError, CheckpointError)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 on success, 2 with one clear message on bad input.

    Called without `argv` it is the program (the `panopticon` script, ``python -m
    panopticon.cli``): before it returns, every object is frozen out of the garbage
    collector, because the interpreter's collections at exit would otherwise scan all of
    them (0.3-0.4 s of every command that loaded the engine) to free memory the process is
    about to give back anyway; files and run folders are closed by then.
    """
    global _PROGRAM
    if argv is None:
        _PROGRAM = True
        gc.disable()  # until `startup_done`
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return _dispatch(argv)
    finally:
        if _PROGRAM:
            gc.freeze()


def _dispatch(argv: list[str]) -> int:
    """Parse `argv` and run its command: exit 0 on success, 2 on bad input, 130 on Ctrl-C."""
    args = build_parser(argv).parse_args(argv)
    if not getattr(args, "loads_first", False):
        startup_done()
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
