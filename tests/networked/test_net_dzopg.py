"""DZOPG (Algorithm 1): truncated returns, its local estimates against exact gradients, its
bookkeeping, and learning on the networked environments."""

from __future__ import annotations

import numpy as np
import pytest

import zobench
from zobench import api
from zobench.sim.evaluate import exact_value
from zobench.sim.gradients import exact_gradient
from zobench.sim.problem import Problem, build_problem
from zobench.sim.rollout import rollout
from zobench_plugins.algorithms import dzopg


def make_problem(env: api.Environment, network=None, seed: int = 0) -> Problem:
    preference = zobench.make("preference", "bradley-terry")
    return build_problem(env, preference, network=network or env.network, seed=seed)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float((a * b).sum() / (np.linalg.norm(a) * np.linalg.norm(b)))


# ---------------------------------------------------------------------------------------------
# Truncated returns (eq. 7)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "topology"),
    [
        ("net-gridworld", "chain"),
        ("net-gridworld", "star"),
        ("predator-prey", "ring"),
        ("predator-prey", "grid"),
        ("predator-prey", "erdos-renyi"),
    ],
)
def test_truncated_returns_equal_the_full_return_at_full_reach(connected_env, name, topology):
    env = connected_env(name, topology=topology)
    problem = make_problem(env)
    theta = np.random.default_rng(3).normal(size=problem.theta_shape)
    traj = rollout(env, theta, batch=16, rng=np.random.default_rng(4))
    diameter = env.network.diameter()
    panel = problem._simulation.panel  # the core's panel, behind the facade
    full = panel.returns(traj.rewards)  # (1/n) Σ_i Σ_{t<H} γ^t r_i: the objective's return
    truncated = panel.returns(traj.rewards, kappa=diameter, horizon=env.horizon)
    np.testing.assert_allclose(truncated, np.repeat(full[:, None], env.n_agents, 1))
    short = panel.returns(traj.rewards, kappa=diameter - 1, horizon=env.horizon - 1)
    assert not np.allclose(short, truncated)


def test_the_full_return_is_the_objective(connected_env):
    """The panel's full return averages to the exact J (tables), within 5 standard errors."""
    env = connected_env("net-gridworld", n_agents=2, size=3, horizon=6, sigma_max=0.5)
    problem = make_problem(env)
    theta = np.random.default_rng(0).normal(size=problem.theta_shape)
    episodes = rollout(env, theta, batch=20_000, rng=np.random.default_rng(1))
    returns = problem._simulation.panel.returns(episodes.rewards)  # the core's panel
    exact = exact_value(env.tables(), theta, env.horizon, env.gamma)
    assert abs(returns.mean() - exact) < 5 * returns.std() / np.sqrt(len(returns))


# ---------------------------------------------------------------------------------------------
# Local estimates against the exact gradients of the truncated objectives
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kappa", [0, 1])
def test_each_agent_estimate_aligns_with_its_truncated_gradient(connected_env, kappa):
    """3 agents on a chain, 2×2 grid: mean of 1,500 estimates vs the exact ∇_{θ_i} J_i^{κ,H}.

    J_i^{κ,H}(θ) = E[(1/n) Σ_{j∈N_i^κ} Σ_{t<H} γ^t r_j] is computed from per-agent reward
    tables. Measured cosines 0.85–0.94 (seeded); a random direction in the 20 dimensions of
    θ_i has cosine ≈ 0 ± 0.22, a sign error −1, so 0.7 separates them.
    """
    env = connected_env(
        "net-gridworld", n_agents=3, size=2, goal=(1, 1), horizon=4, sigma_max=0.5, sigma_min=0.0
    )
    problem = make_problem(env)
    tables, agent_rewards = env.tables(), env.agent_reward_tables()
    theta = np.random.default_rng(1).normal(scale=0.5, size=problem.theta_shape)
    config = dzopg.DZOPGConfig(kappa=kappa, horizon=env.horizon)
    mean = np.mean([dzopg.estimate_gradient(problem, theta, config)[0] for _ in range(1500)], 0)
    indptr, indices = env.network.neighbourhood(kappa)
    for i in range(env.n_agents):
        members = indices[indptr[i] : indptr[i + 1]]
        local = api.TransitionTables(
            tables.transitions, agent_rewards[members].sum(0) / env.n_agents, tables.initial
        )
        target = exact_gradient(local, theta, env.horizon, env.gamma)[i]
        assert cosine(mean[i], target) > 0.7, (i, cosine(mean[i], target))


