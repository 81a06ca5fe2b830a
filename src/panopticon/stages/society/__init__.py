"""Society: households, work and school groups, friends, avoidance.

The social graph of a synthetic population. `build_network` builds a `Network` from
`NetworkParams` and the synthetic ages and regions; the modules hold one concern each:
`params` (the scenario schema, no kernels), `households`, `groups`, `friends` (stub
matching), `graph` (the container and its neighbour operations), `avoidance` (rewiring),
`stats`, `rows` (the CSR slot layout), `draws` (stream keys and bucket sorts) and `build`.
"""

from panopticon.stages.society.build import build_network
from panopticon.stages.society.graph import Network
from panopticon.stages.society.households import CHILD, HEAD, OTHER
from panopticon.stages.society.params import (
    ADULT_AGE,
    MAX_AGE,
    Avoidance,
    Friends,
    Households,
    NetworkParams,
    Workplaces,
)
from panopticon.stages.society.rows import EMPTY

__all__ = [
    "ADULT_AGE",
    "CHILD",
    "EMPTY",
    "HEAD",
    "MAX_AGE",
    "OTHER",
    "Avoidance",
    "Friends",
    "Households",
    "Network",
    "NetworkParams",
    "Workplaces",
    "build_network",
]
