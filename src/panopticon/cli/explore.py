"""`panopticon explore`: serve the explorer web app on 127.0.0.1 (Panel, optional extra)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from panopticon.cli.common import add_scenario_arguments

DEFAULT_PORT = 5006


def add_arguments(subparsers: Any) -> None:
    """Register `explore` and its options on the top-level subparsers."""
    p = subparsers.add_parser(
        "explore", help="a local web app: set parameters, run, see and compare the results"
    )
    add_scenario_arguments(p, default="minimal")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, metavar="P", help="port on 127.0.0.1 (5006)"
    )
    p.add_argument(
        "--open", dest="open_run", metavar="RUN_DIR", help="show a run folder, read-only"
    )
    p.add_argument(
        "--runs",
        default=str(Path("runs") / "explore"),
        metavar="DIR",
        help="folder the page's runs are written into (default runs/explore)",
    )
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check the options, then serve the page until interrupted; exit code."""
    from panopticon.explore import INSTALL_HINT, panel_available

    if not panel_available():
        print(
            f"error: explore: panel is not installed; install it with {INSTALL_HINT}",
            file=sys.stderr,
        )
        return 2
    if not 1 <= args.port <= 65535:
        print(f"error: --port: {args.port}: allowed 1 to 65535", file=sys.stderr)
        return 2
    if args.open_run is not None and not Path(args.open_run).is_dir():
        print(f"error: --open: {args.open_run}: not a folder; give a run folder", file=sys.stderr)
        return 2
    if args.open_run is not None:
        from panopticon.io.runs import RunResult

        RunResult(args.open_run)  # an incomplete or damaged folder: one line (RunError), exit 2
    from panopticon import scenario

    # bad input fails here, as one line (ScenarioError), before the server starts
    scenario.load(
        args.scenario, args.sets, population=args.population, days=args.days, seed=args.seed
    )
    from panopticon.explore.app import Options, serve

    options = Options(
        scenario=args.scenario,
        sets=tuple(args.sets),
        population=args.population,
        days=args.days,
        seed=args.seed,
        runs_root=Path(args.runs),
        open_run=Path(args.open_run) if args.open_run else None,
    )
    try:
        serve(options, args.port, open_browser=not args.no_browser)
    except KeyboardInterrupt:  # Ctrl-C is how the explorer stops: not an error
        print("panopticon explore: stopped", file=sys.stderr)
        return 0
    except OSError as exc:
        print(
            f"error: --port: {args.port}: cannot listen ({exc.strerror}); choose another port",
            file=sys.stderr,
        )
        return 2
    return 0
