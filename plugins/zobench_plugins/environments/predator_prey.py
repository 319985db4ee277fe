"""Predator–prey (DZOPG §5.2; docs/algorithms.md#predator-prey): n predators capture static prey on a grid with obstacles.

Each agent (predator) observes only its own cell and takes one of the five actions of
:data:`~zobench_plugins.environments.net_gridworld.ACTIONS`. A move into the boundary or an
obstacle leaves the agent where it is; with probability ``slip`` a move fails (0 by default,
the paper names no transition noise). The prey never move and disappear once caught. Agent i's
reward after step t is (DZOPG eq. (38), reconstructed from its prose)

    r_i(t) = −c_time + Σ_{k ∈ 𝒫(t)} 1{s_i(t+1) = p_k} · R_cap / |𝒞_k(t)| − η · d_i(t),

with 𝒫(t) the prey remaining before the step, 𝒞_k(t) the agents that stand on prey k after it
(they share its capture reward), and d_i(t) = min_{k ∈ 𝒫(t)} ‖s_i(t+1) − p_k‖₂. Rewards are
taken at the positions after the move, as in the networked GridWorld, so that an action is
paid for on its own step. Once every prey is caught the task is done and every later reward is
0; otherwise the time cost would be paid whatever the agents do and reward nothing.

**State between reset and the end of an episode.** Which prey remain is not part of any
agent's local state (the paper's agents see only their own position), so the environment keeps
a per-episode mask ``(B, n_prey)``: :meth:`reset` starts it full and :meth:`step` removes the
prey caught. An instance therefore runs one batch of episodes at a time, reset → H steps, which
is how :mod:`zobench.sim.rollout` drives it; a step on a batch of another size is refused. For
the same reason there are no exact tables (the joint model would need the mask). The optimum is
bracketed instead: above by a certified relaxation bound (:mod:`.pp_bound`), to which scores are
normalized, below by the Monte Carlo value of the greedy policy toward the nearest prey.

Layout: obstacles, prey and starts that are not listed are drawn by a rule seeded by
``layout_seed`` (obstacles redrawn until the free cells are connected; starts distinct while
free cells last, then shared), so any number of agents works; ``size = None`` grows the grid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

import zobench
from zobench import api
from zobench.sim import kernel
from zobench_plugins.environments import pp_bound
from zobench_plugins.environments.net_gridworld import (
    ACTIONS,
    coordinates,
    fitting_size,
    greedy_theta,
    grid_distances,
    spread_cells,
)

COMPILED_STEP = "zobench_plugins.environments._predator_prey_compiled"
"""The module of the compiled step, loaded by the kernel's warm-up before a run is timed."""
kernel.compile_with_kernel(COMPILED_STEP)

LAYOUT_TRIES = 100
"""Obstacle draws tried before giving up on a layout whose free cells are connected."""

Cells = tuple[tuple[int, int], ...]

NEAREST_TABLE_ENTRIES = 1 << 20
"""Most entries (2^P · S) of the compiled step's nearest-prey table; beyond, it loops over prey."""


def nearest_prey_table(prey_distance: np.ndarray) -> np.ndarray:
    """Distance from every cell to the nearest prey of every set of prey, ``(2^P, S)``.

    Row m holds, for the prey whose bits are set in m, the minimum over them of
    ``prey_distance[s, p]`` (∞ for the empty set): the very number the step's loop over the
    remaining prey finds, looked up once per agent instead. ``(0, S)`` when the table would
    exceed :data:`NEAREST_TABLE_ENTRIES`.
    """
    S, P = prey_distance.shape
    if (1 << P) * S > NEAREST_TABLE_ENTRIES:
        return np.zeros((0, S))
    table = np.full((1 << P, S), np.inf)
    for mask in range(1, 1 << P):
        members = [p for p in range(P) if mask >> p & 1]
        table[mask] = prey_distance[:, members].min(axis=1)  # a minimum is exact in any order
    return table


