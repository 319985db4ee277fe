"""The ``dask`` executor: runs on a Dask cluster, or on a local one it starts and stops.

Needs the optional dependencies (``pip install -e ".[dask]"``). With ``address`` it connects to
a running scheduler (``tcp://host:port``) whose workers have zobench and the suite's plugins
installed; without, it starts a ``LocalCluster`` of single-threaded worker processes.

Dask's nannies give every worker ``MALLOC_TRIM_THRESHOLD_`` from the config key
``distributed.nanny.pre-spawn-environ``; with it, glibc trims the heap on every free, which
slows the many small numpy allocations of a run several times over. The local cluster is started
with that variable removed from the key (a remote cluster's workers are configured by whoever
started them).
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import zobench
from zobench import api, progress
from zobench.errors import ZobenchError
from zobench_plugins.executors.process import default_jobs, sigint_ignored

INSTALL_HINT = 'the dask executor needs dask and distributed: pip install -e ".[dask]"'
WORKER_DIED = (
    "the worker process died during the run, every time Dask tried it (os._exit, a crash in "
    "native code or out of memory)"
)
POLL_S = 0.1
"""How often the client looks for progress events between results, when asked for progress."""
NO_MALLOC_TRIM = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
"""Dask config that keeps MALLOC_TRIM_THRESHOLD_ out of the workers' environment."""


@dataclass(frozen=True)
class DaskConfig:
    """Settings of the Dask executor."""

    address: str = api.param(
        "", "Scheduler address of a running cluster, e.g. tcp://host:8786; empty: a local cluster."
    )
    jobs: int = api.param(
        default_factory=default_jobs,
        doc="Worker processes of the local cluster (ignored with an address).",
    )

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {self.jobs}")


def _reporting(fn: Callable[[Any], Any], topic: str, index: int, task: Any) -> Any:
    """``fn(task)`` on a Dask worker, its progress logged as events of ``topic`` (throttled).

    Events reach the client that subscribed to the topic without a round trip per report.
    """
    from distributed import get_worker

    worker = get_worker()

    def send(done: int, total: int) -> None:
        worker.log_event(topic, (index, done, total))

    with progress.reporting(progress.throttled(send)):
        return fn(task)


class _Reports:
    """The client's side of the progress events: kept as they arrive (on the client's event
    loop thread), handed to ``on_progress`` on the caller's thread by :meth:`drain`."""

    def __init__(self, client: Any, on_progress: progress.TaskProgress) -> None:
        self.client, self.on_progress = client, on_progress
        self.topic = f"zobench-progress-{uuid.uuid4().hex}"
        self.pending: deque[tuple[int, int, int]] = deque()
        client.subscribe_topic(self.topic, lambda event: self.pending.append(event[1]))

    def submit(self, fn: Callable[[Any], Any], index: int, task: Any) -> Any:
        """Submit one task that reports its progress."""
        return self.client.submit(_reporting, fn, self.topic, index, task, pure=False)

    def drain(self) -> None:
        """Hand every report received so far to ``on_progress``."""
        while self.pending:
            self.on_progress(*self.pending.popleft())

    def close(self) -> None:
        """Stop listening."""
        with contextlib.suppress(Exception):  # the client may be closing already
            self.client.unsubscribe_topic(self.topic)


