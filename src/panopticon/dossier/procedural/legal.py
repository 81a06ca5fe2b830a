"""The legal attributes of the dossier (procedural generators).

Civil cases, penalties, enforcement orders, police contacts, petitions, court summonses
by year and licences.
"""

from __future__ import annotations

import numpy as np

from panopticon.dossier.catalog import BOOL, I32, SIM_YEAR, Registry

REGISTRY = Registry()  # the legal attributes, in order
add, latent, nested = REGISTRY.add, REGISTRY.latent, REGISTRY.nested

add(
    "legal.civil_cases_plaintiff_10y",
    I32,
    "civil cases brought, 10 years",
    lambda c: c.adult * c.pois("legal.plaintiff", 0.08 * c.get("_wealth")),
)
add(
    "legal.civil_cases_defendant_10y",
    I32,
    "civil cases defended, 10 years",
    lambda c: c.adult * c.pois("legal.defendant", 0.06 * c.prop**1.3),
)
add(
    "legal.administrative_penalties_5y",
    I32,
    "administrative penalties, 5 years",
    lambda c: (c.age >= 14) * c.pois("legal.admin_penalties", 0.15 * c.prop),
)
add(
    "legal.traffic_points_12m",
    I32,
    "driving licence points incurred, 12 months",
    lambda c: (
        c.get("identity.document.driving_licence.held")
        * np.minimum(12, 3 * c.pois("legal.traffic_points", 0.4 * c.prop))
    ),
)
add(
    "legal.enforcement_orders_5y",
    I32,
    "court enforcement orders, 5 years",
    lambda c: c.adult * c.pois("legal.enforcement", 0.02 * c.prop**1.5),
)
add(
    "legal.lawsuits_pending",
    I32,
    "lawsuits pending",
    lambda c: c.adult * c.pois("legal.pending", 0.03 * c.prop),
)
add(
    "legal.notarised_documents_10y",
    I32,
    "notarised documents, 10 years",
    lambda c: c.adult * c.pois("legal.notary", 0.6 * c.get("_wealth")),
)
add(
    "legal.contracts_registered_5y",
    I32,
    "contracts registered, 5 years",
    lambda c: c.adult * c.pois("legal.contracts", 1.0 + 2 * (c.get("_status") == 3)),
)
add(
    "legal.police_contacts_12m",
    I32,
    "recorded police contacts, 12 months",
    lambda c: (c.age >= 12) * c.pois("legal.police", 0.2 * c.prop),
)
add(
    "legal.petitions_filed_5y",
    I32,
    "petitions and complaints to authorities, 5 years",
    lambda c: c.adult * c.pois("legal.petitions", 0.05),
)
add(
    "legal.mediation_cases_5y",
    I32,
    "mediation cases, 5 years",
    lambda c: c.adult * c.pois("legal.mediation", 0.1 * c.prop**0.5),
)
add(
    "legal.witness_appearances_5y",
    I32,
    "appearances as a witness, 5 years",
    lambda c: c.adult * c.pois("legal.witness", 0.03),
)
add(
    "legal.power_of_attorney_granted",
    BOOL,
    "has granted a power of attorney",
    lambda c: c.adult & c.bern("legal.attorney", 0.03 + 0.1 * (c.age > 70)),
)
add(
    "legal.will_registered",
    BOOL,
    "has registered a will",
    lambda c: c.adult & c.bern("legal.will", np.clip((c.age - 40) / 200, 0, 0.3)),
)
add(
    "legal.guardian_of_others",
    BOOL,
    "legal guardian of another person",
    lambda c: c.adult & c.bern("legal.guardian", 0.02),
)
add(
    "legal.on_probation",
    BOOL,
    "on probation",
    lambda c: (c.age >= 16) & c.bern("legal.probation", 0.001 * c.prop**2),
)
for _yi in range(5):
    _yr = SIM_YEAR - 4 + _yi
    add(
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
    add(
        f"legal.licence.{_lc}",
        BOOL,
        f"holds a {_lc.replace('_', ' ')} licence",
        lambda c, lc=_lc: (
            c.adult & c.bern(f"legal.licence.{lc}", np.where(c.get("_status") == 3, 0.12, 0.01))
        ),
    )