@dataclass(frozen=True)
class PredatorPreyConfig:
    """Settings of predator–prey (docs/algorithms.md#predator-prey; every value is ours)."""

    n_agents: int = api.param(8, "Number of predators n.", source="ours")
    size: int | None = api.param(
        7,
        "Side L of the grid. None: the smallest L ≥ 3 with a distinct cell for every "
        "obstacle, prey and agent.",
        source="ours",
    )
    n_prey: int = api.param(3, "Number of prey (listed ones included).", source="ours")
    prey: tuple[tuple[int, int], ...] = api.param(
        (), "Prey cells (x, y); the rest are drawn by the rule.", source="ours"
    )
    n_obstacles: int = api.param(4, "Number of obstacle cells (listed included).", source="ours")
    obstacles: tuple[tuple[int, int], ...] = api.param(
        (), "Obstacle cells (x, y); the rest drawn.", source="ours"
    )
    starts: tuple[tuple[int, int], ...] = api.param(
        (), "Start cells of the first agents; the rest drawn.", source="ours"
    )
    layout_seed: int = api.param(0, "Seed of the layout rule.", source="ours")
    time_cost: float = api.param(0.1, "c_time paid by every agent every step.", source="ours")
    capture_reward: float = api.param(
        10.0, "R_cap, shared by the agents on a prey when it is caught.", source="ours"
    )
    shaping: float = api.param(
        0.1, "η of the distance shaping −η · (distance to the nearest prey).", source="ours"
    )
    slip: float = api.param(0.0, "Probability that a move fails (the agent stays).", source="ours")
    horizon: int = api.param(30, "Episode length of the objective.", source="ours")
    gamma: float = api.param(0.95, "Discount γ of the objective.", source="ours")
    reference: Literal["bound", "greedy"] = api.param(
        "bound",
        "What a normalized score's 1 is. 'bound': the certified upper bound on the optimum by "
        "relaxation (pp_bound; no policy exceeds it), the optimum lying between the greedy "
        "policy's value and it. 'greedy': the Monte Carlo value of the greedy chase policy, an "
        "approximation a learner can exceed (boards before certified bounds used it).",
        source="ours",
    )

    def __post_init__(self) -> None:
        if self.n_agents < 1 or self.n_prey < 1 or self.n_obstacles < 0:
            raise ValueError("need n_agents >= 1, n_prey >= 1 and n_obstacles >= 0")
        if len(self.prey) > self.n_prey or len(self.obstacles) > self.n_obstacles:
            raise ValueError("more prey or obstacles listed than n_prey or n_obstacles")
        if len(self.starts) > self.n_agents:
            raise ValueError(f"{len(self.starts)} starts listed for {self.n_agents} agents")
        listed = [*self.prey, *self.obstacles, *self.starts]
        if any(len(c) != 2 or min(c) < 0 for c in listed):
            raise ValueError("listed cells must be (x, y) with x, y >= 0")
        if self.size is not None and (self.size < 2 or any(max(c) >= self.size for c in listed)):
            raise ValueError(f"size must be >= 2 and hold every listed cell, got {self.size}")
        if len({*self.prey, *self.obstacles}) < len(self.prey) + len(self.obstacles):
            raise ValueError("prey and obstacle cells must be distinct")
        if not 0.0 <= self.slip < 1.0:
            raise ValueError(f"slip must lie in [0, 1), got {self.slip}")
        if self.time_cost < 0 or self.capture_reward < 0 or self.shaping < 0:
            raise ValueError("time_cost, capture_reward and shaping must be >= 0")
        if self.horizon < 1 or not 0.0 < self.gamma <= 1.0:
            raise ValueError("need horizon >= 1 and gamma in (0, 1]")


