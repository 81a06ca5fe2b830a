"""The scenario schema: one pydantic model per stage and the cross-field validator.

A scenario is a TOML file validated against the pydantic models below (reading and presets
live in `scenario.io`, `--set` overrides in `scenario.overrides`, messages in
`scenario.errors`). Every table is a
named table (never a positional list) so that new behaviours, channels, policies and
sanctions are new keys, and every value can be addressed by a dotted key such as
``surveillance.faceid.p_miss`` from the command line or a sweep.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import Field, ValidationError, field_validator, model_validator

from panopticon.core.params import (
    MAX_PER_YEAR,
    MAX_RATE,
    IntPair,
    NonNegative,
    Probability,
    ProbabilityPair,
    Schedule,
    Scheduled,
    Score,
    ScorePair,
    Strict,
    check_within,
    first_over,
    highest,
    parse_day,
    schedules,
)
from panopticon.scenario.court import COURT_LIST, CourtList


class RunSettings(Strict):
    """How long to run, from which date, with which seed, and what to keep.

    `start_date` is the calendar date of day 0: every daily row carries its date, and the
    dates of schedules, camera rollouts and measures' start and end are read against it.
    """

    days: int = Field(365, ge=1, le=36500, description="days simulated, numbered 0 .. days-1")
    start_date: str = Field(
        "2018-01-01", description="calendar date of day 0, YYYY-MM-DD (dates of schedules)"
    )
    seed: int = Field(0, ge=0, lt=2**63, description="root of every random stream")
    records: Literal["all", "sample", "none"] = Field(
        "all", description="records.parquet keeps every record, a uniform sample, or none"
    )
    records_sample: Probability = Field(
        0.01, description="share of records kept when records = 'sample'"
    )
    people: bool = Field(
        True,
        description="write people.parquet (per-citizen end state, in row groups); false "
        "leaves it out, and the state only it needs (acts committed per citizen)",
    )

    @field_validator("start_date")
    @classmethod
    def _start_date(cls, v: str) -> str:
        """A date YYYY-MM-DD."""
        parse_day(v)
        return v

    @property
    def start(self) -> date:
        """The calendar date of day 0."""
        return date.fromisoformat(self.start_date)


class Propensity(Strict):
    """Citizen i's base rate multiplier g_i ~ Gamma(shape, mean 1): heterogeneity."""

    distribution: Literal["gamma"] = "gamma"
    shape: float = Field(
        0.5, ge=0.01, le=1000.0, description="Gamma shape, 0.01 to 1000; smaller is more unequal"
    )


class Group(Strict):
    """A demographic group: its share of the population."""

    share: Probability = Field(1.0, description="share of citizens in this group")


class Region(Strict):
    """A region: its share of the population and its relative camera density."""

    share: Probability = Field(1.0, description="share of citizens living here")
    camera_density: NonNegative = Field(
        1.0, le=1e6, description="cameras per person relative to the national average, 0 to 1e6"
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
        None,
        gt=0,
        le=1e12,
        description="size of the nation this sample stands for (scales totals), at most 1e12",
    )
    groups: dict[str, Group] = Field(default_factory=lambda: {"all": Group()})
    regions: dict[str, Region] = Field(default_factory=lambda: {"all": Region()})
    age_bands: dict[str, Probability] = Field(
        default_factory=lambda: {"18-80": 1.0},
        description="age band 'low-high' -> share; ages are uniform within a band",
    )

    @model_validator(mode="after")
    def _partitions(self) -> Population:
        for field, table in (
            ("population.groups", self.groups),
            ("population.regions", self.regions),
        ):
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


PLACES = ("street", "transport", "venue", "home", "online", "financial", "court")
Place = Literal["street", "transport", "venue", "home", "online", "financial", "court"]
PUBLIC_PLACES = ("street", "transport", "venue")


class Behavior(Strict):
    """One kind of act: how often, where, by whom, and what a record of it costs."""

    rate: Scheduled[Annotated[float, Field(ge=0.0, le=MAX_RATE)]] = Field(
        0.02,
        description=f"mean acts per eligible citizen per day, 0 to {MAX_RATE:g}, or a schedule "
        "(and a run draws at most 10^11 acts: population x days x sum of rates)",
    )
    points: int = Field(5, ge=0, le=10_000, description="points per record on the main score")
    valence: Literal["negative", "positive"] = Field(
        "negative", description="negative acts cost points; positive (rewarded) acts add them"
    )
    place: Place = Field("street", description="where the act happens; decides who can see it")
    ages: IntPair = Field((0, 120), description="[youngest, oldest] who do this act")
    loading: Probability = Field(
        1.0, description="how strongly the rate follows the citizen's latent propensity"
    )
    channels: list[str] = Field(
        default_factory=lambda: ["camera"],
        description="channels that can record it, tried in this order",
    )
    lawful: bool = Field(False, description="lawful but disfavoured (chilled, never recorded)")
    source: str = Field("", description="where the base rate comes from, or 'assumption'")

    @model_validator(mode="after")
    def _ages(self) -> Behavior:
        lo, hi = self.ages
        if not 0 <= lo <= hi <= 120:
            raise ValueError(
                f"ages = {list(self.ages)} is not allowed; need 0 <= low <= high <= 120"
            )
        return self


