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

So the Bellman backup ``V_t(s) = max_a [R(s, a) + γ E V_{t+1}(s')]`` runs pattern by pattern,
over the m agents off the goal. The optimal backup (:func:`_optimal_pattern_backup`, compiled
with numba) walks their (cell, action) pairs depth first, agent after agent: fixing agent k's
(cell, action) contracts the value of next states along agent k's axis with that pair's five
noise outcomes, so the next level holds a factor L² fewer numbers; the last agent's action is
maximized directly, and the running maximum over the others' actions is kept per joint state.
Nothing larger than V itself (L^{2n} numbers: 3 MB for the default) is ever held, and the work
per step is about 5 · (5 (L² − 1))ⁿ multiply-adds (1.0·10⁹ for the default). A product softmax
policy is evaluated pattern by pattern too (:func:`policy_value`, numpy), contracting V with one
(cell → next cell) kernel per agent, in well under a second. Both agree with dynamic
programming over the joint tables to 1e-9 where those exist (tests, n = 2 and 3).

The limit is time: the work grows like H · 5 · (5 (L² − 1))ⁿ, ×120 per agent on 5 × 5. Measured
on this machine: 4 agents on 5 × 5 at H = 20 (2.1·10¹⁰) in about 25 s of CPU, 170 MB resident
for the whole process (the numpy contraction it replaces took about 7 minutes and 615 MB); 5
agents on 5 × 5 would take about 50 minutes, 4 agents on 7 × 7 about 7. Past :data:`EXACT_LIMIT` the
environment offers no exact optimum and runs fall back to its approximate reference. Memory is
no limit below it: V has L^{2n} entries (78 MB for 5 agents on 5 × 5).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

OUTCOMES = 5
"""Noise outcomes of a move: none, or one of the four unit moves."""

EXACT_LIMIT = 60_000_000_000
"""Most multiply-adds (:func:`exact_cost`) of the exact dynamic program an environment runs,
about 70 s of CPU: 4 agents on 5 × 5 up to H = 57, on 6 × 6 up to H = 12; 3 agents up to
13 × 13 at H = 20."""


def exact_cost(n_agents: int, n_states: int, n_actions: int, horizon: int) -> int:
    """Multiply-adds of :func:`optimal_value`, dominated by the innermost agent's backups.

    ``horizon`` steps, each over every (cell, action) of every agent off the goal (``S − 1``
    cells) and the five noise outcomes of the last agent's move.
    """
    return horizon * OUTCOMES * ((n_states - 1) * n_actions) ** n_agents


def _outcome_probabilities(sigma: float) -> np.ndarray:
    """P(noise outcome): 0 = no noise (1 − σ), 1..4 = the unit moves (σ/4 each)."""
    return np.array([1.0 - sigma, sigma / 4, sigma / 4, sigma / 4, sigma / 4])


class _Model:
    """The per-agent pieces of a networked GridWorld the dynamic program needs."""

    def __init__(self, env: Any) -> None:  # a NetGridWorld, connected to its network
        self.env = env
        self.n, self.S, self.A = env.n_agents, env.n_states, env.n_actions
        self.goal = env.goal
        self.free_cells = np.array([c for c in range(self.S) if c != self.goal])
        self.penalty = env.config.collision_penalty
        # next cell of every (free cell, action, noise outcome), flat for the compiled backup
        self.next_free = np.ascontiguousarray(env._next[self.free_cells], dtype=np.int64)

    def sigma(self, pattern: tuple[bool, ...]) -> np.ndarray:
        """σ_i of every agent ``(n,)`` when the agents of ``pattern`` stand on the goal."""
        return np.asarray(self.env.noise_level(np.array([pattern]))[0], dtype=float)

    def kernel(self, sigma: float) -> np.ndarray:
        """``K[(c, a), x]``: P(next cell x | cell c off the goal, action a), ``(F·A, S)``."""
        p = _outcome_probabilities(sigma)
        F = len(self.free_cells)
        K = np.zeros((F, self.A, self.S))
        rows = np.arange(F)[:, None]
        for outcome in range(OUTCOMES):
            np.add.at(
                K, (rows, np.arange(self.A)[None, :], self.next_free[:, :, outcome]), p[outcome]
            )
        return K.reshape(-1, self.S)

    def landing_reward(self, sigma: float) -> np.ndarray:
        """Expected landing reward ``(F, A)`` of an agent off the goal (collisions aside)."""
        p = _outcome_probabilities(sigma)
        return (self.env._landing[self.next_free] * p).sum(-1)

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

    def patterns(self) -> Iterator[tuple[tuple[bool, ...], list[int], np.ndarray]]:
        """Every goal pattern with its moving agents and their σ."""
        for pattern in itertools.product((False, True), repeat=self.n):
            moving = [i for i in range(self.n) if not pattern[i]]
            yield pattern, moving, self.sigma(pattern)

    def index(self, pattern: tuple[bool, ...]) -> tuple[np.ndarray, ...]:
        """Open-mesh index of the joint states of a pattern, axis i = agent i."""
        cells = [np.array([self.goal]) if on else self.free_cells for on in pattern]
        return np.ix_(*cells)


def _contract(W: np.ndarray, axis: int, matrix: np.ndarray) -> np.ndarray:
    """Replace axis ``axis`` of W (a next cell) by ``matrix @ W`` along it (a (cell, action))."""
    moved = np.moveaxis(W, axis, -1)
    return np.moveaxis(moved @ matrix.T, -1, axis)


def _optimal_pattern_backup(
    W: np.ndarray,
    n_cells: int,
    next_free: np.ndarray,
    probabilities: np.ndarray,
    rewards: np.ndarray,
    gamma: float,
    out: np.ndarray,
) -> None:
    """max over the moving agents' joint action, per state of the moving agents (numba).

    ``W`` is V at the next step over the m moving agents' next cells (``n_cells`` each), flat,
    agent 0 most significant ``(S^m,)``; ``next_free (F, A, 5)`` the next cell of every (cell
    off the goal, action, outcome); ``probabilities (m, 5)`` each agent's outcome law;
    ``rewards (m, F, A)`` each agent's expected reward (its share of the average). Writes
    ``out (F^m,)``: for every cell combination (agent 0 most significant), the max over joint
    actions of Σ rewards + γ E W.

    Depth first over the first m − 1 agents' (cell, action) pairs, odometer style: level k
    holds W contracted with the pairs of agents 0..k−1 (``S^{m−k}`` numbers), recomputed only
    from the first agent whose pair changed.
    """
    F, A, K = next_free.shape
    m = probabilities.shape[0]
    sizes = np.empty(m + 1, dtype=np.int64)  # S^{m−k}: numbers held at level k
    sizes[m] = 1
    for k in range(m - 1, -1, -1):
        sizes[k] = sizes[k + 1] * n_cells
    offsets = np.zeros(m + 1, dtype=np.int64)  # level k ≥ 1 lives at work[offsets[k]:…]
    for k in range(1, m):
        offsets[k + 1] = offsets[k] + sizes[k]
    work = np.empty(offsets[m] + 1)  # (+ 1: never empty, for m = 1)
    digits = np.zeros(max(m - 1, 1), dtype=np.int64)  # pair c·A + a of agents 0..m−2
    prefix = np.zeros(m, dtype=np.float64)  # prefix[k]: rewards of agents 0..k−1's pairs
    for i in range(out.shape[0]):
        out[i] = -np.inf
    first = 0  # the first agent whose pair changed: levels first+1.. need recomputing
    while True:
        for k in range(first, m - 1):  # contract level k along agent k's axis → level k + 1
            c, a = digits[k] // A, digits[k] % A
            stride = sizes[k + 1]
            dst = offsets[k + 1]
            for r in range(stride):
                work[dst + r] = 0.0
            for j in range(K):
                p = probabilities[k, j]
                base = next_free[c, a, j] * stride
                if k == 0:
                    for r in range(stride):
                        work[dst + r] += p * W[base + r]
                else:
                    src = offsets[k] + base
                    for r in range(stride):
                        work[dst + r] += p * work[src + r]
            prefix[k + 1] = prefix[k] + rewards[k, c, a]
        # the last agent: its best action per cell, given the others' pairs
        last = m - 1
        row = 0  # index of the first m − 1 agents' cells in out, agent 0 most significant
        for k in range(m - 1):
            row = row * F + digits[k] // A
        for c in range(F):
            best = -np.inf
            for a in range(A):
                expected = 0.0
                for j in range(K):
                    x = next_free[c, a, j]
                    value = W[x] if last == 0 else work[offsets[last] + x]
                    expected += probabilities[last, j] * value
                q = rewards[last, c, a] + gamma * expected
                if q > best:
                    best = q
            total = prefix[last] + best
            if total > out[row * F + c]:
                out[row * F + c] = total
        # next combination of the first m − 1 agents' pairs (the last digit turns fastest)
        k = m - 2
        while k >= 0:
            digits[k] += 1
            if digits[k] < F * A:
                break
            digits[k] = 0
            k -= 1
        if k < 0:
            return
        first = k


_compiled: Callable[..., None] | None = None


def _compiled_backup() -> Callable[..., None]:
    """:func:`_optimal_pattern_backup` compiled by numba (once per machine: ``cache=True``).

    Compiled on first use rather than at import, so loading the plugin does not import numba.
    """
    global _compiled
    if _compiled is None:
        import numba

        _compiled = numba.njit(cache=True, nogil=True, boundscheck=False)(_optimal_pattern_backup)
    return _compiled


def _backup(
    model: _Model, V_next: np.ndarray, gamma: float, theta: np.ndarray | None
) -> np.ndarray:
    """One step of the dynamic program: the optimal backup, or the policy's when ``theta``."""
    n, F = model.n, len(model.free_cells)
    V = model.collision_cost()
    for pattern, moving, sigma in model.patterns():
        if not moving:  # everyone on the goal: absorbing, nothing more to earn
            continue
        # the value of next states, with the agents on the goal kept on it
        W = V_next[tuple(model.goal if pattern[i] else slice(None) for i in range(n))]
        # now axis k of W is the next cell of moving agent k
        rewards = [model.landing_reward(sigma[i]) / n for i in moving]
        if theta is not None:
            kernels = [model.kernel(sigma[i]) for i in moving]
            value = _policy_backup(model, W, kernels, rewards, [theta[i] for i in moving], gamma)
        else:
            value = np.empty(F ** len(moving))
            _compiled_backup()(
                np.ascontiguousarray(W).reshape(-1),
                model.S,
                model.next_free,
                np.stack([_outcome_probabilities(sigma[i]) for i in moving]),
                np.stack(rewards),
                float(gamma),
                value,
            )
        V[model.index(pattern)] += value.reshape([1 if on else F for on in pattern])
    return V


def _policy_backup(
    model: _Model,
    W: np.ndarray,
    kernels: list[np.ndarray],
    rewards: list[np.ndarray],
    thetas: list[np.ndarray],
    gamma: float,
) -> np.ndarray:
    """The expectation under a product softmax policy, per state of the moving agents."""
    from zobench.sim import policy

    F, A = len(model.free_cells), model.A
    value: Any = 0.0
    for k, (K, r, theta) in enumerate(zip(kernels, rewards, thetas, strict=True)):
        pi = policy.probabilities(theta[None])[0][model.free_cells]  # (F, A)
        M = np.einsum("fa,fax->fx", pi, K.reshape(F, A, -1))  # (F, S)
        W = _contract(W, k, M)
        reward = (pi * r).sum(-1)  # (F,)
        value = value + reward.reshape((1,) * k + (F,) + (1,) * (len(kernels) - k - 1))
    return value + gamma * W


def within_limit(env: Any) -> bool:
    """Whether the exact optimum of ``env`` (a NetGridWorld) costs at most :data:`EXACT_LIMIT`."""
    return exact_cost(env.n_agents, env.n_states, env.n_actions, env.horizon) <= EXACT_LIMIT


def _run(env: Any, theta: np.ndarray | None) -> float:
    model = _Model(env)
    if theta is None and not within_limit(env):
        cost = exact_cost(model.n, model.S, model.A, env.horizon)
        raise ValueError(
            f"{model.n} agents on {model.S} cells over {env.horizon} steps need {cost:.2g} "
            f"multiply-adds, more than the exact limit {EXACT_LIMIT:.2g}"
        )
    V = np.zeros((model.S,) * model.n)
    for _ in range(env.horizon):
        V = _backup(model, V, env.gamma, theta)
    return float(V[tuple(env.starts)])


def optimal_value(env: Any) -> float:
    """The exact optimal J* of a (connected) networked GridWorld by dynamic programming.

    The best value of any policy: joint, time-dependent, deterministic (the optimum of the
    finite-horizon joint MDP), so it bounds every product softmax policy's value from above.
    """
    return _run(env, None)


def policy_value(env: Any, theta: np.ndarray) -> float:
    """The exact J(θ) of the product softmax policy θ ``(n, S, A)``."""
    return _run(env, np.asarray(theta, dtype=float))
