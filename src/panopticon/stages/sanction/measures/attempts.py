"""Measures used by attempts: travel bans and rental refusals block, rewards grant.

Each triggered person attempts (a flight, a train, a rental, a reward) at
`attempts_per_year` (today's value, when it is a dated schedule: e.g. purchases bound to
passports from 2016-12-10 raise the rate of attempts a ban meets); today's blocked (or
granted) count is Poisson with mean rate x people triggered, split into deserved and
wrongful from the trigger's counterfactual. That is exactly the law of the sum of
per-person Poisson(rate) attempts of the triggered: a person's attempts are independent
of the others'.

`options.escape_share` (with `options.escape_until`): before that date a share of the
triggered's attempts escapes the measure (a loophole: tickets bought with a passport
before passports were bound to ID numbers on 2016-12-10, calibration.md section 3); the
rest is blocked (thinning: Poisson with mean rate x (1 - share) x people triggered), the
escaped attempts are counted apart; from the date none escapes. Each count (deserved,
wrongful, escaped) draws from a stream of its own (`MeasureKind.count_key`).

`options.rate_date = "listed"` (a measure on the court list only): a cohort effect. A
listed person attempts at the schedule's value at the date that person was listed, for
as long as the listing lasts (a relisting takes the new date); today's count is Poisson
with mean sum over members of r(listing day) / 365 (`CourtListModule.cohort_sum`),
again exactly the law of the sum of the members' independent attempts. The default,
``"today"``, is today's value for every member, and draws the same numbers as before the
option existed.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from panopticon.core import streams
from panopticon.core.module import Column, DayContext
from panopticon.core.params import Daily, Probability, Strict, parse_day
from panopticon.stages.sanction.measures.base import MeasureKind, register_kind


def poisson_count(key: np.uint64, counter: int, mean: float) -> int:
    """A Poisson count from the counter-based stream (Python side)."""
    if mean <= 0:
        return 0
    count, _ = streams.poisson(np.uint64(key), np.uint64(counter), float(mean))
    return int(count)


class AttemptsOptions(Strict):
    """`options` of a travel, rental or reward measure: a loophole that closes on a date."""

    escape_share: Probability = Field(
        0.0, description="share of the triggered's attempts that escape the measure"
    )
    escape_until: str | None = Field(
        None, description="date (YYYY-MM-DD) the loophole closes; default: never"
    )

    rate_date: Literal["today", "listed"] = Field(
        "today",
        description="the date whose `attempts_per_year` a triggered person attempts at: "
        "today's, or (court list only) the date that person was listed",
    )

    @field_validator("escape_until")
    @classmethod
    def _date(cls, v: str | None) -> str | None:
        """A date YYYY-MM-DD."""
        if v is not None:
            parse_day(v)
        return v


@register_kind
class Attempts(MeasureKind):
    """Travel and rental: attempts blocked; rewards: attempts granted."""

    kinds = ("travel", "rental", "reward")
    shards = True  # from the summed counts (`MeasureKind.shards`; cohort rates need the court)
    Options = AttemptsOptions

    def __init__(self, catalog: Any, name: str, index: int, params: Any, trigger: Any) -> None:
        """Precompute the attempt rate of each day (a plain number, or a schedule).

        With an escape share, also the share of each day: the share before
        `escape_until`, 0 from it.
        """
        super().__init__(catalog, name, index, params, trigger)
        run = catalog.sim.scenario.run
        self.per_year = Daily(params.attempts_per_year, run.start, run.days)
        opts = AttemptsOptions(**params.options)
        self.cohort = opts.rate_date == "listed"
        self.escape: np.ndarray | None = None
        if opts.escape_share > 0:
            t = run.start.toordinal() + np.arange(run.days)
            closes = date.max if opts.escape_until is None else parse_day(opts.escape_until)
            self.escape = np.where(t < closes.toordinal(), opts.escape_share, 0.0)

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
        cols = [every, every.wrongful(f"{lb}_wrongly_{n}", f"{n}: attempts {lb} wrongly")]
        if self.escape is not None:
            cols.append(
                Column(
                    f"escaped_{n}",
                    agg="sum",
                    unit="attempts",
                    label=f"{n}: attempts that escaped it (loophole)",
                )
            )
        return cols

    def values(self, ctx: DayContext, key: np.uint64) -> dict[str, float]:
        """Poisson counts of today's attempts by the triggered, deserved and wrongful."""
        lb, n = self.label, self.name
        share = 0.0 if self.escape is None else float(self.escape[ctx.day])
        if self.cohort:  # the court list: nobody is on it wrongly
            a = self.trigger.policy.cohort_sum(self.per_year.values, ctx.day) / 365.0
            mean_ok, mean_wrong, mean_escaped = a * (1.0 - share), 0.0, a * share
        else:  # the expressions as before the option existed: the same bytes
            on, wrong = self.trigger.triggered, self.trigger.wrongly
            rate = self.per_year.at(ctx.day) / 365.0
            mean_ok = rate * (1.0 - share) * (on - wrong)
            mean_wrong = rate * (1.0 - share) * wrong
            mean_escaped = rate * share * on
        deserved = poisson_count(self.count_key(ctx.day, 0), 0, mean_ok)
        wrongful = poisson_count(self.count_key(ctx.day, 1), 0, mean_wrong)
        if self.escape is None:
            return {f"{lb}_{n}": deserved + wrongful, f"{lb}_wrongly_{n}": wrongful}
        escaped = poisson_count(self.count_key(ctx.day, 2), 0, mean_escaped)
        return {
            f"{lb}_{n}": deserved + wrongful,
            f"{lb}_wrongly_{n}": wrongful,
            f"escaped_{n}": escaped,
        }


@register_kind
class Naming(MeasureKind):
    """Public naming: everyone triggered is published."""

    kinds = ("naming",)
    shards = True  # from the summed counts (`MeasureKind.shards`)

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
