"""Procedural attributes: generated from each citizen's traits and demographics, not stored.

One file per category (identity to social) registers its attributes with their
generators; `traits` holds latent traits several of them share. The catalog lists the
attributes in category order, each file's in the order it defines them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from panopticon.dossier.catalog import BOOL, F64, STR, Attribute, Gen
from panopticon.dossier.procedural import (
    consumption,
    education,
    employment,
    finance,
    household,
    identity,
    legal,
    online,
    social,
    traits,
    transport,
)
from panopticon.dossier.procedural.context import Ctx
from panopticon.scenario.schema import Scenario

_DOMAINS = (
    traits,
    identity,
    household,
    education,
    employment,
    finance,
    legal,
    transport,
    consumption,
    online,
    social,
)

ATTRIBUTES: tuple[tuple[Attribute, Gen], ...] = tuple(
    entry for domain in _DOMAINS for entry in domain.REGISTRY.attributes
)
"""Every procedural attribute with its generator, in catalog order."""

_GENERATORS: dict[str, Gen] = {
    name: fn for domain in _DOMAINS for name, fn in domain.REGISTRY.latents.items()
}
_GENERATORS.update({a.name: fn for a, fn in ATTRIBUTES})


def attributes() -> list[Attribute]:
    """The procedural attributes, the same for every scenario."""
    return [a for a, _ in ATTRIBUTES]


def procedural(scenario: Scenario, ids: Sequence[int] | np.ndarray) -> pl.DataFrame:
    """The procedural attributes of `ids` (no run needed: a function of seed and id)."""
    ids_arr = np.asarray(ids, dtype=np.int64)
    ctx = Ctx(scenario, ids_arr, _GENERATORS)
    cols: list[pl.Series] = [pl.Series("id", ids_arr, dtype=pl.Int64)]
    for a, _ in ATTRIBUTES:
        v = ctx.get(a.name)
        if a.dtype == STR:
            cols.append(pl.Series(a.name, v.tolist(), dtype=STR))
        elif a.dtype == BOOL:
            cols.append(pl.Series(a.name, v.astype(bool), dtype=BOOL))
        else:
            v = np.broadcast_to(np.asarray(v, dtype=np.float64), (len(ids_arr),))
            s = pl.Series(a.name, v, dtype=pl.Float64, nan_to_null=True)
            cols.append(s if a.dtype == F64 else s.cast(a.dtype))
    return pl.DataFrame(cols)
