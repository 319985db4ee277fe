"""The ``process`` executor (the default): a pool of local worker processes.

Workers start through ``forkserver`` (``spawn`` where there is none), never plain ``fork``: the
scheduler's process has threads (the progress display), and forking a threaded process can
deadlock. Ctrl-C is handled by the scheduler's process alone: workers ignore SIGINT, and the
pool's workers are terminated when the caller stops early, so nothing half-written survives
(the store writes atomically anyway). Workers also exit by themselves when the scheduler's
process is killed outright (SIGKILL), instead of lingering as orphans.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import zobench
from zobench import api
from zobench.errors import ZobenchError
from zobench.plugins import get_host
from zobench.sim import kernel

PRELOAD = ["zobench.bench.scheduler", "zobench.bench.runner"]
"""Modules the fork server imports once, so each worker starts without re-importing them (the
plugin modules that loaded in this process are added)."""
WORKER_DIED = (
    "a worker process died (killed, out of memory or crashed in native code); "
    "finished runs are stored: run the suite again to resume"
)
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
def _thread_limits() -> Iterator[None]:
    """Set :data:`THREAD_LIMITS` while workers (and the fork server) start; they copy os.environ."""
    saved = {name: os.environ.get(name) for name in THREAD_LIMITS}
    for name, value in THREAD_LIMITS.items():
        os.environ.setdefault(name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
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


class ProcessExecutor(api.Executor):
    """Runs tasks in a pool of ``jobs`` local worker processes, yielding results as they finish."""

    name = "process"
    summary = "Run runs in parallel in local worker processes (the default; --jobs N)."
    Config = ProcessConfig

    def map_unordered(
        self, fn: Callable[[Any], Any], tasks: Sequence[Any]
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(task))`` in completion order."""
        if not tasks:
            return
        pool = ProcessPoolExecutor(
            max_workers=min(self.config.jobs, len(tasks)),
            mp_context=_context(),
            initializer=_init_worker,
            initargs=(os.getpid(),),
        )
        finished = False
        try:
            with _thread_limits():  # the first submit starts the workers
                futures: dict[Future, int] = {pool.submit(fn, t): i for i, t in enumerate(tasks)}
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        raise ZobenchError(WORKER_DIED) from None
                    yield futures.pop(future), result
            finished = True
        finally:
            if not finished:  # interrupted or abandoned: stop the workers now, not after the runs
                for process in list(getattr(pool, "_processes", {}).values()):
                    process.terminate()
            pool.shutdown(wait=finished, cancel_futures=True)


@zobench.hookimpl
def zobench_register_executors(register: Callable[[type], None]) -> None:
    """Register the process executor."""
    register(ProcessExecutor)
