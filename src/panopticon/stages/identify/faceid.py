"""Face identification, modelled by its error rates (never by images).

A seen act is searched against the gallery of enrolled faces. The outcome is one of
three: the search is *missed* (no candidate at or above threshold), it names the
*wrong* person (a false match; the record lands on an innocent citizen), or it names
the right person. The `fixed` mode takes these rates directly, as the minimal model does.

The `scores` mode derives the three rates from first principles. Each comparison of a
probe with one enrolled template gives a similarity score: *genuine* (same person) or
*impostor* (different people). A 1:N search against a gallery of G templates returns the
best-scoring candidate if it is at or above the threshold t. With the genuine score
distribution (per image-quality class and demographic group), the impostor distribution
and G, the outcome probabilities follow analytically:

- enrolled person (mate plus G-1 impostors): ``p_correct``, ``p_wrong``, ``p_miss``;
- person not enrolled (G impostors): ``fpir = 1 - (1 - FMR(t))**G``.

Nothing here looks at a face: scores are numbers drawn from distributions, calibrated to
published NIST operating points (see ``docs/faceid.md`` and the constants below). Powers
such as (1 - FMR)**(G-1) are computed in log space (log1p/expm1), so galleries up to 1e10
and beyond keep full floating-point accuracy.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Annotated, Literal

import numpy as np
from numba import njit
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from scipy import optimize, special

from panopticon.core.records import CORRECT, MISSED, WRONG


@njit(cache=True, inline="always")
def identify_fixed(u: float, p_miss: float, p_wrong: float) -> int:
    """Outcome of one search from a uniform draw `u`: MISSED, WRONG or CORRECT."""
    if u < p_miss:
        return MISSED
    if u < p_miss + p_wrong:
        return WRONG
    return CORRECT


# --------------------------------------------------------------------------------------
# Published operating points (calibration.md, section 6) and the defaults fitted to them.
# --------------------------------------------------------------------------------------

#: NIST FRTE 1:N headline operating point: FNIR is reported at FPIR = 0.003.
NIST_FPIR = 0.003
#: FRTE 1:N January 2024: best mugshot result, FNIR 0.12% (99.88%) at N = 12 M, FPIR 0.003.
NIST_MUGSHOT_GALLERY = 12e6
NIST_MUGSHOT_FNIR = 0.0012
#: Secondary note (UNCONFIRMED): top FNIR 2-5% on border-crossing images at FPIR 0.003;
#: we match the midpoint. The border gallery size is not in the available text: 12 M assumed.
NIST_BORDER_FNIR = 0.035
NIST_BORDER_GALLERY = 12e6
#: NIST FIVE (2017): better algorithms identified "around 60 percent" to "more than 99
#: percent" from video, galleries up to 48,000. We match the 60% end (surveillance
#: frames: subjects not looking at the camera); FPIR 0.003 is an assumption.
NIST_FIVE_FNIR = 0.40
NIST_FIVE_GALLERY = 48_000.0
#: The source article: 1.3 billion ID photos, "90 per cent" hit-rate target (no FPIR given).
CLAIM_GALLERY = 1.3e9
CLAIM_HIT_RATE = 0.90
#: "Identify any of 1.3 bn citizens within 3 seconds" (SCMP 2017): the latency target.
CLAIM_LATENCY_S = 3.0

#: Fixed default threshold: the population-mix FPIR is 0.003 at N = 12 M (NIST operating
#: point). Held fixed, false positives then grow with the gallery. Fitted by
#: `calibrate_defaults()`; the test suite checks these digits against a fresh fit.
DEFAULT_THRESHOLD = 6.3251408
#: Genuine-score means fitted to the FNIR targets above (sd are assumptions, see below).
DEFAULT_GENUINE_MEAN = {
    "enrolment": 9.3615823,
    "cooperative": 9.0435511,
    "surveillance": 6.0432567,
}
#: Genuine-score spreads: ASSUMPTIONS (one operating point per class fixes one parameter).
DEFAULT_GENUINE_SD = {"enrolment": 1.0, "cooperative": 1.5, "surveillance": 2.5}
#: Searches per day for the cost estimate: ASSUMPTION, one search per ID-photo holder.
DEFAULT_SEARCHES_PER_DAY = 1.3e9

_NAME_RE = re.compile(r"^[A-Za-z0-9_\-]+$")
_SHARE_TOL = 1e-9
_LN2 = math.log(2.0)
_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)


class FaceIdError(ValueError):
    """A bad input, with the field, the value and what is allowed (one line)."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}: {value!r} is not allowed; {allowed}")


