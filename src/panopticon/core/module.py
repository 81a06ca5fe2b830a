"""The module contract: a mechanism declares, the engine loops.

A mechanism (a behaviour source, a channel, a score policy, a list, the measure
catalog, the network, a snapshot) is one `Module` subclass. It declares:

- `phase`: where in the day it runs (`Phase`); the engine orders modules by it.
- `provides` / `needs(scenario)`: capabilities it offers to others (``age``,
  ``deterrence``, ``network``, ``policy:<name>`` ...) and those it takes from them. The
  engine builds providers before the modules that need them.
- its per-citizen state, through `add_state` (`StateSpec`: name, dtype, truth): the
  engine sums the bytes and writes checkpoints from these arrays;
- its columns of ``people.parquet`` (`Export`) and the values in `people()`;
- its daily columns (`Column`: dtype, how a total forms, unit, label, headline) and
  today's values in `values(ctx)`;
- its extra tables (`TableSpec`) and their contents in `tables()`;
- its scalar state in `scalars()` / `load_scalars()` and variable-size state in
  `extra_state()` / `load_extra_state()`, for checkpoints.

Modules talk to each other through the typed `DayContext` of the day and through
capabilities, never through the engine: a score consumer sees the `ScorePolicy`
protocol (score, true score, bounds, grades), never a concrete policy.

Sharding (`core.shards`: one population split into id ranges, each simulated apart). A
module says whether it can run in a shard: `shards = True` declares that its state is
per owned citizen, that its step reads and writes only its own citizens' state given the
day's context, and that its columns combine over shards by `combine_values` (sums of
counts by default; `shard_values` gives the parts) and its tables by `combine_tables`;
`unshardable(scenario)` names what, in a given scenario, it cannot shard yet. A module
whose effects reach other shards' citizens declares its `exchange` and splits its step
into `outgoing` (what this shard's acts produced, routed to the owners of
`route(part)`) and `incoming` (what reached this shard's citizens, in the one-process
order); `step` is the two in one process. When the day's log is not the exchanged
rows (records delayed or appealed), `shard_log` gives each shard's part of it.

A module whose step needs the whole population on some days (a scarce good ranked
nationally) declares them with `national_day(day)` and splits that day's step in three:
`gather` (this shard's part, in its own citizens' id order), `decide` (on the driver's
copy, from every shard's part in shard order, which is id order: one result per shard)
and `scatter` (apply this shard's result, finish the step). In one process `step` is
the three in one, `scatter(ctx, decide(day, [gather(ctx)])[0])`, so the one-process run
takes the same path and the sharded run gives its bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

    from panopticon.core.engine import Simulation
    from panopticon.core.records import RecordBatch
    from panopticon.scenario.schema import Scenario


class Phase(IntEnum):
    """The phases of one day, in order; modules of one phase run in build order."""

    SETUP = 0  # builds shared state (population, demographics, network); no daily step
    RESPOND = 10
    BEHAVE = 20
    OBSERVE = 30
    IDENTIFY = 40
    RECORD = 50
    SCORE = 60
    SANCTION = 70
    ADAPT = 80
    SOCIETY = 90
    SNAPSHOT = 100


Agg = Literal["sum", "last", "mean"]


@dataclass(frozen=True)
class Column:
    """One daily column of ``timeseries.parquet``.

    `agg` says how the run's total in the manifest forms: ``sum`` for flows (acts,
    records, entries), ``last`` for stocks (people sanctioned now, a mean score), ``mean``
    for a daily average. `headline` columns are compared, swept and summarised.
    `order` pins a column into the table's fixed head (the minimal model's funnel);
    others follow in phase order. `family` and `key` say what the column is a member of
    for the figures (``listed`` of list `key`, ``degree`` of grade `key`, ``channel``
    `key`...), and `wrongly` names the column whose wrongful part this one counts.
    """

    name: str
    dtype: type = np.int64
    agg: Agg = "sum"
    unit: str = "people"
    label: str = ""
    headline: bool = False
    higher_is: Literal["better", "worse", "neutral"] = "neutral"
    order: float | None = None
    family: str = ""
    key: str = ""
    wrongly: str = ""

    def wrongful(self, name: str, label: str, **changes: Any) -> Column:
        """The column of this one's wrongful part: the same metadata, `wrongly` naming it."""
        changes = {"order": None, **changes}  # a pinned position is the column's own
        return replace(self, name=name, label=label, wrongly=self.name, **changes)


