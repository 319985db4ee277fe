"""The true objective J(θ) = E[Σ_{t<H} γ^t (1/n) Σ_i r_i(t)], exactly or by Monte Carlo.

Exact evaluation needs the environment's :class:`~zobench.TransitionTables`. Joint states and
actions are mixed-radix numbers with agent 0 least significant: ``s = Σ_i s_i S^i`` and
``a = Σ_i a_i A^i``. Monte Carlo evaluation uses a fixed seed so that every algorithm is scored
on the same episodes (common random numbers across algorithms and iterations).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from zobench.sim import policy
from zobench.sim.rollout import rollout
from zobench.sim.types import EnvironmentLike, ReferenceKind, TransitionTables

MC_CHUNK_VALUES = 1 << 22
"""Rewards held in memory at once by Monte Carlo evaluation (chunks of episodes)."""


def joint_policy(theta: np.ndarray) -> np.ndarray:
    """π(a | s) over joint indices, ``(S^n, A^n)``: the product of the agents' local policies."""
    probs = policy.probabilities(theta)
    joint = probs[0]
    for local in probs[1:]:  # n Kronecker products; exact evaluation is only for small n anyway
        # the newer agent is the more significant digit, so it goes first in the product
        S, A = local.shape
        T, B = joint.shape
        joint = np.einsum("sa,tb->stab", local, joint).reshape(S * T, A * B)
    return joint


def _policy_model(tables: TransitionTables, theta: np.ndarray) -> tuple[np.ndarray, ...]:
    pi = joint_policy(theta)
    if pi.shape != tables.rewards.shape:
        raise ValueError(
            f"joint policy {pi.shape} does not match the tables {tables.rewards.shape}"
        )
    P_pi = np.einsum("sa,sat->st", pi, tables.transitions)
    r_pi = (pi * tables.rewards).sum(axis=1)
    return P_pi, r_pi


def exact_value(tables: TransitionTables, theta: np.ndarray, horizon: int, gamma: float) -> float:
    """J(θ) over ``horizon`` steps by backward induction on the joint tables."""
    P_pi, r_pi = _policy_model(tables, theta)
    V = np.zeros(len(r_pi))
    for _ in range(horizon):
        V = r_pi + gamma * (P_pi @ V)
    return float(tables.initial @ V)


def discounted_value(tables: TransitionTables, theta: np.ndarray, gamma: float) -> float:
    """Infinite-horizon J(θ) = ρᵀ (I − γ P_π)⁻¹ r_π by one linear solve (needs γ < 1)."""
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"the infinite-horizon value needs gamma < 1, got {gamma}")
    P_pi, r_pi = _policy_model(tables, theta)
    V = np.linalg.solve(np.eye(len(r_pi)) - gamma * P_pi, r_pi)
    return float(tables.initial @ V)


def optimal_value(tables: TransitionTables, horizon: int, gamma: float) -> float:
    """The best J over all (time-dependent, deterministic) joint policies, by dynamic programming.

    It bounds every stationary softmax policy's value from above.
    """
    V = np.zeros(tables.rewards.shape[0])
    for _ in range(horizon):
        V = (tables.rewards + gamma * (tables.transitions @ V)).max(axis=1)
    return float(tables.initial @ V)