# --------------------------------------------------------------------------------------
# Parameters (pydantic v2)
# --------------------------------------------------------------------------------------

Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class _Frozen(BaseModel):
    """Base for parameter models: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ScoreDistribution(_Frozen):
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


class QualityClass(_Frozen):
    """An image-quality class of the probe: its genuine-score distribution.

    The impostor distribution is shared by all classes unless `impostor` overrides it.
    """

    genuine: ScoreDistribution
    impostor: ScoreDistribution | None = None
    description: str = ""


class Group(_Frozen):
    """A demographic group: population share and its error differentials.

    `fmr_multiplier` scales the impostor tail: FMR_group(s) = min(1, m * FMR(s)), for all
    comparisons of this group's probes. `extra_miss` is the probability that the mate
    comparison fails outright (e.g. an aged or poor enrolment photo): the mate then
    scores below any threshold, but impostors can still be named. `genuine_shift` moves
    the genuine-score mean (negative: more misses).
    """

    share: Probability
    fmr_multiplier: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 1.0
    extra_miss: Probability = 0.0
    genuine_shift: FiniteFloat = 0.0
    description: str = ""


def _check_names(field: str, names: Mapping[str, object]) -> None:
    """Reject names that the command line could not spell (used in `a=0.5,b=0.5`)."""
    for name in names:
        if not _NAME_RE.match(name):
            raise FaceIdError(field, name, "names use letters, digits, '_' and '-' only")


class FaceIdScores(_Frozen):
    """The score model: impostor scores, quality classes and demographic groups."""

    impostor: ScoreDistribution
    qualities: Annotated[dict[str, QualityClass], Field(min_length=1)]
    groups: Annotated[dict[str, Group], Field(min_length=1)]

    @field_validator("qualities")
    @classmethod
    def _qualities_named(cls, v: dict[str, QualityClass]) -> dict[str, QualityClass]:
        """Quality names must be command-line safe."""
        _check_names("qualities", v)
        return v

    @field_validator("groups")
    @classmethod
    def _shares_sum_to_one(cls, v: dict[str, Group]) -> dict[str, Group]:
        """Group shares partition the population."""
        _check_names("groups", v)
        total = math.fsum(g.share for g in v.values())
        if abs(total - 1.0) > _SHARE_TOL:
            shares = {k: g.share for k, g in v.items()}
            raise FaceIdError(
                "groups",
                shares,
                f"shares must sum to 1 (tolerance 1e-9); these sum to {total:.12g}",
            )
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
        return _validate_mix("quality", quality, self.qualities)

    def group_mix(self, group: str | Mapping[str, float] | None) -> dict[str, float]:
        """Validate a group name, a {group: share} mix, or None (the population shares)."""
        if group is None:
            return {k: g.share for k, g in self.groups.items() if g.share > 0}
        return _validate_mix("group", group, self.groups)

    # ---- rates -----------------------------------------------------------------------

    def fmr(self, threshold: float, quality: str, group: str) -> float:
        """False-match rate of one impostor comparison at `threshold` (cached)."""
        return self.pair_rates(1.0, threshold, quality, group).fmr

    def pair_rates(
        self, gallery: float, threshold: float, quality: str, group: str
    ) -> IdentificationRates:
        """Rates for one (quality, group) pair; computed once, then looked up."""
        gallery = _check_gallery(gallery)
        threshold = _check_threshold(threshold)
        q = self.quality(quality)
        g = self.group(group)
        imp = q.impostor or self.impostor
        values = _pair_rates(
            gallery,
            threshold,
            q.genuine.mean + g.genuine_shift,
            q.genuine.sd,
            imp.mean,
            imp.sd,
            g.fmr_multiplier,
            g.extra_miss,
        )
        return IdentificationRates(gallery, threshold, *values)

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
            enrolled.setflags(write=False)
            fpir.setflags(write=False)
            table = RateTable(self.quality_names, self.group_names, enrolled, fpir)
            if len(_TABLE_CACHE) >= 1024:
                _TABLE_CACHE.clear()
            _TABLE_CACHE[key] = table
        return table


def _validate_mix(
    field: str, mix: str | Mapping[str, float], allowed: Mapping[str, object]
) -> dict[str, float]:
    """A name becomes {name: 1}; a mapping is checked: known names, shares sum to 1."""
    names = ", ".join(allowed)
    if isinstance(mix, str):
        if mix not in allowed:
            raise FaceIdError(field, mix, f"allowed: {names}")
        return {mix: 1.0}
    out: dict[str, float] = {}
    for name, share in mix.items():
        if name not in allowed:
            raise FaceIdError(field, name, f"allowed: {names}")
        s = float(share)
        if not 0.0 <= s <= 1.0:
            raise FaceIdError(f"{field}.{name}", share, "a share between 0 and 1")
        if s > 0:
            out[name] = out.get(name, 0.0) + s
    total = math.fsum(float(s) for s in mix.values())
    if abs(total - 1.0) > _SHARE_TOL:
        raise FaceIdError(
            field, dict(mix), f"shares must sum to 1 (tolerance 1e-9); these sum to {total:.12g}"
        )
    return out


def _check_gallery(gallery: float) -> float:
    """Gallery size: a finite number >= 1 (non-integers allowed, e.g. 1.3e9)."""
    try:
        g = float(gallery)
    except (TypeError, ValueError):
        raise FaceIdError("gallery", gallery, "a number >= 1, e.g. 1.3e9") from None
    if not (math.isfinite(g) and g >= 1.0):
        raise FaceIdError("gallery", gallery, "a number >= 1, e.g. 1.3e9")
    return g


def _check_threshold(threshold: float) -> float:
    """Threshold: any score, including +-inf (no match / everything matches); not NaN."""
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise FaceIdError("threshold", threshold, "a number (a similarity score)") from None
    if math.isnan(t):
        raise FaceIdError("threshold", threshold, "a number (a similarity score)")
    return t


def _check_share(field: str, value: float) -> float:
    """A probability in [0, 1]."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise FaceIdError(field, value, "a number between 0 and 1") from None
    if not 0.0 <= v <= 1.0:
        raise FaceIdError(field, value, "a number between 0 and 1")
    return v


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IdentificationRates:
    """Outcome probabilities of one 1:N search at (gallery, threshold).

    For an enrolled person: p_correct + p_wrong + p_miss = 1. For a person not enrolled:
    fpir (someone is named) and expected_false_candidates = G * FMR(t). For a mixture of
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
        e = _check_share("enrolled_share", enrolled_share)
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
    """

    qualities: tuple[str, ...]
    groups: tuple[str, ...]
    enrolled: np.ndarray
    fpir: np.ndarray


_TABLE_CACHE: dict[tuple[str, float, float], RateTable] = {}


