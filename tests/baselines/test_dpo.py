"""Offline and online trajectory DPO: the analytic gradient, convergence where DPO is at home,
labelling and the ledger."""

from __future__ import annotations

import numpy as np
import pytest
from baseline_envs import Bandit, bandit_problem, line_problem

import zobench
from zobench.sim import kernel, policy
from zobench.sim.rollout import rollout
from zobench_plugins.algorithms import _optim, dpo, online_dpo


@pytest.fixture(scope="module")
def bradley_terry():
    return zobench.make("preference", "bradley-terry")


def _random_data(problem, rng, batch=40, soft=True):
    """Pairs of a random policy, random targets, scored under a random reference."""
    shape = problem.theta_shape
    behaviour = rng.normal(size=shape)
    env = problem._simulation.env  # the test reaches the core behind the facade
    first = rollout(env, behaviour, batch=batch, rng=rng)
    second = rollout(env, behaviour, batch=batch, rng=rng)
    targets = rng.random(batch) if soft else (rng.random(batch) < 0.5).astype(float)
    return _optim.PreferenceData.build(first, second, targets, rng.normal(size=shape))


@pytest.mark.parametrize("soft", [True, False])
@pytest.mark.parametrize("where", ["bandit", "line"])
def test_gradient_matches_finite_differences(where, soft, bradley_terry):
    """Central differences of the loss (step 1e-5) agree with the analytic gradient to 1e-6.

    The line walk has 2 agents, so the joint Σ_i of Δ and per-agent score rows are covered.
    """
    rng = np.random.default_rng(7)
    problem = (
        bandit_problem(0, bradley_terry, horizon=3)
        if where == "bandit"
        else line_problem(0, bradley_terry, n_agents=2)
    )
    data = _random_data(problem, rng, soft=soft)
    theta = rng.normal(size=problem.theta_shape)
    beta = 0.7
    _, grad = _optim.dpo_loss_and_gradient(theta, data, beta)
    numeric = np.zeros_like(theta)
    eps = 1e-5
    for index in np.ndindex(theta.shape):
        bump = np.zeros_like(theta)
        bump[index] = eps
        up, _ = _optim.dpo_loss_and_gradient(theta + bump, data, beta)
        down, _ = _optim.dpo_loss_and_gradient(theta - bump, data, beta)
        numeric[index] = (up - down) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, atol=1e-6)
    assert np.abs(grad).max() > 1e-3  # not trivially zero


def test_loss_is_dpo_for_hard_labels():
    """With a 0/1 label the loss is −log σ(β(Δ_w − Δ_l)), Δ = Σ_t Σ_i log π_θ − log π_ref."""
    rng = np.random.default_rng(3)
    problem = bandit_problem(0, zobench.make("preference", "bradley-terry"), horizon=2)
    data = _random_data(problem, rng, batch=5, soft=False)
    theta = rng.normal(size=problem.theta_shape)
    loss, _ = _optim.dpo_loss_and_gradient(theta, data, 0.5)
    _, n_states, n_actions = theta.shape
    states, actions = (data.cells // n_actions) % n_states, data.cells % n_actions
    delta = policy.log_prob(theta, states, actions).sum(axis=(2, 3)) - data.reference
    winner = np.where(data.targets == 1, delta[:, 1], delta[:, 0])
    loser = np.where(data.targets == 1, delta[:, 0], delta[:, 1])
    expected = -np.log(1 / (1 + np.exp(-0.5 * (winner - loser)))).mean()
    assert loss == pytest.approx(expected, rel=1e-12)


def test_majority_labels_break_ties_by_a_fair_coin():
    rng = np.random.default_rng(0)
    p_hat = np.array([0.0, 0.3, 0.7, 1.0] + [0.5] * 4000)
    labels = _optim.labels_from_votes(p_hat, "majority", rng)
    np.testing.assert_array_equal(labels[:4], [0, 0, 1, 1])
    assert labels[4:].mean() == pytest.approx(0.5, abs=0.03)  # 4000 coins: sd 0.008
    np.testing.assert_array_equal(_optim.labels_from_votes(p_hat, "votes", rng), p_hat)


def _preferred_probability(theta: np.ndarray, env: Bandit) -> np.ndarray:
    """π(preferred[s] | s) for every context s."""
    return policy.probabilities(theta)[0, np.arange(env.n_states), env.preferred]


@pytest.mark.parametrize("label", ["majority", "votes"])
def test_offline_dpo_converges_to_the_preferred_actions(label, bradley_terry):
    """Deterministic bandit, 3 contexts × 3 actions, H = 2: after 150 iterations on 2,000 pairs
    every context's preferred action has probability > 0.9 (measured > 0.999 for seed 0)."""
    problem = bandit_problem(0, bradley_terry)
    algorithm = dpo.DPO(dpo.DPOConfig(pairs=2000, label=label), problem)
    for _ in range(150):
        algorithm.step()
    assert _preferred_probability(algorithm.theta, problem._simulation.env).min() > 0.9


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"pairing": "perturbed"},
        {"reference": "previous"},
        {"optimizer": "sgd", "learning_rate": 50.0, "beta": 0.01},  # SGD's step scales with β
    ],
)
def test_online_dpo_converges_to_the_preferred_actions(params, bradley_terry):
    """Same bandit, 50 fresh pairs per iteration for 150 iterations: every preferred action has
    probability > 0.9 (measured ≥ 0.995 for seed 0 in every variant)."""
    problem = bandit_problem(0, bradley_terry)
    algorithm = online_dpo.OnlineDPO(online_dpo.OnlineDPOConfig(pairs=50, **params), problem)
    for _ in range(150):
        algorithm.step()
    assert _preferred_probability(algorithm.theta, problem._simulation.env).min() > 0.9


