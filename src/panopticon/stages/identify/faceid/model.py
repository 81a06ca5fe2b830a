"""The score model: distributions, quality classes, groups, their rates and the rate table.

`FaceIdScores` holds the impostor distribution, the probe quality classes and the
demographic groups; it answers the outcome rates of one search for a (quality, group)
pair or any mix of them, and `rate_table` lays them out as arrays for the engine's
kernels. The gallery holds the groups in their population shares; a group's FMR
multiplier acts on comparisons with impostors of its own group (NISTIR 8280). The fixed
mode's draw, `identify_fixed`, reads the same outcome codes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Annotated, Literal

import numpy as np
from numba import njit
from pydantic import BaseModel, ConfigDict, Field, field_validator
from scipy import special

from panopticon.core.records import CORRECT, MISSED, WRONG
from panopticon.stages.identify.faceid import quadrature
from panopticon.stages.identify.faceid.checks import (
    FaceIdError,
    check_gallery,
    check_names,
    check_share,
    check_sum_to_one,
    check_threshold,
    validate_mix,
)


@njit(cache=True, inline="always")
def identify_fixed(u: float, p_miss: float, p_wrong: float) -> int:
    """Outcome of one search from a uniform draw `u`: MISSED, WRONG or CORRECT."""
    if u < p_miss:
        return MISSED
    if u < p_miss + p_wrong:
        return WRONG
    return CORRECT


Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class FrozenModel(BaseModel):
    """Base for parameter models: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ScoreDistribution(FrozenModel):
    """A normal distribution of similarity scores (genuine or impostor comparisons)."""

    family: Literal["normal"] = "normal"
    mean: FiniteFloat
    sd: Annotated[float, Field(gt=0.0, allow_inf_nan=False)]

    def log_sf(self, s: np.ndarray | float) -> np.ndarray:
        """Log of P(score >= s), accurate far into the tail."""
        z = (np.asarray(s, dtype=float) - self.mean) / self.sd
        return special.log_ndtr(-z)

    def sf(self, s: np.ndarray | float) -> np.ndarray:
        """P(score >= s)."""
        return special.ndtr(-(np.asarray(s, dtype=float) - self.mean) / self.sd)

    def isf(self, p: float) -> float:
        """The score s with P(score >= s) = p."""
        return float(self.mean - self.sd * special.ndtri(p))


class QualityClass(FrozenModel):
    """An image-quality class of the probe: its genuine-score distribution.

    The impostor distribution is shared by all classes unless `impostor` overrides it.
    """

    genuine: ScoreDistribution
    impostor: ScoreDistribution | None = None
    description: str = ""


class Group(FrozenModel):
    """A demographic group: population share and its error differentials.

    `fmr_multiplier` scales the impostor tail of same-group pairs: a probe of this group
    compared with an enrolled impostor of the same group has FMR min(1, m * FMR(s)), as
    NISTIR 8280 measures differentials (same-demographic impostor pairs); with impostors of
    other groups it has the base FMR(s) (an ASSUMPTION: cross-group differentials are not
    modelled). `share` is also the group's share of the gallery. `extra_miss` is the
    probability that the mate comparison fails outright (e.g. an aged or poor enrolment
    photo): the mate then scores below any threshold, but impostors can still be named.
    `genuine_shift` moves the genuine-score mean (negative: more misses).
    """

    share: Probability
    fmr_multiplier: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 1.0
    extra_miss: Probability = 0.0
    genuine_shift: FiniteFloat = 0.0
    description: str = ""