@dataclass(frozen=True)
class Export:
    """One column of ``people.parquet``; `truth` marks simulator-only knowledge.

    Simulator-only truth (who really did it, the counterfactual score) never appears in a
    dossier: it is what the modelled system cannot know.
    """

    name: str
    description: str
    truth: bool = False
    order: float | None = None
    family: str = ""  # e.g. ``grade`` (of policy `key`), ``access`` (to good `key`)
    key: str = ""


@dataclass(frozen=True)
class StateSpec:
    """One per-citizen state array owned by a module (checkpointed; counted in memory)."""

    name: str
    dtype: Any
    description: str = ""
    truth: bool = False


@dataclass(frozen=True)
class TableSpec:
    """One extra table of the run folder: ``<name>.parquet``."""

    name: str
    description: str
    rows: str
    columns: dict[str, str] = field(default_factory=dict)


class ScorePolicy(Protocol):
    """What every score consumer (grades, lists, measures, avoidance) may use of a policy."""

    name: str
    score: np.ndarray
    true_score: np.ndarray
    grades: Any
    scheduled: bool  # True: changes only in population-wide passes (then `changed` is ALL)

    @property
    def bounds(self) -> tuple[float, float]:
        """The lowest and highest possible score."""
        ...


@runtime_checkable
class Membership(Protocol):
    """A list or measure whose members can be read, with their counterfactual."""

    def members(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """(member now, member by the counterfactual) as boolean arrays over citizens."""
        ...


@runtime_checkable
class CollateralMembership(Membership, Protocol):
    """A membership that also reaches people through someone else's (joint liability).

    Optional: a membership without `collateral` reaches nobody but its members.
    """

    def collateral(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """(reached only through another's membership, that other a member in truth).

        The first array holds people who are not members themselves but whom the measure
        reaches because someone linked to them (a household member) is a member now; the
        second, people linked to someone who is a member by the counterfactual. Reached
        collaterally and wrongly: first and not second.
        """
        ...


ALL: Any = None  # `DayContext.changed[policy] = ALL`: everyone's score may have changed


@dataclass
class DayContext:
    """The day's blackboard, filled by the modules in phase order.

    `changed[policy]` holds the ids whose score under that policy may have changed
    today, or `ALL` after a population-wide pass; a policy absent from it did not change.
    `date` is the calendar date of `day` (`run.start_date` + day); None only for a
    context built outside the engine. `ordinal[e]` numbers act e among its actor's acts
    of the day: with the actor, it names the act for its random draws (never its index
    in the list, which depends on which other acts are listed: another shard's).
    """

    day: int
    date: dt.date | None = None
    actors: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))
    kinds: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint8))
    ordinal: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint32))
    seen: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    channel: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint8))
    seen_actors: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))
    seen_kinds: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint8))
    seen_ordinal: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint32))
    outcome: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint8))
    target: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))
    batch: RecordBatch | None = None
    removed: RecordBatch | None = None
    changed: dict[str, np.ndarray | None] = field(default_factory=dict)
    last_day: bool = False


