"""Scenario files: the schema, presets, validation and `--set` overrides.

A scenario is a TOML file validated against the pydantic models below. Every table is a
named table (never a positional list) so that new behaviours, channels, policies and
sanctions are new keys, and every value can be addressed by a dotted key such as
``surveillance.faceid.p_miss`` from the command line or a sweep.
"""

from __future__ import annotations

import copy
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class ScenarioError(ValueError):
    """A scenario that cannot be loaded or validated; the message is meant for the user."""


class Strict(BaseModel):
    """Base for every scenario table: unknown fields are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class RunSettings(Strict):
    """How long to run, with which seed, and what to keep."""

    days: int = Field(365, ge=1, le=36500, description="days simulated, numbered 0 .. days-1")
    seed: int = Field(0, ge=0, lt=2**63, description="root of every random stream")
    records: Literal["all", "sample", "none"] = Field(
        "all", description="records.parquet keeps every record, a uniform sample, or none"
    )
    records_sample: Probability = Field(
        0.01, description="share of records kept when records = 'sample'"
    )


class Propensity(Strict):
    """Citizen i's base rate multiplier g_i ~ Gamma(shape, mean 1): heterogeneity."""

    distribution: Literal["gamma"] = "gamma"
    shape: float = Field(0.5, gt=0.0, description="Gamma shape; smaller is more unequal")


class Group(Strict):
    """A demographic group: its share of the population."""

    share: Probability = Field(1.0, description="share of citizens in this group")


class Region(Strict):
    """A region: its share of the population and its relative camera density."""

    share: Probability = Field(1.0, description="share of citizens living here")
    camera_density: NonNegative = Field(
        1.0, description="cameras per person relative to the national average"
    )


def _check_shares(field: str, shares: dict[str, float]) -> None:
    """Shares of a named partition must sum to 1."""
    total = sum(shares.values())
    if abs(total - 1.0) > 1e-9:
        raise ValueError(
            f"{field}: shares sum to {total:g}, which is not allowed; they must sum to 1"
        )


def parse_band(key: str) -> tuple[int, int]:
    """An age band key such as '18-34' as (18, 34); ValueError naming what is allowed."""
    parts = key.split("-")
    ok = len(parts) == 2 and all(p.strip().isdigit() for p in parts)
    lo, hi = (int(parts[0]), int(parts[1])) if ok else (0, -1)
    if not ok or lo > hi or hi > 120:
        raise ValueError(
            f"population.age_bands.{key}: not an age band; use 'low-high' with "
            "0 <= low <= high <= 120, e.g. '18-34'"
        )
    return lo, hi


class Population(Strict):
    """The synthetic citizens: how many, how unequal, and who they are."""

    size: int = Field(1_000_000, ge=1, le=2**31 - 2, description="number of citizens")
    propensity: Propensity = Propensity()
    represents: float | None = Field(
        None, gt=0, description="size of the nation this sample stands for (scales totals)"
    )
    groups: dict[str, Group] = Field(default_factory=lambda: {"all": Group()})
    regions: dict[str, Region] = Field(default_factory=lambda: {"all": Region()})
    age_bands: dict[str, Probability] = Field(
        default_factory=lambda: {"18-80": 1.0},
        description="age band 'low-high' -> share; ages are uniform within a band",
    )

    @model_validator(mode="after")
    def _partitions(self) -> Population:
        for field, table in (("population.groups", self.groups),
                             ("population.regions", self.regions)):
            if not table or len(table) > 255:
                raise ValueError(f"{field}: {len(table)} entries are not allowed; 1 to 255")
            _check_shares(field, {k: v.share for k, v in table.items()})
        if not self.age_bands:
            raise ValueError("population.age_bands: empty is not allowed; give one band")
        for key in self.age_bands:
            parse_band(key)
        _check_shares("population.age_bands", dict(self.age_bands))
        if self.represents is not None and self.represents < self.size:
            raise ValueError(
                f"population.represents = {self.represents:g} is not allowed; it must be at "
                f"least population.size = {self.size}"
            )
        return self


class Behavior(Strict):
    """One kind of act: its mean rate per citizen-day and the points a record costs."""

    rate: NonNegative = Field(0.02, description="mean acts per citizen per day")
    points: int = Field(5, ge=0, le=10_000, description="points deducted per record")


class Camera(Strict):
    """The camera channel: the chance that one act is seen."""

    coverage: Probability = Field(0.3, description="probability an act is seen")


