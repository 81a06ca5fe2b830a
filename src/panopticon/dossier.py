"""The dossier: 800+ named data points per SYNTHETIC citizen, materialised on demand.

A social credit system does not hold a score alone: it holds a file. This module shows
how much such a file holds, for the synthetic citizens of a simulated run only. The
catalog has two kinds of attribute:

* ``procedural``: generated from the citizen's latent traits (propensity) and
  demographics (age, group, region) with per-attribute noise keyed by
  (seed, attribute name, id). Any value is a pure function of the run's seed and the id,
  so nothing is stored: citizen 5 alone or within a batch of 10,000 gives the same values.
* ``derived``: computed from the run's record log as the *system* sees it (records count
  against ``attributed_to``, wrongful or not) and from the end-state columns of
  ``people.parquet`` that the system knows (never the simulator's truth columns).

Every identifier is synthetic (``SYN-...``); there are no names and no realistic ID
numbers. Nothing here reads data about real people.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from panopticon.core import population as population_mod
from panopticon.core import streams
from panopticon.core.params import ScenarioError
from panopticon.core.records import APPEAL_STATUS
from panopticon.io.runs import RunError, RunResult, open_run
from panopticon.scenario.io import load as load_scenario
from panopticon.scenario.schema import Scenario

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


# ---- counter-based noise per (seed, attribute name, id) ------------------------------

_MASK = (1 << 64) - 1
_G, _M1, _M2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def _mix_int(z: int) -> int:
    """SplitMix64 finaliser on a Python int (the same function as streams.mix64)."""
    z &= _MASK
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


def _mix_arr(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
    return z ^ (z >> np.uint64(31))


def _key(seed: int, name: str, j: int = 0) -> int:
    """Stream key of draw `j` of attribute `name` under `seed` (stage DOSSIER)."""
    h = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")
    k = _mix_int(seed + _G)
    k = _mix_int(k ^ (streams.DOSSIER * _M1))
    k = _mix_int(k ^ h)
    return _mix_int(k ^ ((j + 1) * _M2))


def _hash(seed: int, name: str, ids: np.ndarray, j: int = 0) -> np.ndarray:
    """64 random bits per id for (seed, name, j): a pure function of each id."""
    return _mix_arr(ids * np.uint64(_G) + np.uint64(_key(seed, name, j)))


Gen = Callable[["_Ctx"], Any]


class _Ctx:
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

    def u(self, name: str, j: int = 0) -> np.ndarray:
        """Uniforms on [0, 1) keyed by (seed, name, j, id)."""
        return (_hash(self.seed, name, self.u64, j) >> np.uint64(11)) * (1.0 / 2**53)

    def z(self, name: str, j: int = 0) -> np.ndarray:
        """Standard normals (Box-Muller) keyed by (seed, name, j, id)."""
        u1, u2 = self.u(name, 2 * j), self.u(name, 2 * j + 1)
        return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)

    def ln(self, name: str, sigma: float, j: int = 0) -> np.ndarray:
        """Lognormal multipliers with mean 1."""
        return np.exp(sigma * self.z(name, j) - 0.5 * sigma * sigma)

    def bern(self, name: str, p: Any, j: int = 0) -> np.ndarray:
        """Bernoulli(p) draws as bool."""
        return self.u(name, j) < np.clip(p, 0.0, 1.0)

    def pois(self, name: str, mean: Any, j: int = 0) -> np.ndarray:
        """Poisson(mean) counts: inverse CDF below 15, normal approximation above."""
        m = np.broadcast_to(np.maximum(np.asarray(mean, dtype=np.float64), 0.0), (self.n,))
        u = self.u(name, 2 * j)
        out = np.zeros(self.n)
        small = m < 15.0
        idx = np.nonzero(small)[0]
        p = np.exp(-m[idx])
        cdf = p.copy()
        k = 0
        while idx.size and k < 200:
            go = u[idx] > cdf
            idx, p, cdf = idx[go], p[go], cdf[go]
            out[idx] += 1.0
            k += 1
            p = p * m[idx] / k
            cdf = cdf + p
        big = ~small
        if big.any():
            zz = self.z(name, j + 1_000_000)[big]
            out[big] = np.maximum(np.round(m[big] + np.sqrt(m[big]) * zz), 0.0)
        return out

    def region_u(self, name: str) -> np.ndarray:
        """One uniform per region (the same for everyone living there)."""
        n_regions = len(self.sc.population.regions)
        codes = np.arange(n_regions, dtype=np.uint64)
        per = (_hash(self.seed, name, codes) >> np.uint64(11)) * (1.0 / 2**53)
        return per[self.region]

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
        bits = _hash(self.seed, name, self.u64)
        if pool is not None:
            pick = (bits >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)
            bits = _hash(self.seed, name + "#pool", np.floor(pick * pool).astype(np.uint64))
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


# ---- the procedural catalog ----------------------------------------------------------

_PROC: list[tuple[Attribute, Gen]] = []
_LATENT: dict[str, Gen] = {}


def _add(name: str, dtype: Any, description: str, fn: Gen) -> None:
    """Register one procedural attribute (its category is the first part of its name)."""
    _PROC.append((Attribute(name, name.split(".")[0], "procedural", dtype, description), fn))


def _latent(name: str, fn: Gen) -> None:
    """Register an internal latent trait (not a data point; used by several)."""
    _LATENT[name] = fn


def _money(x: np.ndarray) -> np.ndarray:
    """Amounts in CNY, to the fen."""
    return np.round(np.maximum(x, 0.0), 2)


def _null(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Float copy of `x` with NaN (null) where `keep` is False."""
    return np.where(keep, np.asarray(x, dtype=np.float64), np.nan)


def _nested(
    names: Sequence[str],
    dtype: Any,
    what: str,
    daily: Callable[[_Ctx], np.ndarray],
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
            c: _Ctx, name: str = name, prev: str | None = prev, w: int = w, prev_w: int = prev_w
        ) -> np.ndarray:
            mean = daily(c) * (w - prev_w)
            if kind == "count":
                inc = c.pois(name, mean)
            else:
                inc = _money(mean * c.ln(name, 0.35))
            return inc + (c.get(prev) if prev is not None else 0.0)

        _add(name, dtype, f"{what}, last {w} days", gen)
        prev, prev_w = name, w


# latent traits: pure functions of (seed, id), shared by many attributes
_latent("_ability", lambda c: c.z("_ability"))
_latent("_sociability", lambda c: c.z("_sociability"))
_latent("_mobility", lambda c: c.ln("_mobility", 0.5))
_latent(
    "_tech",
    lambda c: (
        np.clip(1.6 - 0.018 * np.maximum(c.age - 20, 0) + 0.3 * c.z("_tech"), 0.05, 2.5)
        * (c.age >= 8)
    ),
)
_latent("_thrift", lambda c: c.ln("_thrift", 0.4))
_latent("_female", lambda c: c.u("_female") < 0.49)
_latent("_wealth", lambda c: c.ln("_wealth", 0.6))

# ---- identity ------------------------------------------------------------------------


def _check_letter(c: _Ctx) -> np.ndarray:
    """A check character per id (synthetic, not a real checksum scheme)."""
    bits = (_hash(c.seed, "identity.check", c.u64) % np.uint64(26)).astype(np.int64)
    return np.array([chr(65 + b) for b in bits.tolist()], dtype=object)


_add(
    "identity.synthetic_id",
    STR,
    "synthetic citizen identifier (SYN-id-check)",
    lambda c: np.array(
        [
            f"SYN-{i:010d}-{k}"
            for i, k in zip(c.ids.tolist(), _check_letter(c).tolist(), strict=True)
        ],
        dtype=object,
    ),
)
_add(
    "identity.handle",
    STR,
    "synthetic handle used across registries",
    lambda c: c.code("H", "identity.handle", 10),
)
_add("identity.age_years", I32, "age in years (population demographics)", lambda c: c.age)
_add(
    "identity.birth_month",
    I32,
    "month of birth",
    lambda c: 1 + np.floor(c.u("identity.birth_month") * 12),
)
_add(
    "identity.birth_year",
    I32,
    f"year of birth (age on 30 June {SIM_YEAR})",
    lambda c: SIM_YEAR - c.age - (c.get("identity.birth_month") > 6),
)
_add(
    "identity.sex",
    STR,
    "registered sex (F/M)",
    lambda c: np.where(c.get("_female"), "F", "M").astype(object),
)
_add(
    "identity.group",
    STR,
    "demographic group (scenario's population.groups)",
    lambda c: np.array(list(c.sc.population.groups), dtype=object)[c.group],
)
_add(
    "identity.region",
    STR,
    "region of residence (scenario's population.regions)",
    lambda c: np.array(list(c.sc.population.regions), dtype=object)[c.region],
)
_add("identity.group_code", I32, "group code", lambda c: c.group)
_add("identity.region_code", I32, "region code", lambda c: c.region)
_add(
    "identity.registration_type",
    STR,
    "household registration: urban or rural",
    lambda c: np.where(
        np.where(
            c.get("household.urban_residence"),
            c.u("identity.registration_type") < 0.75,
            c.u("identity.registration_type") < 0.05,
        ),
        "urban",
        "rural",
    ).astype(object),
)
_add(
    "identity.registered_in_residence_region",
    BOOL,
    "registered where they live (false: internal migrant)",
    lambda c: c.bern("identity.registered_in_residence_region", 0.85),
)
_add(
    "identity.years_at_current_address",
    I32,
    "years at the current address",
    lambda c: np.minimum(
        c.age, np.floor(-np.log1p(-c.u("identity.years_at")) * 8 / c.get("_mobility"))
    ),
)
_add(
    "identity.address_changes_10y",
    I32,
    "address changes in the last 10 years",
    lambda c: c.pois("identity.address_changes_10y", 0.8 * c.get("_mobility")),
)
_add(
    "identity.phone_numbers_registered",
    I32,
    "mobile numbers registered to the id",
    lambda c: (c.age >= 10) * (1 + c.pois("identity.phone_numbers", 0.3)),
)
_add(
    "identity.sim_cards_registered",
    I32,
    "SIM cards registered to the id",
    lambda c: (
        c.get("identity.phone_numbers_registered")
        + (c.age >= 10) * c.pois("identity.sim_cards", 0.4)
    ),
)
_add(
    "identity.email_addresses_registered",
    I32,
    "e-mail addresses linked to the id",
    lambda c: c.pois("identity.email", 1.2 * c.get("_tech")),
)
_add(
    "identity.registry_photos_held",
    I32,
    "photos of the citizen held by registries",
    lambda c: c.pois("identity.photos", 2 + c.age / 8),
)
for _bio, _p in (
    ("face_template", 0.97),
    ("fingerprints", 0.9),
    ("voiceprint", 0.2),
    ("iris", 0.05),
    ("gait_profile", 0.1),
    ("dna_profile", 0.03),
):
    _add(
        f"identity.biometric.{_bio}_enrolled",
        BOOL,
        f"{_bio.replace('_', ' ')} enrolled",
        lambda c, b=_bio, p=_p: c.bern(
            f"identity.biometric.{b}",
            p * np.where(c.age >= 16, 1.0, 0.5) * (1 + 0.3 * (c.prop > 2) * (b == "dna_profile")),
        ),
    )