def test_offline_dpo_asks_once_and_never_reads_rewards(bradley_terry):
    """K pairs × M votes at the first iteration, 2K episodes, and nothing afterwards."""
    problem = bandit_problem(0, bradley_terry)
    algorithm = dpo.DPO(dpo.DPOConfig(pairs=30, evaluators=7), problem)
    assert problem.ledger.queries == 0  # nothing is spent before the first iteration
    for _ in range(3):
        algorithm.step()
    ledger = problem.ledger
    assert (ledger.queries, ledger.episodes, ledger.reward_obs) == (30 * 7, 60, 0)
    assert ledger.env_steps == 60 * problem.env.horizon


def test_online_dpo_asks_n_times_m_per_iteration(bradley_terry):
    problem = line_problem(0, bradley_terry, n_agents=3)  # centralized: global votes, one per pair
    algorithm = online_dpo.OnlineDPO(online_dpo.OnlineDPOConfig(pairs=11, evaluators=3), problem)
    for _ in range(4):
        algorithm.step()
    assert (problem.ledger.queries, problem.ledger.episodes) == (4 * 11 * 3, 4 * 22)
    assert problem.ledger.reward_obs == 0


def test_previous_reference_starts_every_iteration_at_zero_margin(bradley_terry):
    """With π_ref = the iterate, Δ = 0 for every pair at the iteration's first step: the loss is
    log 2 whatever the labels."""
    problem = bandit_problem(0, bradley_terry)
    algorithm = online_dpo.OnlineDPO(
        online_dpo.OnlineDPOConfig(reference="previous", minibatches=1), problem
    )
    algorithm.theta = np.random.default_rng(1).normal(size=problem.theta_shape)
    diagnostics = algorithm.step()
    assert diagnostics["dpo_loss"] == pytest.approx(np.log(2))


def test_default_budgets_match_zpg():
    """Offline DPO's dataset equals zpg's default spend over the default suite length; online
    DPO's per-iteration spend equals zpg's."""
    from zobench.bench.suite import SuiteSettings
    from zobench_plugins.algorithms import zpg

    per_iteration = zpg.ZPGConfig().pairs * zpg.ZPGConfig().evaluators
    offline, online = dpo.DPOConfig(), online_dpo.OnlineDPOConfig()
    assert offline.pairs * offline.evaluators == SuiteSettings().iterations * per_iteration
    assert online.pairs * online.evaluators == per_iteration


@pytest.mark.parametrize("kernel_name", ["numba", "numpy"])
@pytest.mark.parametrize("chunk", [4096, 7, 59])
@pytest.mark.parametrize("where", ["bandit", "line"])
def test_mini_batches_sum_like_the_stacked_states_and_actions(
    where, chunk, kernel_name, bradley_terry, monkeypatch
):
    """Stored as flat cells (pair-major), a mini-batch's loss and gradient are bit for bit those
    of the rollouts' states and actions stacked and gathered as they come (time-major); the
    reference log-likelihoods too, whether built in one chunk or several (59 of 60 pairs: the
    last pair joins the chunk before it), compiled or in numpy."""
    monkeypatch.setattr(_optim, "REFERENCE_CHUNK", chunk)
    monkeypatch.setenv(kernel.KERNEL_VARIABLE, kernel_name)
    rng = np.random.default_rng(5)
    problem = (
        bandit_problem(0, bradley_terry, horizon=20)
        if where == "bandit"
        else line_problem(0, bradley_terry, n_agents=3)
    )
    env = problem._simulation.env  # the test reaches the core behind the facade
    shape = problem.theta_shape
    first, second = (rollout(env, rng.normal(size=shape), batch=60, rng=rng) for _ in range(2))
    targets, theta_ref, theta = rng.random(60), rng.normal(size=shape), rng.normal(size=shape)
    data = _optim.PreferenceData.build(first, second, targets, theta_ref)
    states = np.stack([first.states[:, :-1], second.states[:, :-1]], axis=1)
    actions = np.stack([first.actions, second.actions], axis=1)
    reference = policy.log_prob(theta_ref, states, actions).sum(axis=(2, 3))
    assert np.array_equal(data.reference, reference)
    index = rng.choice(60, size=45, replace=False)
    s, a = states[index], actions[index]
    log_ratio = policy.log_prob(theta, s, a).sum(axis=(2, 3)) - reference[index]
    h = 0.3 * (log_ratio[:, 1] - log_ratio[:, 0])
    slope = 0.3 * _optim.logistic_slope(h, targets[index]) / 45
    weights = np.stack([-slope, slope], axis=1)[:, :, None, None]
    loss, grad = _optim.dpo_loss_and_gradient(theta, data, 0.3, index)
    assert loss == float(_optim.logistic_loss(h, targets[index]).mean())
    assert np.array_equal(grad, policy.score(theta, s, a, weights))
