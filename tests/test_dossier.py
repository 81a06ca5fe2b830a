"""The dossier: catalog size, determinism, derived counts and the command line."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import panopticon as pn
from panopticon import dossier
from panopticon.cli import dossier as dossier_cli

# documented's dated court rates held flat: schedule dates must lie within a shortened run
SHORT = ["sanctions.court.perform_share=0.5", "sanctions.court.listing_per_year=1.0"]


@pytest.fixture(scope="module")
def minimal_run(tmp_path_factory: pytest.TempPathFactory) -> pn.RunResult:
    out = tmp_path_factory.mktemp("dossier") / "minimal"
    return pn.run(pn.load("minimal", population=3000, days=120, seed=3), out=out)


@pytest.fixture(scope="module")
def pilot_run(tmp_path_factory: pytest.TempPathFactory) -> pn.RunResult:
    out = tmp_path_factory.mktemp("dossier") / "pilot"
    return pn.run(pn.load("city-pilot", population=3000, days=100, seed=3), out=out)


def _scenario(run: pn.RunResult) -> pn.Scenario:
    return pn.load(run.path / "scenario.toml")


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="panopticon dossier")
    dossier_cli.add_dossier_arguments(parser)
    code = dossier_cli.run_dossier_command(parser.parse_args(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("fixture", ["minimal_run", "pilot_run"])
def test_catalog_has_800_distinct_names_in_all_categories(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    run = request.getfixturevalue(fixture)
    attrs = dossier.run_catalog(run)
    names = [a.name for a in attrs]
    assert len(set(names)) == len(names) >= 800
    assert {a.category for a in attrs} == set(dossier.CATEGORIES)
    assert all(a.name.startswith(a.category + ".") for a in attrs)
    assert {a.kind for a in attrs} == {"procedural", "derived"}
    df = dossier.materialise(run, [0, 1])
    assert df.columns == ["id", *names]
    assert dict(zip(df.columns[1:], df.dtypes[1:], strict=True)) == {a.name: a.dtype for a in attrs}


def test_determinism_alone_in_a_batch_and_by_seed(minimal_run: pn.RunResult) -> None:
    batch = dossier.materialise(minimal_run, np.arange(200)[::-1])
    alone = dossier.materialise(minimal_run, [5])
    assert alone.row(0) == batch.filter(pl.col("id") == 5).row(0)
    again = dossier.materialise(minimal_run, np.arange(200)[::-1])
    assert again.equals(batch)
    sc = _scenario(minimal_run)
    ids = np.arange(50)
    same = dossier.procedural(sc, ids)
    assert same.equals(dossier.procedural(sc, ids))
    other = dossier.procedural(sc.override({"run.seed": 4}), ids)
    differ = [c for c in same.columns if not same[c].equals(other[c])]
    assert len(differ) > 0.8 * same.width


def test_derived_counts_equal_hand_counts(pilot_run: pn.RunResult) -> None:
    rec = pilot_run.records.with_columns(pl.col("behavior", "channel").cast(pl.String))
    busy = (
        rec.group_by("attributed_to")
        .len()
        .sort(["len", "attributed_to"], descending=True)["attributed_to"]
    )
    ids = [*busy.head(20).to_list(), 0, 1]
    df = dossier.materialise(pilot_run, ids)
    last = _scenario(pilot_run).run.days - 1
    for row in df.iter_rows(named=True):
        mine = rec.filter(pl.col("attributed_to") == row["id"])
        for (b, ch), g in mine.group_by(["behavior", "channel"]):
            for w in dossier.WINDOWS:
                hand = g.filter(pl.col("day") >= last - w + 1).height
                assert row[f"records.{b}.{ch}.count_{w}d"] == hand
            assert row[f"records.{b}.{ch}.last_day"] == g["day"].max()
        assert row["records.total.count_run"] == mine.height
        assert row["records.total.count_30d"] == mine.filter(pl.col("day") >= last - 29).height
        assert (
            row["records.by_channel.camera.count_90d"]
            == mine.filter((pl.col("channel") == "camera") & (pl.col("day") >= last - 89)).height
        )
    counted = [
        c
        for c in df.columns
        if c.startswith("records.")
        and c.count(".") == 3
        and c.endswith(".count_365d")
        and not c.startswith("records.by_channel.")
    ]
    assert (df.select(counted).sum_horizontal() == df["records.total.count_365d"]).all()


def test_end_state_hides_simulator_truth(pilot_run: pn.RunResult) -> None:
    df = dossier.materialise(pilot_run, [3])
    state = [c for c in df.columns if c.startswith("records.state.")]
    assert {"records.state.score", "records.state.grade"} <= set(state)
    assert not [
        c for c in state if "true" in c or "correct" in c or "wrong" in c or "committed" in c
    ]
    assert df["records.state.score"][0] == pilot_run.people["score"][3]


def _copy_run(run: pn.RunResult, to: Path, people: dict[str, Any] | None) -> pn.RunResult:
    """A copy of a run folder whose manifest declares `people` (None: no outputs key)."""
    shutil.copytree(run.path, to)
    manifest = json.loads((to / "manifest.json").read_text("utf-8"))
    if people is None:
        del manifest["outputs"]
    else:
        manifest["outputs"]["people"] = people
    (to / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    return pn.open_run(to)


@pytest.fixture(scope="module")
def documented_run(tmp_path_factory: pytest.TempPathFactory) -> pn.RunResult:
    out = tmp_path_factory.mktemp("dossier") / "documented"
    return pn.run(pn.load("documented", SHORT, population=500, days=30, seed=2), out=out)


@pytest.mark.parametrize("fixture", ["minimal_run", "pilot_run", "documented_run"])
def test_state_columns_follow_the_declarations(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    run = request.getfixturevalue(fixture)
    declared = run.manifest["outputs"]["people"]
    state = {
        c.removeprefix("records.state.")
        for c in dossier.materialise(run, [0]).columns
        if c.startswith("records.state.")
    }
    truth = {c for c, d in declared.items() if d["truth"]}
    assert {"true_score", "committed", "records_correct", "records_wrong"} <= truth
    assert not state & truth
    known = {c for c, d in declared.items() if not d["truth"]} - dossier.IDENTITY_COLUMNS
    assert state == known
    assert dossier.catalog(_scenario(run)) == dossier.run_catalog(run)


def test_module_declared_columns_appear(documented_run: pn.RunResult) -> None:
    df = dossier.materialise(documented_run, [0, 7])
    # declared truth=False by the network, a sanctions measure, a list and a factor score
    for col in ("degree_end", "public_jobs", "court", "sesame", "sesame_grade"):
        assert (
            df[f"records.state.{col}"].to_list()
            == (
                documented_run.people[col].cast(df[f"records.state.{col}"].dtype).gather([0, 7])
            ).to_list()
        )
    for col in ("sesame_true", "redlist_true", "true_grade"):
        assert f"records.state.{col}" not in df.columns


def test_a_column_declared_truth_is_hidden(minimal_run: pn.RunResult, tmp_path: Path) -> None:
    people = dict(minimal_run.manifest["outputs"]["people"])
    people["sanctioned"] = {**people["sanctioned"], "truth": True}
    people["records_correct"] = {**people["records_correct"], "truth": False}
    run = _copy_run(minimal_run, tmp_path / "r", people)
    state = [c for c in dossier.materialise(run, [1]).columns if c.startswith("records.state.")]
    assert state == ["records.state.score", "records.state.records_correct"]


def test_an_old_run_without_declarations_opens(
    minimal_run: pn.RunResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _copy_run(minimal_run, tmp_path / "old", None)
    ids = np.arange(0, 3000, 11)
    assert dossier.materialise(old, ids).equals(dossier.materialise(minimal_run, ids))
    assert dossier.run_catalog(old) == dossier.run_catalog(minimal_run)
    code, out, err = _cli([str(old.path), "--person", "4"], capsys)
    assert code == 0 and err == "" and "records.state.score" in out


def test_visible_rules() -> None:
    declared = {"score": {"truth": False}, "true_score": {"truth": True}, "id": {"truth": False}}
    assert dossier.visible("score", declared)
    assert not dossier.visible("true_score", declared)
    assert not dossier.visible("id", declared)
    assert not dossier.visible("undeclared", declared)
    assert dossier.visible("score", None) and dossier.visible("undeclared", None)
    for col in ("id", "age", "true_score", "sesame_true", "records_correct", "committed"):
        assert not dossier.visible(col, None)


def test_scenario_schema_has_the_run_dtypes(tmp_path: Path) -> None:
    sc = pn.load("minimal", population=300, days=5, seed=1).override({"scoring.start": 100000})
    by_name = {a.name: a for a in dossier.catalog(sc)}
    assert by_name["records.state.score"].dtype == pl.Int32
    run = pn.run(sc, out=tmp_path / "r")
    assert run.people.schema["score"] == pl.Int32
    assert dossier.catalog(sc) == dossier.run_catalog(run)


def test_children_have_no_employer_and_no_loans(pilot_run: pn.RunResult) -> None:
    df = dossier.materialise(pilot_run, np.arange(3000))
    kids = df.filter(pl.col("identity.age_years") < 16)
    assert kids.height > 100
    assert kids["employment.employer_code"].null_count() == kids.height
    assert not kids["employment.employed"].any()
    assert (kids["finance.total_debt_cny"] == 0).all()
    workers = df.filter(pl.col("employment.employed"))
    assert workers["employment.employer_code"].null_count() == 0
    assert workers["finance.monthly_income_cny"].median() > 0
    assert (
        df["consumption.groceries.spend_cny_30d"] <= df["consumption.groceries.spend_cny_365d"]
    ).all()
    assert df["identity.age_years"].to_list() == pilot_run.people["age"].cast(pl.Int32).to_list()


def test_cli_person_prints_categories(
    minimal_run: pn.RunResult, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli([str(minimal_run.path), "--person", "42"], capsys)
    assert code == 0 and err == ""
    for cat in dossier.CATEGORIES:
        assert f"\n{cat} (" in out
    assert "identity.synthetic_id" in out and "records.violation.camera.count_30d" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--person", "12345678"],
            "error: --person: 12345678 is not allowed; ids run from 0 to 2999",
        ),
        (["--person", "x"], "error: --person: x is not allowed; ids run from 0 to 2999"),
        (["--sample", "0", "--out", "{tmp}/s.parquet"], "error: --sample: 0 is not allowed"),
        (["--sample", "3001", "--out", "{tmp}/s.parquet"], "error: --sample: 3001"),
        (["--sample", "3"], "error: --sample: without --out"),
        ([], "error: dossier: neither --person nor --sample"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(
    minimal_run: pn.RunResult,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    argv: list[str],
    message: str,
) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, out, err = _cli([str(minimal_run.path), *argv], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(message)
    assert list(tmp_path.iterdir()) == []


def test_cli_not_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli([str(tmp_path / "nope"), "--person", "1"], capsys)
    assert code == 2 and out == "" and err.startswith("error: run ") and err.count("\n") == 1


def test_cli_sample_writes_k_rows(
    pilot_run: pn.RunResult, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_file = tmp_path / "s.parquet"
    code, out, _ = _cli([str(pilot_run.path), "--sample", "25", "--out", str(out_file)], capsys)
    assert code == 0 and "25" in out
    df = pl.read_parquet(out_file)
    assert df.height == 25 and df["id"].n_unique() == 25 and df.width > 800
    assert df.equals(dossier.sample(pilot_run, 25, seed=0))


def test_record_log_none_gives_nulls_and_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sc = pn.load("minimal", population=500, days=20, seed=1).override({"run.records": "none"})
    run = pn.run(sc, out=tmp_path / "r")
    df = dossier.materialise(run, [1, 2])
    assert df["records.total.count_30d"].null_count() == 2
    assert df["records.state.score"].null_count() == 0
    code, _, err = _cli([str(run.path), "--person", "1"], capsys)
    assert code == 0 and err.startswith("warning: ") and err.count("\n") == 1


def test_sampled_log_gives_estimates() -> None:
    sc = pn.load("minimal").override({"run.records": "sample"})
    by_name = {a.name: a for a in dossier.catalog(sc)}
    assert by_name["records.total.count_30d"].dtype == pl.Float64
    assert "estimated" in by_name["records.total.count_30d"].description
    assert dossier.records_note(sc) is not None
    assert dossier.records_note(pn.load("minimal")) is None


def test_national_volume() -> None:
    attrs = dossier.catalog(pn.load("minimal"))
    v = dossier.national_volume(
        1.4e9, records_per_person_year=10, bytes_per_record=20, attributes=attrs, years=1
    )
    assert v["bytes_per_person"] == sum(a.nbytes for a in attrs)
    assert v["dossier_bytes"] == pytest.approx(1.4e9 * v["bytes_per_person"])
    assert v["record_log_bytes_per_year"] == pytest.approx(1.4e9 * 10 * 20)
    assert v["total_bytes"] == pytest.approx(v["dossier_bytes"] + v["record_log_bytes_per_year"])
