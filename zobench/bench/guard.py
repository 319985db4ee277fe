"""Keeping one misbehaving run from taking the suite down: time limits and stray exits.

A run executes plugin code, which may hang, call ``sys.exit``, raise ``KeyboardInterrupt`` or
call ``os._exit``. :func:`~zobench.bench.scheduler.execute` wraps the runner in these guards so
that each of those ends as a failed run, while a Ctrl-C from the user still stops the suite:

- :func:`time_limit` interrupts a run that overruns its wall-clock limit by raising
  :class:`RunTimedOut` inside it. In a process's main thread this is ``SIGALRM`` (it also breaks
  a blocking ``sleep``); elsewhere (a Dask worker's thread) it is an asynchronous exception,
  which lands at the next Python bytecode. Neither can stop native code that never returns to
  Python: that is what the executors' own backstop (killing the worker) is for.
- :func:`user_interrupts` tells a real Ctrl-C (SIGINT delivered to this process) from a
  ``KeyboardInterrupt`` that plugin code raised itself.
- :func:`exits_intercepted` turns ``os._exit`` called during an in-process run into
  :class:`ProcessExitCalled`, since in the scheduler's own process it would end the whole suite
  with nothing recorded. Worker processes do not need it: their death is seen by the parent.
- :func:`interrupts_deferred` holds a Ctrl-C back while a store file is written. polars checks
  for signals inside ``write_parquet`` and raises ``KeyboardInterrupt`` itself, and then Python's
  own handler raises a second one for the same SIGINT, which used to land in the clean-up of the
  temporary file and leave it behind. Deferred, the write finishes (or is cleaned up) and the
  interrupt is raised once, afterwards.

The exceptions derive from ``BaseException`` so that plugin code's ``except Exception`` does not
swallow them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


class RunTimedOut(BaseException):
    """Raised inside a run that overran its wall-clock limit."""


class ProcessExitCalled(BaseException):
    """Raised in place of ``os._exit(code)`` called during an in-process run."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise_timed_out(signum: int, frame: Any) -> None:
    raise RunTimedOut


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """SIGALRM after ``seconds`` raises RunTimedOut in the main thread; the timer is undone after."""
    previous = signal.signal(signal.SIGALRM, _raise_timed_out)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _set_async_exception(thread_id: int, exc_type: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc_type) if exc_type else None
    )


@contextlib.contextmanager
def _async_timer(seconds: float) -> Iterator[None]:
    """A timer thread raises RunTimedOut in this thread after ``seconds`` (not in native code)."""
    target = threading.get_ident()
    lock = threading.Lock()
    left = False

    def fire() -> None:
        with lock:
            if not left:
                _set_async_exception(target, RunTimedOut)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            left = True
        timer.cancel()
        # The timer may have fired just before we left; its exception must not escape later.
        _set_async_exception(target, None)


def time_limit(seconds: float | None) -> contextlib.AbstractContextManager[None]:
    """Raise :class:`RunTimedOut` in the block when it runs longer than ``seconds`` (None/0: off)."""
    if not seconds:
        return contextlib.nullcontext()
    if _in_main_thread() and hasattr(signal, "setitimer"):
        return _alarm(seconds)
    return _async_timer(seconds)


@dataclass
class InterruptWatch:
    """Whether the user's Ctrl-C reached this process while :func:`user_interrupts` was active."""

    by_user: bool = False


@contextlib.contextmanager
def user_interrupts() -> Iterator[InterruptWatch]:
    """Note real SIGINTs (still raising ``KeyboardInterrupt``) so they can be told from fake ones.

    Only where Python's default SIGINT handler is installed (in the main thread): a worker that
    ignores SIGINT, or a thread, never sees a user's Ctrl-C, so any ``KeyboardInterrupt`` there
    came from the code it ran.
    """
    watch = InterruptWatch()
    if not _in_main_thread() or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield watch
        return

    def on_sigint(signum: int, frame: Any) -> None:
        watch.by_user = True
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield watch
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextlib.contextmanager
def exits_intercepted() -> Iterator[None]:
    """While active, ``os._exit(code)`` raises :class:`ProcessExitCalled` instead of exiting.

    Only for runs inside the scheduler's process (the serial executor), where the call would end
    the suite without a word. Native code calling the C library's ``_exit`` is not caught.
    """
    real_exit = os._exit

    def intercepted(code: int) -> None:
        raise ProcessExitCalled(code)

    os._exit = intercepted  # type: ignore[assignment]
    try:
        yield
    finally:
        os._exit = real_exit


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT back during the block, then deliver it once (as the handler in place would).

    Only in the main thread with a Python-level SIGINT handler (the default one raising
    ``KeyboardInterrupt``); elsewhere signals do not reach Python code and nothing changes.
    """
    previous = signal.getsignal(signal.SIGINT)
    if not _in_main_thread() or not callable(previous):
        yield
        return
    held: list[tuple[int, Any]] = []

    def hold(signum: int, frame: Any) -> None:
        held.append((signum, frame))

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            previous(*held[0])
