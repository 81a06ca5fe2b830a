"""Work groups for employed adults and school classes for pupils.

Within each region the employed are shuffled and cut into groups of 1 + Poisson(mean - 1)
people; pupils likewise within each (region, age) cohort. ``group`` is -1 for everyone
else. Groups are stored for sanctions and metrics; they create no friendships.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from panopticon.core import streams
from panopticon.core.jit import KERNEL
from panopticon.stages.society.draws import (
    P_GROUP_KEY,
    P_GROUP_SHUFFLE,
    P_GROUP_SIZE,
    bucket_order,
    network_key,
)
from panopticon.stages.society.params import ADULT_AGE, Workplaces


@njit(cache=True, **KERNEL)
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


@njit(cache=True, **KERNEL)
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


def build_groups(
    p: Workplaces, age: np.ndarray, region: np.ndarray, n_regions: int, seed: int
) -> tuple[np.ndarray, int]:
    """Work group or school class id per citizen (-1 for none) and the number of groups."""
    key = network_key(seed, -1, P_GROUP_KEY)
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
    key_s = network_key(seed, -1, P_GROUP_SHUFFLE)
    order, starts = bucket_order(keys, n_buckets, key_s)
    del keys
    group = np.full(age.size, -1, dtype=np.int32)
    key_g = network_key(seed, -1, P_GROUP_SIZE)
    n_groups = _cut_groups(
        order, starts, n_regions, p.work_mean_size, p.school_mean_size, key_g, group
    )
    return group, n_groups