# --------------------------------------------------------------------------------------
# The analytic core
# --------------------------------------------------------------------------------------


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - exp(x)) for x <= 0, accurate for x near 0 and for x very negative."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > -_LN2, np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def _log_fmr(s: np.ndarray, mu_i: float, sd_i: float, log_mult: float) -> np.ndarray:
    """Log FMR(s) = log min(1, m * P(impostor >= s))."""
    z = (np.asarray(s, dtype=float) - mu_i) / sd_i
    return np.minimum(0.0, special.log_ndtr(-z) + log_mult)


def _max_cdf(log_fmr: np.ndarray, n: float) -> tuple[np.ndarray, np.ndarray]:
    """P(all n impostors < s) and its complement, from log FMR(s); stable for n to 1e10.

    (1 - FMR)**n = exp(n * log1p(-FMR)), with log(1 - FMR) from log FMR via log1mexp.
    """
    if n == 0:
        ones = np.ones_like(log_fmr)
        return ones, np.zeros_like(log_fmr)
    a = n * _log1mexp(log_fmr)
    return np.exp(a), -np.expm1(a)


def _quadrature_nodes(
    lo: float,
    hi: float,
    features: list[tuple[float, float, float]],
    kinks: list[float],
) -> tuple[np.ndarray, np.ndarray]:
    """Composite 16-point Gauss-Legendre nodes and weights on [lo, hi].

    `features` are (centre, half-width, step): within centre +- half-width, sub-intervals
    are at most `step` wide. Outside all features the coarsest step is used. `kinks` are
    extra breakpoints where the integrand's derivative jumps.
    """
    coarse = max(step for _, _, step in features)
    pts = [lo, hi, *kinks]
    for c, hw, step in features:
        k = round(hw / step)
        pts.extend(c + step * np.arange(-k, k + 1))
    edges = np.unique(np.clip(np.asarray(pts, dtype=float), lo, hi))
    pieces = []
    for a, b in itertools.pairwise(edges):
        if b <= a:
            continue
        mid = 0.5 * (a + b)
        step = min([s for c, hw, s in features if abs(mid - c) <= hw] or [coarse])
        n = max(1, math.ceil((b - a) / step - 1e-9))
        pieces.append(np.linspace(a, b, n + 1))
    if not pieces:
        return np.empty(0), np.empty(0)
    left = np.concatenate([p[:-1] for p in pieces])
    right = np.concatenate([p[1:] for p in pieces])
    half = 0.5 * (right - left)
    mid = 0.5 * (right + left)
    x = (mid[:, None] + half[:, None] * _GL_X[None, :]).ravel()
    w = (half[:, None] * _GL_W[None, :]).ravel()
    return x, w


@lru_cache(maxsize=1 << 16)
def _pair_rates(
    gallery: float,
    t: float,
    mu_g: float,
    sd_g: float,
    mu_i: float,
    sd_i: float,
    fmr_multiplier: float,
    extra_miss: float,
) -> tuple[float, float, float, float, float, float]:
    """(p_correct, p_wrong, p_miss, fmr, fpir, expected_false_candidates); cached.

    Enrolled: the mate scores S ~ N(mu_g, sd_g), N = G-1 impostors have max M with
    P(M < s) = (1 - FMR(s))**N. Then

        p_correct = int_t^inf f_g(s) P(M < s) ds
        p_miss    = P(S < t) P(M < t)
        p_wrong   = P(S < t) P(M >= t) + int_t^inf f_g(s) P(M >= s) ds

    Of the two integrals (which add up to P(S >= t)) the smaller is integrated and the
    larger obtained by subtraction, so small rates keep their relative accuracy and the
    three rates sum to 1. With probability `extra_miss` the mate comparison fails and only
    the impostors can return a candidate.
    """
    n = gallery - 1.0
    log_mult = math.log(fmr_multiplier)
    if t == math.inf:
        return 0.0, 0.0, 1.0, 0.0, 0.0, 0.0
    log_fmr_t = _log_fmr(np.array([t]), mu_i, sd_i, log_mult)
    below_t, above_t = _max_cdf(log_fmr_t, n)
    below_t, above_t = float(below_t[0]), float(above_t[0])
    zt = (t - mu_g) / sd_g
    g_below = float(special.ndtr(zt))
    g_above = float(special.ndtr(-zt))

    lo = max(t, mu_g - 12.0 * sd_g)
    hi = max(mu_g + 12.0 * sd_g, lo + 12.0 * sd_g)
    features = [(mu_g, 12.0 * sd_g, sd_g / 4.0), (mu_i, 10.0 * sd_i, sd_i / 4.0)]
    kinks: list[float] = []
    if fmr_multiplier > 1.0:  # FMR reaches 1 here: the max-CDF has a kink
        kinks.append(mu_i + sd_i * float(-special.ndtri(1.0 / fmr_multiplier)))
    if n * fmr_multiplier > 1.0:  # where n * FMR(s) = 1 the max-CDF rises from 0 to 1
        z_star = float(-special.ndtri(1.0 / (n * fmr_multiplier)))
        width = sd_i / max(1.0, z_star)
        features.append((mu_i + sd_i * z_star, 8.0 * width, width / 4.0))
    x, w = _quadrature_nodes(lo, hi, features, kinks)
    z = (x - mu_g) / sd_g
    dens = np.exp(-0.5 * z * z) / (sd_g * math.sqrt(2.0 * math.pi))
    cdf, tail = _max_cdf(_log_fmr(x, mu_i, sd_i, log_mult), n)
    i_correct = float(np.dot(w, dens * cdf))
    i_wrong = float(np.dot(w, dens * tail))
    if i_correct <= i_wrong:
        i_wrong = max(g_above - i_correct, 0.0)
    else:
        i_correct = max(g_above - i_wrong, 0.0)

    keep = 1.0 - extra_miss
    p_correct = keep * i_correct
    p_wrong = keep * (g_below * above_t + i_wrong) + extra_miss * above_t
    p_miss = keep * g_below * below_t + extra_miss * below_t

    fmr = float(np.exp(log_fmr_t[0]))
    fpir = float(-np.expm1(gallery * _log1mexp(log_fmr_t)[0]))
    return p_correct, p_wrong, p_miss, fmr, fpir, gallery * fmr