class Camera(Strict):
    """The camera channel: fixed coverage, or coverage from a camera rollout.

    `model = "fixed"`: an act in a public place is seen with probability `coverage`.
    `model = "rollout"`: cameras per person in region r on day t are
    c_r(t) = cameras(t) / national_population * density_r (densities normalised to a
    population-weighted mean of 1), and an act in place p is seen with probability
    1 - exp(-sensitivity_p * c_r(t)). Acts at home, online, financial or in court are
    never seen by cameras. `enabled = false` switches the cameras off (and only them): the
    camera half of a watched-vs-unwatched comparison.
    """

    enabled: bool = Field(True, description="false: no camera sees anything (other channels run)")
    model: Literal["fixed", "rollout"] = "fixed"
    coverage: Probability = Field(0.3, description="fixed model: chance a public act is seen")
    rollout: dict[str, Annotated[float, Field(ge=0.0, le=1e12)]] = Field(
        default_factory=dict,
        description="date (YYYY-MM-DD) -> cameras nationally (0 to 1e12); linear in between, "
        "flat outside",
    )
    national_population: float = Field(
        1.4e9, gt=0, le=1e12, description="people the cameras watch, at most 1e12"
    )
    sensitivity: dict[str, Annotated[float, Field(ge=0.0, le=1e6)]] = Field(
        default_factory=lambda: {"street": 1.0, "transport": 1.34, "venue": 0.8},
        description="public place -> detections per unit of cameras per person, 0 to 1e6",
    )
    quality: dict[str, Probability] = Field(
        default_factory=lambda: {"surveillance": 1.0},
        description="image-quality mix of camera frames (face identification, scores mode)",
    )
    quality_by_place: dict[str, dict[str, Probability]] = Field(
        default_factory=dict,
        description="camera type by place: its own quality mix, e.g. transport gates",
    )
    delay_days: int = Field(0, ge=0, le=3650, description="days before a record appears")

    @model_validator(mode="before")
    @classmethod
    def _moved_start(cls, data: Any) -> Any:
        """The rollout's calendar is the run's: `start_date` moved to `run.start_date`."""
        if isinstance(data, dict) and "start_date" in data:
            raise ValueError(
                f"surveillance.camera.start_date = {data['start_date']!r} is no longer allowed; "
                "the rollout reads its dates against run.start_date: set that instead"
            )
        return data

    @model_validator(mode="after")
    def _camera(self) -> Camera:
        def day(text: str, field: str) -> date:
            try:
                return date.fromisoformat(text)
            except ValueError:
                raise ValueError(
                    f"surveillance.camera.{field}: {text!r} is not allowed; use a date YYYY-MM-DD"
                ) from None

        dates = [day(k, "rollout") for k in self.rollout]
        if any(b <= a for a, b in itertools.pairwise(dates)):
            raise ValueError(
                f"surveillance.camera.rollout: dates {list(self.rollout)} are not allowed; "
                "they must be strictly increasing"
            )
        if self.model == "rollout" and not self.rollout:
            raise ValueError(
                "surveillance.camera.rollout: empty is not allowed with model = 'rollout'; "
                'give dates and camera counts, e.g. {"2018-01-01" = 2e8, "2020-12-31" = 6.26e8}'
            )
        bad = [k for k in self.sensitivity if k not in PUBLIC_PLACES]
        if bad:
            raise ValueError(
                f"surveillance.camera.sensitivity.{bad[0]}: not allowed; cameras see only "
                f"{', '.join(PUBLIC_PLACES)}"
            )
        mixes = {"surveillance.camera.quality": self.quality}
        mixes.update(
            {
                f"surveillance.camera.quality_by_place.{p}": m
                for p, m in self.quality_by_place.items()
            }
        )
        for field, mix in mixes.items():
            if not mix or abs(sum(mix.values()) - 1.0) > 1e-9:
                raise ValueError(
                    f"{field}: shares sum to {sum(mix.values()):g}, which is not allowed; "
                    "they must sum to 1"
                )
        bad = [p for p in self.quality_by_place if p not in PUBLIC_PLACES]
        if bad:
            raise ValueError(
                f"surveillance.camera.quality_by_place.{bad[0]}: not allowed; cameras see "
                f"only {', '.join(PUBLIC_PLACES)}"
            )
        return self


