"""Vectorized rollouts: shapes, common random numbers, agreement with the transition tables."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import zobench.sim
from zobench.sim import policy
from zobench.sim.rollout import Noise, Trajectories, paired_rollout, rollout, rollout_with_noise


def test_shapes_and_ranges(gridworld):
    traj = rollout(gridworld, np.zeros((1, 25, 4)), batch=10, rng=np.random.default_rng(0))
    assert traj.states.shape == (10, 16, 1)
    assert traj.actions.shape == traj.rewards.shape == (10, 15, 1)
    assert (traj.batch, traj.horizon) == (10, 15)
    assert (traj.states[:, 0] == gridworld.start).all()
    assert traj.actions.min() >= 0
    assert traj.actions.max() < 4


def test_shorter_horizon(gridworld):
    traj = rollout(
        gridworld, np.zeros((1, 25, 4)), batch=3, rng=np.random.default_rng(0), horizon=4
    )
    assert traj.horizon == 4


def test_package_exports_the_function_and_the_module_still_imports(gridworld):
    assert callable(zobench.sim.rollout)
    module = importlib.import_module("zobench.sim.rollout")
    assert module.Trajectories is Trajectories
    traj = zobench.sim.rollout(
        gridworld, np.zeros((1, 25, 4)), batch=2, rng=np.random.default_rng(0)
    )
    assert isinstance(traj, module.Episodes)  # the kernel's record; problems publish Trajectories


def test_common_noise_pairs_are_identical_for_equal_parameters(coupled):
    theta = np.random.default_rng(1).normal(size=(2, 3, 2))
    a, b = paired_rollout(
        coupled, theta, theta.copy(), batch=50, rng=np.random.default_rng(2), common_noise=True
    )
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.actions, b.actions)
    np.testing.assert_array_equal(a.rewards, b.rewards)


def test_common_noise_shares_initial_states_and_correlates(coupled):
    rng = np.random.default_rng(3)
    theta = rng.normal(size=(2, 3, 2))
    other = theta + 0.05 * rng.normal(size=theta.shape)
    a, b = paired_rollout(
        coupled, theta, other, batch=4000, rng=np.random.default_rng(4), common_noise=True
    )
    np.testing.assert_array_equal(a.states[:, 0], b.states[:, 0])
    corr = np.corrcoef(a.rewards.sum((1, 2)), b.rewards.sum((1, 2)))[0, 1]
    assert corr > 0.8


def test_independent_pairs_are_independent(coupled):
    theta = np.random.default_rng(5).normal(size=(2, 3, 2))
    rng = np.random.default_rng(6)
    a, b = paired_rollout(coupled, theta, theta, batch=4000, rng=rng, common_noise=False)
    assert not np.array_equal(a.states, b.states)
    # independent returns: |corr| < 5/sqrt(B) ≈ 0.08 (fixed seed)
    corr = np.corrcoef(a.rewards.sum((1, 2)), b.rewards.sum((1, 2)))[0, 1]
    assert abs(corr) < 0.08
    # the first batch is exactly what rollout() draws from the same generator state
    alone = rollout(coupled, theta, batch=4000, rng=np.random.default_rng(6))
    np.testing.assert_array_equal(alone.states, a.states)


def test_rollout_is_a_function_of_its_noise(coupled):
    theta = np.random.default_rng(7).normal(size=(2, 3, 2))
    noise = Noise.for_env(coupled, np.random.default_rng(8), batch=20)
    first = rollout_with_noise(coupled, theta, noise)
    second = rollout_with_noise(coupled, theta, noise)
    np.testing.assert_array_equal(first.states, second.states)
    assert noise.reset.shape == (20, 2, 1)
    assert noise.step.shape == (20, 6, 2, 1)
    assert noise.actions.shape == (20, 6, 2)


@pytest.mark.parametrize(
    "batch", [3, 5000]
)  # pre-drawn noise below the threshold, on the fly above
def test_rollout_draws_exactly_the_noise_of_noise_for_env(coupled, batch):
    theta = np.random.default_rng(13).normal(size=(2, 3, 2))
    direct = rollout(coupled, theta, batch=batch, rng=np.random.default_rng(14))
    noise = Noise.for_env(coupled, np.random.default_rng(14), batch=batch)
    via_noise = rollout_with_noise(coupled, theta, noise)
    np.testing.assert_array_equal(direct.states, via_noise.states)
    np.testing.assert_array_equal(direct.actions, via_noise.actions)
    np.testing.assert_array_equal(direct.rewards, via_noise.rewards)


def _joint(states: np.ndarray, radix: int) -> np.ndarray:
    return (states * radix ** np.arange(states.shape[-1])).sum(-1)


def _check_against_tables(env, theta, batch, seed):
    """Empirical joint transition and action frequencies vs the tables, within 5 standard errors."""
    tables = env.tables()
    traj = rollout(env, theta, batch=batch, rng=np.random.default_rng(seed))
    S, A = env.n_states**env.n_agents, env.n_actions**env.n_agents
    s = _joint(traj.states[:, :-1], env.n_states).ravel()
    a = _joint(traj.actions, env.n_actions).ravel()
    t = _joint(traj.states[:, 1:], env.n_states).ravel()
    counts = np.bincount((s * A + a) * S + t, minlength=S * A * S).reshape(S, A, S)
    visits = counts.sum(-1)
    seen = visits >= 200
    assert seen.sum() >= 4
    freq = counts[seen] / visits[seen][:, None]
    expected = tables.transitions[seen]
    tol = 5 * np.sqrt(expected * (1 - expected) / visits[seen][:, None]) + 1e-9
    assert (np.abs(freq - expected) <= tol).all()
    # the actions follow the product policy
    from zobench.sim.evaluate import joint_policy

    pi = joint_policy(theta)
    state_visits = visits.sum(1)
    ok = state_visits >= 400
    action_freq = visits[ok] / state_visits[ok][:, None]
    tol = 5 * np.sqrt(pi[ok] * (1 - pi[ok]) / state_visits[ok][:, None]) + 1e-9
    assert (np.abs(action_freq - pi[ok]) <= tol).all()
    # initial states follow ρ
    first = np.bincount(_joint(traj.states[:, 0], env.n_states), minlength=S) / batch
    assert (
        np.abs(first - tables.initial)
        <= 5 * np.sqrt(tables.initial * (1 - tables.initial) / batch) + 1e-9
    ).all()
    # expected rewards: mean of (1/n) Σ_i r_i per (s, a) against R[s, a]
    r = traj.rewards.mean(-1).ravel()
    sums = np.bincount(s * A + a, weights=r, minlength=S * A).reshape(S, A)
    mean_r = sums[seen] / visits[seen]
    np.testing.assert_allclose(mean_r, tables.rewards[seen], atol=0.1)


def test_gridworld_rollouts_agree_with_tables(gridworld):
    theta = np.random.default_rng(9).normal(size=(1, 25, 4))
    _check_against_tables(gridworld, theta, batch=20_000, seed=10)


def test_coupled_rollouts_agree_with_tables(coupled):
    theta = np.random.default_rng(11).normal(size=(2, 3, 2))
    _check_against_tables(coupled, theta, batch=20_000, seed=12)


def test_wrong_theta_shape_is_refused(gridworld):
    with pytest.raises(ValueError, match="shape"):
        rollout(gridworld, np.zeros((1, 24, 4)), batch=2, rng=np.random.default_rng(0))


def test_score_of_rollout_has_theta_shape(gridworld):
    theta = np.zeros((1, 25, 4))
    traj = rollout(gridworld, theta, batch=5, rng=np.random.default_rng(0))
    g = policy.score(theta, traj.states[:, :-1], traj.actions, traj.rewards)
    assert g.shape == theta.shape
