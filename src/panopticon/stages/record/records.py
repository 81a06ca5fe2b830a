"""Record: the credit record log. Each attributed act becomes a record against someone.

A record holds the day of the act, the day it appears (after its channel's delay), the
behaviour, the channel, the perpetrator (known only to the simulator), the person it is
attributed to, whether that is correct, and its appeal status. Records wait in a
calendar until their day comes; on that day they reach the score policies.

Appeals: when a record appears, the person it names appeals it with one probability if
it is wrongful and another if it is correct, wins with one probability or the other,
and the decision comes `delay_days` later. A won appeal removes the record: its points
are given back and it stops counting toward lists and factor scores (a direct grade
drop it caused is not undone). Outcomes are drawn when the record appears, so the log
can be written as the run goes; decisions due after the last day are `pending`. Dated
probabilities: the chance to appeal is that of the day the record appears, the chance to
win that of the day of the decision.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pyarrow as pa
from numba import njit

from panopticon.core import arrow, streams
from panopticon.core.jit import KERNEL
from panopticon.core.module import Column, DayContext, Export, Module, Phase, StateSpec
from panopticon.core.params import Daily, Schedule
from panopticon.core.records import (
    APPEAL_LOST,
    APPEAL_NONE,
    APPEAL_PENDING,
    APPEAL_STATUS,
    APPEAL_WON,
    KIND_NOUNS,
    KINDS,
    MISSED,
    RECORD_FIELDS,
    RecordBatch,
    act_kinds,
)
from panopticon.core.registry import register
from panopticon.core.streams import event_key
from panopticon.io.fs import RunError
from panopticon.scenario.schema import Scenario
from panopticon.stages.behave.behave import prefetch

AHEAD = 16  # records between a record's prefetch and its count


@njit(cache=True, **KERNEL)
def _count_kernel(
    target: np.ndarray, correct: np.ndarray, rec_correct: np.ndarray, rec_wrong: np.ndarray
) -> None:
    """Add records to each citizen's correct / wrongful counts.

    The counts of the record `AHEAD` on are prefetched, so that the records' cache
    misses overlap instead of following one another.
    """
    for r in range(target.size):
        if r + AHEAD < target.size:
            q = target[r + AHEAD]
            prefetch(rec_correct, q)
            prefetch(rec_wrong, q)
        if correct[r]:
            rec_correct[target[r]] += 1
        else:
            rec_wrong[target[r]] += 1


@njit(cache=True, **KERNEL)
def _sample_kernel(seed: int, day: int, n: int, share: float) -> np.ndarray:
    """Indices of the records kept by a uniform sample with probability `share`."""
    key = streams.stream_key(seed, streams.RECORD_SAMPLE, day, np.int64(0))
    keep = np.empty(n, dtype=np.int64)
    m = 0
    for r in range(n):
        if streams.uniform(key, np.uint64(r)) < share:
            keep[m] = r
            m += 1
    return keep[:m]


@njit(cache=True, **KERNEL)
def _appeal_kernel(
    seed: int,
    act_day: np.ndarray,
    perpetrator: np.ndarray,
    ordinal: np.ndarray,
    correct: np.ndarray,
    appealable: np.ndarray,
    p_appeal: np.ndarray,
    p_win: np.ndarray,
) -> np.ndarray:
    """Appeal outcome per record: 0 not appealed, 1 appealed and lost, 2 won.

    Only records of violations (`appealable`) are appealed: nobody contests a reward.
    A record's two draws are keyed by its act (act day, perpetrator, ordinal: one act
    makes at most one record), never by its position in the day's batch, so they are
    the same whichever shard owns the citizen it names.
    """
    out = np.zeros(correct.size, dtype=np.uint8)
    last, key = np.int64(-1), np.uint64(0)
    for r in range(correct.size):
        if not appealable[r]:
            continue
        d = np.int64(act_day[r])
        if d != last:
            key = streams.stream_key(seed, streams.APPEAL, d, np.int64(0))
            last = d
        ek = event_key(key, perpetrator[r], ordinal[r])
        w = 0 if correct[r] else 1
        if streams.uniform(ek, np.uint64(0)) < p_appeal[w]:
            out[r] = 2 if streams.uniform(ek, np.uint64(1)) < p_win[w] else 1
    return out


def _flatten(calendar: dict[int, list[RecordBatch]], prefix: str) -> dict[str, np.ndarray]:
    """A calendar of batches by day as flat arrays (one row per part, then its records)."""
    parts = [(d, b) for d, batches in calendar.items() for b in batches]
    out = {
        f"{prefix}.due": np.array([d for d, _ in parts], dtype=np.int64),
        f"{prefix}.day": np.array([b.day for _, b in parts], dtype=np.int64),
    }
    for f, dtype in RECORD_FIELDS.items():
        arrays = [getattr(b, f) for _, b in parts]
        out[f"{prefix}.n_{f}"] = np.array([a.size for a in arrays], dtype=np.int64)
        out[f"{prefix}.{f}"] = np.concatenate(arrays) if arrays else np.empty(0, dtype)
    return out


def _unflatten(arrays: dict[str, np.ndarray], prefix: str) -> dict[int, list[RecordBatch]]:
    """The calendar `_flatten` wrote, with its parts in the same order."""
    calendar: dict[int, list[RecordBatch]] = {}
    due = arrays[f"{prefix}.due"]
    if due.size and f"{prefix}.n_ordinal" not in arrays:
        raise RunError(
            "error: checkpoint: its waiting records carry no act identity (written before "
            "appeal draws were keyed by act); rerun the scenario from day 0"
        )
    cuts = {
        f: np.concatenate([[0], np.cumsum(arrays[f"{prefix}.n_{f}"])]).astype(np.int64)
        for f in RECORD_FIELDS
    }
    for k in range(due.size):
        cols = [arrays[f"{prefix}.{f}"][cuts[f][k] : cuts[f][k + 1]] for f in RECORD_FIELDS]
        batch = RecordBatch(int(arrays[f"{prefix}.day"][k]), *cols)
        calendar.setdefault(int(due[k]), []).append(batch)
    return calendar


@register
class Record(Module):
    """Stage 4: turn attributed acts into records; delays and appeals.

    Owns per-citizen counts of correct and wrongful records (records ever made, including
    ones later removed on appeal) and, with appeals, the count of appeals won. Provides
    ``record_log``: itself, for the run writer (`log_schema`, `log_columns`, `to_log`).
    """

    name = "record"
    phase = Phase.RECORD
    provides = ("record_log",)
    shards = True  # delays and appeals wait with the shard owning the citizen named
    exchange = "records"  # a record against another shard's citizen goes to its owner

    @classmethod
    def needs(cls, scenario: Scenario, **kwargs: object) -> set[str]:
        """The count dtype, channel names and delays."""
        return {"count_dtype", "channels", "delays"}

    def __init__(self, sim: Any) -> None:
        """Allocate the per-citizen counts and the calendar of records to come."""
        super().__init__(sim)
        scenario = sim.scenario
        count_dtype = sim.need("count_dtype")
        delays = sim.need("delays")
        self.channels: tuple[str, ...] = sim.need("channels")
        self.behaviors = list(scenario.behaviors)
        self.act_kind = act_kinds(scenario.behaviors)
        self.violation = self.act_kind == 0
        self.present = sorted(set(self.act_kind.tolist()))
        self.split = self.present != [0]
        n = sim.size  # the citizens this simulation owns (a shard's, or all)
        self.days = scenario.run.days
        self.records_correct = self.add_state(
            StateSpec("records_correct", count_dtype, "correct records against"),
            np.zeros(n, dtype=count_dtype),
        )
        self.records_wrong = self.add_state(
            StateSpec("records_wrong", count_dtype, "wrongful records against", truth=True),
            np.zeros(n, dtype=count_dtype),
        )
        self.keep = scenario.run.records
        self.share = scenario.run.records_sample
        self.seed = scenario.run.seed
        self.delays = delays
        self.delayed = bool((delays > 0).any())
        a = scenario.surveillance.appeals
        self.appeals = a.enabled
        self.appeal_delay = a.delay_days
        run = scenario.run
        # [correct, wrongful] per day; plain numbers give constant rows
        self.p_appeal_by_day = np.column_stack(
            [
                Daily(v, run.start, run.days).values
                for v in (a.p_appeal_correct, a.p_appeal_wrongful)
            ]
        )
        self.p_win_by_day = np.column_stack(
            [Daily(v, run.start, run.days).values for v in (a.p_win_correct, a.p_win_wrongful)]
        )
        dated = (a.p_appeal_correct, a.p_appeal_wrongful, a.p_win_correct, a.p_win_wrongful)
        self.appeals_dated = any(isinstance(v, Schedule) for v in dated)
        if self.appeals_dated:
            self.p_appeal, self.p_win = self.p_appeal_by_day[0], self.p_win_by_day[0]
        else:
            self.p_appeal = np.array([a.p_appeal_correct, a.p_appeal_wrongful])
            self.p_win = np.array([a.p_win_correct, a.p_win_wrongful])
        self.appeals_won = (
            self.add_state(
                StateSpec("appeals_won", np.uint16, "appeals won"), np.zeros(n, dtype=np.uint16)
            )
            if a.enabled
            else None
        )
        self._pending: dict[int, list[RecordBatch]] = {}
        self._reversals: dict[int, list[RecordBatch]] = {}
        self.today_counts = {"appealed": 0, "appeals_won": 0, "wrongful_removed": 0}
        self._behavior_names = arrow.array(self.behaviors, pa.string())
        self._channel_names = arrow.array(list(self.channels), pa.string())
        sim.provide("record_log", self)

    # -- declarations -------------------------------------------------------------------

    def columns(self) -> list[Column]:
        """Records made today, correct and wrongful; per channel; appeals."""
        cols = [
            Column(
                "attributed_correct",
                agg="sum",
                unit="records",
                label="records against the person who acted",
                headline=True,
                order=4,
            ),
            Column(
                "attributed_wrong",
                agg="sum",
                unit="records",
                label="records against an innocent person",
                headline=True,
                higher_is="worse",
                order=5,
            ),
        ]
        if self.split:  # records of violations, lawful acts and rewards, apart
            for k in self.present:
                kind = KINDS[k]
                wrong = "credited to the wrong person" if k == 2 else "against an innocent"
                every = Column(
                    f"records_{kind}",
                    agg="sum",
                    unit="records",
                    label=f"records of {KIND_NOUNS[k]}",
                    family="records_kind",
                    key=kind,
                    headline=k == 0,
                )
                cols += [
                    every,
                    every.wrongful(
                        f"records_{kind}_wrong",
                        f"records of {KIND_NOUNS[k]} {wrong}",
                        headline=True,
                        higher_is="worse",
                    ),
                ]
        if len(self.channels) > 1:
            cols += [
                Column(
                    f"recorded_{c}",
                    agg="sum",
                    unit="records",
                    label=f"records from {c}",
                    family="channel",
                    key=c,
                )
                for c in self.channels
            ]
        if self.appeals:
            cols += [
                Column("appealed", agg="sum", unit="records", label="records appealed"),
                Column("appeals_won", agg="sum", unit="records", label="appeals won"),
                Column(
                    "wrongful_removed",
                    agg="sum",
                    unit="records",
                    label="wrongful records removed on appeal",
                    higher_is="better",
                ),
            ]
        return cols

    def values(self, ctx: DayContext) -> dict[str, float]:
        """Today's records."""
        batch = ctx.batch
        n_correct = int(batch.correct.sum())
        out: dict[str, float] = {
            "attributed_correct": n_correct,
            "attributed_wrong": len(batch) - n_correct,
        }
        if self.split:
            kind = self.act_kind[batch.behavior]
            every = np.bincount(kind, minlength=3)
            wrong = np.bincount(kind[~batch.correct], minlength=3)
            for k in self.present:
                out[f"records_{KINDS[k]}"] = int(every[k])
                out[f"records_{KINDS[k]}_wrong"] = int(wrong[k])
        if len(self.channels) > 1:
            per = np.bincount(batch.channel, minlength=len(self.channels))
            out.update({f"recorded_{c}": per[k] for k, c in enumerate(self.channels)})
        if self.appeals:
            out.update(self.today_counts)
        return out

    def derived_totals(self, totals: dict[str, float]) -> dict[str, float]:
        """Wrongful records still standing at the end (made minus removed on appeal)."""
        if not self.appeals:
            return {}
        return {"wrongful_remaining": totals["attributed_wrong"] - totals["wrongful_removed"]}

    def exports(self) -> list[Export]:
        """Records against each citizen, correct and wrongful; appeals won."""
        out = [
            # which records are correct is the simulator's knowledge, not the system's
            Export("records_correct", "correct records against the citizen", truth=True, order=4),
            Export("records_wrong", "wrongful records against the citizen", truth=True, order=5),
        ]
        if self.appeals:
            out.append(Export("appeals_won", "appeals won"))
        return out

    def people(self) -> dict[str, np.ndarray]:
        """The record counts."""
        out = {"records_correct": self.records_correct, "records_wrong": self.records_wrong}
        if self.appeals_won is not None:
            out["appeals_won"] = self.appeals_won
        return out

    def extra_state(self) -> dict[str, np.ndarray]:
        """The calendars of records still to appear and of appeals still to be decided."""
        return {**_flatten(self._pending, "pending"), **_flatten(self._reversals, "reversals")}

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore both calendars."""
        self._pending = _unflatten(arrays, "pending")
        self._reversals = _unflatten(arrays, "reversals")

    # -- the log --------------------------------------------------------------------------

    def log_schema(self) -> pa.Schema:
        """Columns of ``records.parquet``; features add `day_recorded` and `appeal`."""
        fields = [
            ("day", pa.int32()),
            ("behavior", pa.dictionary(pa.uint8(), pa.string())),
            ("perpetrator", pa.int32()),
            ("attributed_to", pa.int32()),
            ("channel", pa.dictionary(pa.uint8(), pa.string())),
            ("correct", pa.bool_()),
        ]
        if self.delayed:
            fields.insert(1, ("day_recorded", pa.int32()))
        if self.appeals:
            fields.append(("appeal", pa.dictionary(pa.uint8(), pa.string())))
        return pa.schema(fields)

    def log_table(self, batches: list[RecordBatch]) -> pa.Table:
        """Several days' logged records as one table of `log_schema()`."""
        b = batches
        cat = np.concatenate
        cols: dict[str, Any] = {
            "day": cat(
                [
                    x.act_day if x.act_day.size == len(x) else np.full(len(x), x.day, np.int32)
                    for x in b
                ]
            ),
            "behavior": arrow.dictionary(cat([x.behavior for x in b]), self._behavior_names),
            "perpetrator": cat([x.perpetrator for x in b]),
            "attributed_to": cat([x.attributed_to for x in b]),
            "channel": arrow.dictionary(cat([x.channel for x in b]), self._channel_names),
            "correct": cat([x.correct for x in b]),
        }
        if self.delayed:
            cols["day_recorded"] = cat([np.full(len(x), x.day, dtype=np.int32) for x in b])
        if self.appeals:
            cols["appeal"] = arrow.dictionary(
                cat([x.appeal for x in b]), arrow.array(list(APPEAL_STATUS), pa.string())
            )
        return arrow.table(cols, schema=self.log_schema())

    def step(self, ctx: DayContext) -> None:
        """Records appearing today (`ctx.batch`) and removed today on appeal (`ctx.removed`)."""
        self.apply(ctx, self.outgoing(ctx))

    def outgoing(self, ctx: DayContext) -> RecordBatch:
        """The records made today from this simulation's detections (global ids)."""
        day, actors, kinds, channel = ctx.day, ctx.seen_actors, ctx.seen_kinds, ctx.channel
        outcome, target = ctx.outcome, ctx.target
        hit = np.flatnonzero(outcome != MISSED)
        perp = actors[hit]
        to = target[hit]
        return RecordBatch(
            day,
            kinds[hit],
            perp,
            to,
            channel[hit],
            perp == to,
            np.full(hit.size, day, dtype=np.int32),
            np.zeros(hit.size, dtype=np.uint8),
            ctx.seen_ordinal[hit],
            np.arange(hit.size, dtype=np.int64),  # the driver adds the shards before
        )

    def route(self, part: RecordBatch) -> np.ndarray:
        """A record goes to the owner of the citizen it names."""
        return part.attributed_to

    def incoming(self, ctx: DayContext, parts: list[RecordBatch]) -> None:
        """Today's records against this shard's citizens, from each shard in shard order.

        In a shard, `ctx.batch.attributed_to` is the index into the shard's state (id - lo),
        so the modules after this one index their arrays with it unchanged.
        """
        received = RecordBatch.concat(ctx.day, parts)
        if self.sim.lo:
            local = received.attributed_to - np.int32(self.sim.lo)
            received = dataclasses.replace(received, attributed_to=local)
        self.apply(ctx, received)

    def shard_log(self, ctx: DayContext) -> RecordBatch | None:
        """With delays or appeals, the records that appeared today here (global ids).

        The day's log is then not the records made today but those appearing, with their
        appeal status: the driver merges the shards' parts in the one-process order
        (`RecordBatch.order`). Without either, the exchanged records are the log (None).
        """
        if not (self.delayed or self.appeals) or ctx.batch is None:
            return None
        if not self.sim.lo:
            return ctx.batch
        glob = ctx.batch.attributed_to + np.int32(self.sim.lo)
        return dataclasses.replace(ctx.batch, attributed_to=glob)

    def apply(self, ctx: DayContext, made: RecordBatch) -> None:
        """Count, delay and appeal the records made today against this simulation's citizens."""
        day = ctx.day
        if self.delayed:
            due = day + self.delays[made.channel]
            now = np.flatnonzero(due == day)
            parts = self._pending.pop(day, [])
            parts.append(made.subset(now))
            for d in np.unique(due[due != day]):
                if d < self.days:
                    self._pending.setdefault(int(d), []).append(
                        made.subset(np.flatnonzero(due == d))
                    )
            batch = RecordBatch.concat(day, parts)
            batch.day = day
        else:
            batch = made
        _count_kernel(batch.attributed_to, batch.correct, self.records_correct, self.records_wrong)
        reversed_today = None
        self.today_counts = {"appealed": 0, "appeals_won": 0, "wrongful_removed": 0}
        if self.appeals:
            decision = day + self.appeal_delay
            if self.appeals_dated:  # appealed on the day it appears, won on the decision's
                self.p_appeal = self.p_appeal_by_day[day]
                self.p_win = self.p_win_by_day[min(decision, self.days - 1)]
            result = _appeal_kernel(
                self.seed,
                batch.act_day,
                batch.perpetrator,
                batch.ordinal,
                batch.correct,
                self.violation[batch.behavior],
                self.p_appeal,
                self.p_win,
            )
            status = np.where(
                result == 0, APPEAL_NONE, np.where(result == 2, APPEAL_WON, APPEAL_LOST)
            )
            if decision >= self.days:
                status = np.where(result == 0, APPEAL_NONE, APPEAL_PENDING)
            batch.appeal = status.astype(np.uint8)
            won = np.flatnonzero(status == APPEAL_WON)
            if won.size:
                self._reversals.setdefault(decision, []).append(batch.subset(won))
            self.today_counts["appealed"] = int((result > 0).sum())
            rev = self._reversals.pop(day, None)
            if rev:
                reversed_today = RecordBatch.concat(day - self.appeal_delay, rev)
                np.add.at(self.appeals_won, reversed_today.attributed_to, 1)
                self.today_counts["appeals_won"] = len(reversed_today)
                self.today_counts["wrongful_removed"] = int((~reversed_today.correct).sum())
        ctx.batch, ctx.removed = batch, reversed_today

    def to_log(self, batch: RecordBatch) -> RecordBatch | None:
        """The part of the batch the record log keeps, per the `run.records` option."""
        if self.keep == "none":
            return None
        if self.keep == "sample":
            return batch.subset(_sample_kernel(self.seed, batch.day, len(batch), self.share))
        return batch