class Module:
    """Base of every mechanism. Subclasses set `name`, `phase` and override what they use.

    The constructor takes the `Simulation` being built: it reads the scenario, takes
    what it `needs` from `sim.need(...)`, allocates its state with `add_state` and
    offers its capabilities with `sim.provide(...)`.
    """

    name: str = ""
    phase: ClassVar[Phase] = Phase.SETUP
    provides: ClassVar[tuple[str, ...]] = ()
    shards: ClassVar[bool] = False  # runs in a shard of a sharded run (module docstring)
    exchange: ClassVar[str] = ""  # what it hands to other shards at its barrier ("records")

    @classmethod
    def unshardable(cls, scenario: Scenario, **kwargs: Any) -> str | None:
        """Why this instance cannot run sharded in this scenario; None when it can."""
        return None if cls.shards else "cannot be sharded yet"

    @classmethod
    def combine_values(cls, scenario: Scenario, parts: list[dict[str, Any]]) -> dict[str, Any]:
        """Today's `values` of the whole population from each shard's `shard_values`.

        By default each value is summed over the shards in shard order (counts).
        """
        out: dict[str, Any] = {}
        for part in parts:
            for k, v in part.items():
                out[k] = out[k] + v if k in out else v
        return out

    @classmethod
    def combine_tables(
        cls, scenario: Scenario, parts: list[dict[str, pa.Table]]
    ) -> dict[str, pa.Table]:
        """The whole population's `tables()` from each shard's (by default: none may have)."""
        if any(parts):
            raise ValueError(f"module {cls.name}: its tables cannot be combined over shards")
        return {}

    @classmethod
    def instances(cls, scenario: Scenario) -> list[dict[str, Any]]:
        """Keyword arguments of each instance this scenario needs ([] when unused)."""
        return [{}]

    @classmethod
    def needs(cls, scenario: Scenario, **kwargs: Any) -> set[str]:
        """Capabilities this instance takes from other modules in this scenario."""
        return set()

    @classmethod
    def provided(cls, scenario: Scenario, **kwargs: Any) -> tuple[str, ...]:
        """Capabilities this instance provides (by default the class's `provides`)."""
        return cls.provides

    def __init__(self, sim: Simulation, **kwargs: Any) -> None:
        """Remember the simulation; subclasses allocate their state after calling this."""
        self.sim = sim
        self.state: dict[str, tuple[StateSpec, np.ndarray]] = {}

    def add_state(self, spec: StateSpec, array: np.ndarray) -> np.ndarray:
        """Declare a per-citizen state array (already allocated) and return it."""
        if spec.name in self.state:
            raise ValueError(f"module {self.name}: state {spec.name!r} declared twice")
        if np.dtype(array.dtype) != np.dtype(spec.dtype):
            raise ValueError(f"module {self.name}: state {spec.name!r} is not {spec.dtype}")
        self.state[spec.name] = (spec, array)
        return array

    def step(self, ctx: DayContext) -> None:
        """Advance one day (modules of the SETUP phase have none)."""

    def outgoing(self, ctx: DayContext) -> Any:
        """The part of the day's `exchange` made in this shard (global ids; `route` says whose)."""
        raise NotImplementedError(f"module {self.name} exchanges nothing")

    def route(self, part: Any) -> np.ndarray:
        """The global id whose owner receives each row of an `outgoing` part."""
        raise NotImplementedError(f"module {self.name} exchanges nothing")

    def incoming(self, ctx: DayContext, received: Any) -> None:
        """Apply the rows that reached this shard's citizens (in the one-process order)."""
        raise NotImplementedError(f"module {self.name} exchanges nothing")

    def national_day(self, day: int) -> bool:
        """Whether `day`'s step needs the whole population (`gather`, `decide`, `scatter`)."""
        return False

    def gather(self, ctx: DayContext) -> Any:
        """On a national day: the first part of the step and this shard's part for `decide`."""
        raise NotImplementedError(f"module {self.name} has no national days")

    def decide(self, day: int, parts: list[Any]) -> list[Any]:
        """On a national day: one result per shard from every shard's part (shard order)."""
        raise NotImplementedError(f"module {self.name} has no national days")

    def scatter(self, ctx: DayContext, result: Any) -> None:
        """On a national day: apply this shard's `decide` result and finish the step."""
        raise NotImplementedError(f"module {self.name} has no national days")

    def shard_log(self, ctx: DayContext) -> Any:
        """The shard's part of the day's log after `incoming`, when it is not the exchange.

        None (the default): the driver logs the exchanged parts themselves.
        """
        return None

    def combine_shards(self, day: int, parts: list[dict[str, Any]]) -> dict[str, Any]:
        """Today's values from the shards' parts, on the driver's copy of this module.

        By default `combine_values`; a module whose values are draws from population
        totals (the measures' Poisson counts) draws them here, once, from the sums.
        """
        return type(self).combine_values(self.sim.scenario, parts)

    def shard_values(self, ctx: DayContext) -> dict[str, Any]:
        """The part of today's `values` in this shard, for `combine_values` (by default them)."""
        return self.values(ctx)

    def columns(self) -> list[Column]:
        """The daily columns this module adds."""
        return []

    def values(self, ctx: DayContext) -> dict[str, float]:
        """Today's values of `columns()`, read at the end of the day."""
        return {}

    def derived_totals(self, totals: dict[str, float]) -> dict[str, float]:
        """Totals computed from other totals (e.g. wrongful records remaining)."""
        return {}

    def exports(self) -> list[Export]:
        """The columns of ``people.parquet`` this module adds."""
        return []

    def people(self) -> dict[str, np.ndarray | pa.Array]:
        """The end-of-run values of `exports()`."""
        return {}

    def table_specs(self) -> list[TableSpec]:
        """The extra tables this module writes."""
        return []

    def tables(self) -> dict[str, pa.Table]:
        """The contents of `table_specs()`, at the end of the run."""
        return {}

    def scalars(self) -> dict[str, Any]:
        """JSON-safe scalar state, for checkpoints."""
        return {}

    def load_scalars(self, values: dict[str, Any]) -> None:
        """Restore `scalars()` from a checkpoint."""
        for k, v in values.items():
            setattr(self, k, v)

    def extra_state(self) -> dict[str, np.ndarray]:
        """Variable-size state as arrays (calendars, table rows so far), for checkpoints."""
        return {}

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore `extra_state()` from a checkpoint."""

    def state_bytes(self) -> int:
        """Resident bytes of this module's declared state."""
        return sum(a.nbytes for _, a in self.state.values())


