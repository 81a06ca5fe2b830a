"""A run in a background thread: progress, the days so far, cancellation.

The page must stay responsive while a run works, so :class:`Job` runs the engine in a
daemon thread and only records its state (day done, the simulation built, the result or
the error); the page polls that state on a periodic callback of its own session and
draws from it. Nothing here touches a widget, so nothing crosses threads but plain data.

Cancelling sets a flag that the progress callback reads after each day: it raises
:class:`Cancelled` inside the day loop, the engine's writer aborts (the run folder is
not written) and the thread ends. The run itself is the engine's own (`engine.drive`,
the same `Simulation`, the same manifest fields as `engine.run`), so a run started here
has the same bytes as ``panopticon run`` with the same scenario and seed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

if TYPE_CHECKING:
    from panopticon.core.engine import Simulation
    from panopticon.io.runs import RunResult
    from panopticon.scenario import Scenario

State = Literal["idle", "running", "done", "cancelled", "failed"]


class Cancelled(Exception):
    """Raised inside the day loop when the user cancels the run."""


def free_folder(root: Path, scenario: Scenario) -> Path:
    """The first run folder ``root/<name>-<seed>``, then ``-2``, ``-3``... that is free."""
    from panopticon.io.runs import run_location

    base = root / f"{scenario.name}-{scenario.run.seed}"
    for k in range(1, 100_000):
        out = base if k == 1 else base.with_name(f"{base.name}-{k}")
        if not out.exists() and run_location(out) is None:
            return out
    raise RuntimeError(f"{root}: no free run folder name")


def manifest_fields(scenario: Scenario) -> dict[str, Any]:
    """The manifest fields `engine.run` writes before the run (kept equal by a test)."""
    from panopticon.core.engine import run_manifest

    return run_manifest(scenario)


@dataclass
class Job:
    """One run of `scenario` into `out`, in a background thread."""

    scenario: Scenario
    out: Path
    state: State = "idle"
    day: int = 0
    error: str = ""
    result: RunResult | None = None
    seconds: float = 0.0
    sim: Simulation | None = field(default=None, repr=False)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _t0: float = 0.0

    @property
    def days(self) -> int:
        """Days the run will simulate."""
        return self.scenario.run.days

    @property
    def finished(self) -> bool:
        """Whether the thread has ended (done, cancelled or failed)."""
        return self.state in ("done", "cancelled", "failed")

    def start(self) -> Job:
        """Start the run in a daemon thread; returns self."""
        self.state = "running"
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._work, name="panopticon-explore", daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the run to stop after the day it is computing."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; whether it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.finished

    def _progress(self, done: int, total: int) -> None:
        self.day = done
        if self._cancel.is_set():
            raise Cancelled

    def _build(self) -> Simulation:
        from panopticon.core.engine import Simulation

        self.sim = Simulation(self.scenario)
        return self.sim

    def _work(self) -> None:
        from panopticon.core.engine import check_memory, drive
        from panopticon.io.runs import RunResult, RunWriter

        try:
            check_memory(self.scenario)
            self.out.parent.mkdir(parents=True, exist_ok=True)
            writer = RunWriter(
                self.out,
                scenario_toml=self.scenario.to_toml(),
                manifest=manifest_fields(self.scenario),
            )
            drive(writer, self._build, self._progress, None)
            self.result = RunResult(self.out)
            self.state = "done"
        except Cancelled:
            self.state = "cancelled"
        except Exception as exc:  # shown on the page, one line
            self.error = str(exc).splitlines()[0] if str(exc) else repr(exc)
            self.state = "failed"
        finally:
            self.seconds = time.perf_counter() - self._t0

    def timeseries(self) -> pl.DataFrame | None:
        """The daily columns of the days done so far (None before the first day)."""
        sim = self.sim
        if sim is None:
            return None
        filled = sim.metrics.filled
        if filled == 0:
            return None
        cols = {k: v[:filled].copy() for k, v in sim.metrics.columns.items()}
        return pl.DataFrame(cols)


class LiveRun:
    """A run in progress as the report's figures read it (a duck type of `RunData`).

    Only what the funnel, `records_over_time` and `sanctions_over_time` use: a label, the
    days so far, the population, totals, the threshold, the declared column families (from
    the simulation's own declarations) and no people table yet (the end state is written
    when the run finishes, so the funnel's last column, by outcome, waits for it).
    """

    def __init__(
        self,
        label: str,
        scenario: Scenario,
        timeseries: pl.DataFrame,
        columns: list[Any] | None = None,
    ) -> None:
        """The days so far of a run of `scenario`; `columns`: the simulation's `Column`s."""
        self.label = label
        self.timeseries = timeseries
        self.population = scenario.population.size
        self.threshold: float | None = float(scenario.sanctions.blacklist.threshold)
        self.people_columns: list[str] = []
        self.result = _NoFolder()
        self._columns = list(columns or [])

    def total(self, name: str, default: float = 0.0) -> float:
        """The sum of a daily column over the days so far."""
        ts = self.timeseries
        return float(ts[name].sum()) if name in ts.columns else default

    def family(self, family: str, wrongly: bool | None = False) -> list[Any]:
        """Declared daily columns of a family, in order (as `RunData.family`)."""
        from panopticon.report.data import Declared

        got = [
            Declared(c.name, c.family, c.key, c.wrongly, c.label, c.unit, i)
            for i, c in enumerate(self._columns)
            if c.family == family and c.name in self.timeseries.columns
        ]
        return got if wrongly is None else [d for d in got if bool(d.wrongly) == wrongly]

    def wrongly_sanctioned(self) -> None:
        """Who is wrongly sanctioned is known from the end state only: not yet."""
        return None


class _NoFolder:
    """Stands for a run folder not written yet (no optional files exist in it)."""

    path = Path("/nonexistent/panopticon-live-run")
