"""Households: who lives together, with parents matched to their children's ages.

Households are formed within each region (docs/network.md, "Households"). The result is
three per-citizen arrays: ``household`` (int32 id), ``next_member`` (int32: the next
member of the same household, a cycle) and ``role`` (uint8: HEAD, CHILD or OTHER).

One region's households are formed by `_households_region` in six steps, each its own
kernel. The steps draw from one stream in a fixed order: each takes the counter ``c``
where the previous step left it, so the draws are those of one long loop.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from panopticon.core import streams
from panopticon.stages.society.draws import (
    P_AGE_SHUFFLE,
    P_HOUSE,
    P_MINOR_KEY,
    P_MINOR_SHUFFLE,
    U1,
    bucket_order,
    network_key,
    normal,
)
from panopticon.stages.society.params import ADULT_AGE, MAX_AGE, N_AGES, Households

HEAD = 0  # adult heading the household (a parent when the household has children)
CHILD = 1  # member aged < 18
OTHER = 2  # any other adult member (grandparent, adult child, relative)

# internal slot roles while households are formed
_S_HEAD = 0
_S_SECOND = 1
_S_PREF = 2  # a slot that takes a child if there are children to place
_S_CHILD = 3
_S_OTHER = 4


# --------------------------------------------------------------------------------------
# Sort keys and adult pickers
# --------------------------------------------------------------------------------------


@njit(cache=True)
def _age_keys(age: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Bucket region * 121 + age per citizen."""
    out = np.empty(age.size, dtype=np.int32)
    for i in prange(age.size):
        out[i] = np.int32(region[i]) * N_AGES + min(np.int32(age[i]), MAX_AGE)
    return out


@njit(cache=True)
def _minor_keys(
    age: np.ndarray, region: np.ndarray, sd: float, off: int, nb: int, key: np.uint64
) -> np.ndarray:
    """Bucket region * nb + floor(age + noise) for minors (siblings' ages), -1 for adults."""
    out = np.empty(age.size, dtype=np.int32)
    for i in prange(age.size):
        a = np.int64(age[i])
        if a >= ADULT_AGE:
            out[i] = -1
            continue
        z = normal(key, np.uint64(i) << U1) * sd
        b = np.int64(math.floor(a + z + off))
        b = min(max(b, 0), nb - 1)
        out[i] = np.int32(region[i]) * nb + b
    return out


@njit(cache=True, inline="always")
def _pick_near(
    avail: np.ndarray,
    ptr: np.ndarray,
    ids: np.ndarray,
    target: float,
    lo: int,
    hi: int,
    coin: float,
) -> tuple[int, int, bool]:
    """Take an adult with age nearest `target` within [lo, hi] (else nearest at all).

    Returns (citizen id, age, within range).
    """
    lo = max(lo, ADULT_AGE)
    hi = min(hi, MAX_AGE)
    t = math.floor(target + 0.5)
    t = min(max(t, ADULT_AGE), MAX_AGE)
    for within in (True, False):
        a_lo = lo if within else ADULT_AGE
        a_hi = hi if within else MAX_AGE
        if a_lo > a_hi:
            continue
        tt = min(max(t, a_lo), a_hi)
        for d in range(0, MAX_AGE + 1):
            for side in range(2):
                if d == 0 and side == 1:
                    break
                a = tt - d if (side == 0) == (coin < 0.5) else tt + d
                if a_lo <= a <= a_hi and avail[a] > 0:
                    avail[a] -= 1
                    m = ids[ptr[a]]
                    ptr[a] += 1
                    return m, a, within
            if tt - d < a_lo and tt + d > a_hi:
                break
    return -1, -1, False


@njit(cache=True, inline="always")
def _pick_random(
    avail: np.ndarray, ptr: np.ndarray, ids: np.ndarray, total: int, u: float
) -> tuple[int, int]:
    """Take a uniformly random remaining adult; returns (citizen id, age)."""
    r = int(u * total)
    for a in range(ADULT_AGE, MAX_AGE + 1):
        if r < avail[a]:
            avail[a] -= 1
            m = ids[ptr[a]]
            ptr[a] += 1
            return m, a
        r -= avail[a]
    return -1, -1


@njit(cache=True, inline="always")
def _select(
    slot_role: np.ndarray,
    which: int,
    to: int,
    other: int,
    need: int,
    total: int,
    key: np.uint64,
    c: np.uint64,
) -> np.uint64:
    """Selection sampling: `need` of the `total` slots of role `which` become `to`."""
    left = total
    for s in range(slot_role.size):
        if slot_role[s] != which:
            continue
        if need > 0 and streams.uniform(key, c) * left < need:
            slot_role[s] = to
            need -= 1
        else:
            slot_role[s] = other
        c += U1
        left -= 1
    return c


