"""Base types of every scenario table: strict models and constrained numbers.

Every scenario table derives from `Strict`: unknown fields are errors, every float must
be finite (nan and inf are refused), and types are strict (a bool is not a number, a
string is not a number, a number is not a bool); an integer is still accepted for a
float field, since TOML writes ``1`` for one. Tuples keep their element types strict but
accept a TOML array.

Any scalar rate or probability may instead be a dated schedule (`Scheduled`): steps or
linear between dates, each value within the scalar's own bounds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Generic, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, ValidationError
from pydantic import Strict as StrictMode
from pydantic_core import core_schema

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]

MAX_RATE = 1000.0
"""Upper bound of a daily act rate per person (keeps the day's candidate acts finite)."""

MAX_PER_YEAR = 100_000.0
"""Upper bound of a yearly attempt rate per person (measures' purchases, rentals, loans)."""

SCORE_BOUND = 2.0**31
"""Scores, thresholds and bands lie within [-SCORE_BOUND, SCORE_BOUND]."""

Score = Annotated[float, Field(ge=-SCORE_BOUND, le=SCORE_BOUND)]
"""A score value or threshold: finite, within the range of the score ledgers."""


IntPair = Annotated[tuple[int, int], StrictMode(False)]
"""Two integers; a TOML array is accepted (the elements stay strict)."""

ScorePair = Annotated[tuple[Score, Score], StrictMode(False)]
"""A [low, high) band or range of scores; a TOML array is accepted."""

ProbabilityPair = Annotated[tuple[Probability, Probability], StrictMode(False)]
"""Two probabilities; a TOML array is accepted."""


class ScenarioError(ValueError):
    """A scenario that cannot be loaded or validated; the message is meant for the user."""


class Strict(BaseModel):
    """Base for every scenario table: unknown fields are errors, values are validated.

    Strict types and finite floats: see the module docstring.
    """

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False
    )


# -- dated schedules ---------------------------------------------------------------------

SCHEDULE_EXAMPLE = '{steps = [["2020-01-01", 0.02], ["2020-06-01", 0.01]]}'
"""A schedule as one writes it in TOML or after ``--set key=``."""

SCHEDULE_KINDS = ("steps", "linear")


@dataclass(frozen=True)
class Schedule:
    """A scalar that changes on dates: ``steps`` (held from each date on) or ``linear``.

    `points` are (date, value) pairs with strictly increasing dates, each value within
    the bounds of the field the schedule stands in for. Before the first date the first
    value holds, after the last date the last value (flat outside, like the camera
    rollout); ``linear`` interpolates day by day between dates.
    """

    kind: Literal["steps", "linear"]
    points: tuple[tuple[date, float], ...]

    def daily(self, start: date, days: int) -> np.ndarray:
        """The value on each day 0 .. days-1 of a run starting on `start` (float64)."""
        when = np.array([d.toordinal() for d, _ in self.points], dtype=np.int64)
        vals = np.array([v for _, v in self.points], dtype=np.float64)
        t = start.toordinal() + np.arange(days, dtype=np.int64)
        if self.kind == "linear":
            return np.interp(t, when, vals)
        return vals[np.maximum(np.searchsorted(when, t, side="right") - 1, 0)]

    def on(self, when: date) -> float:
        """The value on one date."""
        return float(self.daily(when, 1)[0])

    def to_data(self) -> dict[str, list[list[Any]]]:
        """The TOML shape: ``{steps = [["YYYY-MM-DD", value], ...]}``."""
        return {self.kind: [[d.isoformat(), v] for d, v in self.points]}


def parse_day(text: str) -> date:
    """A date "YYYY-MM-DD"; ValueError naming the value and the format allowed."""
    return _parse_date(text)


