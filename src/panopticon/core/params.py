"""Base types of every scenario table: strict models and constrained numbers.

Every scenario table derives from `Strict`: unknown fields are errors, every float must
be finite (nan and inf are refused), and types are strict (a bool is not a number, a
string is not a number, a number is not a bool); an integer is still accepted for a
float field, since TOML writes ``1`` for one. Tuples keep their element types strict but
accept a TOML array.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic import Strict as StrictMode

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
