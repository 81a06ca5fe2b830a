"""Worker processes for ensembles (sweeps) that never outlive the process that started them.

`run_in_workers` runs tasks in `jobs` spawned processes, one task at a time each, over a
pipe per worker. Cleanup is the point of this module:

- SIGINT or SIGTERM of the parent (inside `interruptible`) raises `Interrupted`; the
  parent then stops every worker with SIGTERM, which ends it at once (SIGKILL after
  `GRACE` seconds if not). The run it was writing is left unfinished, never complete:
  run folders are moved into place only when whole, and the next run of the same folder
  clears what a killed one left. (Turning SIGTERM into KeyboardInterrupt instead was
  tried: raised inside a finaliser or numba's compiler it is swallowed, and the worker
  runs on.)
- SIGKILL of the parent cannot be caught, so each worker watches its parent: on Linux the
  kernel kills it when the parent dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``); elsewhere,
  and as a second guard, a thread exits the worker once its parent pid changes.
- Workers ignore SIGINT: Ctrl-C at a terminal reaches the whole process group, and it is
  the parent that decides how its workers stop.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

GRACE = 3.0  # seconds a worker gets to end on SIGTERM before SIGKILL
WATCH_EVERY = 0.5  # seconds between a worker's checks that its parent is alive
_PR_SET_PDEATHSIG = 1


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM received while running an ensemble; `signum` says which."""

    def __init__(self, signum: int = signal.SIGINT, message: str = "") -> None:
        """Remember the signal and, once known, the message for the user."""
        super().__init__(message or signal.Signals(signum).name)
        self.signum = int(signum)
        self.message = message

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number (130 SIGINT, 143 SIGTERM)."""
        return 128 + self.signum


class WorkerDied(RuntimeError):
    """A worker process ended without reporting on the task it was running."""


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker (attached as the cause)."""

    def __str__(self) -> str:
        """The worker's formatted traceback."""
        return "\n" + str(self.args[0])


class Caught:
    """The signal `interruptible` caught, if any (None until one comes)."""

    signum: int | None = None


def signal_of(exc: BaseException, caught: Caught) -> int | None:
    """The signal behind `exc`, raised inside `interruptible`; None if it is no signal.

    Every ensemble turns it into its own "interrupted" message naming what is complete.
    """
    signum = exc.signum if isinstance(exc, Interrupted) else caught.signum
    if signum is None and isinstance(exc, KeyboardInterrupt):
        signum = signal.SIGINT
    return signum


@contextlib.contextmanager
def interruptible() -> Iterator[Caught]:
    """Within: SIGINT and SIGTERM raise `Interrupted` (in the main thread); restored after.

    The signal is also recorded in the `Caught` yielded: raised inside a C extension
    (numba's dispatcher, say) the exception may surface as another one (SystemError),
    and the caller can still tell that it was a signal.
    """
    caught = Caught()
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        caught.signum = signum
        raise Interrupted(signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for s, h in old.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Within: SIGINT and SIGTERM wait (blocked, pending) and are delivered on leaving.

    A process started within inherits the block across exec, so a worker sees no signal
    until `_serve` has installed its handlers and unblocks them.
    """
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def watch_parent(parent: int) -> None:
    """End this process when `parent` dies: PR_SET_PDEATHSIG on Linux, and a polling thread."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the guard was in place
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(WATCH_EVERY)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _picklable(exc: BaseException) -> BaseException:
    """`exc` itself when it survives pickling, else a RuntimeError naming it."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _serve(
    conn: Connection,
    fn: Callable[..., Any],
    parent: int,
    initializer: Callable[..., None] | None,
    initargs: tuple[Any, ...],
) -> None:
    """A worker: run each task received on `conn`, report ("done"|"error", index, ...).

    It ends with ``os._exit`` once its tasks are done or it is stopped: every run it made
    is closed by then, and a full interpreter shutdown (numba, polars) would take a second
    or more for nothing.
    """
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        watch_parent(parent)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        if initializer is not None:
            initializer(*initargs)
        while (task := conn.recv()) is not None:
            index, args = task
            try:
                fn(*args)
            except Exception as exc:
                conn.send(("error", index, _picklable(exc), traceback.format_exc()))
            else:
                conn.send(("done", index))
    except (EOFError, OSError):  # the parent is gone
        code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class _Worker:
    """The parent's handle on one worker: its process, its pipe, the task it runs."""

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.task: int | None = None


def _died(w: _Worker) -> WorkerDied:
    """The error for a worker that ended while running its task."""
    w.process.join(GRACE)
    return WorkerDied(
        f"worker {w.process.name} (pid {w.process.pid}) ended while running task {w.task} "
        f"(exit code {w.process.exitcode})"
    )


def _stop(workers: list[_Worker], grace: float) -> None:
    """Stop the workers still alive: SIGTERM, then SIGKILL after `grace` seconds; reap all."""
    with _signals_blocked():
        alive = [w.process for w in workers if w.process.is_alive()]
        for p in alive:
            with contextlib.suppress(OSError):
                p.terminate()
        deadline = time.monotonic() + grace
        while alive and time.monotonic() < deadline:
            wait([p.sentinel for p in alive], timeout=deadline - time.monotonic())
            alive = [p for p in alive if p.is_alive()]
        for p in alive:
            with contextlib.suppress(OSError):
                p.kill()
        for w in workers:
            w.process.join()
            w.conn.close()


def run_in_workers(
    fn: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    jobs: int,
    on_done: Callable[[int], None] | None = None,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> None:
    """Call ``fn(*tasks[i])`` for every i in `jobs` spawned worker processes.

    `on_done(i)` is called in this process as each task finishes. The first exception a
    task raises is raised here (with the worker's traceback as its cause) once every
    worker is stopped; so is `Interrupted` on SIGINT/SIGTERM (inside `interruptible`).
    No worker outlives this call, nor this process (see the module docstring).
    """
    ctx = multiprocessing.get_context("spawn")
    resource_tracker.ensure_running()  # started now: it would unblock signals mid-start
    queue = deque(range(len(tasks)))
    workers: list[_Worker] = []

    def give(w: _Worker) -> None:
        w.task = queue.popleft() if queue else None
        try:
            w.conn.send(None if w.task is None else (w.task, tasks[w.task]))
        except OSError:
            if w.task is not None:
                raise _died(w) from None

    try:
        for k in range(min(jobs, len(tasks))):
            here, there = ctx.Pipe()
            p = ctx.Process(
                target=_serve,
                args=(there, fn, os.getpid(), initializer, initargs),
                name=f"panopticon-worker-{k}",
                daemon=True,
            )
            with _signals_blocked():
                p.start()
                workers.append(_Worker(p, here))
            there.close()
            give(workers[-1])
        while busy := [w for w in workers if w.task is not None]:
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
            for w in busy:
                if w.conn not in ready and w.process.sentinel not in ready:
                    continue
                try:
                    msg = w.conn.recv()
                except (EOFError, OSError):
                    raise _died(w) from None
                if msg[0] == "error":
                    _, _, exc, tb = msg
                    raise exc from RemoteTraceback(tb)
                if on_done is not None:
                    on_done(msg[1])
                give(w)
        for w in workers:
            w.process.join(GRACE)
    finally:
        _stop(workers, GRACE)
