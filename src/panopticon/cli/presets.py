"""`panopticon validate` and `panopticon presets`: check a scenario, list the shipped ones."""

from __future__ import annotations

import argparse
from typing import Any

from panopticon.cli.common import add_scenario_arguments, load_scenario


def add_arguments(subparsers: Any) -> None:
    """Register `validate` and `presets` on the top-level subparsers."""
    p = subparsers.add_parser("validate", help="check a scenario without running it")
    add_scenario_arguments(p)
    p.add_argument("--show", action="store_true", help="print the fully resolved scenario")
    p.set_defaults(func=run)

    p = subparsers.add_parser("presets", help="list the shipped scenarios")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run `validate` or `presets` (by `args.command`); exit code."""
    if args.command == "validate":
        return _validate(args)
    return _presets()


def _validate(args: argparse.Namespace) -> int:
    """Check a scenario without running it; print it resolved with --show."""
    sc = load_scenario(args)
    print(f"ok: {sc.name} is valid ({sc.population.size:,} citizens x {sc.run.days} days)")
    if args.show:
        print(sc.to_toml(), end="")
    return 0


def _presets() -> int:
    """List the shipped scenarios, one line each."""
    from panopticon import scenario

    summaries = scenario.preset_summaries()
    width = max(map(len, summaries), default=0)
    for name, text in summaries.items():
        print(f"{name:<{width}}  {text}")
    return 0