class FaceIdFixed(Strict):
    """Face identification with fixed outcome rates per seen act."""

    mode: Literal["fixed"] = "fixed"
    p_miss: Probability = Field(0.10, description="seen act not identified")
    p_wrong: Probability = Field(0.01, description="seen act attributed to someone else")

    @model_validator(mode="after")
    def _rates_sum(self) -> FaceIdFixed:
        if self.p_miss + self.p_wrong > 1.0:
            raise ValueError(
                f"p_miss + p_wrong = {self.p_miss + self.p_wrong:g} is not allowed; "
                "the two outcome rates must sum to at most 1"
            )
        return self


class Surveillance(Strict):
    """Channels that see acts, and the identification that attributes them."""

    enabled: bool = Field(True, description="false: nothing is seen (unwatched baseline)")
    camera: Camera = Camera()
    faceid: FaceIdFixed = FaceIdFixed()


class Recovery(Strict):
    """Points regained after a quiet period with no record."""

    points: int = Field(5, ge=0, le=10_000)
    every_days: int = Field(30, ge=1, le=36500)


class Scoring(Strict):
    """A points ledger: start (also the cap), floor, recovery."""

    start: int = Field(1000, ge=-32768, le=2**31 - 1)
    floor: int = Field(0, ge=-(2**31), le=2**31 - 1)
    recovery: Recovery = Recovery()

    @model_validator(mode="after")
    def _floor_below_start(self) -> Scoring:
        if self.floor > self.start:
            raise ValueError(
                f"floor = {self.floor} is not allowed; it must be at most start = {self.start}"
            )
        return self


class Blacklist(Strict):
    """Sanctioned while the score is below the threshold."""

    threshold: float = Field(970, description="sanctioned while score < threshold")


class Sanctions(Strict):
    """Consequences keyed on the score."""

    blacklist: Blacklist = Blacklist()


class Response(Strict):
    """How behaviour responds to being recorded (specific deterrence)."""

    deterrence: float = Field(0.8, gt=0.0, le=1.0, description="multiplier per record")
    deterrence_floor: Probability = Field(0.2, description="lowest deterrence multiplier")