class Channel(Strict):
    """A non-camera channel: transaction, court, online platform or informant records.

    `enabled = false` switches this channel off: it records nothing and adds nothing to
    perceived detection.
    """

    enabled: bool = Field(True, description="false: this channel records nothing")
    kind: Literal["transaction", "court", "online", "informant", "registry"]
    detection: Scheduled[Probability] = Field(
        description="chance an act it can observe is recorded, or a schedule"
    )
    delay_days: int = Field(0, ge=0, le=3650, description="days before the record appears")
    wrong_person: Scheduled[Probability] = Field(
        0.0, description="chance the record names someone else, or a schedule"
    )


class FaceIdFixed(Strict):
    """Face identification with fixed outcome rates per seen act."""

    mode: Literal["fixed"] = Field(
        "fixed", description="`fixed` outcome rates, or `scores` (1:N score model, fields below)"
    )
    p_miss: Scheduled[Probability] = Field(
        0.10, description="seen act not identified, or a schedule"
    )
    p_wrong: Scheduled[Probability] = Field(
        0.01, description="seen act attributed to someone else, or a schedule"
    )
    same_group_share: Scheduled[Probability] = Field(
        0.0,
        description="share of wrongful matches naming someone of the actor's group, or a schedule",
    )

    @model_validator(mode="after")
    def _rates_sum(self) -> FaceIdFixed:
        """p_miss + p_wrong <= 1 on every day (schedules are checked jointly)."""
        if not isinstance(self.p_miss, Schedule) and not isinstance(self.p_wrong, Schedule):
            if self.p_miss + self.p_wrong > 1.0:
                raise ValueError(
                    f"p_miss + p_wrong = {self.p_miss + self.p_wrong:g} is not allowed; "
                    "the two outcome rates must sum to at most 1"
                )
            return self
        over = first_over(self.p_miss, self.p_wrong, 1.0)
        if over is not None:
            when, total = over
            raise ValueError(
                f"p_miss + p_wrong = {total:g} on {when.isoformat()} is not allowed; the two "
                "outcome rates must sum to at most 1 on every day"
            )
        return self


class FaceIdGroupParams(Strict):
    """Error differentials of one population group (by name)."""

    fmr_multiplier: float = Field(
        1.0, gt=0, le=1e6, description="scales the false-match rate, at most 1e6"
    )
    extra_miss: Probability = Field(0.0, description="chance the mate comparison fails")
    genuine_shift: float = Field(
        0.0, ge=-1e6, le=1e6, description="shift of the genuine-score mean, finite"
    )


class FaceIdQualityParams(Strict):
    """Genuine-score distribution of one image-quality class."""

    mean: float = Field(ge=-1e6, le=1e6, description="genuine-score mean, finite")
    sd: float = Field(gt=0, le=1e6, description="genuine-score sd, above 0")


class FaceIdScoresParams(Strict):
    """Face identification from genuine and impostor score distributions (1:N search).

    Outcome rates per (quality, group) come from `stages.identify.faceid` for this gallery
    size and threshold, computed once per run.
    """

    mode: Literal["scores"] = "scores"
    gallery: float = Field(
        1.3e9, ge=1, le=1e12, description="enrolled faces searched (G), 1 to 1e12"
    )
    threshold: float | None = Field(
        None, ge=-1e6, le=1e6, description="score threshold, finite; default NIST point"
    )
    same_group_share: Scheduled[Probability] = Field(
        0.5,
        description="share of the other channels' wrong-person records naming someone of the "
        "actor's group (camera false matches follow the model's same-group share), or a "
        "schedule",
    )
    groups: dict[str, FaceIdGroupParams] = Field(
        default_factory=dict, description="population group name -> error differentials"
    )
    qualities: dict[str, FaceIdQualityParams] = Field(
        default_factory=dict, description="override genuine distributions of quality classes"
    )


class Appeals(Strict):
    """Who appeals a record, how often they win, and how long it takes."""

    enabled: bool = False
    p_appeal_wrongful: Scheduled[Probability] = Field(
        0.3, description="chance a wrongful record is appealed (on the day it appears)"
    )
    p_appeal_correct: Scheduled[Probability] = Field(
        0.05, description="chance a correct record is appealed (on the day it appears)"
    )
    p_win_wrongful: Scheduled[Probability] = Field(
        0.6, description="chance an appealed wrongful record wins (on the day of decision)"
    )
    p_win_correct: Scheduled[Probability] = Field(
        0.05, description="chance an appealed correct record wins (on the day of decision)"
    )
    delay_days: int = Field(60, ge=0, le=3650, description="days from record to decision")


