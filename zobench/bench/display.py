"""The scheduler's progress display: bars on a terminal, one line per finished run elsewhere."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from rich.markup import escape

if TYPE_CHECKING:
    from zobench.bench.scheduler import PlannedRun


class BarsDisplay:
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

    def __enter__(self) -> BarsDisplay:
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


class LinesDisplay:
    """Progress for a log or a pipe (no terminal): one line per finished run, nothing between."""

    def __init__(self, console: Any, total: int) -> None:
        self.console, self.total, self.count = console, total, 0

    def __enter__(self) -> LinesDisplay:
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


def progress_display(
    console: Any, total: int
) -> BarsDisplay | LinesDisplay | contextlib.nullcontext[None]:
    """Bars on a terminal, lines elsewhere, nothing without a console or with nothing to run."""
    if console is None or total == 0:  # nothing to compute: no empty 0/0 bar
        return contextlib.nullcontext()
    return BarsDisplay(console, total) if console.is_terminal else LinesDisplay(console, total)
