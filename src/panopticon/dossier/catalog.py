"""The dossier's schema and registry: what one data point is and how generators register.

An attribute is a named, typed data point in one category. Procedural attributes are
registered, each with its generator, in a `Registry` per domain file of
`panopticon.dossier.procedural`; the catalog lists them in the order they are defined,
then the attributes derived from a run (`panopticon.dossier.derived`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from panopticon.dossier.procedural.context import Ctx

CATEGORIES = (
    "identity",
    "household",
    "education",
    "employment",
    "finance",
    "legal",
    "transport",
    "consumption",
    "online",
    "social",
    "records",
)
WINDOWS = (30, 90, 365)
SIM_YEAR = 2025  # calendar year of the synthetic reference date (30 June)
MONTHS = tuple(f"m{m:02d}" for m in range(1, 13))

I32, F64, BOOL, STR = pl.Int32, pl.Float64, pl.Boolean, pl.String
_BYTES = {"Int32": 4, "Float64": 8, "Boolean": 1, "String": 16, "Int16": 2, "UInt16": 2, "UInt8": 1}

Gen = Callable[["Ctx"], Any]  # a generator: the citizens being materialised -> one value each


class DossierError(ValueError):
    """Bad input to the dossier (an unknown id, a bad K); message meant for the user."""


@dataclass(frozen=True)
class Attribute:
    """One named data point of the catalog."""

    name: str
    category: str
    kind: Literal["procedural", "derived"]
    dtype: Any  # a Polars data type
    description: str

    @property
    def nbytes(self) -> int:
        """Bytes one value takes uncompressed (strings: 16, a typical short code)."""
        return _BYTES.get(str(self.dtype), 8)


def money(x: np.ndarray) -> np.ndarray:
    """Amounts in CNY, to the fen."""
    return np.round(np.maximum(x, 0.0), 2)


def null_unless(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Float copy of `x` with NaN (null) where `keep` is False."""
    return np.where(keep, np.asarray(x, dtype=np.float64), np.nan)


class Registry:
    """The procedural attributes of one domain, in the order defined, and its latent traits.

    A latent trait (a name starting ``_``) is not a data point: it is an intermediate
    value several generators share, computed once per materialisation.
    """

    def __init__(self) -> None:
        self.attributes: list[tuple[Attribute, Gen]] = []
        self.latents: dict[str, Gen] = {}

    def add(self, name: str, dtype: Any, description: str, fn: Gen) -> None:
        """Register one procedural attribute (its category is the first part of its name)."""
        attr = Attribute(name, name.split(".")[0], "procedural", dtype, description)
        self.attributes.append((attr, fn))

    def latent(self, name: str, fn: Gen) -> None:
        """Register an internal latent trait (not a data point; used by several)."""
        self.latents[name] = fn

    def nested(
        self,
        names: Sequence[str],
        dtype: Any,
        what: str,
        daily: Callable[[Ctx], np.ndarray],
        kind: str = "count",
    ) -> None:
        """Register one value per window (30, 90, 365 days), nested so 30d <= 90d <= 365d.

        `daily` gives each citizen's expected daily count (or amount); each window adds its
        own increment over the days it has beyond the previous one.
        """
        prev: str | None = None
        prev_w = 0
        for w, name in zip(WINDOWS, names, strict=True):

            def gen(
                c: Ctx, name: str = name, prev: str | None = prev, w: int = w, prev_w: int = prev_w
            ) -> np.ndarray:
                mean = daily(c) * (w - prev_w)
                if kind == "count":
                    inc = c.pois(name, mean)
                else:
                    inc = money(mean * c.ln(name, 0.35))
                return inc + (c.get(prev) if prev is not None else 0.0)

            self.add(name, dtype, f"{what}, last {w} days", gen)
            prev, prev_w = name, w
