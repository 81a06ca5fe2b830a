"""Households: who lives together, with parents matched to their children's ages.

Households are formed within each region (docs/network.md, "Households"). The result is
three per-citizen arrays: ``household`` (int32 id), ``next_member`` (int32: the next
member of the same household, a cycle) and ``role`` (uint8: HEAD, CHILD or OTHER).

One region's households are formed by `_households_region` in six steps, run by two
kernels (steps 1-4 and 5-6). The steps draw from one stream in a fixed order: each takes
the counter ``c`` where the previous step left it, so the draws are those of one long loop.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from panopticon.core.jit import HELPER, KERNEL
from panopticon.stages.society.draws import (
    P_AGE_SHUFFLE,
    P_HOUSE,
    P_MINOR_KEY,
    P_MINOR_SHUFFLE,
    U1,
    bucket_order,
    network_key,
    normal,
    uniform,
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


@njit(cache=True, **KERNEL)
def _age_keys(age: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Bucket region * 121 + age per citizen."""
    out = np.empty(age.size, dtype=np.int32)
    for i in range(age.size):
        out[i] = np.int32(region[i]) * N_AGES + min(np.int32(age[i]), MAX_AGE)
    return out


@njit(cache=True, **KERNEL)
def _minor_keys(
    age: np.ndarray, region: np.ndarray, sd: float, off: int, nb: int, key: np.uint64
) -> np.ndarray:
    """Bucket region * nb + floor(age + noise) for minors (siblings' ages), -1 for adults."""
    out = np.empty(age.size, dtype=np.int32)
    for i in range(age.size):
        a = np.int64(age[i])
        if a >= ADULT_AGE:
            out[i] = -1
            continue
        z = normal(key, np.uint64(i) << U1) * sd
        b = np.int64(math.floor(a + z + off))
        b = min(max(b, 0), nb - 1)
        out[i] = np.int32(region[i]) * nb + b
    return out


