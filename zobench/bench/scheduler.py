"""The scheduler: runs a suite's runs through an executor into a store, resuming by default.

Flow: suite → run specs → identities (resolved configuration + code fingerprint → run id, see
:mod:`zobench.bench.identity`) → take the store's writer lock → skip the ids the store holds as
done and intact (unless ``fresh``) → the executor maps :func:`execute` over the remaining runs →
each result is written to the store as it arrives (atomically), so an interruption loses at most
the runs in flight, and older runs of the same configuration (stale: computed by other code or
defaults) are removed once their replacement is written. A run that raises (including the
runner's ``RunFailed`` on NaN or infinity) is recorded as failed with its error and traceback;
the other runs go on.

:func:`execute` is the worker: a module-level function of plain data (the RunSpec record), so
process and Dask executors can pickle it by reference. It returns a
:class:`~zobench.bench.records.RunResult`; an executor may also hand back the equivalent mapping.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import inspect
import platform
import subprocess
import time
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import polars as pl
from rich.markup import escape

from zobench import api, progress
from zobench.__about__ import __version__
from zobench.bench import guard
from zobench.bench.identity import Identity, identify
from zobench.bench.records import RunRecord, RunResult, Timings, canonical_json
from zobench.bench.spec import RunSpec
from zobench.bench.store import Scan, Store, load, written_key
from zobench.bench.suite import Suite
from zobench.config import validate
from zobench.errors import ConfigError
from zobench.plugins import PluginHost, PluginLoadWarning, get_host
from zobench.sim import kernel


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@functools.cache
def worker_environment() -> dict[str, str]:
    """Versions and platform of the process that computes a run (cached per process)."""
    import numpy

    return {
        "zobench": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "polars": pl.__version__,
        "platform": platform.platform(),
        "host": platform.node(),
    }


@functools.cache
def git_commit() -> str | None:
    """The commit of the zobench source checkout, when it is one (``None`` otherwise)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def execute(task: dict[str, Any], host: PluginHost | None = None) -> RunResult:
    """Compute one run from its task ``{"run_id", "spec": RunSpec.to_record(), "timeout"}``.

    ``host`` is the scheduler's plugin host for runs in its own process; a worker process
    (``None``) loads its own, the process-wide one.

    Never raises for a failing run: the error and traceback come back in the result, so one bad
    run cannot take down a worker pool. That includes a run past its ``timeout`` (seconds,
    optional), and ``SystemExit`` or ``KeyboardInterrupt`` raised by plugin code; a Ctrl-C from
    the user (a real SIGINT in this process) still propagates. The result holds the runner's
    frame (or ``None``). Its iterations are reported through :func:`zobench.progress.report`.
    """
    from zobench.bench.runner import run  # imported here: the runner pulls in the kernel
    from zobench.sim import kernel

    spec = RunSpec.from_record(task["spec"])
    timeout = task.get("timeout")
    started, start = _utc_now(), time.perf_counter()
    frame, error, trace = None, None, None
    with guard.user_interrupts() as interrupts:
        try:
            with warnings.catch_warnings():
                # A worker process loads plugins again; their load failures were already
                # reported once by the scheduler's process, so each worker repeating them is noise.
                warnings.simplefilter("ignore", PluginLoadWarning)
                kernel.warm_up()  # loading (or compiling) the kernel: the machine's cost, untimed
                with guard.time_limit(timeout):
                    # to whoever the executor set up (zobench.progress), else nowhere;
                    # raises RunFailed on a non-finite score
                    frame = run(spec, progress=progress.report, host=host)
        except guard.RunTimedOut:
            frame, error, trace = None, timed_out(timeout), traceback.format_exc()
        except guard.ProcessExitCalled as exc:
            frame, trace = None, traceback.format_exc()
            error = f"ProcessExitCalled: os._exit({exc.code}) was called inside the run"
        except KeyboardInterrupt:
            if interrupts.by_user:
                raise  # the user's Ctrl-C stops the suite
            frame, trace = None, traceback.format_exc()
            error = "KeyboardInterrupt raised inside the run (not by the user)"
        except (Exception, SystemExit) as exc:  # a failing run is data, not a crash of the suite
            frame, error, trace = None, f"{type(exc).__name__}: {exc}", traceback.format_exc()
    return RunResult(
        run_id=task["run_id"],
        status="failed" if error else "done",
        frame=frame,
        error=error,
        traceback=trace,
        timings=Timings(started, _utc_now(), time.perf_counter() - start),
        worker=worker_environment(),
    )


