"""The analytic core: outcome rates of one 1:N search by Gauss-Legendre quadrature.

Powers such as (1 - FMR)**(G-1) are computed in log space (log1p/expm1), so galleries up
to 1e10 and beyond keep full floating-point accuracy. `pair_rates` works on primitive
parameters only, so one lru_cache serves every model that shares them.

A group's false-match multiplier acts on same-group impostor pairs only, as NISTIR 8280
measures it: of the G-1 impostors a share `same_share` (the probe's group in the gallery)
has FMR min(1, m FMR(s)), the others the base FMR(s).
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np
from scipy import special

_LN2 = math.log(2.0)
_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - exp(x)) for x <= 0, accurate for x near 0 and for x very negative."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > -_LN2, np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def _log_fmr(s: np.ndarray, mu_i: float, sd_i: float) -> np.ndarray:
    """Log of the base FMR(s) = P(impostor >= s)."""
    z = (np.asarray(s, dtype=float) - mu_i) / sd_i
    return np.minimum(0.0, special.log_ndtr(-z))


def _max_cdf(
    log_fmr: np.ndarray, n: float, log_mult: float, same_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """P(all n impostors < s) and its complement, from the base log FMR(s); stable to 1e10.

    n * same_share impostors are of the probe's group, with FMR min(1, m FMR), the rest at
    the base FMR: P = (1 - m FMR)**(n share) (1 - FMR)**(n (1 - share)), evaluated as
    exp(sum of n_k log1p(-FMR_k)) with log(1 - FMR_k) from log FMR_k via log1mexp.
    """
    n_same = n * same_share
    n_other = n - n_same
    a = np.zeros_like(log_fmr)
    if n_same > 0:
        a = a + n_same * _log1mexp(np.minimum(0.0, log_fmr + log_mult))
    if n_other > 0:
        a = a + n_other * _log1mexp(log_fmr)
    return np.exp(a), -np.expm1(a)


def same_group_share_of_false_matches(fmr_multiplier: float, same_share: float) -> float:
    """Probability that a false match names someone of the probe's own group.

    The best impostor comes from the same-group part of the gallery in proportion to its
    tail intensity, n share m FMR(s) against n (1 - share) FMR(s), whatever the score s:
    q = m share / (m share + 1 - share). Exact to first order in FMR (relative error about
    m FMR, below 1e-8 at any operating point in use); once m FMR reaches 1 the same-group
    impostors dominate even more.
    """
    same = fmr_multiplier * same_share
    total = same + (1.0 - same_share)
    return same / total if total > 0 else 0.0


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
def pair_rates(
    gallery: float,
    t: float,
    mu_g: float,
    sd_g: float,
    mu_i: float,
    sd_i: float,
    fmr_multiplier: float,
    same_share: float,
    extra_miss: float,
) -> tuple[float, float, float, float, float, float]:
    """(p_correct, p_wrong, p_miss, fmr, fpir, expected_false_candidates); cached.

    Enrolled: the mate scores S ~ N(mu_g, sd_g); of the N = G-1 impostors N * same_share
    are of the probe's group (FMR multiplied by m), the others at the base FMR, so their
    max M has P(M < s) = (1 - m FMR(s))**(N share) (1 - FMR(s))**(N (1 - share)). Then

        p_correct = int_t^inf f_g(s) P(M < s) ds
        p_miss    = P(S < t) P(M < t)
        p_wrong   = P(S < t) P(M >= t) + int_t^inf f_g(s) P(M >= s) ds

    Of the two integrals (which add up to P(S >= t)) the smaller is integrated and the
    larger obtained by subtraction, so small rates keep their relative accuracy and the
    three rates sum to 1. With probability `extra_miss` the mate comparison fails and only
    the impostors can return a candidate. Not enrolled: G impostors, split the same way;
    `fmr` is the mean FMR(t) over them, so expected_false_candidates = G * fmr.
    """
    n = gallery - 1.0
    log_mult = math.log(fmr_multiplier)
    if t == math.inf:
        return 0.0, 0.0, 1.0, 0.0, 0.0, 0.0
    log_fmr_t = _log_fmr(np.array([t]), mu_i, sd_i)
    below_t, above_t = _max_cdf(log_fmr_t, n, log_mult, same_share)
    below_t, above_t = float(below_t[0]), float(above_t[0])
    zt = (t - mu_g) / sd_g
    g_below = float(special.ndtr(zt))
    g_above = float(special.ndtr(-zt))

    lo = max(t, mu_g - 12.0 * sd_g)
    hi = max(mu_g + 12.0 * sd_g, lo + 12.0 * sd_g)
    features = [(mu_g, 12.0 * sd_g, sd_g / 4.0), (mu_i, 10.0 * sd_i, sd_i / 4.0)]
    kinks: list[float] = []
    if fmr_multiplier > 1.0 and same_share > 0:  # m FMR reaches 1 here: a kink
        kinks.append(mu_i + sd_i * float(-special.ndtri(1.0 / fmr_multiplier)))
    # impostors weighted by their FMR factor: the expected count above s is n_eff FMR(s)
    n_eff = n * (fmr_multiplier * same_share + 1.0 - same_share)
    if n_eff > 1.0:  # where n_eff * FMR(s) = 1 the max-CDF rises from 0 to 1
        z_star = float(-special.ndtri(1.0 / n_eff))
        width = sd_i / max(1.0, z_star)
        features.append((mu_i + sd_i * z_star, 8.0 * width, width / 4.0))
    x, w = _quadrature_nodes(lo, hi, features, kinks)
    z = (x - mu_g) / sd_g
    dens = np.exp(-0.5 * z * z) / (sd_g * math.sqrt(2.0 * math.pi))
    cdf, tail = _max_cdf(_log_fmr(x, mu_i, sd_i), n, log_mult, same_share)
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

    base_fmr = float(np.exp(log_fmr_t[0]))
    fmr = same_share * min(1.0, fmr_multiplier * base_fmr) + (1.0 - same_share) * base_fmr
    fpir = float(_max_cdf(log_fmr_t, gallery, log_mult, same_share)[1][0])
    return p_correct, p_wrong, p_miss, fmr, fpir, gallery * fmr
