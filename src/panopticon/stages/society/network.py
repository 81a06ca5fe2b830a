"""The social graph: households, work and school groups, friendships, and avoidance.

Every person here is synthetic. The graph links the citizens of a synthetic population so
that consequences can spread: joint liability reaches the household (`family_members`),
friends' scores can enter one's own (`neighbour_mean`), and people may drop friends with
low grades and befriend people with high ones (`Network.rewire`).

Memory layout (see docs/network.md):

* friendships: CSR rows, ``indptr`` and ``indices`` (both int32; a graph holds fewer
  than 2^31 slots). Row i holds ``degree_at_build + slack`` slots; live friends come
  first, free slots hold ``EMPTY`` (-1). A shared overflow *pool* at the end of
  ``indices`` takes rows that outgrow their slots: the row moves there and its first base
  slot holds ``-2 - offset`` pointing at the pool chunk ``[capacity, friends...]``.
* households: ``household`` (int32 id per citizen), ``next_member`` (int32: the next
  member of the same household, a cycle) and ``role`` (uint8: HEAD, CHILD or OTHER).
* work and school groups: ``group`` (int32 id per citizen, -1 for none).

Everything is built with vectorised NumPy and Numba kernels. Every random number is a
pure function of (seed, stage NETWORK, day or -1 for the build, purpose, counter), so a
graph and every rewiring round are identical on any thread count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numba import njit, prange
from pydantic import Field, field_validator, model_validator

from panopticon.core import streams
from panopticon.core.params import NonNegative, Probability, Strict

EMPTY = -1
HEAD = 0  # adult heading the household (a parent when the household has children)
CHILD = 1  # member aged < 18
OTHER = 2  # any other adult member (grandparent, adult child, relative)
ADULT_AGE = 18
MAX_AGE = 120
_N_AGES = MAX_AGE + 1
_BLOCK = 4096  # rows per parallel work item: a constant, never the thread count
_STUB_BLOCKS = 64  # person blocks of the stub counting sort: a constant
_CHUNK = 1 << 20  # citizens per vectorised chunk of degree draws
_MAX_SLOTS = 2**31 - 2  # int32 indices and pool pointers

# purposes: the `block` part of a stream key, so each use has its own stream
_P_AGE_SHUFFLE = 1
_P_MINOR_KEY = 2
_P_MINOR_SHUFFLE = 3
_P_GROUP_KEY = 4
_P_GROUP_SHUFFLE = 5
_P_GROUP_SIZE = 6
_P_STUB = 7
_P_STUB_SHUFFLE = 8
_P_HOUSE = 1000  # + region
_P_DROP = 1
_P_NEW = 2
_P_PICK = 3

# internal slot roles while households are formed
_S_HEAD = 0
_S_SECOND = 1
_S_PREF = 2  # a slot that takes a child if there are children to place
_S_CHILD = 3
_S_OTHER = 4

_U1 = np.uint64(1)
_U17 = np.uint64(17)
_U32 = np.uint64(32)
_U40 = np.uint64(40)
_U16 = np.uint64(16)


# ======================================================================================
# Parameters
# ======================================================================================


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


# ======================================================================================
# Shared kernels
# ======================================================================================


@njit(cache=True, inline="always")
def _bounds(indptr: np.ndarray, idx: np.ndarray, i: int) -> tuple[int, int]:
    """Slot range [lo, hi) of row i, following a pool pointer if the row has moved."""
    lo = np.int64(indptr[i])
    hi = np.int64(indptr[i + 1])
    if hi > lo:
        v = idx[lo]
        if v <= -2:
            p = np.int64(-2) - np.int64(v)
            return p + 1, p + 1 + np.int64(idx[p])
    return lo, hi


@njit(cache=True, inline="always")
def _row_degree(idx: np.ndarray, lo: int, hi: int) -> int:
    """Live entries at the front of a row's slots."""
    d = 0
    for s in range(lo, hi):
        if idx[s] < 0:
            break
        d += 1
    return d


@njit(cache=True)
def _scale_circle(
    ids: np.ndarray,
    indptr: np.ndarray,
    idx: np.ndarray,
    nxt: np.ndarray,
    values: np.ndarray,
    factor: float,
    floor: float,
) -> None:
    """Scale the values of each id's other household members and friends (once per tie).

    values[k] = max(floor, values[k] * factor).
    """
    for r in range(ids.size):
        j = ids[r]
        k = nxt[j]
        while k != j:
            values[k] = max(floor, values[k] * factor)
            k = nxt[k]
        lo, hi = _bounds(indptr, idx, j)
        for s in range(lo, lo + _row_degree(idx, lo, hi)):
            f = idx[s]
            values[f] = max(floor, values[f] * factor)


