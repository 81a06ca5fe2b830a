"""Options and helpers shared by the commands that load a scenario or write a run folder.

Nothing heavy is imported here at module level: building the parser (every `panopticon`
call, `--help` included) must not load the engine, Numba or Polars.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from panopticon.io.runs import RunResult
    from panopticon.scenario import Scenario

Progress = Callable[[int, int], None]


def add_scenario_arguments(
    p: argparse.ArgumentParser,
    default: str | None = None,
    population_help: str = "override population.size",
    seed_help: str = "override run.seed",
) -> None:
    """Arguments shared by every command that loads a scenario.

    With `default` the scenario may be left out (the command starts from that preset).
    """
    if default is None:
        p.add_argument("scenario", help="preset name (see `panopticon presets`) or TOML file")
    else:
        p.add_argument(
            "scenario",
            nargs="?",
            default=default,
            help=f"preset name or TOML file to start from (default {default})",
        )
    p.add_argument("--population", type=int, metavar="N", help=population_help)
    p.add_argument("--days", type=int, metavar="D", help="override run.days")
    p.add_argument("--seed", type=int, metavar="S", help=seed_help)
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any field by dotted key; VALUE is a TOML literal (repeatable)",
    )


def load_scenario(args: argparse.Namespace) -> Scenario:
    """The scenario named on the command line, with its overrides applied."""
    from panopticon import scenario

    return scenario.load(
        args.scenario, args.sets, population=args.population, days=args.days, seed=args.seed
    )


def add_output_arguments(p: argparse.ArgumentParser) -> None:
    """--quiet and --report, for the commands that finish a run folder."""
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary")
    p.add_argument("--report", action="store_true", help="also write report.html in the run folder")


def add_backend_arguments(
    p: argparse.ArgumentParser,
    jobs_help: str = "runs at a time, each in its own process (default 1)",
    jobs_default: int | None = 1,
) -> None:
    """--jobs, --backend and --address, for every command that runs an ensemble."""
    p.add_argument("--jobs", type=int, default=jobs_default, metavar="J", help=jobs_help)
    p.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="where the runs execute: local worker processes (default), or a Ray cluster "
        '(needs `pip install ".[ray]"`)',
    )
    p.add_argument(
        "--address",
        metavar="ADDR",
        help="Ray cluster address (with --backend ray; default: start a local cluster)",
    )


def add_checkpoint_argument(p: argparse.ArgumentParser) -> None:
    """The --checkpoint-every option."""
    p.add_argument(
        "--checkpoint-every",
        type=int,
        metavar="D",
        help="checkpoint the state every D days into RUN_DIR/checkpoints (see `resume`)",
    )


def progress_bar(quiet: bool, days: int, desc: str) -> tuple[Any, Progress | None]:
    """A tqdm bar on stderr and its progress callback, or (None, None) when quiet."""
    if quiet:
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=days, unit="day", delay=2.0, file=sys.stderr, leave=False, desc=desc)

    def progress(done: int, total: int) -> None:
        bar.update(done - bar.n)

    return bar, progress


def total_setter(bar: Any, progress: Progress | None) -> Progress | None:
    """A progress callback that also sets the bar's total (unknown before the run is read)."""
    if bar is None or progress is None:
        return None

    def update(done: int, total: int) -> None:
        bar.total = total
        progress(done, total)

    return update


def cost_line(m: dict[str, Any]) -> str:
    """What a run cost, from its manifest: set-up, day loop and writing seconds, peak memory."""
    phases = m.get("phase_seconds") or {}
    setup = float(phases.get("setup", 0.0))
    engine = sum(float(v) for k, v in phases.items() if k != "setup")
    write = float(m.get("write_seconds", 0.0))
    return (
        f"cost: set-up {setup:.1f} s, day loop {engine:.1f} s, writing {write:.1f} s; "
        f"peak memory {m.get('peak_memory_bytes', 0) / 2**20:,.0f} MiB; "
        f"state {m.get('state_bytes_per_citizen', 0):.1f} B per citizen"
    )


def finish_run(args: argparse.Namespace, result: RunResult) -> int:
    """Print the summary of a finished run (its cost on stderr); write its report if asked."""
    if not args.quiet:
        from panopticon.cli.summary import summary_table

        print(summary_table(result))
        print(cost_line(result.manifest), file=sys.stderr)
    if args.report:
        from panopticon.report import write_report

        path = write_report(result)
        if not args.quiet:
            print(f"report in {path}")
    return 0
