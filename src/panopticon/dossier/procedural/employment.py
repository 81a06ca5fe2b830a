"""The employment attributes of the dossier (procedural generators).

Status, employer, sector, occupation, tenure, hours, contributions, ratings, badge
entries, retirement and monthly salaries.
"""

from __future__ import annotations

import numpy as np

from panopticon.dossier.catalog import (
    BOOL,
    F64,
    I32,
    MONTHS,
    SIM_YEAR,
    STR,
    Registry,
    money,
    null_unless,
)
from panopticon.dossier.procedural.context import Ctx

REGISTRY = Registry()  # the employment attributes, in order
add, latent, nested = REGISTRY.add, REGISTRY.latent, REGISTRY.nested

_STATUS = ("child", "student", "employee", "self_employed", "unemployed", "retired", "carer")


def _status(c: Ctx) -> np.ndarray:
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


latent("_status", _status)
add(
    "employment.status",
    STR,
    "child, student, employee, self_employed, unemployed, retired or carer",
    lambda c: np.array(_STATUS, dtype=object)[c.get("_status")],
)
add(
    "employment.employed",
    BOOL,
    "in paid work (employee or self-employed)",
    lambda c: np.isin(c.get("_status"), (2, 3)) & (c.age >= 16),
)
add(
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
latent("_sector", lambda c: np.floor(c.u("employment.sector") * len(_SECTORS)).astype(np.int64))
add(
    "employment.sector",
    STR,
    "sector of the employer (null: not employed)",
    lambda c: np.where(
        c.get("employment.employed"), np.array(_SECTORS, dtype=object)[c.get("_sector")], None
    ),
)
add(
    "employment.occupation_code",
    STR,
    "synthetic occupation code (null: not employed)",
    lambda c: c.code("OCC", "employment.occupation", 3, c.get("employment.employed"), pool=400),
)
add(
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
add(
    "employment.manager",
    BOOL,
    "manages other staff",
    lambda c: (
        c.get("employment.employed") & c.bern("employment.manager", 0.1 + 0.05 * c.get("_ability"))
    ),
)
add(
    "employment.tenure_years",
    F64,
    "years with the current employer",
    lambda c: np.where(
        c.get("employment.employed"),
        np.round(np.minimum(c.age - 16, -np.log1p(-c.u("employment.tenure")) * 6), 1),
        0.0,
    ),
)
add(
    "employment.weekly_hours",
    F64,
    "usual weekly hours",
    lambda c: np.where(
        c.get("employment.employed"),
        np.round(np.clip(44 + 6 * c.z("employment.hours"), 10, 84)),
        0.0,
    ),
)
add(
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
add(
    "employment.employers_10y",
    I32,
    "employers in the last 10 years",
    lambda c: (
        (c.age >= 18)
        * c.pois("employment.employers", np.minimum(c.age - 17, 10) * 0.15 * c.get("_mobility"))
    ),
)
add(
    "employment.unemployment_spells_10y",
    I32,
    "spells of unemployment, 10 years",
    lambda c: (c.age >= 18) * c.pois("employment.spells", 0.3 * c.prop),
)
add(
    "employment.union_member",
    BOOL,
    "trade union member",
    lambda c: c.get("employment.employed") & c.bern("employment.union", 0.3),
)
add(
    "employment.social_insurance_months",
    I32,
    "months of social insurance contributions",
    lambda c: np.floor(
        np.maximum(np.minimum(c.age, 60) - 20, 0)
        * 12
        * np.clip(0.7 + 0.1 * c.z("employment.si"), 0, 1)
    ),
)
add(
    "employment.performance_rating",
    I32,
    "last performance rating, 1-5 (employees)",
    lambda c: null_unless(
        np.clip(np.round(3.2 + 0.6 * c.get("_ability") + 0.5 * c.z("employment.rating")), 1, 5),
        c.get("_status") == 2,
    ),
)
add(
    "employment.sick_days_12m",
    I32,
    "sick days, 12 months",
    lambda c: c.get("employment.employed") * c.pois("employment.sick", 4 + c.age / 20),
)
add(
    "employment.remote_days_month",
    I32,
    "days worked remotely a month",
    lambda c: (
        c.get("employment.employed")
        * np.minimum(c.pois("employment.remote", 1.5 * c.get("_tech")), 22)
    ),
)
add(
    "employment.badge_entries_30d",
    I32,
    "workplace badge entries, 30 days",
    lambda c: c.get("employment.employed") * c.pois("employment.badge", 21),
)
add(
    "employment.work_region_code",
    I32,
    "region of the workplace (null: not employed)",
    lambda c: null_unless(
        np.where(
            c.bern("employment.commuter", 0.08),
            np.floor(c.u("employment.work_region") * len(c.sc.population.regions)),
            c.region,
        ),
        c.get("employment.employed"),
    ),
)
add(
    "employment.retirement_year",
    I32,
    "year of retirement (null: not retired)",
    lambda c: null_unless(
        SIM_YEAR - (c.age - np.where(c.get("_female"), 55, 60)), c.get("_status") == 5
    ),
)


def _income(c: Ctx) -> np.ndarray:
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
    return money(out)


add("finance.monthly_income_cny", F64, "usual monthly income (wage, pension or benefit)", _income)
for _mi, _m in enumerate(MONTHS):
    add(
        f"employment.salary_cny_{_m}",
        F64,
        f"salary paid, month {_mi + 1}",
        lambda c, m=_m, last=_mi == 11: money(
            c.get("employment.employed")
            * c.get("finance.monthly_income_cny")
            * c.ln(f"employment.salary.{m}", 0.08)
            * (1.8 if last else 1.0)
        ),
    )
add(
    "employment.pension_contribution_cny_month",
    F64,
    "pension contribution a month",
    lambda c: money(0.08 * c.get("finance.monthly_income_cny") * (c.get("_status") == 2)),
)
add(
    "employment.housing_fund_cny_month",
    F64,
    "housing fund contribution a month",
    lambda c: money(
        0.07
        * c.get("finance.monthly_income_cny")
        * (c.get("_status") == 2)
        * c.get("household.urban_residence")
    ),
)
