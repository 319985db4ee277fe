"""The exact dynamic program of the networked GridWorld against brute force over joint tables."""

from __future__ import annotations

import numpy as np
import pytest

import zobench
from zobench.sim import evaluate
from zobench_plugins.environments import net_exact

CASES = [
    # n agents, grid side, extra settings: noise rules, arrival reward, collision penalty
    (2, 5, {}),
    (2, 4, {"noise_rule": "any", "arrival_reward": 10.0, "collision_penalty": 2.0}),
    (2, 3, {"collision_penalty": 2.0, "sigma_max": 0.4, "sigma_min": 0.0, "gamma": 1.0}),
    (3, 2, {"goal": (1, 1), "collision_penalty": 2.0, "sigma_max": 0.3, "horizon": 6}),
    (1, 5, {"horizon": 9}),
]


def connected(n: int, size: int, settings: dict):
    env = zobench.make("environment", "net-gridworld", n_agents=n, size=size, **settings)
    topology = zobench.make("topology", "chain" if n > 1 else "isolated")
    env.connect(topology.build(n, np.random.default_rng(0)))
    return env


@pytest.mark.parametrize(("n", "size", "settings"), CASES)
def test_optimum_equals_dynamic_programming_over_the_joint_tables(n, size, settings) -> None:
    env = connected(n, size, settings)
    tables = env.tables()
    assert tables is not None
    expected = evaluate.optimal_value(tables, env.horizon, env.gamma)
    assert net_exact.optimal_value(env) == pytest.approx(expected, abs=1e-9, rel=1e-12)


@pytest.mark.parametrize(("n", "size", "settings"), CASES)
def test_policy_value_equals_the_joint_tables(n, size, settings) -> None:
    env = connected(n, size, settings)
    tables = env.tables()
    rng = np.random.default_rng(n * 10 + size)
    for theta in (
        np.zeros((n, env.n_states, env.n_actions)),
        rng.normal(scale=2.0, size=(n, env.n_states, env.n_actions)),
        env.reference_policy(),
    ):
        expected = evaluate.exact_value(tables, theta, env.horizon, env.gamma)
        assert net_exact.policy_value(env, theta) == pytest.approx(expected, abs=1e-9, rel=1e-12)


def test_no_policy_beats_the_optimum() -> None:
    env = connected(2, 5, {"collision_penalty": 2.0})
    best = net_exact.optimal_value(env)
    rng = np.random.default_rng(7)
    for _ in range(5):
        theta = rng.normal(scale=5.0, size=(2, env.n_states, env.n_actions))
        assert net_exact.policy_value(env, theta) <= best + 1e-12


def test_the_limit_refuses_what_would_take_too_long() -> None:
    # 4 agents on 5x5 at H = 20 fit (about 25 s); a fifth agent multiplies the work by 120
    assert net_exact.exact_cost(4, 25, 5, 20) < net_exact.EXACT_LIMIT
    env = connected(5, 5, {})
    with pytest.raises(ValueError, match="exact limit"):
        net_exact.optimal_value(env)
    assert env.exact_optimum() is None  # the environment then offers no exact optimum


def test_the_exact_optimum_is_offered_within_the_limit_unless_greedy_is_asked_for() -> None:
    env = connected(3, 3, {"collision_penalty": 2.0})
    assert env.tables() is None  # too large for joint tables: the per-agent program serves
    assert env.exact_optimum() == net_exact.optimal_value(env)
    assert connected(3, 3, {"reference": "greedy"}).exact_optimum() is None
