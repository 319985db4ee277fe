"""Exact finite-horizon optimum and policy value of the networked GridWorld, without joint tables.

The joint problem of n agents on an L × L grid has (L²)ⁿ states and 5ⁿ actions: 25⁴ = 390,625
states and 625 actions for the paper's 4 agents on 5 × 5, whose joint transition table (10¹⁴
entries) cannot be built. Its structure makes it exact all the same:

* given the joint state, agents move independently: agent i's next cell depends on its own cell,
  its own action and its own noise outcome, whose law depends on the joint state only through
  σ_i, i.e. through which agents stand on the goal (the *goal pattern*, 2ⁿ of them);
* agents on the goal stay there, act to no effect and earn nothing;
* the expected reward is a sum of per-agent terms in (cell, action, σ_i), plus a collision term
  that depends on the joint state only.

So the Bellman backup ``V_t(s) = max_a [R(s, a) + γ E V_{t+1}(s')]`` runs pattern by pattern:
the expectation contracts V with one (cell, action) → next-cell kernel per moving agent, agent
after agent, and the maximum over the joint action is taken per state of the first agent, so no
array holds more than ``L² · ((L² − 1) · 5)^(n−1)`` numbers (43 M, 0.35 GB, for the default).
A product softmax policy is evaluated the same way with per-agent policy kernels, without any
maximum, in well under a second. Both agree with dynamic programming over the joint tables to
1e-9 where those exist (tests, n = 2 and 3).

The limit is memory, not time: the largest array grows like (5L²)^(n−1), so 4 agents on 5 × 5
(0.35 GB) and 3 agents on 7 × 7 (0.48 GB) are exact; 5 agents on 5 × 5 would need 43 GB. Past
:data:`EXACT_LIMIT` numbers the environment falls back to its approximate reference.
"""

from __future__ import annotations

import itertools

import numpy as np

EXACT_LIMIT = 60_000_000
"""Most numbers held by the largest array of the exact dynamic program (float64: 480 MB)."""


def exact_size(n_agents: int, n_states: int, n_actions: int) -> int:
    """Numbers held by the largest array of :func:`optimal_value` for that problem."""
    if n_agents == 1:
        return n_states * n_actions
    return n_states * ((n_states - 1) * n_actions) ** (n_agents - 1)


def _outcome_probabilities(sigma: float) -> np.ndarray:
    """P(noise outcome): 0 = no noise (1 − σ), 1..4 = the unit moves (σ/4 each)."""
    return np.array([1.0 - sigma, sigma / 4, sigma / 4, sigma / 4, sigma / 4])


class _Model:
    """The per-agent pieces of a networked GridWorld the dynamic program needs."""

    def __init__(self, env) -> None:  # a NetGridWorld, connected to its network
        self.env = env
        self.n, self.S, self.A = env.n_agents, env.n_states, env.n_actions
        self.goal = env.goal
        self.free_cells = np.array([c for c in range(self.S) if c != self.goal])
        self.penalty = env.config.collision_penalty

    def sigma(self, pattern: tuple[bool, ...]) -> np.ndarray:
        """σ_i of every agent ``(n,)`` when the agents of ``pattern`` stand on the goal."""
        return self.env.noise_level(np.array([pattern]))[0]

    def kernel(self, sigma: float) -> np.ndarray:
        """``K[(c, a), x]``: P(next cell x | cell c off the goal, action a), ``(F·A, S)``."""
        p = _outcome_probabilities(sigma)
        nxt = self.env._next[self.free_cells]  # (F, A, 5)
        K = np.zeros((len(self.free_cells), self.A, self.S))
        rows = np.arange(len(self.free_cells))[:, None]
        for outcome in range(5):
            np.add.at(K, (rows, np.arange(self.A)[None, :], nxt[:, :, outcome]), p[outcome])
        return K.reshape(-1, self.S)

    def landing_reward(self, sigma: float) -> np.ndarray:
        """Expected landing reward ``(F, A)`` of an agent off the goal (collisions aside)."""
        p = _outcome_probabilities(sigma)
        return (self.env._landing[self.env._next[self.free_cells]] * p).sum(-1)

    def collision_cost(self) -> np.ndarray:
        """``(S,)*n``: −(λ/n)·#agents off the goal that share their cell, per joint state."""
        cost = np.zeros((self.S,) * self.n)
        if not self.penalty:
            return cost
        grids = np.meshgrid(*(np.arange(self.S),) * self.n, indexing="ij", sparse=True)
        for i in range(self.n):
            shared = np.zeros_like(cost, dtype=bool)
            for j in range(self.n):
                if j != i:
                    shared |= grids[i] == grids[j]
            cost -= (self.penalty / self.n) * (shared & (grids[i] != self.goal))
        return cost

    def patterns(self):
        """Every goal pattern with its moving agents and their σ."""
        for pattern in itertools.product((False, True), repeat=self.n):
            moving = [i for i in range(self.n) if not pattern[i]]
            yield pattern, moving, self.sigma(pattern)

    def index(self, pattern: tuple[bool, ...]) -> tuple:
        """Open-mesh index of the joint states of a pattern, axis i = agent i."""
        cells = [np.array([self.goal]) if on else self.free_cells for on in pattern]
        return np.ix_(*cells)


