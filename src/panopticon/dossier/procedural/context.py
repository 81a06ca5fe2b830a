"""The citizens being materialised, and the per-attribute noise their generators draw.

Every random number is a draw of a named stream of `panopticon.core.streams` keyed by
(seed, stage ``DOSSIER``, the attribute's name, draw number), with the citizen's id as
the counter: a value is a pure function of (seed, name, id), so a citizen materialised
alone or within a batch of any order gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from panopticon.core import population as population_mod
from panopticon.core import streams
from panopticon.dossier.catalog import Gen
from panopticon.scenario.schema import Scenario


class Ctx:
    """The citizens being materialised: ids, traits, demographics and memoised values."""

    def __init__(self, sc: Scenario, ids: np.ndarray, gens: Mapping[str, Gen]) -> None:
        self.sc, self.seed = sc, sc.run.seed
        self.ids = ids.astype(np.int64)
        self.u64 = self.ids.astype(np.uint64)
        self.n = len(ids)
        self.gens = gens
        self.cache: dict[str, np.ndarray] = {}
        pop = sc.population
        self.prop = np.empty(self.n)
        self.age = np.empty(self.n)
        self.group = np.empty(self.n, dtype=np.int64)
        self.region = np.empty(self.n, dtype=np.int64)
        chunks = self.ids // population_mod.CHUNK
        for chunk in np.unique(chunks):
            lo = int(chunk) * population_mod.CHUNK
            hi = min(lo + population_mod.CHUNK, pop.size)
            at = np.nonzero(chunks == chunk)[0]
            local = self.ids[at] - lo
            self.prop[at] = population_mod.draw_propensity(pop, self.seed, lo, hi)[local]
            d = population_mod.demographics(pop, self.seed, lo, hi)
            self.age[at] = d.age[local]
            self.group[at] = d.group[local]
            self.region[at] = d.region[local]
        self.child = self.age < 16
        self.adult = self.age >= 18

    def get(self, name: str) -> np.ndarray:
        """Value of attribute (or internal latent) `name`, computed once."""
        if name not in self.cache:
            self.cache[name] = np.asarray(self.gens[name](self))
        return self.cache[name]

    def key(self, name: str, j: int = 0) -> np.uint64:
        """Stream key of draw `j` of attribute `name` under this run's seed."""
        return streams.named_key(self.seed, streams.DOSSIER, name, j)

    def bits(self, name: str, j: int = 0) -> np.ndarray:
        """64 random bits per citizen keyed by (seed, name, j, id)."""
        return streams.bits_array(self.key(name, j), self.u64)

    def u(self, name: str, j: int = 0) -> np.ndarray:
        """Uniforms on [0, 1) keyed by (seed, name, j, id)."""
        return streams.uniform_array(self.key(name, j), self.u64)

    def z(self, name: str, j: int = 0) -> np.ndarray:
        """Standard normals (Box-Muller) keyed by (seed, name, j, id)."""
        return streams.normal_array(self.u(name, 2 * j), self.u(name, 2 * j + 1))

    def ln(self, name: str, sigma: float, j: int = 0) -> np.ndarray:
        """Lognormal multipliers with mean 1."""
        return np.exp(sigma * self.z(name, j) - 0.5 * sigma * sigma)

    def bern(self, name: str, p: Any, j: int = 0) -> np.ndarray:
        """Bernoulli(p) draws as bool."""
        return self.u(name, j) < np.clip(p, 0.0, 1.0)

    def pois(self, name: str, mean: Any, j: int = 0) -> np.ndarray:
        """Poisson(mean) counts: inverse CDF below 15, normal approximation above."""
        return streams.poisson_array(self.u(name, 2 * j), mean, lambda: self.z(name, j + 1_000_000))

    def region_u(self, name: str) -> np.ndarray:
        """One uniform per region (the same for everyone living there)."""
        codes = np.arange(len(self.sc.population.regions), dtype=np.uint64)
        return streams.uniform_array(self.key(name), codes)[self.region]

    def code(
        self,
        prefix: str,
        name: str,
        digits: int,
        mask: np.ndarray | None = None,
        pool: int | None = None,
    ) -> np.ndarray:
        """Synthetic codes such as 'SYN-EMP-04A1F3' (None where `mask` is False).

        With `pool`, codes are drawn from `pool` distinct values, so citizens share them
        (an employer, a school).
        """
        bits = self.bits(name)
        if pool is not None:
            pick = (bits >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)
            slots = np.floor(pick * pool).astype(np.uint64)
            bits = streams.bits_array(self.key(name + "#pool"), slots)
        width = 4 * digits
        vals = (bits >> np.uint64(64 - width)).tolist()
        keep = np.ones(self.n, dtype=bool) if mask is None else mask
        return np.array(
            [
                f"SYN-{prefix}-{v:0{digits}X}" if k else None
                for v, k in zip(vals, keep, strict=True)
            ],
            dtype=object,
        )
