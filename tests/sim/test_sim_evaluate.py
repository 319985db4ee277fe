"""Exact and Monte Carlo evaluation of J(θ), dynamic programming, references."""

from __future__ import annotations

import numpy as np
import pytest

from zobench.sim import evaluate as ev
from zobench.sim import policy


def test_joint_policy_is_the_product_in_mixed_radix():
    theta = np.random.default_rng(0).normal(size=(3, 2, 3))
    probs = policy.probabilities(theta)
    joint = ev.joint_policy(theta)
    assert joint.shape == (8, 27)
    np.testing.assert_allclose(joint.sum(1), 1.0)
    s_local, a_local = (1, 0, 1), (2, 0, 1)
    s = sum(si * 2**i for i, si in enumerate(s_local))
    a = sum(ai * 3**i for i, ai in enumerate(a_local))
    expected = np.prod([probs[i, s_local[i], a_local[i]] for i in range(3)])
    assert joint[s, a] == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(4))
def test_exact_value_agrees_with_monte_carlo_gridworld(gridworld, seed):
    # |MC − exact| < 4 standard errors (fixed seeds; fails w.p. ~6e-5 per case if correct)
    theta = np.random.default_rng(seed).normal(scale=2.0, size=(1, 25, 4))
    theta[0, :, [1, 3]] += seed * 0.5  # increasingly goal-directed policies
    exact = ev.exact_value(gridworld.tables(), theta, gridworld.horizon, gridworld.gamma)
    mean, se = ev.monte_carlo_value(gridworld, theta, episodes=20_000, seed=100 + seed)
    assert se > 0
    assert abs(mean - exact) < 4 * se


@pytest.mark.parametrize("seed", range(3))
def test_exact_value_agrees_with_monte_carlo_coupled(coupled, seed):
    theta = np.random.default_rng(seed).normal(scale=1.5, size=(2, 3, 2))
    exact = ev.exact_value(coupled.tables(), theta, coupled.horizon, coupled.gamma)
    mean, se = ev.monte_carlo_value(coupled, theta, episodes=20_000, seed=200 + seed)
    assert abs(mean - exact) < 4 * se


def test_optimum_beats_random_policies(gridworld, coupled):
    for env in (gridworld, coupled):
        tables = env.tables()
        best = ev.optimal_value(tables, env.horizon, env.gamma)
        rng = np.random.default_rng(0)
        values = [
            ev.exact_value(
                tables,
                rng.normal(scale=s, size=(env.n_agents, env.n_states, env.n_actions)),
                env.horizon,
                env.gamma,
            )
            for s in np.linspace(0.1, 10, 50)
        ]
        assert best >= max(values) - 1e-12
        assert best > ev.uniform_value(env, tables=tables)


def test_optimal_gridworld_value_is_plausible(gridworld):
    # 8 moves to the goal, 15 steps: at most 7 rewarded steps, and slips cost a little
    best = ev.optimal_value(gridworld.tables(), gridworld.horizon, gridworld.gamma)
    assert 6.0 < best < 7.0


def test_discounted_value_is_the_long_horizon_limit(coupled):
    theta = np.random.default_rng(1).normal(size=(2, 3, 2))
    tables = coupled.tables()
    np.testing.assert_allclose(
        ev.discounted_value(tables, theta, 0.9), ev.exact_value(tables, theta, 400, 0.9)
    )
    with pytest.raises(ValueError, match="gamma < 1"):
        ev.discounted_value(tables, theta, 1.0)


def test_monte_carlo_is_reproducible_and_common(gridworld):
    theta = np.zeros((1, 25, 4))
    assert ev.monte_carlo_value(gridworld, theta, episodes=500, seed=3) == ev.monte_carlo_value(
        gridworld, theta, episodes=500, seed=3
    )


def test_evaluate_and_references(gridworld):
    theta = np.zeros((1, 25, 4))
    tables = gridworld.tables()
    exact = ev.evaluate(gridworld, theta, tables=tables, episodes=10, seed=0)
    assert exact.exact
    assert exact.standard_error == 0.0
    mc = ev.evaluate(gridworld, theta, tables=None, episodes=2000, seed=0)
    assert not mc.exact
    assert abs(mc.value - exact.value) < 4 * mc.standard_error
    refs = ev.references(gridworld, episodes=10, seed=0)
    assert refs.optimal_exact
    assert refs.uniform == pytest.approx(exact.value)
    assert refs.normalise(refs.optimal) == pytest.approx(1.0)
    assert refs.normalise(refs.uniform) == pytest.approx(0.0)


def test_references_without_tables(gridworld, monkeypatch):
    monkeypatch.setattr(gridworld, "tables", lambda: None)
    refs = ev.references(gridworld, episodes=200, seed=0)
    assert refs.optimal is None
    assert refs.normalise(1.0) is None
    greedy = np.zeros((1, 25, 4))
    greedy[..., 1] = greedy[..., 3] = 5.0
    monkeypatch.setattr(gridworld, "reference_policy", lambda: greedy)
    refs = ev.references(gridworld, episodes=200, seed=0)
    assert not refs.optimal_exact
    assert refs.optimal > refs.uniform
    assert refs.kind == "approximate"


def test_references_take_the_strongest_the_environment_offers(gridworld, monkeypatch):
    true_optimum = ev.optimal_value(gridworld.tables(), gridworld.horizon, gridworld.gamma)
    monkeypatch.setattr(gridworld, "tables", lambda: None)
    greedy = np.zeros((1, 25, 4))
    greedy[..., 1] = greedy[..., 3] = 5.0
    monkeypatch.setattr(gridworld, "reference_policy", lambda: greedy)
    asked: list[str] = []

    def memo(what, compute):
        asked.append(what)
        return compute()

    # a certified bracket whose lower end is left to the reference policy's Monte Carlo value
    monkeypatch.setattr(gridworld, "optimum_bounds", lambda: (None, true_optimum + 1.0))
    refs = ev.references(gridworld, episodes=200, seed=0, memo=memo)
    assert refs.kind == "certified bound"
    assert refs.optimal == true_optimum + 1.0
    greedy_value = ev.monte_carlo_value(gridworld, greedy, episodes=200, seed=0)[0]
    assert refs.lower == greedy_value
    assert refs.normalise(refs.optimal) == pytest.approx(1.0)
    assert asked == ["exact optimum", "optimum bounds"]
    # an exact optimum wins over the bracket, and the bracket is then not asked for
    monkeypatch.setattr(gridworld, "exact_optimum", lambda: true_optimum)
    asked.clear()
    refs = ev.references(gridworld, episodes=200, seed=0, memo=memo)
    assert (refs.kind, refs.optimal, refs.lower) == ("exact", true_optimum, None)
    assert refs.optimal_exact
    assert asked == ["exact optimum"]
    # an environment's broken number is refused, not normalized by
    monkeypatch.setattr(gridworld, "exact_optimum", lambda: float("nan"))
    with pytest.raises(ValueError, match="not a finite number"):
        ev.references(gridworld, episodes=200, seed=0)
