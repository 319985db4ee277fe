"""Stochastic single-agent GridWorld (ZPG experiments; every setting is ours, docs/algorithms.md#gridworld).

The agent starts in one cell and should reach the goal fast: r_t = 1 when it stands on the goal
after step t, and the goal is absorbing, so the return counts the steps spent on the goal. Each
move goes the intended way with probability 1 − slip, else one of the three other ways
uniformly; moves into a wall leave the agent where it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import zobench
from zobench import api

MOVES = np.array([(-1, 0), (1, 0), (0, -1), (0, 1)])
"""(row, column) change of the actions up, down, left, right."""


@dataclass(frozen=True)
class GridWorldConfig:
    """Settings of the stochastic GridWorld."""

    size: int = api.param(5, "Side length L of the square grid (L² states).", source="ours")
    start: tuple[int, int] = api.param((0, 0), "Start cell (row, column).", source="ours")
    goal: tuple[int, int] = api.param((4, 4), "Absorbing goal cell (row, column).", source="ours")
    slip: float = api.param(
        0.1,
        "Probability that a move goes one of the three other ways, chosen uniformly.",
        source="ours",
    )
    horizon: int = api.param(15, "Episode length H (about twice the shortest path).", source="ours")
    gamma: float = api.param(
        1.0, "Discount γ of the objective (1: the undiscounted ZPG return).", source="ours"
    )

    def __post_init__(self) -> None:
        if self.size < 2:
            raise ValueError(f"size must be at least 2, got {self.size}")
        for name in ("start", "goal"):
            cell = getattr(self, name)
            if len(cell) != 2 or not all(0 <= c < self.size for c in cell):
                raise ValueError(f"{name} {cell} lies outside the {self.size}×{self.size} grid")
        if tuple(self.start) == tuple(self.goal):
            raise ValueError("start and goal must differ")
        if not 0.0 <= self.slip <= 1.0:
            raise ValueError(f"slip must lie in [0, 1], got {self.slip}")
        if self.horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {self.horizon}")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must lie in (0, 1], got {self.gamma}")


class GridWorld(api.Environment):
    """One agent on an L×L grid reaching an absorbing goal under slippery moves."""

    name = "gridworld"
    summary = "Stochastic single-agent GridWorld: reach the absorbing goal fast (ZPG §4)."
    source = "Zhang & Ying, arXiv 2409.17401 (settings: ours, docs/algorithms.md#gridworld)"
    Config = GridWorldConfig
    noise_dims = 1

    def __init__(self, config: GridWorldConfig | None = None) -> None:
        super().__init__(config)
        c = self.config
        L = c.size
        self.n_agents = 1
        self.n_states = L * L
        self.n_actions = len(MOVES)
        self.horizon = c.horizon
        self.gamma = c.gamma
        self.start = c.start[0] * L + c.start[1]
        self.goal = c.goal[0] * L + c.goal[1]
        rows, cols = np.divmod(np.arange(self.n_states), L)
        nr = np.clip(rows[:, None] + MOVES[:, 0], 0, L - 1)
        nc = np.clip(cols[:, None] + MOVES[:, 1], 0, L - 1)
        moved = nr * L + nc
        moved[self.goal] = self.goal  # absorbing
        self._moved = moved
        """Next state of each (state, realised move), ``(S, 4)``."""
        # the step as a table: next state by (state, action, noise bucket); bucket k ≥ 1 turns
        # the move k quarter-turns away from the intended one
        realised = (np.arange(4)[:, None] + np.arange(4)[None, :]) % 4  # (action, bucket) → move
        next_states = moved[:, realised]  # (S, A, 4)
        goal_reward = (np.arange(self.n_states) == self.goal).astype(float)
        self._table = api.StepTable(
            # noise u below thresholds[0] keeps the intended move; [k−1] ≤ u < [k] gives bucket k
            thresholds=1.0 - c.slip + c.slip * np.arange(3) / 3.0,
            next_states=next_states,
            rewards=goal_reward[next_states],  # 1 for landing on the goal
        )

    def reset(self, noise: np.ndarray) -> np.ndarray:
        """Every episode starts in the start cell (the noise is unused)."""
        return np.full(noise.shape[:2], self.start, dtype=np.int64)

    def step(
        self, states: np.ndarray, actions: np.ndarray, noise: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Slippery moves: u < 1 − slip keeps the action, else u picks one of the other three."""
        return self._table.step(states, actions, noise[..., 0])

    def step_table(self) -> api.StepTable:
        """The step as lookup tables: three thresholds split [0, 1) into four move buckets."""
        return self._table

    def tables(self) -> api.TransitionTables:
        """Exact joint model (one agent, so joint = local): P, expected rewards and ρ."""
        S, A = self.n_states, self.n_actions
        slip = self.config.slip
        realised = np.full((A, A), slip / 3.0)
        np.fill_diagonal(realised, 1.0 - slip)  # realised[a, m]: P(move m | action a)
        P = np.zeros((S, A, S))
        for m in range(A):  # four moves, not a hot path
            P[np.arange(S)[:, None], np.arange(A)[None, :], self._moved[:, m][:, None]] += realised[
                :, m
            ][None, :]
        rewards = P[:, :, self.goal].copy()
        initial = np.zeros(S)
        initial[self.start] = 1.0
        return api.TransitionTables(P, rewards, initial)


@zobench.hookimpl
def zobench_register_environments(register):
    """Register the GridWorld."""
    register(GridWorld)
