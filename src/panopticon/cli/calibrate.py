"""`panopticon calibrate`: fit a scenario's free parameters to dated targets (Optuna)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from panopticon.cli.common import add_backend_arguments, add_scenario_arguments


def add_arguments(subparsers: Any) -> None:
    """Register `calibrate` and its options on the top-level subparsers."""
    p = subparsers.add_parser(
        "calibrate",
        help="fit the scenario's free parameters to dated targets (resumable)",
        description="Search the scenario's [calibration.free] parameters (or --free) for the "
        "values whose simulated outputs come closest to the targets; see "
        "docs/calibration.md.",
    )
    add_scenario_arguments(
        p,
        population_help="citizens per trial run (default: the scenario's size; best.toml keeps it)",
        seed_help="override run.seed (seeds the search)",
    )
    p.add_argument("--targets", required=True, metavar="FILE", help="targets file (TOML)")
    p.add_argument("--trials", type=int, default=50, metavar="N", help="trials in all (50)")
    p.add_argument("--out", metavar="DIR", help="calibration folder (default calib/<scenario>)")
    p.add_argument(
        "--replicates",
        type=int,
        default=1,
        metavar="R",
        help="seeds per trial: run.seed, run.seed+1, ... (default 1)",
    )
    p.add_argument(
        "--free",
        action="append",
        default=[],
        metavar="KEY=LO:HI[:log][:int]",
        help="a free parameter and its range (repeatable; overrides [calibration.free])",
    )
    p.add_argument(
        "--sampler", choices=("tpe", "random", "cmaes"), default="tpe", help="Optuna sampler"
    )
    add_backend_arguments(p, "trials at a time (batch size; 1)")
    p.add_argument(
        "--no-report",
        action="store_true",
        help="do not write fit.html (nor rerun the best with 3 seeds)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary")
    p.set_defaults(func=run)


def _seeds(n: int) -> str:
    return "1 seed" if n == 1 else f"{n} seeds"


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def run(args: argparse.Namespace) -> int:
    """Run the missing trials, write best.toml, trials.parquet and fit.html; exit code."""
    from panopticon import scenario
    from panopticon.analysis.calibrate import CalibrationInterrupted, calibrate

    base = scenario.load(args.scenario, args.sets, days=args.days, seed=args.seed)
    out = args.out if args.out is not None else f"calib/{base.name}"
    try:
        res = calibrate(
            base,
            args.targets,
            args.trials,
            out,
            jobs=args.jobs,
            replicates=args.replicates,
            population=args.population,
            sampler=args.sampler,
            free=args.free,
            backend=args.backend,
            address=args.address,
            quiet=args.quiet,
            report=not args.no_report,
        )
    except CalibrationInterrupted as exc:
        print(exc.message, file=sys.stderr)
        return exc.exit_code
    if args.quiet:
        return 0
    print(f"ran {res.ran} trials; {res.trials} in the study ({res.failed} failed)")
    print(
        f"best: trial {res.best_number}, loss {res.best_loss:.4g} "
        f"({_seeds(res.fit_replicates)}: {res.fit['loss']:.4g})"
    )
    for k, v in res.best_params.items():
        print(f"  {k} = {v if isinstance(v, int) else f'{v:.4g}'}")
    print(f"targets (published ± sigma; simulated, mean of {_seeds(res.fit_replicates)}; z):")
    for i, t in enumerate(res.targets):
        print(
            f"  {t.name}: {_num(t.value)} ± {_num(t.sigma)}; {_num(res.fit['sim'][i])}; "
            f"z {res.fit['z'][i]:+.2f}"
        )
    if res.population != res.scenario_population:
        print(
            f"calibrated at {res.population:,} citizens; best.toml runs at "
            f"{res.scenario_population:,}"
        )
    print(f"best scenario: {res.best_toml}")
    print(f"trials: {res.out / 'trials.parquet'}")
    if res.report is not None:
        print(f"fit report: {res.report}")
    return 0
