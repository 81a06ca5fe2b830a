"""The consumption attributes of the dossier (procedural generators).

Spending and purchases over 30, 90 and 365 days in 40 categories.
"""

from __future__ import annotations

import numpy as np

from panopticon.dossier.catalog import F64, I32, WINDOWS, Registry
from panopticon.dossier.procedural.context import Ctx

REGISTRY = Registry()  # the consumption attributes, in order
add, latent, nested = REGISTRY.add, REGISTRY.latent, REGISTRY.nested

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
latent(
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

    def _spend_rate(c: Ctx, cc: str = _cc, share: float = _share, amin: int = _amin) -> np.ndarray:
        tilt = 1.0
        if cc in ("alcohol", "tobacco", "lottery", "gaming"):
            tilt = c.prop**0.7 * np.where(c.get("_female"), 0.4, 1.6) ** (cc != "gaming")
        if cc in ("toys", "baby_goods"):
            tilt = np.where(c.get("household.members_under_18") > 0, 3.0, 0.2)
        if cc == "luxury_goods" or cc == "jewellery":
            tilt = c.get("_wealth") ** 2
        return c.get("_budget") * share * tilt * c.ln(f"_consumption.{cc}", 0.5) * (c.age >= amin)

    nested(
        [f"consumption.{_cc}.spend_cny_{w}d" for w in WINDOWS],
        F64,
        f"{_cc.replace('_', ' ')} spending (CNY)",
        _spend_rate,
        kind="amount",
    )
    add(
        f"consumption.{_cc}.purchases_365d",
        I32,
        f"{_cc.replace('_', ' ')} purchases, 365 days",
        lambda c, cc=_cc, t=_ticket: c.pois(
            f"consumption.{cc}.purchases", c.get(f"consumption.{cc}.spend_cny_365d") / t
        ),
    )
