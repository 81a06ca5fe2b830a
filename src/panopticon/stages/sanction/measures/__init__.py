"""The catalog of measures and its kinds (each kind one file, registered by import)."""

from panopticon.stages.sanction.measures import allocation, attempts, base, consumption, loan
from panopticon.stages.sanction.measures.base import KINDS, MeasureKind, register_kind
from panopticon.stages.sanction.measures.catalog import Measures

__all__ = [
    "KINDS",
    "MeasureKind",
    "Measures",
    "allocation",
    "attempts",
    "base",
    "consumption",
    "loan",
    "register_kind",
]
