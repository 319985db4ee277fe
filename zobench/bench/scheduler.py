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
import dataclasses
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

from zobench import api, progress
from zobench.__about__ import __version__
from zobench.bench import guard
from zobench.bench.display import BarsDisplay, LinesDisplay, progress_display
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
    shared: list[str] = field(default_factory=list)
    """Runs copied from another suite's store of the same scheduling (computed once)."""

    def frame(self) -> pl.DataFrame:
        """The long table of the suite's finished runs (including resumed ones)."""
        return load(self.out, run_ids=[p.run_id for p in self.planned])


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
    batch = Batch(specs, Path(out), timeout)
    return _schedule([batch], executor, fresh=fresh, console=console, host=host)[0]


@dataclass(frozen=True)
class Batch:
    """Runs bound for one results folder, with their wall-clock limit (seconds, 0 = none)."""

    specs: list[RunSpec]
    out: Path
    timeout: float = 0.0


def schedule_suites(
    suites: list[tuple[Suite, str | Path]],
    *,
    executor: api.Executor,
    fresh: bool = False,
    timeout: float | None = None,
    console: Any = None,
    host: PluginHost | None = None,
) -> list[SuiteOutcome]:
    """Several suites, each into its own store, through one executor: :func:`schedule` for each,
    as one pool of runs.

    The workers stay busy across suites (no suite waits for the previous one's last run), and a
    run that several suites share (the same run id: the same resolved configuration, seed and
    code) is computed once and written to each of their stores; a run already done in one of
    the stores is copied to the others instead of recomputed (unless ``fresh``). Runs start in
    the order the suites are given. Two suites may not share a store.
    """
    host = host or get_host()
    batches = []
    for suite, out in suites:
        limit = suite.settings.timeout if timeout is None else timeout
        batches.append(Batch(suite.runs(host), Path(out), limit))
    return _schedule(batches, executor, fresh=fresh, console=console, host=host)


@dataclass
class _Destination:
    """One batch's store while it is scheduled: what it holds and what it still needs."""

    store: Store
    scan: Scan
    outcome: SuiteOutcome
    pending: dict[str, PlannedRun]
    """Run id → the run as this batch wrote it (its suite and label), still to be stored."""
    timeout: float


def _schedule(
    batches: list[Batch],
    executor: api.Executor,
    *,
    fresh: bool,
    console: Any,
    host: PluginHost | None,
) -> list[SuiteOutcome]:
    """Plan every batch, lock its store, copy shared runs, then compute the rest once each."""
    kernel.requested()  # a bad ZOBENCH_KERNEL: one clear error before any run starts
    host = host or get_host()
    folders = [batch.out.resolve() for batch in batches]
    if len(set(folders)) < len(folders):
        raise ConfigError("two suites of one `zobench run` cannot share a results folder")
    plans = [plan(batch.specs, host) for batch in batches]
    stores = [Store(batch.out, create=True) for batch in batches]
    destinations: list[_Destination] = []
    with contextlib.ExitStack() as locks:
        # folders locked in one global order, so two invocations sharing folders cannot deadlock
        for index in sorted(range(len(batches)), key=lambda i: str(folders[i])):
            waiting = _waiting(console, batches[index].out)
            locks.enter_context(stores[index].lock(on_wait=waiting))
        for batch, planned, store in zip(batches, plans, stores, strict=True):
            # decided under the lock: a run another `zobench run` finished meanwhile is skipped
            scan = store.scan(frames="read")
            outcome = SuiteOutcome(batch.out, planned)
            pending = _pending(planned, scan, fresh, outcome)
            destinations.append(
                _Destination(store, scan, outcome, {p.run_id: p for p in pending}, batch.timeout)
            )
        if not fresh:
            _copy_shared(destinations)
        _compute(destinations, executor, console, host)
    return [d.outcome for d in destinations]


def _waiting(console: Any, out: Path) -> Any:
    """The lock's ``on_wait`` message for ``out`` (none without a console)."""
    if console is None:
        return None
    return lambda holder: console.print(_waiting_text(out, holder))


def _copy_shared(destinations: list[_Destination]) -> None:
    """Store each pending run that another destination holds done and intact as a copy of it:
    its frame and timings, under this destination's own spec (suite and label)."""
    for destination in destinations:
        for run_id in list(destination.pending):
            found = _done_elsewhere(run_id, destination, destinations)
            if found is None:
                continue
            source, record = found
            run = destination.pending.pop(run_id)
            copy = dataclasses.replace(
                record,
                spec=run.spec,
                provenance={**record.provenance, "components": run.components},
            )
            _store(destination, run, copy, source.store.read_frame(record))
            destination.outcome.shared.append(run_id)


def _done_elsewhere(
    run_id: str, destination: _Destination, destinations: list[_Destination]
) -> tuple[_Destination, RunRecord] | None:
    """Another destination whose store holds ``run_id`` done and intact, with its record."""
    for source in destinations:
        record = source.scan.records.get(run_id)
        if source is destination or record is None or record.status != "done":
            continue
        if run_id not in source.scan.damaged:
            return source, record
    return None


def _store(
    destination: _Destination, run: PlannedRun, record: RunRecord, frame: pl.DataFrame | None
) -> None:
    """Write a result and drop the store's older runs of the same configuration or spec."""
    destination.store.write(record, frame)
    # Older runs of this configuration (or of this spec, before a default changed) are
    # superseded: the store keeps one run per configuration.
    for old in sorted(destination.scan.same_run(record)):
        destination.store.remove(old)


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
    destinations: list[_Destination],
    executor: api.Executor,
    console: Any,
    host: PluginHost,
) -> None:
    """Compute every destination's pending runs, each distinct run once, writing each result to
    every destination that needs it as it arrives."""
    needed: dict[str, list[_Destination]] = {}
    for destination in destinations:
        for run_id in destination.pending:
            needed.setdefault(run_id, []).append(destination)
    # each run as its first destination wrote it, limited by that destination's timeout
    pending = [where[0].pending[run_id] for run_id, where in needed.items()]
    limits = [where[0].timeout for where in needed.values()]
    tasks = [
        {"run_id": p.run_id, "spec": p.spec.to_record(), "timeout": limit}
        for p, limit in zip(pending, limits, strict=True)
    ]
    commit = git_commit()
    live = getattr(executor, "in_process", False)

    def execute_here(task: dict[str, Any]) -> RunResult:
        started = _lost(task, None, status="started")
        for destination in needed[task["run_id"]]:
            run = destination.pending[task["run_id"]]
            destination.store.write(_record(run, started, commit))
        return _execute_here(task, host)

    shown = progress_display(console, len(tasks))
    options: dict[str, Any] = {}
    if limits and all(limits) and _accepts(executor, "task_timeout"):
        options["task_timeout"] = backstop(max(limits))  # the workers enforce each run's own
    if isinstance(shown, BarsDisplay | LinesDisplay) and _accepts(executor, "on_progress"):

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
            done = result.status == "done"
            for destination in needed[result.run_id]:
                run = destination.pending[result.run_id]
                _store(
                    destination, run, _record(run, result, commit), result.frame if done else None
                )
                if done:
                    destination.outcome.done.append(run.run_id)
                else:
                    destination.outcome.failed[run.run_id] = result.error or "failed"
            if display is not None:
                display.finished(pending[index], done, result.timings.wall_s)
