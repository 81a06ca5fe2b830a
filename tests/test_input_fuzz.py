"""Trying to break the scenario input: fuzzed ``--set`` items and files over every field.

Every dotted key of the schema (walked from the models, with the names each preset uses)
gets values drawn from integers (huge and negative too), floats (nan, inf, -0.0, 1e308),
bools, strings, lists and tables. Loading must either succeed with a value of the
field's own type, finite, or fail with ScenarioError: never another exception, never a
hang. Then the explicit cases of the newcomer review, and the work guard.
"""

from __future__ import annotations

import json
import math
import typing
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import panopticon as pn
from panopticon.cli import main
from panopticon.core import budget
from panopticon.core.engine import check_memory
from panopticon.scenario.schema import Measure, Scenario
from panopticon.stages.sanction.measures.consumption import ConsumptionOptions

PRESETS = pn.preset_names()
RESOLVED = {p: pn.load(p).to_dict() for p in PRESETS}
NEW = "fuzzed"  # a name no preset uses: a new behaviour, channel, measure, ...


def _models(ann: Any) -> list[type[BaseModel]]:
    """The models an annotation holds directly (a model, or a union of models / None)."""
    args = typing.get_args(ann) if typing.get_origin(ann) in (typing.Union, type(int | str)) else ()
    cands = [ann, *args]
    return [a for a in cands if isinstance(a, type) and issubclass(a, BaseModel)]


def field_keys(model: type[BaseModel], prefix: str, data: Any) -> list[str]:
    """Every dotted key under `model`; named tables use the names in `data` and `NEW`."""
    keys: list[str] = []
    data = data if isinstance(data, dict) else {}
    for name, f in model.model_fields.items():
        key, ann = f"{prefix}{name}", f.annotation
        keys.append(key)
        sub = data.get(name)
        origin, args = typing.get_origin(ann), typing.get_args(ann)
        if model is Measure and name == "options":
            keys += [f"{key}.leak_share", f"{key}.items", f"{key}.items.{NEW}"]
            keys += [f"{key}.items.{k}" for k in (sub or {}).get("items", {})]
            continue
        for m in _models(ann):
            keys += field_keys(m, key + ".", sub)
        if origin is dict:
            names = [*(sub or {}), NEW]
            inner = _models(args[1])
            for n in names:
                keys.append(f"{key}.{n}")
                for m in inner:
                    keys += field_keys(m, f"{key}.{n}.", (sub or {}).get(n))
    return keys


KEYS = sorted({(p, k) for p in PRESETS for k in field_keys(Scenario, "", RESOLVED[p])})

FLOATS = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.0, 1e308, -1e308, 5e-324, 1e19]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-2.0, 2.0),
)
INTS = st.one_of(
    st.sampled_from([0, 1, -1, 2, 2**31, 2**31 - 1, 2**63 - 1, -(2**63), 2147483647, 10**18]),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-5, 400),
)
SCALARS = st.one_of(
    INTS, FLOATS, st.booleans(), st.text(max_size=12), st.sampled_from(["all", "10", "nan", ""])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "x", NEW, "rate", "share"]), inner, max_size=3),
    ),
    max_leaves=6,
)


def literal(value: Any) -> str:
    """`value` as a TOML literal, as one would type it after ``--set key=``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {literal(v)}" for k, v in value.items()) + "}"


def lookup(data: Any, key: str) -> Any:
    """The value at dotted `key` in resolved plain data, or KeyError."""
    for part in key.split("."):
        if not isinstance(data, dict):
            raise KeyError(key)
        data = data[part]
    return data


def non_finite(data: Any) -> list[Any]:
    """Every non-finite float anywhere in plain data."""
    if isinstance(data, dict):
        return [x for v in data.values() for x in non_finite(v)]
    if isinstance(data, list | tuple):
        return [x for v in data for x in non_finite(v)]
    return [data] if isinstance(data, float) and not math.isfinite(data) else []


def check_accepted(sc: Scenario, key: str, value: Any) -> None:
    """An accepted value is finite and of its field's type (ints may fill float fields)."""
    data = sc.to_dict()
    assert not non_finite(data), (key, value)
    try:
        got = lookup(data, key)
    except KeyError:
        return  # replaced by a validator (e.g. a mode switch): nothing to compare
    if isinstance(value, bool):
        assert isinstance(got, bool), (key, value, got)
    elif isinstance(value, int):
        assert type(got) in (int, float) and math.isclose(got, value, rel_tol=1e-15), (key, got)
    elif isinstance(value, float):
        assert type(got) is float and (got == value), (key, value, got)
    elif isinstance(value, str):
        assert isinstance(got, str), (key, value, got)


