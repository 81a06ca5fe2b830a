"""`panopticon faceid`: the 1:N face identification error model on its own.

Prints the miss, wrong-hit and false-positive rates of one search at a gallery size and
threshold (a table, or one JSON object), what an exhaustive search costs in hardware, and
optionally a plot of the rates against gallery size. Options are parsed here; the model
is `panopticon.stages.identify.faceid`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from panopticon.stages.identify.faceid import FaceIdScores, SearchHardware

# The model (NumPy, SciPy, Numba) and pydantic are imported inside the functions: building
# the parser (every `panopticon` call, `--help` included) must stay fast.


class _ModelDefaultsHelp(argparse.HelpFormatter):
    """Fills the model's defaults into the option help, importing the model only then."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        """The help text of one option with {gallery}, {threshold}, {searches} filled in."""
        text = super()._get_help_string(action)
        if text is None or "{" not in text:
            return text
        from panopticon.stages.identify.faceid import (
            CLAIM_GALLERY,
            DEFAULT_SEARCHES_PER_DAY,
            DEFAULT_THRESHOLD,
        )

        return text.format(
            gallery=CLAIM_GALLERY, threshold=DEFAULT_THRESHOLD, searches=DEFAULT_SEARCHES_PER_DAY
        )


def add_arguments(subparsers: Any) -> None:
    """Register `faceid` and its options on the top-level subparsers."""
    p = subparsers.add_parser(
        "faceid",
        help="the 1:N face identification error model on its own",
        description="Miss, wrong-hit and false-positive rates of a 1:N search against a "
        "gallery of G enrolled faces, and the hardware an exhaustive search needs.",
    )
    add_faceid_arguments(p)
    p.set_defaults(func=run)


