"""Checks of face-ID inputs: `FaceIdError` names the field, the value and what is allowed.

Every bad argument (a gallery below 1, a NaN threshold, an unknown quality or group, shares
that do not sum to 1) becomes one readable line, which the command line prints as is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

_NAME_RE = re.compile(r"^[A-Za-z0-9_\-]+$")
_SHARE_TOL = 1e-9


class FaceIdError(ValueError):
    """A bad input, with the field, the value and what is allowed (one line)."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}: {value!r} is not allowed; {allowed}")


def check_names(field: str, names: Mapping[str, object]) -> None:
    """Reject names that the command line could not spell (used in `a=0.5,b=0.5`)."""
    for name in names:
        if not _NAME_RE.match(name):
            raise FaceIdError(field, name, "names use letters, digits, '_' and '-' only")


def check_sum_to_one(field: str, shares: Mapping[str, float]) -> None:
    """Shares must sum to 1 (tolerance 1e-9): the groups of a population, a mix."""
    total = math.fsum(float(s) for s in shares.values())
    if abs(total - 1.0) > _SHARE_TOL:
        raise FaceIdError(
            field, dict(shares), f"shares must sum to 1 (tolerance 1e-9); these sum to {total:.12g}"
        )


def validate_mix(
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
    check_sum_to_one(field, mix)
    return out


def check_gallery(gallery: float) -> float:
    """Gallery size: a finite number >= 1 (non-integers allowed, e.g. 1.3e9)."""
    try:
        g = float(gallery)
    except (TypeError, ValueError):
        raise FaceIdError("gallery", gallery, "a number >= 1, e.g. 1.3e9") from None
    if not (math.isfinite(g) and g >= 1.0):
        raise FaceIdError("gallery", gallery, "a number >= 1, e.g. 1.3e9")
    return g


def check_threshold(threshold: float) -> float:
    """Threshold: any score, including +-inf (no match / everything matches); not NaN."""
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise FaceIdError("threshold", threshold, "a number (a similarity score)") from None
    if math.isnan(t):
        raise FaceIdError("threshold", threshold, "a number (a similarity score)")
    return t


def check_share(field: str, value: float) -> float:
    """A probability in [0, 1]."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise FaceIdError(field, value, "a number between 0 and 1") from None
    if not 0.0 <= v <= 1.0:
        raise FaceIdError(field, value, "a number between 0 and 1")
    return v