_DOCS = {  # document: (minimum age, base share holding it, validity years)
    "id_card": (16, 0.99, 20),
    "passport": (0, 0.2, 10),
    "driving_licence": (18, 0.5, 10),
    "residence_permit": (16, 0.12, 5),
    "social_security_card": (0, 0.9, 10),
    "health_insurance_card": (0, 0.95, 10),
    "student_card": (6, 0.0, 4),
    "senior_card": (60, 0.8, 10),
    "professional_licence": (22, 0.15, 5),
    "hunting_fishing_permit": (18, 0.03, 3),
}
for _d, (_amin, _share, _valid) in _DOCS.items():

    def _held(c: _Ctx, d: str = _d, amin: int = _amin, share: float = _share) -> np.ndarray:
        if d == "student_card":
            return np.asarray(c.get("education.currently_enrolled"), dtype=bool)
        p = np.full(c.n, share)
        if d == "passport":
            p = (
                0.08
                + 0.25 * c.get("household.urban_residence")
                + 0.1 * (c.get("education.years_of_schooling") >= 16)
            )
        if d == "residence_permit":
            p = np.where(c.get("identity.registered_in_residence_region"), 0.0, 0.9)
        return (c.age >= amin) & c.bern(f"identity.document.{d}.held", p)

    _add(f"identity.document.{_d}.held", BOOL, f"holds a {_d.replace('_', ' ')}", _held)
    _add(
        f"identity.document.{_d}.issue_year",
        I32,
        f"year the {_d.replace('_', ' ')} was issued",
        lambda c, d=_d, v=_valid: _null(
            SIM_YEAR - np.floor(c.u(f"identity.document.{d}.issue") * np.minimum(v, c.age + 1)),
            c.get(f"identity.document.{d}.held"),
        ),
    )
    _add(
        f"identity.document.{_d}.expiry_year",
        I32,
        f"year the {_d.replace('_', ' ')} expires",
        lambda c, d=_d, v=_valid: c.get(f"identity.document.{d}.issue_year") + v,
    )

# ---- household -----------------------------------------------------------------------

_add(
    "household.urban_residence",
    BOOL,
    "lives in an urban area",
    lambda c: c.u("household.urban") < 0.35 + 0.45 * c.region_u("region.urban_share"),
)
_add("household.marital_status", STR, "single, married, divorced or widowed", lambda c: _marital(c))


def _marital(c: _Ctx) -> np.ndarray:
    """Marital status by age."""
    u = c.u("household.marital_status")
    married = 1.0 / (1.0 + np.exp(-(c.age - 27.0) / 3.0)) * 0.85
    divorced = married + np.where(c.age >= 25, 0.05 + 0.02 * (c.prop > 1.5), 0.0)
    widowed = divorced + np.clip((c.age - 60.0) / 80.0, 0.0, 0.4)
    out = np.full(c.n, "single", dtype=object)
    out[u < widowed] = "widowed"
    out[u < divorced] = "divorced"
    out[u < married] = "married"
    out[c.age < 20] = "single"
    return out


_add(
    "household.children",
    I32,
    "children of the citizen",
    lambda c: np.where(
        c.age >= 20,
        c.pois(
            "household.children",
            np.clip((c.age - 20) / 12, 0, 1)
            * np.where(c.get("household.marital_status") == "single", 0.15, 1.3),
        ),
        0,
    ),
)
_add(
    "household.size",
    I32,
    "people in the registered household",
    lambda c: np.clip(
        np.where(
            c.age < 18,
            2 + c.pois("household.size", 1.5),
            1
            + (c.get("household.marital_status") == "married")
            + np.minimum(c.get("household.children"), 3) * (c.age < 50)
            + c.pois("household.size", 0.4),
        ),
        1,
        9,
    ),
)
_add(
    "household.members_under_18",
    I32,
    "household members under 18",
    lambda c: np.where(
        c.age < 18,
        1 + c.pois("household.u18", 0.4),
        np.minimum(c.get("household.children"), c.get("household.size") - 1) * (c.age < 55),
    ),
)
_add(
    "household.members_over_65",
    I32,
    "household members over 65",
    lambda c: np.minimum((c.age >= 65) + c.pois("household.o65", 0.25), c.get("household.size")),
)
_add(
    "household.home_owned",
    BOOL,
    "the household owns its home",
    lambda c: c.bern(
        "household.home_owned",
        np.where(
            c.child,
            0.7,
            0.2 + 0.5 * np.clip((c.age - 22) / 25, 0, 1) + 0.1 * (c.get("_wealth") > 1.2),
        ),
    ),
)
_add(
    "household.dwelling_area_m2",
    F64,
    "floor area of the dwelling (m2)",
    lambda c: np.round(
        28
        * c.get("household.size") ** 0.7
        * np.where(c.get("household.urban_residence"), 1.0, 1.4)
        * c.ln("household.area", 0.3),
        1,
    ),
)
_add(
    "household.rooms",
    I32,
    "rooms in the dwelling",
    lambda c: np.maximum(
        1, np.round(c.get("household.dwelling_area_m2") / 22 + 0.5 * c.z("household.rooms"))
    ),
)
_add(
    "household.building_age_years",
    I32,
    "age of the building",
    lambda c: np.floor(c.u("household.building_age") * 45),
)
_add(
    "household.floor_number",
    I32,
    "floor of the dwelling",
    lambda c: np.where(
        c.get("household.urban_residence"), 1 + np.floor(c.u("household.floor") ** 2 * 32), 1
    ),
)
_add(
    "household.property_value_cny",
    F64,
    "assessed value of the owned home (null: rents)",
    lambda c: _null(
        _money(
            c.get("household.dwelling_area_m2")
            * np.where(c.get("household.urban_residence"), 21000, 4500)
            * c.ln("household.value", 0.4)
        ),
        c.get("household.home_owned"),
    ),
)
_add(
    "household.monthly_rent_cny",
    F64,
    "monthly rent (0 when owned)",
    lambda c: np.where(
        c.get("household.home_owned"),
        0.0,
        _money(
            c.get("household.dwelling_area_m2")
            * np.where(c.get("household.urban_residence"), 65, 15)
            * c.ln("household.rent", 0.3)
        ),
    ),
)
_add(
    "household.vehicles_registered",
    I32,
    "vehicles registered to the household",
    lambda c: c.pois("household.vehicles", 0.5 * c.get("_wealth")),
)
_add(
    "household.pets_registered",
    I32,
    "pets registered to the household",
    lambda c: c.pois("household.pets", 0.3),
)
_add(
    "household.registered_members",
    I32,
    "members on the household register",
    lambda c: c.get("household.size") + c.pois("household.registered", 0.2),
)
_add(
    "household.grid_cell_code",
    STR,
    "synthetic residential grid cell",
    lambda c: c.code("GRID", "household.grid", 6, pool=5000),
)
_UTIL = {  # utility: (mean monthly bill CNY, seasonal amplitude, share holding an account)
    "electricity": (160.0, 0.35, 0.98),
    "water": (45.0, 0.1, 0.98),
    "gas": (70.0, 0.5, 0.7),
    "heating": (110.0, 1.0, 0.45),
    "internet": (80.0, 0.0, 0.85),
    "mobile": (60.0, 0.0, 0.95),
}
for _ut, (_bill, _amp, _hold) in _UTIL.items():
    _add(
        f"household.utility.{_ut}.account_held",
        BOOL,
        f"{_ut} account held",
        lambda c, ut=_ut, h=_hold: c.bern(f"household.utility.{ut}.account", h),
    )
    _latent(
        f"_util.{_ut}",
        lambda c, ut=_ut, b=_bill: (
            b
            * c.get("household.size") ** 0.5
            * c.ln(f"_util.{ut}", 0.3)
            * c.get(f"household.utility.{ut}.account_held")
        ),
    )
    for _mi, _m in enumerate(MONTHS):
        _season = 1.0 + _amp * math.cos(2 * math.pi * _mi / 12)
        _add(
            f"household.utility.{_ut}.bill_cny_{_m}",
            F64,
            f"{_ut} bill, month {_mi + 1}",
            lambda c, ut=_ut, m=_m, s=_season: _money(
                c.get(f"_util.{ut}") * max(s, 0.0) * c.ln(f"household.utility.{ut}.{m}", 0.15)
            ),
        )
    _add(
        f"household.utility.{_ut}.late_payments_12m",
        I32,
        f"late {_ut} payments, 12 months",
        lambda c, ut=_ut: (
            c.get(f"household.utility.{ut}.account_held")
            * c.pois(f"household.utility.{ut}.late", 0.12 * c.prop)
        ),
    )

# ---- education -----------------------------------------------------------------------


def _planned_years(c: _Ctx) -> np.ndarray:
    """Years of schooling a citizen completes over their life."""
    urban = c.get("household.urban_residence")
    years = (
        10.5
        + 3.0 * c.get("_ability")
        + 2.0 * urban
        - 0.07 * np.maximum(c.age - 35, 0)
        - 0.4 * (c.prop - 1.0)
    )
    return np.clip(np.round(years), 0, 22)


_latent("_planned_years", _planned_years)
_add(
    "education.years_of_schooling",
    I32,
    "years of schooling completed",
    lambda c: np.minimum(c.get("_planned_years"), np.maximum(c.age - 6, 0)),
)
_add(
    "education.currently_enrolled",
    BOOL,
    "enrolled in education now",
    lambda c: (c.age >= 6) & (c.age - 6 < c.get("_planned_years")) & (c.age < 30),
)
_LEVELS = (
    (0, "none"),
    (1, "primary_incomplete"),
    (6, "primary"),
    (9, "junior_secondary"),
    (12, "senior_secondary"),
    (15, "associate"),
    (16, "bachelor"),
    (18, "master"),
    (21, "doctorate"),
)
_add(
    "education.highest_level",
    STR,
    "highest level completed",
    lambda c: np.array([lv for _, lv in _LEVELS], dtype=object)[
        np.searchsorted(
            [y for y, _ in _LEVELS], c.get("education.years_of_schooling"), side="right"
        )
        - 1
    ],
)
_add(
    "education.school_code",
    STR,
    "synthetic code of the last school attended",
    lambda c: c.code(
        "SCH", "education.school", 5, c.get("education.years_of_schooling") > 0, pool=800
    ),
)
_add(
    "education.graduation_year",
    I32,
    "year of leaving education (null: enrolled/never)",
    lambda c: _null(
        SIM_YEAR - c.age + 6 + c.get("education.years_of_schooling"),
        ~c.get("education.currently_enrolled") & (c.get("education.years_of_schooling") > 0),
    ),
)
_add(
    "education.entrance_exam_score",
    I32,
    "university entrance exam score (0-750)",
    lambda c: _null(
        np.clip(np.round(460 + 85 * c.get("_ability") + 40 * c.z("education.exam")), 0, 750),
        (c.get("education.years_of_schooling") >= 12),
    ),
)
_SUBJECTS = (
    "chinese",
    "mathematics",
    "english",
    "physics",
    "chemistry",
    "biology",
    "history",
    "geography",
    "politics",
    "physical_education",
    "music",
    "art",
)
for _s in _SUBJECTS:
    _add(
        f"education.grade.{_s}",
        F64,
        f"last recorded grade in {_s.replace('_', ' ')} (0-100)",
        lambda c, s=_s: _null(
            np.round(
                np.clip(72 + 9 * c.get("_ability") + 7 * c.z(f"education.grade.{s}"), 0, 100), 1
            ),
            c.get("education.years_of_schooling") >= 3,
        ),
    )