class PredatorPrey(api.Environment):
    """Predators on a grid with obstacles capture static prey, sharing each capture's reward."""

    name = "predator-prey"
    summary = "Predator–prey: agents capture static prey on a grid with obstacles (DZOPG §5.2)."
    source = (
        "Dai et al., arXiv 2605.15697, §5.2 (every setting ours: docs/algorithms.md#predator-prey)"
    )
    Config = PredatorPreyConfig
    networked = True
    default_topology = "chain"
    noise_dims = 1

    def __init__(self, config: PredatorPreyConfig | None = None) -> None:
        super().__init__(config)
        c = self.config
        n = c.n_agents
        L = c.size
        if L is None:
            L = fitting_size(3, c.n_obstacles + c.n_prey + n, [*c.prey, *c.obstacles, *c.starts])
        self.size = L
        self.n_agents, self.n_states, self.n_actions = n, L * L, len(ACTIONS)
        self.horizon, self.gamma = c.horizon, c.gamma
        rng = np.random.default_rng(c.layout_seed)
        xy = coordinates(L)

        def cells(listed: Cells) -> np.ndarray:
            return np.array([x * L + y for x, y in listed], dtype=np.int64)

        prey, obstacles, starts = cells(c.prey), cells(c.obstacles), cells(c.starts)
        for _ in range(LAYOUT_TRIES):
            extra = self._draw(c.n_obstacles - len(obstacles), [prey, obstacles, starts], rng)
            blocked = np.concatenate([obstacles, extra])
            self._next = self._moves(xy, blocked)
            free = np.setdiff1d(np.arange(L * L), blocked)
            if np.isfinite(grid_distances(self._next, free[:1])[free]).all():
                break
        else:
            raise ValueError(
                f"no obstacle layout with connected free cells in {LAYOUT_TRIES} draws"
            )
        self.obstacles = blocked
        """Obstacle cells ``(n_obstacles,)``."""
        self.prey = np.concatenate(
            [prey, self._draw(c.n_prey - len(prey), [prey, blocked, starts], rng)]
        )
        """Prey cells ``(n_prey,)``; prey k is column k of the remaining-prey mask."""
        placed = spread_cells(
            L,
            n - len(starts),
            reserved=np.concatenate([blocked, self.prey, starts]),
            first=np.zeros(0, dtype=np.int64),
            rng=rng,
        )
        self.starts = np.concatenate([starts, placed])
        """Start cell of every agent ``(n,)``."""
        self._prey_of_cell = np.full(L * L, -1, dtype=np.int64)
        self._prey_of_cell[self.prey] = np.arange(len(self.prey))
        self._prey_distance = np.linalg.norm(xy[:, None, :] - xy[self.prey][None], axis=-1)
        self._nearest = nearest_prey_table(self._prey_distance)
        self.reward_span = max(c.capture_reward, c.time_cost) + c.shaping * np.sqrt(2) * (L - 1)
        """Width of the per-step reward range (the ZO algorithms' return bounds use it)."""
        self._remaining: np.ndarray | None = None

    def _draw(self, count: int, taken: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
        """``count`` distinct random cells outside ``taken`` (layout helper)."""
        free = np.setdiff1d(np.arange(self.n_states), np.concatenate(taken))
        if count > len(free):
            raise ValueError(f"the {self.size}×{self.size} grid has too few free cells")
        return rng.choice(free, size=count, replace=False) if count > 0 else free[:0]

    def _moves(self, xy: np.ndarray, blocked: np.ndarray) -> np.ndarray:
        """Next cell of every (cell, action) ``(S, A)``: off-grid or into an obstacle → stay."""
        L = self.size
        target = xy[:, None, :] + ACTIONS[None]
        inside = ((target >= 0) & (target < L)).all(-1)
        cell = np.where(inside, target[..., 0] * L + target[..., 1], np.arange(L * L)[:, None])
        return np.where(np.isin(cell, blocked), np.arange(L * L)[:, None], cell)

    # -- dynamics ------------------------------------------------------------------------------

    def reset(self, noise: np.ndarray) -> np.ndarray:
        """Fixed starts; every prey present again (the per-episode mask is reset)."""
        B = noise.shape[0]
        self._remaining = np.ones((B, len(self.prey)), dtype=bool)
        return np.broadcast_to(self.starts, noise.shape[:2]).copy()

    def _check_batch(self, states: np.ndarray) -> np.ndarray:
        remaining = self._remaining
        if remaining is None or remaining.shape[0] != states.shape[0]:
            raise RuntimeError(
                "predator-prey tracks the remaining prey per episode: call reset() on this "
                "batch before step()"
            )
        return remaining

    def step(
        self, states: np.ndarray, actions: np.ndarray, noise: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Blocked moves stay; captures share R_cap; shaping; caught prey leave (eq. 38).

        Runs compiled (:mod:`._predator_prey_compiled`, identical results) unless the kernel
        is numpy (``ZOBENCH_KERNEL=numpy`` or no numba); :meth:`numpy_step` is the reference.
        """
        if not kernel.compiled_available():
            return self.numpy_step(states, actions, noise)
        from zobench_plugins.environments._predator_prey_compiled import predator_prey_step

        remaining = np.array(self._check_batch(states), order="C")  # updated in place
        parameters = (*self._step_parameters(), remaining)
        next_states, rewards = kernel.call_step(
            predator_prey_step, parameters, states, actions, noise
        )
        self._remaining = remaining
        return next_states, rewards

    def _step_parameters(self) -> tuple[Any, ...]:
        """The compiled step's fixed leading parameters (the remaining prey follow them)."""
        c = self.config
        return (
            self._next.reshape(-1),
            self._prey_of_cell,
            self._prey_distance,
            self._nearest,
            self.n_actions,
            c.slip,
            c.time_cost,
            c.capture_reward,
            c.shaping,
        )

    def compiled_step(self) -> tuple[Callable[..., None], tuple[Any, ...]]:
        """A step the kernel's time loop calls with the rollout's own buffers as outputs.

        The loop asks for it before :meth:`reset` makes the batch's remaining-prey mask, so the
        mask cannot be one of the fixed parameters: the step returned is a small Python
        function that passes the current mask (updated in place, as :meth:`step` updates its
        copy) to the compiled step, which writes straight into the buffers. Same states and
        rewards as :meth:`step` without a step's two fresh ``(B, n)`` arrays and their copies
        into the buffers: a rollout of 100,000 episodes took 365 instead of 455 ms, one of
        1,600 (online DPO's) 5.2 instead of 6.0 ms (measured, one core). At offline DPO's
        800,000 episodes both take about as long: first-touching the buffers dominates.
        """
        from zobench_plugins.environments._predator_prey_compiled import predator_prey_step

        moves, prey_of_cell, distance, nearest, n_actions, slip, cost, capture, shaping = (
            self._step_parameters()
        )

        def step(
            states: np.ndarray,
            actions: np.ndarray,
            uniforms: np.ndarray,
            next_states: np.ndarray,
            rewards: np.ndarray,
        ) -> None:
            remaining = self._check_batch(states)
            if not remaining.flags.c_contiguous or not remaining.flags.writeable:
                remaining = self._remaining = np.array(remaining, order="C")
            predator_prey_step(
                moves,
                prey_of_cell,
                distance,
                nearest,
                n_actions,
                slip,
                cost,
                capture,
                shaping,
                remaining,
                states,
                actions,
                uniforms,
                next_states,
                rewards,
            )

        return step, ()

    def numpy_step(
        self, states: np.ndarray, actions: np.ndarray, noise: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`step` in numpy: the reference the compiled step must equal bit for bit."""
        remaining = self._check_batch(states)
        B = states.shape[0]
        c = self.config
        moved = np.take(self._next, states * self.n_actions + actions)
        if c.slip:
            moved = np.where(noise[..., 0] < c.slip, states, moved)
        active = remaining.any(axis=1, keepdims=True)  # episodes with prey left (B, 1)
        # captures: agents standing on a prey that is still there
        prey = np.take(self._prey_of_cell, moved)  # (B, n), −1 off prey
        on = prey >= 0
        on &= np.take_along_axis(remaining, np.maximum(prey, 0), axis=1)
        key = (np.arange(B)[:, None] * len(self.prey) + prey)[on]
        captors = np.bincount(key, minlength=remaining.size).reshape(remaining.shape)
        share = np.zeros(states.shape)
        share[on] = c.capture_reward / captors.ravel()[key]
        # distance shaping to the nearest remaining prey (0 once none remain)
        distance = np.where(remaining[:, None, :], self._prey_distance[moved], np.inf).min(-1)
        rewards = np.where(active, -c.time_cost + share - c.shaping * distance, 0.0)
        self._remaining = remaining & (captors == 0)
        return moved, rewards

    # -- reference -----------------------------------------------------------------------------

    def reference_policy(self) -> np.ndarray:
        """Greedy toward the nearest prey: in every cell, the move with the fewest steps left.

        Distances go around obstacles (breadth-first search from the prey). The policy sees its
        own cell only, so it cannot know which prey are gone: an approximate reference.
        """
        return greedy_theta(self.n_agents, self._next, grid_distances(self._next, self.prey))

    def optimum_bounds(self) -> tuple[float | None, float] | None:
        """The relaxation's certified upper bound (:func:`pp_bound.upper_bound`), in about 5 ms.

        The lower end is left to the core: the greedy policy's Monte Carlo value. ``None`` with
        ``reference = "greedy"``.
        """
        if self.config.reference != "bound":
            return None
        return None, pp_bound.upper_bound(self)


@zobench.hookimpl
def zobench_register_environments(register):
    """Register predator–prey."""
    register(PredatorPrey)