class FaceIdScores(FrozenModel):
    """The score model: impostor scores, quality classes and demographic groups."""

    impostor: ScoreDistribution
    qualities: Annotated[dict[str, QualityClass], Field(min_length=1)]
    groups: Annotated[dict[str, Group], Field(min_length=1)]

    @field_validator("qualities")
    @classmethod
    def _qualities_named(cls, v: dict[str, QualityClass]) -> dict[str, QualityClass]:
        """Quality names must be command-line safe."""
        check_names("qualities", v)
        return v

    @field_validator("groups")
    @classmethod
    def _shares_sum_to_one(cls, v: dict[str, Group]) -> dict[str, Group]:
        """Group shares partition the population."""
        check_names("groups", v)
        check_sum_to_one("groups", {k: g.share for k, g in v.items()})
        return v

    # ---- lookups -------------------------------------------------------------------

    @property
    def quality_names(self) -> tuple[str, ...]:
        """Quality-class names in definition order (the engine's quality codes)."""
        return tuple(self.qualities)

    @property
    def group_names(self) -> tuple[str, ...]:
        """Group names in definition order (the engine's group codes)."""
        return tuple(self.groups)

    def quality(self, name: str) -> QualityClass:
        """The quality class called `name`; a FaceIdError names the allowed ones."""
        if name not in self.qualities:
            raise FaceIdError("quality", name, "allowed: " + ", ".join(self.qualities))
        return self.qualities[name]

    def group(self, name: str) -> Group:
        """The group called `name`; a FaceIdError names the allowed ones."""
        if name not in self.groups:
            raise FaceIdError("group", name, "allowed: " + ", ".join(self.groups))
        return self.groups[name]

    def impostor_for(self, quality: str) -> ScoreDistribution:
        """The impostor distribution used with probes of this quality class."""
        return self.quality(quality).impostor or self.impostor

    def quality_mix(self, quality: str | Mapping[str, float]) -> dict[str, float]:
        """Validate a class name or a {class: share} mix; return the mix."""
        return validate_mix("quality", quality, self.qualities)

    def group_mix(self, group: str | Mapping[str, float] | None) -> dict[str, float]:
        """Validate a group name, a {group: share} mix, or None (the population shares)."""
        if group is None:
            return {k: g.share for k, g in self.groups.items() if g.share > 0}
        return validate_mix("group", group, self.groups)

    # ---- rates -----------------------------------------------------------------------

    def fmr(self, threshold: float, quality: str, group: str) -> float:
        """Mean false-match rate of one impostor comparison at `threshold` (cached).

        The mean over the gallery: same-group impostors at the multiplied rate, the others
        at the base rate.
        """
        return self.pair_rates(1.0, threshold, quality, group).fmr

    def pair_rates(
        self, gallery: float, threshold: float, quality: str, group: str
    ) -> IdentificationRates:
        """Rates for one (quality, group) pair; computed once, then looked up."""
        gallery = check_gallery(gallery)
        threshold = check_threshold(threshold)
        q = self.quality(quality)
        g = self.group(group)
        imp = q.impostor or self.impostor
        values = quadrature.pair_rates(
            gallery,
            threshold,
            q.genuine.mean + g.genuine_shift,
            q.genuine.sd,
            imp.mean,
            imp.sd,
            g.fmr_multiplier,
            g.share,
            g.extra_miss,
        )
        return IdentificationRates(gallery, threshold, *values)

    def same_group_share(self, group: str) -> float:
        """Probability that a false match for a probe of `group` names someone of `group`.

        q = m share / (m share + 1 - share): the same-group impostors' share of the tail
        intensity (see `quadrature.same_group_share_of_false_matches`). With m = 1 it is the
        group's share of the gallery: a false match then names anyone.
        """
        g = self.group(group)
        return quadrature.same_group_share_of_false_matches(g.fmr_multiplier, g.share)

    def rates(
        self,
        gallery: float,
        threshold: float,
        quality: str | Mapping[str, float],
        group: str | Mapping[str, float] | None = None,
    ) -> IdentificationRates:
        """Rates for a quality class or mix and a group, group mix or the population.

        Mixtures are averages of the per-pair rates weighted by their shares; all of the
        reported quantities are linear in the mixture weights.
        """
        qmix = self.quality_mix(quality)
        gmix = self.group_mix(group)
        acc = np.zeros(6)
        for qname, qw in qmix.items():
            for gname, gw in gmix.items():
                acc += qw * gw * self.pair_rates(gallery, threshold, qname, gname).vector()
        pc, pw, pm, fmr, fpir, efc = (float(x) for x in acc)
        return IdentificationRates(float(gallery), float(threshold), pc, pw, pm, fmr, fpir, efc)

    def rate_table(self, gallery: float, threshold: float) -> RateTable:
        """Per (quality, group) rates as arrays, for lookup inside the engine's kernels."""
        key = (self.model_dump_json(), float(gallery), float(threshold))
        table = _TABLE_CACHE.get(key)
        if table is None:
            nq, ng = len(self.qualities), len(self.groups)
            enrolled = np.empty((nq, ng, 3))
            fpir = np.empty((nq, ng))
            for i, qname in enumerate(self.qualities):
                for j, gname in enumerate(self.groups):
                    r = self.pair_rates(gallery, threshold, qname, gname)
                    enrolled[i, j, MISSED] = r.p_miss
                    enrolled[i, j, WRONG] = r.p_wrong
                    enrolled[i, j, CORRECT] = r.p_correct
                    fpir[i, j] = r.fpir
            same = np.array([self.same_group_share(gname) for gname in self.groups])
            for arr in (enrolled, fpir, same):
                arr.setflags(write=False)
            table = RateTable(self.quality_names, self.group_names, enrolled, fpir, same)
            if len(_TABLE_CACHE) >= 1024:
                _TABLE_CACHE.clear()
            _TABLE_CACHE[key] = table
        return table


