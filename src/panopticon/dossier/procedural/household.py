"""The household attributes of the dossier (procedural generators).

Marital status, children, size and members, dwelling and tenure, vehicles and pets, grid
cell, and utility accounts with monthly bills and late payments.
"""

from __future__ import annotations

import math

import numpy as np

from panopticon.dossier.catalog import BOOL, F64, I32, MONTHS, STR, Registry, money, null_unless
from panopticon.dossier.procedural.context import Ctx

REGISTRY = Registry()  # the household attributes, in order
add, latent, nested = REGISTRY.add, REGISTRY.latent, REGISTRY.nested

add(
    "household.urban_residence",
    BOOL,
    "lives in an urban area",
    lambda c: c.u("household.urban") < 0.35 + 0.45 * c.region_u("region.urban_share"),
)
add("household.marital_status", STR, "single, married, divorced or widowed", lambda c: _marital(c))


def _marital(c: Ctx) -> np.ndarray:
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


add(
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
add(
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
add(
    "household.members_under_18",
    I32,
    "household members under 18",
    lambda c: np.where(
        c.age < 18,
        1 + c.pois("household.u18", 0.4),
        np.minimum(c.get("household.children"), c.get("household.size") - 1) * (c.age < 55),
    ),
)
add(
    "household.members_over_65",
    I32,
    "household members over 65",
    lambda c: np.minimum((c.age >= 65) + c.pois("household.o65", 0.25), c.get("household.size")),
)
add(
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
add(
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
add(
    "household.rooms",
    I32,
    "rooms in the dwelling",
    lambda c: np.maximum(
        1, np.round(c.get("household.dwelling_area_m2") / 22 + 0.5 * c.z("household.rooms"))
    ),
)
add(
    "household.building_age_years",
    I32,
    "age of the building",
    lambda c: np.floor(c.u("household.building_age") * 45),
)
add(
    "household.floor_number",
    I32,
    "floor of the dwelling",
    lambda c: np.where(
        c.get("household.urban_residence"), 1 + np.floor(c.u("household.floor") ** 2 * 32), 1
    ),
)
add(
    "household.property_value_cny",
    F64,
    "assessed value of the owned home (null: rents)",
    lambda c: null_unless(
        money(
            c.get("household.dwelling_area_m2")
            * np.where(c.get("household.urban_residence"), 21000, 4500)
            * c.ln("household.value", 0.4)
        ),
        c.get("household.home_owned"),
    ),
)
add(
    "household.monthly_rent_cny",
    F64,
    "monthly rent (0 when owned)",
    lambda c: np.where(
        c.get("household.home_owned"),
        0.0,
        money(
            c.get("household.dwelling_area_m2")
            * np.where(c.get("household.urban_residence"), 65, 15)
            * c.ln("household.rent", 0.3)
        ),
    ),
)
add(
    "household.vehicles_registered",
    I32,
    "vehicles registered to the household",
    lambda c: c.pois("household.vehicles", 0.5 * c.get("_wealth")),
)
add(
    "household.pets_registered",
    I32,
    "pets registered to the household",
    lambda c: c.pois("household.pets", 0.3),
)
add(
    "household.registered_members",
    I32,
    "members on the household register",
    lambda c: c.get("household.size") + c.pois("household.registered", 0.2),
)
add(
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
    add(
        f"household.utility.{_ut}.account_held",
        BOOL,
        f"{_ut} account held",
        lambda c, ut=_ut, h=_hold: c.bern(f"household.utility.{ut}.account", h),
    )
    latent(
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
        add(
            f"household.utility.{_ut}.bill_cny_{_m}",
            F64,
            f"{_ut} bill, month {_mi + 1}",
            lambda c, ut=_ut, m=_m, s=_season: money(
                c.get(f"_util.{ut}") * max(s, 0.0) * c.ln(f"household.utility.{ut}.{m}", 0.15)
            ),
        )
    add(
        f"household.utility.{_ut}.late_payments_12m",
        I32,
        f"late {_ut} payments, 12 months",
        lambda c, ut=_ut: (
            c.get(f"household.utility.{ut}.account_held")
            * c.pois(f"household.utility.{ut}.late", 0.12 * c.prop)
        ),
    )
