"""The predator–prey relaxation bound holds for every episode of every policy tried."""

from __future__ import annotations

import numpy as np
import pytest

import zobench
import zobench.sim
from zobench_plugins.environments import pp_bound

INSTANCES = [
    {},
    {"n_agents": 2, "size": 5, "n_prey": 2, "n_obstacles": 2, "horizon": 12},
    {"n_agents": 3, "size": 4, "n_prey": 1, "n_obstacles": 1, "slip": 0.3, "gamma": 1.0},
    {"n_agents": 4, "size": 6, "n_prey": 4, "shaping": 0.5, "horizon": 8, "layout_seed": 3},
]


def episode_returns(env, theta: np.ndarray, seed: int) -> np.ndarray:
    """Discounted return of each of 256 episodes, averaged over agents."""
    network = zobench.make("topology", "chain").build(env.n_agents, np.random.default_rng(0))
    env.connect(network)
    traj = zobench.sim.rollout(env, theta, batch=256, rng=np.random.default_rng(seed))
    rewards = traj.rewards.mean(axis=-1)  # (B, H): the kernel's episodes carry them
    return rewards @ env.gamma ** np.arange(env.horizon)


@pytest.mark.parametrize("settings", INSTANCES)
def test_no_episode_of_any_policy_exceeds_the_bound(settings: dict) -> None:
    env = zobench.make("environment", "predator-prey", **settings)
    bound = pp_bound.upper_bound(env)
    rng = np.random.default_rng(1)
    shape = (env.n_agents, env.n_states, env.n_actions)
    policies = [env.reference_policy(), np.zeros(shape), rng.normal(scale=3.0, size=shape)]
    best = -np.inf
    for k, theta in enumerate(policies):
        returns = episode_returns(env, theta, seed=k)
        assert returns.max() <= bound + 1e-9
        best = max(best, returns.mean())
    assert bound >= best


def test_the_bound_is_tight_for_one_predator_next_to_one_prey() -> None:
    # the predator starts next to the only prey: catching it on step 0 is optimal and reaches
    # the bound exactly (one capture at e = 0, active only on step 0, ℓ(0) = 0)
    env = zobench.make(
        "environment",
        "predator-prey",
        n_agents=1,
        size=3,
        n_prey=1,
        prey=((1, 1),),
        n_obstacles=0,
        starts=((0, 1),),
    )
    returns = episode_returns(env, env.reference_policy(), seed=0)
    assert returns.mean() == pytest.approx(pp_bound.upper_bound(env), abs=1e-6)


@pytest.mark.parametrize("settings", INSTANCES[1:])
def test_no_episode_of_a_learned_policy_exceeds_the_bound(settings: dict) -> None:
    # oracle-pg learns from true rewards (REINFORCE): 30 iterations move it well past uniform
    from zobench.sim.problem import build_problem
    from zobench_plugins.algorithms.references import OracleConfig, OraclePG

    env = zobench.make("environment", "predator-prey", **settings)
    network = zobench.make("topology", "chain").build(env.n_agents, np.random.default_rng(0))
    env.connect(network)
    problem = build_problem(
        env,
        zobench.make("preference", "bradley-terry"),
        network=network,
        seed=0,
        consumes=OraclePG.consumes,
    )
    learner = OraclePG(OracleConfig(episodes=32), problem)
    for _ in range(30):
        learner.step()
    learned = zobench.make("environment", "predator-prey", **settings)
    returns = episode_returns(learned, learner.theta, seed=5)
    bound = pp_bound.upper_bound(learned)
    assert returns.max() <= bound + 1e-9
    uniform = episode_returns(learned, np.zeros_like(learner.theta), seed=5).mean()
    assert returns.mean() > uniform  # it did learn something, so the check is not vacuous


def test_the_environment_offers_the_bound_unless_greedy_is_asked_for() -> None:
    env = zobench.make("environment", "predator-prey")
    assert env.exact_optimum() is None
    assert env.optimum_bounds() == (None, pp_bound.upper_bound(env))
    assert zobench.make("environment", "predator-prey", reference="greedy").optimum_bounds() is None