@dataclass(frozen=True, slots=True)
class IdentificationRates:
    """Outcome probabilities of one 1:N search at (gallery, threshold).

    For an enrolled person: p_correct + p_wrong + p_miss = 1. For a person not enrolled:
    fpir (someone is named) and expected_false_candidates = G * FMR(t), with `fmr` the
    mean FMR(t) over the gallery's impostors (same-group ones multiplied). For a mixture of
    quality classes or groups every field is the share-weighted mean (fmr included).
    """

    gallery: float
    threshold: float
    p_correct: float
    p_wrong: float
    p_miss: float
    fmr: float
    fpir: float
    expected_false_candidates: float

    @property
    def fnir(self) -> float:
        """NIST FNIR (rank 1, with threshold): the mate is not returned first."""
        return 1.0 - self.p_correct

    def hit_precision(self, enrolled_share: float) -> float:
        """Share of hits (someone named) that name the right person.

        `enrolled_share` is the fraction of searched faces that are in the gallery; the
        others can only produce false hits. NaN when no search ever hits.
        """
        e = check_share("enrolled_share", enrolled_share)
        right = e * self.p_correct
        hits = right + e * self.p_wrong + (1.0 - e) * self.fpir
        return right / hits if hits > 0 else math.nan

    def vector(self) -> np.ndarray:
        """(p_correct, p_wrong, p_miss, fmr, fpir, expected_false_candidates) as an array."""
        return np.array(
            [
                self.p_correct,
                self.p_wrong,
                self.p_miss,
                self.fmr,
                self.fpir,
                self.expected_false_candidates,
            ]
        )

    def as_dict(self) -> dict[str, float]:
        """All fields plus fnir, as plain floats."""
        d = asdict(self)
        d["fnir"] = self.fnir
        return d


@dataclass(frozen=True)
class RateTable:
    """Rates per (quality, group) code: `enrolled[q, g, MISSED|WRONG|CORRECT]`, `fpir[q, g]`.

    The arrays are read-only and ordered like `qualities` and `groups`, so a Numba kernel
    can pass ``enrolled[q, g, MISSED]`` and ``enrolled[q, g, WRONG]`` to `identify_fixed`.
    `same_group[g]` is the chance that a false match names someone of group g
    (`FaceIdScores.same_group_share`).
    """

    qualities: tuple[str, ...]
    groups: tuple[str, ...]
    enrolled: np.ndarray
    fpir: np.ndarray
    same_group: np.ndarray


_TABLE_CACHE: dict[tuple[str, float, float], RateTable] = {}


def clear_cache() -> None:
    """Forget all cached rates (e.g. in tests or after a very long sweep)."""
    quadrature.pair_rates.cache_clear()
    _TABLE_CACHE.clear()


def cache_info() -> object:
    """Hits and misses of the per-pair rate cache (functools' CacheInfo)."""
    return quadrature.pair_rates.cache_info()