_add(
    "education.attendance_rate",
    F64,
    "school attendance rate",
    lambda c: _null(
        np.round(np.clip(0.985 - 0.02 * c.prop * c.u("education.attend"), 0, 1), 3),
        c.get("education.years_of_schooling") > 0,
    ),
)
_add(
    "education.disciplinary_records",
    I32,
    "school disciplinary records",
    lambda c: (
        (c.get("education.years_of_schooling") > 0) * c.pois("education.discipline", 0.25 * c.prop)
    ),
)
_add(
    "education.class_rank_percentile",
    I32,
    "last class rank percentile",
    lambda c: _null(
        np.clip(np.round(50 + 28 * c.get("_ability")), 1, 99),
        c.get("education.years_of_schooling") > 0,
    ),
)
_add(
    "education.scholarships_received",
    I32,
    "scholarships received",
    lambda c: (
        c.pois("education.scholarships", 0.3 * np.exp(c.get("_ability")))
        * (c.get("education.years_of_schooling") >= 9)
    ),
)
_add(
    "education.student_loan_taken",
    BOOL,
    "took a student loan",
    lambda c: (
        (c.get("_planned_years") >= 15) & (c.age >= 18) & c.bern("education.student_loan", 0.2)
    ),
)
_add(
    "education.boarding_school",
    BOOL,
    "attended a boarding school",
    lambda c: (
        c.bern("education.boarding", np.where(c.get("household.urban_residence"), 0.1, 0.35))
        & (c.age >= 10)
    ),
)
_add(
    "education.online_courses_completed_12m",
    I32,
    "online courses completed, 12 months",
    lambda c: c.pois("education.online_courses", 0.5 * c.get("_tech")),
)
_add(
    "education.library_loans_12m",
    I32,
    "library loans, 12 months",
    lambda c: c.pois("education.library", 3.0 * np.exp(0.5 * c.get("_ability")) * (c.age >= 6)),
)
_CERTS = (
    "computer_level_1",
    "computer_level_2",
    "english_band_4",
    "english_band_6",
    "accounting",
    "teaching",
    "nursing",
    "electrician",
    "welding",
    "cooking",
    "tour_guide",
    "legal_qualification",
    "medical_licence",
    "securities",
    "driving_instructor",
)
for _ci, _ct in enumerate(_CERTS):
    _add(
        f"education.certificate.{_ct}",
        BOOL,
        f"holds the {_ct.replace('_', ' ')} certificate",
        lambda c, ct=_ct, ci=_ci: (
            (c.age >= 16)
            & c.bern(
                f"education.certificate.{ct}",
                (0.02 + 0.25 * (ci < 4))
                * np.clip((c.get("education.years_of_schooling") - 8) / 8, 0, 1.5),
            )
        ),
    )

# ---- employment ----------------------------------------------------------------------

_STATUS = ("child", "student", "employee", "self_employed", "unemployed", "retired", "carer")


def _status(c: _Ctx) -> np.ndarray:
    """Employment status, consistent with age and enrolment."""
    u = c.u("employment.status")
    enrolled = c.get("education.currently_enrolled")
    p_unemp = np.clip(0.04 + 0.03 * (c.prop - 1.0) - 0.01 * c.get("_ability"), 0.01, 0.3)
    out = np.where(
        u < p_unemp,
        4,
        np.where(
            u < p_unemp + 0.04,
            6,
            np.where(u < p_unemp + 0.04 + 0.14 + 0.04 * c.get("_mobility"), 3, 2),
        ),
    )
    retire_age = np.where(c.get("_female"), 55, 60)
    out = np.where(c.age >= retire_age, 5, out)
    out = np.where(enrolled, 1, out)
    out = np.where(c.child & ~enrolled, 0, out)
    out = np.where(c.age < 6, 0, out)
    out = np.where((c.age < 16) & enrolled, 1, out)
    return out


_latent("_status", _status)
_add(
    "employment.status",
    STR,
    "child, student, employee, self_employed, unemployed, retired or carer",
    lambda c: np.array(_STATUS, dtype=object)[c.get("_status")],
)
_add(
    "employment.employed",
    BOOL,
    "in paid work (employee or self-employed)",
    lambda c: np.isin(c.get("_status"), (2, 3)) & (c.age >= 16),
)
_add(
    "employment.employer_code",
    STR,
    "synthetic employer code (null: not employed)",
    lambda c: c.code("EMP", "employment.employer", 6, c.get("employment.employed"), pool=20000),
)
_SECTORS = (
    "agriculture",
    "mining",
    "manufacturing",
    "utilities",
    "construction",
    "retail",
    "transport",
    "hospitality",
    "information",
    "finance",
    "real_estate",
    "professional",
    "administration",
    "public_sector",
    "education",
    "health",
    "culture",
    "household_services",
    "logistics",
    "other",
)
_latent("_sector", lambda c: np.floor(c.u("employment.sector") * len(_SECTORS)).astype(np.int64))
_add(
    "employment.sector",
    STR,
    "sector of the employer (null: not employed)",
    lambda c: np.where(
        c.get("employment.employed"), np.array(_SECTORS, dtype=object)[c.get("_sector")], None
    ),
)
_add(
    "employment.occupation_code",
    STR,
    "synthetic occupation code (null: not employed)",
    lambda c: c.code("OCC", "employment.occupation", 3, c.get("employment.employed"), pool=400),
)
_add(
    "employment.public_sector",
    BOOL,
    "employed in the public sector",
    lambda c: (
        c.get("employment.employed")
        & np.isin(
            c.get("_sector"),
            [_SECTORS.index(x) for x in ("public_sector", "education", "health", "administration")],
        )
    ),
)
_add(
    "employment.manager",
    BOOL,
    "manages other staff",
    lambda c: (
        c.get("employment.employed") & c.bern("employment.manager", 0.1 + 0.05 * c.get("_ability"))
    ),
)
_add(
    "employment.tenure_years",
    F64,
    "years with the current employer",
    lambda c: np.where(
        c.get("employment.employed"),
        np.round(np.minimum(c.age - 16, -np.log1p(-c.u("employment.tenure")) * 6), 1),
        0.0,
    ),
)
_add(
    "employment.weekly_hours",
    F64,
    "usual weekly hours",
    lambda c: np.where(
        c.get("employment.employed"),
        np.round(np.clip(44 + 6 * c.z("employment.hours"), 10, 84)),
        0.0,
    ),
)
_add(
    "employment.overtime_hours_month",
    F64,
    "overtime hours a month",
    lambda c: np.where(
        c.get("employment.employed"),
        np.round(
            np.maximum(0, c.get("employment.weekly_hours") - 40) * 4.3 * c.ln("employment.ot", 0.3),
            1,
        ),
        0.0,
    ),
)
_add(
    "employment.employers_10y",
    I32,
    "employers in the last 10 years",
    lambda c: (
        (c.age >= 18)
        * c.pois("employment.employers", np.minimum(c.age - 17, 10) * 0.15 * c.get("_mobility"))
    ),
)
_add(
    "employment.unemployment_spells_10y",
    I32,
    "spells of unemployment, 10 years",
    lambda c: (c.age >= 18) * c.pois("employment.spells", 0.3 * c.prop),
)
_add(
    "employment.union_member",
    BOOL,
    "trade union member",
    lambda c: c.get("employment.employed") & c.bern("employment.union", 0.3),
)
_add(
    "employment.social_insurance_months",
    I32,
    "months of social insurance contributions",
    lambda c: np.floor(
        np.maximum(np.minimum(c.age, 60) - 20, 0)
        * 12
        * np.clip(0.7 + 0.1 * c.z("employment.si"), 0, 1)
    ),
)
_add(
    "employment.performance_rating",
    I32,
    "last performance rating, 1-5 (employees)",
    lambda c: _null(
        np.clip(np.round(3.2 + 0.6 * c.get("_ability") + 0.5 * c.z("employment.rating")), 1, 5),
        c.get("_status") == 2,
    ),
)
_add(
    "employment.sick_days_12m",
    I32,
    "sick days, 12 months",
    lambda c: c.get("employment.employed") * c.pois("employment.sick", 4 + c.age / 20),
)
_add(
    "employment.remote_days_month",
    I32,
    "days worked remotely a month",
    lambda c: (
        c.get("employment.employed")
        * np.minimum(c.pois("employment.remote", 1.5 * c.get("_tech")), 22)
    ),
)
_add(
    "employment.badge_entries_30d",
    I32,
    "workplace badge entries, 30 days",
    lambda c: c.get("employment.employed") * c.pois("employment.badge", 21),
)
_add(
    "employment.work_region_code",
    I32,
    "region of the workplace (null: not employed)",
    lambda c: _null(
        np.where(
            c.bern("employment.commuter", 0.08),
            np.floor(c.u("employment.work_region") * len(c.sc.population.regions)),
            c.region,
        ),
        c.get("employment.employed"),
    ),
)
_add(
    "employment.retirement_year",
    I32,
    "year of retirement (null: not retired)",
    lambda c: _null(SIM_YEAR - (c.age - np.where(c.get("_female"), 55, 60)), c.get("_status") == 5),
)


def _income(c: _Ctx) -> np.ndarray:
    """Monthly income: education and age drive wages; pensions, benefits, pocket money."""
    status = c.get("_status")
    years = c.get("education.years_of_schooling")
    urban = c.get("household.urban_residence")
    curve = np.exp(-(((c.age - 45.0) / 22.0) ** 2))
    wage = (
        3200.0
        * np.exp(0.1 * (years - 9))
        * (0.6 + 0.55 * curve)
        * np.where(urban, 1.45, 0.85)
        * c.ln("finance.income", 0.45)
    )
    self_emp = wage * c.ln("finance.income.self", 0.6) * 1.1
    pension = np.where(urban, 3400.0, 900.0) * c.ln("finance.pension", 0.3)
    out = np.select(
        [status == 2, status == 3, status == 5, status == 4, status == 6],
        [wage, self_emp, pension, 900.0 * c.u("finance.benefit"), 300.0 * c.u("finance.benefit")],
        0.0,
    )
    return _money(out)