def timed_out(timeout: float | None) -> str:
    """The error recorded for a run stopped at its wall-clock limit."""
    return f"timed out after {timeout:g} s"


def _lost(
    task: dict[str, Any], reason: str | None, seconds: float = 0.0, status: str = "failed"
) -> RunResult:
    """The failed result of a task whose worker died or stopped answering (no result came back),
    or, with ``status="started"``, the placeholder written before a run in this process."""
    now = _utc_now()
    return RunResult(
        run_id=task["run_id"],
        status=status,
        frame=None,
        error=reason,
        traceback=None,
        timings=Timings(now, now, seconds),
        worker={},
    )


def _execute_here(task: dict[str, Any], host: PluginHost | None = None) -> RunResult:
    """:func:`execute` for runs inside the scheduler's process, where ``os._exit`` would end it."""
    with guard.exits_intercepted():
        return execute(task, host)


def make_executor(
    name: str = "process",
    *,
    jobs: int | None = None,
    address: str | None = None,
    host: PluginHost | None = None,
) -> api.Executor:
    """Build a registered executor; ``jobs``/``address`` are passed when given (and validated)."""
    cls = (host or get_host()).executor(name)
    options = {k: v for k, v in {"jobs": jobs, "address": address}.items() if v is not None}
    fields = cls.Config.__dataclass_fields__
    for option in options:
        if option not in fields:
            raise ConfigError(f"--{option} does not apply to the {name} executor")
    config = validate(cls.Config, options, path=f"executor '{name}'")
    return cls(config)


@dataclass(frozen=True)
class PlannedRun:
    """A run of the suite with its identity (id, resolved configuration, code fingerprint)."""

    run_id: str
    spec: RunSpec
    identity: Identity

    @property
    def components(self) -> dict[str, dict[str, str]]:
        """Spec field → ``{"name", "distribution", "version"}`` of the component's plugin."""
        return self.identity.components


def plan(specs: list[RunSpec], host: PluginHost | None = None) -> list[PlannedRun]:
    """Run ids for the specs (see :mod:`zobench.bench.identity`), duplicates dropped, order kept.

    Two specs that resolve to the same configuration (a default written out or left implicit)
    are one run; the first one's label and settings as written are kept.
    """
    host = host or get_host()
    planned: dict[str, PlannedRun] = {}
    for spec in specs:
        identity = identify(spec, host)
        planned.setdefault(identity.run_id, PlannedRun(identity.run_id, spec, identity))
    return list(planned.values())


@dataclass
class SuiteOutcome:
    """What a scheduled suite did: run ids by fate, the store folder and the long table."""

    out: Path
    planned: list[PlannedRun]
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    """Run id → one-line error."""
    skipped: list[str] = field(default_factory=list)
    """Runs already done in the store (resumed, not recomputed)."""
    stale: list[str] = field(default_factory=list)
    """Runs recomputed because the store held their configuration computed by other code."""
    repaired: list[str] = field(default_factory=list)
    """Runs recomputed because their stored files were damaged."""

    def frame(self) -> pl.DataFrame:
        """The long table of the suite's finished runs (including resumed ones)."""
        return load(self.out, run_ids=[p.run_id for p in self.planned])


class _Display:
    """The rich progress display: an overall bar and one bar per run in flight, where the
    executor reports runs' progress (see :mod:`zobench.progress`)."""

    def __init__(self, console: Any, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
        )
        self.overall = self.progress.add_task(self._describe(0, 0), total=total)
        self.per_run: dict[str, Any] = {}
        self.done = self.failed = 0

    @staticmethod
    def _describe(done: int, failed: int) -> str:
        colour = "red" if failed else "dim"
        return f"runs [green]{done} done[/green] [{colour}]{failed} failed[/{colour}]"

    def __enter__(self) -> _Display:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def run_progress(self, run: PlannedRun, done: int, total: int) -> None:
        """A run in flight has done ``done`` of its ``total`` iterations."""
        task = self.per_run.get(run.run_id)
        if task is None:
            description = f"  {escape(run.spec.display_label)} {run.run_id[:8]}"
            task = self.per_run[run.run_id] = self.progress.add_task(description)
        self.progress.update(task, completed=done, total=total)

    def finished(self, run: PlannedRun, ok: bool, seconds: float) -> None:
        """Count a finished run and drop its per-run bar."""
        self.done += ok
        self.failed += not ok
        if run.run_id in self.per_run:
            self.progress.remove_task(self.per_run.pop(run.run_id))
        self.progress.update(
            self.overall, advance=1, description=self._describe(self.done, self.failed)
        )