def add_faceid_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `panopticon faceid` options to a parser; values are parsed in `run`.

    Options are read as text so that a bad value gets one clear line, not a usage dump.
    The parser's help formatter fills in the model's defaults when help is printed.
    """
    parser.formatter_class = _ModelDefaultsHelp
    a = parser.add_argument
    a(
        "--gallery",
        default=None,
        metavar="G",
        help="enrolled faces searched (default {gallery:.2g}); e.g. 1.3e9",
    )
    a(
        "--threshold",
        default=None,
        metavar="T",
        help="score threshold (default {threshold:.4f}: FPIR 0.003 at N=12M)",
    )
    a(
        "--target-fpir",
        default=None,
        metavar="P",
        help="instead of --threshold: the threshold giving this FPIR at --gallery",
    )
    a(
        "--target-hit-rate",
        default=None,
        metavar="P",
        help="instead of --threshold: the threshold giving this hit rate (p_correct)",
    )
    a(
        "--quality",
        default="surveillance",
        metavar="Q",
        help="quality class (enrolment, cooperative, surveillance) or a mix such as "
        "surveillance=0.8,cooperative=0.2 (default surveillance)",
    )
    a(
        "--group",
        default="all",
        metavar="NAME",
        help="demographic group (men, women) or 'all' for the population mix (default)",
    )
    a(
        "--enrolled-share",
        default="1",
        metavar="E",
        help="share of searched faces that are enrolled, for hit precision (default 1)",
    )
    a(
        "--searches-per-day",
        default=None,
        metavar="S",
        help="searches per day for the cost estimate (default {searches:.2g})",
    )
    a("--template-bytes", default=None, metavar="B", help="template size (default 512)")
    a(
        "--bandwidth",
        default=None,
        metavar="BYTES_PER_S",
        help="memory bandwidth per server in bytes/s (default 200e9)",
    )
    a(
        "--batch-size",
        default=None,
        metavar="K",
        help="probes that share one pass over the gallery (default 1: no batching)",
    )
    a("--json", action="store_true", help="print one JSON object instead of a table")
    a(
        "--plot",
        default=None,
        metavar="FILE",
        help="also draw miss and false-identification rates against gallery size to a PNG",
    )


_MIX_EG = "surveillance=0.8,cooperative=0.2"


def _parse_number(field: str, text: object, allowed: str) -> float:
    """A float from command-line text, or a FaceIdError."""
    from panopticon.stages.identify.faceid import FaceIdError

    try:
        value = float(str(text))
    except ValueError:
        raise FaceIdError(field, text, allowed) from None
    if math.isnan(value):
        raise FaceIdError(field, text, allowed)
    return value


def _parse_mix_text(field: str, text: str) -> str | dict[str, float]:
    """'name' or 'a=0.8,b=0.2' from the command line."""
    from panopticon.stages.identify.faceid import FaceIdError

    if "=" not in text:
        return text
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, sep, share = part.partition("=")
        if not sep:
            raise FaceIdError(field, text, "a name, or name=share pairs separated by commas")
        mix[name.strip()] = _parse_number(f"{field}.{name.strip()}", share, "a share in [0, 1]")
    return mix


def _resolve_threshold(
    model: FaceIdScores,
    args: argparse.Namespace,
    gallery: float,
    quality: str | dict[str, float],
    group: str | None,
) -> tuple[float, str]:
    """The threshold and how it was chosen, from --threshold/--target-fpir/--target-hit-rate."""
    from panopticon.stages.identify.faceid import (
        DEFAULT_THRESHOLD,
        FaceIdError,
        threshold_for_fpir,
        threshold_for_hit_rate,
    )
    from panopticon.stages.identify.faceid.checks import check_threshold

    given = [
        n
        for n in ("threshold", "target_fpir", "target_hit_rate")
        if getattr(args, n, None) is not None
    ]
    if len(given) > 1:
        raise FaceIdError(
            "threshold",
            " and ".join("--" + n.replace("_", "-") for n in given),
            "give at most one of --threshold, --target-fpir, --target-hit-rate",
        )
    if getattr(args, "target_fpir", None) is not None:
        p = _parse_number("target_fpir", args.target_fpir, "a number strictly between 0 and 1")
        try:
            t = threshold_for_fpir(model, gallery, p, quality, group)
        except FaceIdError as exc:  # name the option the user typed
            raise FaceIdError("target_fpir", exc.value, exc.allowed) from None
        return t, f"set for FPIR {p:g}"
    if getattr(args, "target_hit_rate", None) is not None:
        p = _parse_number(
            "target_hit_rate", args.target_hit_rate, "a number strictly between 0 and 1"
        )
        try:
            t = threshold_for_hit_rate(model, gallery, p, quality, group)
        except FaceIdError as exc:
            raise FaceIdError("target_hit_rate", exc.value, exc.allowed) from None
        return t, f"set for hit rate {p:g}"
    if getattr(args, "threshold", None) is not None:
        t = check_threshold(_parse_number("threshold", args.threshold, "a number"))
        return t, "given"
    return DEFAULT_THRESHOLD, "default, FPIR 0.003 at N=12M: the NIST operating point"


def _fmt(x: float) -> str:
    """A rate or count: 4 significant digits, scientific when tiny or huge."""
    if x != x:  # NaN
        return "n/a"
    if x == 0:
        return "0"
    if 0.999 <= x < 1.0:
        return f"{x:.6f}"
    if 1e-3 <= abs(x) < 1e7:
        return f"{x:.4g}"
    return f"{x:.3e}"


def _bytes(x: float) -> str:
    """Bytes in decimal units."""
    units = (("ZB", 1e21), ("EB", 1e18), ("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6))
    for unit, size in (*units, ("kB", 1e3)):
        if x >= size:
            return f"{x / size:.4g} {unit}"
    return f"{x:.4g} B"


def _json_safe(x: object) -> object:
    """NaN and infinities become null so that the output is strict JSON."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    return x


