"""Exact policy gradients of tabular softmax policies from transition tables.

For an environment that offers :class:`~zobench.sim.types.TransitionTables`, the objective of a
time-invariant softmax policy π_θ over a finite horizon H with discount γ is

    J(θ) = E_{s_0 ~ ρ}[ Σ_{t<H} γ^t R(s_t, a_t) ],

and the policy gradient theorem for a finite horizon gives

    ∇J(θ) = Σ_{t<H} γ^t Σ_s d_t(s) Σ_a π(a|s) Q_t(s, a) ∇ log π(a|s),

where d_t is the distribution of s_t (forward pass) and Q_t the discounted reward-to-go from step
t (backward pass). For softmax, ∇_{θ[s,·]} log π(a|s) = e_a − π(·|s), so the whole gradient is a
weighted sum over (s, a) and needs no Python loop over time beyond the H matrix products.

Joint tables of several agents are supported: joint states and actions are mixed-radix indices
(agent 0 least significant, as in :class:`~zobench.sim.types.TransitionTables`), the joint policy is the
product of the agents' local policies, and agent i's gradient collects the joint weights whose
i-th local state and action match. This is exact but costs O(H · S_joint² · A_joint), so it is meant
for the small tables used by exact evaluation and by tests.

Used by the ``oracle-pg`` reference algorithm and by the tests that check zeroth-order estimates
against the true gradient.
"""

from __future__ import annotations

import numpy as np

from zobench.sim.evaluate import joint_policy
from zobench.sim.policy import probabilities
from zobench.sim.types import TransitionTables


def _check(tables: TransitionTables, theta: np.ndarray) -> None:
    n, S, A = theta.shape
    S_joint, A_joint, _ = tables.transitions.shape
    if (S_joint, A_joint) != (S**n, A**n):
        raise ValueError(
            f"tables are {S_joint} states x {A_joint} actions, but θ {theta.shape} "
            f"implies {S**n} x {A**n} joint states x actions"
        )


def occupancy_weights(
    tables: TransitionTables, theta: np.ndarray, horizon: int, gamma: float
) -> tuple[float, np.ndarray, np.ndarray]:
    """The value J(θ), the joint policy π and the weights ``W[s, a] = Σ_t γ^t d_t(s) π(a|s) Q_t(s, a)``.

    ``W`` is what multiplies ∇ log π(a|s) in the policy gradient theorem.
    """
    _check(tables, theta)
    P, R = tables.transitions, tables.rewards
    pi = joint_policy(theta)
    # Backward pass: Q_{H-1} = R; Q_t = R + γ P V_{t+1}; V_t(s) = Σ_a π(a|s) Q_t(s, a).
    Q = np.empty((horizon, *R.shape))
    Q[horizon - 1] = R
    for t in range(horizon - 2, -1, -1):
        V_next = (pi * Q[t + 1]).sum(axis=1)
        Q[t] = R + gamma * (P @ V_next)
    # Forward pass: d_0 = ρ; d_{t+1}(s') = Σ_{s,a} d_t(s) π(a|s) P(s, a, s').
    W = np.zeros_like(R, dtype=float)
    d = np.asarray(tables.initial, dtype=float)
    discount = 1.0
    for t in range(horizon):
        flow = d[:, None] * pi  # probability of (s_t, a_t)
        W += discount * flow * Q[t]
        d = np.einsum("sa,sap->p", flow, P)
        discount *= gamma
    value = float(tables.initial @ (pi * Q[0]).sum(axis=1))
    return value, pi, W


def value_and_gradient(
    tables: TransitionTables, theta: np.ndarray, horizon: int, gamma: float
) -> tuple[float, np.ndarray]:
    """Exact J(θ) and ∇J(θ) (shaped like θ) of a tabular softmax policy.

    ``theta`` is ``(n_agents, n_states, n_actions)``; ``tables`` is the environment's joint model.
    """
    theta = np.asarray(theta, dtype=float)
    value, _, W = occupancy_weights(tables, theta, horizon, gamma)
    n, S, A = theta.shape
    local = probabilities(theta)
    # Axis of agent i in W reshaped C-order: the most significant digit (agent n-1) comes first.
    W_grid = W.reshape((S,) * n + (A,) * n)
    grad = np.empty_like(theta)
    for i in range(n):
        keep = (n - 1 - i, 2 * n - 1 - i)
        others = tuple(ax for ax in range(2 * n) if ax not in keep)
        M = W_grid.sum(axis=others) if others else W_grid  # M[s_i, a_i]
        # ∇_{θ_i[s_i,·]} log π = e_{a_i} − π_i(·|s_i): subtract π_i times the state's total weight.
        grad[i] = M - local[i] * M.sum(axis=1, keepdims=True)
    return value, grad


def exact_gradient(
    tables: TransitionTables, theta: np.ndarray, horizon: int, gamma: float
) -> np.ndarray:
    """∇J(θ) only; see :func:`value_and_gradient`."""
    return value_and_gradient(tables, theta, horizon, gamma)[1]