_add("finance.monthly_income_cny", F64, "usual monthly income (wage, pension or benefit)", _income)
for _mi, _m in enumerate(MONTHS):
    _add(
        f"employment.salary_cny_{_m}",
        F64,
        f"salary paid, month {_mi + 1}",
        lambda c, m=_m, last=_mi == 11: _money(
            c.get("employment.employed")
            * c.get("finance.monthly_income_cny")
            * c.ln(f"employment.salary.{m}", 0.08)
            * (1.8 if last else 1.0)
        ),
    )
_add(
    "employment.pension_contribution_cny_month",
    F64,
    "pension contribution a month",
    lambda c: _money(0.08 * c.get("finance.monthly_income_cny") * (c.get("_status") == 2)),
)
_add(
    "employment.housing_fund_cny_month",
    F64,
    "housing fund contribution a month",
    lambda c: _money(
        0.07
        * c.get("finance.monthly_income_cny")
        * (c.get("_status") == 2)
        * c.get("household.urban_residence")
    ),
)

# ---- finance -------------------------------------------------------------------------

_add(
    "finance.annual_income_cny",
    F64,
    "income over the last 12 months",
    lambda c: _money(
        np.where(
            c.get("employment.employed"),
            sum(c.get(f"employment.salary_cny_{m}") for m in MONTHS),
            12 * c.get("finance.monthly_income_cny"),
        )
    ),
)
_add(
    "finance.savings_cny",
    F64,
    "savings across accounts",
    lambda c: _money(
        c.get("finance.monthly_income_cny")
        * 6
        * c.get("_wealth")
        * c.get("_thrift")
        / np.sqrt(c.prop + 0.2)
        + 200 * c.child * c.u("finance.savings")
    ),
)
_add(
    "finance.bank_accounts",
    I32,
    "bank accounts held",
    lambda c: (c.age >= 8) * (1 + c.pois("finance.accounts", 1.2 * (c.age >= 18))),
)
_add(
    "finance.bank_credit_rating",
    I32,
    "bank credit bureau rating (300-850)",
    lambda c: _null(
        np.clip(
            np.round(640 + 45 * c.get("_ability") - 55 * (c.prop - 1) + 40 * c.z("finance.rating")),
            300,
            850,
        ),
        c.adult,
    ),
)
_add(
    "finance.credit_cards",
    I32,
    "credit cards held",
    lambda c: c.adult * c.pois("finance.cards", 1.4 * (c.get("finance.monthly_income_cny") > 2500)),
)
_add(
    "finance.credit_limit_cny",
    F64,
    "total credit card limit",
    lambda c: _money(
        c.get("finance.credit_cards")
        * 2.5
        * c.get("finance.monthly_income_cny")
        * c.ln("finance.limit", 0.3)
    ),
)
_add(
    "finance.card_utilisation",
    F64,
    "share of the credit limit used",
    lambda c: np.where(
        c.get("finance.credit_cards") > 0,
        np.round(np.clip(0.25 * c.prop**0.5 * c.ln("finance.util", 0.6), 0, 1.2), 3),
        0.0,
    ),
)
_LOANS = {  # loan: (minimum age, base share holding it, size in months of income)
    "mortgage": (23, 0.3, 90.0),
    "car": (20, 0.15, 10.0),
    "consumer": (18, 0.2, 3.0),
    "student": (18, 0.0, 6.0),
    "business": (22, 0.06, 30.0),
    "online_p2p": (18, 0.05, 2.0),
    "microloan": (18, 0.06, 1.0),
    "card_instalment": (18, 0.15, 1.5),
}
for _l, (_amin, _share, _size) in _LOANS.items():

    def _loan_held(c: _Ctx, lo: str = _l, amin: int = _amin, share: float = _share) -> np.ndarray:
        if lo == "student":
            p = c.get("education.student_loan_taken") * np.where(c.age < 32, 0.9, 0.1)
        else:
            load = c.prop ** (0.6 if lo in ("online_p2p", "microloan", "consumer") else 0.0)
            p = share * load
            if lo == "mortgage":
                p = p * (1 + c.get("household.home_owned")) * (c.age < 65)
            if lo == "business":
                p = np.where(c.get("_status") == 3, 0.5, share * 0.2)
        return (c.age >= amin) & c.bern(f"finance.loan.{lo}.held", p)

    _add(f"finance.loan.{_l}.held", BOOL, f"has a {_l.replace('_', ' ')} loan", _loan_held)
    _add(
        f"finance.loan.{_l}.outstanding_cny",
        F64,
        f"{_l.replace('_', ' ')} loan outstanding",
        lambda c, lo=_l, s=_size: _money(
            c.get(f"finance.loan.{lo}.held")
            * s
            * np.maximum(c.get("finance.monthly_income_cny"), 1500)
            * c.ln(f"finance.loan.{lo}.out", 0.5)
        ),
    )
    _add(
        f"finance.loan.{_l}.monthly_payment_cny",
        F64,
        f"{_l.replace('_', ' ')} loan monthly payment",
        lambda c, lo=_l, s=_size: _money(
            c.get(f"finance.loan.{lo}.outstanding_cny") / max(s, 1.0) * 0.6
        ),
    )
    _add(
        f"finance.loan.{_l}.missed_payments_12m",
        I32,
        f"missed {_l.replace('_', ' ')} payments, 12 months",
        lambda c, lo=_l: (
            c.get(f"finance.loan.{lo}.held")
            * c.pois(f"finance.loan.{lo}.missed", 0.15 * c.prop**1.3)
        ),
    )
_add(
    "finance.total_debt_cny",
    F64,
    "all loans outstanding",
    lambda c: _money(sum(c.get(f"finance.loan.{lo}.outstanding_cny") for lo in _LOANS)),
)
_add(
    "finance.debt_to_income",
    F64,
    "total debt / annual income",
    lambda c: np.round(
        c.get("finance.total_debt_cny") / np.maximum(c.get("finance.annual_income_cny"), 1000.0), 3
    ),
)
_add(
    "finance.collections_accounts",
    I32,
    "debts passed to collection agencies",
    lambda c: c.adult * c.pois("finance.collections", 0.05 * c.prop**1.5),
)
_add(
    "finance.guarantor_for_others",
    I32,
    "loans the citizen guarantees",
    lambda c: c.adult * c.pois("finance.guarantor", 0.1),
)
_add(
    "finance.bankruptcy_filed",
    BOOL,
    "personal bankruptcy filed",
    lambda c: c.adult & c.bern("finance.bankruptcy", 0.002 * c.prop**1.5),
)
_add(
    "finance.credit_inquiries_6m",
    I32,
    "credit inquiries, 6 months",
    lambda c: c.adult * c.pois("finance.inquiries", 0.6 * c.prop**0.7),
)
_add(
    "finance.overdraft_events_12m",
    I32,
    "overdraft events, 12 months",
    lambda c: c.adult * c.pois("finance.overdraft", 0.4 * c.prop / c.get("_thrift")),
)
_add(
    "finance.tax_paid_cny_12m",
    F64,
    "income tax paid, 12 months",
    lambda c: _money(np.maximum(c.get("finance.annual_income_cny") - 60000, 0) * 0.1),
)
_add(
    "finance.tax_arrears_cny",
    F64,
    "tax owed past due",
    lambda c: _money(
        c.bern("finance.tax_arrears", 0.01 * c.prop)
        * c.get("finance.monthly_income_cny")
        * c.ln("finance.arrears", 0.8)
    ),
)
_add(
    "finance.large_cash_transactions_12m",
    I32,
    "cash transactions above the reporting threshold, 12 months",
    lambda c: c.adult * c.pois("finance.large_cash", 0.2 * c.get("_wealth") ** 2),
)
_add(
    "finance.foreign_currency_purchases_12m",
    I32,
    "foreign currency purchases, 12 months",
    lambda c: c.adult * c.pois("finance.fx", 0.3 * c.get("identity.document.passport.held")),
)
for _mi, _m in enumerate(MONTHS):
    _add(
        f"finance.account_balance_cny_{_m}",
        F64,
        f"main account balance, end of month {_mi + 1}",
        lambda c, m=_m: _money(
            0.2 * c.get("finance.savings_cny") * c.ln(f"finance.balance.{m}", 0.3)
        ),
    )
_INSURANCE = (
    "life",
    "health",
    "car",
    "home",
    "accident",
    "private_pension",
    "travel",
    "critical_illness",
)
for _ins in _INSURANCE:
    _add(
        f"finance.insurance.{_ins}",
        BOOL,
        f"holds {_ins.replace('_', ' ')} insurance",
        lambda c, ins=_ins: (
            c.adult
            & c.bern(
                f"finance.insurance.{ins}",
                0.1 + 0.25 * (c.get("finance.monthly_income_cny") > 6000),
            )
        ),
    )
_INVEST = ("equities", "mutual_funds", "bonds", "gold", "wealth_products", "fixed_deposits")
for _iv in _INVEST:
    _add(
        f"finance.investment.{_iv}_cny",
        F64,
        f"value held in {_iv.replace('_', ' ')}",
        lambda c, iv=_iv: _money(
            c.adult
            * c.bern(f"finance.investment.{iv}", 0.15 * c.get("_wealth"))
            * c.get("finance.savings_cny")
            * c.ln(f"finance.inv.{iv}", 0.8)
        ),
    )
_PAYMENTS = {  # payment channel: (transactions a day for an adult, CNY per transaction)
    "mobile_wallet_a": (2.0, 45.0),
    "mobile_wallet_b": (1.2, 50.0),
    "debit_card": (0.3, 180.0),
    "credit_card": (0.2, 260.0),
    "cash_withdrawal": (0.05, 400.0),
    "bank_transfer": (0.1, 1500.0),
    "merchant_qr": (0.8, 30.0),
    "utility_autopay": (0.2, 90.0),
    "cross_border": (0.005, 900.0),
    "payroll_in": (0.033, 0.0),
}
for _pc, (_rate, _ticket) in _PAYMENTS.items():

    def _pay_rate(c: _Ctx, pc: str = _pc, rate: float = _rate) -> np.ndarray:
        if pc == "payroll_in":
            return c.get("employment.employed") / 30.0
        if pc == "cross_border":
            return rate * c.get("identity.document.passport.held") * c.get("_wealth")
        tech = c.get("_tech") if pc.startswith(("mobile", "merchant")) else 1.0
        return rate * tech * np.where(c.adult, 1.0, 0.15) * (c.age >= 8)

    _nested(
        [f"finance.payment.{_pc}.count_{w}d" for w in WINDOWS],
        I32,
        f"{_pc.replace('_', ' ')} transactions",
        _pay_rate,
    )
    for _w in (30, 365):
        _add(
            f"finance.payment.{_pc}.amount_cny_{_w}d",
            F64,
            f"{_pc.replace('_', ' ')} amount, last {_w} days",
            lambda c, pc=_pc, t=_ticket, w=_w: _money(
                c.get(f"finance.payment.{pc}.count_{w}d")
                * np.where(pc == "payroll_in", c.get("finance.monthly_income_cny"), t)
                * c.ln(f"finance.payment.{pc}.amount_{w}", 0.2)
            ),
        )