def faceid_report(
    model: FaceIdScores,
    gallery: float,
    threshold: float,
    quality: str | Mapping[str, float],
    group: str | Mapping[str, float] | None,
    enrolled_share: float,
    hardware: SearchHardware | None = None,
    searches_per_day: float | None = None,
) -> dict[str, object]:
    """Everything `panopticon faceid` prints, as one dict (the --json object).

    `searches_per_day` defaults to the model's DEFAULT_SEARCHES_PER_DAY.
    """
    from panopticon.stages.identify.faceid import (
        CLAIM_LATENCY_S,
        DEFAULT_SEARCHES_PER_DAY,
        search_cost,
    )
    from panopticon.stages.identify.faceid.checks import check_share

    if searches_per_day is None:
        searches_per_day = DEFAULT_SEARCHES_PER_DAY
    r = model.rates(gallery, threshold, quality, group)
    e = check_share("enrolled_share", enrolled_share)
    by_group = {}
    for gname, weight in model.group_mix(group).items():
        gr = model.rates(gallery, threshold, quality, gname)
        by_group[gname] = {
            "share": weight,
            "fmr_multiplier": model.groups[gname].fmr_multiplier,
            "same_group_share": model.same_group_share(gname),
            "p_correct": gr.p_correct,
            "p_wrong": gr.p_wrong,
            "p_miss": gr.p_miss,
            "fpir": gr.fpir,
        }
    cost = search_cost(gallery, searches_per_day, CLAIM_LATENCY_S, hardware)
    return {
        "gallery": r.gallery,
        "threshold": r.threshold,
        "quality": model.quality_mix(quality),
        "group": "all" if group is None else group,
        "enrolled_share": e,
        "fmr": r.fmr,
        "p_correct": r.p_correct,
        "p_wrong": r.p_wrong,
        "p_miss": r.p_miss,
        "fnir": r.fnir,
        "fpir": r.fpir,
        "expected_false_candidates": r.expected_false_candidates,
        "hit_precision": r.hit_precision(e),
        "wrongful_per_search": e * r.p_wrong + (1.0 - e) * r.fpir,
        "by_group": by_group,
        "search_cost": asdict(cost),
    }


def _print_table(rep: dict[str, object], how: str) -> None:
    """The readable form of `faceid_report`."""
    q = rep["quality"]
    assert isinstance(q, dict)
    quality = ", ".join(f"{k} {v:g}" for k, v in q.items()) if len(q) > 1 else next(iter(q))
    c = rep["search_cost"]
    assert isinstance(c, dict)
    by_group = rep["by_group"]
    assert isinstance(by_group, dict)
    f = {k: v for k, v in rep.items() if isinstance(v, float)}
    lines = [
        "1:N face identification, error-rate model (synthetic scores; no images)",
        f"  gallery G                         {rep['gallery']:,.0f}",
        f"  threshold t                       {f['threshold']:.4f}  ({how})",
        f"  FMR per impostor comparison       {_fmt(f['fmr'])}",
        f"  quality                           {quality}",
        f"  group                             {rep['group']}",
        "",
        "enrolled person searched (mate in gallery, G-1 impostors)",
        f"  p_correct   right person named    {_fmt(f['p_correct'])}",
        f"  p_wrong     innocent person named {_fmt(f['p_wrong'])}",
        f"  p_miss      no candidate >= t     {_fmt(f['p_miss'])}",
        f"  fnir        1 - p_correct         {_fmt(f['fnir'])}",
        "person not enrolled searched (G impostors)",
        f"  fpir        someone named         {_fmt(f['fpir'])}",
        f"  expected false candidates >= t    {_fmt(f['expected_false_candidates'])}",
        f"hits naming the right person        {_fmt(f['hit_precision'])}"
        f"  (enrolled share {f['enrolled_share']:g})",
        f"wrongful attributions per search    {_fmt(f['wrongful_per_search'])}",
    ]
    if len(by_group) > 1 or rep["group"] == "all":
        lines += [
            "",
            "  group      share  FMR x   p_correct   p_wrong     p_miss      fpir        own group",
        ]
        for name, row in by_group.items():
            lines.append(
                f"  {name:<10} {row['share']:<6.3g} {row['fmr_multiplier']:<7.3g} "
                f"{_fmt(row['p_correct']):<11} {_fmt(row['p_wrong']):<11} "
                f"{_fmt(row['p_miss']):<11} {_fmt(row['fpir']):<11} "
                f"{row['same_group_share']:.3g}"
            )
        lines.append(
            "  (FMR x on same-group impostor pairs; own group: share of false matches "
            "naming the group)"
        )
    lines += [
        "",
        f"search cost (exhaustive, {c['template_bytes']}-byte templates, "
        f"batches of {c['batch_size']})",
        f"  gallery in memory                 {_bytes(c['gallery_bytes'])}",
        f"  one pass over it, one server      {c['seconds_per_pass']:.4g} s "
        f"(memory {c['seconds_memory']:.3g} s, compute {c['seconds_compute']:.3g} s/probe)",
        f"  read per search                   {_bytes(c['bytes_per_search'])}, "
        f"{c['ops_per_search']:.3g} ops",
        f"  server-seconds per search         {c['seconds_per_search']:.4g}",
        f"  {'servers for a ' + format(c['latency_s'], 'g') + ' s search':<34}"
        f"{c['servers_for_latency']:,}",
        f"  searches per day                  {c['searches_per_day']:.4g} "
        f"({_bytes(c['bytes_per_day'])} read)",
        f"  servers to keep up                {c['servers_for_throughput']:,}",
        f"  servers to hold the gallery       {c['servers_to_hold_gallery']:,}",
    ]
    print("\n".join(lines))


