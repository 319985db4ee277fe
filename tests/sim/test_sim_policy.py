"""Tabular softmax: probabilities, sampling, log-probabilities and the score function."""

from __future__ import annotations

import numpy as np
import pytest

from zobench.sim import policy


def _theta(seed: int, shape=(3, 4, 5), scale: float = 1.5) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=scale, size=shape)


def test_probabilities_are_stable_and_normalised():
    theta = _theta(0)
    theta[0, 0] += 1000.0  # would overflow a naive exp
    probs = policy.probabilities(theta)
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(probs[1], np.exp(theta[1]) / np.exp(theta[1]).sum(-1, keepdims=True))
    np.testing.assert_allclose(np.log(probs[1:]), policy.log_probabilities(theta)[1:], atol=1e-12)


def test_score_matches_finite_differences():
    rng = np.random.default_rng(1)
    theta = _theta(2)
    n, S, A = theta.shape
    states = rng.integers(0, S, size=(6, 7, n))
    actions = rng.integers(0, A, size=(6, 7, n))
    weights = rng.normal(size=(6, 7, n))

    def objective(th):
        return (policy.log_prob(th, states, actions) * weights).sum()

    eps = 1e-6
    numeric = np.zeros_like(theta)
    for idx in np.ndindex(theta.shape):  # a test's reference, not a hot path
        bump = np.zeros_like(theta)
        bump[idx] = eps
        numeric[idx] = (objective(theta + bump) - objective(theta - bump)) / (2 * eps)
    np.testing.assert_allclose(policy.score(theta, states, actions, weights), numeric, atol=1e-6)


def test_score_with_broadcast_weights():
    rng = np.random.default_rng(3)
    theta = _theta(4)
    states = rng.integers(0, 4, size=(5, 3))
    actions = rng.integers(0, 5, size=(5, 3))
    w = rng.normal(size=(5, 1))
    full = policy.score(theta, states, actions, np.broadcast_to(w, (5, 3)))
    np.testing.assert_allclose(policy.score(theta, states, actions, w), full)


def test_sampling_frequencies_match_probabilities():
    # 200,000 draws per (agent, state): each frequency within 5 standard errors (fails w.p. < 1e-5)
    theta = _theta(5, shape=(2, 3, 4))
    probs = policy.probabilities(theta)
    draws = 200_000
    rng = np.random.default_rng(6)
    for s in range(3):
        states = np.full((draws, 2), s)
        actions = policy.sample(theta, states, rng.random((draws, 2)))
        for i in range(2):
            freq = np.bincount(actions[:, i], minlength=4) / draws
            tol = 5 * np.sqrt(probs[i, s] * (1 - probs[i, s]) / draws) + 1e-12
            assert (np.abs(freq - probs[i, s]) <= tol).all(), (freq, probs[i, s])


def test_sampling_never_leaves_the_action_range():
    theta = np.zeros((1, 1, 3))
    uniforms = np.array([[0.0], [np.nextafter(1.0, 0.0)], [1 / 3], [2 / 3]])
    actions = policy.sample(theta, np.zeros((4, 1), dtype=int), uniforms)
    assert actions.min() >= 0
    assert actions.max() <= 2
    assert actions[1, 0] == 2


@pytest.mark.parametrize("shape", [(1, 25, 4), (4, 25, 5)])
def test_log_prob_shapes(shape):
    theta = _theta(8, shape=shape)
    states = np.zeros((2, 3, shape[0]), dtype=int)
    actions = np.ones((2, 3, shape[0]), dtype=int)
    out = policy.log_prob(theta, states, actions)
    assert out.shape == (2, 3, shape[0])
    np.testing.assert_allclose(out[0, 0], policy.log_probabilities(theta)[:, 0, 1])


def _time_major(rng: np.random.Generator, high: int, batch: int, horizon: int, n: int):
    """A ``(batch, horizon, n)`` view of a time-major buffer, as rollouts hand them out."""
    return np.ascontiguousarray(rng.integers(0, high, size=(horizon, batch, n))).transpose(1, 0, 2)


@pytest.mark.parametrize("layout", ["time-major", "contiguous"])
def test_cell_index_gives_log_prob_and_score_bit_for_bit(layout):
    """Flat cells score exactly like the states and actions they came from, sums included."""
    rng = np.random.default_rng(4)
    theta = _theta(5, shape=(4, 6, 3))
    n, S, A = theta.shape
    states, actions = _time_major(rng, S, 9, 20, n), _time_major(rng, A, 9, 20, n)
    if layout == "contiguous":
        states, actions = np.ascontiguousarray(states), np.ascontiguousarray(actions)
    cells = policy.cell_index(theta.shape, states, actions)
    assert cells.min() >= 0
    assert cells.max() < theta.size
    assert cells.strides == states.strides  # elementwise: the layout (so any later sum) is kept
    old = policy.log_prob(theta, states, actions)
    new = policy.log_prob_cells(theta, cells)
    assert np.array_equal(new, old)
    assert np.array_equal(new.sum(axis=(1, 2)), old.sum(axis=(1, 2)))
    weights = rng.normal(size=(9, 1, 1))
    assert np.array_equal(
        policy.score_cells(theta, cells, weights), policy.score(theta, states, actions, weights)
    )


@pytest.mark.parametrize("n_actions", [2, 4, 5, 7, 9])
@pytest.mark.parametrize("scale", [0.1, 3.0, 40.0])
def test_many_rows_give_the_one_reduction_probabilities_bit_for_bit(n_actions, scale):
    """Above COLUMN_ROWS rows the column-by-column path gives the textbook softmax exactly."""
    theta = _theta(6, shape=(300, 20, n_actions), scale=scale)
    assert theta.shape[0] * theta.shape[1] >= policy.COLUMN_ROWS
    z = theta - theta.max(axis=-1, keepdims=True)
    e = np.exp(z)
    assert np.array_equal(policy.probabilities(theta), e / e.sum(axis=-1, keepdims=True))
