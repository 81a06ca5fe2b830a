"""`panopticon sensitivity`: rank a scenario's assumptions by their effect (Morris or Sobol)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from panopticon.cli.common import add_backend_arguments, add_scenario_arguments, load_scenario


def add_arguments(subparsers: Any) -> None:
    """Register `sensitivity` and its options on the top-level subparsers."""
    p = subparsers.add_parser(
        "sensitivity",
        help="rank parameters by their effect on the headline metrics (Morris or Sobol)",
    )
    add_scenario_arguments(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="KEY=LO:HI",
        help="a parameter and its range (KEY=LO:HI:log samples on a log scale; repeatable)",
    )
    what.add_argument(
        "--assumptions",
        action="store_true",
        help="vary every parameter of the scenario's [assumptions] table over its range",
    )
    p.add_argument(
        "--method",
        choices=("morris", "sobol"),
        default="morris",
        help="morris: elementary effects, r (k+1) points; sobol: variance shares, "
        "N (k+2) points (default morris)",
    )
    p.add_argument(
        "--samples",
        type=int,
        default=None,
        metavar="N",
        help="morris: trajectories r (default 4, at least 4); sobol: base sample N, "
        "a power of 2 (default 16, at least 16)",
    )
    p.add_argument(
        "--replicates",
        type=int,
        default=1,
        metavar="R",
        help="seeds per point, run.seed .. run.seed+R-1 for every point; "
        "the indices use each point's mean (default 1)",
    )
    p.add_argument(
        "--metrics",
        metavar="M1,M2",
        help="the metrics to analyse, comma-separated (default: every headline metric)",
    )
    add_backend_arguments(p)
    p.add_argument("--out", metavar="DIR", help="folder (default sensitivity/<scenario>)")
    p.add_argument("--no-report", action="store_true", help="write the tables only")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the missing runs, write indices.parquet, runs.parquet and report.html; exit code.

    Interrupted: the message names the complete runs; exit 130 (SIGINT) or 143 (SIGTERM).
    """
    from panopticon.analysis import sensitivity as sa
    from panopticon.analysis.sensitivity_report import readings

    factors = [sa.parse_factor(v) for v in args.vary]
    samples = args.samples if args.samples is not None else sa.MIN_SAMPLES[args.method]
    sa.check_samples(args.method, samples)
    base = load_scenario(args)
    if args.assumptions:
        factors = sa.assumption_factors(base)
    metrics = None
    if args.metrics is not None:
        metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
        if not metrics:
            raise sa.SensitivityError(
                f"error: --metrics {args.metrics!r}: no metric named; give m1,m2,..."
            )
    out = args.out if args.out is not None else f"sensitivity/{base.name}"
    try:
        res = sa.run_sensitivity(
            base,
            factors,
            args.method,
            samples,
            args.replicates,
            out,
            metrics=metrics,
            jobs=args.jobs,
            backend=args.backend,
            address=args.address,
            quiet=args.quiet,
            report=not args.no_report,
        )
    except sa.SensitivityInterrupted as exc:
        print(exc.message, file=sys.stderr)
        return exc.exit_code
    if not args.quiet:
        print(f"ran {res.ran} runs, {res.skipped} were already complete")
        for m, text in readings(res.analysis, res.metrics):
            print(f"- {m.key}: {text}")
        print(f"indices: {res.out / sa.INDICES} ({res.analysis.indices.height:,} rows)")
        print(f"runs: {res.out / sa.RUNS} ({res.analysis.runs.height:,} rows)")
        if res.report is not None:
            print(f"report: {res.report}")
    return 0
