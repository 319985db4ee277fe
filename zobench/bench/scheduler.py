"""The scheduler: runs a suite's runs through an executor into a store, resuming by default.

Flow: suite → run specs → content-hashed run ids → skip the ids the store already holds as done
(unless ``fresh``) → the executor maps :func:`execute` over the remaining runs → each result is
written to the store as it arrives (atomically), so an interruption loses at most the runs in
flight. A run that raises (including the runner's ``RunFailed`` on NaN or infinity) is recorded
as failed with its error and traceback; the other runs go on.

:func:`execute` is the worker: a module-level function of plain data (the RunSpec record), so
process and Dask executors can pickle it by reference.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
import platform
import subprocess
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from zobench import api
from zobench.__about__ import __version__
from zobench.bench.spec import COMPONENT_KINDS, RunSpec
from zobench.bench.store import Store, load
from zobench.bench.suite import Suite
from zobench.config import validate
from zobench.errors import ConfigError
from zobench.plugins import PluginHost, PluginLoadWarning, get_host
from zobench.sim import kernel

ProgressSink = Callable[[str, str, int, int], None]
"""``sink(run_id, label, done, total)``: live progress of a run inside the scheduler's process."""

_progress_sink: ProgressSink | None = None
"""Set by the scheduler while an in-process executor runs, so :func:`execute` can report live
progress; worker processes never see it (it is not part of the task), and that is the point."""


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


def execute(task: dict[str, Any]) -> dict[str, Any]:
    """Compute one run from its task ``{"run_id", "spec": RunSpec.to_record()}``.

    Never raises for a failing run: the error and traceback come back in the result, so one bad
    run cannot take down a worker pool. The result holds the runner's frame (or ``None``).
    """
    from zobench.bench.runner import run  # imported here: the runner pulls in the kernel

    spec = RunSpec.from_record(task["spec"])
    sink = _progress_sink
    progress = (
        functools.partial(sink, task["run_id"], spec.display_label) if sink is not None else None
    )
    started, start = _utc_now(), time.perf_counter()
    frame, error, trace = None, None, None
    try:
        with warnings.catch_warnings():
            # A worker process loads plugins again; their load failures were already reported
            # once by the scheduler's process, so each worker repeating them is only noise.
            warnings.simplefilter("ignore", PluginLoadWarning)
            frame = run(spec, progress=progress)
        scores = frame.get_column("score").to_list() if "score" in frame.columns else []
        if any(s is None or not math.isfinite(s) for s in scores):
            raise FloatingPointError("the run produced a non-finite score")
    except Exception as exc:  # a failing run is data, not a crash of the suite
        frame, error, trace = None, f"{type(exc).__name__}: {exc}", traceback.format_exc()
    return {
        "run_id": task["run_id"],
        "status": "failed" if error else "done",
        "frame": frame,
        "error": error,
        "traceback": trace,
        "started_at": started,
        "finished_at": _utc_now(),
        "wall_s": time.perf_counter() - start,
        "worker": worker_environment(),
    }


def make_executor(
    name: str = "process",
    *,
    jobs: int | None = None,
    address: str | None = None,
    host: PluginHost | None = None,
) -> api.Executor:
    """Build a registered executor; ``jobs``/``address`` are passed when given (and validated)."""
    registration = (host or get_host()).get("executor", name)
    options = {k: v for k, v in {"jobs": jobs, "address": address}.items() if v is not None}
    fields = registration.obj.Config.__dataclass_fields__
    for option in options:
        if option not in fields:
            raise ConfigError(f"--{option} does not apply to the {name} executor")
    config = validate(registration.obj.Config, options, path=f"executor '{name}'")
    return registration.obj(config)


@dataclass(frozen=True)
class PlannedRun:
    """A run of the suite with its id and the plugins that provide its components."""

    run_id: str
    spec: RunSpec
    components: dict[str, dict[str, str]]
    """Spec field → ``{"name", "distribution", "version"}`` of the component's plugin."""


def plan(specs: list[RunSpec], host: PluginHost | None = None) -> list[PlannedRun]:
    """Run ids for the specs (content hash + plugin versions), duplicates dropped, order kept."""
    host = host or get_host()
    planned: dict[str, PlannedRun] = {}
    for spec in specs:
        components = {}
        for field_name, component in spec.components().items():
            reg = host.get(COMPONENT_KINDS[field_name], component.name)
            components[field_name] = {
                "name": component.name,
                "distribution": reg.distribution,
                "version": reg.version,
            }
        versions = {c["distribution"]: c["version"] for c in components.values()}
        for field_name, component in spec.components().items():
            versions.update(
                host.get(COMPONENT_KINDS[field_name], component.name).obj.dependency_versions()
            )
        run_id = spec.run_id(versions)
        planned.setdefault(run_id, PlannedRun(run_id, spec, components))
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

    def frame(self) -> pl.DataFrame:
        """The long table of the suite's finished runs (including resumed ones)."""
        return load(self.out, run_ids=[p.run_id for p in self.planned])