def clear_cache() -> None:
    """Forget all cached rates (e.g. in tests or after a very long sweep)."""
    _pair_rates.cache_clear()
    _TABLE_CACHE.clear()


def cache_info() -> object:
    """Hits and misses of the per-pair rate cache (functools' CacheInfo)."""
    return _pair_rates.cache_info()


# --------------------------------------------------------------------------------------
# Thresholds and calibration
# --------------------------------------------------------------------------------------


def _solve_decreasing(
    f: Callable[[float], float], target: float, lo: float, hi: float, what: str, log: bool
) -> float:
    """Root of the decreasing function f(t) = target on [lo, hi] (brentq)."""

    def g(t: float) -> float:
        v = f(t)
        if log:
            return math.log(max(v, 1e-300)) - math.log(target)
        return v - target

    glo, ghi = g(lo), g(hi)
    if glo < 0 or ghi > 0:
        raise FaceIdError(what, target, f"a value between {f(hi):.6g} and {f(lo):.6g}")
    return float(optimize.brentq(g, lo, hi, xtol=1e-12, rtol=1e-15, maxiter=500))


def _score_range(model: FaceIdScores) -> tuple[float, float]:
    """A score interval wide enough to contain every threshold of interest."""
    dists = [model.impostor]
    for q in model.qualities.values():
        dists.append(q.genuine)
        if q.impostor is not None:
            dists.append(q.impostor)
    shifts = [g.genuine_shift for g in model.groups.values()]
    lo = min(d.mean - 30.0 * d.sd for d in dists) + min(0.0, *shifts)
    hi = max(d.mean + 30.0 * d.sd for d in dists) + max(0.0, *shifts)
    return lo, hi


def threshold_for_fpir(
    model: FaceIdScores,
    gallery: float,
    fpir: float,
    quality: str | Mapping[str, float] | None = None,
    group: str | Mapping[str, float] | None = None,
) -> float:
    """Threshold at which searches for people not enrolled name someone with rate `fpir`.

    This is how NIST sets its operating points (e.g. FPIR = 0.003). `quality` matters only
    when a class overrides the impostor distribution (default: the first class).
    """
    gallery = _check_gallery(gallery)
    target = float(fpir)
    if not 0.0 < target < 1.0:
        raise FaceIdError("fpir", fpir, "a number strictly between 0 and 1")
    q = model.quality_names[0] if quality is None else quality
    lo, hi = _score_range(model)
    return _solve_decreasing(
        lambda t: model.rates(gallery, t, q, group).fpir, target, lo, hi, "fpir", log=True
    )


def threshold_for_hit_rate(
    model: FaceIdScores,
    gallery: float,
    hit_rate: float,
    quality: str | Mapping[str, float],
    group: str | Mapping[str, float] | None = None,
) -> float:
    """Highest threshold at which an enrolled person is named correctly with `hit_rate`.

    Raises FaceIdError when even no threshold reaches it: the mate must still outrank all
    G-1 impostors, which caps the hit rate at the rank-1 identification rate.
    """
    gallery = _check_gallery(gallery)
    target = float(hit_rate)
    if not 0.0 < target < 1.0:
        raise FaceIdError("hit_rate", hit_rate, "a number strictly between 0 and 1")
    best = model.rates(gallery, -math.inf, quality, group).p_correct
    if target > best:
        raise FaceIdError(
            "hit_rate",
            hit_rate,
            f"at most {best:.4f} is reachable at gallery {gallery:.4g} (the rank-1 rate: "
            "the mate outranks every impostor even with no threshold)",
        )
    lo, hi = _score_range(model)
    return _solve_decreasing(
        lambda t: model.rates(gallery, t, quality, group).p_correct,
        target,
        lo,
        hi,
        "hit_rate",
        log=False,
    )


def calibrate_genuine_mean(
    model: FaceIdScores,
    quality: str,
    fnir: float,
    gallery: float,
    fpir: float = NIST_FPIR,
    group: str | Mapping[str, float] | None = None,
) -> float:
    """Genuine-score mean of `quality` that gives `fnir` at (gallery, fpir), sd held.

    Reproduces one published operating point: the threshold is set for `fpir` on the
    population (or `group`) mix, then the mean is solved for FNIR = `fnir`.
    """
    t = threshold_for_fpir(model, gallery, fpir, quality, group)
    target = _check_share("fnir", fnir)
    qc = model.quality(quality)
    lo, hi = t - 40.0 * qc.genuine.sd, t + 40.0 * qc.genuine.sd

    def fnir_at(mean: float) -> float:
        genuine = qc.genuine.model_copy(update={"mean": mean})
        qualities = dict(model.qualities)
        qualities[quality] = qc.model_copy(update={"genuine": genuine})
        trial = model.model_copy(update={"qualities": qualities})
        return trial.rates(gallery, t, quality, group).fnir

    # fnir falls as the mean rises: solve -fnir(mean) = -target (increasing -> flip sign)
    return float(optimize.brentq(lambda m: fnir_at(m) - target, lo, hi, xtol=1e-10, rtol=1e-15))