class _Lines:
    """Progress for a log or a pipe (no terminal): one line per finished run, nothing between."""

    def __init__(self, console: Any, total: int) -> None:
        self.console, self.total, self.count = console, total, 0

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def run_progress(self, run: PlannedRun, done: int, total: int) -> None:
        """Iterations within a run are not worth a line each."""

    def finished(self, run: PlannedRun, ok: bool, seconds: float) -> None:
        """One line: how many runs are finished, this one's fate, label, seed, id and time."""
        self.count += 1
        fate = "done" if ok else "failed"
        self.console.print(
            f"[{self.count}/{self.total}] {fate} {escape(run.spec.display_label)} seed "
            f"{run.spec.seed} {run.run_id} ({seconds:.1f} s)",
            soft_wrap=True,
            highlight=False,
        )


def _display(console: Any, total: int) -> _Display | _Lines | contextlib.nullcontext[None]:
    """Bars on a terminal, lines elsewhere, nothing without a console or with nothing to run."""
    if console is None or total == 0:  # nothing to compute: no empty 0/0 bar
        return contextlib.nullcontext()
    return _Display(console, total) if console.is_terminal else _Lines(console, total)


def backstop(timeout: float) -> float:
    """How long an executor waits for a run limited to ``timeout`` s before it stops the worker.

    The worker enforces the limit itself and reports the failure; the grace on top covers its
    start-up (importing plugins) so that the parent kills only a worker that does not answer.
    """
    return timeout + max(2.0, timeout / 2)


@runtime_checkable
class _Closable(Protocol):
    def close(self) -> object: ...


def _closing(results: Iterator[Any]) -> contextlib.AbstractContextManager[object]:
    """Closes ``results`` on exit when it can be closed (a generator; third parties' executors
    may return plain iterators)."""
    return (
        contextlib.closing(results) if isinstance(results, _Closable) else contextlib.nullcontext()
    )


def _accepts(executor: api.Executor, option: str) -> bool:
    """Whether the executor's ``map_unordered`` takes the keyword ``option`` (``task_timeout``,
    ``on_progress``): a third party's may take neither."""
    try:
        parameters = inspect.signature(executor.map_unordered).parameters
    except (TypeError, ValueError):
        return False
    return option in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def schedule(
    suite: Suite,
    out: str | Path,
    *,
    executor: api.Executor,
    fresh: bool = False,
    timeout: float | None = None,
    console: Any = None,
    host: PluginHost | None = None,
) -> SuiteOutcome:
    """Run the suite's pending runs into the store ``out`` and report what happened.

    ``timeout`` (seconds; default: the suite's ``timeout`` setting, 0 = none) limits each run's
    wall-clock time: a run past it is stopped and recorded as failed. It is a setting of the
    execution, not of the run, so it does not change run ids. ``console`` (a
    :class:`rich.console.Console`) turns on the progress display: bars on a terminal (one per
    run in flight, with executors that report progress: serial, process, dask), else one line
    per finished run.

    Runs in this process are recorded as ``started`` before they run, so if one kills the
    process outright (native code exiting or crashing), the store shows which run it was and a
    rerun recomputes it.
    """
    host = host or get_host()
    limit = suite.settings.timeout if timeout is None else timeout
    return schedule_runs(
        suite.runs(host),
        out,
        executor=executor,
        fresh=fresh,
        timeout=limit,
        console=console,
        host=host,
    )