@njit(cache=True)
def _counting_order(keys: np.ndarray, n_buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids grouped by key (stable); keys < 0 are left out. Returns (order, bucket starts)."""
    counts = np.zeros(n_buckets + 1, dtype=np.int64)
    for i in range(keys.size):
        k = keys[i]
        if k >= 0:
            counts[k + 1] += 1
    for b in range(n_buckets):
        counts[b + 1] += counts[b]
    order = np.empty(counts[n_buckets], dtype=np.int32)
    cursor = counts[:-1].copy()
    for i in range(keys.size):
        k = keys[i]
        if k >= 0:
            order[cursor[k]] = i
            cursor[k] += 1
    return order, counts


@njit(cache=True, parallel=True)
def _shuffle_segments(order: np.ndarray, starts: np.ndarray, key: np.uint64) -> None:
    """Fisher-Yates shuffle of each bucket's segment, keyed by (key, bucket, position)."""
    for b in prange(starts.size - 1):
        lo, hi = starts[b], starts[b + 1]
        base = np.uint64(b) << _U40
        for j in range(hi - 1, lo, -1):
            u = streams.uniform(key, base | np.uint64(j - lo))
            r = lo + np.int64(u * (j - lo + 1))
            t = order[j]
            order[j] = order[r]
            order[r] = t


def _bucket_order(
    keys: np.ndarray, n_buckets: int, key: np.uint64
) -> tuple[np.ndarray, np.ndarray]:
    """Ids grouped by key and in random order within each key (counting sort + shuffle)."""
    order, starts = _counting_order(keys, n_buckets)
    _shuffle_segments(order, starts, key)
    return order, starts


def _key(seed: int, day: int, purpose: int) -> np.uint64:
    """Stream key for (seed, NETWORK, day, purpose) as uint64 (day -1: the build)."""
    return np.uint64(streams.stream_key(seed, streams.NETWORK, day, purpose))


@njit(cache=True, inline="always")
def _normal(key: np.uint64, counter: np.uint64) -> float:
    """Standard normal by Box-Muller from draws `counter` and `counter + 1`."""
    u1 = 1.0 - streams.uniform(key, counter)
    u2 = streams.uniform(key, counter + _U1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


# ======================================================================================
# Households
# ======================================================================================


@njit(cache=True, parallel=True)
def _age_keys(age: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Bucket region * 121 + age per citizen."""
    out = np.empty(age.size, dtype=np.int32)
    for i in prange(age.size):
        out[i] = np.int32(region[i]) * _N_AGES + min(np.int32(age[i]), MAX_AGE)
    return out


@njit(cache=True, parallel=True)
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
        z = _normal(key, np.uint64(i) << _U1) * sd
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
        c += _U1
        left -= 1
    return c


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
    n_adult = np.int64(age_starts[_N_AGES] - age_starts[ADULT_AGE])
    n_minor = minors.size
    n = n_adult + n_minor
    if n == 0:
        return 0
    c = np.uint64(0)
    # 1. sizes
    sizes = np.empty(n, dtype=np.int32)
    n_hh = 0
    tot = 0
    while tot < n:
        u = streams.uniform(key, c)
        c += _U1
        s = np.int64(np.searchsorted(size_cum, u, side="right")) + 1
        s = min(s, size_cum.size, n - tot)
        sizes[n_hh] = s
        n_hh += 1
        tot += s
    start = np.zeros(n_hh + 1, dtype=np.int64)
    for h in range(n_hh):
        start[h + 1] = start[h] + sizes[h]
    # 2. slot roles
    slot_role = np.empty(n, dtype=np.uint8)
    n_pref = 0
    n_second = 0
    for h in range(n_hh):
        b = start[h]
        slot_role[b] = _S_HEAD
        for k in range(1, sizes[h]):
            if k == 1 and streams.uniform(key, c) < couple:
                slot_role[b + k] = _S_SECOND
                n_second += 1
            else:
                slot_role[b + k] = _S_PREF
                n_pref += 1
            c += _U1
    # 3. which slots take children
    need = n_minor
    if n_pref >= need:
        c = _select(slot_role, _S_PREF, _S_CHILD, _S_OTHER, need, n_pref, key, c)
    else:
        for s in range(n):
            if slot_role[s] == _S_PREF:
                slot_role[s] = _S_CHILD
        need -= n_pref
        take = min(need, n_second)
        c = _select(slot_role, _S_SECOND, _S_CHILD, _S_SECOND, take, n_second, key, c)
        need -= take
        if need > 0:
            c = _select(slot_role, _S_HEAD, _S_CHILD, _S_HEAD, need, n_hh, key, c)
    # 4. children, in noisy-age order, fill child slots household by household
    member = np.empty(n, dtype=np.int32)
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
    # 5. adults from per-age pools (shuffled within each age)
    avail = np.zeros(_N_AGES, dtype=np.int64)
    ptr = np.zeros(_N_AGES, dtype=np.int64)
    for a in range(ADULT_AGE, _N_AGES):
        avail[a] = age_starts[a + 1] - age_starts[a]
        ptr[a] = age_starts[a]
    remaining = n_adult
    with_kids = np.empty(n_hh, dtype=np.int32)
    nk = 0
    for h in range(n_hh):
        if oldest[h] >= 0:
            with_kids[nk] = h
            nk += 1
    for j in range(nk - 1, 0, -1):
        r = np.int64(streams.uniform(key, c) * (j + 1))
        c += _U1
        t = with_kids[j]
        with_kids[j] = with_kids[r]
        with_kids[r] = t
    head_age = np.full(n_hh, -1, dtype=np.int32)
    # 5a. first heads of households with children, then 5b. their second heads
    for phase in range(2):
        for q in range(nk):
            h = with_kids[q]
            lo = oldest[h] + gap_min
            hi = max(youngest[h] + gap_max, lo)
            for s in range(start[h], start[h + 1]):
                sr = slot_role[s]
                if (phase == 0 and sr != _S_HEAD) or (phase == 1 and sr != _S_SECOND):
                    continue
                if phase == 1 and head_age[h] >= 0:
                    target = head_age[h] + spouse_sd * _normal(key, c)
                else:
                    g = min(max(gap_mean + gap_sd * _normal(key, c), gap_min), gap_max)
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
    # 5c. childless households: a random head, then a spouse of similar age
    for h in range(n_hh):
        if oldest[h] >= 0:
            continue
        for s in range(start[h], start[h + 1]):
            sr = slot_role[s]
            if sr == _S_HEAD:
                m, a = _pick_random(avail, ptr, by_age, remaining, streams.uniform(key, c))
                c += _U1
                head_age[h] = a
            elif sr == _S_SECOND:
                target = head_age[h] + spouse_sd * _normal(key, c)
                coin = streams.uniform(key, c + np.uint64(2))
                c += np.uint64(3)
                m, a, ok = _pick_near(avail, ptr, by_age, target, ADULT_AGE, MAX_AGE, coin)
            else:
                continue
            remaining -= 1
            member[s] = m
    # 5d. other adults: random remaining adults
    for s in range(n):
        if slot_role[s] == _S_OTHER:
            m, a = _pick_random(avail, ptr, by_age, remaining, streams.uniform(key, c))
            c += _U1
            remaining -= 1
            member[s] = m
    # 6. write out
    for h in range(n_hh):
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
            counts[1] += 1
    return n_hh


def _build_households(
    p: Households, age: np.ndarray, region: np.ndarray, n_regions: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, dict[str, int]]:
    """Households for all regions: (household, next_member, role, n_households, counts)."""
    n = age.size
    key = _key(seed, -1, _P_AGE_SHUFFLE)
    by_age, age_starts = _bucket_order(_age_keys(age, region), n_regions * _N_AGES, key)
    sd = float(p.sibling_age_sd)
    off = math.ceil(5.0 * sd)
    nb = ADULT_AGE + 2 * off
    key_m = _key(seed, -1, _P_MINOR_KEY)
    mkeys = _minor_keys(age, region, sd, off, nb, key_m)
    key_ms = _key(seed, -1, _P_MINOR_SHUFFLE)
    minors, m_starts = _bucket_order(mkeys, n_regions * nb, key_ms)
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
        a0, a1 = r * _N_AGES, (r + 1) * _N_AGES
        starts = age_starts[a0 : a1 + 1] - age_starts[a0]
        ids = by_age[age_starts[a0] : age_starts[a1]]
        mins = minors[m_starts[r * nb] : m_starts[(r + 1) * nb]]
        key_r = _key(seed, -1, _P_HOUSE + r)
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


# ======================================================================================
# Work and school groups
# ======================================================================================


@njit(cache=True, parallel=True)
def _group_keys(
    age: np.ndarray,
    region: np.ndarray,
    n_regions: int,
    w_lo: int,
    w_hi: int,
    employment: float,
    s_lo: int,
    s_hi: int,
    key: np.uint64,
) -> np.ndarray:
    """Group pool per citizen: region (employed workers), region and age (pupils), or -1."""
    out = np.empty(age.size, dtype=np.int32)
    n_s = s_hi - s_lo + 1
    for i in prange(age.size):
        a = np.int64(age[i])
        r = np.int64(region[i])
        if w_lo <= a <= w_hi and a >= ADULT_AGE:
            out[i] = r if streams.uniform(key, np.uint64(i)) < employment else -1
        elif s_lo <= a <= s_hi:
            out[i] = n_regions + r * n_s + (a - s_lo)
        else:
            out[i] = -1
    return out


@njit(cache=True)
def _cut_groups(
    order: np.ndarray,
    starts: np.ndarray,
    n_work_buckets: int,
    work_mean: float,
    school_mean: float,
    key: np.uint64,
    group: np.ndarray,
) -> int:
    """Cut each bucket's shuffled members into groups of 1 + Poisson(mean - 1) people."""
    g = 0
    c = np.uint64(0)
    for b in range(starts.size - 1):
        mean = work_mean if b < n_work_buckets else school_mean
        j = starts[b]
        while j < starts[b + 1]:
            k, c = streams.poisson(key, c, mean - 1.0)
            end = min(j + 1 + k, starts[b + 1])
            for q in range(j, end):
                group[order[q]] = g
            g += 1
            j = end
    return g


def _build_groups(
    p: Workplaces, age: np.ndarray, region: np.ndarray, n_regions: int, seed: int
) -> tuple[np.ndarray, int]:
    """Work group or school class id per citizen (-1 for none) and the number of groups."""
    key = _key(seed, -1, _P_GROUP_KEY)
    keys = _group_keys(
        age,
        region,
        n_regions,
        p.work_min_age,
        p.work_max_age,
        p.employment,
        p.school_min_age,
        p.school_max_age,
        key,
    )
    n_buckets = n_regions * (1 + p.school_max_age - p.school_min_age + 1)
    key_s = _key(seed, -1, _P_GROUP_SHUFFLE)
    order, starts = _bucket_order(keys, n_buckets, key_s)
    del keys
    group = np.full(age.size, -1, dtype=np.int32)
    key_g = _key(seed, -1, _P_GROUP_SIZE)
    n_groups = _cut_groups(
        order, starts, n_regions, p.work_mean_size, p.school_mean_size, key_g, group
    )
    return group, n_groups


# ======================================================================================
# Friendships
# ======================================================================================


def _draw_degrees(p: Friends, n: int, seed: int) -> np.ndarray:
    """Target degree per citizen (int32), chunk by chunk from counter-based generators."""
    out = np.empty(n, dtype=np.int32)
    cv = p.dispersion
    for chunk in range((n + _CHUNK - 1) // _CHUNK):
        lo, hi = chunk * _CHUNK, min((chunk + 1) * _CHUNK, n)
        rng = streams.population_rng(seed, streams.NETWORK, chunk)
        m = hi - lo
        if p.mean == 0:
            d = np.zeros(m)
        elif p.distribution == "negative_binomial":
            lam = p.mean if cv == 0 else rng.gamma(1.0 / cv**2, p.mean * cv**2, size=m)
            d = rng.poisson(lam, size=m)
        else:
            sigma = math.sqrt(math.log1p(cv**2))
            x = rng.lognormal(math.log(p.mean) - sigma**2 / 2, sigma, size=m)
            d = np.floor(np.minimum(x, p.max_degree) + rng.random(m))
        out[lo:hi] = np.minimum(d, p.max_degree)
    return out


@njit(cache=True, inline="always")
def _stub_bucket(
    key: np.uint64,
    i: int,
    k: int,
    a: float,
    r: int,
    p_local: float,
    s: float,
    off: float,
    inv_w: float,
    nbins: int,
    nreg: int,
) -> int:
    """Bucket of friendship stub k of citizen i: (region or national pool, noisy age bin)."""
    c = (np.uint64(i) << _U17) | (np.uint64(k) << _U1)
    local = streams.uniform(key, c) < p_local
    u = streams.uniform(key, c | _U1)
    if u <= 0.0:
        u = 1e-17
    z = s * math.log(u / (1.0 - u))
    z = min(max(z, -off), off)
    b = int((a + z + off) * inv_w)
    b = min(max(b, 0), nbins - 1)
    return r * nbins + b if local else nreg * nbins + b


@njit(cache=True, parallel=True)
def _stub_hist(
    deg: np.ndarray,
    age: np.ndarray,
    region: np.ndarray,
    key: np.uint64,
    p_local: float,
    s: float,
    off: float,
    inv_w: float,
    nbins: int,
    nreg: int,
    n_blk: int,
) -> np.ndarray:
    """Stubs per (person block, bucket)."""
    n = deg.size
    blk = (n + n_blk - 1) // n_blk
    hist = np.zeros((n_blk, (nreg + 1) * nbins), dtype=np.int64)
    for b in prange(n_blk):
        for i in range(b * blk, min((b + 1) * blk, n)):
            a = float(age[i])
            r = np.int64(region[i])
            for k in range(deg[i]):
                hist[b, _stub_bucket(key, i, k, a, r, p_local, s, off, inv_w, nbins, nreg)] += 1
    return hist


@njit(cache=True)
def _stub_cursor(hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each (person block, bucket) starts writing, and bucket starts."""
    n_blk, nbk = hist.shape
    cursor = np.empty((n_blk, nbk), dtype=np.int64)
    starts = np.empty(nbk + 1, dtype=np.int64)
    pos = 0
    for k in range(nbk):
        starts[k] = pos
        for b in range(n_blk):
            cursor[b, k] = pos
            pos += hist[b, k]
    starts[nbk] = pos
    return cursor, starts


@njit(cache=True, parallel=True)
def _stub_place(
    deg: np.ndarray,
    age: np.ndarray,
    region: np.ndarray,
    key: np.uint64,
    p_local: float,
    s: float,
    off: float,
    inv_w: float,
    nbins: int,
    nreg: int,
    cursor: np.ndarray,
    owner: np.ndarray,
    rank: np.ndarray,
) -> None:
    """Write each stub's owner and its rank among the owner's stubs in bucket order."""
    n = deg.size
    n_blk = cursor.shape[0]
    blk = (n + n_blk - 1) // n_blk
    for b in prange(n_blk):
        for i in range(b * blk, min((b + 1) * blk, n)):
            a = float(age[i])
            r = np.int64(region[i])
            for k in range(deg[i]):
                bk = _stub_bucket(key, i, k, a, r, p_local, s, off, inv_w, nbins, nreg)
                pos = cursor[b, bk]
                cursor[b, bk] = pos + 1
                owner[pos] = i
                rank[pos] = k


@njit(cache=True, parallel=True)
def _stub_shuffle(owner: np.ndarray, rank: np.ndarray, starts: np.ndarray, key: np.uint64) -> None:
    """Shuffle stubs within each bucket (keyed by bucket and position)."""
    for b in prange(starts.size - 1):
        lo, hi = starts[b], starts[b + 1]
        base = np.uint64(b) << _U40
        for j in range(hi - 1, lo, -1):
            u = streams.uniform(key, base | np.uint64(j - lo))
            r = lo + np.int64(u * (j - lo + 1))
            t = owner[j]
            owner[j] = owner[r]
            owner[r] = t
            t2 = rank[j]
            rank[j] = rank[r]
            rank[r] = t2


@njit(cache=True, parallel=True)
def _stub_pair(
    owner: np.ndarray, rank: np.ndarray, starts: np.ndarray, indptr: np.ndarray, idx: np.ndarray
) -> tuple[int, int]:
    """Pair consecutive stubs within each bucket into ties; returns (self loops, unpaired)."""
    nbk = starts.size - 1
    loops = np.zeros(nbk, dtype=np.int64)
    odd = np.zeros(nbk, dtype=np.int64)
    for b in prange(nbk):
        lo, hi = starts[b], starts[b + 1]
        odd[b] = (hi - lo) % 2
        for p in range(lo, hi - 1, 2):
            u = owner[p]
            v = owner[p + 1]
            if u == v:
                loops[b] += 1
                continue
            idx[indptr[u] + rank[p]] = v
            idx[indptr[v] + rank[p + 1]] = u
    return loops.sum(), odd.sum()


@njit(cache=True, inline="always")
def _sort_small(a: np.ndarray, lo: int, hi: int) -> None:
    """In-place insertion sort of a[lo:hi] (rows are short)."""
    for j in range(lo + 1, hi):
        v = a[j]
        q = j - 1
        while q >= lo and a[q] > v:
            a[q + 1] = a[q]
            q -= 1
        a[q + 1] = v


@njit(cache=True, parallel=True)
def _clean_rows(indptr: np.ndarray, idx: np.ndarray) -> int:
    """Sort each row, drop duplicate entries, pack live entries first; returns removed."""
    n = indptr.size - 1
    n_blk = (n + _BLOCK - 1) // _BLOCK
    removed = np.zeros(n_blk, dtype=np.int64)
    for b in prange(n_blk):
        for i in range(b * _BLOCK, min((b + 1) * _BLOCK, n)):
            lo, hi = indptr[i], indptr[i + 1]
            if hi - lo <= 32:
                _sort_small(idx, lo, hi)
            else:
                idx[lo:hi].sort()
            w = lo
            last = -1
            for s in range(lo, hi):
                v = idx[s]
                if v < 0:
                    continue
                if v == last:
                    removed[b] += 1
                    continue
                idx[w] = v
                w += 1
                last = v
            for s in range(w, hi):
                idx[s] = EMPTY
    return removed.sum()


def _layout(capacity: np.ndarray, pool: float) -> tuple[np.ndarray, np.ndarray, int]:
    """CSR indptr for the given row capacities and an EMPTY indices array with a pool."""
    n = capacity.size
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(capacity, out=indptr[1:])
    base = int(indptr[-1])
    total = base + math.ceil(pool * n)
    if total > _MAX_SLOTS:
        raise ValueError(
            f"network: {total} friend slots are not allowed in one graph; at most {_MAX_SLOTS} "
            "(lower friends.mean, avoidance.slack or avoidance.pool, or shard by region)"
        )
    indptr = indptr.astype(np.int32)
    idx = np.full(total, EMPTY, dtype=np.int32)
    return indptr, idx, base


def _build_friends(
    p: Friends, a: Avoidance, age: np.ndarray, region: np.ndarray, n_regions: int, seed: int
) -> tuple[np.ndarray, np.ndarray, int, dict[str, int]]:
    """Friendship CSR (indptr, indices, pool start) by homophilous stub matching."""
    n = age.size
    deg = _draw_degrees(p, n, seed)
    capacity = np.maximum(deg.astype(np.int64) + a.slack, 1)
    indptr, idx, base = _layout(capacity, a.pool)
    del capacity
    p_local = 1.0 if n_regions == 1 else p.same_region
    s = p.age_scale * math.sqrt(3.0 / (2.0 * math.pi**2))  # logistic scale per stub
    off = 8.0 * s
    width = max(1.0, p.age_scale / 4.0)
    nbins = math.ceil((_N_AGES + 2 * off) / width) + 1
    n_blk = max(1, min(_STUB_BLOCKS, n // 1024))
    key = _key(seed, -1, _P_STUB)
    args = (deg, age, region, key, p_local, s, off, 1.0 / width, nbins, n_regions)
    hist = _stub_hist(*args, n_blk)
    cursor, starts = _stub_cursor(hist)
    del hist
    n_stubs = int(starts[-1])
    owner = np.empty(n_stubs, dtype=np.int32)
    rank = np.empty(n_stubs, dtype=np.uint16)
    _stub_place(*args, cursor, owner, rank)
    del cursor
    _stub_shuffle(owner, rank, starts, _key(seed, -1, _P_STUB_SHUFFLE))
    loops, odd = _stub_pair(owner, rank, starts, indptr, idx)
    del owner, rank
    dups = _clean_rows(indptr, idx)
    stats = {
        "stubs": n_stubs,
        "self_loops": int(loops),
        "unpaired_stubs": int(odd),
        "duplicate_edges": int(dups) // 2,
    }
    return indptr, idx, base, stats


# ======================================================================================
# Queries and metrics
# ======================================================================================


@njit(cache=True, parallel=True)
def _degree(indptr: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Number of friends per citizen."""
    n = indptr.size - 1
    out = np.empty(n, dtype=np.int32)
    for i in prange(n):
        lo, hi = _bounds(indptr, idx, i)
        out[i] = _row_degree(idx, lo, hi)
    return out


@njit(cache=True)
def _row_copy(indptr: np.ndarray, idx: np.ndarray, i: int) -> np.ndarray:
    """Copy of row i's friends."""
    lo, hi = _bounds(indptr, idx, i)
    return idx[lo : lo + _row_degree(idx, lo, hi)].copy()


@njit(cache=True, parallel=True)
def _fill_edges(
    indptr: np.ndarray, idx: np.ndarray, offsets: np.ndarray, src: np.ndarray, dst: np.ndarray
) -> None:
    """Directed entries (i, j) of every row, row by row."""
    n = indptr.size - 1
    for i in prange(n):
        lo, hi = _bounds(indptr, idx, i)
        o = offsets[i]
        for k in range(_row_degree(idx, lo, hi)):
            src[o + k] = i
            dst[o + k] = idx[lo + k]


@njit(cache=True, parallel=True)
def _neighbour_means(
    indptr: np.ndarray, idx: np.ndarray, a: np.ndarray, b: np.ndarray, default: float
) -> tuple[np.ndarray, np.ndarray]:
    """Means of friends' a and b values per citizen; `default` without friends."""
    n = indptr.size - 1
    out_a = np.empty(n, dtype=np.float64)
    out_b = np.empty(n, dtype=np.float64)
    for i in prange(n):
        lo, hi = _bounds(indptr, idx, i)
        ta = 0.0
        tb = 0.0
        d = 0
        for s in range(lo, hi):
            j = idx[s]
            if j < 0:
                break
            ta += a[j]
            tb += b[j]
            d += 1
        out_a[i] = ta / d if d > 0 else default
        out_b[i] = tb / d if d > 0 else default
    return out_a, out_b


@njit(cache=True, parallel=True)
def _neighbour_mean(
    indptr: np.ndarray, idx: np.ndarray, values: np.ndarray, default: float
) -> np.ndarray:
    """Mean of friends' values per citizen; `default` for people without friends."""
    n = indptr.size - 1
    out = np.empty(n, dtype=np.float64)
    for i in prange(n):
        lo, hi = _bounds(indptr, idx, i)
        total = 0.0
        d = 0
        for s in range(lo, hi):
            j = idx[s]
            if j < 0:
                break
            total += values[j]
            d += 1
        out[i] = total / d if d > 0 else default
    return out


@njit(cache=True, parallel=True)
def _edge_moments(indptr: np.ndarray, idx: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-block sums over directed ties (i, j): count, x_i, x_i^2, x_i x_j."""
    n = indptr.size - 1
    n_blk = (n + _BLOCK - 1) // _BLOCK
    acc = np.zeros((n_blk, 4), dtype=np.float64)
    for b in prange(n_blk):
        for i in range(b * _BLOCK, min((b + 1) * _BLOCK, n)):
            lo, hi = _bounds(indptr, idx, i)
            x = values[i]
            for s in range(lo, hi):
                j = idx[s]
                if j < 0:
                    break
                acc[b, 0] += 1.0
                acc[b, 1] += x
                acc[b, 2] += x * x
                acc[b, 3] += x * values[j]
    return acc


@njit(cache=True)
def _walk_households(
    ids: np.ndarray, nxt: np.ndarray, role: np.ndarray, want_from: int, want_to: int
) -> np.ndarray:
    """Members reached from `ids` around their household cycles.

    want_from < 0: every member. Otherwise only ids with role want_from start a walk and
    only members with role want_to are returned (children of heads, heads of children).
    """
    total = 0
    for q in range(ids.size):
        i = ids[q]
        if want_from >= 0 and role[i] != want_from:
            continue
        j = i
        while True:
            if want_from < 0 or role[j] == want_to:
                total += 1
            j = nxt[j]
            if j == i:
                break
    out = np.empty(total, dtype=np.int32)
    w = 0
    for q in range(ids.size):
        i = ids[q]
        if want_from >= 0 and role[i] != want_from:
            continue
        j = i
        while True:
            if want_from < 0 or role[j] == want_to:
                out[w] = j
                w += 1
            j = nxt[j]
            if j == i:
                break
    return out


# ======================================================================================
# Rewiring
# ======================================================================================


@njit(cache=True, parallel=True)
def _low_tie_share(indptr: np.ndarray, idx: np.ndarray, low: np.ndarray) -> tuple[int, int]:
    """(ties pointing to a low person, all ties), counted over directed entries."""
    n = indptr.size - 1
    n_blk = (n + _BLOCK - 1) // _BLOCK
    acc = np.zeros((n_blk, 2), dtype=np.int64)
    for b in prange(n_blk):
        for i in range(b * _BLOCK, min((b + 1) * _BLOCK, n)):
            lo, hi = _bounds(indptr, idx, i)
            for s in range(lo, hi):
                j = idx[s]
                if j < 0:
                    break
                acc[b, 1] += 1
                if low[j]:
                    acc[b, 0] += 1
    return acc[:, 0].sum(), acc[:, 1].sum()


@njit(cache=True, inline="always")
def _decides(key: np.uint64, i: int, j: int, low_j: bool, blind: bool, p: float) -> bool:
    """Whether i decides to drop j this round: a pure function of (round, i, j)."""
    if not (blind or low_j):
        return False
    return streams.uniform(key, (np.uint64(i) << _U32) | np.uint64(j)) < p


@njit(cache=True, parallel=True)
def _drop_pass(
    indptr: np.ndarray,
    idx: np.ndarray,
    low: np.ndarray,
    blind: bool,
    p: float,
    p_new: float,
    key_drop: np.uint64,
    key_new: np.uint64,
    want: np.ndarray,
) -> tuple[int, int]:
    """Remove every tie either end decides to drop (both rows agree without talking).

    want[i] = number of i's own drop decisions that will be replaced by a new tie.
    Returns (drop decisions, directed entries removed).
    """
    n = indptr.size - 1
    n_blk = (n + _BLOCK - 1) // _BLOCK
    acc = np.zeros((n_blk, 2), dtype=np.int64)
    for b in prange(n_blk):
        for i in range(b * _BLOCK, min((b + 1) * _BLOCK, n)):
            lo, hi = _bounds(indptr, idx, i)
            w = lo
            k = 0
            low_i = low[i]
            for s in range(lo, hi):
                j = idx[s]
                if j < 0:
                    break
                mine = _decides(key_drop, i, j, low[j], blind, p)
                theirs = _decides(key_drop, j, i, low_i, blind, p)
                if mine:
                    acc[b, 0] += 1
                    if streams.uniform(key_new, (np.uint64(i) << _U32) | np.uint64(j)) < p_new:
                        k += 1
                if mine or theirs:
                    acc[b, 1] += 1
                    continue
                idx[w] = j
                w += 1
            for s in range(w, hi):
                if idx[s] < 0:
                    break
                idx[s] = EMPTY
            want[i] = k
    return acc[:, 0].sum(), acc[:, 1].sum()


@njit(cache=True)
def _room(indptr: np.ndarray, idx: np.ndarray, top: np.ndarray, i: int) -> tuple[int, bool]:
    """A free slot of row i (moving the row to the pool if full): (slot, moved) or (-1, _)."""
    lo, hi = _bounds(indptr, idx, i)
    d = _row_degree(idx, lo, hi)
    if lo + d < hi:
        return lo + d, False
    cap = hi - lo
    new_cap = cap + max(4, cap // 2)
    p = top[0]
    if p + 1 + new_cap > idx.size:
        return -1, False
    idx[p] = new_cap
    for k in range(cap):
        idx[p + 1 + k] = idx[lo + k]
    for k in range(cap, new_cap):
        idx[p + 1 + k] = EMPTY
    top[0] = p + 1 + new_cap
    idx[indptr[i]] = -2 - p
    return p + 1 + cap, True


@njit(cache=True)
def _is_friend(indptr: np.ndarray, idx: np.ndarray, i: int, j: int) -> bool:
    """Whether j is in row i."""
    lo, hi = _bounds(indptr, idx, i)
    for s in range(lo, hi):
        v = idx[s]
        if v < 0:
            return False
        if v == j:
            return True
    return False


@njit(cache=True)
def _new_ties(
    indptr: np.ndarray,
    idx: np.ndarray,
    top: np.ndarray,
    want: np.ndarray,
    cum: np.ndarray,
    tries: int,
    key: np.uint64,
) -> tuple[int, int, int]:
    """Form the wanted new ties in id order; returns (formed, failed, rows moved)."""
    n = want.size
    formed = 0
    failed = 0
    moved = 0
    weighted = cum.size == n
    total = cum[n - 1] if weighted else 0.0
    for i in range(n):
        for t in range(want[i]):
            done = False
            for attempt in range(tries):
                c = (np.uint64(i) << _U32) | (np.uint64(t) << _U16) | np.uint64(attempt)
                u = streams.uniform(key, c)
                if weighted:
                    k = min(np.int64(np.searchsorted(cum, u * total, side="right")), n - 1)
                else:
                    k = np.int64(u * n)
                if k == i or _is_friend(indptr, idx, i, k):
                    continue
                si, mi = _room(indptr, idx, top, i)
                moved += mi
                if si < 0:
                    break
                sk, mk = _room(indptr, idx, top, k)
                moved += mk
                if sk < 0:
                    continue
                idx[si] = k
                idx[sk] = i
                formed += 1
                done = True
                break
            if not done:
                failed += 1
    return formed, failed, moved


@njit(cache=True, parallel=True)
def _copy_rows(
    indptr: np.ndarray, idx: np.ndarray, new_indptr: np.ndarray, new_idx: np.ndarray
) -> None:
    """Copy every row's live entries into a fresh layout (compaction)."""
    n = indptr.size - 1
    for i in prange(n):
        lo, hi = _bounds(indptr, idx, i)
        d = _row_degree(idx, lo, hi)
        o = new_indptr[i]
        for k in range(d):
            new_idx[o + k] = idx[lo + k]


# ======================================================================================
# The network
# ======================================================================================


@dataclass
class Network:
    """Households, work/school groups and friendships of a synthetic population.

    Arrays are public and columnar; `nbytes()` is their resident size. Row layout and the
    overflow pool are described in the module docstring and docs/network.md.
    """

    size: int
    indptr: np.ndarray  # int32[size + 1]: base slots of each row
    indices: np.ndarray  # int32[slots + pool]: friend ids, EMPTY, or pool pointers
    pool_top: np.ndarray  # int64[1]: next free pool slot
    pool_start: int  # first pool slot (= indptr[-1])
    household: np.ndarray  # int32[size]: household id
    next_member: np.ndarray  # int32[size]: next member of the same household (a cycle)
    role: np.ndarray  # uint8[size]: HEAD, CHILD or OTHER
    group: np.ndarray  # int32[size]: work group / school class, -1 for none
    n_households: int
    n_groups: int
    slack: int = 1
    pool_per_citizen: float = 0.25
    stats: dict[str, int] = field(default_factory=dict)

    # ---------------------------------------------------------------- friendships
    def degree(self) -> np.ndarray:
        """Number of friends per citizen (int32)."""
        return _degree(self.indptr, self.indices)

    def n_edges(self) -> int:
        """Number of friendships (undirected ties)."""
        return int(self.degree().sum(dtype=np.int64)) // 2

    def edges(self, directed: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Ties as int32 arrays (src, dst): each once with src < dst, or both directions.

        For export and analysis (e.g. a Parquet edge list); the engine never needs it.
        """
        deg = self.degree()
        offsets = np.zeros(self.size + 1, dtype=np.int64)
        np.cumsum(deg, out=offsets[1:])
        src = np.empty(offsets[-1], dtype=np.int32)
        dst = np.empty(offsets[-1], dtype=np.int32)
        _fill_edges(self.indptr, self.indices, offsets, src, dst)
        if directed:
            return src, dst
        keep = src < dst
        return src[keep], dst[keep]

    def friends_of(self, i: int) -> np.ndarray:
        """Ids of citizen i's friends (a copy, int32)."""
        return _row_copy(self.indptr, self.indices, int(i))

    def neighbour_means(
        self, a: np.ndarray, b: np.ndarray, default: float = np.nan
    ) -> tuple[np.ndarray, np.ndarray]:
        """`neighbour_mean` of two value arrays in one pass over the friendships."""
        a, b = np.asarray(a), np.asarray(b)  # any numeric dtype; means are float64
        self._check_size(a, "a")
        self._check_size(b, "b")
        return _neighbour_means(self.indptr, self.indices, a, b, float(default))

    def neighbour_mean(self, values: np.ndarray, default: float = np.nan) -> np.ndarray:
        """Mean of friends' `values` per citizen, `default` for people without friends.

        This is the relationships dimension: friends' scores entering one's own.
        """
        values = np.asarray(values, dtype=np.float64)
        self._check_size(values, "values")
        return _neighbour_mean(self.indptr, self.indices, values, float(default))

    # ---------------------------------------------------------------- households
    def household_of(self, i: int) -> np.ndarray:
        """Sorted ids of everyone in citizen i's household (i included)."""
        return self.family_members(np.array([i], dtype=np.int64))

    def family_members(self, ids: np.ndarray, include_self: bool = True) -> np.ndarray:
        """Sorted unique ids of every household member of the given citizens.

        This is the reach of joint liability. With include_self=False the given citizens
        themselves are left out.
        """
        ids = self._ids(ids)
        out = np.unique(_walk_households(ids, self.next_member, self.role, -1, -1))
        if not include_self:
            out = np.setdiff1d(out, ids, assume_unique=False)
        return out

    def any_other_member(self, mask: np.ndarray) -> np.ndarray:
        """Per citizen: whether any *other* member of their household has `mask` True.

        Joint liability for whole-population decisions (e.g. a child excluded from a
        school because a parent is listed), in one vectorised pass.
        """
        mask = np.asarray(mask, dtype=bool)
        self._check_size(mask, "mask")
        per_household = np.bincount(self.household[mask], minlength=self.n_households)
        return (per_household[self.household] - mask) > 0

    def scale_circle(
        self, ids: np.ndarray, values: np.ndarray, factor: float, floor: float
    ) -> None:
        """Scale `values` of each id's other household members and friends by `factor`.

        Not below `floor`, once per tie: network deterrence, in one pass.
        """
        _scale_circle(
            self._ids(ids),
            self.indptr,
            self.indices,
            self.next_member,
            values,
            values.dtype.type(factor),
            values.dtype.type(floor),
        )

    def children_of(self, ids: np.ndarray) -> np.ndarray:
        """Sorted unique ids of the children (members < 18) of the given heads."""
        ids = self._ids(ids)
        return np.unique(_walk_households(ids, self.next_member, self.role, HEAD, CHILD))

    def parents_of(self, ids: np.ndarray) -> np.ndarray:
        """Sorted unique ids of the household heads of the given children."""
        ids = self._ids(ids)
        return np.unique(_walk_households(ids, self.next_member, self.role, CHILD, HEAD))

    def household_sizes(self) -> np.ndarray:
        """Members per household id."""
        return np.bincount(self.household, minlength=self.n_households)

    # ---------------------------------------------------------------- metrics
    def degree_by(self, codes: np.ndarray, n_codes: int) -> np.ndarray:
        """Mean degree per code (e.g. grade); NaN for a code nobody has."""
        codes = np.asarray(codes)
        self._check_size(codes, "codes")
        deg = self.degree()
        total = np.bincount(codes, weights=deg, minlength=n_codes)[:n_codes]
        count = np.bincount(codes, minlength=n_codes)[:n_codes]
        with np.errstate(invalid="ignore", divide="ignore"):
            return total / count

    def isolated(self) -> int:
        """Number of citizens without any friend."""
        return int(np.count_nonzero(self.degree() == 0))

    def assortativity(self, values: np.ndarray) -> float:
        """Pearson correlation of `values` across the two ends of every friendship.

        Each tie counts in both directions, so both ends have the same distribution.
        NaN when there are no ties or the values do not vary across them. Sums are per
        fixed block, then added in block order: the result does not depend on threads.
        """
        values = np.asarray(values, dtype=np.float64)
        self._check_size(values, "values")
        m, sx, sxx, sxy = _edge_moments(self.indptr, self.indices, values).sum(axis=0)
        if m == 0:
            return float("nan")
        mean = sx / m
        var = sxx / m - mean * mean
        if var <= 1e-15 * max(1.0, abs(sxx / m)):
            return float("nan")
        return float((sxy / m - mean * mean) / var)

    def nbytes(self) -> int:
        """Resident bytes of the graph arrays."""
        arrays = (
            self.indptr,
            self.indices,
            self.pool_top,
            self.household,
            self.next_member,
            self.role,
            self.group,
        )
        return int(sum(a.nbytes for a in arrays))

    def pool_free(self) -> int:
        """Overflow slots not yet used."""
        return int(self.indices.size - self.pool_top[0])

    # ---------------------------------------------------------------- rewiring
    def rewire(
        self,
        low: np.ndarray,
        attractiveness: np.ndarray,
        day: int,
        seed: int,
        params: Avoidance | NetworkParams,
    ) -> dict[str, int]:
        """One avoidance round, keyed by (seed, day): drops and new ties.

        Each tie i-j with `low[j]` is dropped by i with probability p_drop (both directions
        go). Each of i's drops is replaced, with probability p_new, by a tie to a partner
        drawn with weight exp(preference * attractiveness), up to `tries` proposals (self,
        existing friends and full rows when the pool is spent are rejected). With
        score_blind, every tie is dropped with probability p_drop times the share of
        ties pointing to low people (the same expected churn) and partners are uniform.
        Returns counts: decisions, dropped (ties), new, failed, moved (rows moved to the
        pool), compacted (1 if the pool was refilled first), pool_free.
        """
        a = params.avoidance if isinstance(params, NetworkParams) else params
        low = np.asarray(low, dtype=np.bool_)
        self._check_size(low, "low")
        compacted = 0
        pool_size = self.indices.size - self.pool_start
        if pool_size > 0 and self.pool_free() < pool_size // 4:
            self.compact()
            compacted = 1
        if a.score_blind:
            n_low, n_all = _low_tie_share(self.indptr, self.indices, low)
            p = a.p_drop * (n_low / n_all) if n_all else 0.0
        else:
            p = a.p_drop
        key_drop = _key(seed, day, _P_DROP)
        key_new = _key(seed, day, _P_NEW)
        key_pick = _key(seed, day, _P_PICK)
        want = np.zeros(self.size, dtype=np.int32)
        decisions, removed = _drop_pass(
            self.indptr, self.indices, low, a.score_blind, p, a.p_new, key_drop, key_new, want
        )
        if a.score_blind or a.preference == 0:
            cum = np.zeros(0, dtype=np.float64)
        else:
            att = np.asarray(attractiveness, dtype=np.float64)
            self._check_size(att, "attractiveness")
            if not np.all(np.isfinite(att)):
                raise ValueError("rewire: attractiveness must be finite for every citizen")
            cum = np.cumsum(np.exp(a.preference * (att - att.max())))
        formed, failed, moved = _new_ties(
            self.indptr, self.indices, self.pool_top, want, cum, a.tries, key_pick
        )
        return {
            "decisions": int(decisions),
            "dropped": int(removed) // 2,
            "new": int(formed),
            "failed": int(failed),
            "moved": int(moved),
            "compacted": compacted,
            "pool_free": self.pool_free(),
        }

    def compact(self) -> None:
        """Repack rows to degree + slack slots and refill the overflow pool (reallocates)."""
        deg = self.degree()
        capacity = np.maximum(deg.astype(np.int64) + self.slack, 1)
        indptr, idx, base = _layout(capacity, self.pool_per_citizen)
        _copy_rows(self.indptr, self.indices, indptr, idx)
        self.indptr, self.indices, self.pool_start = indptr, idx, base
        self.pool_top = np.array([base], dtype=np.int64)

    # ---------------------------------------------------------------- helpers
    def _check_size(self, arr: np.ndarray, name: str) -> None:
        if arr.shape != (self.size,):
            raise ValueError(
                f"{name}: shape {arr.shape} is not allowed; need one value per citizen "
                f"({self.size},)"
            )

    def _ids(self, ids: np.ndarray) -> np.ndarray:
        ids = np.atleast_1d(np.asarray(ids)).astype(np.int64, copy=False)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(f"ids: values must be citizen ids in 0..{self.size - 1}")
        return ids


def build_network(params: NetworkParams, age: np.ndarray, region: np.ndarray, seed: int) -> Network:
    """Build households, work/school groups and friendships for a synthetic population.

    `age` and `region` are per-citizen uint8 arrays (see population.demographics). The
    result depends only on (params, age, region, seed), never on the thread count.
    """
    age = np.asarray(age)
    region = np.asarray(region)
    n = age.size
    if n < 1 or region.shape != age.shape or age.ndim != 1:
        raise ValueError(
            f"build_network: age {age.shape} and region {region.shape} are not allowed; "
            "need two 1-D arrays of the same non-zero length"
        )
    if n > _MAX_SLOTS:
        raise ValueError(f"build_network: {n} citizens are not allowed; at most {_MAX_SLOTS}")
    if age.dtype != np.uint8 or int(age.max()) > MAX_AGE:
        age = np.minimum(age, MAX_AGE).astype(np.uint8)
    region = region.astype(np.uint8, copy=False)
    n_regions = int(region.max()) + 1
    household, nxt, role, n_hh, stats = _build_households(
        params.households, age, region, n_regions, seed
    )
    group, n_groups = _build_groups(params.workplaces, age, region, n_regions, seed)
    indptr, idx, base, fstats = _build_friends(
        params.friends, params.avoidance, age, region, n_regions, seed
    )
    stats.update(fstats)
    return Network(
        size=n,
        indptr=indptr,
        indices=idx,
        pool_top=np.array([base], dtype=np.int64),
        pool_start=base,
        household=household,
        next_member=nxt,
        role=role,
        group=group,
        n_households=n_hh,
        n_groups=n_groups,
        slack=params.avoidance.slack,
        pool_per_citizen=params.avoidance.pool,
        stats=stats,
    )
