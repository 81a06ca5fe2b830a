"""The online attributes of the dossier (procedural generators).

Accounts, minutes, logins and posts by platform type, devices, IP regions, searches, VPN
use and moderation flags.
"""

from __future__ import annotations

import numpy as np

from panopticon.dossier.catalog import BOOL, F64, I32, Registry
from panopticon.dossier.procedural.context import Ctx

REGISTRY = Registry()  # the online attributes, in order
add, latent, nested = REGISTRY.add, REGISTRY.latent, REGISTRY.nested

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

    def _pf_held(c: Ctx, pf: str = _pf, hold: float = _hold) -> np.ndarray:
        minimum = 18 if pf in ("dating", "online_banking", "job_board") else 8
        return (c.age >= minimum) & c.bern(
            f"online.{pf}.account_held", hold * np.clip(c.get("_tech"), 0, 1.2)
        )

    add(f"online.{_pf}.account_held", BOOL, f"holds a {_pf.replace('_', ' ')} account", _pf_held)
    add(
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
    add(
        f"online.{_pf}.logins_30d",
        I32,
        f"{_pf.replace('_', ' ')} logins, 30 days",
        lambda c, pf=_pf, mins=_mins: c.pois(
            f"online.{pf}.logins", 30 * np.sqrt(c.get(f"online.{pf}.minutes_per_day"))
        ),
    )
    nested(
        [f"online.{_pf}.posts_{w}d" for w in (30, 90, 365)],
        I32,
        f"{_pf.replace('_', ' ')} posts, reviews and comments",
        lambda c, pf=_pf, p=_posts: (
            max(p, 0.005) * c.get(f"online.{pf}.account_held") * np.exp(0.5 * c.get("_sociability"))
        ),
    )
add(
    "online.devices_registered",
    I32,
    "devices linked to the id",
    lambda c: (c.age >= 8) * (1 + c.pois("online.devices", 1.2 * c.get("_tech"))),
)
add(
    "online.ip_regions_30d",
    I32,
    "distinct regions of IP addresses, 30 days",
    lambda c: (c.age >= 8) * (1 + c.pois("online.ip", 0.5 * c.get("_mobility"))),
)
add(
    "online.vpn_sessions_30d",
    I32,
    "VPN sessions detected, 30 days",
    lambda c: (
        (c.age >= 14) * c.pois("online.vpn", 0.5 * c.get("_tech") * c.bern("online.vpn_user", 0.05))
    ),
)
add(
    "online.search_queries_30d",
    I32,
    "search queries, 30 days",
    lambda c: c.pois("online.search", 12 * c.get("online.search_engine.minutes_per_day")),
)
add(
    "online.content_flags_12m",
    I32,
    "posts flagged by moderation, 12 months",
    lambda c: c.pois(
        "online.flags", 0.002 * c.prop * sum(c.get(f"online.{pf}.posts_365d") for pf in _PLATFORMS)
    ),
)
add(
    "online.account_suspensions_12m",
    I32,
    "account suspensions, 12 months",
    lambda c: np.minimum(
        c.get("online.content_flags_12m"),
        c.pois("online.suspensions", 0.2 * c.get("online.content_flags_12m")),
    ),
)
add(
    "online.real_name_verified_accounts",
    I32,
    "accounts verified under the real-name rule",
    lambda c: sum(c.get(f"online.{pf}.account_held").astype(np.int64) for pf in _PLATFORMS),
)
