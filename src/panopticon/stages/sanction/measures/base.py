"""The measure-kind contract: one class per kind of reward or punishment.

The catalog module (`catalog.Measures`) builds one trigger per measure and hands each
measure to the class registered for its `kind`. A kind declares its daily columns and
computes today's values from the trigger's counts and members; it may also export
people columns and contribute rows to a table. A new kind is one new file with a
`@register_kind` class, plus its table in a scenario.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from panopticon.core import streams
from panopticon.core.module import Column, DayContext, Export

KINDS: dict[str, type[MeasureKind]] = {}


def register_kind(cls: type[MeasureKind]) -> type[MeasureKind]:
    """Class decorator: the class handles the measure kinds it names in `kinds`."""
    for k in cls.kinds:
        if k in KINDS and KINDS[k] is not cls:
            raise ValueError(f"measure kind {k!r} is registered twice")
        KINDS[k] = cls
    return cls


COUNT_BLOCKS = 100_000
"""First stream block of the measures' Poisson counts (blocks 0-4999 serve other draws)."""
COUNTS_PER_MEASURE = 64


class MeasureKind:
    """One measure of the catalog, of a registered kind.

    `index` is the measure's position in `sanctions.measures` (it keys its random
    streams), `trigger` its members (a `Membership` with `triggered` and `wrongly`
    counts), `catalog` the module that owns it (seed, size, capabilities).
    """

    kinds: ClassVar[tuple[str, ...]] = ()
    Options: ClassVar[type | None] = None  # pydantic model of `options`, when the kind has any
    # True: `values` reads only its trigger's counts (`triggered`, `wrongly`, the policy's
    # grade pairs) and the day, so a sharded run computes it once from the shards' summed
    # counts (`Measures.combine_shards`); False: it needs the citizens themselves
    shards: ClassVar[bool] = False

    @classmethod
    def needs(cls, scenario: Any, params: Any) -> set[str]:
        """Capabilities this measure takes from other modules (e.g. ``age``)."""
        return set()

    def __init__(self, catalog: Any, name: str, index: int, params: Any, trigger: Any) -> None:
        """Remember the measure's identity and parameters."""
        self.catalog, self.name, self.index = catalog, name, index
        self.params, self.trigger = params, trigger
        # what ``membership:<name>`` offers: the trigger, or a kind's wider reach
        self.membership: Any = trigger

    def count_key(self, day: int, draw: int) -> np.uint64:
        """The stream of one of this measure's daily Poisson counts (`draw` < 64).

        Each count has a stream of its own: a count of mean m consumes about m + 1 draws,
        so counts sharing one stream at nearby counters would reuse each other's draws
        (deserved and wrongful blocks were correlated that way before).
        """
        if not 0 <= draw < COUNTS_PER_MEASURE:
            raise ValueError(f"draw {draw}: a measure has {COUNTS_PER_MEASURE} count streams")
        block = COUNT_BLOCKS + COUNTS_PER_MEASURE * self.index + draw
        return streams.stream_key(self.catalog.seed, streams.SANCTIONS, day, block)

    def round_day(self, day: int) -> bool:
        """Whether `day` has a national round of this measure (`gather`, `decide`, `scatter`).

        Only scarce goods have rounds; the other kinds never need the whole population.
        """
        return False

    def columns(self) -> list[Column]:
        """The daily columns this measure adds beyond `triggered_` and `triggered_wrongly_`."""
        return []

    def values(self, ctx: DayContext, key: np.uint64) -> dict[str, float]:
        """Today's values of `columns()`; `key` is the day's stream of the catalog."""
        return {}

    def exports(self) -> list[Export]:
        """People columns this measure adds."""
        return []

    def people(self) -> dict[str, Any]:
        """End-of-run values of `exports()`."""
        return {}

    def scalars(self) -> dict[str, Any]:
        """JSON-safe state for checkpoints."""
        return {}

    def load_scalars(self, values: dict[str, Any]) -> None:
        """Restore `scalars()`."""