def _parse_date(raw: Any) -> date:
    """A schedule date: a "YYYY-MM-DD" string or a TOML date; ValueError naming it."""
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    if isinstance(raw, str) and len(raw) == 10:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    shown = raw if isinstance(raw, str | int | float) else str(raw)
    raise ValueError(f'date {shown!r} is not allowed; use a date "YYYY-MM-DD", e.g. "2020-01-01"')


def _parse_schedule(raw: Any, check: Callable[[Any], Any]) -> Schedule:
    """Validate plain data into a Schedule; `check` validates one value (the field's bounds)."""
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in SCHEDULE_KINDS:
        keys = ", ".join(map(str, raw)) if isinstance(raw, dict) else type(raw).__name__
        raise ValueError(
            f"a table with {keys or 'no keys'} is not allowed; give a number or a schedule "
            f"with one key, steps or linear, e.g. {SCHEDULE_EXAMPLE}"
        )
    ((kind, entries),) = raw.items()
    if not isinstance(entries, list) or not entries:
        raise ValueError(
            f"{kind} = {entries!r} is not allowed; give a non-empty list of "
            f'["YYYY-MM-DD", value] pairs, e.g. {SCHEDULE_EXAMPLE}'
        )
    points: list[tuple[date, float]] = []
    for entry in entries:
        if not isinstance(entry, list | tuple) or len(entry) != 2:
            raise ValueError(
                f'{kind} entry {entry!r} is not allowed; each entry is ["YYYY-MM-DD", value]'
            )
        when = _parse_date(entry[0])
        try:
            value = check(entry[1])
        except ValidationError as err:
            e = err.errors()[0]
            msg = e["msg"][0].lower() + e["msg"][1:]
            raise ValueError(
                f"value {entry[1]!r} on {when.isoformat()} is not allowed; {msg}"
            ) from None
        if points and when <= points[-1][0]:
            raise ValueError(
                f"date {when.isoformat()} after {points[-1][0].isoformat()} is not allowed; "
                "dates must be strictly increasing, without duplicates"
            )
        points.append((when, value))
    return Schedule(kind, tuple(points))


class _ScheduleOf:
    """Annotation marker: the field takes its own scalar type or a `Schedule` of it.

    A number is validated as before (same bounds, same messages); a table is parsed as a
    schedule whose every value is validated by the same scalar schema, so the field's
    ge/le constraints apply to each value of the schedule.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Wrap the scalar schema: tables become schedules, the rest goes to the scalar."""
        scalar = handler(source)

        def validate(value: Any, inner: core_schema.ValidatorFunctionWrapHandler) -> Any:
            if isinstance(value, Schedule):
                return _parse_schedule(value.to_data(), inner)
            if isinstance(value, dict):
                return _parse_schedule(value, inner)
            return inner(value)

        def serialize(value: Any) -> Any:
            return value.to_data() if isinstance(value, Schedule) else value

        return core_schema.no_info_wrap_validator_function(
            validate,
            scalar,
            serialization=core_schema.plain_serializer_function_ser_schema(serialize),
        )


V = TypeVar("V")


class Scheduled(Generic[V]):
    """``Scheduled[Annotated[float, Field(ge=..., le=...)]]``: a number or a dated schedule.

    In a scenario the field is either a plain number or a table with one key::

        rate = 0.02
        rate = { steps = [["2020-01-01", 0.02], ["2020-06-01", 0.01]] }
        rate = { linear = [["2020-01-01", 0.02], ["2020-12-31", 0.005]] }

    Dates are "YYYY-MM-DD" (or TOML dates), strictly increasing, inside the run
    (`run.start_date` .. its last day: checked by the scenario); each value obeys the
    field's own bounds. In Python the field holds a float or a `Schedule`; modules read
    it through `Daily`.
    """

    def __class_getitem__(cls, inner: Any) -> Any:
        """The annotated type: `inner`, or a schedule of `inner`."""
        return Annotated[inner, _ScheduleOf()]