class _Display:
    """The rich progress display: an overall bar and, where the executor allows, one per run."""

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

    def run_progress(self, run_id: str, label: str, done: int, total: int) -> None:
        """The sink :func:`execute` calls during an in-process run."""
        task = self.per_run.get(run_id)
        if task is None:
            task = self.per_run[run_id] = self.progress.add_task(f"  {label} {run_id[:8]}")
        self.progress.update(task, completed=done, total=total)

    def finished(self, run_id: str, ok: bool) -> None:
        """Count a finished run and drop its per-run bar."""
        self.done += ok
        self.failed += not ok
        if run_id in self.per_run:
            self.progress.remove_task(self.per_run.pop(run_id))
        self.progress.update(
            self.overall, advance=1, description=self._describe(self.done, self.failed)
        )


@contextlib.contextmanager
def _display(console: Any, total: int, live: bool) -> Iterator[_Display | None]:
    global _progress_sink
    if console is None:
        yield None
        return
    display = _Display(console, total)
    _progress_sink = display.run_progress if live else None
    try:
        with display.progress:
            yield display
    finally:
        _progress_sink = None


def schedule(
    suite: Suite,
    out: str | Path,
    *,
    executor: api.Executor,
    fresh: bool = False,
    console: Any = None,
    host: PluginHost | None = None,
) -> SuiteOutcome:
    """Run the suite's pending runs into the store ``out`` and report what happened.

    ``console`` (a :class:`rich.console.Console`) turns on the progress display. Per-run live
    progress needs the run to execute in this process (the ``serial`` executor).
    """
    kernel.requested()  # a bad ZOBENCH_KERNEL: one clear error before any run starts
    host = host or get_host()
    planned = plan(suite.runs(host), host)
    store = Store(out, create=True)
    outcome = SuiteOutcome(Path(out), planned)
    by_id = {p.run_id: p for p in planned}
    pending = [p for p in planned if fresh or not store.is_done(p.run_id)]
    pending_ids = {p.run_id for p in pending}
    outcome.skipped = [p.run_id for p in planned if p.run_id not in pending_ids]
    tasks = [{"run_id": p.run_id, "spec": p.spec.to_record()} for p in pending]
    commit = git_commit()
    live = getattr(executor, "in_process", False)
    results = executor.map_unordered(execute, tasks)
    # Closing the generator when the loop is interrupted shuts the executor's workers down now.
    closing = contextlib.closing(results) if hasattr(results, "close") else contextlib.nullcontext()
    with _display(console, len(tasks), live) as display, closing:
        for _, result in results:
            run_id = result["run_id"]
            record = {
                "run_id": run_id,
                "status": result["status"],
                "spec": by_id[run_id].spec.to_record(),
                "error": result["error"],
                "traceback": result["traceback"],
                "timings": {
                    "started_at": result["started_at"],
                    "finished_at": result["finished_at"],
                    "wall_s": result["wall_s"],
                },
                "provenance": {
                    **result["worker"],
                    "git_commit": commit,
                    "components": by_id[run_id].components,
                },
            }
            store.write(record, result["frame"])
            if result["status"] == "done":
                outcome.done.append(run_id)
            else:
                outcome.failed[run_id] = result["error"]
            if display is not None:
                display.finished(run_id, result["status"] == "done")
    return outcome


RANKING_VALUES: tuple[str, ...] = (
    "score_mean",
    "score_std",
    "normalized_mean",
    "normalized_std",
    "seeds",
)
"""The value columns of :func:`ranking` (the others are its grouping keys)."""


def ranking(frame: pl.DataFrame) -> pl.DataFrame:
    """Rank algorithm labels by mean final score, with the spread over seeds.

    The final score of a run is its last evaluated row. Rows are grouped by label plus every
    condition that varies in the table (environment, preference, topology, swept settings), so
    different cells are never averaged together.
    """
    if frame.is_empty():
        return pl.DataFrame()
    final = frame.sort("iteration").group_by("run_id", maintain_order=True).last()
    conditions = ["environment", "preference", "topology"] + [
        c for c in final.columns if c.split(".", 1)[0] in COMPONENT_KINDS and "." in c
    ]
    keys = [c for c in conditions if final.get_column(c).n_unique() > 1]
    outer = [k for k in keys if not k.startswith("algorithm.")]
    return (
        final.group_by(["label", *keys], maintain_order=True)
        .agg(
            pl.col("score").mean().alias("score_mean"),
            pl.col("score").std().alias("score_std"),
            pl.col("score_normalized").mean().alias("normalized_mean"),
            pl.col("score_normalized").std().alias("normalized_std"),
            pl.col("seed").n_unique().alias("seeds"),
        )
        .sort([*outer, "score_mean"], descending=[False] * len(outer) + [True], nulls_last=True)
    )