def test_an_agent_moves_only_along_its_own_perturbation(connected_env):
    env = connected_env("net-gridworld")
    problem = make_problem(env)
    u = np.random.default_rng(0).standard_normal(problem.theta_shape)
    grad, _ = dzopg.estimate_gradient(
        problem, np.zeros(u.shape), dzopg.DZOPGConfig(), perturbation=u
    )
    for i in range(env.n_agents):  # ĝ_i = c_i u_i (eq. 11): no other agent's u enters
        c = (grad[i] * u[i]).sum() / (u[i] ** 2).sum()
        np.testing.assert_allclose(grad[i], c * u[i], atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Bookkeeping
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kappa", "horizon", "rolled"), [(2, 20, 20), (1, 5, 5), (1, 50, 20)])
def test_ledger_counts_rollouts_votes_and_messages(connected_env, kappa, horizon, rolled):
    env = connected_env("net-gridworld", n_agents=6, topology="ring")
    problem = make_problem(env)
    config = dzopg.DZOPGConfig(kappa=kappa, horizon=horizon, pairs=7, evaluators=3)
    algorithm = zobench.make(
        "algorithm", "dzopg", problem=problem, kappa=kappa, horizon=horizon, pairs=7, evaluators=3
    )
    algorithm.step()
    ledger = problem.ledger
    assert ledger.episodes == 2 * 7
    assert ledger.env_steps == 2 * 7 * rolled  # H-step rollouts, H capped at the episode length
    assert ledger.queries == 7 * 3 * 6  # M votes per pair per agent
    others = 2 * kappa  # on a ring of 6, |N_i^κ| − 1 = 2κ for κ ≤ 2
    assert ledger.messages == 7 * 6 * others
    assert ledger.values_moved == ledger.messages * 2 * 2 * rolled
    assert dzopg.truncation_horizon(problem, config) == rolled
    assert ledger.reward_obs == 0


def test_step_ascends_along_the_estimate(connected_env):
    """step() is θ ← θ + α ĝ with ĝ from estimate_gradient (same seed, same draws)."""
    config = dzopg.DZOPGConfig(step_size=0.3)
    problems = [make_problem(connected_env("net-gridworld"), seed=5) for _ in range(2)]
    algorithm = dzopg.DZOPG(config, problems[0])
    algorithm.step()
    grad, _ = dzopg.estimate_gradient(problems[1], np.zeros(problems[1].theta_shape), config)
    np.testing.assert_allclose(algorithm.theta, 0.3 * grad)


def test_bound_trimming_uses_the_truncated_bound(connected_env):
    env = connected_env("net-gridworld", topology="ring")
    problem = make_problem(env)
    config = dzopg.DZOPGConfig(kappa=1, trim="bound")
    weights = env.gamma ** np.arange(20)
    expected = env.reward_span * 3 / 4 * weights.sum()  # |N_i^1| = 3 on a 4-ring
    assert dzopg.truncated_return_bound(problem, config) == pytest.approx(expected)
    grad, info = dzopg.estimate_gradient(problem, np.zeros(problem.theta_shape), config)
    assert np.isfinite(grad).all()
    assert abs(info["mean_delta"]) <= expected


# ---------------------------------------------------------------------------------------------
# Learning (statistical, fixed seeds)
# ---------------------------------------------------------------------------------------------


def final_score(environment: str, seed: int, iterations: int, **algorithm_params) -> float:
    frame = zobench.run_one(
        algorithm="dzopg",
        environment=environment,
        # normalized by the greedy policy, as the numbers below were measured (and no 25 s DP)
        environment_params={"reference": "greedy"},
        algorithm_params=algorithm_params,
        seed=seed,
        iterations=iterations,
        eval_every=iterations,
        eval_episodes=500,
    )
    assert frame["score_normalized"][0] == pytest.approx(0.0)  # θ₀ = 0 is the uniform policy
    return float(frame["score_normalized"][-1])


@pytest.mark.slow
def test_dzopg_learns_on_the_four_agent_chain():
    """Default net-gridworld and dzopg, 500 iterations: 0 is uniform, 1 the greedy reference.

    Measured over seeds 0–3: 0.66, 0.61, 0.49, 0.72. Asserted: every seed above 0.3 and the
    mean above 0.45, far above the uniform policy's 0.
    """
    scores = [final_score("net-gridworld", seed, 500) for seed in (0, 1)]
    assert min(scores) > 0.3, scores
    assert np.mean(scores) > 0.45, scores


@pytest.mark.slow
def test_larger_kappa_does_not_hurt_on_predator_prey():
    """Predator-prey couples agents strongly (a capture is shared and removes the prey for all):
    the paper's κ ablation setting (Fig. 8). After 400 iterations κ = 2 scores at least κ = 0's
    score minus 0.1 (normalized; measured over seeds 0–3: κ=0 1.04 1.02 0.95 1.03, κ=2 1.04
    1.04 1.04 1.03; above 1 because the greedy reference cannot see which prey are gone).
    """
    by_kappa = {
        k: np.mean([final_score("predator-prey", s, 400, kappa=k) for s in (0, 1)]) for k in (0, 2)
    }
    assert by_kappa[2] >= by_kappa[0] - 0.1, by_kappa
    assert by_kappa[0] > 0.5  # both learn


@pytest.mark.usefixtures("clean_plugin_env")
def test_neighbourhood_normalization_keeps_the_value_gaps_from_shrinking_with_n() -> None:
    """With eq. (7)'s 1/n the mean |σ⁻¹(p̂)| falls as the ring grows; dividing by |N_i^κ|
    keeps it (fixed seed, 16 vs 64 agents, one iteration each)."""

    def mean_gap(n: int, normalize: str) -> float:
        frame = zobench.run_one(
            algorithm="dzopg",
            algorithm_params={"normalize": normalize, "pairs": 40, "evaluators": 10},
            environment="net-gridworld",
            environment_params={"n_agents": n, "size": None},
            topology="ring",
            seed=0,
            iterations=1,
            eval_every=1,
            eval_episodes=10,
        )
        return abs(frame["diag_mean_delta"][-1])

    eq7 = mean_gap(64, "n") / mean_gap(16, "n")
    hood = mean_gap(64, "neighbourhood") / mean_gap(16, "neighbourhood")
    assert hood > 2 * eq7, (eq7, hood)
