"""Scheduler speed: overhead per run against the bare runner, and the process executor's speed-up.

Run with ``pytest tests/benchmarks/test_scheduler_speed.py --benchmark-enable -s``. Targets:
overhead under 5% of a one-second run; ``process`` with 2 jobs at least 1.7× faster than
``serial`` on 8 runs of about a second. Both are ratios measured in the same test (the machine's
speed cancels out), compared by the minimum over rounds (the least disturbed by other load).
With benchmarks disabled (the default) each test runs once on tiny runs, as a smoke test.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from zobench.bench import scheduler
from zobench.bench.runner import run
from zobench.bench.suite import parse_suite

pytestmark = pytest.mark.usefixtures("clean_plugin_env")


def _one_second(disabled: bool) -> int:
    """ZPG iterations on the default gridworld that take about a second on this machine."""
    if disabled:
        return 20
    probe = _suite(100, seeds=1).runs()[0]
    run(probe)  # warm up imports and the plugin host
    seconds = _fastest(lambda: run(probe), rounds=3)
    return int(min(max(100 / seconds, 100), 20_000))


def _suite(iterations: int, seeds: int) -> Any:
    return parse_suite(
        f"""
        name = "speed"
        seeds = {seeds}
        iterations = {iterations}
        eval_every = {max(iterations // 10, 1)}
        [environment]
        name = "gridworld"
        [preference]
        name = "bradley-terry"
        [algorithm]
        name = "zpg"
        """
    )


def _fastest(fn: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def test_scheduler_overhead_per_run(benchmark: Any, tmp_path: Path) -> None:
    """Scheduling one run (plan, store check, worker wrapper, parquet + JSON writes) vs run().

    Everything runs in this process (serial executor), so the overhead is CPU work: the ratio
    is taken on process CPU time, which other programs on a shared machine barely disturb; the
    wall-clock ratio is reported beside it.
    """
    suite = _suite(_one_second(benchmark.disabled), seeds=1)
    spec = suite.runs()[0]
    executor = scheduler.make_executor("serial")
    direct: list[tuple[float, float]] = []
    scheduled_cpu: list[float] = []

    def run_directly() -> None:  # pedantic's untimed setup: interleaves the reference rounds
        wall, cpu = time.perf_counter(), time.process_time()
        run(spec)
        direct.append((time.perf_counter() - wall, time.process_time() - cpu))

    def scheduled() -> None:
        cpu = time.process_time()
        outcome = scheduler.schedule(suite, tmp_path, executor=executor, fresh=True)
        scheduled_cpu.append(time.process_time() - cpu)
        assert len(outcome.done) == 1

    rounds = 1 if benchmark.disabled else 7
    benchmark.pedantic(scheduled, setup=run_directly, rounds=rounds, iterations=1)
    if benchmark.disabled:
        return
    direct_wall = min(w for w, _ in direct)
    overhead = min(scheduled_cpu) / min(c for _, c in direct) - 1
    overhead_wall = benchmark.stats.stats.min / direct_wall - 1
    benchmark.extra_info.update(
        direct_s=round(direct_wall, 4),
        scheduled_s=round(benchmark.stats.stats.min, 4),
        overhead_per_run_cpu=round(overhead, 4),
        overhead_per_run_wall=round(overhead_wall, 4),
    )
    print(
        f"\nscheduler overhead per {direct_wall:.2f} s run: {overhead:.2%} of CPU time "
        f"({overhead_wall:.2%} of wall time)"
    )
    assert overhead < 0.05


def test_process_speedup_over_serial(benchmark: Any, tmp_path: Path) -> None:
    """8 runs of about a second: process executor with 2 jobs against serial, rounds interleaved."""
    suite = _suite(_one_second(benchmark.disabled), seeds=8)
    serial: list[float] = []

    def schedule_with(name: str, **options: Any) -> None:
        executor = scheduler.make_executor(name, **options)
        outcome = scheduler.schedule(suite, tmp_path / name, executor=executor, fresh=True)
        assert len(outcome.done) == 8

    def run_serially() -> None:  # pedantic's untimed setup: interleaves the reference rounds
        start = time.perf_counter()
        schedule_with("serial")
        serial.append(time.perf_counter() - start)

    rounds = 1 if benchmark.disabled else 3
    benchmark.pedantic(
        schedule_with, args=("process",), kwargs={"jobs": 2}, setup=run_serially, rounds=rounds
    )
    if benchmark.disabled:
        return
    # The first round pays for starting the fork server (a fresh interpreter importing numpy,
    # polars and zobench), as `zobench run` does; later rounds reuse it. Both are reported.
    cold = benchmark.stats.stats.data[0]
    speedup = min(serial) / benchmark.stats.stats.min
    benchmark.extra_info.update(
        serial_s=round(min(serial), 3),
        process_s=round(benchmark.stats.stats.min, 3),
        process_cold_s=round(cold, 3),
        speedup=round(speedup, 3),
        speedup_cold=round(min(serial) / cold, 3),
    )
    print(
        f"\nprocess (2 jobs) over serial on 8 runs: {speedup:.2f}x "
        f"({min(serial) / cold:.2f}x including the fork server's start)"
    )
    assert speedup >= 1.7
