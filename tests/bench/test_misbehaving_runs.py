"""Runs that misbehave: hang, exit or interrupt themselves; each is one failed run, the rest go on."""

from __future__ import annotations

import ctypes
import time
from pathlib import Path

import pytest

from zobench.bench import guard, scheduler
from zobench.bench.store import Store
from zobench.bench.suite import parse_suite
from zobench.plugins import reset_host

FIXTURE_PLUGINS = Path(__file__).resolve().parents[1] / "fixtures" / "runs_plugins"

SUITE = """
name = "misbehaving"
iterations = 4
eval_every = 2
eval_episodes = 16
seeds = 1
{settings}
environment = {{ name = "gridworld", size = 3, goal = [2, 2], horizon = 6 }}
preference = {{ name = "bradley-terry" }}
algorithm = [{{ name = "zpg", pairs = 4 }}, {{ name = "{bad}" }}]
"""

EXECUTORS = [
    pytest.param("serial", {}, id="serial"),
    pytest.param("process", {"jobs": 2}, id="process"),
    pytest.param("dask", {"jobs": 2}, id="dask", marks=pytest.mark.slow),
]


@pytest.fixture
def fixture_plugins(clean_plugin_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture distribution with algorithms that hang, exit and interrupt, installed."""
    monkeypatch.syspath_prepend(str(FIXTURE_PLUGINS))
    reset_host()


def _schedule(tmp_path: Path, bad: str, name: str, options: dict, settings: str = "") -> tuple:
    """Run zpg and the misbehaving algorithm ``bad``; the outcome, the bad run's record, seconds."""
    if name == "dask":
        pytest.importorskip("distributed")
    suite = parse_suite(SUITE.format(bad=bad, settings=settings))
    executor = scheduler.make_executor(name, **options)
    start = time.perf_counter()
    outcome = scheduler.schedule(suite, tmp_path / name, executor=executor)
    elapsed = time.perf_counter() - start
    assert len(outcome.done) == 1, outcome.failed  # zpg finished despite its neighbour
    (bad_id,) = outcome.failed
    record = Store(tmp_path / name).record(bad_id)
    assert record is not None
    assert record["status"] == "failed"
    assert record["spec"]["algorithm"]["name"] == bad
    return outcome, record, elapsed


@pytest.mark.slow
@pytest.mark.usefixtures("fixture_plugins")
@pytest.mark.parametrize(("name", "options"), EXECUTORS)
def test_a_hanging_run_times_out_and_the_suite_goes_on(
    tmp_path: Path, name: str, options: dict
) -> None:
    _, record, elapsed = _schedule(tmp_path, "test-hanging", name, options, "timeout = 2")
    assert record["error"] == "timed out after 2 s"  # stopped by the worker's own limit
    assert 2 <= record["timings"]["wall_s"] < 30
    assert elapsed < 60  # without the limit the suite never ends


@pytest.mark.slow
@pytest.mark.usefixtures("fixture_plugins")
def test_a_run_stuck_where_the_alarm_cannot_reach_is_stopped_by_the_parent(tmp_path: Path) -> None:
    _, record, _ = _schedule(tmp_path, "test-native-hang", "process", {"jobs": 2}, "timeout = 1")
    assert record["error"].startswith("timed out after 3 s: the worker did not answer")
    assert record["timings"]["wall_s"] >= 3


@pytest.mark.usefixtures("fixture_plugins")
@pytest.mark.parametrize(
    ("bad", "serial_error", "process_error"),
    [
        ("test-sys-exit", "SystemExit: 3", "SystemExit: 3"),
        (
            "test-interrupt",
            "KeyboardInterrupt raised inside the run (not by the user)",
            "KeyboardInterrupt raised inside the run (not by the user)",
        ),
        (
            "test-os-exit",
            "ProcessExitCalled: os._exit(0) was called inside the run",
            "the worker process exited with code 0 during the run",
        ),
    ],
)
@pytest.mark.parametrize(("name", "options"), EXECUTORS[:2])
def test_exits_and_interrupts_inside_a_run_are_failures_of_that_run(
    tmp_path: Path, name: str, options: dict, bad: str, serial_error: str, process_error: str
) -> None:
    _, record, _ = _schedule(tmp_path, bad, name, options)
    assert record["error"].startswith(serial_error if name == "serial" else process_error)


@pytest.mark.slow
@pytest.mark.usefixtures("fixture_plugins")
@pytest.mark.parametrize("bad", ["test-sys-exit", "test-os-exit"])
def test_exits_inside_a_dask_worker_are_failures_of_that_run(tmp_path: Path, bad: str) -> None:
    _, record, _ = _schedule(tmp_path, bad, "dask", {"jobs": 2})
    expected = "SystemExit: 3" if bad == "test-sys-exit" else "the worker process died"
    assert record["error"].startswith(expected)


@pytest.mark.usefixtures("fixture_plugins")
def test_the_timeout_is_not_part_of_the_run_id(tmp_path: Path) -> None:
    def plan(settings: str) -> list[str]:
        suite = parse_suite(SUITE.format(bad="test-hanging", settings=settings))
        return [p.run_id for p in scheduler.plan(suite.runs())]

    assert plan("") == plan("timeout = 5") == plan("timeout = 0.5")


def test_time_limit_interrupts_the_main_thread_and_other_threads() -> None:
    import threading

    def hang(limit: float) -> str:
        try:
            with guard.time_limit(limit):
                while True:
                    time.sleep(0.01)
        except guard.RunTimedOut:
            return "timed out"

    assert hang(0.2) == "timed out"  # the main thread: SIGALRM
    seen: list[str] = []
    thread = threading.Thread(target=lambda: seen.append(hang(0.2)))  # elsewhere: async exception
    thread.start()
    thread.join(10)
    assert seen == ["timed out"]
    with guard.time_limit(5):  # a block that ends in time leaves nothing behind
        pass
    time.sleep(0.05)


def test_exits_intercepted_only_while_active() -> None:
    import os

    real_exit = os._exit
    with pytest.raises(guard.ProcessExitCalled) as raised, guard.exits_intercepted():
        os._exit(7)
    assert raised.value.code == 7
    assert os._exit is real_exit


@pytest.mark.slow
def test_libc_exit_is_beyond_reach_so_the_run_is_marked_started_first(
    tmp_path: Path, run_zobench: object
) -> None:
    # os._exit is intercepted under the serial executor, but the C library's _exit (what native
    # code would call) ends the process on the spot: the run was recorded as started before it
    # ran, so the store says which run it was and a rerun computes it.
    plugin = tmp_path / "plugin"
    (plugin / "zobench_native_exit-0.1.0.dist-info").mkdir(parents=True)
    (plugin / "zobench_native_exit-0.1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: zobench-native-exit\nVersion: 0.1.0\n"
    )
    (plugin / "zobench_native_exit-0.1.0.dist-info" / "entry_points.txt").write_text(
        "[zobench]\nnative-exit = zobench_native_exit\n"
    )
    (plugin / "zobench_native_exit.py").write_text(
        "import ctypes\nimport zobench\nfrom zobench import api\n\n"
        "class NativeExit(api.Algorithm):\n"
        "    name = 'test-native-exit'\n"
        "    summary = 'Calls the C library _exit(0).'\n\n"
        "    def step(self):\n"
        "        ctypes.CDLL(None)._exit(0)\n\n"
        "@zobench.hookimpl\n"
        "def zobench_register_algorithms(register):\n"
        "    register(NativeExit)\n"
    )
    assert ctypes.CDLL(None)._exit  # the platform has it
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE.format(bad="test-native-exit", settings=""))
    out = tmp_path / "out"
    run_zobench("run", str(suite), "--out", str(out), "--executor", "serial", path=(plugin,))
    statuses = {r["spec"]["algorithm"]["name"]: r["status"] for r in Store(out).records()}
    assert statuses.get("test-native-exit") == "started"
    shown = run_zobench("runs", str(out), path=(plugin,))
    assert "started" in shown.stdout


