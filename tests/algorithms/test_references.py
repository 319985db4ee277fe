"""The reference algorithms: oracle-pg (exact and REINFORCE) and the uniform floor."""

from __future__ import annotations

import numpy as np
import pytest
from zo_helpers import SMALL_GRID, cosine

import zobench
from zobench.sim.gradients import exact_gradient
from zobench.sim.problem import build_problem
from zobench_plugins.algorithms import references


def reward_problem(seed: int = 0):
    env = zobench.make("environment", "gridworld", **SMALL_GRID)
    preference = zobench.make("preference", "bradley-terry")
    return build_problem(env, preference, seed=seed, consumes=references.OraclePG.consumes)


def test_reinforce_estimates_the_exact_gradient():
    """200 000 episodes on the small grid: cosine > 0.99 and length within 5 % (measured 0.9999, 0.996)."""
    problem = reward_problem()
    theta = np.random.default_rng(12345).normal(scale=0.5, size=problem.theta_shape)
    env = zobench.make("environment", "gridworld", **SMALL_GRID)
    exact = exact_gradient(env.tables(), theta, env.horizon, env.gamma)
    estimate = references.reinforce_gradient(problem, theta, 200_000)
    assert cosine(estimate, exact) > 0.99
    assert np.linalg.norm(estimate) / np.linalg.norm(exact) == pytest.approx(1.0, abs=0.05)
    assert problem.ledger.reward_obs == 200_000 * env.horizon
    assert problem.ledger.episodes == 200_000


def test_exact_oracle_uses_the_model_and_says_so():
    problem = reward_problem()
    algorithm = references.OraclePG(references.OracleConfig(), problem)
    diagnostics = algorithm.step()
    assert diagnostics["exact_model"] == 1.0
    assert problem.ledger.episodes == 0  # no episodes: it read the tables
    tables = zobench.make("environment", "gridworld", **SMALL_GRID).tables()
    assert problem.ledger.reward_obs == tables.rewards.size
    assert problem.ledger.model_reads == 1
    assert "model" in references.OraclePG.summary
    assert references.OraclePG.uses_rewards is True


def test_reinforce_oracle_reads_rewards_through_the_problem():
    problem = reward_problem()
    config = references.OracleConfig(exact=False, episodes=10)
    diagnostics = references.OraclePG(config, problem).step()
    assert diagnostics["exact_model"] == 0.0
    assert problem.ledger.episodes == 10
    assert problem.ledger.reward_obs == 10 * problem.env.horizon


@pytest.mark.parametrize("exact", [True, False])
def test_oracle_climbs_near_the_optimum(exact):
    """Default step on the default GridWorld: ≥ 0.95 of the way from uniform to optimal in 100 steps."""
    frame = zobench.run_one(
        algorithm="oracle-pg", algorithm_params={"exact": exact}, iterations=100, eval_every=100
    )
    assert frame["score_normalized"][-1] >= 0.95


def test_uniform_never_moves_and_spends_nothing():
    problem = reward_problem()
    algorithm = references.Uniform(references.UniformConfig(), problem)
    for _ in range(3):
        assert algorithm.step() == {}
    assert np.all(algorithm.theta == 0)
    assert problem.ledger.snapshot() == dict.fromkeys(problem.ledger.snapshot(), 0)