# --------------------------------------------------------------------------------------
# The steps of one region
# --------------------------------------------------------------------------------------


@njit(cache=True)
def _draw_sizes(
    n: int, size_cum: np.ndarray, key: np.uint64, c: np.uint64
) -> tuple[np.ndarray, np.ndarray, np.uint64]:
    """Step 1: sizes drawn until n citizens are used up, the last cut to fit.

    Returns (size per household, first slot per household plus the end, counter).
    """
    sizes = np.empty(n, dtype=np.int32)
    n_hh = 0
    tot = 0
    while tot < n:
        u = streams.uniform(key, c)
        c += U1
        s = np.int64(np.searchsorted(size_cum, u, side="right")) + 1
        s = min(s, size_cum.size, n - tot)
        sizes[n_hh] = s
        n_hh += 1
        tot += s
    start = np.zeros(n_hh + 1, dtype=np.int64)
    for h in range(n_hh):
        start[h + 1] = start[h] + sizes[h]
    return sizes[:n_hh], start, c


@njit(cache=True)
def _slot_roles(
    sizes: np.ndarray, start: np.ndarray, n: int, couple: float, key: np.uint64, c: np.uint64
) -> tuple[np.ndarray, int, int, np.uint64]:
    """Step 2: one head per household, a second head with chance `couple`, other slots PREF.

    Returns (slot roles, PREF slots, second-head slots, counter).
    """
    slot_role = np.empty(n, dtype=np.uint8)
    n_pref = 0
    n_second = 0
    for h in range(sizes.size):
        b = start[h]
        slot_role[b] = _S_HEAD
        for k in range(1, sizes[h]):
            if k == 1 and streams.uniform(key, c) < couple:
                slot_role[b + k] = _S_SECOND
                n_second += 1
            else:
                slot_role[b + k] = _S_PREF
                n_pref += 1
            c += U1
    return slot_role, n_pref, n_second, c


@njit(cache=True)
def _child_slots(
    slot_role: np.ndarray,
    n_minor: int,
    n_pref: int,
    n_second: int,
    n_hh: int,
    key: np.uint64,
    c: np.uint64,
) -> np.uint64:
    """Step 3: which slots take children; PREF slots first, then second heads, then heads."""
    need = n_minor
    if n_pref >= need:
        c = _select(slot_role, _S_PREF, _S_CHILD, _S_OTHER, need, n_pref, key, c)
    else:
        for s in range(slot_role.size):
            if slot_role[s] == _S_PREF:
                slot_role[s] = _S_CHILD
        need -= n_pref
        take = min(need, n_second)
        c = _select(slot_role, _S_SECOND, _S_CHILD, _S_SECOND, take, n_second, key, c)
        need -= take
        if need > 0:
            c = _select(slot_role, _S_HEAD, _S_CHILD, _S_HEAD, need, n_hh, key, c)
    return c


