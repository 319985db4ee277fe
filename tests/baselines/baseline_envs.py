"""Tiny test environments of the baseline tests (importable by name, like other test helpers).

- :class:`Bandit`: DPO's home ground, a deterministic contextual bandit over a few steps with one
  clearly preferred action per state.
- :class:`LineWalk`: n agents each walking to the end of a line, networked through the movement
  noise (an agent slips less when its neighbours have arrived), with dense distance costs like
  net-gridworld's: the multi-agent testbed of SAC's κ-hop critics.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zobench import api
from zobench.sim.network import Network
from zobench.sim.problem import Problem, build_problem


class Bandit(api.Environment):
    """S contexts, A actions, H steps; the context advances deterministically s → s + 1 mod S.

    The start context is uniform (from the reset noise); r = 1 when a = preferred[s], else 0.
    """

    name = "test-bandit"
    summary = "Deterministic contextual bandit."

    def __init__(self, states: int = 3, actions: int = 3, horizon: int = 2) -> None:
        super().__init__(None)
        self.n_agents, self.n_states, self.n_actions = 1, states, actions
        self.horizon, self.gamma = horizon, 1.0
        self.preferred = (np.arange(states) * 2 + 1) % actions

    def reset(self, noise: np.ndarray) -> np.ndarray:
        """Uniform start context."""
        return (noise[..., 0] * self.n_states).astype(np.int64)

    def step(self, states: np.ndarray, actions: np.ndarray, noise: np.ndarray) -> Any:
        """Reward 1 for the preferred action; the context moves on."""
        rewards = (actions == self.preferred[states]).astype(float)
        return (states + 1) % self.n_states, rewards


class LineWalk(api.Environment):
    """n agents on lines of ``length`` cells, start 0, absorbing goal ``length − 1``.

    Actions: 0 left, 1 stay, 2 right. With probability σ_i the move is replaced by a uniformly
    random one, σ_i = 0.4 − 0.3 · (neighbours at the goal) / |N_i| (neighbours of the
    network, self excluded; 0.4 when isolated). Reward −(1 + distance to goal after the move)
    / length until the goal is reached, then 0.
    """

    name = "test-line-walk"
    summary = "Networked line walk."
    networked = True
    noise_dims = 2

    def __init__(self, n_agents: int = 4, length: int = 4, horizon: int = 8) -> None:
        super().__init__(None)
        self.n_agents, self.n_states, self.n_actions = n_agents, length, 3
        self.horizon, self.gamma = horizon, 0.9
        self.goal = length - 1

    def reset(self, noise: np.ndarray) -> np.ndarray:
        """Every agent starts at cell 0."""
        return np.zeros(noise.shape[:2], dtype=np.int64)

    def step(self, states: np.ndarray, actions: np.ndarray, noise: np.ndarray) -> Any:
        """Noisy moves whose noise falls as neighbours arrive."""
        net = self.network
        at_goal = (states == self.goal).astype(float)
        degree = np.maximum(net.degrees, 1)
        arrived = np.zeros_like(at_goal)
        src = np.repeat(np.arange(self.n_agents), net.degrees)
        np.add.at(arrived, (slice(None), src), at_goal[:, net.indices])
        slip = 0.4 - 0.3 * arrived / degree
        random_move = (noise[..., 1] * 3).astype(np.int64)
        move = np.where(noise[..., 0] < slip, random_move, actions) - 1
        moved = np.clip(states + move, 0, self.goal)
        moved = np.where(states == self.goal, self.goal, moved)
        cost = -(1.0 + (self.goal - moved)) / self.n_states
        return moved, np.where(states == self.goal, 0.0, cost)


def bandit_problem(seed: int, preference: Any, **env: Any) -> Problem:
    """A problem on :class:`Bandit` (preference-only)."""
    return build_problem(Bandit(**env), preference, seed=seed)


def line_problem(
    seed: int, preference: Any, n_agents: int = 4, consumes: Any = None, **env: Any
) -> Problem:
    """A problem on :class:`LineWalk` with agents on a chain; by default it reads votes and
    rewards (``consumes`` narrows it, as the runner does for a preference-only algorithm)."""
    network = Network.from_edges(n_agents, [(i, i + 1) for i in range(n_agents - 1)])
    return build_problem(
        LineWalk(n_agents, **env),
        preference,
        network=network,
        seed=seed,
        consumes=consumes or {"preferences", "rewards"},
    )
