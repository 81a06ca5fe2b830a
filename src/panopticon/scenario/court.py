"""The scenario table of the court list of judgment defaulters (`sanctions.court`).

The Supreme People's Court's list of dishonest judgment debtors as a mechanism
(`stages/sanction/court.py`, docs/court-list.md): enforcement cases arrive per person at
a dated rate; at judgment a debtor performs or defaults; a defaulting debtor is listed
at a dated hazard; debtors comply at a hazard that listing multiplies; compliance ends
the listing, and a listing lasts at most `duration_days`. Measures restrict listed
people with ``trigger = { policy = "court" }``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from panopticon.core.params import MAX_PER_YEAR, IntPair, Probability, Scheduled, Strict

COURT_LIST = "court"
"""The policy name measures trigger on (``trigger = { policy = "court" }``)."""

PerYear = Annotated[float, Field(ge=0.0, le=MAX_PER_YEAR)]


class CourtList(Strict):
    """The court list of judgment defaulters: cases, default, listing, compliance, expiry.

    Rates and hazards are per person-year (today's value when a schedule); on a day the
    event happens with probability 1 - exp(-hazard / 365). Only citizens aged within
    `ages` are judgment debtors; a citizen with an open case (defaulting or listed) gets
    no new one.
    """

    cases_per_year: Scheduled[PerYear] = Field(
        0.0, description="enforcement cases per eligible person-year (0 to 1e5, or a schedule)"
    )
    perform_share: Scheduled[Probability] = Field(
        0.5, description="share of debtors who perform at judgment (never defaulting)"
    )
    listing_per_year: Scheduled[PerYear] = Field(
        1.0, description="hazard (per year) that a defaulting debtor is listed"
    )
    compliance_per_year: Scheduled[PerYear] = Field(
        0.05, description="base hazard (per year) that a defaulting debtor complies"
    )
    listing_multiplier: Scheduled[Annotated[float, Field(ge=0.0, le=1000.0)]] = Field(
        1.0, description="listed debtors comply at base hazard x this (may be dated)"
    )
    duration_days: int = Field(
        730, ge=1, le=36500, description="longest listing in days (removed when it ends)"
    )
    initial_defaulting: Probability = Field(
        0.0, description="share of eligible citizens already defaulting (unlisted) on day 0"
    )
    ages: IntPair = Field((18, 90), description="ages of possible judgment debtors")