class Surveillance(Strict):
    """Channels that see acts, and the identification that attributes them.

    Each channel has its own switch: `camera.enabled` and `channels.<name>.enabled`. The
    former `surveillance.enabled` (which switched every channel off at once) is refused with
    a message naming the new keys.
    """

    camera: Camera = Camera()
    faceid: FaceIdFixed | FaceIdScoresParams = Field(FaceIdFixed(), discriminator="mode")
    channels: dict[str, Channel] = Field(
        default_factory=dict, description="non-camera channels by name"
    )
    appeals: Appeals = Appeals()

    @model_validator(mode="before")
    @classmethod
    def _no_global_switch(cls, data: Any) -> Any:
        if isinstance(data, dict) and "enabled" in data:
            raise ValueError(
                f"surveillance.enabled = {str(data['enabled']).lower()} is no longer allowed; "
                "it switched off every channel. Use surveillance.camera.enabled = false for "
                "the cameras and surveillance.channels.<name>.enabled = false for each other "
                "channel"
            )
        return data


class Recovery(Strict):
    """Points regained after a quiet period with no record."""

    points: int = Field(5, ge=0, le=10_000)
    every_days: int = Field(30, ge=1, le=36500)


def check_bands(field: str, bands: dict[str, tuple[float, float]], low: float, high: float) -> None:
    """Grade bands [lo, hi) must tile [low, high] with no overlap and no gap."""
    if not bands:
        return
    ordered = sorted(bands.items(), key=lambda kv: kv[1][0])
    for name, (lo, hi) in ordered:
        if hi <= lo:
            raise ValueError(f"{field}.{name}: [{lo:g}, {hi:g}) is not allowed; need low < high")
    for (n1, (_, h1)), (n2, (l2, _)) in itertools.pairwise(ordered):
        if l2 < h1:
            raise ValueError(
                f"{field}: bands {n1} and {n2} overlap at {l2:g}; bands must not overlap"
            )
        if l2 > h1:
            raise ValueError(
                f"{field}: gap between {n1} (ends {h1:g}) and {n2} (starts {l2:g}) is not "
                "allowed; each band must start where the previous one ends"
            )
    if ordered[0][1][0] > low or ordered[-1][1][1] <= high:
        raise ValueError(
            f"{field}: bands cover [{ordered[0][1][0]:g}, {ordered[-1][1][1]:g}), which is not "
            f"allowed; they must cover every possible score from {low:g} to {high:g}"
        )


class Dimension(Strict):
    """One dimension of a factors score; its value in [0, 1] per citizen.

    source = "records": exp(-n / scale), n the exponentially decayed count (half-life
    `half_life_days`) of records of `behaviors` against the citizen (positive behaviours:
    1 - exp(-n / scale)). source = "trait": a fixed per-citizen value that falls with
    the latent propensity with strength `loading` (identity traits, fulfilment capacity).
    source = "network": mean of friends' normalised scores on this policy.
    `value_range` maps that value v in [0, 1] to low + (high - low) * v, for calibration
    (e.g. a clean record is worth less than the top of the range).
    """

    weight: Probability
    source: Literal["records", "trait", "network"] = "records"
    behaviors: list[str] = Field(default_factory=list)
    scale: float = Field(2.0, gt=0, le=1e9)
    half_life_days: float = Field(365.0, gt=0, le=1e9)
    loading: Probability = Field(0.5, description="trait source: dependence on propensity")
    value_range: ProbabilityPair = Field(
        (0.0, 1.0), description="the dimension's value v is mapped to low + (high - low) * v"
    )

    @model_validator(mode="after")
    def _range(self) -> Dimension:
        if self.value_range[0] > self.value_range[1]:
            raise ValueError(
                f"value_range = {list(self.value_range)} is not allowed; need low <= high"
            )
        return self


class FactorsPolicy(Strict):
    """A weighted multi-factor score in [low, high] (commercial style), recomputed on a schedule."""

    range: ScorePair = Field((350.0, 950.0), description="[low, high] of the score")
    every_days: int = Field(30, ge=1, le=3650)
    dimensions: dict[str, Dimension]
    grades: dict[str, ScorePair] = Field(
        default_factory=dict, description="grade -> [low, high) score band"
    )

    @model_validator(mode="after")
    def _weights(self) -> FactorsPolicy:
        lo, hi = self.range
        if hi <= lo:
            raise ValueError(f"range = {list(self.range)} is not allowed; need low < high")
        if not self.dimensions:
            raise ValueError("dimensions: empty is not allowed; define at least one")
        total = sum(d.weight for d in self.dimensions.values())
        if abs(total - 1.0) > 1e-9:
            raise ValueError(
                f"dimensions: weights sum to {total:g}, which is not allowed; they must sum to 1"
            )
        check_bands("grades", self.grades, lo, hi)
        return self