def _default_groups() -> dict[str, Group]:
    """Population groups by sex (NISTIR 8280: women 2-5x more false positives)."""
    return {
        "men": Group(
            share=0.51,
            description="reference group (share: ASSUMPTION, about the census sex ratio)",
        ),
        "women": Group(
            share=0.49,
            fmr_multiplier=3.0,
            description="FMR x3, inside NISTIR 8280's 2-5x for women; no FN differential",
        ),
    }


def _default_qualities(means: Mapping[str, float]) -> dict[str, QualityClass]:
    """The three probe quality classes with the given genuine means."""
    text = {
        "enrolment": "ID/mugshot-style photo; FNIR 0.12% at N=12M, FPIR 0.003 (FRTE 2024)",
        "cooperative": "gate or kiosk photo; FNIR 3.5% at N=12M, FPIR 0.003 (border, 2-5%)",
        "surveillance": "surveillance frame; FNIR 40% at N=48k, FPIR 0.003 (NIST FIVE 60%)",
    }
    return {
        name: QualityClass(
            genuine=ScoreDistribution(mean=means[name], sd=DEFAULT_GENUINE_SD[name]),
            description=text[name],
        )
        for name in ("enrolment", "cooperative", "surveillance")
    }


def default_model() -> FaceIdScores:
    """The calibrated default model (constants fitted by `calibrate_defaults`).

    Impostor scores are standard normal, so a threshold t means FMR = P(Z >= t) for the
    reference group; the genuine means are fitted, the genuine sds are assumptions.
    """
    return FaceIdScores(
        impostor=ScoreDistribution(mean=0.0, sd=1.0),
        qualities=_default_qualities(DEFAULT_GENUINE_MEAN),
        groups=_default_groups(),
    )


def calibrate_defaults() -> tuple[float, dict[str, float]]:
    """Refit DEFAULT_THRESHOLD and DEFAULT_GENUINE_MEAN to the NIST operating points.

    Returns (threshold, {quality: genuine mean}). The threshold gives population FPIR
    0.003 at N = 12 M; each mean gives its FNIR target at its gallery and FPIR 0.003.
    """
    model = FaceIdScores(
        impostor=ScoreDistribution(mean=0.0, sd=1.0),
        qualities=_default_qualities(dict.fromkeys(DEFAULT_GENUINE_SD, 5.0)),
        groups=_default_groups(),
    )
    threshold = threshold_for_fpir(model, NIST_MUGSHOT_GALLERY, NIST_FPIR)
    targets = {
        "enrolment": (NIST_MUGSHOT_FNIR, NIST_MUGSHOT_GALLERY),
        "cooperative": (NIST_BORDER_FNIR, NIST_BORDER_GALLERY),
        "surveillance": (NIST_FIVE_FNIR, NIST_FIVE_GALLERY),
    }
    means = {
        name: calibrate_genuine_mean(model, name, fnir, gallery)
        for name, (fnir, gallery) in targets.items()
    }
    return threshold, means


# --------------------------------------------------------------------------------------
# Search cost
# --------------------------------------------------------------------------------------


class SearchHardware(_Frozen):
    """Template size and per-server throughput for an exhaustive 1:N search.

    Defaults are ASSUMPTIONS: 512-byte templates of int8 elements, 200 GB/s sustained
    memory bandwidth, 5e12 int8 multiply-adds per second and 512 GiB memory per server.
    """

    template_bytes: Annotated[int, Field(ge=1)] = 512
    element_bytes: Annotated[int, Field(ge=1)] = 1
    memory_bandwidth: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 200e9
    compute_ops: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 5e12
    server_memory: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 512.0 * 2**30
    batch_size: Annotated[int, Field(ge=1)] = 1


@dataclass(frozen=True, slots=True)
class SearchCost:
    """Memory traffic, compute and servers for exhaustive 1:N searches.

    One pass streams all G templates (G * template_bytes) from memory and compares them
    with `batch_size` probes; a search's share of the traffic is G * template_bytes /
    batch_size. `seconds_per_pass` (one server, the whole gallery) is the latency of one
    search; `seconds_per_search` is the server time one search costs when batched.
    servers_for_latency shards the gallery so that one pass meets the latency target;
    servers_for_throughput keeps up with searches_per_day; servers_to_hold_gallery fits
    the templates in memory; `servers` is the largest of the three.
    """

    gallery: float
    template_bytes: int
    batch_size: int
    gallery_bytes: float
    bytes_per_search: float
    ops_per_search: float
    seconds_memory: float
    seconds_compute: float
    seconds_per_pass: float
    seconds_per_search: float
    latency_s: float
    servers_for_latency: int
    searches_per_day: float
    bytes_per_day: float
    servers_for_throughput: int
    servers_to_hold_gallery: int
    servers: int


