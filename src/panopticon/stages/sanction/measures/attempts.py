"""Measures used by attempts: travel bans and rental refusals block, rewards grant.

Each triggered person attempts (a flight, a train, a rental, a reward) at
`attempts_per_year` (today's value, when it is a dated schedule: e.g. purchases bound to
passports from 2016-12-10 raise the rate of attempts a ban meets); today's blocked (or
granted) count is Poisson with mean rate x people triggered, split into deserved and
wrongful from the trigger's counterfactual.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from panopticon.core import streams
from panopticon.core.module import Column, DayContext
from panopticon.core.params import Daily
from panopticon.stages.sanction.measures.base import MeasureKind, register_kind


def poisson_count(key: np.uint64, counter: int, mean: float) -> int:
    """A Poisson count from the counter-based stream (Python side)."""
    if mean <= 0:
        return 0
    count, _ = streams.poisson(np.uint64(key), np.uint64(counter), float(mean))
    return int(count)


@register_kind
class Attempts(MeasureKind):
    """Travel and rental: attempts blocked; rewards: attempts granted."""

    kinds = ("travel", "rental", "reward")

    def __init__(self, catalog: Any, name: str, index: int, params: Any, trigger: Any) -> None:
        """Precompute the attempt rate of each day (a plain number, or a schedule)."""
        super().__init__(catalog, name, index, params, trigger)
        run = catalog.sim.scenario.run
        self.per_year = Daily(params.attempts_per_year, run.start, run.days)

    @property
    def label(self) -> str:
        """``granted`` for rewards, ``blocked`` for punishments."""
        return "granted" if self.params.kind == "reward" else "blocked"

    def columns(self) -> list[Column]:
        """Attempts blocked (or granted) today, and those due to wrongful triggers."""
        lb, n = self.label, self.name
        worse = "neutral" if lb == "granted" else "worse"
        every = Column(
            f"{lb}_{n}",
            agg="sum",
            unit="attempts",
            label=f"{n}: attempts {lb}",
            headline=True,
            higher_is=worse,
            family=lb,
            key=n,
        )
        return [every, every.wrongful(f"{lb}_wrongly_{n}", f"{n}: attempts {lb} wrongly")]

    def values(self, ctx: DayContext, key: np.uint64) -> dict[str, float]:
        """Poisson counts of today's attempts by the triggered, deserved and wrongful."""
        on, wrong = self.trigger.triggered, self.trigger.wrongly
        rate = self.per_year.at(ctx.day) / 365.0
        deserved = poisson_count(key, 4 * self.index, rate * (on - wrong))
        wrongful = poisson_count(key, 4 * self.index + 2, rate * wrong)
        lb, n = self.label, self.name
        return {f"{lb}_{n}": deserved + wrongful, f"{lb}_wrongly_{n}": wrongful}


@register_kind
class Naming(MeasureKind):
    """Public naming: everyone triggered is published."""

    kinds = ("naming",)

    def columns(self) -> list[Column]:
        """People published now, and wrongly."""
        n = self.name
        named = Column(
            f"published_{n}", agg="last", label=f"{n}: people named", family="published", key=n
        )
        return [
            named,
            named.wrongful(
                f"published_wrongly_{n}", f"{n}: people named wrongly", higher_is="worse"
            ),
        ]

    def values(self, ctx: DayContext, key: np.uint64) -> dict[str, Any]:
        """The trigger's counts."""
        n = self.name
        return {
            f"published_{n}": self.trigger.triggered,
            f"published_wrongly_{n}": self.trigger.wrongly,
        }