class ListPolicy(Strict):
    """A black- or red-list: entry rule, duration, early exit and publication."""

    kind: Literal["black", "red"] = "black"
    behaviors: list[str] = Field(description="records of these behaviours count toward entry")
    count: int = Field(1, ge=1, le=8, description="records needed within the window")
    window_days: int = Field(365, ge=0, le=36500, description="window for `count` records")
    duration_days: int = Field(730, ge=1, le=36500, description="days listed")
    exit_per_day: Scheduled[Probability] = Field(
        0.0,
        description="daily chance of early exit while listed (e.g. repaying the debt), or a "
        "schedule",
    )
    publish: bool = Field(True, description="names of listed people are published")


class Scoring(Strict):
    """The main points ledger (start, floor, cap, recovery, grades) and further policies."""

    start: int = Field(1000, ge=-32768, le=2**31 - 1)
    floor: int = Field(0, ge=-(2**31), le=2**31 - 1)
    cap: int | None = Field(
        None, ge=-(2**31), le=2**31 - 1, description="highest score; default: start"
    )
    recovery: Recovery = Recovery()
    deduction_scale: float = Field(
        1.0,
        ge=0.01,
        le=1000.0,
        description="multiplies every negative behaviour's points on the main score (rounded "
        "to whole points): a national score's severity with the preset's relative weights",
    )
    grades: dict[str, ScorePair] = Field(
        default_factory=dict, description="grade -> [low, high) score band, best grade highest"
    )
    drops: dict[str, str] = Field(
        default_factory=dict, description="behaviour -> grade it drops the citizen to at once"
    )
    factors: dict[str, FactorsPolicy] = Field(default_factory=dict)
    lists: dict[str, ListPolicy] = Field(default_factory=dict)

    def deducted(self, points: int) -> int:
        """A negative behaviour's points on the main score after `deduction_scale`."""
        return points if self.deduction_scale == 1.0 else round(points * self.deduction_scale)

    @property
    def top(self) -> int:
        """The cap of the main ledger."""
        return self.start if self.cap is None else self.cap

    @model_validator(mode="after")
    def _ledger(self) -> Scoring:
        if self.floor > self.start:
            raise ValueError(
                f"floor = {self.floor} is not allowed; it must be at most start = {self.start}"
            )
        if self.top < self.start:
            raise ValueError(f"cap = {self.cap} is not allowed; it must be at least start")
        check_bands("scoring.grades", self.grades, self.floor, self.top)
        for beh, grade in self.drops.items():
            if grade not in self.grades:
                raise ValueError(
                    f"scoring.drops.{beh}: grade {grade!r} is not allowed; grades: "
                    f"{', '.join(self.grades) or '(none defined)'}"
                )
        return self


class Blacklist(Strict):
    """Sanctioned while the score is below the threshold."""

    threshold: Score = Field(
        970.0, description="sanctioned while score < threshold; finite, |threshold| <= 2^31"
    )


class Trigger(Strict):
    """Who a measure applies to: a policy's grades, a score range, or a list's members.

    For a list policy, membership triggers it (no condition needed). For a score policy
    (`score` or a factors policy), give `grades`, `below` or `above` (or a combination:
    all given conditions must hold).
    """

    policy: str = "score"
    grades: list[str] = Field(default_factory=list)
    below: Score | None = Field(None, description="triggered while the score is below this")
    above: Score | None = Field(None, description="triggered while the score is above this")


def measure_kinds() -> dict[str, Any]:
    """The registered measure kinds (stages/sanction/measures/: one file per kind)."""
    from panopticon.stages.sanction.measures import KINDS

    return KINDS


