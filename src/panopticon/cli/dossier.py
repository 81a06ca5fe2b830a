"""`panopticon dossier`: print one synthetic citizen's dossier or write a sample as Parquet."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from panopticon import dossier

# The dossier package, Polars and NumPy are imported inside the functions: building the
# parser (every `panopticon` call, `--help` included) must stay fast.


def add_arguments(subparsers: Any) -> None:
    """Register `dossier` and its options on the top-level subparsers."""
    p = subparsers.add_parser(
        "dossier",
        help="the 800+ data points the system holds on simulated citizens",
        description="Materialise the dossier of simulated citizens of a run, on demand.",
    )
    add_dossier_arguments(p)
    p.set_defaults(func=run)


def add_dossier_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `panopticon dossier` options to a parser; values are parsed in `run`."""
    parser.add_argument("run", metavar="RUN", help="a complete run folder")
    parser.add_argument("--person", metavar="ID", help="print one citizen's data points")
    parser.add_argument("--sample", metavar="K", help="materialise K citizens drawn at random")
    parser.add_argument("--seed", metavar="S", default="0", help="seed of --sample (0)")
    parser.add_argument("--out", metavar="FILE.parquet", help="write the rows as Parquet")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _int_arg(flag: str, text: str, allowed: str) -> int:
    """An integer command-line value, or a DossierError naming what is allowed."""
    from panopticon.dossier import DossierError

    try:
        return int(text)
    except ValueError:
        raise DossierError(f"error: {flag}: {text} is not allowed; {allowed}") from None


def _fmt_value(v: Any) -> str:
    """One value as text."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def format_person(row: Mapping[str, Any], attrs: Sequence[dossier.Attribute], header: str) -> str:
    """One citizen's data points as text, grouped by category."""
    from panopticon.dossier import CATEGORIES

    lines = [header]
    for cat in CATEGORIES:
        names = [a.name for a in attrs if a.category == cat]
        if not names:
            continue
        width = max(len(x) for x in names)
        lines += ["", f"{cat} ({len(names)})"]
        lines += [f"  {x:<{width}}  {_fmt_value(row[x])}" for x in names]
    return "\n".join(lines)


def _write_parquet(df: pl.DataFrame, out: str) -> Path:
    """Write atomically; DossierError when the path is not usable."""
    from panopticon.dossier import DossierError

    path = Path(out)
    if path.suffix != ".parquet":
        raise DossierError(f"error: --out: {out} is not allowed; give a path ending in .parquet")
    if not path.parent.is_dir():
        raise DossierError(f"error: --out: {out} is not allowed; its folder does not exist")
    if path.is_dir():
        raise DossierError(f"error: --out: {out} is not allowed; it is a folder")
    tmp = path.with_name(path.name + ".partial")
    try:
        df.write_parquet(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        why = exc.strerror or type(exc).__name__
        raise DossierError(f"error: --out: {out} cannot be written ({why})") from None
    return path


def run(args: argparse.Namespace) -> int:
    """`panopticon dossier`: print one citizen's dossier or write a sample as Parquet."""
    import polars as pl

    from panopticon.dossier import DossierError
    from panopticon.io.runs import RunError

    try:
        return _dossier(args)
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
    except (DossierError, RunError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else "error: dossier failed"
        print(msg if msg.startswith("error: ") else f"error: {msg}", file=sys.stderr)
        return 2
    except (OSError, pl.exceptions.PolarsError) as exc:
        print(
            f"error: run {args.run!r}: its tables cannot be read ({type(exc).__name__})",
            file=sys.stderr,
        )
        return 2


def _dossier(args: argparse.Namespace) -> int:
    """The dossier command; raises DossierError/RunError on bad input."""
    import numpy as np

    from panopticon import dossier
    from panopticon.dossier import DossierError
    from panopticon.io.runs import open_run

    if args.person is None and args.sample is None:
        raise DossierError(
            "error: dossier: neither --person nor --sample is given; "
            "give --person ID or --sample K --out FILE.parquet"
        )
    if args.person is not None and args.sample is not None:
        raise DossierError(
            "error: dossier: --person and --sample together are not allowed; give one"
        )
    if args.sample is not None and not args.out:
        raise DossierError("error: --sample: without --out is not allowed; give --out FILE.parquet")
    if args.out and Path(args.out).suffix != ".parquet":
        raise DossierError(
            f"error: --out: {args.out} is not allowed; give a path ending in .parquet"
        )
    run = open_run(args.run)
    sc = dossier.scenario_of(run)
    size = sc.population.size
    note = dossier.records_note(sc)
    if args.person is not None:
        pid = _int_arg("--person", args.person, f"ids run from 0 to {size - 1}")
        dossier.check_ids(np.array([pid]), size)
        if note:
            print(note, file=sys.stderr)
        df = dossier.materialise(run, [pid])
        attrs = dossier.run_catalog(run, sc)
        if args.out:
            _write_parquet(df, args.out)
        row = df.row(0, named=True)
        if args.json:
            doc = {
                "id": pid,
                "run": str(run.path),
                "scenario": sc.name,
                "seed": sc.run.seed,
                "categories": {
                    cat: {a.name: row[a.name] for a in attrs if a.category == cat}
                    for cat in dossier.CATEGORIES
                },
            }
            print(json.dumps(doc, indent=1, default=str))
        else:
            head = (
                f"dossier of synthetic citizen {pid} in {args.run} ({sc.name}, seed "
                f"{sc.run.seed}, day {sc.run.days - 1}): {len(attrs)} data points"
            )
            print(format_person(row, attrs, head))
        return 0
    k = _int_arg("--sample", args.sample, f"K runs from 1 to {size}")
    seed = _int_arg("--seed", args.seed, "give an integer >= 0")
    if seed < 0:
        raise DossierError(f"error: --seed: {seed} is not allowed; give an integer >= 0")
    if not 1 <= k <= size:
        raise DossierError(f"error: --sample: {k} is not allowed; K runs from 1 to {size}")
    if note:
        print(note, file=sys.stderr)
    df = dossier.sample(run, k, seed)
    path = _write_parquet(df, args.out)
    n_attr = df.width - 1
    if args.json:
        print(json.dumps({"out": str(path), "rows": df.height, "attributes": n_attr}))
    else:
        print(f"wrote {df.height:,} dossiers x {n_attr:,} data points to {path}")
    return 0


# The name tests/test_dossier.py calls.
run_dossier_command = run
