"""`panopticon run`: run a scenario into a run folder and print its summary.

With ``--replicates R`` it runs the scenario over seeds seed..seed+R-1 instead (a
replicate set: ``DIR/rep0..``, in ``--jobs`` processes or on Ray) and prints the mean
and 95% interval of every headline metric (:mod:`panopticon.analysis.replicates`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from panopticon.cli.common import (
    add_backend_arguments,
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
    p.add_argument(
        "--replicates",
        type=int,
        metavar="R",
        help="run seeds seed..seed+R-1 into DIR/rep0.. and summarise them with 95%% "
        "intervals (R >= 2; DIR/summary.json)",
    )
    add_backend_arguments(
        p, "with --replicates: runs at a time, each in its own process (default 1)", None
    )
    p.add_argument(
        "--shards",
        type=int,
        metavar="K",
        help="split the population into K shards, each a Ray actor (on the cluster at "
        "--address, else a local one; --backend local: all in this process, one after "
        "another each day); the run folder's tables are the same bytes",
    )
    p.add_argument(
        "--checkpoint-via",
        choices=("shard", "driver"),
        help="with --shards and --checkpoint-every: each actor writes its checkpoints "
        "under RUN_DIR itself (shard, the default: a file system shared with the driver), "
        "or hands them back to the driver, which writes them (driver)",
    )
    # None: "local" for an ensemble, "ray" for a sharded run (resolved in `run`)
    p.set_defaults(backend=None)
    # `run` calls `startup_done` itself, after loading the engine and the scenario
    p.set_defaults(func=run, loads_first=True)


def _only_with_replicates(args: argparse.Namespace) -> None:
    """Refuse the ensemble options without --replicates, and the single-run ones with it."""
    from panopticon.io.runs import RunError

    shards = getattr(args, "shards", None)
    if getattr(args, "checkpoint_via", None) is not None and shards is None:
        raise RunError("error: --checkpoint-via: only with --shards K (one run on Ray)")
    if shards is not None and args.replicates is not None:
        raise RunError("error: --shards: not with --replicates; shard one run at a time")
    if shards is not None and args.backend == "local" and args.address is not None:
        raise RunError(
            "error: --address: not with --backend local (shards in this process); drop one of them"
        )
    if args.replicates is None:
        for name, given in (
            ("--jobs", args.jobs is not None),
            ("--backend", args.backend is not None and shards is None),
            ("--address", args.address is not None and shards is None),
        ):
            if given:
                raise RunError(
                    f"error: {name}: only with --replicates R (an ensemble of runs) or "
                    "--shards K (one run on Ray)"
                )
        return
    if args.checkpoint_every is not None:
        raise RunError(
            "error: --checkpoint-every: not with --replicates; each replicate is short "
            "enough to rerun (an interrupted set is finished by the same command)"
        )
    if args.report:
        raise RunError(
            "error: --report: not with --replicates; write one replicate's report with "
            "`panopticon report DIR/rep0`"
        )


def run_replicate_set(args: argparse.Namespace) -> int:
    """Run the replicate set, print its summary; exit code (130/143 when interrupted)."""
    from panopticon.analysis.replicates import run_replicates, summary, summary_text
    from panopticon.analysis.sweep import SweepInterrupted

    sc = load_scenario(args)
    try:
        rs = run_replicates(
            sc,
            args.replicates,
            out=args.out,
            jobs=args.jobs if args.jobs is not None else 1,
            backend=args.backend or "local",
            address=args.address,
            overwrite=args.overwrite,
            quiet=args.quiet,
        )
    except SweepInterrupted as exc:
        print(exc.message, file=sys.stderr)
        return exc.exit_code
    if not args.quiet:
        print(summary_text(summary(rs), rs.path))
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the scenario into its run folder, then print the summary; exit code."""
    from panopticon.cli.main import startup_done

    _only_with_replicates(args)
    if args.replicates is not None:
        startup_done()
        return run_replicate_set(args)
    from panopticon.core.engine import run as run_scenario

    sc = load_scenario(args)
    startup_done()  # the engine and the scenario are loaded: their objects stay to the end
    if args.shards is not None:
        from panopticon.core.shards import check_shardable, shard_bounds

        check_shardable(sc)  # before the progress bar: refusals are one line
        shard_bounds(sc.population.size, args.shards)
    bar, progress = progress_bar(
        args.quiet, sc.run.days, f"{sc.name} ({sc.population.size:,} citizens)"
    )
    try:
        if args.shards is not None:
            from panopticon.core.shards import run_sharded

            result = run_sharded(
                sc,
                args.shards,
                out=args.out,
                overwrite=args.overwrite,
                progress=progress,
                checkpoint_every=args.checkpoint_every,
                address=args.address,
                backend=args.backend or "ray",
                checkpoint_via=args.checkpoint_via or "shard",
            )
        else:
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
    code = finish_run(args, result)
    if args.shards is not None and not args.quiet:
        from panopticon.core.shards import shard_line

        print(shard_line(result.manifest), file=sys.stderr)
    return code