# ---- legal ---------------------------------------------------------------------------

_add(
    "legal.civil_cases_plaintiff_10y",
    I32,
    "civil cases brought, 10 years",
    lambda c: c.adult * c.pois("legal.plaintiff", 0.08 * c.get("_wealth")),
)
_add(
    "legal.civil_cases_defendant_10y",
    I32,
    "civil cases defended, 10 years",
    lambda c: c.adult * c.pois("legal.defendant", 0.06 * c.prop**1.3),
)
_add(
    "legal.administrative_penalties_5y",
    I32,
    "administrative penalties, 5 years",
    lambda c: (c.age >= 14) * c.pois("legal.admin_penalties", 0.15 * c.prop),
)
_add(
    "legal.traffic_points_12m",
    I32,
    "driving licence points incurred, 12 months",
    lambda c: (
        c.get("identity.document.driving_licence.held")
        * np.minimum(12, 3 * c.pois("legal.traffic_points", 0.4 * c.prop))
    ),
)
_add(
    "legal.enforcement_orders_5y",
    I32,
    "court enforcement orders, 5 years",
    lambda c: c.adult * c.pois("legal.enforcement", 0.02 * c.prop**1.5),
)
_add(
    "legal.lawsuits_pending",
    I32,
    "lawsuits pending",
    lambda c: c.adult * c.pois("legal.pending", 0.03 * c.prop),
)
_add(
    "legal.notarised_documents_10y",
    I32,
    "notarised documents, 10 years",
    lambda c: c.adult * c.pois("legal.notary", 0.6 * c.get("_wealth")),
)
_add(
    "legal.contracts_registered_5y",
    I32,
    "contracts registered, 5 years",
    lambda c: c.adult * c.pois("legal.contracts", 1.0 + 2 * (c.get("_status") == 3)),
)
_add(
    "legal.police_contacts_12m",
    I32,
    "recorded police contacts, 12 months",
    lambda c: (c.age >= 12) * c.pois("legal.police", 0.2 * c.prop),
)
_add(
    "legal.petitions_filed_5y",
    I32,
    "petitions and complaints to authorities, 5 years",
    lambda c: c.adult * c.pois("legal.petitions", 0.05),
)
_add(
    "legal.mediation_cases_5y",
    I32,
    "mediation cases, 5 years",
    lambda c: c.adult * c.pois("legal.mediation", 0.1 * c.prop**0.5),
)
_add(
    "legal.witness_appearances_5y",
    I32,
    "appearances as a witness, 5 years",
    lambda c: c.adult * c.pois("legal.witness", 0.03),
)
_add(
    "legal.power_of_attorney_granted",
    BOOL,
    "has granted a power of attorney",
    lambda c: c.adult & c.bern("legal.attorney", 0.03 + 0.1 * (c.age > 70)),
)
_add(
    "legal.will_registered",
    BOOL,
    "has registered a will",
    lambda c: c.adult & c.bern("legal.will", np.clip((c.age - 40) / 200, 0, 0.3)),
)
_add(
    "legal.guardian_of_others",
    BOOL,
    "legal guardian of another person",
    lambda c: c.adult & c.bern("legal.guardian", 0.02),
)
_add(
    "legal.on_probation",
    BOOL,
    "on probation",
    lambda c: (c.age >= 16) & c.bern("legal.probation", 0.001 * c.prop**2),
)
for _yi in range(5):
    _yr = SIM_YEAR - 4 + _yi
    _add(
        f"legal.court_summons_{_yr}",
        I32,
        f"court summonses in {_yr}",
        lambda c, yr=_yr: (
            (c.age - (SIM_YEAR - yr) >= 18) * c.pois(f"legal.summons.{yr}", 0.02 * c.prop**1.3)
        ),
    )
_LICENCES = (
    "business",
    "food_service",
    "taxi",
    "construction",
    "import_export",
    "pharmacy",
    "hunting",
    "fishing_boat",
    "drone",
    "broadcasting",
    "private_security",
    "real_estate_agent",
    "tour_operator",
    "liquor_sales",
    "street_vending",
)
for _lc in _LICENCES:
    _add(
        f"legal.licence.{_lc}",
        BOOL,
        f"holds a {_lc.replace('_', ' ')} licence",
        lambda c, lc=_lc: (
            c.adult & c.bern(f"legal.licence.{lc}", np.where(c.get("_status") == 3, 0.12, 0.01))
        ),
    )

# ---- transport -----------------------------------------------------------------------

_MODES = {  # mode: (trips a day, urban-only?, CNY per trip, km per trip)
    "metro": (0.6, True, 4.0, 9.0),
    "bus": (0.5, False, 2.0, 6.0),
    "hsr": (0.01, False, 250.0, 450.0),
    "rail": (0.006, False, 120.0, 350.0),
    "domestic_flight": (0.003, False, 900.0, 1200.0),
    "international_flight": (0.0005, False, 3500.0, 4000.0),
    "taxi": (0.15, True, 28.0, 8.0),
    "bike_share": (0.2, True, 1.5, 2.5),
}
for _md, (_tr, _urb, _fare, _km) in _MODES.items():

    def _trip_rate(c: _Ctx, md: str = _md, tr: float = _tr, urb: bool = _urb) -> np.ndarray:
        rate = tr * c.get("_mobility") * np.where(c.age < 6, 0.2, 1.0)
        if urb:
            rate = rate * np.where(c.get("household.urban_residence"), 1.0, 0.1)
        if md.endswith("flight") or md in ("hsr", "taxi"):
            rate = rate * c.get("_wealth")
        if md == "international_flight":
            rate = rate * c.get("identity.document.passport.held")
        return rate

    _nested(
        [f"transport.{_md}_trips_{w}d" for w in WINDOWS],
        I32,
        f"{_md.replace('_', ' ')} trips",
        _trip_rate,
    )
    _add(
        f"transport.{_md}_spend_cny_365d",
        F64,
        f"{_md.replace('_', ' ')} fares, 365 days",
        lambda c, md=_md, f=_fare: _money(
            c.get(f"transport.{md}_trips_365d") * f * c.ln(f"transport.{md}.fare", 0.2)
        ),
    )
    _add(
        f"transport.{_md}_distance_km_365d",
        F64,
        f"{_md.replace('_', ' ')} distance, 365 days",
        lambda c, md=_md, k=_km: np.round(
            c.get(f"transport.{md}_trips_365d") * k * c.ln(f"transport.{md}.km", 0.3), 1
        ),
    )
_add(
    "transport.car_owned",
    BOOL,
    "owns a car",
    lambda c: (
        c.get("identity.document.driving_licence.held")
        & c.bern("transport.car", 0.25 + 0.35 * (c.get("finance.monthly_income_cny") > 6000))
    ),
)
_add(
    "transport.plate_code",
    STR,
    "synthetic number plate (null: no car)",
    lambda c: c.code("CAR", "transport.plate", 6, c.get("transport.car_owned")),
)
_add(
    "transport.car_km_12m",
    F64,
    "km driven, 12 months",
    lambda c: np.round(c.get("transport.car_owned") * 11000 * c.ln("transport.car_km", 0.5)),
)
_add(
    "transport.ev",
    BOOL,
    "the car is electric",
    lambda c: c.get("transport.car_owned") & c.bern("transport.ev", 0.3),
)
_add(
    "transport.ev_charging_sessions_12m",
    I32,
    "EV charging sessions, 12 months",
    lambda c: c.get("transport.ev") * c.pois("transport.charging", 90),
)
for _fam, _per_day in (
    ("toll_passes", 0.3),
    ("parking_sessions", 0.5),
    ("plate_camera_reads", 3.0),
):
    _nested(
        [f"transport.{_fam}_{w}d" for w in WINDOWS],
        I32,
        _fam.replace("_", " "),
        lambda c, r=_per_day: r * c.get("transport.car_owned") * c.get("_mobility"),
    )
_nested(
    [f"transport.cross_region_trips_{w}d" for w in WINDOWS],
    I32,
    "trips out of the region",
    lambda c: 0.02 * c.get("_mobility"),
)
_nested(
    [f"transport.security_checkpoints_{w}d" for w in WINDOWS],
    I32,
    "security checkpoint passes (stations, airports)",
    lambda c: (
        0.4
        * c.get("_mobility")
        * np.where(c.get("household.urban_residence"), 1, 0.3)
        * (c.age >= 6)
    ),
)
for _mi, _m in enumerate(MONTHS):
    _add(
        f"transport.fuel_spend_cny_{_m}",
        F64,
        f"fuel bought, month {_mi + 1}",
        lambda c, m=_m: _money(
            c.get("transport.car_owned")
            * ~c.get("transport.ev")
            * 0.08
            * c.get("transport.car_km_12m")
            * c.ln(f"transport.fuel.{m}", 0.25)
        ),
    )
_add(
    "transport.speeding_tickets_12m",
    I32,
    "speeding tickets, 12 months",
    lambda c: c.get("transport.car_owned") * c.pois("transport.speeding", 0.5 * c.prop),
)
_add(
    "transport.parking_tickets_12m",
    I32,
    "parking tickets, 12 months",
    lambda c: c.get("transport.car_owned") * c.pois("transport.parking_t", 0.6 * c.prop),
)
_add(
    "transport.home_work_km",
    F64,
    "home to workplace distance (null: not employed)",
    lambda c: _null(
        np.round(6 * c.ln("transport.commute_km", 0.7), 1), c.get("employment.employed")
    ),
)
_add(
    "transport.commute_minutes",
    F64,
    "usual one-way commute (null: not employed)",
    lambda c: np.round(
        8 + 3.5 * c.get("transport.home_work_km") * c.ln("transport.commute_min", 0.2)
    ),
)
_add(
    "transport.stations_visited_365d",
    I32,
    "distinct stations visited, 365 days",
    lambda c: np.minimum(
        c.get("transport.metro_trips_365d") + c.get("transport.bus_trips_365d"),
        c.pois("transport.stations", 30 * c.get("_mobility")),
    ),
)
_add(
    "transport.late_night_trips_30d",
    I32,
    "trips between midnight and 5 am, 30 days",
    lambda c: (c.age >= 14) * c.pois("transport.night", 0.8 * c.prop * c.get("_mobility")),
)
_add(
    "transport.transit_card_topups_30d",
    I32,
    "transit card top-ups, 30 days",
    lambda c: c.pois(
        "transport.topups",
        0.1 * (c.get("transport.metro_trips_30d") + c.get("transport.bus_trips_30d")),
    ),
)
_add(
    "transport.e_bike_registered",
    BOOL,
    "has a registered e-bike",
    lambda c: (c.age >= 16) & c.bern("transport.ebike", 0.3),
)

# ---- consumption ---------------------------------------------------------------------

