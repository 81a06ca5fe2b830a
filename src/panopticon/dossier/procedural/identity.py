"""The identity attributes of the dossier (procedural generators).

Synthetic id and handle, age and birth, sex, group, region, registration, phones and SIM
cards, biometric enrolment and identity documents.
"""

from __future__ import annotations

import numpy as np

from panopticon.dossier.catalog import BOOL, I32, SIM_YEAR, STR, Registry, null_unless
from panopticon.dossier.procedural.context import Ctx

REGISTRY = Registry()  # the identity attributes, in order
add, latent, nested = REGISTRY.add, REGISTRY.latent, REGISTRY.nested


def _check_letter(c: Ctx) -> np.ndarray:
    """A check character per id (synthetic, not a real checksum scheme)."""
    bits = (c.bits("identity.check") % np.uint64(26)).astype(np.int64)
    return np.array([chr(65 + b) for b in bits.tolist()], dtype=object)


add(
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
add(
    "identity.handle",
    STR,
    "synthetic handle used across registries",
    lambda c: c.code("H", "identity.handle", 10),
)
add("identity.age_years", I32, "age in years (population demographics)", lambda c: c.age)
add(
    "identity.birth_month",
    I32,
    "month of birth",
    lambda c: 1 + np.floor(c.u("identity.birth_month") * 12),
)
add(
    "identity.birth_year",
    I32,
    f"year of birth (age on 30 June {SIM_YEAR})",
    lambda c: SIM_YEAR - c.age - (c.get("identity.birth_month") > 6),
)
add(
    "identity.sex",
    STR,
    "registered sex (F/M)",
    lambda c: np.where(c.get("_female"), "F", "M").astype(object),
)
add(
    "identity.group",
    STR,
    "demographic group (scenario's population.groups)",
    lambda c: np.array(list(c.sc.population.groups), dtype=object)[c.group],
)
add(
    "identity.region",
    STR,
    "region of residence (scenario's population.regions)",
    lambda c: np.array(list(c.sc.population.regions), dtype=object)[c.region],
)
add("identity.group_code", I32, "group code", lambda c: c.group)
add("identity.region_code", I32, "region code", lambda c: c.region)
add(
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
add(
    "identity.registered_in_residence_region",
    BOOL,
    "registered where they live (false: internal migrant)",
    lambda c: c.bern("identity.registered_in_residence_region", 0.85),
)
add(
    "identity.years_at_current_address",
    I32,
    "years at the current address",
    lambda c: np.minimum(
        c.age, np.floor(-np.log1p(-c.u("identity.years_at")) * 8 / c.get("_mobility"))
    ),
)
add(
    "identity.address_changes_10y",
    I32,
    "address changes in the last 10 years",
    lambda c: c.pois("identity.address_changes_10y", 0.8 * c.get("_mobility")),
)
add(
    "identity.phone_numbers_registered",
    I32,
    "mobile numbers registered to the id",
    lambda c: (c.age >= 10) * (1 + c.pois("identity.phone_numbers", 0.3)),
)
add(
    "identity.sim_cards_registered",
    I32,
    "SIM cards registered to the id",
    lambda c: (
        c.get("identity.phone_numbers_registered")
        + (c.age >= 10) * c.pois("identity.sim_cards", 0.4)
    ),
)
add(
    "identity.email_addresses_registered",
    I32,
    "e-mail addresses linked to the id",
    lambda c: c.pois("identity.email", 1.2 * c.get("_tech")),
)
add(
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
    add(
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

    def _held(c: Ctx, d: str = _d, amin: int = _amin, share: float = _share) -> np.ndarray:
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

    add(f"identity.document.{_d}.held", BOOL, f"holds a {_d.replace('_', ' ')}", _held)
    add(
        f"identity.document.{_d}.issue_year",
        I32,
        f"year the {_d.replace('_', ' ')} was issued",
        lambda c, d=_d, v=_valid: null_unless(
            SIM_YEAR - np.floor(c.u(f"identity.document.{d}.issue") * np.minimum(v, c.age + 1)),
            c.get(f"identity.document.{d}.held"),
        ),
    )
    add(
        f"identity.document.{_d}.expiry_year",
        I32,
        f"year the {_d.replace('_', ' ')} expires",
        lambda c, d=_d, v=_valid: c.get(f"identity.document.{d}.issue_year") + v,
    )
