"""The education attributes of the dossier (procedural generators).

Years and level of schooling, school, graduation, entrance exam, subject grades,
attendance, discipline and certificates.
"""

from __future__ import annotations

import numpy as np

from panopticon.dossier.catalog import BOOL, F64, I32, SIM_YEAR, STR, Registry, null_unless
from panopticon.dossier.procedural.context import Ctx

REGISTRY = Registry()  # the education attributes, in order
add, latent, nested = REGISTRY.add, REGISTRY.latent, REGISTRY.nested


def _planned_years(c: Ctx) -> np.ndarray:
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


latent("_planned_years", _planned_years)
add(
    "education.years_of_schooling",
    I32,
    "years of schooling completed",
    lambda c: np.minimum(c.get("_planned_years"), np.maximum(c.age - 6, 0)),
)
add(
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
add(
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
add(
    "education.school_code",
    STR,
    "synthetic code of the last school attended",
    lambda c: c.code(
        "SCH", "education.school", 5, c.get("education.years_of_schooling") > 0, pool=800
    ),
)
add(
    "education.graduation_year",
    I32,
    "year of leaving education (null: enrolled/never)",
    lambda c: null_unless(
        SIM_YEAR - c.age + 6 + c.get("education.years_of_schooling"),
        ~c.get("education.currently_enrolled") & (c.get("education.years_of_schooling") > 0),
    ),
)
add(
    "education.entrance_exam_score",
    I32,
    "university entrance exam score (0-750)",
    lambda c: null_unless(
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
    add(
        f"education.grade.{_s}",
        F64,
        f"last recorded grade in {_s.replace('_', ' ')} (0-100)",
        lambda c, s=_s: null_unless(
            np.round(
                np.clip(72 + 9 * c.get("_ability") + 7 * c.z(f"education.grade.{s}"), 0, 100), 1
            ),
            c.get("education.years_of_schooling") >= 3,
        ),
    )
add(
    "education.attendance_rate",
    F64,
    "school attendance rate",
    lambda c: null_unless(
        np.round(np.clip(0.985 - 0.02 * c.prop * c.u("education.attend"), 0, 1), 3),
        c.get("education.years_of_schooling") > 0,
    ),
)
add(
    "education.disciplinary_records",
    I32,
    "school disciplinary records",
    lambda c: (
        (c.get("education.years_of_schooling") > 0) * c.pois("education.discipline", 0.25 * c.prop)
    ),
)
add(
    "education.class_rank_percentile",
    I32,
    "last class rank percentile",
    lambda c: null_unless(
        np.clip(np.round(50 + 28 * c.get("_ability")), 1, 99),
        c.get("education.years_of_schooling") > 0,
    ),
)
add(
    "education.scholarships_received",
    I32,
    "scholarships received",
    lambda c: (
        c.pois("education.scholarships", 0.3 * np.exp(c.get("_ability")))
        * (c.get("education.years_of_schooling") >= 9)
    ),
)
add(
    "education.student_loan_taken",
    BOOL,
    "took a student loan",
    lambda c: (
        (c.get("_planned_years") >= 15) & (c.age >= 18) & c.bern("education.student_loan", 0.2)
    ),
)
add(
    "education.boarding_school",
    BOOL,
    "attended a boarding school",
    lambda c: (
        c.bern("education.boarding", np.where(c.get("household.urban_residence"), 0.1, 0.35))
        & (c.age >= 10)
    ),
)
add(
    "education.online_courses_completed_12m",
    I32,
    "online courses completed, 12 months",
    lambda c: c.pois("education.online_courses", 0.5 * c.get("_tech")),
)
add(
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
    add(
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
