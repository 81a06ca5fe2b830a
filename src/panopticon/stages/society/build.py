"""Building the social graph: households, then work/school groups, then friendships.

Every person is synthetic: the graph is built from the synthetic ages and regions of
`population.demographics`, never from real contact or address data. Each part draws from
its own streams, so the graph depends only on (params, age, region, seed).
"""

from __future__ import annotations

import numpy as np

from panopticon.stages.society.friends import build_friends
from panopticon.stages.society.graph import Network
from panopticon.stages.society.groups import build_groups
from panopticon.stages.society.households import build_households
from panopticon.stages.society.params import MAX_AGE, NetworkParams
from panopticon.stages.society.rows import MAX_SLOTS


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
    if n > MAX_SLOTS:
        raise ValueError(f"build_network: {n} citizens are not allowed; at most {MAX_SLOTS}")
    if age.dtype != np.uint8 or int(age.max()) > MAX_AGE:
        age = np.minimum(age, MAX_AGE).astype(np.uint8)
    region = region.astype(np.uint8, copy=False)
    n_regions = int(region.max()) + 1
    household, nxt, role, n_hh, stats = build_households(
        params.households, age, region, n_regions, seed
    )
    group, n_groups = build_groups(params.workplaces, age, region, n_regions, seed)
    indptr, idx, base, fstats = build_friends(
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
