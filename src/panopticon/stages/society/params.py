"""The social graph's scenario schema: households, workplaces, friends and avoidance.

Pydantic models only, no kernels: the scenario schema imports this module. The age
constants live here because the schema bounds ages with them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from panopticon.core.params import NonNegative, Probability, Strict

ADULT_AGE = 18
MAX_AGE = 120
N_AGES = MAX_AGE + 1


class Households(Strict):
    """Household sizes and who lives together; ages are matched so families are plausible."""

    sizes: dict[str, Probability] = Field(
        default_factory=lambda: {"1": 0.15, "2": 0.30, "3": 0.30, "4": 0.15, "5": 0.10},
        description="household size (1 to 20) -> share of households",
    )
    couple_share: Probability = Field(
        0.7, description="share of multi-person households headed by two adults (else one)"
    )
    parent_gap_mean: float = Field(28.0, ge=0, le=80, description="parent minus child age, mean")
    parent_gap_sd: NonNegative = Field(5.0, le=40, description="parent minus child age, sd")
    parent_gap_min: int = Field(18, ge=10, le=80, description="smallest parent-child gap")
    parent_gap_max: int = Field(50, ge=10, le=100, description="largest parent-child gap")
    spouse_age_sd: NonNegative = Field(3.0, le=40, description="sd of the two heads' age gap")
    sibling_age_sd: NonNegative = Field(3.0, le=20, description="spread of siblings' ages")

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("network.households.sizes: empty is not allowed; give one size")
        for key in value:
            if not key.strip().isdigit() or not 1 <= int(key) <= 20:
                raise ValueError(
                    f"network.households.sizes.{key}: not a household size; use '1' to '20'"
                )
        total = sum(value.values())
        if abs(total - 1.0) > 1e-9:
            raise ValueError(
                f"network.households.sizes: shares sum to {total:g}, which is not allowed; "
                "they must sum to 1"
            )
        return value

    @model_validator(mode="after")
    def _gaps(self) -> Households:
        lo, mean, hi = self.parent_gap_min, self.parent_gap_mean, self.parent_gap_max
        if not lo <= mean <= hi:
            raise ValueError(
                f"network.households: parent_gap_min = {lo}, parent_gap_mean = {mean:g}, "
                f"parent_gap_max = {hi} is not allowed; need min <= mean <= max"
            )
        return self

    def size_shares(self) -> np.ndarray:
        """Share of households of size 1..max as a float64 array (index 0 is size 1)."""
        top = max(int(k) for k in self.sizes)
        out = np.zeros(top, dtype=np.float64)
        for key, share in self.sizes.items():
            out[int(key) - 1] += share
        return out


class Workplaces(Strict):
    """Work groups for employed adults of working age and school classes for pupils."""

    work_mean_size: float = Field(15.0, ge=1, le=10_000, description="mean work group size")
    school_mean_size: float = Field(40.0, ge=1, le=10_000, description="mean class size")
    work_min_age: int = Field(18, ge=0, le=MAX_AGE)
    work_max_age: int = Field(64, ge=0, le=MAX_AGE)
    employment: Probability = Field(0.75, description="share of working-age adults employed")
    school_min_age: int = Field(6, ge=0, le=MAX_AGE)
    school_max_age: int = Field(17, ge=0, le=MAX_AGE)

    @model_validator(mode="after")
    def _ages(self) -> Workplaces:
        for kind in ("work", "school"):
            lo, hi = getattr(self, f"{kind}_min_age"), getattr(self, f"{kind}_max_age")
            if lo > hi:
                raise ValueError(
                    f"network.workplaces.{kind}_min_age = {lo} is not allowed; it must be at "
                    f"most {kind}_max_age = {hi}"
                )
        if self.school_max_age >= self.work_min_age:
            raise ValueError(
                f"network.workplaces.school_max_age = {self.school_max_age} is not allowed; "
                f"it must be below work_min_age = {self.work_min_age} (one group per person)"
            )
        return self


class Friends(Strict):
    """Friendship degrees and homophily by region and age."""

    distribution: Literal["negative_binomial", "lognormal"] = Field(
        "negative_binomial",
        description="negative_binomial: Poisson(λ), λ ~ Gamma; lognormal: rounded LogNormal",
    )
    mean: float = Field(10.0, ge=0, le=1000, description="mean number of friends")
    dispersion: float = Field(
        0.6, ge=0, le=10, description="coefficient of variation of sociability (0: Poisson)"
    )
    max_degree: int = Field(200, ge=1, le=10_000, description="degrees are capped here")
    same_region: Probability = Field(
        0.85, description="share of ties formed within the region; the rest form nationally"
    )
    age_scale: float = Field(
        8.0, ge=0, le=1000, description="sd (years) of the age difference between friends"
    )

    @model_validator(mode="after")
    def _mean_cap(self) -> Friends:
        if self.mean > self.max_degree:
            raise ValueError(
                f"network.friends.mean = {self.mean:g} is not allowed; it must be at most "
                f"max_degree = {self.max_degree}"
            )
        return self


class Avoidance(Strict):
    """People drop low-grade friends on a schedule and befriend people with better scores."""

    enabled: bool = Field(False, description="run avoidance rounds")
    every_days: int = Field(30, ge=1, le=36500, description="days between rounds")
    p_drop: Probability = Field(0.1, description="per round, chance to drop each low friend")
    p_new: Probability = Field(0.5, description="chance each drop is replaced by a new tie")
    preference: float = Field(
        2.0, ge=0, le=50, description="new partner weight exp(preference * attractiveness)"
    )
    score_blind: bool = Field(
        False, description="control: drops and new ties ignore the score, same churn"
    )
    policy: str = Field("score", description="the score policy whose grades people see")
    avoid_grades: list[str] = Field(
        default_factory=list, description="friends in these grades are dropped"
    )
    tries: int = Field(20, ge=1, le=1000, description="partner proposals per new tie")
    slack: int = Field(1, ge=0, le=1000, description="free friend slots per person at build")
    pool: float = Field(
        0.25, ge=0, le=100, description="shared overflow slots per citizen for growing rows"
    )


class NetworkParams(Strict):
    """The social graph: households, work/school groups, friendships and avoidance."""

    households: Households = Households()
    workplaces: Workplaces = Workplaces()
    friends: Friends = Friends()
    avoidance: Avoidance = Avoidance()
