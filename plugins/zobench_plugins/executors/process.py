"""The ``process`` executor (the default): a pool of local worker processes.

Workers start through ``forkserver`` (``spawn`` where there is none), never plain ``fork``: the
scheduler's process has threads (the progress display), and forking a threaded process can
deadlock. Each worker is a process with a pipe of its own, so the parent always knows which
task each worker runs: a worker that dies during a task (``os._exit``, a crash in native code,
the OOM killer) or that does not answer within ``task_timeout`` costs that task alone, which
comes back as :class:`~zobench.api.TaskLost`, and a fresh worker takes its place.

Ctrl-C is handled by the scheduler's process alone: workers ignore SIGINT, and when the caller
stops early every worker is killed and reaped before ``map_unordered`` returns, so no worker
outlives the scheduler (the store writes atomically anyway). Workers also exit by themselves
when the scheduler's process is killed outright (SIGKILL), instead of lingering as orphans.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

import zobench
from zobench import api, progress
from zobench.plugins import get_host
from zobench.sim import kernel

PRELOAD = ["zobench.bench.scheduler", "zobench.bench.runner"]
"""Modules the fork server imports once, so each worker starts without re-importing them (the
plugin modules that loaded in this process are added)."""
THREAD_LIMITS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""One BLAS thread per worker (unless the user set otherwise): parallelism comes from the workers,
and BLAS threads of every worker competing for the same cores slow all of them down (Dask's
nannies set the same)."""


def default_jobs() -> int:
    """Number of cores this process may use (affinity-aware where the OS tells)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@dataclass(frozen=True)
class ProcessConfig:
    """Settings of the process executor."""

    jobs: int = api.param(
        default_factory=default_jobs,
        doc="Worker processes; defaults to the number of cores available (`--jobs`).",
    )

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {self.jobs}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else (the pid was reused)
        return False
    return True


def _watch_scheduler(pid: int) -> None:
    """Exit once the scheduler's process is gone (killed outright, so it could not stop us).

    The worker's parent is the fork server, which stays alive as long as its workers do, so the
    scheduler's pid is what must be watched.
    """
    while _alive(pid):
        time.sleep(0.5)
    os._exit(1)


def _init_worker(scheduler_pid: int) -> None:
    """Worker start-up: leave Ctrl-C to the scheduler, and never outlive it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_scheduler, args=(scheduler_pid,), daemon=True).start()


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes start, so they are born ignoring it.

    A worker sets SIG_IGN itself as it starts, but a Ctrl-C in the moment before would print a
    KeyboardInterrupt traceback from it. A fork server or spawned interpreter started while
    SIGINT is ignored keeps it ignored, and so do the workers it forks. A Ctrl-C during these
    milliseconds is lost; pressing it again works.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be changed from the main thread
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _thread_limits() -> Iterator[None]:
    """Set :data:`THREAD_LIMITS` while workers (and the fork server) start; they copy os.environ."""
    saved = {name: os.environ.get(name) for name in THREAD_LIMITS}
    for name, value in THREAD_LIMITS.items():
        os.environ.setdefault(name, value)
    try:
        yield
    finally:
        for name, before in saved.items():
            if before is None:
                os.environ.pop(name, None)


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # Only plugins that imported cleanly here: the fork server skips an ImportError, but any
        # other exception while preloading would take it down.
        modules = [p.module.partition(":")[0] for p in get_host().plugins if p.status == "loaded"]
        plugins = [m for m in modules if all(part.isidentifier() for part in m.split("."))]
        # the compiled kernel too: numba's import and cache loads, once instead of per worker
        context.set_forkserver_preload(PRELOAD + plugins + kernel.compiled_modules())
        return context
    return multiprocessing.get_context("spawn")


PROGRESS = "progress"
"""Second item of a worker's message that reports progress, ``(index, PROGRESS, (done, total))``,
rather than the task's result ``(index, ok, value)``."""


def _serve(conn: Connection, fn: Callable[[Any], Any], scheduler_pid: int) -> None:
    """A worker's life: take ``(index, task)`` messages, answer ``(index, ok, value)``, until None.

    ``ok`` is False when ``fn`` raised; the exception is sent back for the caller to re-raise.
    While a task runs, its :func:`zobench.progress.report` calls go up the same pipe (throttled),
    before the answer.
    """
    _init_worker(scheduler_pid)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if message is None:
            return
        index, task = message

        def send(done: int, total: int, index: int = index) -> None:
            conn.send((index, PROGRESS, (done, total)))

        try:
            with progress.reporting(progress.throttled(send)):
                result = fn(task)
            answer = (index, True, result)
        except BaseException as exc:  # whatever fn raised belongs to the caller, not the worker
            answer = (index, False, exc)
        try:
            conn.send(answer)
        except Exception as exc:  # an unpicklable result or exception: say so instead
            conn.send((index, False, RuntimeError(f"the task's result could not be sent: {exc!r}")))