def try_load(preset: str, key: str, value: Any) -> None:
    """Load `preset` with ``key=value``: a clean refusal or a finite, well-typed value."""
    try:
        sc = pn.load(preset, sets=[f"{key}={literal(value)}"])
    except pn.ScenarioError as exc:
        msg = str(exc)
        assert msg.startswith("error: ") and "Traceback" not in msg
        return
    check_accepted(sc, key, value)


FUZZ = settings(
    max_examples=250,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)


def test_every_field_is_walked() -> None:
    """The walk reaches deep fields of every stage (a sanity check of the fuzzer)."""
    keys = {k for _, k in KEYS}
    for key in (
        "run.days",
        "population.propensity.shape",
        "behaviors.violation.rate",
        f"behaviors.{NEW}.ages",
        "surveillance.faceid.p_wrong",
        "surveillance.faceid.gallery",
        "sanctions.blacklist.threshold",
        "network.friends.mean",
        "response.announcements",
    ):
        assert key in keys, key
    assert len(keys) > 250


@FUZZ
@given(st.sampled_from(KEYS), VALUES)
def test_fuzzed_set_items(preset_key: tuple[str, str], value: Any) -> None:
    """--set over every field: never a traceback, nothing non-finite or mistyped accepted."""
    try_load(*preset_key, value)


@FUZZ
@given(st.sampled_from(KEYS), st.sampled_from([math.nan, math.inf, -math.inf, True, False, "1"]))
def test_fuzzed_hostile_scalars(preset_key: tuple[str, str], value: Any) -> None:
    """The values that used to slip through: non-finite floats, bools, numeric strings."""
    preset, key = preset_key
    try:
        sc = pn.load(preset, sets=[f"{key}={literal(value)}"])
    except pn.ScenarioError:
        return
    check_accepted(sc, key, value)
    assert not isinstance(value, float), (key, value)


@settings(max_examples=60, deadline=2000, database=None)
@given(st.sampled_from(KEYS), VALUES, st.text(max_size=20))
def test_fuzzed_files_and_raw_literals(
    tmp_path_factory: pytest.TempPathFactory, preset_key: tuple[str, str], value: Any, raw: str
) -> None:
    """Scenario files that extend a preset, and raw --set text: ScenarioError or valid."""
    preset, key = preset_key
    data: dict[str, Any] = {"extends": preset}
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    path = tmp_path_factory.mktemp("fuzz") / "s.toml"
    path.write_text(tomli_w.dumps(data), "utf-8")
    try:
        sc = pn.load(path)
    except pn.ScenarioError:
        pass
    else:
        check_accepted(sc, key, value)
    try:
        pn.load(preset, sets=[f"{key}={raw}"])
    except pn.ScenarioError:
        pass


@pytest.mark.slow
@settings(max_examples=1000, deadline=5000, database=None)
@given(st.sampled_from(KEYS), VALUES)
def test_fuzzed_set_items_long(preset_key: tuple[str, str], value: Any) -> None:
    """The --set fuzz with more examples."""
    try_load(*preset_key, value)


REFUSED = [
    ("run.days", "true", "run.days: True is not allowed"),
    ("run.days", '"10"', "run.days: '10' is not allowed"),
    ("run.days", "10.0", "run.days: 10.0 is not allowed"),
    ("run.seed", "false", "run.seed: False is not allowed"),
    ("surveillance.camera.enabled", "1", "surveillance.camera.enabled: 1 is not allowed"),
    ("behaviors.violation.rate", "inf", "behaviors.violation.rate: inf is not allowed"),
    ("behaviors.violation.rate", "1e19", "less than or equal to 1000"),
    ("behaviors.violation.rate", "1e6", "behaviors.violation.rate: 1000000.0 is not allowed"),
    ("behaviors.violation.rate", "2147483647", "less than or equal to 1000"),
    ("behaviors.violation.rate", "true", "behaviors.violation.rate: True is not allowed"),
    ("population.propensity.shape", "inf", "population.propensity.shape: inf is not allowed"),
    ("population.propensity.shape", "0", "greater than or equal to 0.01"),
    ("sanctions.blacklist.threshold", "nan", "sanctions.blacklist.threshold: nan is not"),
    ("sanctions.blacklist.threshold", "inf", "sanctions.blacklist.threshold: inf is not"),
    ("sanctions.blacklist.threshold", "-inf", "finite number"),
    ("surveillance.faceid.p_wrong", "nan", "surveillance.faceid.p_wrong: nan is not allowed"),
    ("population.size", "1e6", "population.size: 1000000.0 is not allowed"),
    ("population.size", '"1000"', "population.size: '1000' is not allowed"),
    ("surveillance.camera.coverage", '"0.3"', "valid number"),
    ("behaviors.violation.ages", "[0.5, 30]", "behaviors.violation.ages.0: 0.5 is not allowed"),
]