_CONSUMPTION = {  # category: (share of the budget, CNY per purchase, minimum age)
    "groceries": (0.16, 60, 0),
    "fresh_produce": (0.06, 25, 0),
    "meat_fish": (0.06, 50, 0),
    "dairy": (0.02, 20, 0),
    "bakery": (0.015, 15, 0),
    "snacks": (0.02, 12, 0),
    "soft_drinks": (0.01, 6, 0),
    "alcohol": (0.02, 60, 18),
    "tobacco": (0.02, 25, 18),
    "restaurants": (0.08, 90, 0),
    "food_delivery": (0.05, 40, 12),
    "coffee_tea": (0.015, 22, 12),
    "clothing": (0.05, 180, 0),
    "shoes": (0.015, 260, 0),
    "cosmetics": (0.02, 120, 14),
    "personal_care": (0.015, 40, 0),
    "pharmacy": (0.015, 60, 0),
    "medical": (0.03, 300, 0),
    "fitness": (0.01, 150, 14),
    "sports_goods": (0.01, 200, 6),
    "books": (0.01, 50, 4),
    "stationery": (0.005, 20, 4),
    "toys": (0.01, 90, 0),
    "baby_goods": (0.01, 120, 20),
    "electronics": (0.03, 900, 12),
    "mobile_phones": (0.015, 2500, 12),
    "home_appliances": (0.02, 1200, 20),
    "furniture": (0.015, 1500, 20),
    "home_improvement": (0.01, 400, 20),
    "gardening": (0.003, 60, 20),
    "pet_supplies": (0.005, 80, 12),
    "jewellery": (0.006, 1800, 18),
    "luxury_goods": (0.006, 5000, 18),
    "travel_packages": (0.02, 3000, 18),
    "hotels": (0.02, 400, 18),
    "cinema": (0.005, 50, 6),
    "concerts": (0.004, 400, 14),
    "gaming": (0.01, 30, 8),
    "lottery": (0.006, 20, 18),
    "gifts": (0.02, 200, 12),
}
_latent(
    "_budget",
    lambda c: (
        np.where(
            c.adult, np.maximum(0.6 * c.get("finance.monthly_income_cny"), 900.0), 120 + 25 * c.age
        )
        / c.get("_thrift")
        / 30.0
    ),
)
for _cc, (_share, _ticket, _amin) in _CONSUMPTION.items():

    def _spend_rate(c: _Ctx, cc: str = _cc, share: float = _share, amin: int = _amin) -> np.ndarray:
        tilt = 1.0
        if cc in ("alcohol", "tobacco", "lottery", "gaming"):
            tilt = c.prop**0.7 * np.where(c.get("_female"), 0.4, 1.6) ** (cc != "gaming")
        if cc in ("toys", "baby_goods"):
            tilt = np.where(c.get("household.members_under_18") > 0, 3.0, 0.2)
        if cc == "luxury_goods" or cc == "jewellery":
            tilt = c.get("_wealth") ** 2
        return c.get("_budget") * share * tilt * c.ln(f"_consumption.{cc}", 0.5) * (c.age >= amin)

    _nested(
        [f"consumption.{_cc}.spend_cny_{w}d" for w in WINDOWS],
        F64,
        f"{_cc.replace('_', ' ')} spending (CNY)",
        _spend_rate,
        kind="amount",
    )
    _add(
        f"consumption.{_cc}.purchases_365d",
        I32,
        f"{_cc.replace('_', ' ')} purchases, 365 days",
        lambda c, cc=_cc, t=_ticket: c.pois(
            f"consumption.{cc}.purchases", c.get(f"consumption.{cc}.spend_cny_365d") / t
        ),
    )

# ---- online --------------------------------------------------------------------------

_PLATFORMS = {  # platform type: (share with an account, minutes a day, posts a day)
    "messaging": (0.95, 80, 3.0),
    "microblog": (0.45, 25, 0.3),
    "short_video": (0.75, 70, 0.1),
    "long_video": (0.5, 40, 0.01),
    "live_streaming": (0.3, 20, 0.02),
    "e_commerce": (0.8, 15, 0.05),
    "second_hand_market": (0.3, 5, 0.02),
    "food_delivery_app": (0.6, 5, 0.02),
    "ride_hailing_app": (0.55, 3, 0.01),
    "maps": (0.85, 8, 0.0),
    "search_engine": (0.9, 12, 0.0),
    "news_aggregator": (0.6, 25, 0.05),
    "music_streaming": (0.55, 30, 0.01),
    "podcasts": (0.2, 15, 0.0),
    "online_games": (0.35, 40, 0.05),
    "mobile_games": (0.55, 35, 0.02),
    "dating": (0.08, 10, 0.1),
    "job_board": (0.25, 3, 0.01),
    "professional_network": (0.15, 4, 0.02),
    "forum": (0.3, 15, 0.2),
    "q_and_a": (0.3, 10, 0.05),
    "e_learning": (0.3, 15, 0.02),
    "online_banking": (0.75, 3, 0.0),
    "payment_app": (0.9, 6, 0.0),
    "government_services": (0.6, 2, 0.0),
    "health_app": (0.5, 3, 0.0),
    "fitness_tracker": (0.3, 4, 0.02),
    "smart_home": (0.25, 2, 0.0),
    "cloud_storage": (0.4, 2, 0.0),
    "email": (0.6, 6, 0.3),
}
for _pf, (_hold, _mins, _posts) in _PLATFORMS.items():

    def _pf_held(c: _Ctx, pf: str = _pf, hold: float = _hold) -> np.ndarray:
        minimum = 18 if pf in ("dating", "online_banking", "job_board") else 8
        return (c.age >= minimum) & c.bern(
            f"online.{pf}.account_held", hold * np.clip(c.get("_tech"), 0, 1.2)
        )

    _add(f"online.{_pf}.account_held", BOOL, f"holds a {_pf.replace('_', ' ')} account", _pf_held)
    _add(
        f"online.{_pf}.minutes_per_day",
        F64,
        f"{_pf.replace('_', ' ')} minutes a day",
        lambda c, pf=_pf, mins=_mins: np.round(
            c.get(f"online.{pf}.account_held")
            * mins
            * c.get("_tech")
            * c.ln(f"online.{pf}.minutes", 0.7),
            1,
        ),
    )
    _add(
        f"online.{_pf}.logins_30d",
        I32,
        f"{_pf.replace('_', ' ')} logins, 30 days",
        lambda c, pf=_pf, mins=_mins: c.pois(
            f"online.{pf}.logins", 30 * np.sqrt(c.get(f"online.{pf}.minutes_per_day"))
        ),
    )
    _nested(
        [f"online.{_pf}.posts_{w}d" for w in (30, 90, 365)],
        I32,
        f"{_pf.replace('_', ' ')} posts, reviews and comments",
        lambda c, pf=_pf, p=_posts: (
            max(p, 0.005) * c.get(f"online.{pf}.account_held") * np.exp(0.5 * c.get("_sociability"))
        ),
    )
_add(
    "online.devices_registered",
    I32,
    "devices linked to the id",
    lambda c: (c.age >= 8) * (1 + c.pois("online.devices", 1.2 * c.get("_tech"))),
)
_add(
    "online.ip_regions_30d",
    I32,
    "distinct regions of IP addresses, 30 days",
    lambda c: (c.age >= 8) * (1 + c.pois("online.ip", 0.5 * c.get("_mobility"))),
)
_add(
    "online.vpn_sessions_30d",
    I32,
    "VPN sessions detected, 30 days",
    lambda c: (
        (c.age >= 14) * c.pois("online.vpn", 0.5 * c.get("_tech") * c.bern("online.vpn_user", 0.05))
    ),
)
_add(
    "online.search_queries_30d",
    I32,
    "search queries, 30 days",
    lambda c: c.pois("online.search", 12 * c.get("online.search_engine.minutes_per_day")),
)
_add(
    "online.content_flags_12m",
    I32,
    "posts flagged by moderation, 12 months",
    lambda c: c.pois(
        "online.flags", 0.002 * c.prop * sum(c.get(f"online.{pf}.posts_365d") for pf in _PLATFORMS)
    ),
)
_add(
    "online.account_suspensions_12m",
    I32,
    "account suspensions, 12 months",
    lambda c: np.minimum(
        c.get("online.content_flags_12m"),
        c.pois("online.suspensions", 0.2 * c.get("online.content_flags_12m")),
    ),
)
_add(
    "online.real_name_verified_accounts",
    I32,
    "accounts verified under the real-name rule",
    lambda c: sum(c.get(f"online.{pf}.account_held").astype(np.int64) for pf in _PLATFORMS),
)

# ---- social --------------------------------------------------------------------------

_CONTACTS = {  # contact kind: (contacts, calls a month each)
    "family": (4, 3.0),
    "relatives": (10, 0.3),
    "friends": (15, 0.5),
    "colleagues": (20, 0.3),
    "classmates": (25, 0.05),
    "neighbours": (6, 0.1),
    "clients": (8, 0.4),
    "officials": (1, 0.1),
    "healthcare": (2, 0.1),
    "teachers": (3, 0.2),
}
for _ck, (_cnt, _calls) in _CONTACTS.items():

    def _contacts(c: _Ctx, ck: str = _ck, cnt: float = _cnt) -> np.ndarray:
        scale = np.exp(0.4 * c.get("_sociability")) * np.where(c.age < 8, 0.3, 1.0)
        if ck in ("colleagues", "clients"):
            scale = scale * c.get("employment.employed")
        if ck == "teachers":
            scale = scale * c.get("education.currently_enrolled")
        return c.pois(f"social.{ck}_contacts", cnt * scale)

    _add(f"social.{_ck}_contacts", I32, f"{_ck} in the contact graph", _contacts)
    _add(
        f"social.{_ck}_calls_30d",
        I32,
        f"calls with {_ck}, 30 days",
        lambda c, ck=_ck, calls=_calls: c.pois(
            f"social.{ck}_calls", calls * c.get(f"social.{ck}_contacts")
        ),
    )
