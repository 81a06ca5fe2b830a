"""The catalog of measures: every reward and punishment, deserved and wrongful.

`sanctions.measures` names measures of registered kinds (`base.KINDS`: travel bans,
rental refusals and rewards, loan rates, naming, scarce goods...), each keyed on a
trigger: a policy's grades, a score range or a list. One trigger is built per distinct
condition; triggers on one score policy are re-examined together, only for the citizens
whose score changed (`ctx.changed`). Every count is split into deserved and wrongful:
wrongful when the counterfactual policy (correct records only) would not have triggered.
A measure with `start` or `end` dates applies only from `start` and before `end`: on other
days its columns are 0 and its ``membership:<measure>`` holds nobody (its trigger still
follows the score, so it applies at once from `start` to whoever its trigger holds then).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa

from panopticon.core import streams
from panopticon.core.metrics import HISTOGRAM_EVERY
from panopticon.core.module import (
    CollateralMembership,
    Column,
    DayContext,
    Export,
    Module,
    Phase,
    StateSpec,
    TableSpec,
)
from panopticon.core.registry import register
from panopticon.scenario.court import COURT_LIST
from panopticon.stages.identify.identify import uses_groups
from panopticon.stages.sanction.measures import base
from panopticon.stages.sanction.triggers import ListTrigger, ScoreTrigger, ScoreTriggers


def active_days(start: str | None, end: str | None, run_start: date, days: int) -> np.ndarray:
    """Per day of the run, whether a measure applies: from `start` on, before `end`."""
    t = run_start.toordinal() + np.arange(days)
    on = np.ones(days, dtype=bool)
    if start is not None:
        on &= t >= date.fromisoformat(start).toordinal()
    if end is not None:
        on &= t < date.fromisoformat(end).toordinal()
    return on


class InWindow:
    """A measure's membership on the days it applies (`active`); nobody on the others."""

    def __init__(self, inner: Any, active: np.ndarray, n: int) -> None:
        """Wrap a membership with the measure's days."""
        self.inner, self.active, self.n = inner, active, n

    def members(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """The inner members on an active day; no one on other days."""
        if self.active[day]:
            return self.inner.members(day)
        return np.zeros(self.n, dtype=bool), np.zeros(self.n, dtype=bool)

    def tally(self, day: int, group: np.ndarray, k: int, cache: dict[int, Any]) -> Any:
        """The inner `tally` on an active day (None where it has none); zeros on others."""
        if not self.active[day]:
            return np.zeros((2, k), dtype=np.int64)
        fast = getattr(self.inner, "tally", None)
        return fast(day, group, k, cache) if fast is not None else None


class InWindowCollateral(InWindow):
    """The same for a membership that also reaches people collaterally."""

    def collateral(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """The inner collateral reach on an active day; no one on other days."""
        if self.active[day]:
            return self.inner.collateral(day)
        return np.zeros(self.n, dtype=bool), np.zeros(self.n, dtype=bool)

    def collateral_tally(self, day: int, group: np.ndarray, k: int) -> Any:
        """The inner `collateral_tally` on an active day (None where it has none); zeros."""
        if not self.active[day]:
            return np.zeros((2, k), dtype=np.int64)
        fast = getattr(self.inner, "collateral_tally", None)
        return fast(day, group, k) if fast is not None else None


class _Grades:
    """Grade names and (grade, true grade) pair counts summed over the shards."""

    def __init__(self, names: Any, pairs: np.ndarray) -> None:
        self.names, self._pairs = names, pairs

    def pairs(self) -> np.ndarray:
        """The summed pair counts, shape (G, G)."""
        return self._pairs


class _Policy:
    """What an aggregate kind reads of its trigger's policy: the summed grades.

    A cohort rate (`Attempts` with ``rate_date = "listed"``) reads the court list's
    `cohort_sum`: the driver's copy of the list holds the national cohorts by then
    (`CourtListModule.combine_shards` runs before the catalog's).
    """

    def __init__(self, grades: _Grades | None, own: Any = None) -> None:
        self.grades, self._own = grades, own

    def cohort_sum(self, rates: np.ndarray, day: int) -> float:
        """The trigger's list's `cohort_sum` (on the driver: the national one)."""
        if self._own is None:
            raise RuntimeError("this trigger's policy keeps no cohorts")
        return float(self._own.cohort_sum(rates, day))


class _Totals:
    """A trigger's counts summed over the shards: what a kind with `shards` reads of it."""

    def __init__(self, triggered: int, wrongly: int, policy: _Policy) -> None:
        self.triggered, self.wrongly, self.policy = triggered, wrongly, policy


def _source(scenario: Any, policy: str) -> str:
    """The capability of a trigger's policy: ``list:<name>`` or ``score:<name>``."""
    court = [COURT_LIST] if scenario.sanctions.court is not None else []
    lists = [*scenario.scoring.lists, *court]
    return f"list:{policy}" if policy in lists else f"score:{policy}"


@register
class Measures(Module):
    """Stage 6 (catalog): the measures of `sanctions.measures`, each of a registered kind.

    Provides ``membership:<measure>`` for each measure (who it applies to, and in truth;
    with joint liability also whom it reaches through a household member: `collateral`).
    """

    name = "measures"
    phase = Phase.SANCTION
    # a shard counts its own citizens' triggers; the day's values come from the sums
    shards = True

    @classmethod
    def unshardable(cls, scenario: Any, **kwargs: Any) -> str | None:
        """Kinds that need the citizens themselves (scarce goods ranked nationally)."""
        ms = scenario.sanctions.measures.values()
        kinds = sorted({m.kind for m in ms if not base.KINDS[m.kind].shards})
        if kinds:
            return f"with {', '.join(kinds)} measures"
        return None

    @classmethod
    def instances(cls, scenario: Any) -> list[dict[str, Any]]:
        """Present when the scenario names measures."""
        return [{}] if scenario.sanctions.measures else []

    @classmethod
    def needs(cls, scenario: Any, **kwargs: Any) -> set[str]:
        """Every trigger's policy (and its changes) and what each kind needs."""
        out: set[str] = set()
        for m in scenario.sanctions.measures.values():
            src = _source(scenario, m.trigger.policy)
            out.add(src)
            if src.startswith("score:"):
                out.add(f"changes:{m.trigger.policy}")
            out |= base.KINDS[m.kind].needs(scenario, m)
        return out

    @classmethod
    def provided(cls, scenario: Any, **kwargs: Any) -> tuple[str, ...]:
        """Each measure's membership."""
        return tuple(f"membership:{k}" for k in scenario.sanctions.measures)

    def __init__(self, sim: Any) -> None:
        """Build one trigger per distinct condition, then each measure's kind."""
        super().__init__(sim)
        scenario = sim.scenario
        self.seed = scenario.run.seed
        self.n = sim.size  # the citizens this simulation owns (a shard's, or all)
        self.triggers: dict[str, Any] = {}
        self.groups: dict[str, ScoreTriggers] = {}
        self.rounds: list[dict[str, Any]] = []
        by_key: dict[str, Any] = {}
        for name, m in scenario.sanctions.measures.items():
            t = m.trigger
            key = t.model_dump_json()
            if key not in by_key:
                src = _source(scenario, t.policy)
                pol = sim.need(src)
                if src.startswith("score:"):
                    if t.policy not in self.groups:
                        self.groups[t.policy] = ScoreTriggers(pol)
                        self.add_state(
                            StateSpec(
                                f"trigger_status_{t.policy}",
                                np.uint32,
                                f"trigger bits on {t.policy}",
                            ),
                            self.groups[t.policy].status,
                        )
                    group = self.groups[t.policy]
                    by_key[key] = ScoreTrigger(group, group.add(t))
                else:
                    by_key[key] = ListTrigger(pol)
            self.triggers[name] = by_key[key]
        for group in self.groups.values():
            group.refresh(None)
        self.kinds: dict[str, base.MeasureKind] = {
            name: base.KINDS[m.kind](self, name, idx, m, self.triggers[name])
            for idx, (name, m) in enumerate(scenario.sanctions.measures.items())
        }
        self._today: dict[str, float] = {}
        # a measure with `start` / `end` applies only on the days in between
        run = scenario.run
        self.active = {
            name: active_days(m.start, m.end, run.start, run.days)
            for name, m in scenario.sanctions.measures.items()
            if m.start is not None or m.end is not None
        }
        for name, kind in self.kinds.items():
            member = kind.membership
            if name in self.active:  # outside its days it reaches nobody
                within = (
                    InWindowCollateral if isinstance(member, CollateralMembership) else InWindow
                )
                member = within(member, self.active[name], self.n)
            sim.provide(f"membership:{name}", member)
        # joint-liability measures, and whether the per-group tables read their reach
        self._joint = [n for n, k in self.kinds.items() if getattr(k, "liability", None)]
        self._snapshots = uses_groups(scenario)
        self._idle = {
            name: {
                f"triggered_{name}": 0,
                f"triggered_wrongly_{name}": 0,
                **{c.name: 0 for c in self.kinds[name].columns()},
            }
            for name in self.active
        }

    def step(self, ctx: DayContext) -> None:
        """Update triggers whose policy changed today, then each measure's values.

        On a day with a scarce good's round the step is `gather`, `decide` and `scatter`
        over this simulation alone: the path a sharded run splits at its national barrier.
        """
        if self.national_day(ctx.day):
            self.scatter(ctx, self.decide(ctx.day, [self.gather(ctx)])[0])
            return
        self._refresh(ctx)
        self._today = self._values(ctx)

    def _refresh(self, ctx: DayContext) -> None:
        """Update the triggers whose policy changed today."""
        for pol_name, group in self.groups.items():
            if pol_name in ctx.changed:
                group.refresh(ctx.changed[pol_name])

    def _rounds_today(self, day: int) -> list[str]:
        """The measures with a national round today (scarce goods, within their days)."""
        return [
            name
            for name, kind in self.kinds.items()
            if kind.round_day(day) and not (name in self.active and not self.active[name][day])
        ]

    def _liable_today(self, day: int) -> list[str]:
        """The joint-liability measures whose collateral reach is read today.

        Their rounds, and the snapshot days of the per-group tables (which read every
        membership's `collateral`), while the measure applies.
        """
        snapshot = self._snapshots and (
            (day + 1) % HISTOGRAM_EVERY == 0 or day == self.sim.days - 1
        )
        rounds = self._rounds_today(day)
        return [
            name
            for name in self._joint
            if (snapshot or name in rounds)
            and not (name in self.active and not self.active[name][day])
        ]

    def national_day(self, day: int) -> bool:
        """A scarce good's round is today, or a joint-liability measure's reach is read."""
        return bool(self._rounds_today(day) or self._liable_today(day))

    def gather(self, ctx: DayContext) -> dict[str, Any]:
        """The triggers updated, then each round's applicants of this simulation.

        With joint liability, also the households of this simulation's members of each
        measure whose reach is read today (the other shards' households reach them).
        """
        self._refresh(ctx)
        day = ctx.day
        rounds = self._rounds_today(day)
        households: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in self._liable_today(day):
            liability = self.kinds[name].liability
            if liability.whole and name not in rounds:
                # one process: nobody else's households, and the reach reads its own
                households[name] = (np.zeros(0, np.int32), np.zeros(0, np.int32))
            else:
                households[name] = liability.households(day)
        return {
            "rounds": {name: self.kinds[name].gather(day) for name in rounds},
            "households": households,
        }

    def decide(self, day: int, parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each round over every shard's applicants; per shard, its rows' results.

        With joint liability each shard also gets, per measure, the households of the
        other shards' members (in shard order; nothing in one process).
        """
        out: list[dict[str, Any]] = [{"rounds": {}, "foreign": {}} for _ in parts]
        for name in parts[0]["rounds"]:
            rows = [p["rounds"][name] for p in parts]
            liable = None
            if name in parts[0]["households"]:
                liable = [p["households"][name] for p in parts]
            for s, got in enumerate(self.kinds[name].decide(day, rows, liable)):
                out[s]["rounds"][name] = got
        for name in parts[0]["households"]:
            for s in range(len(parts)):
                others = [p["households"][name] for t, p in enumerate(parts) if t != s]
                out[s]["foreign"][name] = tuple(
                    np.concatenate([np.zeros(0, np.int32), *(o[i] for o in others)]) for i in (0, 1)
                )
        return out

    def scatter(self, ctx: DayContext, result: dict[str, Any]) -> None:
        """Apply each round's outcome to this simulation's citizens, then today's values."""
        for name, (on, truth) in result["foreign"].items():
            self.kinds[name].liability.set_foreign(ctx.day, on, truth)
        for name, got in result["rounds"].items():
            self.kinds[name].scatter(got)
        self._today = self._values(ctx)

    def _values(self, ctx: DayContext) -> dict[str, float]:
        """Today's values of every measure (a round's from its `decide`)."""
        key = streams.stream_key(self.seed, streams.SANCTIONS, ctx.day, 0)
        out: dict[str, float] = {}
        for name, kind in self.kinds.items():
            if name in self.active and not self.active[name][ctx.day]:
                out.update(self._idle[name])  # before its start or from its end: nobody
                continue
            trig = self.triggers[name]
            out[f"triggered_{name}"] = trig.triggered
            out[f"triggered_wrongly_{name}"] = trig.wrongly
            out.update(kind.values(ctx, key))
        return out

    def shard_values(self, ctx: DayContext) -> dict[str, Any]:
        """The shard's trigger counts per measure, and its measures' policies' grade pairs."""
        counts = {name: (t.triggered, t.wrongly) for name, t in self.triggers.items()}
        pairs: dict[str, np.ndarray | None] = {}
        for name, kind in self.kinds.items():
            g = getattr(kind.trigger, "policy", None)
            grades = getattr(g, "grades", None)
            pairs[name] = grades.pairs().copy() if grades is not None else None
        return {"counts": counts, "pairs": pairs}

    def combine_shards(self, day: int, parts: list[dict[str, Any]]) -> dict[str, Any]:
        """Today's values from the shards' summed counts, drawn once as in one process.

        Every kind that shards reads only its trigger's counts and the day (its Poisson
        counts are keyed by measure and day), so the values of the summed counts are the
        one-process values exactly.
        """
        ctx = DayContext(day=day)
        key = streams.stream_key(self.seed, streams.SANCTIONS, day, 0)
        out: dict[str, Any] = {}
        for name, kind in self.kinds.items():
            if name in self.active and not self.active[name][day]:
                out.update(self._idle[name])
                continue
            on = sum(int(p["counts"][name][0]) for p in parts)
            wrong = sum(int(p["counts"][name][1]) for p in parts)
            grades = None
            if parts and parts[0]["pairs"][name] is not None:
                pol = kind.trigger.policy
                summed = np.sum([p["pairs"][name] for p in parts], axis=0)
                grades = _Grades(pol.grades.names, summed.astype(parts[0]["pairs"][name].dtype))
            out[f"triggered_{name}"] = on
            out[f"triggered_wrongly_{name}"] = wrong
            own = kind.trigger
            kind.trigger = _Totals(on, wrong, _Policy(grades, getattr(own, "policy", None)))
            try:
                out.update(kind.values(ctx, key))
            finally:
                kind.trigger = own
        return out

    def columns(self) -> list[Column]:
        """Per measure: people triggered now (and wrongly), then its kind's columns."""
        cols: list[Column] = []
        for name, kind in self.kinds.items():
            triggered = Column(
                f"triggered_{name}",
                agg="last",
                label=f"{name}: people it applies to",
                family="triggered",
                key=name,
            )
            cols += [
                triggered,
                triggered.wrongful(
                    f"triggered_wrongly_{name}",
                    f"{name}: people it applies to wrongly",
                    higher_is="worse",
                ),
                *kind.columns(),
            ]
        return cols

    def values(self, ctx: DayContext) -> dict[str, float]:
        """Today's values, computed in `step`."""
        return self._today

    def exports(self) -> list[Export]:
        """The kinds' people columns."""
        return [e for kind in self.kinds.values() for e in kind.exports()]

    def people(self) -> dict[str, Any]:
        """The kinds' end-of-run values."""
        out: dict[str, Any] = {}
        for kind in self.kinds.values():
            out.update(kind.people())
        return out

    def table_specs(self) -> list[TableSpec]:
        """Rounds of scarce goods."""
        return [
            TableSpec(
                "allocations",
                "rounds of scarce goods (a scarce-good measure)",
                "one per round",
                {
                    "day": "day of the round",
                    "measure": "the measure",
                    "kind": "employment, school or housing",
                    "rule": "ranked, weighted_lottery or score_blind",
                    "applicants": "citizens who applied",
                    "capacity": "places",
                    "excluded": "applicants excluded: by their own trigger or, with joint "
                    "liability, a household member's",
                    "excluded_wrongly": "excluded for their own trigger, which the "
                    "counterfactual does not set",
                    "excluded_collateral": "excluded only because another household member "
                    "is triggered: joint liability, not triggered themselves",
                    "excluded_collateral_wrongly": "excluded collaterally, and no other "
                    "household member is triggered by the counterfactual",
                    "allocated": "places given",
                    "lost_wrongly": "places the counterfactual round gave and this did not",
                    "gained_wrongly": "places this round gave and the counterfactual did not",
                    "blind_overlap": "places a score-blind lottery would also have given",
                },
            )
        ]

    @classmethod
    def combine_tables(cls, scenario: Any, parts: list[dict[str, pa.Table]]) -> dict[str, pa.Table]:
        """The rounds: every shard holds the same rows (each round is decided nationally)."""
        return dict(parts[0])

    def tables(self) -> dict[str, pa.Table]:
        """The rounds, when any took place."""
        return {"allocations": pa.Table.from_pylist(self.rounds)} if self.rounds else {}

    def scalars(self) -> dict[str, Any]:
        """Rounds so far, score-trigger counts, and each kind's scalars."""
        return {
            "rounds": self.rounds,
            "groups": {k: g.counts.tolist() for k, g in self.groups.items()},
            "kinds": {k: kind.scalars() for k, kind in self.kinds.items()},
        }

    def load_scalars(self, values: dict[str, Any]) -> None:
        """Restore them (the status bits are declared state)."""
        self.rounds[:] = [dict(r) for r in values["rounds"]]
        for k, counts in values["groups"].items():
            self.groups[k].counts[:] = np.array(counts, dtype=np.int64)
        for k, v in values["kinds"].items():
            self.kinds[k].load_scalars(v)
