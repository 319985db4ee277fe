"""How far the task running in this thread is, for whoever shows it (iterations of a run).

The runner reports ``(done, total)`` through :func:`report`; where that goes is decided by the
executor that runs the task, inside :func:`reporting`: the serial executor calls the scheduler's
display directly, the process executor sends a message up its worker's pipe, the Dask executor
logs an event the client subscribes to. Outside :func:`reporting` a report goes nowhere, so a
third-party executor that knows nothing of progress keeps working.

Progress is a side channel: it never touches a run's random numbers or its results. A reporter
that fails (a closed pipe, a lost scheduler) is dropped for the rest of the task, and the run
goes on exactly as it would have.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator
from typing import Protocol

Reporter = Callable[[int, int], None]
"""``reporter(done, total)``: the running task has done ``done`` of ``total`` steps."""
TaskProgress = Callable[[int, int, int], None]
"""``on_progress(index, done, total)``: what an executor calls in the caller's process, with the
index of the task in the list it was given."""

_reporter: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar(
    "zobench_progress_reporter", default=None
)


def report(done: int, total: int) -> None:
    """Report the running task's progress; a no-op when nobody listens."""
    reporter = _reporter.get()
    if reporter is None:
        return
    try:
        reporter(done, total)
    except Exception:  # a display's failure must not fail the run: stop reporting instead
        _reporter.set(None)


@contextlib.contextmanager
def reporting(reporter: Reporter | None) -> Iterator[None]:
    """Send :func:`report` calls made in this thread to ``reporter`` while the block runs."""
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)


def throttled(reporter: Reporter, interval: float = 0.25) -> Reporter:
    """``reporter`` called at most once per ``interval`` seconds, and always at the end.

    Messages between processes cost more than an iteration of a small run; a person reading a
    bar needs a few updates per second at most.
    """
    last = -float("inf")

    def throttle(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done >= total or now - last >= interval:
            last = now
            reporter(done, total)

    return throttle


Advance = Callable[[], None]
"""Called once per finished item of a phase with a count (a plot drawn, a board checked)."""


class Phases(Protocol):
    """``with phases("plots", 12) as advance:``: a named step of a long command, for its display.

    ``total`` is the number of items the phase goes through (0: not counted); the block calls
    ``advance()`` after each. The report layer takes one and the command line gives it a display;
    :func:`quiet` shows nothing.
    """

    def __call__(self, name: str, total: int = 0) -> contextlib.AbstractContextManager[Advance]:
        """Enter the phase ``name``."""
        ...


@contextlib.contextmanager
def quiet(name: str, total: int = 0) -> Iterator[Advance]:
    """The :class:`Phases` that shows nothing (the default of every report function)."""
    yield lambda: None
