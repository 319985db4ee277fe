"""The ``serial`` executor: runs one task after another in this process."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import zobench
from zobench import api, progress


class SerialExecutor(api.Executor):
    """Runs the tasks one by one in the calling process, in order.

    The simplest and most debuggable executor (a breakpoint in an algorithm just works). Runs share the
    scheduler's process: their time limit is SIGALRM, ``os._exit`` is intercepted while they run,
    and nothing stops native code that hangs or exits (no ``task_timeout`` here).
    """

    name = "serial"
    summary = "Run one run after another in this process (debugging, live per-run progress)."
    in_process: ClassVar[bool] = True
    """Tasks run in the scheduler's own process (it records each run as started first)."""

    def map_unordered(
        self,
        fn: Callable[[Any], Any],
        tasks: Sequence[Any],
        *,
        task_timeout: float | None = None,
        on_progress: progress.TaskProgress | None = None,
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(task))`` in task order (``task_timeout`` cannot apply here: ignored).

        ``on_progress(index, done, total)`` hears the task's :func:`zobench.progress.report`.
        """
        for index, task in enumerate(tasks):
            reporter = None if on_progress is None else functools.partial(on_progress, index)
            with progress.reporting(reporter):
                result = fn(task)
            yield index, result


@zobench.hookimpl
def zobench_register_executors(register: Callable[[type], None]) -> None:
    """Register the serial executor."""
    register(SerialExecutor)