@njit(cache=True, **HELPER)
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

    Returns (citizen id, age, within range). A plain kernel, not inlined: its two call
    sites share one compiled copy.
    """
    lo = max(lo, ADULT_AGE)
    hi = min(hi, MAX_AGE)
    t = math.floor(target + 0.5)
    t = min(max(t, ADULT_AGE), MAX_AGE)
    for attempt in range(2):
        within = attempt == 0
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


@njit(cache=True, **HELPER)
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


@njit(cache=True, **HELPER)
def _select(
    slot_role: np.ndarray,
    which: np.uint8,
    to: np.uint8,
    other: np.uint8,
    need: int,
    total: int,
    key: np.uint64,
    c: np.uint64,
) -> np.uint64:
    """Selection sampling: `need` of the `total` slots of role `which` become `to`.

    The roles are passed as uint8 (never as literal constants), so the three call sites
    share one compiled copy.
    """
    left = total
    for s in range(slot_role.size):
        if slot_role[s] != which:
            continue
        if need > 0 and uniform(key, c) * left < need:
            slot_role[s] = to
            need -= 1
        else:
            slot_role[s] = other
        c += U1
        left -= 1
    return c


# --------------------------------------------------------------------------------------
# One region: two kernels
# --------------------------------------------------------------------------------------
#
# Compilation cost, not run time, shapes this split: each Numba kernel costs a fixed
# overhead to compile, and a kernel that calls other kernels compiles their code again
# when it links them, so the region is two flat kernels called from Python (the steps
# run in order inside them) with small non-inlined helpers compiled once.


@njit(cache=True, **KERNEL)
def _form_slots(
    n_adult: int,
    minors: np.ndarray,
    age: np.ndarray,
    size_cum: np.ndarray,
    couple: float,
    key: np.uint64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.uint64]:
    """Steps 1-4: household sizes, slot roles, child slots, children placed.

    1. sizes drawn until the region's citizens are used up, the last cut to fit;
    2. one head per household, a second head with chance `couple`, other slots PREF;
    3. which slots take children: PREF slots first, then second heads, then heads;
    4. minors, in noisy-age order, fill child slots household by household.

    Returns (size per household, first slot per household plus the end, slot roles,
    member per slot (children only so far), oldest and youngest child's age per household
    (-1 and 255 for none), counter).
    """
    n_minor = minors.size
    n = n_adult + n_minor
    c = np.uint64(0)
    # step 1: sizes (searchsorted(size_cum, u, "right") + 1, as a scan of the short table)
    drawn = np.empty(n, dtype=np.int32)
    n_hh = 0
    tot = 0
    while tot < n:
        u = uniform(key, c)
        c += U1
        s = 1
        while s <= size_cum.size and size_cum[s - 1] <= u:
            s += 1
        s = min(s, size_cum.size, n - tot)
        drawn[n_hh] = s
        n_hh += 1
        tot += s
    sizes = drawn[:n_hh]
    start = np.zeros(n_hh + 1, dtype=np.int64)
    for h in range(n_hh):
        start[h + 1] = start[h] + sizes[h]
    # step 2: slot roles
    slot_role = np.empty(n, dtype=np.uint8)
    n_pref = np.int64(0)  # typed int64 from the start: _select compiles for one signature
    n_second = np.int64(0)
    for h in range(n_hh):
        b = start[h]
        slot_role[b] = _S_HEAD
        for k in range(1, sizes[h]):
            if k == 1 and uniform(key, c) < couple:
                slot_role[b + k] = _S_SECOND
                n_second += 1
            else:
                slot_role[b + k] = _S_PREF
                n_pref += 1
            c += U1
    # step 3: child slots
    s_head, s_second, s_pref = np.uint8(_S_HEAD), np.uint8(_S_SECOND), np.uint8(_S_PREF)
    s_child, s_other = np.uint8(_S_CHILD), np.uint8(_S_OTHER)
    need = n_minor
    if n_pref >= need:
        c = _select(slot_role, s_pref, s_child, s_other, need, n_pref, key, c)
    else:
        for s in range(n):
            if slot_role[s] == _S_PREF:
                slot_role[s] = _S_CHILD
        need -= n_pref
        take = min(need, n_second)
        c = _select(slot_role, s_second, s_child, s_second, take, n_second, key, c)
        need -= take
        if need > 0:
            c = _select(slot_role, s_head, s_child, s_head, need, n_hh, key, c)
    # step 4: children placed
    member = np.empty(n, dtype=np.int32)
    oldest = np.empty(n_hh, dtype=np.int32)
    youngest = np.empty(n_hh, dtype=np.int32)
    mi = 0
    for h in range(n_hh):
        hi_age = -1
        lo_age = 255
        for s in range(start[h], start[h + 1]):
            if slot_role[s] == _S_CHILD:
                m = minors[mi]
                mi += 1
                member[s] = m
                a = np.int32(age[m])
                hi_age = max(hi_age, a)
                lo_age = min(lo_age, a)
        oldest[h] = hi_age
        youngest[h] = lo_age
    return sizes, start, slot_role, member, oldest, youngest, c


@njit(cache=True, **KERNEL)
def _place_adults(
    slot_role: np.ndarray,
    start: np.ndarray,
    member: np.ndarray,
    oldest: np.ndarray,
    youngest: np.ndarray,
    by_age: np.ndarray,
    age_starts: np.ndarray,
    gap_mean: float,
    gap_sd: float,
    gap_min: int,
    gap_max: int,
    spouse_sd: float,
    key: np.uint64,
    c: np.uint64,
    hh_first: int,
    household: np.ndarray,
    role: np.ndarray,
    nxt: np.ndarray,
    counts: np.ndarray,
) -> None:
    """Steps 5-6: adults placed, then household, role and next_member written.

    5a. heads of households with children (in random order) fit every child's age;
    5b. their second heads are drawn near the first one's age;
    5c. childless households get a random head, then a spouse of similar age;
    5d. other adult slots take random remaining adults (the region's last draws);
    6.  household, role and next_member written per member.

    Adults come from per-age pools (ids shuffled within each age). counts[0] += heads
    placed outside the parent age range, counts[1] += households with no adult.
    """
    n_hh = oldest.size
    # adults left per age and the next one to take per age
    avail = np.zeros(N_AGES, dtype=np.int64)
    ptr = np.zeros(N_AGES, dtype=np.int64)
    for a in range(ADULT_AGE, N_AGES):
        avail[a] = age_starts[a + 1] - age_starts[a]
        ptr[a] = age_starts[a]
    remaining = np.int64(age_starts[N_AGES] - age_starts[ADULT_AGE])
    # households with children in random order (Fisher-Yates)
    with_kids = np.empty(n_hh, dtype=np.int32)
    nk = 0
    for h in range(n_hh):
        if oldest[h] >= 0:
            with_kids[nk] = h
            nk += 1
    for j in range(nk - 1, 0, -1):
        r = np.int64(uniform(key, c) * (j + 1))
        c += U1
        t = with_kids[j]
        with_kids[j] = with_kids[r]
        with_kids[r] = t
    head_age = np.empty(n_hh, dtype=np.int32)
    for h in range(n_hh):
        head_age[h] = -1
    # 5a, 5b: first heads, then second heads, of households with children
    for phase in range(2):
        for q in range(nk):
            h = with_kids[q]
            lo = np.int64(oldest[h]) + gap_min
            hi = max(np.int64(youngest[h]) + gap_max, lo)
            for s in range(start[h], start[h + 1]):
                sr = slot_role[s]
                if (phase == 0 and sr != _S_HEAD) or (phase == 1 and sr != _S_SECOND):
                    continue
                if phase == 1 and head_age[h] >= 0:
                    target = head_age[h] + spouse_sd * normal(key, c)
                else:
                    g = min(max(gap_mean + gap_sd * normal(key, c), gap_min), gap_max)
                    target = oldest[h] + g
                coin = uniform(key, c + np.uint64(2))
                c += np.uint64(3)
                m, a, ok = _pick_near(avail, ptr, by_age, target, lo, hi, coin)
                remaining -= 1
                member[s] = m
                if not ok:
                    counts[0] += 1
                if phase == 0:
                    head_age[h] = a
    # 5c: childless households
    any_lo, any_hi = np.int64(ADULT_AGE), np.int64(MAX_AGE)
    for h in range(n_hh):
        if oldest[h] >= 0:
            continue
        for s in range(start[h], start[h + 1]):
            sr = slot_role[s]
            if sr == _S_HEAD:
                m, a = _pick_random(avail, ptr, by_age, remaining, uniform(key, c))
                c += U1
                head_age[h] = a
            elif sr == _S_SECOND:
                target = head_age[h] + spouse_sd * normal(key, c)
                coin = uniform(key, c + np.uint64(2))
                c += np.uint64(3)
                m, a, _ok = _pick_near(avail, ptr, by_age, target, any_lo, any_hi, coin)
            else:
                continue
            remaining -= 1
            member[s] = m
    # 5d: other adults
    for s in range(slot_role.size):
        if slot_role[s] == _S_OTHER:
            m, _a = _pick_random(avail, ptr, by_age, remaining, uniform(key, c))
            c += U1
            remaining -= 1
            member[s] = m
    # 6: household, role, next_member
    no_adult = 0
    for h in range(n_hh):
        b = start[h]
        s_n = start[h + 1] - b
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
    counts[1] += no_adult


def _households_region(
    by_age: np.ndarray,
    age_starts: np.ndarray,
    minors: np.ndarray,
    age: np.ndarray,
    size_cum: np.ndarray,
    p: Households,
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
    n_adult = int(age_starts[N_AGES] - age_starts[ADULT_AGE])
    if n_adult + minors.size == 0:
        return 0
    sizes, start, slot_role, member, oldest, youngest, c = _form_slots(
        n_adult, minors, age, size_cum, float(p.couple_share), key
    )
    _place_adults(
        slot_role,
        start,
        member,
        oldest,
        youngest,
        by_age,
        age_starts,
        float(p.parent_gap_mean),
        float(p.parent_gap_sd),
        int(p.parent_gap_min),
        int(p.parent_gap_max),
        float(p.spouse_age_sd),
        key,
        np.uint64(c),
        hh_first,
        household,
        role,
        nxt,
        counts,
    )
    return int(sizes.size)


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
            ids, starts, mins, age, size_cum, p, key_r, n_hh, household, role, nxt, counts
        )
    stats = {"parent_age_violations": int(counts[0]), "households_without_adult": int(counts[1])}
    return household, nxt, role, n_hh, stats
