"""Society: households, work and school groups, friends, avoidance.

The social graph of a synthetic population. `build_network` builds a `Network` from
`NetworkParams` and the synthetic ages and regions; the modules hold one concern each:
`params` (the scenario schema, no kernels), `households`, `groups`, `friends` (stub
matching), `graph` (the container and its neighbour operations), `avoidance` (rewiring),
`stats`, `rows` (the CSR slot layout), `draws` (stream keys and bucket sorts) and `build`.
"""

from __future__ import annotations

import importlib
from typing import Any

# Each name is imported on first use (PEP 562): the scenario schema imports `params` and
# the engine imports `module` for every scenario, and a scenario without a graph should
# not load the graph's kernels (about 0.1 s of start-up).
_WHERE = {
    "build_network": "build",
    "Network": "graph",
    "CHILD": "households",
    "HEAD": "households",
    "OTHER": "households",
    "ADULT_AGE": "params",
    "MAX_AGE": "params",
    "Avoidance": "params",
    "Friends": "params",
    "Households": "params",
    "NetworkParams": "params",
    "Workplaces": "params",
    "EMPTY": "rows",
}


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


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


def __dir__() -> list[str]:
    """The public names, imported or not."""
    return sorted({*globals(), *__all__})
