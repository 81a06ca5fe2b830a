"""The science review's tables from run folders: funnel by kind, cameras by place, groups.

Reads only what both today's and older run folders hold (the timeseries'
`committed_<behaviour>` columns, `records.parquet` with `behavior` and `correct`,
`groups.parquet`, and, where present, `consequences_by_group.parquet`), so the same
script measures the model before and after a change. Needs runs with
``run.records = "all"`` (a sampled record log undercounts the funnel).

    panopticon run seed-article --population 1000000 --days 365 \
        --set 'run.records="all"' --out /tmp/sa-on
    panopticon run seed-article --population 1000000 --days 365 \
        --set 'run.records="all"' --set surveillance.camera.enabled=false --out /tmp/sa-off
    python3 benchmarks/science_tables.py /tmp/sa-on --unwatched /tmp/sa-off
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

import polars as pl


def kinds(scenario: dict) -> dict[str, str]:
    """Behaviour -> violation, lawful or rewarded."""
    out = {}
    for name, b in scenario["behaviors"].items():
        if b.get("valence", "negative") == "positive":
            out[name] = "rewarded"
        elif b.get("lawful", False):
            out[name] = "lawful"
        else:
            out[name] = "violation"
    return out


def funnel(run: Path) -> pl.DataFrame:
    """Per kind: acts committed, records, records against an innocent, their shares."""
    sc = tomllib.loads((run / "scenario.toml").read_text("utf-8"))
    assert sc["run"].get("records", "all") == "all", f"{run}: needs run.records = 'all'"
    kind = kinds(sc)
    ts = pl.read_parquet(run / "timeseries.parquet")
    committed = {k: 0 for k in ("violation", "lawful", "rewarded")}
    for name, k in kind.items():
        col = f"committed_{name}"
        if col in ts.columns:
            committed[k] += int(ts[col].sum())
    rec = pl.read_parquet(run / "records.parquet", columns=["behavior", "correct"])
    names = list(kind)
    beh = rec["behavior"]
    if beh.dtype in (pl.Categorical, pl.Enum):
        beh = beh.cast(pl.Utf8)
    elif beh.dtype != pl.Utf8:
        beh = beh.cast(pl.Int64).map_elements(lambda i: names[i], return_dtype=pl.Utf8)
    rec = rec.with_columns(beh.replace_strict(kind, return_dtype=pl.Utf8).alias("kind"))
    by = rec.group_by("kind").agg(
        pl.len().alias("records"), (~pl.col("correct")).sum().alias("wrong")
    )
    rows = []
    for k in ("violation", "lawful", "rewarded"):
        r = by.filter(pl.col("kind") == k)
        n = int(r["records"][0]) if r.height else 0
        w = int(r["wrong"][0]) if r.height else 0
        c = committed[k]
        rows.append(
            {
                "kind": k,
                "committed": c,
                "records": n,
                "recorded_share_pct": 100.0 * n / c if c else float("nan"),
                "wrong": w,
                "wrong_share_pct": 100.0 * w / n if n else float("nan"),
            }
        )
    return pl.DataFrame(rows)


def by_place(on: Path, off: Path) -> pl.DataFrame:
    """Camera-visible violations committed per place, watched against unwatched."""
    sc = tomllib.loads((on / "scenario.toml").read_text("utf-8"))
    a = pl.read_parquet(on / "timeseries.parquet")
    b = pl.read_parquet(off / "timeseries.parquet")
    acc: dict[str, list[int]] = {}
    for name, beh in sc["behaviors"].items():
        if beh.get("valence", "negative") == "positive" or beh.get("lawful", False):
            continue
        if "camera" not in beh.get("channels", []):
            continue
        x = acc.setdefault(beh.get("place", "street"), [0, 0])
        x[0] += int(a[f"committed_{name}"].sum())
        x[1] += int(b[f"committed_{name}"].sum())
    return pl.DataFrame(
        [
            {"place": p, "watched": w, "unwatched": u, "change_pct": 100.0 * (w / u - 1.0)}
            for p, (w, u) in sorted(acc.items())
        ]
    )


def groups(run: Path) -> pl.DataFrame:
    """Per group: detected acts, records against, wrongful records against, per detection."""
    g = pl.read_parquet(run / "groups.parquet")
    t = g.group_by("group").agg(
        pl.col("observed").sum(), pl.col("records_against").sum(), pl.col("wrongful_against").sum()
    )
    return t.with_columns(
        (1e3 * pl.col("wrongful_against") / pl.col("observed")).alias("wrongful_per_1000_detected")
    ).sort("group")


def collateral(run: Path) -> pl.DataFrame | None:
    """Per measure, on the last day: triggered, wrongly, collaterally (if counted)."""
    p = run / "consequences_by_group.parquet"
    if not p.exists():
        return None
    c = pl.read_parquet(p)
    last = c.filter(pl.col("day") == c["day"].max())
    cols = [x for x in ("triggered", "triggered_wrongly", "collateral", "collateral_wrongly")]
    cols = [x for x in cols if x in last.columns]
    return last.group_by("measure").agg([pl.col(x).sum() for x in cols]).sort("measure")


def main() -> None:
    """Print the tables as Markdown."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--unwatched", type=Path)
    a = ap.parse_args()
    pl.Config.set_tbl_formatting("MARKDOWN")
    pl.Config.set_tbl_hide_dataframe_shape(True)
    pl.Config.set_tbl_hide_column_data_types(True)
    pl.Config.set_float_precision(3)
    pl.Config.set_tbl_rows(100)
    print(f"## {a.run}\n\nfunnel by kind\n\n{funnel(a.run)}\n")
    if a.unwatched is not None:
        table = by_place(a.run, a.unwatched)
        print(f"camera-visible violations, watched vs {a.unwatched}\n\n{table}\n")
    if (a.run / "groups.parquet").exists():
        print(f"groups\n\n{groups(a.run)}\n")
    col = collateral(a.run)
    if col is not None:
        print(f"consequences on the last day\n\n{col}\n")


if __name__ == "__main__":
    main()