def search_cost(
    gallery: float,
    searches_per_day: float = DEFAULT_SEARCHES_PER_DAY,
    latency_s: float = CLAIM_LATENCY_S,
    hardware: SearchHardware | None = None,
) -> SearchCost:
    """Cost of exhaustive search: bytes read, seconds per search, servers to keep up.

    Memory-bound or compute-bound, whichever is slower: memory time is bytes read over
    bandwidth, compute time is 2 * G * elements operations (multiply and add) over the
    server's operation rate. No index or pruning: every template is compared.
    """
    gallery = _check_gallery(gallery)
    hw = hardware or SearchHardware()
    if not (math.isfinite(float(searches_per_day)) and float(searches_per_day) >= 0):
        raise FaceIdError("searches_per_day", searches_per_day, "a number >= 0")
    if not (math.isfinite(float(latency_s)) and float(latency_s) > 0):
        raise FaceIdError("latency", latency_s, "a number of seconds > 0")
    k = hw.batch_size
    gallery_bytes = gallery * hw.template_bytes
    ops = 2.0 * gallery * (hw.template_bytes / hw.element_bytes)
    t_mem = gallery_bytes / hw.memory_bandwidth  # one pass, shared by the batch
    t_ops = ops / hw.compute_ops  # per probe
    t_pass = max(t_mem, k * t_ops)
    t_search = t_pass / k
    s = float(searches_per_day)
    hold = math.ceil(gallery_bytes / hw.server_memory - 1e-12)
    lat = max(math.ceil(t_pass / latency_s - 1e-12), 1)
    thr = math.ceil(s * t_search / 86400.0 - 1e-12)
    return SearchCost(
        gallery=gallery,
        template_bytes=hw.template_bytes,
        batch_size=k,
        gallery_bytes=gallery_bytes,
        bytes_per_search=gallery_bytes / k,
        ops_per_search=ops,
        seconds_memory=t_mem,
        seconds_compute=t_ops,
        seconds_per_pass=t_pass,
        seconds_per_search=t_search,
        latency_s=float(latency_s),
        servers_for_latency=lat,
        searches_per_day=s,
        bytes_per_day=s * gallery_bytes / k,
        servers_for_throughput=thr,
        servers_to_hold_gallery=hold,
        servers=max(lat, thr, hold),
    )


# --------------------------------------------------------------------------------------
# Command line: `panopticon faceid`
# --------------------------------------------------------------------------------------


def add_faceid_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `panopticon faceid` options; values are parsed in `run_faceid_command`.

    Options are read as text so that a bad value gets one clear line, not a usage dump.
    """
    a = parser.add_argument
    a(
        "--gallery",
        default=None,
        metavar="G",
        help=f"enrolled faces searched (default {CLAIM_GALLERY:.2g}); e.g. 1.3e9",
    )
    a(
        "--threshold",
        default=None,
        metavar="T",
        help=f"score threshold (default {DEFAULT_THRESHOLD:.4f}: FPIR 0.003 at N=12M)",
    )
    a(
        "--target-fpir",
        default=None,
        metavar="P",
        help="instead of --threshold: the threshold giving this FPIR at --gallery",
    )
    a(
        "--target-hit-rate",
        default=None,
        metavar="P",
        help="instead of --threshold: the threshold giving this hit rate (p_correct)",
    )
    a(
        "--quality",
        default="surveillance",
        metavar="Q",
        help="quality class (enrolment, cooperative, surveillance) or a mix such as "
        "surveillance=0.8,cooperative=0.2 (default surveillance)",
    )
    a(
        "--group",
        default="all",
        metavar="NAME",
        help="demographic group (men, women) or 'all' for the population mix (default)",
    )
    a(
        "--enrolled-share",
        default="1",
        metavar="E",
        help="share of searched faces that are enrolled, for hit precision (default 1)",
    )
    a(
        "--searches-per-day",
        default=None,
        metavar="S",
        help=f"searches per day for the cost estimate (default {DEFAULT_SEARCHES_PER_DAY:.2g})",
    )
    a("--template-bytes", default=None, metavar="B", help="template size (default 512)")
    a(
        "--bandwidth",
        default=None,
        metavar="BYTES_PER_S",
        help="memory bandwidth per server in bytes/s (default 200e9)",
    )
    a(
        "--batch-size",
        default=None,
        metavar="K",
        help="probes that share one pass over the gallery (default 1: no batching)",
    )
    a("--json", action="store_true", help="print one JSON object instead of a table")
    a(
        "--plot",
        default=None,
        metavar="FILE",
        help="also draw miss and false-identification rates against gallery size to a PNG",
    )


_MIX_EG = "surveillance=0.8,cooperative=0.2"


def _parse_number(field: str, text: object, allowed: str) -> float:
    """A float from command-line text, or a FaceIdError."""
    try:
        value = float(str(text))
    except ValueError:
        raise FaceIdError(field, text, allowed) from None
    if math.isnan(value):
        raise FaceIdError(field, text, allowed)
    return value


def _parse_mix_text(field: str, text: str) -> str | dict[str, float]:
    """'name' or 'a=0.8,b=0.2' from the command line."""
    if "=" not in text:
        return text
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, sep, share = part.partition("=")
        if not sep:
            raise FaceIdError(field, text, "a name, or name=share pairs separated by commas")
        mix[name.strip()] = _parse_number(f"{field}.{name.strip()}", share, "a share in [0, 1]")
    return mix


def _resolve_threshold(
    model: FaceIdScores,
    args: argparse.Namespace,
    gallery: float,
    quality: str | dict[str, float],
    group: str | None,
) -> tuple[float, str]:
    """The threshold and how it was chosen, from --threshold/--target-fpir/--target-hit-rate."""
    given = [
        n
        for n in ("threshold", "target_fpir", "target_hit_rate")
        if getattr(args, n, None) is not None
    ]
    if len(given) > 1:
        raise FaceIdError(
            "threshold",
            " and ".join("--" + n.replace("_", "-") for n in given),
            "give at most one of --threshold, --target-fpir, --target-hit-rate",
        )
    if getattr(args, "target_fpir", None) is not None:
        p = _parse_number("target_fpir", args.target_fpir, "a number strictly between 0 and 1")
        try:
            t = threshold_for_fpir(model, gallery, p, quality, group)
        except FaceIdError as exc:  # name the option the user typed
            raise FaceIdError("target_fpir", exc.value, exc.allowed) from None
        return t, f"set for FPIR {p:g}"
    if getattr(args, "target_hit_rate", None) is not None:
        p = _parse_number(
            "target_hit_rate", args.target_hit_rate, "a number strictly between 0 and 1"
        )
        try:
            t = threshold_for_hit_rate(model, gallery, p, quality, group)
        except FaceIdError as exc:
            raise FaceIdError("target_hit_rate", exc.value, exc.allowed) from None
        return t, f"set for hit rate {p:g}"
    if getattr(args, "threshold", None) is not None:
        t = _check_threshold(_parse_number("threshold", args.threshold, "a number"))
        return t, "given"
    return DEFAULT_THRESHOLD, "default, FPIR 0.003 at N=12M: the NIST operating point"


def _fmt(x: float) -> str:
    """A rate or count: 4 significant digits, scientific when tiny or huge."""
    if x != x:  # NaN
        return "n/a"
    if x == 0:
        return "0"
    if 0.999 <= x < 1.0:
        return f"{x:.6f}"
    if 1e-3 <= abs(x) < 1e7:
        return f"{x:.4g}"
    return f"{x:.3e}"


def _bytes(x: float) -> str:
    """Bytes in decimal units."""
    units = (("ZB", 1e21), ("EB", 1e18), ("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6))
    for unit, size in (*units, ("kB", 1e3)):
        if x >= size:
            return f"{x / size:.4g} {unit}"
    return f"{x:.4g} B"


def _json_safe(x: object) -> object:
    """NaN and infinities become null so that the output is strict JSON."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    return x