def others_parts(parts: list[dict[str, np.ndarray]]) -> list[dict[str, Any]]:
    """For each shard, the other shards' parts: those before it and those after it.

    A `decide` for state every shard needs whole: each shard kept its own part (`gather`),
    and the parts come in id order, so before + own + after is the whole population's.
    """
    out: list[dict[str, Any]] = []
    for s in range(len(parts)):
        sides: dict[str, Any] = {}
        for side, chunk in (("before", parts[:s]), ("after", parts[s + 1 :])):
            if chunk:
                sides[side] = {k: np.concatenate([p[k] for p in chunk]) for k in parts[0]}
        out.append(sides)
    return out


def whole_parts(own: dict[str, np.ndarray], others: dict[str, Any]) -> dict[str, np.ndarray]:
    """The whole population's arrays from a shard's own part and `others_parts`' result."""
    chunks = [c for c in (others.get("before"), own, others.get("after")) if c]
    return {k: np.concatenate([c[k] for c in chunks]) for k in own}


def summed_counts(tables: list[pa.Table], columns: tuple[str, ...]) -> pa.Table:
    """The first shard's table with `columns` summed over every shard's (same rows).

    Snapshot tables of counts (histogram bins, grade counts) combine so over shards.
    """
    from panopticon.core import arrow

    first = tables[0]
    for name in columns:
        total = sum(np.asarray(t[name]) for t in tables)
        index = first.schema.get_field_index(name)
        first = first.set_column(index, name, arrow.array(total, first.schema.field(name).type))
    return first
