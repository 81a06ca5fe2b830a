"""The SPC's restrictions on "high consumption" (calibration.md section 3, Art. 3).

A listed judgment debtor may not stay at star-rated hotels, buy real estate, take
tourism holidays, buy high-premium insurance or wealth products, pay high private-school
fees, or (a separate measure in the same regime) leave the country. Each item is a rate
of purchase attempts per triggered person-year (`options.items`); attempts are blocked
except a share that leaks through touts and other channels (`options.leak_share`: the
source says enforcement is imperfect and the leak rate unknown). Today's blocked count
per item is Poisson with mean rate x (1 - leak) x people triggered, split into deserved
and wrongful from the trigger's counterfactual; leaked attempts are counted too.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import Field

from panopticon.core.module import Column, DayContext
from panopticon.core.params import MAX_PER_YEAR, Probability, Strict
from panopticon.stages.sanction.measures.attempts import poisson_count
from panopticon.stages.sanction.measures.base import MeasureKind, register_kind


class ConsumptionOptions(Strict):
    """`options` of a consumption measure."""

    items: dict[str, Annotated[float, Field(ge=0.0, le=MAX_PER_YEAR)]] = Field(
        description=f"item -> purchase attempts per triggered person-year, 0 to {MAX_PER_YEAR:g}"
    )
    leak_share: Probability = Field(0.0, description="share of attempts that leak through")


@register_kind
class Consumption(MeasureKind):
    """Blocked purchase attempts per restricted item, and the attempts that leak."""

    kinds = ("consumption",)
    shards = True  # from the summed counts (`MeasureKind.shards`)
    Options = ConsumptionOptions

    def __init__(self, catalog: Any, name: str, index: int, params: Any, trigger: Any) -> None:
        """Parse the items and the leak share."""
        super().__init__(catalog, name, index, params, trigger)
        self.options = ConsumptionOptions(**params.options)

    def columns(self) -> list[Column]:
        """Per item: attempts blocked, blocked wrongly; in all: attempts that leaked."""
        n = self.name
        cols: list[Column] = []
        for item in self.options.items:
            blocked = Column(
                f"blocked_{n}_{item}",
                agg="sum",
                unit="attempts",
                label=f"{n}: {item} attempts blocked",
                headline=True,
                higher_is="worse",
                family="blocked",
                key=f"{n}_{item}",
            )
            cols += [
                blocked,
                blocked.wrongful(
                    f"blocked_wrongly_{n}_{item}", f"{n}: {item} attempts blocked wrongly"
                ),
            ]
        cols.append(
            Column(
                f"leaked_{n}", agg="sum", unit="attempts", label=f"{n}: attempts that got through"
            )
        )
        return cols

    def values(self, ctx: DayContext, key: np.uint64) -> dict[str, float]:
        """Poisson counts of today's blocked and leaked attempts, item by item."""
        on, wrong = self.trigger.triggered, self.trigger.wrongly
        keep = 1.0 - self.options.leak_share
        n = self.name
        out: dict[str, float] = {}
        leaked = 0
        for j, (item, per_year) in enumerate(self.options.items.items()):
            rate = per_year / 365.0
            day = ctx.day
            deserved = poisson_count(self.count_key(day, 3 * j), 0, rate * keep * (on - wrong))
            wrongful = poisson_count(self.count_key(day, 3 * j + 1), 0, rate * keep * wrong)
            leak = rate * self.options.leak_share * on
            leaked += poisson_count(self.count_key(day, 3 * j + 2), 0, leak)
            out[f"blocked_{n}_{item}"] = deserved + wrongful
            out[f"blocked_wrongly_{n}_{item}"] = wrongful
        out[f"leaked_{n}"] = leaked
        return out
