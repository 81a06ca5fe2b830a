"""Loan rates by grade: the expected extra interest on the day's new loans.

Extra interest = loans per day x principal x sum over grades of (people in the grade x
(the grade's rate - the base rate)); the wrongful part sums, over (grade, true grade)
pairs, the rate difference between the grade given and the grade deserved. A dated
`loans_per_year` gives today's value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from panopticon.core.module import Column, DayContext
from panopticon.core.params import Daily
from panopticon.stages.sanction.measures.base import MeasureKind, register_kind


@register_kind
class Loan(MeasureKind):
    """Interest rates keyed on the trigger policy's grades."""

    kinds = ("loan",)
    shards = True  # from the summed counts (`MeasureKind.shards`)

    def __init__(self, catalog: Any, name: str, index: int, params: Any, trigger: Any) -> None:
        """Precompute the loans per person-year of each day (a plain number or a schedule)."""
        super().__init__(catalog, name, index, params, trigger)
        run = catalog.sim.scenario.run
        self.loans_per_year = Daily(params.loans_per_year, run.start, run.days)

    def columns(self) -> list[Column]:
        """Extra interest today, and the part due to grades worse than deserved."""
        n = self.name
        extra = Column(
            f"extra_interest_{n}",
            np.float64,
            agg="sum",
            unit="currency",
            label=f"{n}: extra interest",
            headline=True,
            higher_is="worse",
            family="extra_interest",
            key=n,
        )
        return [
            extra,
            extra.wrongful(f"extra_interest_wrongly_{n}", f"{n}: extra interest from wrong grades"),
        ]

    def values(self, ctx: DayContext, key: np.uint64) -> dict[str, float]:
        """Expected extra interest on today's new loans, and the part due to wrong grades."""
        m, n = self.params, self.name
        g = self.trigger.policy.grades
        out = {f"extra_interest_{n}": 0.0, f"extra_interest_wrongly_{n}": 0.0}
        if g is None:
            return out
        rate = np.array([m.rates.get(x, m.base_rate) for x in g.names])
        per_day = self.loans_per_year.at(ctx.day) / 365.0 * m.principal
        pairs = g.pairs()
        extra = float((pairs.sum(axis=1) * (rate - m.base_rate)).sum()) * per_day
        wrongful = float((pairs * (rate[:, None] - rate[None, :])).sum()) * per_day
        out[f"extra_interest_{n}"] = extra
        out[f"extra_interest_wrongly_{n}"] = wrongful
        return out