@pytest.mark.parametrize(("key", "raw", "expected"), REFUSED)
def test_review_cases_refused_with_a_clear_message(key: str, raw: str, expected: str) -> None:
    """Each case of the review is refused on one line naming the field and the value."""
    with pytest.raises(pn.ScenarioError) as info:
        pn.load("minimal", sets=[f"{key}={raw}"])
    msg = str(info.value)
    assert expected in msg, msg
    assert len(msg.splitlines()) == 1, msg
    if raw in ("nan", "inf", "-inf"):
        assert "finite" in msg and "<= 1" not in msg and "less than" not in msg, msg


def test_integers_fill_float_fields_and_tuples_take_arrays() -> None:
    """A TOML integer is a number for a float field; arrays fill pairs; presets stay valid."""
    sc = pn.load(
        "minimal",
        sets=[
            "behaviors.violation.rate=1",
            "population.propensity.shape=2",
            "sanctions.blacklist.threshold=900",
            "behaviors.violation.ages=[18, 60]",
        ],
    )
    assert sc.behaviors["violation"].rate == 1.0
    assert isinstance(sc.behaviors["violation"].rate, float)
    assert sc.population.propensity.shape == 2.0
    assert sc.behaviors["violation"].ages == (18, 60)
    for name in PRESETS:
        assert pn.load(name).to_dict() == RESOLVED[name]
        again = Scenario.model_validate(RESOLVED[name])
        assert again == pn.load(name)


def test_consumption_options_are_strict_and_bounded() -> None:
    """The consumption measure's own options refuse bools, nan and huge rates."""
    for bad in ({"items": {"hotel": True}}, {"items": {"hotel": math.nan}}, {"items": {"a": 1e9}}):
        with pytest.raises(ValueError, match="validation error"):
            ConsumptionOptions(**bad)
    assert ConsumptionOptions(items={"hotel": 2}).items == {"hotel": 2.0}


def test_work_guard_refuses_absurd_runs_before_they_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Over 10^11 candidate acts: refused with the estimate, naming what to lower."""
    sc = pn.load("minimal", sets=["behaviors.violation.rate=1000"])
    assert budget.expected_draws(sc) == pytest.approx(1e6 * 365 * 1000)
    with pytest.raises(pn.RunError) as info:
        check_memory(sc)
    msg = str(info.value)
    for word in ("population.size", "run.days", "behaviors.violation.rate", "3.65e+11"):
        assert word in msg, msg
    out = tmp_path / "never"
    rc = main(["run", "minimal", "--set", "behaviors.violation.rate=1000", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "run too large" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
    for name in PRESETS:
        check_memory(pn.load(name).override({"population.size": 1000}))
        assert budget.expected_draws(pn.load(name)) < budget.MAX_DRAWS


def test_work_guard_counts_measure_attempts() -> None:
    """Measure attempts are drawn one by one too, so they count toward the budget."""
    sc = pn.load("documented")
    base = budget.expected_draws(sc)
    name = next(k for k, m in sc.sanctions.measures.items() if m.kind == "travel")
    more = sc.override({f"sanctions.measures.{name}.attempts_per_year": 100_000}, days=3650)
    person_days = more.population.size * 3650
    assert budget.expected_draws(more) > base * 10 + person_days * 100_000 / 365 * 0.99
    with pytest.raises(pn.RunError, match="measure attempts"):
        check_memory(more)


def test_validate_cli_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """`panopticon validate` refuses a bool for an integer with exit 2 and one line."""
    assert main(["validate", "minimal", "--set", "run.days=true"]) == 2
    err = capsys.readouterr().err
    assert "run.days: True is not allowed" in err and "Traceback" not in err
