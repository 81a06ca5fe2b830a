"""Face identification, modelled by its error rates (never by images).

A seen act is searched against the gallery of enrolled faces. The outcome is one of
three: the search is *missed* (no candidate at or above threshold), it names the
*wrong* person (a false match; the record lands on an innocent citizen), or it names
the right person. The `fixed` mode takes these rates directly, as the minimal model does.
"""

from __future__ import annotations

from numba import njit

MISSED = 0
WRONG = 1
CORRECT = 2


@njit(cache=True, inline="always")
def identify_fixed(u: float, p_miss: float, p_wrong: float) -> int:
    """Outcome of one search from a uniform draw `u`: MISSED, WRONG or CORRECT."""
    if u < p_miss:
        return MISSED
    if u < p_miss + p_wrong:
        return WRONG
    return CORRECT