def faceid_report(
    model: FaceIdScores,
    gallery: float,
    threshold: float,
    quality: str | Mapping[str, float],
    group: str | Mapping[str, float] | None,
    enrolled_share: float,
    hardware: SearchHardware | None = None,
    searches_per_day: float = DEFAULT_SEARCHES_PER_DAY,
) -> dict[str, object]:
    """Everything `panopticon faceid` prints, as one dict (the --json object)."""
    r = model.rates(gallery, threshold, quality, group)
    e = _check_share("enrolled_share", enrolled_share)
    by_group = {}
    for gname, weight in model.group_mix(group).items():
        gr = model.rates(gallery, threshold, quality, gname)
        by_group[gname] = {
            "share": weight,
            "fmr_multiplier": model.groups[gname].fmr_multiplier,
            "p_correct": gr.p_correct,
            "p_wrong": gr.p_wrong,
            "p_miss": gr.p_miss,
            "fpir": gr.fpir,
        }
    cost = search_cost(gallery, searches_per_day, CLAIM_LATENCY_S, hardware)
    return {
        "gallery": r.gallery,
        "threshold": r.threshold,
        "quality": model.quality_mix(quality),
        "group": "all" if group is None else group,
        "enrolled_share": e,
        "fmr": r.fmr,
        "p_correct": r.p_correct,
        "p_wrong": r.p_wrong,
        "p_miss": r.p_miss,
        "fnir": r.fnir,
        "fpir": r.fpir,
        "expected_false_candidates": r.expected_false_candidates,
        "hit_precision": r.hit_precision(e),
        "wrongful_per_search": e * r.p_wrong + (1.0 - e) * r.fpir,
        "by_group": by_group,
        "search_cost": asdict(cost),
    }


def _print_table(rep: dict[str, object], how: str) -> None:
    """The readable form of `faceid_report`."""
    q = rep["quality"]
    assert isinstance(q, dict)
    quality = ", ".join(f"{k} {v:g}" for k, v in q.items()) if len(q) > 1 else next(iter(q))
    c = rep["search_cost"]
    assert isinstance(c, dict)
    by_group = rep["by_group"]
    assert isinstance(by_group, dict)
    f = {k: v for k, v in rep.items() if isinstance(v, float)}
    lines = [
        "1:N face identification, error-rate model (synthetic scores; no images)",
        f"  gallery G                         {rep['gallery']:,.0f}",
        f"  threshold t                       {f['threshold']:.4f}  ({how})",
        f"  FMR per impostor comparison       {_fmt(f['fmr'])}",
        f"  quality                           {quality}",
        f"  group                             {rep['group']}",
        "",
        "enrolled person searched (mate in gallery, G-1 impostors)",
        f"  p_correct   right person named    {_fmt(f['p_correct'])}",
        f"  p_wrong     innocent person named {_fmt(f['p_wrong'])}",
        f"  p_miss      no candidate >= t     {_fmt(f['p_miss'])}",
        f"  fnir        1 - p_correct         {_fmt(f['fnir'])}",
        "person not enrolled searched (G impostors)",
        f"  fpir        someone named         {_fmt(f['fpir'])}",
        f"  expected false candidates >= t    {_fmt(f['expected_false_candidates'])}",
        f"hits naming the right person        {_fmt(f['hit_precision'])}"
        f"  (enrolled share {f['enrolled_share']:g})",
        f"wrongful attributions per search    {_fmt(f['wrongful_per_search'])}",
    ]
    if len(by_group) > 1 or rep["group"] == "all":
        lines += ["", "  group      share  FMR x   p_correct   p_wrong     p_miss      fpir"]
        for name, row in by_group.items():
            lines.append(
                f"  {name:<10} {row['share']:<6.3g} {row['fmr_multiplier']:<7.3g} "
                f"{_fmt(row['p_correct']):<11} {_fmt(row['p_wrong']):<11} "
                f"{_fmt(row['p_miss']):<11} {_fmt(row['fpir'])}"
            )
    lines += [
        "",
        f"search cost (exhaustive, {c['template_bytes']}-byte templates, "
        f"batches of {c['batch_size']})",
        f"  gallery in memory                 {_bytes(c['gallery_bytes'])}",
        f"  one pass over it, one server      {c['seconds_per_pass']:.4g} s "
        f"(memory {c['seconds_memory']:.3g} s, compute {c['seconds_compute']:.3g} s/probe)",
        f"  read per search                   {_bytes(c['bytes_per_search'])}, "
        f"{c['ops_per_search']:.3g} ops",
        f"  server-seconds per search         {c['seconds_per_search']:.4g}",
        f"  {'servers for a ' + format(c['latency_s'], 'g') + ' s search':<34}"
        f"{c['servers_for_latency']:,}",
        f"  searches per day                  {c['searches_per_day']:.4g} "
        f"({_bytes(c['bytes_per_day'])} read)",
        f"  servers to keep up                {c['servers_for_throughput']:,}",
        f"  servers to hold the gallery       {c['servers_to_hold_gallery']:,}",
    ]
    print("\n".join(lines))