def monte_carlo_value(
    env: EnvironmentLike, theta: np.ndarray, *, episodes: int, seed: int
) -> tuple[float, float]:
    """Monte Carlo estimate of J(θ) and its standard error, from ``episodes`` seeded episodes.

    The same seed gives the same noise for every θ (the evaluation's common random numbers).
    """
    if episodes < 2:
        raise ValueError("Monte Carlo evaluation needs at least 2 episodes")
    rng = np.random.default_rng(seed)
    weights = env.gamma ** np.arange(env.horizon)
    chunk = max(1, MC_CHUNK_VALUES // (env.horizon * env.n_agents))
    returns = []
    for start in range(0, episodes, chunk):  # chunks of many episodes, to bound memory
        traj = rollout(env, theta, batch=min(chunk, episodes - start), rng=rng)
        returns.append(np.einsum("bhn,h->b", traj.rewards, weights) / env.n_agents)
    values = np.concatenate(returns)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


def _uniform_theta(env: EnvironmentLike) -> np.ndarray:
    return np.zeros((env.n_agents, env.n_states, env.n_actions))


@dataclass(frozen=True)
class Evaluation:
    """A value of J(θ): exact (standard error 0) or Monte Carlo."""

    value: float
    standard_error: float
    exact: bool


def evaluate(
    env: EnvironmentLike,
    theta: np.ndarray,
    *,
    tables: TransitionTables | None,
    episodes: int,
    seed: int,
) -> Evaluation:
    """J(θ): exact when ``tables`` are given (pass ``env.tables()`` once per run), else Monte Carlo."""
    if tables is not None:
        return Evaluation(exact_value(tables, theta, env.horizon, env.gamma), 0.0, True)
    mean, se = monte_carlo_value(env, theta, episodes=episodes, seed=seed)
    return Evaluation(mean, se, False)


def uniform_value(
    env: EnvironmentLike,
    *,
    tables: TransitionTables | None = None,
    episodes: int = 1000,
    seed: int = 0,
) -> float:
    """J of the uniform policy θ = 0 (exact with tables, else Monte Carlo)."""
    return evaluate(env, _uniform_theta(env), tables=tables, episodes=episodes, seed=seed).value


@dataclass(frozen=True)
class References:
    """Reference values that normalise scores: 0 = uniform policy, 1 = :attr:`optimal`."""

    uniform: float
    optimal: float | None
    """What a normalized score's 1 is (see :attr:`kind`), or ``None`` when the environment offers
    no tables, exact optimum, bound or reference policy."""
    kind: ReferenceKind | None
    """``"exact"``: the optimal J (dynamic programming over the tables, or the environment's
    :meth:`exact_optimum`); ``"certified bound"``: the upper end of a certified bracket (the
    environment's :meth:`optimum_bounds`); ``"approximate"``: the Monte Carlo value of the
    environment's reference policy, which a learner can exceed. ``None`` without an optimum."""
    lower: float | None = None
    """With a certified bound, the lower end of the bracket (the optimum lies in
    ``[lower, optimal]``): a value some policy is known to reach; ``None`` otherwise."""

    @property
    def optimal_exact(self) -> bool:
        """True when :attr:`optimal` is the exact optimum."""
        return self.kind == "exact"

    def normalise(self, value: float) -> float | None:
        """(J − uniform) / (optimal − uniform), or ``None`` without a usable optimum."""
        if self.optimal is None or self.optimal == self.uniform:
            return None
        return (value - self.uniform) / (self.optimal - self.uniform)


Memo = Callable[[str, Callable[[], Any]], Any]
"""``memo(what, compute)``: ``compute()``'s result, possibly remembered from an earlier call for
the same instance (the runner passes a disk cache keyed by the instance's content hash)."""


def _computed(what: str, compute: Callable[[], Any]) -> Any:
    """The trivial :data:`Memo`: compute every time."""
    return compute()


def _finite(value: Any, what: str, env: EnvironmentLike) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{env.name}: its {what} is {number}, not a finite number")
    return number


def references(
    env: EnvironmentLike,
    *,
    episodes: int,
    seed: int,
    tables: TransitionTables | None = None,
    memo: Memo | None = None,
) -> References:
    """Uniform and optimal references of ``env`` (tables are fetched when not given).

    The optimum, strongest first: dynamic programming over the tables; the environment's
    :meth:`exact_optimum`; its certified :meth:`optimum_bounds` (normalized to the upper end;
    a lower end it leaves open is its reference policy's Monte Carlo value); the Monte Carlo
    value of its :meth:`reference_policy` (approximate). ``memo`` remembers the environment's
    own (possibly costly) computations; the Monte Carlo values use ``seed`` and ``episodes``.
    """
    remember = memo or _computed
    tables = env.tables() if tables is None else tables
    uniform = uniform_value(env, tables=tables, episodes=episodes, seed=seed)
    if tables is not None:
        return References(uniform, optimal_value(tables, env.horizon, env.gamma), "exact")
    exact = remember("exact optimum", env.exact_optimum)
    if exact is not None:
        return References(uniform, _finite(exact, "exact optimum", env), "exact")
    theta = env.reference_policy()

    def reference_value() -> float | None:
        if theta is None:
            return None
        return monte_carlo_value(env, theta, episodes=episodes, seed=seed)[0]

    bounds = remember("optimum bounds", env.optimum_bounds)
    if bounds is not None:
        lower, upper = bounds
        upper = _finite(upper, "certified upper bound", env)
        lower = reference_value() if lower is None else _finite(lower, "lower bound", env)
        return References(uniform, upper, "certified bound", lower=lower)
    optimal = reference_value()
    return References(uniform, optimal, None if optimal is None else "approximate")
