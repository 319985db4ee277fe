"""The cost of the capability layer on one ZPG iteration: through the facade vs the bare kernel.

Both sides run the same iteration from the same seed: through the problem's facade (rollouts
published as reward-less trajectories, rewards kept in the core's table and looked up by the
preference channel, charges on the core ledger) and through the kernel directly (the episodes'
rewards handed straight to the core panel). The curves must agree to the bit; the ratio of
their best times (interleaved, so both see the same load) goes to ``benchmark.extra_info``. No
speed is asserted: the machine is shared and noisy.
"""

from __future__ import annotations

import numpy as np
from bench_timing import interleaved_best

import zobench
from zobench.sim.problem import build_simulation
from zobench.sim.rollout import paired_rollout
from zobench_plugins.algorithms import _preference_estimation as estimation
from zobench_plugins.algorithms import zpg

ROUNDS = 40


def _direct_step(simulation, theta: np.ndarray, config: zpg.ZPGConfig) -> np.ndarray:
    """One ZPG iteration on the kernel alone: no facade, no reward table, no channel checks."""
    direction = estimation.sphere_direction(simulation.rng, theta.shape)
    first, second = paired_rollout(
        simulation.env,
        theta,
        theta + config.mu * direction,
        batch=config.pairs,
        rng=simulation.episode_rng,
    )
    for episodes in (first, second):
        simulation.ledger.charge(
            episodes=episodes.batch, env_steps=episodes.batch * episodes.horizon
        )
    p_hat = simulation.panel.compare(first.rewards, second.rewards, config.evaluators)
    deltas = estimation.inverse_link(simulation.problem, p_hat, config)
    grad = (simulation.problem.dimension / config.mu) * float(deltas.mean()) * direction
    return theta + config.step_size * grad


def _simulation():
    env = zobench.make("environment", "gridworld")
    return build_simulation(env, zobench.make("preference", "bradley-terry"), seed=0)


def test_capability_layer_cost_on_a_zpg_iteration(benchmark):
    config = zpg.ZPGConfig()
    facade, direct = _simulation(), _simulation()
    algorithm = zpg.ZPG(config, facade.problem)
    state = {"theta": direct.problem.initial_theta()}

    def through_kernel() -> None:
        state["theta"] = _direct_step(direct, state["theta"], config)

    benchmark(algorithm.step)
    facade_s, kernel_s = interleaved_best(algorithm.step, through_kernel, ROUNDS)
    benchmark.extra_info["facade_ms"] = 1e3 * facade_s
    benchmark.extra_info["kernel_ms"] = 1e3 * kernel_s
    benchmark.extra_info["overhead"] = facade_s / kernel_s - 1
    print(f"\nZPG step: facade {1e3 * facade_s:.3f} ms, kernel {1e3 * kernel_s:.3f} ms")

    # same seed, same iterations: the facade changes no number and spends what the kernel did
    fresh, bare = _simulation(), _simulation()
    honest = zpg.ZPG(config, fresh.problem)
    theta = bare.problem.initial_theta()
    for _ in range(3):
        honest.step()
        theta = _direct_step(bare, theta, config)
    np.testing.assert_array_equal(honest.theta, theta)
    assert fresh.ledger.snapshot() == bare.ledger.snapshot()