class _Worker:
    """One worker process, the parent's end of its pipe, and the task it is running."""

    def __init__(self, context: Any, fn: Callable[[Any], Any]) -> None:
        self.conn, child = context.Pipe()
        # Daemonic: multiprocessing terminates it when this process exits, however it exits.
        self.process = context.Process(
            target=_serve, args=(child, fn, os.getpid()), daemon=True, name="zobench-worker"
        )
        self.process.start()
        child.close()
        self.index: int | None = None
        self.given_at = 0.0

    def give(self, index: int, task: Any) -> None:
        """Hand the worker a task."""
        self.conn.send((index, task))
        self.index, self.given_at = index, time.monotonic()

    def outcome(
        self, task_timeout: float | None, on_progress: progress.TaskProgress | None = None
    ) -> tuple[bool, Any] | None:
        """``(True, value)``, ``(False, TaskLost)`` or ``(False, exception)`` when settled, else None.

        Progress messages read on the way are handed to ``on_progress``.
        """
        while self.conn.poll():
            try:
                index, ok, value = self.conn.recv()
            except (EOFError, OSError):  # died while answering
                return False, self._lost()
            if ok == PROGRESS:
                if on_progress is not None:
                    on_progress(index, *value)
                continue
            return (True, value) if ok else (False, value)
        if not self.process.is_alive():
            return False, self._lost()
        if task_timeout is not None and time.monotonic() - self.given_at > task_timeout:
            self.stop(graceful=False)
            return False, api.TaskLost(
                f"timed out after {task_timeout:g} s: the worker did not answer and was stopped",
                time.monotonic() - self.given_at,
            )
        return None

    def _lost(self) -> api.TaskLost:
        self.process.join(1)
        code = self.process.exitcode
        how = (
            f"was killed by signal {-code}"
            if code is not None and code < 0
            else (f"exited with code {code}")
        )
        return api.TaskLost(
            f"the worker process {how} during the run (os._exit, a crash in native code or "
            "out of memory)",
            time.monotonic() - self.given_at,
        )

    def stop(self, *, graceful: bool) -> None:
        """Ask the worker to finish (graceful) or kill it; either way it is gone afterwards."""
        if graceful and self.process.is_alive():
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


class ProcessExecutor(api.Executor):
    """Runs tasks in ``jobs`` local worker processes, yielding results as they finish.

    A worker that dies during a task (``os._exit``, a crash, killed) or does not answer within
    ``task_timeout`` is replaced; its task is yielded as :class:`~zobench.api.TaskLost`.
    """

    name = "process"
    summary = "Run runs in parallel in local worker processes (the default; --jobs N)."
    Config = ProcessConfig

    def map_unordered(
        self,
        fn: Callable[[Any], Any],
        tasks: Sequence[Any],
        *,
        task_timeout: float | None = None,
        on_progress: progress.TaskProgress | None = None,
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(task))`` in completion order (a TaskLost for a lost task).

        ``on_progress(index, done, total)`` hears, in this process, what each task reports
        through :func:`zobench.progress.report` in its worker.
        """
        if not tasks:
            return
        context = _context()
        queue = deque(enumerate(tasks))
        workers: list[_Worker] = []
        finished = False
        try:
            with _thread_limits(), sigint_ignored():  # workers (and fork server) inherit both
                workers = [_Worker(context, fn) for _ in range(min(self.config.jobs, len(tasks)))]
            while queue or any(w.index is not None for w in workers):
                for worker in workers:
                    if worker.index is None and queue:
                        worker.give(*queue.popleft())
                busy = [w for w in workers if w.index is not None]
                wait_s = None
                if task_timeout is not None:
                    first = min(w.given_at for w in busy) + task_timeout
                    wait_s = max(0.0, first - time.monotonic()) + 0.01
                wait([w.conn for w in busy] + [w.process.sentinel for w in busy], wait_s)
                for position, worker in enumerate(workers):
                    index = worker.index
                    settled = (
                        worker.outcome(task_timeout, on_progress) if index is not None else None
                    )
                    if index is None or settled is None:
                        continue
                    worker.index = None
                    ok, value = settled
                    if not ok and not isinstance(value, api.TaskLost):
                        raise value
                    if isinstance(value, api.TaskLost):  # that worker is gone
                        worker.stop(graceful=False)
                        if queue:  # a fresh one takes its place while tasks remain
                            with _thread_limits(), sigint_ignored():
                                workers[position] = _Worker(context, fn)
                    yield index, value
            finished = True
        finally:
            # Interrupted or abandoned: stop the workers now, not after their runs.
            for worker in workers:
                worker.stop(graceful=finished)


@zobench.hookimpl
def zobench_register_executors(register: Callable[[type], None]) -> None:
    """Register the process executor."""
    register(ProcessExecutor)
