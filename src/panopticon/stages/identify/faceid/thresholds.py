"""Operating points: the threshold for a target FPIR or a target hit rate.

NIST sets a threshold for a false-positive identification rate (e.g. FPIR = 0.003); an
operator may instead chase a hit rate. Both are roots of a rate decreasing in the
threshold, found with brentq over a score range wide enough for every model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from panopticon.stages.identify.faceid.checks import FaceIdError, check_gallery
from panopticon.stages.identify.faceid.model import FaceIdScores


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
    from scipy import optimize  # lazily: 0.13 s of start-up for runs that never solve

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
    gallery = check_gallery(gallery)
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
    gallery = check_gallery(gallery)
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