def schedule_runs(
    specs: list[RunSpec],
    out: str | Path,
    *,
    executor: api.Executor,
    fresh: bool = False,
    timeout: float = 0.0,
    console: Any = None,
    host: PluginHost | None = None,
) -> SuiteOutcome:
    """:func:`schedule` for a list of run specs (``zobench tune``'s trials, for one)."""
    kernel.requested()  # a bad ZOBENCH_KERNEL: one clear error before any run starts
    host = host or get_host()
    planned = plan(specs, host)
    store = Store(out, create=True)
    outcome = SuiteOutcome(Path(out), planned)
    waiting = (lambda holder: console.print(_waiting_text(out, holder))) if console else None
    with store.lock(on_wait=waiting):
        # Decided under the lock: a run another `zobench run` finished meanwhile is skipped.
        scan = store.scan(frames="read")
        pending = _pending(planned, scan, fresh, outcome)
        _compute(pending, store, scan, executor, console, outcome, timeout, host)
    return outcome


def _waiting_text(out: str | Path, holder: str) -> str:
    return f"[yellow]waiting[/yellow]: another zobench run is writing {out} ({holder})"


def _pending(
    planned: list[PlannedRun], scan: Scan, fresh: bool, outcome: SuiteOutcome
) -> list[PlannedRun]:
    """The runs to compute, noting in ``outcome`` which are stale, repaired or skipped."""
    current = {r.config_hash: r.run_id for r in scan.current()}
    current.update({written_key(r): r.run_id for r in scan.current()})
    pending = []
    for run in planned:
        record = scan.records.get(run.run_id)
        done = record is not None and record.status == "done" and run.run_id not in scan.damaged
        if done and not fresh:
            outcome.skipped.append(run.run_id)
            continue
        pending.append(run)
        if run.run_id in scan.damaged:
            outcome.repaired.append(run.run_id)
        elif {current.get(run.identity.config_hash), current.get(_written(run))} - {
            None,
            run.run_id,
        }:
            outcome.stale.append(run.run_id)
    return pending


def _record(run: PlannedRun, result: RunResult, commit: str | None) -> RunRecord:
    """The manifest record of a run's result (status done, failed, or started)."""
    return RunRecord(
        run_id=run.run_id,
        status=result.status,
        spec=run.spec,
        resolved=run.identity.resolved,
        config_hash=run.identity.config_hash,
        fingerprint=run.identity.fingerprint,
        timings=result.timings,
        error=result.error,
        traceback=result.traceback,
        provenance={**result.worker, "git_commit": commit, "components": run.components},
    )


def _written(run: PlannedRun) -> str:
    return canonical_json(run.spec.canonical())


def _compute(
    pending: list[PlannedRun],
    store: Store,
    scan: Scan,
    executor: api.Executor,
    console: Any,
    outcome: SuiteOutcome,
    limit: float,
    host: PluginHost,
) -> None:
    """Run ``pending`` through the executor, writing each result as it arrives."""
    by_id = {p.run_id: p for p in pending}
    tasks = [{"run_id": p.run_id, "spec": p.spec.to_record(), "timeout": limit} for p in pending]
    commit = git_commit()
    live = getattr(executor, "in_process", False)

    def execute_here(task: dict[str, Any]) -> RunResult:
        started = _lost(task, None, status="started")
        store.write(_record(by_id[task["run_id"]], started, commit))
        return _execute_here(task, host)

    shown = _display(console, len(tasks))
    options: dict[str, Any] = {}
    if limit and _accepts(executor, "task_timeout"):
        options["task_timeout"] = backstop(limit)
    if isinstance(shown, _Display | _Lines) and _accepts(executor, "on_progress"):

        def on_progress(index: int, done: int, total: int) -> None:
            shown.run_progress(pending[index], done, total)  # tasks are made from pending

        options["on_progress"] = on_progress
    results = executor.map_unordered(execute_here if live else execute, tasks, **options)
    # Closing the generator when the loop is interrupted shuts the executor's workers down now.
    closing = _closing(results)
    with shown as display, closing:
        for index, raw in results:
            if isinstance(raw, api.TaskLost):  # the worker died or stopped answering
                raw = _lost(tasks[index], raw.reason, raw.seconds)
            result = RunResult.of(raw)
            run = by_id[result.run_id]
            record = _record(run, result, commit)
            store.write(record, result.frame if result.status == "done" else None)
            # Older runs of this configuration (or of this spec, before a default changed) are
            # superseded: the store keeps one run per configuration.
            for old in sorted(scan.same_run(record)):
                store.remove(old)
            if result.status == "done":
                outcome.done.append(run.run_id)
            else:
                outcome.failed[run.run_id] = result.error or "failed"
            if display is not None:
                display.finished(run, result.status == "done", result.timings.wall_s)