_add(
    "social.messaging_groups",
    I32,
    "messaging groups joined",
    lambda c: c.pois(
        "social.groups",
        12 * c.get("online.messaging.account_held") * np.exp(0.5 * c.get("_sociability")),
    ),
)
_add(
    "social.followers",
    I32,
    "followers across platforms",
    lambda c: np.floor(c.get("online.microblog.account_held") * 80 * c.ln("social.followers", 1.5)),
)
_add(
    "social.following",
    I32,
    "accounts followed across platforms",
    lambda c: np.floor(
        c.get("online.microblog.account_held") * 150 * c.ln("social.following", 0.8)
    ),
)
_add(
    "social.contacts_abroad",
    I32,
    "contacts abroad",
    lambda c: c.pois("social.abroad", 0.5 + 2 * c.get("identity.document.passport.held")),
)
_add(
    "social.volunteer_hours_12m",
    F64,
    "volunteer hours, 12 months",
    lambda c: np.round(
        (c.age >= 12) * c.bern("social.volunteer", 0.2) * 30 * c.ln("social.vol_hours", 0.8), 1
    ),
)
_add(
    "social.community_roles",
    I32,
    "roles in community bodies",
    lambda c: c.adult * c.pois("social.roles", 0.1 * np.exp(0.5 * c.get("_sociability"))),
)
_add(
    "social.neighbour_complaints_filed",
    I32,
    "complaints filed about neighbours, 5 years",
    lambda c: c.adult * c.pois("social.complaints_filed", 0.15),
)
_add(
    "social.neighbour_complaints_received",
    I32,
    "complaints received from neighbours, 5 years",
    lambda c: (c.age >= 14) * c.pois("social.complaints_recv", 0.1 * c.prop),
)
_add(
    "social.reference_letters",
    I32,
    "reference letters on file",
    lambda c: c.adult * c.pois("social.references", 0.5),
)
_add(
    "social.honours_received",
    I32,
    "honours and commendations",
    lambda c: c.pois("social.honours", 0.1 * np.exp(0.5 * c.get("_ability"))),
)
_EVENTS = (
    "community_meeting",
    "sports_event",
    "cultural_event",
    "concert",
    "festival",
    "trade_fair",
    "alumni_meeting",
    "wedding_banquet",
    "funeral",
    "school_meeting",
    "neighbourhood_patrol",
    "public_lecture",
)
for _ev in _EVENTS:
    _add(
        f"social.event.{_ev}_12m",
        I32,
        f"{_ev.replace('_', ' ')}s attended, 12 months",
        lambda c, ev=_ev: (
            (c.age >= 6) * c.pois(f"social.event.{ev}", 0.8 * np.exp(0.5 * c.get("_sociability")))
        ),
    )
_MEMBERSHIPS = (
    "residents_committee",
    "sports_club",
    "hobby_club",
    "professional_association",
    "alumni_association",
    "volunteer_corps",
    "trade_association",
    "chamber_of_commerce",
    "parent_teacher_association",
    "senior_association",
)
for _mb in _MEMBERSHIPS:
    _add(
        f"social.member.{_mb}",
        BOOL,
        f"member of a {_mb.replace('_', ' ')}",
        lambda c, mb=_mb: (
            (c.age >= 14)
            & c.bern(
                f"social.member.{mb}",
                0.08
                * np.exp(0.5 * c.get("_sociability"))
                * (1 + 3 * (mb == "senior_association") * (c.age >= 60)),
            )
        ),
    )

# ---- derived attributes: the record log and the end state ----------------------------

HIDDEN_PEOPLE = frozenset(
    {
        "id",
        "age",
        "group",
        "region",
        "true_score",
        "true_grade",
        "committed",
        "records_correct",
        "records_wrong",
    }
)


def _visible(column: str) -> bool:
    """Whether the system knows this people.parquet column (no simulator truth)."""
    return not (column in HIDDEN_PEOPLE or column.endswith("_true") or column.startswith("true_"))


def _people_columns(sc: Scenario) -> dict[str, Any]:
    """End-state columns a run of this scenario writes that the system knows."""
    cols: dict[str, Any] = {"score": pl.Int16, "sanctioned": pl.Boolean}
    if sc.scoring.grades:
        cols["grade"] = pl.String
    if sc.surveillance.appeals.enabled:
        cols["appeals_won"] = pl.UInt16
    for name, pol in sc.scoring.factors.items():
        cols[name] = pl.Int16
        if pol.grades:
            cols[f"{name}_grade"] = pl.String
    for name in sc.scoring.lists:
        cols[name] = pl.Boolean
    return cols


def _state_dtype(dtype: Any) -> Any:
    """Categoricals are shown as strings."""
    categorical = isinstance(dtype, pl.Categorical | pl.Enum) or dtype in (pl.Categorical, pl.Enum)
    return pl.String if categorical else dtype


def _record_slots(sc: Scenario) -> list[tuple[str, str]]:
    """(behaviour, channel) pairs a record can have: each behaviour's own channels."""
    known = {"camera", *sc.surveillance.channels}
    return [
        (b, ch)
        for b, beh in sc.behaviors.items()
        if not beh.lawful
        for ch in beh.channels
        if ch in known
    ]


def _derived(sc: Scenario, people: Mapping[str, Any] | None) -> list[Attribute]:
    """Record-log and end-state attributes of a scenario (people: a people schema)."""
    mode = sc.run.records
    count_t = F64 if mode == "sample" else I32
    note = {
        "all": "",
        "none": " (null: the run kept no records)",
        "sample": f" (estimated: sample count / {sc.run.records_sample:g})",
    }[mode]
    out: list[Attribute] = []

    def add(name: str, dtype: Any, description: str) -> None:
        out.append(Attribute(name, "records", "derived", dtype, description))

    def counts(prefix: str, what: str) -> None:
        for w in WINDOWS:
            add(f"{prefix}.count_{w}d", count_t, f"records of {what} in the last {w} days{note}")
        add(f"{prefix}.last_day", I32, f"day of the last record of {what}{note}")

    for b, ch in _record_slots(sc):
        counts(f"records.{b}.{ch}", f"{b} via {ch}")
    behaviors = sorted({b for b, _ in _record_slots(sc)}, key=list(sc.behaviors).index)
    for b in behaviors:
        counts(f"records.{b}", f"{b} (all channels)")
    for ch in ["camera", *sc.surveillance.channels]:
        for w in WINDOWS:
            add(
                f"records.by_channel.{ch}.count_{w}d",
                count_t,
                f"records from {ch} in the last {w} days{note}",
            )
    counts("records.total", "any behaviour")
    add("records.total.count_run", count_t, f"records over the whole run{note}")
    add("records.total.first_day", I32, f"day of the first record{note}")
    add(
        "records.total.days_with_records_365d",
        count_t,
        f"distinct days with a record, last 365 days{note}",
    )
    add(
        "records.total.negative_count_365d",
        count_t,
        f"records of penalised acts, last 365 days{note}",
    )
    add(
        "records.total.positive_count_365d",
        count_t,
        f"records of rewarded acts, last 365 days{note}",
    )
    add(
        "records.total.points_deducted_365d",
        count_t,
        f"points the records of the last 365 days deduct{note}",
    )
    add(
        "records.total.points_awarded_365d",
        count_t,
        f"points the records of the last 365 days award{note}",
    )
    if sc.surveillance.appeals.enabled:
        for status in APPEAL_STATUS:
            add(
                f"records.appeal.{status}.count_run",
                count_t,
                f"records whose appeal status is {status!r}{note}",
            )
    cols = (
        _people_columns(sc) if people is None else {k: v for k, v in people.items() if _visible(k)}
    )
    for col, dtype in cols.items():
        add(f"records.state.{col}", _state_dtype(dtype), f"end-of-run {col} (people.parquet)")
    return out


def catalog(scenario: Scenario, people_schema: Mapping[str, Any] | None = None) -> list[Attribute]:
    """Every attribute of a scenario's dossier: procedural first, then derived.

    `people_schema` (a run's ``people.schema``) fixes the end-state columns; without it
    they are inferred from the scenario.
    """
    attrs = [a for a, _ in _PROC] + _derived(scenario, people_schema)
    seen: set[str] = set()
    for a in attrs:
        if a.name in seen:
            raise DossierError(
                f"error: dossier: attribute {a.name!r} is defined twice (a behaviour or "
                "channel name clashes with a reserved name: total, by_channel, appeal, state)"
            )
        seen.add(a.name)
    return attrs


def procedural(scenario: Scenario, ids: Sequence[int] | np.ndarray) -> pl.DataFrame:
    """The procedural attributes of `ids` (no run needed: a function of seed and id)."""
    ids_arr = np.asarray(ids, dtype=np.int64)
    gens: dict[str, Gen] = dict(_LATENT)
    gens.update({a.name: fn for a, fn in _PROC})
    ctx = _Ctx(scenario, ids_arr, gens)
    cols: list[pl.Series] = [pl.Series("id", ids_arr, dtype=pl.Int64)]
    for a, _ in _PROC:
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


def _check_ids(ids: np.ndarray, size: int) -> None:
    """Every id must be a citizen of the run."""
    bad = ids[(ids < 0) | (ids >= size)]
    if bad.size:
        raise DossierError(
            f"error: --person: {int(bad[0])} is not allowed; ids run from 0 to {size - 1}"
        )


