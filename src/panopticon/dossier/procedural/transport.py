"""The transport attributes of the dossier (procedural generators).

Trips, fares and distance by mode, car and plate, tolls, parking and plate-camera reads,
checkpoints and fuel.
"""

from __future__ import annotations

import numpy as np

from panopticon.dossier.catalog import (
    BOOL,
    F64,
    I32,
    MONTHS,
    STR,
    WINDOWS,
    Registry,
    money,
    null_unless,
)
from panopticon.dossier.procedural.context import Ctx

REGISTRY = Registry()  # the transport attributes, in order
add, latent, nested = REGISTRY.add, REGISTRY.latent, REGISTRY.nested

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

    def _trip_rate(c: Ctx, md: str = _md, tr: float = _tr, urb: bool = _urb) -> np.ndarray:
        rate = tr * c.get("_mobility") * np.where(c.age < 6, 0.2, 1.0)
        if urb:
            rate = rate * np.where(c.get("household.urban_residence"), 1.0, 0.1)
        if md.endswith("flight") or md in ("hsr", "taxi"):
            rate = rate * c.get("_wealth")
        if md == "international_flight":
            rate = rate * c.get("identity.document.passport.held")
        return rate

    nested(
        [f"transport.{_md}_trips_{w}d" for w in WINDOWS],
        I32,
        f"{_md.replace('_', ' ')} trips",
        _trip_rate,
    )
    add(
        f"transport.{_md}_spend_cny_365d",
        F64,
        f"{_md.replace('_', ' ')} fares, 365 days",
        lambda c, md=_md, f=_fare: money(
            c.get(f"transport.{md}_trips_365d") * f * c.ln(f"transport.{md}.fare", 0.2)
        ),
    )
    add(
        f"transport.{_md}_distance_km_365d",
        F64,
        f"{_md.replace('_', ' ')} distance, 365 days",
        lambda c, md=_md, k=_km: np.round(
            c.get(f"transport.{md}_trips_365d") * k * c.ln(f"transport.{md}.km", 0.3), 1
        ),
    )
add(
    "transport.car_owned",
    BOOL,
    "owns a car",
    lambda c: (
        c.get("identity.document.driving_licence.held")
        & c.bern("transport.car", 0.25 + 0.35 * (c.get("finance.monthly_income_cny") > 6000))
    ),
)
add(
    "transport.plate_code",
    STR,
    "synthetic number plate (null: no car)",
    lambda c: c.code("CAR", "transport.plate", 6, c.get("transport.car_owned")),
)
add(
    "transport.car_km_12m",
    F64,
    "km driven, 12 months",
    lambda c: np.round(c.get("transport.car_owned") * 11000 * c.ln("transport.car_km", 0.5)),
)
add(
    "transport.ev",
    BOOL,
    "the car is electric",
    lambda c: c.get("transport.car_owned") & c.bern("transport.ev", 0.3),
)
add(
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
    nested(
        [f"transport.{_fam}_{w}d" for w in WINDOWS],
        I32,
        _fam.replace("_", " "),
        lambda c, r=_per_day: r * c.get("transport.car_owned") * c.get("_mobility"),
    )
nested(
    [f"transport.cross_region_trips_{w}d" for w in WINDOWS],
    I32,
    "trips out of the region",
    lambda c: 0.02 * c.get("_mobility"),
)
nested(
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
    add(
        f"transport.fuel_spend_cny_{_m}",
        F64,
        f"fuel bought, month {_mi + 1}",
        lambda c, m=_m: money(
            c.get("transport.car_owned")
            * ~c.get("transport.ev")
            * 0.08
            * c.get("transport.car_km_12m")
            * c.ln(f"transport.fuel.{m}", 0.25)
        ),
    )
add(
    "transport.speeding_tickets_12m",
    I32,
    "speeding tickets, 12 months",
    lambda c: c.get("transport.car_owned") * c.pois("transport.speeding", 0.5 * c.prop),
)
add(
    "transport.parking_tickets_12m",
    I32,
    "parking tickets, 12 months",
    lambda c: c.get("transport.car_owned") * c.pois("transport.parking_t", 0.6 * c.prop),
)
add(
    "transport.home_work_km",
    F64,
    "home to workplace distance (null: not employed)",
    lambda c: null_unless(
        np.round(6 * c.ln("transport.commute_km", 0.7), 1), c.get("employment.employed")
    ),
)
add(
    "transport.commute_minutes",
    F64,
    "usual one-way commute (null: not employed)",
    lambda c: np.round(
        8 + 3.5 * c.get("transport.home_work_km") * c.ln("transport.commute_min", 0.2)
    ),
)
add(
    "transport.stations_visited_365d",
    I32,
    "distinct stations visited, 365 days",
    lambda c: np.minimum(
        c.get("transport.metro_trips_365d") + c.get("transport.bus_trips_365d"),
        c.pois("transport.stations", 30 * c.get("_mobility")),
    ),
)
add(
    "transport.late_night_trips_30d",
    I32,
    "trips between midnight and 5 am, 30 days",
    lambda c: (c.age >= 14) * c.pois("transport.night", 0.8 * c.prop * c.get("_mobility")),
)
add(
    "transport.transit_card_topups_30d",
    I32,
    "transit card top-ups, 30 days",
    lambda c: c.pois(
        "transport.topups",
        0.1 * (c.get("transport.metro_trips_30d") + c.get("transport.bus_trips_30d")),
    ),
)
add(
    "transport.e_bike_registered",
    BOOL,
    "has a registered e-bike",
    lambda c: (c.age >= 16) & c.bern("transport.ebike", 0.3),
)
