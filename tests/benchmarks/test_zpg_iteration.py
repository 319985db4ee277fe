"""One ZPG iteration on the default GridWorld, and where its time goes.

pytest-benchmark times ``ZPG.step`` with the default settings (N = 200 pairs of 15-step
episodes, M = 20 votes each). In the same test, 50 further iterations run with the problem's
rollout and panel entry points (the kernel's, behind the facade) wrapped in ``perf_counter`` timers, splitting the step into
rollouts (sampling 2N episodes), panel (returns, link, binomial votes) and the estimator (the
rest: direction, trimming and inverse link, the update). The split goes to
``benchmark.extra_info``; no speed is asserted (the machine is shared and noisy).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import zobench
from zobench.sim import kernel
from zobench.sim import problem as problem_module
from zobench.sim.problem import build_simulation
from zobench_plugins.algorithms.zpg import ZPG, ZPGConfig

PROFILED_STEPS = 50
WARM_UP_STEPS = 20


def _timed(timers: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            timers[name] += time.perf_counter() - start

    return wrapper


def test_zpg_iteration(benchmark, monkeypatch):
    env = zobench.make("environment", "gridworld")
    simulation = build_simulation(env, zobench.make("preference", "bradley-terry"), seed=0)
    problem = simulation.problem
    # N = 200 pairs × M = 20, the setting issue 19's 0.25 ms target was stated at (the tuned
    # default, 800 × 5, rolls out four times the episodes: 0.58 ms measured)
    algorithm = ZPG(ZPGConfig(pairs=200, evaluators=20), problem)
    # as the runner does before its clock starts: without it the first timed call loads the
    # compiled kernel, pytest-benchmark calibrates on that (~0.5 s) and times only 5 rounds
    kernel.warm_up()
    for _ in range(WARM_UP_STEPS):
        algorithm.step()
    benchmark(algorithm.step)

    timers: dict[str, float] = defaultdict(float)
    # the facade cannot be rearranged: time the kernel functions behind it instead
    monkeypatch.setattr(
        problem_module, "paired_rollout", _timed(timers, "rollouts", problem_module.paired_rollout)
    )
    simulation.panel.compare = _timed(timers, "panel", simulation.panel.compare)
    start = time.perf_counter()
    for _ in range(PROFILED_STEPS):
        algorithm.step()
    total = time.perf_counter() - start
    split = {
        "rollouts": timers["rollouts"],
        "panel": timers["panel"],
        "estimator": total - timers["rollouts"] - timers["panel"],
    }
    benchmark.extra_info["profiled_steps"] = PROFILED_STEPS
    benchmark.extra_info["step_ms"] = 1e3 * total / PROFILED_STEPS
    for name, seconds in split.items():
        benchmark.extra_info[f"{name}_ms"] = 1e3 * seconds / PROFILED_STEPS
        benchmark.extra_info[f"{name}_share"] = seconds / total
    print(
        f"\nZPG step {1e3 * total / PROFILED_STEPS:.2f} ms: "
        + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in split.items())
    )
    assert all(seconds >= 0 for seconds in split.values())
    assert problem.ledger.episodes > 0
