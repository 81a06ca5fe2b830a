"""The record batch and outcome codes: what flows from identification to the scores.

Outcome codes of one identification: `MISSED` (the search named nobody), `WRONG` (it
named an innocent person), `CORRECT`. Appeal status of one record: none, lost, won,
pending. A `RecordBatch` holds records column-wise, those appearing on one day.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MISSED = 0
WRONG = 1
CORRECT = 2
OUTCOMES = ("missed", "wrong", "correct")


KINDS = ("violations", "lawful", "rewarded")  # of acts: unlawful, lawful but disfavoured, rewarded
KIND_NOUNS = ("violations", "lawful disfavoured acts", "rewarded acts")


def act_kinds(behaviors: dict) -> np.ndarray:
    """Kind code per behaviour: 0 violation, 1 lawful (disfavoured), 2 rewarded."""
    return np.array(
        [2 if b.valence == "positive" else (1 if b.lawful else 0) for b in behaviors.values()],
        dtype=np.uint8,
    )


APPEAL_NONE, APPEAL_LOST, APPEAL_WON, APPEAL_PENDING = 0, 1, 2, 3
APPEAL_STATUS = ("none", "lost", "won", "pending")


RECORD_FIELDS = {
    "behavior": np.uint8,
    "perpetrator": np.int32,
    "attributed_to": np.int32,
    "channel": np.uint8,
    "correct": np.bool_,
    "act_day": np.int32,
    "appeal": np.uint8,
    "ordinal": np.uint32,
    "seq": np.int64,
}
"""`RecordBatch`'s array fields after `day`, in order, with their dtypes (checkpoints
flatten batches by them)."""


@dataclass
class RecordBatch:
    """Records, columnar: those appearing on `day` (or being reversed on it)."""

    day: int
    behavior: np.ndarray  # uint8 behaviour index
    perpetrator: np.ndarray  # int32
    attributed_to: np.ndarray  # int32
    channel: np.ndarray  # uint8 channel code
    correct: np.ndarray  # bool
    act_day: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    appeal: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint8))
    # the act's identity, for draws and order that do not depend on the batch (shards):
    # `ordinal` numbers the act among its perpetrator's acts of `act_day` (with the
    # perpetrator and the act day it names the act); `seq` is the record's position among
    # all the records made on `act_day`, in the one-process order
    ordinal: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint32))
    seq: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def __len__(self) -> int:
        """Number of records."""
        return self.perpetrator.size

    def subset(self, keep: np.ndarray) -> RecordBatch:
        """The records selected by index array `keep`."""
        return RecordBatch(
            self.day,
            self.behavior[keep],
            self.perpetrator[keep],
            self.attributed_to[keep],
            self.channel[keep],
            self.correct[keep],
            self.act_day[keep] if self.act_day.size else self.act_day,
            self.appeal[keep] if self.appeal.size else self.appeal,
            self.ordinal[keep] if self.ordinal.size else self.ordinal,
            self.seq[keep] if self.seq.size else self.seq,
        )

    @staticmethod
    def concat(day: int, parts: list[RecordBatch]) -> RecordBatch:
        """One batch from several (in order)."""
        if len(parts) == 1:
            return parts[0]
        cat = np.concatenate
        return RecordBatch(
            day,
            cat([p.behavior for p in parts]),
            cat([p.perpetrator for p in parts]),
            cat([p.attributed_to for p in parts]),
            cat([p.channel for p in parts]),
            cat([p.correct for p in parts]),
            cat([p.act_day for p in parts]),
            cat([p.appeal for p in parts]),
            cat([p.ordinal for p in parts]),
            cat([p.seq for p in parts]),
        )

    def order(self) -> np.ndarray:
        """Indices that put the records in the one-process order: by act day, then `seq`."""
        return np.lexsort((self.seq, self.act_day))


def empty_batch(day: int) -> RecordBatch:
    """A batch with no records."""
    z8, z32 = np.empty(0, np.uint8), np.empty(0, np.int32)
    return RecordBatch(
        day,
        z8,
        z32,
        z32,
        z8,
        np.empty(0, np.bool_),
        z32,
        z8,
        np.empty(0, np.uint32),
        np.empty(0, np.int64),
    )
