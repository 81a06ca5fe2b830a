"""The Ray backend of every ensemble: each planned run one Ray task, on a cluster or locally.

:func:`panopticon.analysis.sweep.execute` dispatches here with ``backend="ray"``, so
sweeps, calibrations and sensitivity analyses all run on Ray the same way. Each
:class:`~panopticon.analysis.sweep.PlannedRun` becomes one remote task that calls the
same :func:`~panopticon.analysis.sweep.run_one` as the local backend, so a run's folder
holds the same bytes whichever backend wrote it (its random numbers depend on the seed
alone, never on the process or thread count).

- **Cluster.** With an address (``--address auto`` for a cluster started by ``ray start
  --head`` on this machine, or ``host:port``) the driver connects to it. Without one it
  starts a private local cluster of ``jobs`` CPUs listening on 127.0.0.1 only (no
  dashboard, quiet logs). Either is kept for the next ensemble of the same process (a
  calibration runs batch after batch; a cluster takes seconds to start) and shut down
  when the process exits, when an ensemble fails or is interrupted, or by
  :func:`shutdown`. A Ray session opened by someone else (``ray.init`` in a notebook or
  a test) is used as it is and left open.
- **Threads.** On a local cluster each task sets Numba to cores / jobs threads, as the
  local backend's workers do; on a cluster, to the CPUs Ray assigned the task (1).
- **Failures.** Tasks are retried up to :data:`MAX_RETRIES` times when their worker
  process dies (killed, out of memory, node lost): a lost worker costs a retry, not a
  result. A retry writes the same folder again; run folders are claimed by a lock and
  moved into place only when complete (:mod:`panopticon.io.runs`), and the next run of a
  folder clears what a killed one left, so a retry never leaves two results. An
  exception raised by a run is not retried: it is raised here, as it would be locally.
- **Interruption.** SIGINT or SIGTERM (inside
  :func:`~panopticon.analysis.workers.interruptible`) cancels every task not yet
  finished (its worker is killed) before the exception goes on.

Paths are made absolute before they are sent; on a cluster of several machines the
output folder must be on a file system every node shares, and every node needs
panopticon installed.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from panopticon.analysis.sweep import PlannedRun, SweepError, run_one

MAX_RETRIES = 3
"""Times a task is run again after its worker process died (not after an exception)."""

WAIT_EVERY = 0.25
"""Seconds between the driver's checks for finished tasks (and for signals)."""

PID_DIR_ENV = "PANOPTICON_TASK_PID_DIR"
"""If set in a task's environment: the folder where each task attempt appends its pid to
``<run folder name>.pid`` before it runs (lets tests kill a worker mid-task)."""

OBJECT_STORE_BYTES = 100 * 2**20
"""Object store of a local cluster: tasks return only a path, so Ray's minimum is plenty."""


def _import_ray() -> Any:
    """The ray module, or a one-line SweepError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise SweepError(
            'error: --backend ray: ray is not installed; pip install "panopticon[ray]" '
            "(or use --backend local)"
        ) from None
    return ray


def _task(scenario_toml: str, out: str, threads: int | None) -> str:
    """One planned run inside a Ray worker: set Numba's threads, then `run_one`."""
    import numba

    if threads is None:
        import ray

        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
        threads = int(cpus)
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    pid_dir = os.environ.get(PID_DIR_ENV)
    if pid_dir:
        with open(Path(pid_dir) / f"{Path(out).name}.pid", "a", encoding="ascii") as fh:
            fh.write(f"{os.getpid()}\n")
    return run_one(scenario_toml, out)


@contextlib.contextmanager
def _signals_kept() -> Iterator[None]:
    """Within: whatever SIGINT/SIGTERM handlers ray.init installs are undone on leaving.

    ``ray.init`` replaces the SIGTERM handler with one that exits; the ensemble's own
    (:func:`~panopticon.analysis.workers.interruptible`) must stay in charge.
    """
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            with contextlib.suppress(ValueError, TypeError):  # not the main thread
                signal.signal(s, h if h is not None else signal.SIG_DFL)


CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a cluster's address to answer before giving up (Ray itself retries
an address that does not answer for minutes)."""

_HOST_PORT = re.compile(r"^(?:ray://)?(\[[0-9A-Fa-f:.]+\]|[^:/\[\]]+):(\d{1,5})$")


def _check_reachable(address: str) -> None:
    """Refuse at once a ``host:port`` address where nothing accepts a connection."""
    m = _HOST_PORT.match(address.strip())
    if m is None:
        return  # "auto" and other forms: Ray resolves them and fails fast itself
    host, port = m.group(1).strip("[]"), int(m.group(2))
    with contextlib.suppress(Exception):  # Ray replaces a loopback host by the machine's
        from ray._private.services import resolve_ip_for_localhost

        host = resolve_ip_for_localhost(host)
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise SweepError(
            f"error: --address {address}: nothing answers there ({why}); start the cluster "
            "with `ray start --head` and give its address, or use --address auto"
        ) from None


@contextlib.contextmanager
def _loopback_only(ray: Any) -> Iterator[None]:
    """Within: a cluster started here listens on 127.0.0.1 only, not the machine's address.

    Ray turns 127.0.0.1 into the machine's address unless clusters are disabled, which
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` does (read by the processes it starts, and by
    this one through its constant); both are restored on leaving.
    """
    name = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
    old_env = os.environ.get(name)
    constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
    old_const = getattr(constants, "ENABLE_RAY_CLUSTER", None)
    os.environ[name] = "0"
    if old_const is not None:
        constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        if old_env is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old_env
        if old_const is not None:
            constants.ENABLE_RAY_CLUSTER = old_const


_EXIT_HOOK: list[bool] = []
_STARTED: dict[str, Any] = {}
"""The Ray session this module opened, if any: {"address": ..., "jobs": ...}."""


def shutdown() -> None:
    """Shut down the local cluster this module started (or leave the cluster it joined).

    A Ray session someone else opened is left alone. Called at exit, and when an
    ensemble fails or is interrupted.
    """
    if not _STARTED:
        return
    _STARTED.clear()
    import ray

    with _signals_kept(), contextlib.suppress(Exception):
        ray.shutdown()


def _connect(ray: Any, jobs: int, address: str | None) -> bool:
    """Open (or reuse) the Ray session; True when it is this module's own local cluster.

    A session this module opened is kept for later ensembles of the process (a
    calibration runs one batch after another; a cluster takes seconds to start) unless
    it is not the one asked for now (another address, or fewer CPUs than `jobs`).
    """
    want = address or None
    if ray.is_initialized():
        if not _STARTED:
            return False  # someone else's session: use it as it is
        if _STARTED["address"] == want and (want or _STARTED["jobs"] >= jobs):
            return want is None
        shutdown()
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    if want:
        _check_reachable(want)
    with _signals_kept():
        try:
            if want:
                ray.init(address=want, **quiet)
            else:
                with _loopback_only(ray):
                    ray.init(
                        address="local",
                        num_cpus=jobs,
                        include_dashboard=False,
                        object_store_memory=OBJECT_STORE_BYTES,
                        _node_ip_address="127.0.0.1",
                        **quiet,
                    )
        except Exception as exc:  # ConnectionError, an authentication error, ...
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            where = f"--address {address}" if address else "--backend ray"
            if want and not os.environ.get("RAY_AUTH_MODE"):
                first += (
                    "; a cluster started by `ray start` (Ray >= 2.59) asks for a token: "
                    "set RAY_AUTH_MODE=token"
                )
            raise SweepError(
                f"error: {where}: cannot start or reach a Ray cluster ({first})"
            ) from None
    if not _EXIT_HOOK:
        atexit.register(shutdown)
        _EXIT_HOOK.append(True)
    _STARTED.update(address=want, jobs=jobs)
    return want is None


def _failure(ray: Any, exc: BaseException) -> BaseException:
    """What a failed task raises here: the run's own exception, or one line for a lost one."""
    if isinstance(exc, ray.exceptions.RayTaskError) and isinstance(exc.cause, Exception):
        return exc.cause
    if isinstance(exc, ray.exceptions.WorkerCrashedError | ray.exceptions.NodeDiedError):
        return RuntimeError(
            f"a Ray worker running a run died {MAX_RETRIES + 1} times (killed or out of "
            f"memory?): {exc}"
        )
    return exc


def execute_ray(
    todo: list[PlannedRun],
    jobs: int = 1,
    on_done: Callable[[PlannedRun], None] | None = None,
    address: str | None = None,
) -> None:
    """Run the planned runs as Ray tasks, at most `jobs` at a time; `on_done` as each ends.

    See the module docstring for the cluster, retries and interruption.
    """
    ray = _import_ray()
    if not todo:
        return
    jobs = max(1, jobs)
    own_local = _connect(ray, jobs, address)
    cpus = _STARTED.get("jobs", jobs)
    threads = max(1, (os.cpu_count() or 1) // cpus) if own_local else None
    remote = ray.remote(_task).options(
        num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False, name="panopticon-run"
    )
    queue = list(reversed(todo))
    pending: dict[Any, PlannedRun] = {}
    finished = False
    try:
        while queue or pending:
            while queue and len(pending) < jobs:
                r = queue.pop()
                ref = remote.remote(r.scenario_toml, str(Path(r.path).absolute()), threads)
                pending[ref] = r
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=WAIT_EVERY)
            for ref in ready:
                r = pending.pop(ref)
                try:
                    ray.get(ref)
                except Exception as exc:
                    raise _failure(ray, exc) from None
                if on_done is not None:
                    on_done(r)
        finished = True
    finally:
        for ref in pending:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        if pending:
            # wait (briefly) until the cancelled runs' workers are gone: a run folder a
            # killed worker was writing is then free for the next run of the ensemble
            with contextlib.suppress(Exception):
                ray.wait(list(pending), num_returns=len(pending), timeout=10.0)
        if not finished:
            shutdown()  # failed or interrupted: the ensemble is over