def _contract(W: np.ndarray, axis: int, matrix: np.ndarray) -> np.ndarray:
    """Replace axis ``axis`` of W (a next cell) by ``matrix @ W`` along it (a (cell, action))."""
    moved = np.moveaxis(W, axis, -1)
    return np.moveaxis(moved @ matrix.T, -1, axis)


def _backup(
    model: _Model, V_next: np.ndarray, gamma: float, theta: np.ndarray | None
) -> np.ndarray:
    """One step of the dynamic program: the optimal backup, or the policy's when ``theta``."""
    n, A, F = model.n, model.A, len(model.free_cells)
    V = model.collision_cost()
    for pattern, moving, sigma in model.patterns():
        if not moving:  # everyone on the goal: absorbing, nothing more to earn
            continue
        # the value of next states, with the agents on the goal kept on it
        W = V_next[tuple(model.goal if pattern[i] else slice(None) for i in range(n))]
        # now axis k of W is the next cell of moving agent k
        kernels = [model.kernel(sigma[i]) for i in moving]
        rewards = [model.landing_reward(sigma[i]) / n for i in moving]
        if theta is not None:
            value = _policy_backup(model, W, kernels, rewards, [theta[i] for i in moving], gamma)
        else:
            value = _optimal_backup(W, kernels, rewards, gamma, F, A)
        V[model.index(pattern)] += value.reshape([1 if on else F for on in pattern])
    return V


def _optimal_backup(W, kernels, rewards, gamma, F, A) -> np.ndarray:
    """max over the moving agents' joint action, per state of the moving agents ``(F,)*m``."""
    m = len(kernels)
    for k in range(1, m):  # every moving agent but the first: next cell → (cell, action)
        W = _contract(W, k, kernels[k])
    pairs = (F, A) * (m - 1)  # (cell, action) of every moving agent but the first
    W = W.reshape((W.shape[0], *pairs))
    rest = np.zeros(pairs)  # their rewards, broadcast over each other's (cell, action)
    for k, reward in enumerate(rewards[1:]):
        rest = rest + reward.reshape((1, 1) * k + (F, A) + (1, 1) * (m - 2 - k))
    out = np.empty((F,) * m)
    action_axes = tuple(range(2, 2 * m, 2))  # after the first agent's action axis 0
    first = kernels[0].reshape(F, A, -1)
    for c in range(F):  # one cell of the first moving agent at a time bounds the memory
        Q = gamma * np.tensordot(first[c], W, axes=(1, 0))  # (A, F, A, F, A, ...)
        Q += rewards[0][c].reshape((A,) + (1,) * (2 * (m - 1)))
        Q += rest[None]
        out[c] = Q.max(axis=(0, *action_axes)) if m > 1 else Q.max(axis=0)
    return out


def _policy_backup(model, W, kernels, rewards, thetas, gamma) -> np.ndarray:
    """The expectation under a product softmax policy, per state of the moving agents."""
    from zobench.sim import policy

    F, A = len(model.free_cells), model.A
    value = 0.0
    for k, (K, r, theta) in enumerate(zip(kernels, rewards, thetas, strict=True)):
        pi = policy.probabilities(theta[None])[0][model.free_cells]  # (F, A)
        M = np.einsum("fa,fax->fx", pi, K.reshape(F, A, -1))  # (F, S)
        W = _contract(W, k, M)
        reward = (pi * r).sum(-1)  # (F,)
        value = value + reward.reshape((1,) * k + (F,) + (1,) * (len(kernels) - k - 1))
    return value + gamma * W


def _run(env, theta: np.ndarray | None) -> float:
    model = _Model(env)
    if exact_size(model.n, model.S, model.A) > EXACT_LIMIT:
        raise ValueError(
            f"{model.n} agents on {model.S} cells need {exact_size(model.n, model.S, model.A):,} "
            f"numbers, more than the exact limit {EXACT_LIMIT:,}"
        )
    V = np.zeros((model.S,) * model.n)
    for _ in range(env.horizon):
        V = _backup(model, V, env.gamma, theta)
    return float(V[tuple(env.starts)])


def optimal_value(env) -> float:
    """The exact optimal J* of a (connected) networked GridWorld by dynamic programming."""
    return _run(env, None)


def policy_value(env, theta: np.ndarray) -> float:
    """The exact J(θ) of the product softmax policy θ ``(n, S, A)``."""
    return _run(env, np.asarray(theta, dtype=float))