class Scenario(Strict):
    """A complete, validated scenario."""

    name: str = Field("scenario", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    run: RunSettings = RunSettings()
    population: Population = Population()
    behaviors: dict[str, Behavior] = Field(default_factory=lambda: {"violation": Behavior()})
    surveillance: Surveillance = Surveillance()
    scoring: Scoring = Scoring()
    sanctions: Sanctions = Sanctions()
    response: Response = Response()

    @model_validator(mode="after")
    def _checks(self) -> Scenario:
        if not self.behaviors:
            raise ValueError("behaviors = {} is not allowed; define at least one behaviour")
        if len(self.behaviors) > 255:
            raise ValueError(f"behaviors: {len(self.behaviors)} are not allowed; at most 255")
        if self.population.size < 2 and self.surveillance.faceid.p_wrong > 0:
            raise ValueError(
                "population.size = 1 is not allowed with surveillance.faceid.p_wrong > 0; "
                "a wrongful record needs someone else to name (use size >= 2 or p_wrong = 0)"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        """The fully resolved scenario as plain data (every default filled in)."""
        return self.model_dump(mode="python", exclude_none=True)

    def to_toml(self) -> str:
        """The fully resolved scenario as TOML: running this file alone repeats the run."""
        return tomli_w.dumps(self.to_dict())

    def override(self, values: dict[str, Any] | None = None, **top: Any) -> Scenario:
        """A new, validated scenario with dotted keys replaced (``{"run.days": 30}``).

        Keyword shortcuts: ``population`` (size), ``days`` and ``seed``.
        """
        data = self.to_dict()
        merged = dict(values or {})
        shortcuts = {"population": "population.size", "days": "run.days", "seed": "run.seed"}
        for key, value in top.items():
            if key not in shortcuts:
                raise ScenarioError(
                    f"error: {key}: not an override shortcut; allowed: {', '.join(shortcuts)}"
                )
            if value is not None:
                merged[shortcuts[key]] = value
        for key, value in merged.items():
            set_dotted(data, key, value)
        return validate(data)


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``a.b.c`` in nested dicts, creating tables on the way; errors name the key."""
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise ScenarioError(f"error: --set {key!r}: not a dotted key such as run.days")
    node = data
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            where = ".".join(parts[: i + 1])
            raise ScenarioError(
                f"error: {key}: {where} is a value ({nxt!r}), not a table, so it has no fields"
            )
        node = nxt
    node[parts[-1]] = copy.deepcopy(value)


def parse_set(item: str) -> tuple[str, Any]:
    """Parse one ``--set key=value``; the value is a TOML literal (quote strings)."""
    if "=" not in item:
        raise ScenarioError(f"error: --set {item!r}: expected key=value, e.g. run.days=30")
    key, raw = item.split("=", 1)
    key = key.strip()
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        raise ScenarioError(
            f"error: --set {item!r}: value {raw!r} is not a TOML literal; "
            'use a number, true/false, or a quoted string such as key="text"'
        ) from None
    return key, value


def _allowed_fields(loc: tuple[Any, ...]) -> list[str]:
    """Field names allowed at the table holding ``loc`` (for 'unknown field' messages)."""
    model: Any = Scenario
    for part in loc[:-1]:
        fields = getattr(model, "model_fields", None)
        if fields is None:
            return []
        if part in fields:
            model = fields[part].annotation
            if getattr(model, "__origin__", None) is dict:
                model = model.__args__[1]
        elif isinstance(part, str) and model is Behavior:
            continue
        else:
            return []
    fields = getattr(model, "model_fields", None)
    return list(fields) if fields else []


def format_validation_error(err: ValidationError) -> str:
    """One line per problem: the field, the bad value and what is allowed."""
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        field = ".".join(str(p) for p in loc) or "scenario"
        value = e.get("input")
        if e["type"] == "extra_forbidden":
            allowed = _allowed_fields(loc)
            hint = f"allowed here: {', '.join(allowed)}" if allowed else "remove it"
            lines.append(f"error: {field}: unknown field (value {value!r}); {hint}")
            continue
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
            named = msg.split(" ", 1)[0].rstrip(":").split("=")[0]
            lines.append(f"error: {msg}" if "." in named else f"error: {field}: {msg}")
            continue
        shown = value if not isinstance(value, dict) else "{...}"
        lines.append(f"error: {field}: {shown!r} is not allowed; {msg[0].lower() + msg[1:]}")
    return "\n".join(lines)


def validate(data: dict[str, Any]) -> Scenario:
    """Validate plain data into a Scenario, or raise ScenarioError with a clear message."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(format_validation_error(err)) from None


def preset_names() -> list[str]:
    """Names of the presets shipped inside the package."""
    files = resources.files("panopticon.presets").iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".toml"))


def preset_summaries() -> dict[str, str]:
    """Preset name -> its one-line description."""
    out = {}
    for name in preset_names():
        text = resources.files("panopticon.presets").joinpath(f"{name}.toml").read_text("utf-8")
        out[name] = str(tomllib.loads(text).get("description", "")).strip().splitlines()[0:1]
        out[name] = out[name][0] if out[name] else ""
    return out


def read_toml(source: str | Path) -> dict[str, Any]:
    """Read a preset name or a TOML file path into plain data."""
    text: str
    origin: str
    path = Path(source)
    if str(source) in preset_names():
        res = resources.files("panopticon.presets").joinpath(f"{source}.toml")
        text, origin = res.read_text("utf-8"), f"preset {source}"
    elif path.is_dir():
        raise ScenarioError(f"error: scenario {str(source)!r}: is a folder, not a TOML file")
    elif path.suffix == ".toml" or path.exists():
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            raise ScenarioError(f"error: scenario {str(source)!r}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(
                f"error: scenario {str(source)!r}: cannot be read ({exc.__class__.__name__})"
            ) from None
        origin = str(path)
    else:
        raise ScenarioError(
            f"error: scenario {str(source)!r}: no such preset or file; "
            f"presets: {', '.join(preset_names())}"
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"error: {origin}: malformed TOML ({exc})") from None


def load(source: str | Path, sets: list[str] | None = None, **top: Any) -> Scenario:
    """Load a preset or file, apply ``--set`` items and shortcuts, then validate once."""
    data = read_toml(source)
    if "name" not in data and str(source) not in preset_names():
        data["name"] = re.sub(r"[^A-Za-z0-9_.\-]", "_", Path(source).stem) or "scenario"
    for item in sets or []:
        key, value = parse_set(item)
        set_dotted(data, key, value)
    shortcuts = {"population": "population.size", "days": "run.days", "seed": "run.seed"}
    for key, value in top.items():
        if value is not None:
            set_dotted(data, shortcuts[key], value)
    return validate(data)