def _derived_frame(
    run: RunResult, sc: Scenario, ids: np.ndarray, attrs: list[Attribute]
) -> pl.DataFrame:
    """Record-log and end-state attributes of `ids` (one row per id, in order)."""
    uniq, inv = np.unique(ids, return_inverse=True)
    n = len(uniq)
    last = sc.run.days - 1
    mode = sc.run.records
    scale = 1.0 / sc.run.records_sample if mode == "sample" else 1.0
    values: dict[str, np.ndarray] = {}
    if mode != "none":
        rec = (
            pl.scan_parquet(run.path / "records.parquet")
            .filter(pl.col("attributed_to").is_in(uniq.tolist()))
            .select(
                "day",
                pl.col("behavior").cast(pl.String),
                pl.col("channel").cast(pl.String),
                "attributed_to",
                *([pl.col("appeal").cast(pl.String)] if sc.surveillance.appeals.enabled else []),
            )
            .collect()
        )
        pos_all = np.searchsorted(uniq, rec["attributed_to"].to_numpy())
        day_all = rec["day"].to_numpy()

        def family(prefix: str, mask: np.ndarray) -> None:
            pos, day = pos_all[mask], day_all[mask]
            for w in WINDOWS:
                keep = day >= last - w + 1
                values[f"{prefix}.count_{w}d"] = np.bincount(pos[keep], minlength=n) * scale
            lastd = np.full(n, -1.0)
            np.maximum.at(lastd, pos, day)
            values[f"{prefix}.last_day"] = np.where(lastd < 0, np.nan, lastd)

        beh = rec["behavior"].to_numpy()
        ch = rec["channel"].to_numpy()
        for b, c in _record_slots(sc):
            family(f"records.{b}.{c}", (beh == b) & (ch == c))
        for b in {b for b, _ in _record_slots(sc)}:
            family(f"records.{b}", beh == b)
        for c in ["camera", *sc.surveillance.channels]:
            m = ch == c
            for w in WINDOWS:
                keep = m & (day_all >= last - w + 1)
                values[f"records.by_channel.{c}.count_{w}d"] = (
                    np.bincount(pos_all[keep], minlength=n) * scale
                )
        family("records.total", np.ones(len(rec), dtype=bool))
        values["records.total.count_run"] = np.bincount(pos_all, minlength=n) * scale
        first = np.full(n, np.inf)
        np.minimum.at(first, pos_all, day_all)
        values["records.total.first_day"] = np.where(np.isinf(first), np.nan, first)
        y = day_all >= last - 364
        pairs = np.unique(pos_all[y].astype(np.int64) * (last + 2) + day_all[y])
        values["records.total.days_with_records_365d"] = (
            np.bincount(pairs // (last + 2), minlength=n) * scale
        )
        points = {b: float(v.points) for b, v in sc.behaviors.items()}
        positive = {b for b, v in sc.behaviors.items() if v.valence == "positive"}
        is_pos = np.isin(beh, list(positive)) if positive else np.zeros(len(rec), bool)
        pts = np.array([points.get(b, 0.0) for b in beh.tolist()]) if len(rec) else np.zeros(0)
        values["records.total.negative_count_365d"] = (
            np.bincount(pos_all[y & ~is_pos], minlength=n) * scale
        )
        values["records.total.positive_count_365d"] = (
            np.bincount(pos_all[y & is_pos], minlength=n) * scale
        )
        values["records.total.points_deducted_365d"] = (
            np.bincount(pos_all[y & ~is_pos], weights=pts[y & ~is_pos], minlength=n) * scale
        )
        values["records.total.points_awarded_365d"] = (
            np.bincount(pos_all[y & is_pos], weights=pts[y & is_pos], minlength=n) * scale
        )
        if sc.surveillance.appeals.enabled:
            app = rec["appeal"].to_numpy()
            for status in APPEAL_STATUS:
                values[f"records.appeal.{status}.count_run"] = (
                    np.bincount(pos_all[app == status], minlength=n) * scale
                )
    people = (
        pl.scan_parquet(run.path / "people.parquet")
        .filter(pl.col("id").is_in(uniq.tolist()))
        .sort("id")
        .collect()
    )
    if people.height != n:
        raise RunError(f"error: run {str(run.path)!r}: people.parquet lacks some citizens")
    cols: list[pl.Series] = []
    for a in attrs:
        if a.name.startswith("records.state."):
            s = people[a.name.removeprefix("records.state.")]
            s = s.cast(pl.String) if a.dtype == STR else s
            cols.append(s.gather(inv).alias(a.name))
            continue
        v = values.get(a.name)
        if v is None:  # no records kept (mode "none"), or a slot absent from the log
            v = np.full(n, np.nan) if mode == "none" else np.zeros(n)
        s = pl.Series(a.name, np.asarray(v, dtype=np.float64)[inv], nan_to_null=True)
        cols.append(s if a.dtype == F64 else s.cast(a.dtype))
    return pl.DataFrame(cols)


def _scenario(run: RunResult) -> Scenario:
    """The resolved scenario of a run folder."""
    try:
        return load_scenario(run.path / "scenario.toml")
    except ScenarioError as exc:
        raise RunError(f"error: run {str(run.path)!r}: scenario.toml: {exc}") from None


def materialise(run: RunResult, ids: Sequence[int] | np.ndarray) -> pl.DataFrame:
    """One row per citizen in `ids` (in order): `id` plus one column per attribute."""
    sc = _scenario(run)
    ids_arr = np.asarray(ids, dtype=np.int64).reshape(-1)
    _check_ids(ids_arr, sc.population.size)
    attrs = catalog(sc, dict(pl.read_parquet_schema(run.path / "people.parquet")))
    derived = [a for a in attrs if a.kind == "derived"]
    if ids_arr.size == 0:
        return pl.DataFrame(schema={"id": pl.Int64, **{a.name: a.dtype for a in attrs}})
    return pl.concat(
        [procedural(sc, ids_arr), _derived_frame(run, sc, ids_arr, derived)], how="horizontal"
    )


def sample(run: RunResult, k: int, seed: int = 0) -> pl.DataFrame:
    """The dossiers of `k` distinct citizens drawn reproducibly (by `seed`), by id."""
    size = _scenario(run).population.size
    if not 1 <= k <= size:
        raise DossierError(f"error: --sample: {k} is not allowed; K runs from 1 to {size}")
    rng = streams.population_rng(seed, streams.DOSSIER, 0)
    ids = np.sort(rng.choice(size, size=k, replace=False))
    return materialise(run, ids)


def records_note(scenario: Scenario) -> str | None:
    """A one-line warning when the run's record log is incomplete, else None."""
    if scenario.run.records == "none":
        return (
            "warning: the run kept no records (run.records = 'none'): record-derived "
            "data points are null"
        )
    if scenario.run.records == "sample":
        p = scenario.run.records_sample
        return (
            f"warning: the run kept a {p:.2%} sample of records: record-derived counts "
            f"are estimates (sample count / {p:g}) and last days come from the sample"
        )
    return None


# ---- national scale ------------------------------------------------------------------

RECORDS_PER_PERSON_YEAR = 3.5  # city-pilot preset: 348,655 records, 100,000 citizens, 365 days
BYTES_PER_RECORD = 20  # day, day recorded, behaviour, person, channel, appeal (uncompressed)


def national_volume(
    population: float = 1.4e9,
    records_per_person_year: float = RECORDS_PER_PERSON_YEAR,
    bytes_per_record: float = BYTES_PER_RECORD,
    attributes: Sequence[Attribute] | None = None,
    years: int = 10,
) -> dict[str, float]:
    """Bytes such a system holds for a nation: the dossier catalog plus the record log.

    `attributes` defaults to the city-pilot catalog. Figures are uncompressed values
    only: no evidence images, no indexes, no copies.
    """
    if attributes is None:
        attributes = catalog(load_scenario("city-pilot"))
    per_person = float(sum(a.nbytes for a in attributes))
    dossier = per_person * population
    log_year = population * records_per_person_year * bytes_per_record
    return {
        "population": float(population),
        "attributes": float(len(attributes)),
        "values": float(len(attributes)) * population,
        "bytes_per_person": per_person,
        "dossier_bytes": dossier,
        "records_per_year": population * records_per_person_year,
        "record_log_bytes_per_year": log_year,
        "years": float(years),
        "total_bytes": dossier + years * log_year,
    }


# ---- command line --------------------------------------------------------------------


def add_dossier_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `panopticon dossier`."""
    parser.add_argument("run", metavar="RUN", help="a complete run folder")
    parser.add_argument("--person", metavar="ID", help="print one citizen's data points")
    parser.add_argument("--sample", metavar="K", help="materialise K citizens drawn at random")
    parser.add_argument("--seed", metavar="S", default="0", help="seed of --sample (0)")
    parser.add_argument("--out", metavar="FILE.parquet", help="write the rows as Parquet")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _int_arg(flag: str, text: str, allowed: str) -> int:
    """An integer command-line value, or a DossierError naming what is allowed."""
    try:
        return int(text)
    except ValueError:
        raise DossierError(f"error: {flag}: {text} is not allowed; {allowed}") from None


def _fmt_value(v: Any) -> str:
    """One value as text."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def format_person(row: Mapping[str, Any], attrs: Sequence[Attribute], header: str) -> str:
    """One citizen's data points as text, grouped by category."""
    lines = [header]
    for cat in CATEGORIES:
        names = [a.name for a in attrs if a.category == cat]
        if not names:
            continue
        width = max(len(x) for x in names)
        lines += ["", f"{cat} ({len(names)})"]
        lines += [f"  {x:<{width}}  {_fmt_value(row[x])}" for x in names]
    return "\n".join(lines)


def _write_parquet(df: pl.DataFrame, out: str) -> Path:
    """Write atomically; DossierError when the path is not usable."""
    path = Path(out)
    if path.suffix != ".parquet":
        raise DossierError(f"error: --out: {out} is not allowed; give a path ending in .parquet")
    if not path.parent.is_dir():
        raise DossierError(f"error: --out: {out} is not allowed; its folder does not exist")
    if path.is_dir():
        raise DossierError(f"error: --out: {out} is not allowed; it is a folder")
    tmp = path.with_name(path.name + ".partial")
    try:
        df.write_parquet(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        why = exc.strerror or type(exc).__name__
        raise DossierError(f"error: --out: {out} cannot be written ({why})") from None
    return path


def run_dossier_command(args: argparse.Namespace) -> int:
    """`panopticon dossier`: print one citizen's dossier or write a sample as Parquet."""
    try:
        return _dossier(args)
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
    except (DossierError, RunError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else "error: dossier failed"
        print(msg if msg.startswith("error: ") else f"error: {msg}", file=sys.stderr)
        return 2
    except (OSError, pl.exceptions.PolarsError) as exc:
        print(
            f"error: run {args.run!r}: its tables cannot be read ({type(exc).__name__})",
            file=sys.stderr,
        )
        return 2


def _dossier(args: argparse.Namespace) -> int:
    """The dossier command; raises DossierError/RunError on bad input."""
    if args.person is None and args.sample is None:
        raise DossierError(
            "error: dossier: neither --person nor --sample is given; "
            "give --person ID or --sample K --out FILE.parquet"
        )
    if args.person is not None and args.sample is not None:
        raise DossierError(
            "error: dossier: --person and --sample together are not allowed; give one"
        )
    if args.sample is not None and not args.out:
        raise DossierError("error: --sample: without --out is not allowed; give --out FILE.parquet")
    if args.out and Path(args.out).suffix != ".parquet":
        raise DossierError(
            f"error: --out: {args.out} is not allowed; give a path ending in .parquet"
        )
    run = open_run(args.run)
    sc = _scenario(run)
    size = sc.population.size
    note = records_note(sc)
    if args.person is not None:
        pid = _int_arg("--person", args.person, f"ids run from 0 to {size - 1}")
        _check_ids(np.array([pid]), size)
        if note:
            print(note, file=sys.stderr)
        df = materialise(run, [pid])
        attrs = catalog(sc, dict(pl.read_parquet_schema(run.path / "people.parquet")))
        if args.out:
            _write_parquet(df, args.out)
        row = df.row(0, named=True)
        if args.json:
            doc = {
                "id": pid,
                "run": str(run.path),
                "scenario": sc.name,
                "seed": sc.run.seed,
                "categories": {
                    cat: {a.name: row[a.name] for a in attrs if a.category == cat}
                    for cat in CATEGORIES
                },
            }
            print(json.dumps(doc, indent=1, default=str))
        else:
            head = (
                f"dossier of synthetic citizen {pid} in {args.run} ({sc.name}, seed "
                f"{sc.run.seed}, day {sc.run.days - 1}): {len(attrs)} data points"
            )
            print(format_person(row, attrs, head))
        return 0
    k = _int_arg("--sample", args.sample, f"K runs from 1 to {size}")
    seed = _int_arg("--seed", args.seed, "give an integer >= 0")
    if seed < 0:
        raise DossierError(f"error: --seed: {seed} is not allowed; give an integer >= 0")
    if not 1 <= k <= size:
        raise DossierError(f"error: --sample: {k} is not allowed; K runs from 1 to {size}")
    if note:
        print(note, file=sys.stderr)
    df = sample(run, k, seed)
    path = _write_parquet(df, args.out)
    n_attr = df.width - 1
    if args.json:
        print(json.dumps({"out": str(path), "rows": df.height, "attributes": n_attr}))
    else:
        print(f"wrote {df.height:,} dossiers x {n_attr:,} data points to {path}")
    return 0