class Measure(Strict):
    """One reward or punishment keyed on a trigger, with what it counts.

    travel / rental / reward: attempts (purchases, rentals, uses) per person-year; the
    attempts of triggered people are blocked (or, for rewards, granted) and counted.
    loan: the annual interest rate by grade of the trigger policy, and the extra interest
    paid over `base_rate` on new loans. employment / school / housing: a scarce good
    allocated every `every_days` among applicants; triggered applicants are excluded
    (for school, with `joint_liability`, the child is excluded when a parent is
    triggered). naming: triggered people's names are published.
    """

    kind: str = Field(
        description="a registered kind: travel, rental, reward, loan, employment, school, "
        "housing, naming, consumption (one file each in stages/sanction/measures/)"
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="parameters of the kind (consumption: items, leak_share)"
    )
    trigger: Trigger = Trigger()
    description: str = ""
    attempts_per_year: Scheduled[Annotated[float, Field(ge=0.0, le=MAX_PER_YEAR)]] = Field(
        0.0,
        description=f"travel/rental/reward use rate per person-year, 0 to {MAX_PER_YEAR:g}, "
        "or a schedule",
    )
    start: str | None = Field(
        None, description="first date (YYYY-MM-DD) the measure applies; default: day 0"
    )
    end: str | None = Field(
        None, description="first date (YYYY-MM-DD) it no longer applies; default: never"
    )
    joint_liability: bool = Field(False, description="household members share the measure")
    rates: dict[str, Annotated[float, Field(ge=0.0, le=10.0)]] = Field(
        default_factory=dict, description="loan: grade -> annual interest rate, 0 to 10"
    )
    base_rate: NonNegative = Field(
        0.0435, le=10.0, description="loan: rate without the score, 0 to 10"
    )
    principal: NonNegative = Field(
        100_000.0, le=1e12, description="loan: amount of a loan, at most 1e12"
    )
    loans_per_year: Scheduled[Annotated[float, Field(ge=0.0, le=1000.0)]] = Field(
        0.05, description="loan: new loans per person-year, 0 to 1000, or a schedule"
    )
    ages: IntPair = Field((18, 60), description="scarce goods: applicants' ages")
    apply_share: Scheduled[Probability] = Field(
        0.1, description="scarce goods: share applying per round, or a schedule"
    )
    capacity_share: Scheduled[Probability] = Field(
        0.5, description="scarce goods: places per applicant, or a schedule"
    )
    every_days: int = Field(365, ge=1, le=36500, description="scarce goods: days between rounds")
    first_day: int = Field(180, ge=0, le=36500, description="scarce goods: day of the first round")
    rule: Literal["ranked", "weighted_lottery", "score_blind"] = Field(
        "ranked", description="scarce goods: how places are allocated among applicants"
    )
    rank_policy: str = Field("score", description="scarce goods: the score that ranks")

    @field_validator("start", "end")
    @classmethod
    def _dates(cls, v: str | None) -> str | None:
        """Dates YYYY-MM-DD."""
        if v is not None:
            parse_day(v)
        return v

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        """Only registered kinds."""
        kinds = measure_kinds()
        if v not in kinds:
            raise ValueError(f"{v!r} is not allowed; kinds: {', '.join(sorted(kinds))}")
        return v

    @model_validator(mode="after")
    def _kind_options(self) -> Measure:
        """`options` must fit the kind's own model (and be empty for kinds without one)."""
        model = measure_kinds()[self.kind].Options
        if model is None:
            if self.options:
                raise ValueError(f"options are not allowed for kind {self.kind!r}; remove them")
            return self
        try:
            model(**self.options)
        except ValidationError as err:
            e = err.errors()[0]
            where = ".".join(str(x) for x in e["loc"])
            msg = e["msg"][0].lower() + e["msg"][1:]
            raise ValueError(
                f"options field {where}: {e.get('input')!r} is not allowed; {msg}"
            ) from None
        if self.options.get("rate_date") == "listed" and self.trigger.policy != "court":
            raise ValueError(
                f"options field rate_date: 'listed' is not allowed with trigger policy "
                f"{self.trigger.policy!r}; only a measure on the court list "
                '(trigger = { policy = "court" }) knows each member\'s listing date'
            )
        return self


class Sanctions(Strict):
    """Consequences keyed on the score: the blacklist threshold and a catalog of measures."""

    blacklist: Blacklist = Blacklist()
    measures: dict[str, Measure] = Field(default_factory=dict)
    court: CourtList | None = Field(
        None, description="the court list of judgment defaulters (policy 'court' of measures)"
    )

    @model_validator(mode="after")
    def _cohorts_need_court(self) -> Sanctions:
        """`options.rate_date = "listed"` needs the court list (`sanctions.court`)."""
        if self.court is None:
            for name, m in self.measures.items():
                if m.options.get("rate_date") == "listed":
                    raise ValueError(
                        f"sanctions.measures.{name}.options.rate_date: 'listed' needs the "
                        "court list; add a [sanctions.court] table or use 'today'"
                    )
        return self


class Announcement(Strict):
    """A public announcement: from `day`, perceived detection in `places` rises by `boost`."""

    day: int = Field(0, ge=0, le=36500, description="first day the announcement is heard")
    places: list[Place] = Field(description="places it speaks of")
    boost: Probability = Field(0.2, description="added to the perceived chance of detection")
    text: str = ""