def run(args: argparse.Namespace) -> int:
    """Run `panopticon faceid`: print the rates (table or JSON), optionally plot; exit code.

    Bad input prints one line `error: <field>: <value> is not allowed; <allowed>` and
    returns 2.
    """
    from pydantic import ValidationError

    from panopticon.stages.identify.faceid import (
        CLAIM_GALLERY,
        DEFAULT_SEARCHES_PER_DAY,
        FaceIdError,
        SearchHardware,
        default_model,
    )
    from panopticon.stages.identify.faceid.checks import check_gallery, check_share

    try:
        model = default_model()
        gallery = check_gallery(
            _parse_number("gallery", args.gallery, "a number >= 1, e.g. 1.3e9")
            if args.gallery is not None
            else CLAIM_GALLERY
        )
        quality = _parse_mix_text("quality", str(args.quality))
        if isinstance(quality, str) and quality not in model.qualities:
            names = ", ".join(model.qualities)
            raise FaceIdError("quality", quality, f"allowed: {names}, or a mix like {_MIX_EG}")
        model.quality_mix(quality)
        group: str | dict[str, float] | None = _parse_mix_text("group", str(args.group))
        if group == "all":
            group = None
        elif isinstance(group, str) and group not in model.groups:
            names = ", ".join(model.groups)
            raise FaceIdError("group", group, f"allowed: all (the population mix), {names}")
        model.group_mix(group)
        enrolled = check_share(
            "enrolled_share",
            _parse_number("enrolled_share", args.enrolled_share, "a number between 0 and 1"),
        )
        hw_update: dict[str, float | int] = {}
        if getattr(args, "template_bytes", None) is not None:
            tb = _parse_number("template_bytes", args.template_bytes, "a whole number >= 1")
            if tb < 1 or tb != int(tb):
                raise FaceIdError("template_bytes", args.template_bytes, "a whole number >= 1")
            hw_update["template_bytes"] = int(tb)
        if getattr(args, "bandwidth", None) is not None:
            bw = _parse_number("bandwidth", args.bandwidth, "bytes per second > 0, e.g. 200e9")
            if not (math.isfinite(bw) and bw > 0):
                raise FaceIdError("bandwidth", args.bandwidth, "bytes per second > 0, e.g. 200e9")
            hw_update["memory_bandwidth"] = bw
        if getattr(args, "batch_size", None) is not None:
            k = _parse_number("batch_size", args.batch_size, "a whole number >= 1")
            if k < 1 or k != int(k):
                raise FaceIdError("batch_size", args.batch_size, "a whole number >= 1")
            hw_update["batch_size"] = int(k)
        searches = DEFAULT_SEARCHES_PER_DAY
        if getattr(args, "searches_per_day", None) is not None:
            searches = _parse_number("searches_per_day", args.searches_per_day, "a number >= 0")
            if not (math.isfinite(searches) and searches >= 0):
                raise FaceIdError("searches_per_day", args.searches_per_day, "a number >= 0")
        hardware = SearchHardware(**hw_update)
        threshold, how = _resolve_threshold(model, args, gallery, quality, group)
        rep = faceid_report(model, gallery, threshold, quality, group, enrolled, hardware, searches)
        if args.plot:
            from panopticon.report.faceid_plots import plot_rates_vs_gallery

            plot_rates_vs_gallery(
                model,
                args.plot,
                quality,
                group,
                sorted({threshold, *(model.impostor.isf(p) for p in (1e-6, 1e-9, 1e-12))}),
            )
    except FaceIdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "value"
        print(f"error: {field}: {err.get('input')!r} is not allowed; {err['msg']}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: plot: {args.plot!r} is not allowed; {exc.strerror}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_json_safe(rep)))
    else:
        _print_table(rep, how)
        if args.plot:
            print(f"\nplot written to {args.plot}")
    return 0


# The name tests/test_faceid.py calls.
run_faceid_command = run
