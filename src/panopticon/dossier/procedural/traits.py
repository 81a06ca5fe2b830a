"""Latent traits shared by the procedural domains: pure functions of (seed, id).

None is a data point; generators in several domains read them (ability, sociability,
mobility, affinity for technology, thrift, sex, wealth).
"""

from __future__ import annotations

import numpy as np

from panopticon.dossier.catalog import Registry

REGISTRY = Registry()  # latent traits only
latent = REGISTRY.latent

latent("_ability", lambda c: c.z("_ability"))
latent("_sociability", lambda c: c.z("_sociability"))
latent("_mobility", lambda c: c.ln("_mobility", 0.5))
latent(
    "_tech",
    lambda c: (
        np.clip(1.6 - 0.018 * np.maximum(c.age - 20, 0) + 0.3 * c.z("_tech"), 0.05, 2.5)
        * (c.age >= 8)
    ),
)
latent("_thrift", lambda c: c.ln("_thrift", 0.4))
latent("_female", lambda c: c.u("_female") < 0.49)
latent("_wealth", lambda c: c.ln("_wealth", 0.6))