class Response(Strict):
    """How behaviour responds to surveillance.

    Specific deterrence: each record against a citizen multiplies their rate of negative
    acts by `deterrence` (not below `deterrence_floor`); records against household
    members and friends multiply it by `network_deterrence`; with `half_life_days` the
    effect fades back toward 1. General deterrence: the rate of negative behaviour k is
    multiplied by (1 + P_k / reference_detection) ** -elasticity, P_k the perceived chance
    of detection (the channels' actual chance plus announcements): certainty, not
    severity, deters (Nagin 2013). Chilling: lawful but disfavoured acts fall the same
    way with `chilling_elasticity`, P the perceived surveillance of their place.
    `perceived` says what a camera contributes to P: "sightings", the chance a camera sees
    the act, or "identifications", that chance times the chance face identification names
    someone (1 - p_miss over the behaviour's camera quality mix): only an identified act
    can lead to a record.
    """

    deterrence: Scheduled[Annotated[float, Field(gt=0.0, le=1.0)]] = Field(
        0.8, description="multiplier per record (today's, for a schedule)"
    )
    deterrence_floor: Probability = Field(0.2, description="lowest deterrence multiplier")
    network_deterrence: float = Field(
        1.0, gt=0.0, le=1.0, description="multiplier per record against family or friends"
    )
    half_life_days: float | None = Field(
        None,
        gt=0,
        le=1e9,
        description="specific deterrence fades with this half-life (None: never)",
    )
    elasticity: Scheduled[Annotated[float, Field(ge=0.0, le=100.0)]] = Field(
        0.0, description="general deterrence: rate elasticity, 0 to 100, or a schedule"
    )
    reference_detection: float = Field(
        0.05, gt=0, le=1.0, description="perceived chance scale, above 0 and at most 1"
    )
    chilling_elasticity: Scheduled[Annotated[float, Field(ge=0.0, le=100.0)]] = Field(
        0.0, description="chilling of lawful acts, 0 to 100, or a schedule"
    )
    perceived: Literal["sightings", "identifications"] = Field(
        "identifications",
        description="what cameras add to perceived detection: acts seen, or acts seen and "
        "named by face identification",
    )
    announcements: dict[str, Announcement] = Field(default_factory=dict)


from panopticon.scenario.ranges import (  # noqa: E402
    Calibration,
    Range,
    check_ranges,
    trial_overrides,
)
from panopticon.stages.society.params import NetworkParams  # noqa: E402


