"""Panopticon: a fast, exact simulator of social credit systems over synthetic people.

The Python API has the command line's verbs::

    import panopticon as pn
    sc = pn.load("minimal", population=100_000).override({"surveillance.faceid.p_wrong": 0.05})
    result = pn.run(sc, out="runs/demo")
    result.timeseries, result.people, result.records   # Polars DataFrames
"""

from __future__ import annotations

__version__ = "0.1.0"

from panopticon.core.engine import Simulation, run
from panopticon.core.params import ScenarioError
from panopticon.core.resume import fork, resume
from panopticon.io.runs import RunError, RunResult, open_run
from panopticon.scenario import Scenario, load, preset_names, preset_summaries

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
