"""The exact policy gradient of zobench.sim.gradients against finite differences of exact_value."""

from __future__ import annotations

import numpy as np
import pytest
from zo_helpers import SMALL_GRID

import zobench
from zobench.api import TransitionTables
from zobench.sim.evaluate import exact_value
from zobench.sim.gradients import exact_gradient, value_and_gradient


def finite_differences(tables: TransitionTables, theta: np.ndarray, horizon: int, gamma: float):
    """Central differences of J, coordinate by coordinate (step 1e-6: error ~1e-10 here)."""
    eps = 1e-6
    grad = np.zeros_like(theta)
    for index in np.ndindex(theta.shape):
        e = np.zeros_like(theta)
        e[index] = eps
        grad[index] = (
            exact_value(tables, theta + e, horizon, gamma)
            - exact_value(tables, theta - e, horizon, gamma)
        ) / (2 * eps)
    return grad


def random_tables(rng: np.random.Generator, n: int, S: int, A: int) -> TransitionTables:
    """A random joint MDP of n agents (mixed-radix joint indices), dense transitions."""
    P = rng.random((S**n, A**n, S**n))
    P /= P.sum(axis=-1, keepdims=True)
    rho = rng.random(S**n)
    return TransitionTables(P, rng.random((S**n, A**n)), rho / rho.sum())


def test_gridworld_gradient_matches_finite_differences(make_problem):
    env = zobench.make("environment", "gridworld", **SMALL_GRID)
    tables = env.tables()
    theta = np.random.default_rng(3).normal(size=(1, env.n_states, env.n_actions))
    value, grad = value_and_gradient(tables, theta, env.horizon, env.gamma)
    assert value == pytest.approx(exact_value(tables, theta, env.horizon, env.gamma), abs=1e-12)
    fd = finite_differences(tables, theta, env.horizon, env.gamma)
    assert np.abs(grad).max() > 1e-3  # not a trivially zero gradient
    np.testing.assert_allclose(grad, fd, atol=1e-7)


@pytest.mark.parametrize(("n", "S", "A", "gamma"), [(1, 4, 3, 0.9), (2, 3, 2, 0.8), (3, 2, 2, 1.0)])
def test_joint_tables_gradient_matches_finite_differences(n, S, A, gamma):
    rng = np.random.default_rng(n)
    tables = random_tables(rng, n, S, A)
    theta = rng.normal(size=(n, S, A))
    grad = exact_gradient(tables, theta, 5, gamma)
    np.testing.assert_allclose(grad, finite_differences(tables, theta, 5, gamma), atol=1e-7)


def test_gradient_rows_sum_to_zero():
    # softmax is invariant to adding a constant to a row, so every row of ∇J sums to zero
    rng = np.random.default_rng(7)
    tables = random_tables(rng, 2, 3, 2)
    grad = exact_gradient(tables, rng.normal(size=(2, 3, 2)), 4, 0.9)
    np.testing.assert_allclose(grad.sum(axis=-1), 0.0, atol=1e-12)


def test_mismatched_shapes_are_refused():
    tables = random_tables(np.random.default_rng(0), 1, 4, 3)
    with pytest.raises(ValueError, match="joint states"):
        exact_gradient(tables, np.zeros((1, 4, 2)), 3, 1.0)