class Scenario(Strict):
    """A complete, validated scenario."""

    name: str = Field(
        "scenario",
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.\-]+$",
        description="names the run folder runs/<name>-<seed>",
    )
    description: str = Field("", description="one line shown by `panopticon presets`")
    run: RunSettings = RunSettings()
    population: Population = Population()
    behaviors: dict[str, Behavior] = Field(default_factory=lambda: {"violation": Behavior()})
    surveillance: Surveillance = Surveillance()
    scoring: Scoring = Scoring()
    sanctions: Sanctions = Sanctions()
    response: Response = Response()
    network: NetworkParams | None = Field(
        None, description="the social graph; leave out for a population without ties"
    )
    assumptions: dict[str, Range] = Field(
        default_factory=dict,
        description="dotted key -> the plausible range of a parameter the scenario only "
        "assumes (varied by `panopticon sensitivity --assumptions`)",
    )
    calibration: Calibration = Calibration()

    @model_validator(mode="after")
    def _checks(self) -> Scenario:
        if not self.behaviors:
            raise ValueError("behaviors = {} is not allowed; define at least one behaviour")
        if len(self.behaviors) > 255:
            raise ValueError(f"behaviors: {len(self.behaviors)} are not allowed; at most 255")
        surv = self.surveillance
        channels = ["camera", *surv.channels]
        if len(channels) > 255:
            raise ValueError("surveillance.channels: at most 254 are allowed")
        for name, beh in self.behaviors.items():
            for ch in beh.channels:
                if ch not in channels:
                    raise ValueError(
                        f"behaviors.{name}.channels: {ch!r} is not allowed; known channels: "
                        f"{', '.join(channels)}"
                    )
        known = list(self.behaviors)

        def check_behaviors(field: str, names: list[str]) -> None:
            for b in names:
                if b not in known:
                    raise ValueError(
                        f"{field}: behaviour {b!r} is not allowed; known behaviours: "
                        f"{', '.join(known)}"
                    )

        check_behaviors("scoring.drops", list(self.scoring.drops))
        for pname, pol in self.scoring.factors.items():
            for dname, dim in pol.dimensions.items():
                check_behaviors(
                    f"scoring.factors.{pname}.dimensions.{dname}.behaviors", dim.behaviors
                )
        for lname, lst in self.scoring.lists.items():
            check_behaviors(f"scoring.lists.{lname}.behaviors", lst.behaviors)
        names = ["score", *self.scoring.factors, *self.scoring.lists]
        names += [COURT_LIST] if self.sanctions.court is not None else []
        if len(set(names)) != len(names):
            raise ValueError(
                f"scoring: policy names {names} are not allowed; each name must be unique "
                "and none may be 'score' (the main ledger)"
            )
        fid = surv.faceid
        if isinstance(fid, FaceIdScoresParams):
            from panopticon.stages.identify.faceid import DEFAULT_GENUINE_MEAN

            for g in fid.groups:
                if g not in self.population.groups:
                    raise ValueError(
                        f"surveillance.faceid.groups.{g}: unknown group is not allowed; "
                        f"population groups: {', '.join(self.population.groups)}"
                    )
            qualities = set(DEFAULT_GENUINE_MEAN) | set(fid.qualities)
            places = {
                "": surv.camera.quality,
                **{f"_by_place.{p}": m for p, m in surv.camera.quality_by_place.items()},
            }
            for where, mix in places.items():
                for q in mix:
                    if q not in qualities:
                        raise ValueError(
                            f"surveillance.camera.quality{where}.{q}: unknown quality class "
                            f"is not allowed; classes: {', '.join(sorted(qualities))}"
                        )
        wrongs = (highest(fid.p_wrong) if isinstance(fid, FaceIdFixed) else 1.0) + sum(
            highest(c.wrong_person) for c in surv.channels.values()
        )
        score_policies = {"score": list(self.scoring.grades)}
        score_policies.update({k: list(v.grades) for k, v in self.scoring.factors.items()})
        for mname, m in self.sanctions.measures.items():
            field = f"sanctions.measures.{mname}"
            t = m.trigger
            if t.policy not in names:
                raise ValueError(
                    f"{field}.trigger.policy: {t.policy!r} is not allowed; policies: "
                    f"{', '.join(names)}"
                )
            if t.policy in score_policies:
                for g in t.grades:
                    if g not in score_policies[t.policy]:
                        raise ValueError(
                            f"{field}.trigger.grades: {g!r} is not allowed; grades of "
                            f"{t.policy}: {', '.join(score_policies[t.policy]) or '(none)'}"
                        )
                if not t.grades and t.below is None and t.above is None and m.kind != "loan":
                    raise ValueError(
                        f"{field}.trigger: no condition is not allowed for a score policy; "
                        "give grades, below or above"
                    )
            elif t.grades or t.below is not None or t.above is not None:
                raise ValueError(
                    f"{field}.trigger: conditions are not allowed for list {t.policy!r}; "
                    "membership triggers it"
                )
            if m.kind == "loan":
                pol = m.trigger.policy
                for g in m.rates:
                    if g not in score_policies.get(pol, []):
                        raise ValueError(
                            f"{field}.rates.{g}: unknown grade is not allowed; grades of "
                            f"{pol}: {', '.join(score_policies.get(pol, [])) or '(none)'}"
                        )
            if m.rank_policy not in score_policies:
                raise ValueError(
                    f"{field}.rank_policy: {m.rank_policy!r} is not allowed; score policies: "
                    f"{', '.join(score_policies)}"
                )
        needs_net = [
            f"sanctions.measures.{k}.joint_liability"
            for k, m in self.sanctions.measures.items()
            if m.joint_liability
        ]
        needs_net += [
            f"scoring.factors.{p}.dimensions.{d}"
            for p, f in self.scoring.factors.items()
            for d, dim in f.dimensions.items()
            if dim.source == "network"
        ]
        if self.response.network_deterrence < 1.0:
            needs_net.append("response.network_deterrence")
        if needs_net and self.network is None:
            raise ValueError(
                f"{needs_net[0]}: is not allowed without a social graph; add a [network] "
                "table (households and friends) or remove it"
            )
        if self.network is not None:
            av = self.network.avoidance
            grades = score_policies.get(av.policy)
            if grades is None:
                raise ValueError(
                    f"network.avoidance.policy: {av.policy!r} is not allowed; score policies: "
                    f"{', '.join(score_policies)}"
                )
            for g in av.avoid_grades:
                if g not in grades:
                    raise ValueError(
                        f"network.avoidance.avoid_grades: {g!r} is not allowed; grades of "
                        f"{av.policy}: {', '.join(grades) or '(none defined)'}"
                    )
        run_start, days = self.run.start, self.run.days
        check_within(schedules(self), run_start, days)
        last = run_start + timedelta(days=days - 1)
        for mname, m in self.sanctions.measures.items():
            for which in ("start", "end"):
                text = getattr(m, which)
                if text is not None and not run_start <= date.fromisoformat(text) <= last:
                    raise ValueError(
                        f"sanctions.measures.{mname}.{which}: date {text} is not allowed; it "
                        f"must lie within the run, {run_start.isoformat()} to {last.isoformat()} "
                        "(run.start_date and run.days)"
                    )
            if m.start is not None and m.end is not None and m.end <= m.start:
                raise ValueError(
                    f"sanctions.measures.{mname}.end: date {m.end} is not allowed; it must come "
                    f"after start = {m.start}"
                )
        if self.population.size < 2 and wrongs > 0:
            raise ValueError(
                "population.size = 1 is not allowed when records can name the wrong person; "
                "a wrongful record needs someone else to name (use size >= 2)"
            )
        if self.assumptions or self.calibration.free or self.calibration.trial:
            plain = self.model_dump(mode="python", exclude_none=True)
            check_ranges("assumptions", self.assumptions, plain)
            check_ranges("calibration.free", self.calibration.free, plain)
            trial_overrides(self.calibration.trial, plain)
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
        # overrides imports this module (through errors.validate), so not at module level
        from panopticon.scenario.overrides import override

        return override(self, values, top)
