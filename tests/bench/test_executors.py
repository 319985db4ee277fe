"""Executors: the map_unordered contract, identical numbers everywhere, clean shutdown."""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from zobench import api
from zobench.bench import display, scheduler
from zobench.bench.suite import parse_suite
from zobench.errors import ZobenchError

pytestmark = pytest.mark.usefixtures("clean_plugin_env")

SUITE = """
name = "executors"
seeds = 3
iterations = 4
eval_every = 2
eval_episodes = 16

[environment]
name = "gridworld"
size = 3
goal = [2, 2]
horizon = 6

[preference]
name = "bradley-terry"

[[algorithm]]
name = "zpg"
pairs = 4
[algorithm.grid]
mu = [0.25, 0.5]
"""


@pytest.mark.parametrize(("name", "options"), [("serial", {}), ("process", {"jobs": 2})])
def test_every_task_index_comes_back_once_with_its_result(name: str, options: dict) -> None:
    executor = scheduler.make_executor(name, **options)
    tasks = list(range(7))
    results = dict(executor.map_unordered(math.factorial, tasks))
    assert results == {i: math.factorial(i) for i in tasks}
    assert list(executor.map_unordered(math.factorial, [])) == []


@pytest.mark.slow
def test_serial_process_and_dask_give_identical_tables_and_stream_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every executor reports each run's iterations to the display, and the numbers stay
    identical with progress on: it is a side channel, never part of a run."""
    pytest.importorskip("distributed")
    reports: list[tuple[str, int, int]] = []
    original = display.BarsDisplay.run_progress

    def spy(self: object, run: scheduler.PlannedRun, done: int, total: int) -> None:
        reports.append((run.run_id, done, total))
        original(self, run, done, total)  # type: ignore[arg-type]

    monkeypatch.setattr(display.BarsDisplay, "run_progress", spy)
    suite = parse_suite(SUITE)
    tables = {}
    for name, options in [("serial", {}), ("process", {"jobs": 2}), ("dask", {"jobs": 2})]:
        reports.clear()
        executor = scheduler.make_executor(name, **options)
        terminal = Console(file=io.StringIO(), force_terminal=True, width=100)
        outcome = scheduler.schedule(suite, tmp_path / name, executor=executor, console=terminal)
        assert len(outcome.done) == 6, outcome.failed
        assert {run_id for run_id, _, _ in reports} == set(outcome.done), name
        assert {(done, total) for _, done, total in reports} == {(4, 4)}, name  # 4 iterations
        tables[name] = (
            outcome.frame().drop("wall_s", "update_s", strict=False).sort("run_id", "iteration")
        )
    assert tables["serial"].height == 6 * 3
    assert tables["process"].equals(tables["serial"])
    assert tables["dask"].equals(tables["serial"])


class _ThirdParty(api.Executor):
    """An executor written before progress existed: no task_timeout, no on_progress."""

    name = "third-party"

    def map_unordered(self, fn, tasks):  # type: ignore[override]
        for index, task in enumerate(tasks):
            yield index, fn(task)


def test_an_executor_without_progress_support_still_runs_a_suite(tmp_path: Path) -> None:
    terminal = Console(file=io.StringIO(), force_terminal=True, width=100)
    suite = parse_suite(SUITE.replace("seeds = 3", "seeds = 1"))
    outcome = scheduler.schedule(
        suite, tmp_path, executor=_ThirdParty(), console=terminal, timeout=60
    )
    assert len(outcome.done) == 2, outcome.failed
    assert "2 done" in terminal.file.getvalue()


def test_without_a_terminal_progress_is_one_line_per_run(tmp_path: Path) -> None:
    log = Console(file=io.StringIO(), force_terminal=False, width=200)
    suite = parse_suite(SUITE.replace("seeds = 3", "seeds = 1"))
    outcome = scheduler.schedule(
        suite, tmp_path, executor=scheduler.make_executor("process", jobs=2), console=log
    )
    lines = log.file.getvalue().splitlines()
    assert len(lines) == 2
    assert {line.split()[0] for line in lines} == {"[1/2]", "[2/2]"}
    assert {line.split()[-3] for line in lines} == set(outcome.done)
    assert all(" done zpg " in line for line in lines)
    assert "━" not in log.file.getvalue()  # no bar


def test_dask_workers_do_not_get_malloc_trim_threshold() -> None:
    pytest.importorskip("distributed")
    executor = scheduler.make_executor("dask", jobs=1)
    names = ["MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS"]
    seen = dict(executor.map_unordered(os.getenv, names))
    assert seen[0] is None
    assert seen[1] == "1"  # the rest of dask's pre-spawn environment is kept


def test_missing_dask_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    with pytest.raises(ZobenchError, match=r'pip install -e "\.\[dask\]"'):
        scheduler.make_executor("dask")


def test_process_workers_stop_at_once_when_the_caller_stops() -> None:
    executor = scheduler.make_executor("process", jobs=2)
    results = executor.map_unordered(time.sleep, [0.0, 60.0, 60.0])
    assert next(results) == (0, None)
    start = time.perf_counter()
    results.close()  # what an interrupted scheduler does
    assert time.perf_counter() - start < 10


def test_dask_connects_to_a_running_cluster_by_address(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    suite = parse_suite(SUITE.replace("seeds = 3", "seeds = 1"))
    reference = scheduler.schedule(
        suite, tmp_path / "serial", executor=scheduler.make_executor("serial")
    )
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        executor = scheduler.make_executor("dask", address=cluster.scheduler_address)
        remote = scheduler.schedule(suite, tmp_path / "dask", executor=executor)
    assert sorted(remote.done) == sorted(reference.done)
    key = ["run_id", "iteration"]
    assert (
        remote.frame()
        .drop("wall_s", "update_s", strict=False)
        .sort(key)
        .equals(reference.frame().drop("wall_s", "update_s", strict=False).sort(key))
    )


def test_a_dying_process_worker_costs_only_its_task() -> None:
    executor = scheduler.make_executor("process", jobs=2)
    exit_3, exit_0 = "__import__('os')._exit(3)", "__import__('os')._exit(0)"
    tasks = ["1 + 1", exit_3, "2 * 3", exit_0, "7"]
    results = dict(executor.map_unordered(eval, tasks))  # the worker exits in the middle of a task
    assert {i: results[i] for i in (0, 2, 4)} == {0: 2, 2: 6, 4: 7}
    assert isinstance(results[1], api.TaskLost)
    assert "exited with code 3" in results[1].reason
    assert isinstance(results[3], api.TaskLost)
    assert "exited with code 0" in results[3].reason


def test_a_process_worker_that_does_not_answer_is_stopped_after_task_timeout() -> None:
    executor = scheduler.make_executor("process", jobs=1)
    start = time.perf_counter()
    results = dict(
        executor.map_unordered(eval, ["__import__('time').sleep(60)", "5"], task_timeout=1)
    )
    assert time.perf_counter() - start < 30
    assert results[1] == 5  # a fresh worker took over
    assert isinstance(results[0], api.TaskLost)
    assert results[0].reason.startswith("timed out after 1 s: the worker did not answer")
    assert results[0].seconds >= 1


def test_an_exception_in_a_process_worker_reaches_the_caller() -> None:
    executor = scheduler.make_executor("process", jobs=1)
    with pytest.raises(ZeroDivisionError):
        list(executor.map_unordered(eval, ["1 / 0"]))


@pytest.mark.slow
def test_a_script_without_the_main_guard_fails_clearly_instead_of_hanging(tmp_path: Path) -> None:
    # A worker interpreter re-imports the script; without the guard it would call run_suite
    # again and wait forever for the store its parent holds.
    (tmp_path / "one.toml").write_text(SUITE.replace("seeds = 3", "seeds = 1"), encoding="utf-8")
    script = tmp_path / "tour.py"
    script.write_text(
        "import zobench\n"
        f"zobench.run_suite({str(tmp_path / 'one.toml')!r}, out={str(tmp_path / 'out')!r}, jobs=1)\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert 'put the call under `if __name__ == "__main__":`' in done.stderr