def plot_rates_vs_gallery(
    model: FaceIdScores,
    path: str,
    quality: str | Mapping[str, float],
    group: str | Mapping[str, float] | None = None,
    thresholds: list[float] | None = None,
) -> None:
    """Draw FNIR, p_wrong and FPIR against gallery size 1e3..1e10 (log x) to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if thresholds is None:
        thresholds = [model.impostor.isf(p) for p in (1e-6, 1e-8, 1e-10, 1e-12)]
    galleries = np.logspace(3, 10, 43)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5), sharex=True)
    for i, t in enumerate(thresholds):
        rs = [model.rates(float(g), t, quality, group) for g in galleries]
        colour = f"C{i}"
        label = f"t = {t:.2f} (reference FMR {model.impostor.sf(t):.1e})"
        ax1.plot(galleries, [r.fnir for r in rs], color=colour, label=label)
        ax1.plot(galleries, [r.p_wrong for r in rs], color=colour, linestyle=":")
        ax2.plot(galleries, [r.fpir for r in rs], color=colour, label=label)
    ax1.set_title("enrolled: FNIR (solid), innocent named (dotted)")
    ax2.set_title("not enrolled: FPIR (someone named)")
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(1e-6, 1.5)
        ax.set_xlabel("gallery size G")
        ax.grid(True, which="major", alpha=0.3)
    ax1.set_ylabel("rate per search")
    ax2.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"1:N identification error model, quality {quality}, group {group or 'all'}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_faceid_command(args: argparse.Namespace) -> int:
    """Run `panopticon faceid`: print the rates (table or JSON), optionally plot; exit code.

    Bad input prints one line `error: <field>: <value> is not allowed; <allowed>` and
    returns 2.
    """
    try:
        model = default_model()
        gallery = _check_gallery(
            _parse_number("gallery", args.gallery, "a number >= 1, e.g. 1.3e9")
            if args.gallery is not None
            else CLAIM_GALLERY
        )
        quality = _parse_mix_text("quality", str(args.quality))
        if isinstance(quality, str) and quality not in model.qualities:
            names = ", ".join(model.qualities)
            raise FaceIdError("quality", quality, f"allowed: {names}, or a mix like {_MIX_EG}")
        model.quality_mix(quality)
        group: str | dict[str, float] | None = _parse_mix_text("group", str(args.group))
        if group == "all":
            group = None
        elif isinstance(group, str) and group not in model.groups:
            names = ", ".join(model.groups)
            raise FaceIdError("group", group, f"allowed: all (the population mix), {names}")
        model.group_mix(group)
        enrolled = _check_share(
            "enrolled_share",
            _parse_number("enrolled_share", args.enrolled_share, "a number between 0 and 1"),
        )
        hw_update: dict[str, float | int] = {}
        if getattr(args, "template_bytes", None) is not None:
            tb = _parse_number("template_bytes", args.template_bytes, "a whole number >= 1")
            if tb < 1 or tb != int(tb):
                raise FaceIdError("template_bytes", args.template_bytes, "a whole number >= 1")
            hw_update["template_bytes"] = int(tb)
        if getattr(args, "bandwidth", None) is not None:
            bw = _parse_number("bandwidth", args.bandwidth, "bytes per second > 0, e.g. 200e9")
            if not (math.isfinite(bw) and bw > 0):
                raise FaceIdError("bandwidth", args.bandwidth, "bytes per second > 0, e.g. 200e9")
            hw_update["memory_bandwidth"] = bw
        if getattr(args, "batch_size", None) is not None:
            k = _parse_number("batch_size", args.batch_size, "a whole number >= 1")
            if k < 1 or k != int(k):
                raise FaceIdError("batch_size", args.batch_size, "a whole number >= 1")
            hw_update["batch_size"] = int(k)
        searches = DEFAULT_SEARCHES_PER_DAY
        if getattr(args, "searches_per_day", None) is not None:
            searches = _parse_number("searches_per_day", args.searches_per_day, "a number >= 0")
            if not (math.isfinite(searches) and searches >= 0):
                raise FaceIdError("searches_per_day", args.searches_per_day, "a number >= 0")
        hardware = SearchHardware(**hw_update)
        threshold, how = _resolve_threshold(model, args, gallery, quality, group)
        rep = faceid_report(model, gallery, threshold, quality, group, enrolled, hardware, searches)
        if args.plot:
            plot_rates_vs_gallery(
                model,
                args.plot,
                quality,
                group,
                sorted({threshold, *(model.impostor.isf(p) for p in (1e-6, 1e-9, 1e-12))}),
            )
    except FaceIdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "value"
        print(f"error: {field}: {err.get('input')!r} is not allowed; {err['msg']}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: plot: {args.plot!r} is not allowed; {exc.strerror}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_json_safe(rep)))
    else:
        _print_table(rep, how)
        if args.plot:
            print(f"\nplot written to {args.plot}")
    return 0
