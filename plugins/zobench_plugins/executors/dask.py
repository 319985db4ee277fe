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
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import zobench
from zobench import api
from zobench.errors import ZobenchError
from zobench_plugins.executors.process import WORKER_DIED, default_jobs

INSTALL_HINT = 'the dask executor needs dask and distributed: pip install -e ".[dask]"'
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


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be changed from the main thread
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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
        with dask.config.set(NO_MALLOC_TRIM), _sigint_ignored():
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
        self, fn: Callable[[Any], Any], tasks: Sequence[Any]
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(task))`` in completion order."""
        if not tasks:
            return
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        with contextlib.ExitStack() as stack:
            client = self._client(stack, len(tasks))
            futures = client.map(fn, list(tasks), pure=False)
            index = {future.key: i for i, future in enumerate(futures)}
            for future in as_completed(futures):
                try:
                    result = future.result()
                except KilledWorker:
                    raise ZobenchError(WORKER_DIED) from None
                yield index[future.key], result


@zobench.hookimpl
def zobench_register_executors(register: Callable[[type], None]) -> None:
    """Register the Dask executor (it reports a missing dask only when used)."""
    register(DaskExecutor)
