"""The social attributes of the dossier (procedural generators).

Contacts and calls by kind, followers and groups, events attended, memberships,
complaints and honours.
"""

from __future__ import annotations

import numpy as np

from panopticon.dossier.catalog import BOOL, F64, I32, Registry
from panopticon.dossier.procedural.context import Ctx

REGISTRY = Registry()  # the social attributes, in order
add, latent, nested = REGISTRY.add, REGISTRY.latent, REGISTRY.nested

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

    def _contacts(c: Ctx, ck: str = _ck, cnt: float = _cnt) -> np.ndarray:
        scale = np.exp(0.4 * c.get("_sociability")) * np.where(c.age < 8, 0.3, 1.0)
        if ck in ("colleagues", "clients"):
            scale = scale * c.get("employment.employed")
        if ck == "teachers":
            scale = scale * c.get("education.currently_enrolled")
        return c.pois(f"social.{ck}_contacts", cnt * scale)

    add(f"social.{_ck}_contacts", I32, f"{_ck} in the contact graph", _contacts)
    add(
        f"social.{_ck}_calls_30d",
        I32,
        f"calls with {_ck}, 30 days",
        lambda c, ck=_ck, calls=_calls: c.pois(
            f"social.{ck}_calls", calls * c.get(f"social.{ck}_contacts")
        ),
    )
add(
    "social.messaging_groups",
    I32,
    "messaging groups joined",
    lambda c: c.pois(
        "social.groups",
        12 * c.get("online.messaging.account_held") * np.exp(0.5 * c.get("_sociability")),
    ),
)
add(
    "social.followers",
    I32,
    "followers across platforms",
    lambda c: np.floor(c.get("online.microblog.account_held") * 80 * c.ln("social.followers", 1.5)),
)
add(
    "social.following",
    I32,
    "accounts followed across platforms",
    lambda c: np.floor(
        c.get("online.microblog.account_held") * 150 * c.ln("social.following", 0.8)
    ),
)
add(
    "social.contacts_abroad",
    I32,
    "contacts abroad",
    lambda c: c.pois("social.abroad", 0.5 + 2 * c.get("identity.document.passport.held")),
)
add(
    "social.volunteer_hours_12m",
    F64,
    "volunteer hours, 12 months",
    lambda c: np.round(
        (c.age >= 12) * c.bern("social.volunteer", 0.2) * 30 * c.ln("social.vol_hours", 0.8), 1
    ),
)
add(
    "social.community_roles",
    I32,
    "roles in community bodies",
    lambda c: c.adult * c.pois("social.roles", 0.1 * np.exp(0.5 * c.get("_sociability"))),
)
add(
    "social.neighbour_complaints_filed",
    I32,
    "complaints filed about neighbours, 5 years",
    lambda c: c.adult * c.pois("social.complaints_filed", 0.15),
)
add(
    "social.neighbour_complaints_received",
    I32,
    "complaints received from neighbours, 5 years",
    lambda c: (c.age >= 14) * c.pois("social.complaints_recv", 0.1 * c.prop),
)
add(
    "social.reference_letters",
    I32,
    "reference letters on file",
    lambda c: c.adult * c.pois("social.references", 0.5),
)
add(
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
    add(
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
    add(
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
