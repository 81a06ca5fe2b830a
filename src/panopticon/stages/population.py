"""Population: who the citizens are (group, region, age), drawn once at set-up.

Provides ``group``, ``region`` and ``age`` (uint8 codes per citizen) when another module
needs any of them, and ``propensity`` for set-up only (trait dimensions of factors
scores). Everything is drawn from counter-based streams keyed by id (core.population),
so a citizen's attributes do not depend on which others are simulated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from panopticon.core import arrow
from panopticon.core import population as population_mod
from panopticon.core.module import Export, Module, StateSpec
from panopticon.core.registry import register


@register
class Demographics(Module):
    """Set-up module: citizen ids and the demographic attributes others need."""

    name = "population"
    provides = ("group", "region", "age", "propensity")
    shards = True  # draws the attributes of its own id range

    def __init__(self, sim: Any) -> None:
        """Draw group, region and age when any is needed; the propensity when needed."""
        super().__init__(sim)
        pop = sim.scenario.population
        n, seed, wanted = sim.size, sim.seed, sim.wanted
        self.groups, self.regions = list(pop.groups), list(pop.regions)
        self.group = self.region = self.age = None
        self.show_region = len(self.regions) > 1
        if wanted & {"group", "region", "age"}:
            demo = population_mod.demographics(pop, seed, sim.lo, sim.lo + n)
            for cap in ("group", "region", "age"):
                if cap in wanted or (cap == "region" and self.show_region):
                    arr = getattr(demo, cap)
                    setattr(self, cap, self.add_state(StateSpec(cap, arr.dtype, cap), arr))
                    sim.provide(cap, arr)
        if "propensity" in wanted:
            sim.provide(
                "propensity",
                population_mod.draw_propensity(pop, seed, sim.lo, sim.lo + n),
                transient=True,
            )

    def exports(self) -> list[Export]:
        """Id, and the attributes drawn."""
        out = [Export("id", "citizen id", order=0)]
        if self.group is not None:
            out.append(Export("group", "demographic group", order=0.1))
        if self.region is not None and self.show_region:
            out.append(Export("region", "region", order=0.2))
        if self.age is not None:
            out.append(Export("age", "age in years", order=0.3))
        return out

    def people(self) -> dict[str, Any]:
        """The columns of `exports()`."""
        out: dict[str, Any] = {"id": np.arange(self.sim.lo, self.sim.hi, dtype=np.int32)}
        if self.group is not None:
            out["group"] = arrow.dictionary(self.group, self.groups)
        if self.region is not None and self.show_region:
            out["region"] = arrow.dictionary(self.region, self.regions)
        if self.age is not None:
            out["age"] = self.age
        return out