def schedules(value: Any, prefix: str = "") -> list[tuple[str, Schedule]]:
    """Every schedule inside a validated scenario (or part), with its dotted key."""
    if isinstance(value, Schedule):
        return [(prefix.rstrip("."), value)]
    if isinstance(value, BaseModel):
        items: Any = ((k, getattr(value, k)) for k in type(value).model_fields)
    elif isinstance(value, dict):
        items = value.items()
    else:
        return []
    return [found for k, v in items for found in schedules(v, f"{prefix}{k}.")]


def check_within(found: list[tuple[str, Schedule]], start: date, days: int) -> None:
    """Each schedule must begin by the run's last day; ValueError naming the first that not.

    Later dates are allowed, so a dated preset can be run for less than its whole period
    (the run sees the start of each schedule). A schedule that begins after the run would
    apply only its first value, by extension backwards, which is a mistake, not a plan.
    """
    last = start + timedelta(days=days - 1)
    for key, sched in found:
        when = sched.points[0][0]
        if when > last:
            raise ValueError(
                f"{key}: date {when.isoformat()} is not allowed; a schedule's first date must "
                f"fall on or before the run's last day, {last.isoformat()} (run.start_date "
                "and run.days); later dates are allowed"
            )


def highest(value: float | Schedule) -> float:
    """The largest value a plain number or a schedule takes (its largest point's value)."""
    if isinstance(value, Schedule):
        return max(v for _, v in value.points)
    return float(value)


def first_over(a: float | Schedule, b: float | Schedule, limit: float) -> tuple[date, float] | None:
    """The first date on which a + b exceeds `limit`, with the sum; None if it never does.

    Days from the earliest schedule date to the latest (before and after them both values
    are flat); plain numbers are constant. Two plain numbers over it give `date.min`.
    """
    points = [p for v in (a, b) if isinstance(v, Schedule) for p, _ in v.points]
    if not points:
        total = float(a) + float(b)  # type: ignore[arg-type]
        return (date.min, total) if total > limit else None
    first, days = min(points), (max(points) - min(points)).days + 1
    total = sum(
        (v.daily(first, days) if isinstance(v, Schedule) else np.full(days, float(v)))
        for v in (a, b)
    )
    over = np.flatnonzero(total > limit)
    if not over.size:
        return None
    return first + timedelta(days=int(over[0])), float(total[over[0]])


def value_on(value: float | Schedule, start: date, day: int) -> float:
    """A plain number, or a schedule's value on day `day` of a run from `start`."""
    if isinstance(value, Schedule):
        return value.on(start + timedelta(days=day))
    return float(value)


class Daily:
    """A scheduled scalar's value on each day of the run, computed once at build.

    `constant` is True for a plain number (then `at` returns it and costs nothing);
    `changes_on(day)` says whether the value differs from the day before (day 0: True),
    so a module recomputes what depends on it only on those days.
    """

    def __init__(self, value: float | Schedule, start: date, days: int) -> None:
        """Precompute the daily values of `value` over a run of `days` from `start`."""
        self.constant = not isinstance(value, Schedule)
        if isinstance(value, Schedule):
            self.values = value.daily(start, days)
        else:
            self.values = np.full(days, float(value), dtype=np.float64)
        self.first = float(self.values[0]) if days else float(value)  # type: ignore[arg-type]
        changed = np.ones(days, dtype=bool)
        changed[1:] = self.values[1:] != self.values[:-1]
        self._changed = changed

    def at(self, day: int) -> float:
        """The value on `day` (the first value for a plain number)."""
        return self.first if self.constant else float(self.values[day])

    def changes_on(self, day: int) -> bool:
        """Whether the value on `day` differs from the day before (always True on day 0)."""
        return day == 0 or (not self.constant and bool(self._changed[day]))

    @property
    def peak(self) -> float:
        """The largest value over the run."""
        return float(self.values.max()) if self.values.size else self.first

    @property
    def mean(self) -> float:
        """The mean value over the run."""
        return float(self.values.mean()) if self.values.size else self.first