@njit(cache=True)
def _place_children(
    slot_role: np.ndarray,
    start: np.ndarray,
    minors: np.ndarray,
    age: np.ndarray,
    member: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Step 4: minors, in noisy-age order, fill child slots household by household.

    Returns the oldest and the youngest child's age per household (-1 and 255 for none).
    """
    n_hh = start.size - 1
    oldest = np.full(n_hh, -1, dtype=np.int32)
    youngest = np.full(n_hh, 255, dtype=np.int32)
    mi = 0
    for h in range(n_hh):
        for s in range(start[h], start[h + 1]):
            if slot_role[s] == _S_CHILD:
                m = minors[mi]
                mi += 1
                member[s] = m
                a = np.int32(age[m])
                oldest[h] = max(oldest[h], a)
                youngest[h] = min(youngest[h], a)
    return oldest, youngest


@njit(cache=True)
def _adult_pools(age_starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Adults left per age and the next one to take per age (ids are shuffled within ages)."""
    avail = np.zeros(N_AGES, dtype=np.int64)
    ptr = np.zeros(N_AGES, dtype=np.int64)
    for a in range(ADULT_AGE, N_AGES):
        avail[a] = age_starts[a + 1] - age_starts[a]
        ptr[a] = age_starts[a]
    return avail, ptr


@njit(cache=True)
def _shuffled_with_kids(
    oldest: np.ndarray, key: np.uint64, c: np.uint64
) -> tuple[np.ndarray, np.uint64]:
    """Households with children in random order (Fisher-Yates); returns (ids, counter)."""
    n_hh = oldest.size
    with_kids = np.empty(n_hh, dtype=np.int32)
    nk = 0
    for h in range(n_hh):
        if oldest[h] >= 0:
            with_kids[nk] = h
            nk += 1
    for j in range(nk - 1, 0, -1):
        r = np.int64(streams.uniform(key, c) * (j + 1))
        c += U1
        t = with_kids[j]
        with_kids[j] = with_kids[r]
        with_kids[r] = t
    return with_kids[:nk], c


@njit(cache=True)
def _place_parents(
    slot_role: np.ndarray,
    start: np.ndarray,
    with_kids: np.ndarray,
    oldest: np.ndarray,
    youngest: np.ndarray,
    head_age: np.ndarray,
    avail: np.ndarray,
    ptr: np.ndarray,
    by_age: np.ndarray,
    member: np.ndarray,
    remaining: int,
    gap_mean: float,
    gap_sd: float,
    gap_min: int,
    gap_max: int,
    spouse_sd: float,
    key: np.uint64,
    c: np.uint64,
    counts: np.ndarray,
) -> tuple[int, np.uint64]:
    """Step 5a: first heads of households with children, then 5b: their second heads.

    Heads fit every child's age; a second head is drawn near the first one's age.
    counts[0] += heads placed outside the parent age range. Returns (remaining, counter).
    """
    for phase in range(2):
        for q in range(with_kids.size):
            h = with_kids[q]
            lo = oldest[h] + gap_min
            hi = max(youngest[h] + gap_max, lo)
            for s in range(start[h], start[h + 1]):
                sr = slot_role[s]
                if (phase == 0 and sr != _S_HEAD) or (phase == 1 and sr != _S_SECOND):
                    continue
                if phase == 1 and head_age[h] >= 0:
                    target = head_age[h] + spouse_sd * normal(key, c)
                else:
                    g = min(max(gap_mean + gap_sd * normal(key, c), gap_min), gap_max)
                    target = oldest[h] + g
                coin = streams.uniform(key, c + np.uint64(2))
                c += np.uint64(3)
                m, a, ok = _pick_near(avail, ptr, by_age, target, lo, hi, coin)
                remaining -= 1
                member[s] = m
                if not ok:
                    counts[0] += 1
                if phase == 0:
                    head_age[h] = a
    return remaining, c


@njit(cache=True)
def _place_childless(
    slot_role: np.ndarray,
    start: np.ndarray,
    oldest: np.ndarray,
    head_age: np.ndarray,
    avail: np.ndarray,
    ptr: np.ndarray,
    by_age: np.ndarray,
    member: np.ndarray,
    remaining: int,
    spouse_sd: float,
    key: np.uint64,
    c: np.uint64,
) -> tuple[int, np.uint64]:
    """Step 5c: childless households get a random head, then a spouse of similar age.

    `remaining` is the number of adults not yet placed; returns (remaining, counter).
    """
    for h in range(oldest.size):
        if oldest[h] >= 0:
            continue
        for s in range(start[h], start[h + 1]):
            sr = slot_role[s]
            if sr == _S_HEAD:
                m, a = _pick_random(avail, ptr, by_age, remaining, streams.uniform(key, c))
                c += U1
                head_age[h] = a
            elif sr == _S_SECOND:
                target = head_age[h] + spouse_sd * normal(key, c)
                coin = streams.uniform(key, c + np.uint64(2))
                c += np.uint64(3)
                m, a, _ok = _pick_near(avail, ptr, by_age, target, ADULT_AGE, MAX_AGE, coin)
            else:
                continue
            remaining -= 1
            member[s] = m
    return remaining, c


@njit(cache=True)
def _place_others(
    slot_role: np.ndarray,
    avail: np.ndarray,
    ptr: np.ndarray,
    by_age: np.ndarray,
    member: np.ndarray,
    remaining: int,
    key: np.uint64,
    c: np.uint64,
) -> None:
    """Step 5d: other adult slots take random remaining adults (the region's last draws)."""
    for s in range(slot_role.size):
        if slot_role[s] == _S_OTHER:
            m, _a = _pick_random(avail, ptr, by_age, remaining, streams.uniform(key, c))
            c += U1
            remaining -= 1
            member[s] = m


@njit(cache=True)
def _write_out(
    slot_role: np.ndarray,
    start: np.ndarray,
    sizes: np.ndarray,
    member: np.ndarray,
    hh_first: int,
    household: np.ndarray,
    role: np.ndarray,
    nxt: np.ndarray,
) -> int:
    """Step 6: write household, role and next_member; returns households with no adult."""
    no_adult = 0
    for h in range(sizes.size):
        b = start[h]
        s_n = sizes[h]
        adults = 0
        for k in range(s_n):
            m = member[b + k]
            sr = slot_role[b + k]
            household[m] = hh_first + h
            if sr == _S_HEAD or sr == _S_SECOND:
                role[m] = HEAD
                adults += 1
            elif sr == _S_CHILD:
                role[m] = CHILD
            else:
                role[m] = OTHER
                adults += 1
            nxt[m] = member[b + (k + 1) % s_n]
        if adults == 0:
            no_adult += 1
    return no_adult


@njit(cache=True)
def _households_region(
    by_age: np.ndarray,
    age_starts: np.ndarray,
    minors: np.ndarray,
    age: np.ndarray,
    size_cum: np.ndarray,
    couple: float,
    gap_mean: float,
    gap_sd: float,
    gap_min: int,
    gap_max: int,
    spouse_sd: float,
    key: np.uint64,
    hh_first: int,
    household: np.ndarray,
    role: np.ndarray,
    nxt: np.ndarray,
    counts: np.ndarray,
) -> int:
    """Form one region's households; writes household, role and next_member; returns count.

    Sizes are drawn from the size distribution; a household has one or two heads, child
    slots take the region's minors (sorted by noisy age, so siblings are close in age),
    heads of households with children are adults whose ages fit every child
    (child + gap_min <= head <= child + gap_max, nearest to oldest child + a drawn gap),
    spouses are near the first head's age, and the remaining slots take random adults.
    counts[0] += heads placed outside the parent age range (no fitting adult left),
    counts[1] += households with no adult (only when minors outnumber the slots).
    """
    n_adult = np.int64(age_starts[N_AGES] - age_starts[ADULT_AGE])
    n_minor = minors.size
    n = n_adult + n_minor
    if n == 0:
        return 0
    c = np.uint64(0)
    sizes, start, c = _draw_sizes(n, size_cum, key, c)
    n_hh = sizes.size
    slot_role, n_pref, n_second, c = _slot_roles(sizes, start, n, couple, key, c)
    c = _child_slots(slot_role, n_minor, n_pref, n_second, n_hh, key, c)
    member = np.empty(n, dtype=np.int32)
    oldest, youngest = _place_children(slot_role, start, minors, age, member)
    # adults come from per-age pools (shuffled within each age)
    avail, ptr = _adult_pools(age_starts)
    with_kids, c = _shuffled_with_kids(oldest, key, c)
    head_age = np.full(n_hh, -1, dtype=np.int32)
    remaining, c = _place_parents(
        slot_role,
        start,
        with_kids,
        oldest,
        youngest,
        head_age,
        avail,
        ptr,
        by_age,
        member,
        n_adult,
        gap_mean,
        gap_sd,
        gap_min,
        gap_max,
        spouse_sd,
        key,
        c,
        counts,
    )
    remaining, c = _place_childless(
        slot_role, start, oldest, head_age, avail, ptr, by_age, member, remaining, spouse_sd, key, c
    )
    _place_others(slot_role, avail, ptr, by_age, member, remaining, key, c)
    counts[1] += _write_out(slot_role, start, sizes, member, hh_first, household, role, nxt)
    return n_hh


# --------------------------------------------------------------------------------------
# All regions
# --------------------------------------------------------------------------------------


def build_households(
    p: Households, age: np.ndarray, region: np.ndarray, n_regions: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, dict[str, int]]:
    """Households for all regions: (household, next_member, role, n_households, counts)."""
    n = age.size
    key = network_key(seed, -1, P_AGE_SHUFFLE)
    by_age, age_starts = bucket_order(_age_keys(age, region), n_regions * N_AGES, key)
    sd = float(p.sibling_age_sd)
    off = math.ceil(5.0 * sd)
    nb = ADULT_AGE + 2 * off
    key_m = network_key(seed, -1, P_MINOR_KEY)
    mkeys = _minor_keys(age, region, sd, off, nb, key_m)
    key_ms = network_key(seed, -1, P_MINOR_SHUFFLE)
    minors, m_starts = bucket_order(mkeys, n_regions * nb, key_ms)
    del mkeys
    shares = p.size_shares()
    size_cum = np.cumsum(shares)
    size_cum[-1] = 1.0
    household = np.empty(n, dtype=np.int32)
    nxt = np.empty(n, dtype=np.int32)
    role = np.empty(n, dtype=np.uint8)
    counts = np.zeros(2, dtype=np.int64)
    n_hh = 0
    for r in range(n_regions):
        a0, a1 = r * N_AGES, (r + 1) * N_AGES
        starts = age_starts[a0 : a1 + 1] - age_starts[a0]
        ids = by_age[age_starts[a0] : age_starts[a1]]
        mins = minors[m_starts[r * nb] : m_starts[(r + 1) * nb]]
        key_r = network_key(seed, -1, P_HOUSE + r)
        n_hh += _households_region(
            ids,
            starts,
            mins,
            age,
            size_cum,
            p.couple_share,
            p.parent_gap_mean,
            p.parent_gap_sd,
            p.parent_gap_min,
            p.parent_gap_max,
            p.spouse_age_sd,
            key_r,
            n_hh,
            household,
            role,
            nxt,
            counts,
        )
    stats = {"parent_age_violations": int(counts[0]), "households_without_adult": int(counts[1])}
    return household, nxt, role, n_hh, stats