class DaskExecutor(api.Executor):
    """Submits every task to a Dask cluster and yields results as they complete."""

    name = "dask"
    summary = "Run runs on a Dask cluster (--address tcp://host:port) or a local one."
    Config = DaskConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        try:
            import dask  # noqa: F401
            import distributed  # noqa: F401
        except ImportError:
            raise ZobenchError(INSTALL_HINT) from None

    def _client(self, stack: contextlib.ExitStack, n_tasks: int) -> Any:
        import dask
        from distributed import Client, LocalCluster

        if self.config.address:
            try:
                return stack.enter_context(Client(self.config.address, timeout="10s"))
            except (OSError, TimeoutError, ValueError) as exc:
                raise ZobenchError(
                    f"cannot reach the Dask scheduler at {self.config.address}: {exc}"
                ) from None
        # Nannies read the config as they are created; workers spawned while SIGINT is ignored
        # inherit that, so Ctrl-C reaches only this process and ends the suite without a
        # traceback from every worker.
        with dask.config.set(NO_MALLOC_TRIM), sigint_ignored():
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=min(self.config.jobs, n_tasks),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            )
        return stack.enter_context(Client(cluster))

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
        through :func:`zobench.progress.report` on its worker (as Dask events).

        Dask reschedules the task of a worker that died a few times (``allowed-failures``); when
        it gives up, the task comes back as :class:`~zobench.api.TaskLost` and the rest go on.
        With ``task_timeout``, at most one task per worker thread is in flight, so a task's age
        is its running time; one past the limit is cancelled and (on a local cluster) its worker
        restarted, since a thread stuck in native code cannot be stopped otherwise.
        """
        if not tasks:
            return
        with contextlib.ExitStack() as stack:
            client = self._client(stack, len(tasks))
            reports = None
            if on_progress is not None:
                reports = _Reports(client, on_progress)
                stack.callback(reports.close)
            if task_timeout is None:
                yield from self._all_at_once(client, fn, tasks, reports)
            else:
                yield from self._windowed(client, fn, tasks, task_timeout, reports)

    @staticmethod
    def _outcome(future: Any, given_at: float) -> Any:
        from distributed.scheduler import KilledWorker

        try:
            return future.result()
        except KilledWorker:
            return api.TaskLost(WORKER_DIED, time.monotonic() - given_at)

    def _all_at_once(
        self,
        client: Any,
        fn: Callable[[Any], Any],
        tasks: Sequence[Any],
        reports: _Reports | None,
    ) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        given_at = time.monotonic()
        if reports is None:
            futures = client.map(fn, list(tasks), pure=False)
        else:
            futures = [reports.submit(fn, i, task) for i, task in enumerate(tasks)]
        index = {future.key: i for i, future in enumerate(futures)}
        if reports is None:
            for future in as_completed(futures):
                yield index[future.key], self._outcome(future, given_at)
            return
        finished = as_completed(futures)
        while not finished.is_empty():  # poll, so progress shows between results
            batch = finished.next_batch(block=False)
            reports.drain()
            for future in batch:
                yield index[future.key], self._outcome(future, given_at)
            if not batch:
                time.sleep(POLL_S)

    def _windowed(
        self,
        client: Any,
        fn: Callable[[Any], Any],
        tasks: Sequence[Any],
        task_timeout: float,
        reports: _Reports | None,
    ) -> Iterator[tuple[int, Any]]:
        from distributed import wait

        window = max(1, sum(client.nthreads().values()))
        queue = deque(enumerate(tasks))
        running: dict[Any, tuple[int, float]] = {}
        while queue or running:
            while queue and len(running) < window:
                i, task = queue.popleft()
                future = (
                    client.submit(fn, task, pure=False)
                    if reports is None
                    else reports.submit(fn, i, task)
                )
                running[future] = (i, time.monotonic())
            oldest = min(given_at for _, given_at in running.values())
            timeout = max(0.0, oldest + task_timeout - time.monotonic()) + 0.01
            try:
                done = wait(
                    list(running),
                    timeout=timeout if reports is None else min(timeout, POLL_S),
                    return_when="FIRST_COMPLETED",
                ).done
            except TimeoutError:
                done = set()
            if reports is not None:
                reports.drain()
            for future in done:
                i, given_at = running.pop(future)
                yield i, self._outcome(future, given_at)
            for future, (i, given_at) in list(running.items()):
                if time.monotonic() - given_at > task_timeout:
                    del running[future]
                    stuck = [w for w, keys in client.processing().items() if future.key in keys]
                    future.cancel()
                    if stuck and not self.config.address:
                        client.restart_workers(stuck, raise_for_error=False)
                    yield (
                        i,
                        api.TaskLost(
                            f"timed out after {task_timeout:g} s: the worker did not answer and was "
                            "stopped",
                            time.monotonic() - given_at,
                        ),
                    )


@zobench.hookimpl
def zobench_register_executors(register: Callable[[type], None]) -> None:
    """Register the Dask executor (it reports a missing dask only when used)."""
    register(DaskExecutor)
