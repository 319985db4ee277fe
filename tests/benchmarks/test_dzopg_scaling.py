"""DZOPG's cost per iteration grows linearly in the number of agents (ring, κ = 1 and 2).

One iteration of ``dzopg`` on the default ``net-gridworld`` (5×5 grid, H = 20) with n = 16, 256
and 4,096 agents on a ring. The costs per agent are compared within one run, timed alternately
(best of several rounds) so that all sizes see the same machine load.

**N = 256 pairs, not the default 20.** An iteration has a fixed cost (40 time steps of Python
and numpy call overhead) that does not grow with n. Measured here at n = 1 against n = 16:
1.7 vs 3.7 ms with N = 128 (45% fixed), 1.6 vs 6.6 ms with N = 256 (25%), 2.5 vs 15.6 ms with
N = 512 (16%). With the default N = 20 the fixed cost is most of the 16-agent iteration and
would make the comparison pass for the wrong reason. N = 512 would shrink it further, but then
a 4,096-agent step moves 2M-entry arrays and the per-agent cost rises by memory traffic
(measured ratio 1.2–1.7, a property of the machine's caches rather than of the algorithm), and
an iteration takes 4 s. The ratio 4,096 vs 256, where the fixed cost is negligible at both
sizes, is reported as well.

With ``--benchmark-disable`` (the default test run) only a smoke iteration at 16 and 256
agents runs and nothing is asserted. The 100,000-agent iteration is opt-in
(``ZOBENCH_BENCH_100K=1``); it takes several seconds and a few GB.
"""

from __future__ import annotations

import os
import time
import tracemalloc

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import zobench
from zobench.sim import kernel
from zobench.sim.problem import build_problem
from zobench_plugins.algorithms.dzopg import DZOPG, DZOPGConfig

SIZES = (16, 256, 4096)
PAIRS = 256
MAX_RATIO = 1.5


@pytest.fixture(autouse=True)
def one_blas_thread():
    """As every run steps (:func:`zobench.bench.runner.run`): one BLAS thread."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def make_algorithm(n_agents: int, kappa: int, pairs: int = PAIRS) -> DZOPG:
    """dzopg on the default net-gridworld with ``n_agents`` agents on a ring.

    The process is prepared as the runner prepares it (:func:`zobench.sim.kernel.warm_up`:
    the compiled kernel loaded, freed memory kept for reuse).
    """
    kernel.warm_up()
    env = zobench.make("environment", "net-gridworld", n_agents=n_agents)
    network = zobench.make("topology", "ring").build(n_agents, np.random.default_rng(0))
    preference = zobench.make("preference", "bradley-terry")
    problem = build_problem(env, preference, network=network, seed=0)
    return DZOPG(DZOPGConfig(kappa=kappa, pairs=pairs), problem)


def best_times(algorithms: dict[int, DZOPG], rounds: int) -> dict[int, float]:
    """Best time of one step per size, the sizes timed alternately round after round."""
    best = dict.fromkeys(algorithms, float("inf"))
    for _ in range(rounds):
        for n, algorithm in algorithms.items():
            start = time.perf_counter()
            algorithm.step()
            best[n] = min(best[n], time.perf_counter() - start)
    return best


@pytest.mark.parametrize("kappa", [1, 2])
def test_cost_per_agent_is_flat(benchmark, kappa):
    if benchmark.disabled:  # smoke test: the code path runs, nothing is timed
        make_algorithm(SIZES[1], kappa, pairs=4).step()
        benchmark(make_algorithm(SIZES[0], kappa, pairs=4).step)
        return
    algorithms = {n: make_algorithm(n, kappa) for n in SIZES}
    for algorithm in algorithms.values():
        algorithm.step()  # warm-up: neighbourhood caches, first-touch allocations
    benchmark.pedantic(algorithms[SIZES[-1]].step, rounds=2, iterations=1)
    best = best_times(algorithms, rounds=2)
    per_agent = {n: best[n] / n for n in SIZES}
    ratio = per_agent[4096] / per_agent[16]
    benchmark.extra_info.update(
        {
            "pairs": PAIRS,
            **{f"seconds_n{n}": best[n] for n in SIZES},
            **{f"us_per_agent_n{n}": 1e6 * per_agent[n] for n in SIZES},
            "ratio_4096_vs_16": ratio,
            "ratio_4096_vs_256": per_agent[4096] / per_agent[256],
        }
    )
    print(
        f"\nκ={kappa}, N={PAIRS}: "
        + ", ".join(
            f"n={n}: {1e3 * best[n]:.1f} ms ({1e6 * per_agent[n]:.0f} µs/agent)" for n in SIZES
        )
        + f"; per-agent ratio 4096/16 = {ratio:.2f}, 4096/256 = {per_agent[4096] / per_agent[256]:.2f}"
    )
    assert ratio <= MAX_RATIO


PAIRS_100K = 20
"""N of the 100,000-agent iteration: issue 19's target (≤ 4 s) is set at N = 20, the default
when it was written. The tuned default is now N = 200, M = 1: ten times the rollouts, about
15 GB at 100,000 agents."""


@pytest.mark.skipif(
    not os.environ.get("ZOBENCH_BENCH_100K"),
    reason="opt-in: set ZOBENCH_BENCH_100K=1 (seconds, GBs)",
)
def test_one_iteration_at_100k_agents(benchmark):
    """One iteration (N = 20, κ = 1, H = 20) at 100,000 agents: time and peak memory.

    The first iteration runs under tracemalloc (peak of the Python and numpy allocations of the
    iteration itself); the second is timed without it.
    """
    n = 100_000
    start = time.perf_counter()
    algorithm = make_algorithm(n, kappa=1, pairs=PAIRS_100K)
    build_seconds = time.perf_counter() - start
    tracemalloc.start()
    diagnostics = algorithm.step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ledger = algorithm.problem.ledger.snapshot()
    assert np.isfinite(diagnostics["grad_norm"])
    assert ledger["queries"] == PAIRS_100K * DZOPGConfig().evaluators * n
    start = time.perf_counter()
    benchmark.pedantic(algorithm.step, rounds=1, iterations=1)
    seconds = time.perf_counter() - start
    benchmark.extra_info.update(
        {"build_seconds": build_seconds, "step_seconds": seconds, "peak_bytes": peak}
    )
    print(
        f"\n100,000 agents: build {build_seconds:.2f} s, one iteration {seconds:.2f} s, "
        f"peak traced memory of an iteration {peak / 2**30:.2f} GiB; ledger after it {ledger}"
    )
