"""A whole ``zobench run`` of the quickstart suite: 15 runs of 500 iterations on local processes.

Timed end to end — planning, worker start-up, runs, store writes — as ``zobench run`` does it,
into a fresh store. The issue's target is 8 s wall on the project's 2-core machine; an absolute
time depends on the machine and its load, so it is reported (``benchmark.extra_info``), not
asserted. With ``--benchmark-disable`` (the default test run) one run of every algorithm of the
suite runs 5 iterations in this process as a smoke test.
"""

from __future__ import annotations

import dataclasses
import os
import time

from zobench.bench.runner import run
from zobench.bench.scheduler import make_executor, schedule
from zobench.bench.suite import load_suite


def test_quickstart_wall_time(benchmark, tmp_path):
    suite = load_suite("quickstart")
    if benchmark.disabled:
        specs = [s for s in suite.runs() if s.seed == suite.seeds[0]]
        assert len(specs) == len(suite.entries["algorithm"])
        frames = benchmark(
            lambda: [run(dataclasses.replace(s, iterations=5, eval_every=5)) for s in specs]
        )
        assert all(frame["iteration"].to_list() == [0, 5] for frame in frames)
        return
    stores = iter(range(1_000))

    def whole_suite() -> float:
        start = time.perf_counter()
        outcome = schedule(suite, tmp_path / str(next(stores)), executor=make_executor("process"))
        assert outcome.failed == {}
        assert len(outcome.done) == suite.count()
        return time.perf_counter() - start

    seconds = benchmark.pedantic(whole_suite, rounds=1, iterations=1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    benchmark.extra_info.update(wall_seconds=seconds, load_average_1min=load)
    print(f"\nquickstart: {suite.count()} runs in {seconds:.1f} s wall (load average {load:.1f})")