def test_a_ctrl_c_during_an_atomic_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    # The cause of the flaky Ctrl-C test: polars notices a SIGINT inside write_parquet and raises
    # KeyboardInterrupt itself, then Python's handler raises a second one for the same signal,
    # which landed in write_atomic's clean-up and left the temporary file behind.
    import os
    import signal
    import threading

    import numpy as np
    import polars as pl

    from zobench.bench.store import write_atomic

    frame = pl.DataFrame({f"c{i}": np.arange(1_000_000, dtype=float) for i in range(4)})

    def write(path: Path) -> None:
        threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGINT)).start()
        frame.write_parquet(path)  # takes far longer than 0.01 s
        time.sleep(1)  # where a late timer's signal lands, still inside the write

    interrupts = 0
    try:
        try:
            write_atomic(tmp_path / "run.parquet", write)
        except KeyboardInterrupt:
            interrupts += 1
            time.sleep(0.2)  # a second KeyboardInterrupt for the same Ctrl-C would come here
    except KeyboardInterrupt:
        interrupts += 1
    assert interrupts == 1
    assert [p.name for p in tmp_path.iterdir()] == ["run.parquet"]  # the write completed
    assert pl.read_parquet(tmp_path / "run.parquet").equals(frame)


@pytest.mark.usefixtures("fixture_plugins")
def test_zobench_run_timeout_option_overrides_the_suite_and_keeps_run_ids(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from zobench.cli import cli

    path = tmp_path / "suite.toml"
    path.write_text(SUITE.format(bad="test-hanging", settings="timeout = 600"), encoding="utf-8")
    out = str(tmp_path / "out")
    args = ["run", str(path), "--out", out, "--executor", "serial"]
    first = CliRunner().invoke(cli, [*args, "--timeout", "1"])
    assert first.exit_code == 1, first.output
    assert "2 runs: 1 done, 0 already done (skipped), 1 failed" in first.output
    assert "timed out after 1 s" in first.output
    again = CliRunner().invoke(cli, [*args, "--timeout", "0.5"])
    assert "1 already done (skipped), 1 failed" in again.output  # same ids: zpg is not rerun
    assert "timed out after 0.5 s" in again.output
    refused = CliRunner().invoke(cli, [*args, "--timeout", "-1"])
    assert refused.exit_code == 2
