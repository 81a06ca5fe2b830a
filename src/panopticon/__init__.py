"""Panopticon: a fast, exact simulator of social credit systems over synthetic people.

The Python API has the command line's verbs::

    import panopticon as pn
    sc = pn.load("minimal", population=100_000).override({"surveillance.faceid.p_wrong": 0.05})
    result = pn.run(sc, out="runs/demo")
    result.timeseries, result.people, result.records   # Polars DataFrames
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from panopticon.core.engine import Simulation, run
    from panopticon.core.params import ScenarioError
    from panopticon.core.resume import fork, resume
    from panopticon.io.runs import RunError, RunResult, open_run
    from panopticon.scenario import Scenario, load, preset_names, preset_summaries

# Where each public name lives. They are imported on first use (PEP 562), so that importing a
# subpackage (`panopticon.cli` for `panopticon --help`) does not load the engine and Numba.
_EXPORTS = {
    "Simulation": "panopticon.core.engine",
    "run": "panopticon.core.engine",
    "ScenarioError": "panopticon.core.params",
    "fork": "panopticon.core.resume",
    "resume": "panopticon.core.resume",
    "RunError": "panopticon.io.runs",
    "RunResult": "panopticon.io.runs",
    "open_run": "panopticon.io.runs",
    "Scenario": "panopticon.scenario",
    "load": "panopticon.scenario",
    "preset_names": "panopticon.scenario",
    "preset_summaries": "panopticon.scenario",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use and keep it in the package namespace."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'panopticon' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, imported or not."""
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "RunError",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "__version__",
    "fork",
    "load",
    "open_run",
    "preset_names",
    "preset_summaries",
    "resume",
    "run",
]
