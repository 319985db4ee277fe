"""Networked GridWorld (DZOPG §5.1; docs/algorithms.md#net-gridworld): n agents reach one goal under coupled noise.

Every agent walks an L × L grid; its local state is its own cell ``s = x·L + y``. Actions are
the five displacements stay, (0, +1), (0, −1), (−1, 0), (+1, 0) [C]. A move is perturbed by a
noise ε_i that is (0, 0) with probability 1 − σ_i(t) and each unit move with σ_i(t)/4, and the
result is clipped to the grid (eq. 26–27):

    s_i(t+1) = clip(s_i(t) + a_i(t) + ε_i(t), 0, L − 1).

The noise level couples the agents through the network: the more of agent i's 1-hop
neighbourhood N_i (i included, the paper's N_i^1) stands on the goal, the calmer its moves,

    σ_i(t) = σ_max − (σ_max − σ_min) · #{j ∈ N_i : s_j(t) = g} / |N_i|      (count rule),

or, in the author's code, σ_min as soon as any member of N_i is on the goal (``noise_rule =
"any"``; the code's in-place sequential update of agents is not reproduced). Before reaching
the goal an agent pays r_i(t) = −(c + ‖s_i(t+1) − g‖₂) (eq. 31); the goal is absorbing with
reward 0, and arrival pays ``arrival_reward`` (0 in the paper's text, +10 in the code). The
safety variant (eq. 37) subtracts λ whenever another agent shares agent i's cell s_i(t) ≠ g.

Any number of agents: starts that are not listed are placed by a seeded rule (the corners
first, then the other cells in a random order drawn from ``layout_seed``; beyond L² − 1 agents
cells are shared), and ``size = None`` grows the grid to the smallest that gives every agent its
own start cell. The helpers here (:data:`ACTIONS`, :func:`spread_cells`, :func:`greedy_theta`,
:func:`fitting_size`, :func:`grid_distances`) also serve
:mod:`zobench_plugins.environments.predator_prey`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

import zobench
from zobench import api
from zobench.sim import kernel
from zobench_plugins.environments import net_exact

if TYPE_CHECKING:
    from zobench.sim.network import Network

ACTIONS = np.array([(0, 0), (0, 1), (0, -1), (-1, 0), (1, 0)])
"""(dx, dy) of the actions stay, +y, −y, −x, +x (the DZOPG author's code)."""

LOGIT = 20.0
"""Logit of the chosen action in reference policies: probability 1 − 4·e⁻²⁰ ≈ 1 − 8e−9."""

COMPILED_STEP = "zobench_plugins.environments._net_gridworld_compiled"
"""The module of the compiled step, loaded by the kernel's warm-up before a run is timed."""
kernel.compile_with_kernel(COMPILED_STEP)

TABLE_LIMIT = 10_000_000
"""Largest joint transition table built (entries S_joint² · A_joint, float64: 80 MB); covers
2 agents on a 5 × 5 grid and 3 agents on a 2 × 2 grid, not the default 4 agents."""


# ---------------------------------------------------------------------------------------------
# Grid helpers (shared with predator-prey)
# ---------------------------------------------------------------------------------------------


def coordinates(size: int) -> np.ndarray:
    """(x, y) of every cell ``(L², 2)``; cell index s = x·L + y."""
    return np.stack(np.divmod(np.arange(size * size), size), axis=1)


def fitting_size(minimum: int, cells: int, listed: list[tuple[int, int]]) -> int:
    """Smallest side L ≥ ``minimum`` with L² ≥ ``cells`` that contains every ``listed`` cell."""
    side = max([minimum, *(max(c) + 1 for c in listed)])
    while side * side < cells:
        side += 1
    return side


def spread_cells(
    size: int, count: int, *, reserved: np.ndarray, first: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``count`` cells, not in ``reserved``: the ``first`` cells in order, then a random order.

    Distinct while the free cells last; beyond, the list is reused cyclically (cells shared).
    """
    free = np.setdiff1d(np.arange(size * size), reserved)
    if not len(free):
        raise ValueError(f"no free cell left on the {size}×{size} grid")
    first = np.array([c for c in dict.fromkeys(first.tolist()) if c in set(free.tolist())], int)
    rest = rng.permutation(np.setdiff1d(free, first))
    order = np.concatenate([first, rest]).astype(np.int64)
    return order[np.arange(count) % len(order)]


def greedy_theta(n_agents: int, next_cells: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """θ ``(n, S, A)`` choosing in every cell the action whose noise-free next cell costs least.

    ``next_cells`` is ``(S, A)``; ties go to the first action. The chosen logit is :data:`LOGIT`.
    """
    S, A = next_cells.shape
    best = np.argmin(cost[next_cells], axis=1)
    theta = np.zeros((S, A))
    theta[np.arange(S), best] = LOGIT
    return np.broadcast_to(theta, (n_agents, S, A)).copy()


def grid_distances(next_cells: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Fewest moves from every cell to the nearest of ``sources`` (inf if unreachable).

    Multi-source breadth-first search over the move table ``(S, A)`` (moves are reversible on
    a grid, so distances to and from the sources agree); each round expands the whole frontier.
    """
    S = len(next_cells)
    distance = np.full(S, np.inf)
    distance[sources] = 0.0
    frontier = np.unique(sources)
    hops = 0
    while len(frontier):
        hops += 1
        reached = np.unique(next_cells[frontier])
        frontier = reached[np.isinf(distance[reached])]
        distance[frontier] = hops
    return distance


def joint_digits(count: int, base: int, n_agents: int) -> np.ndarray:
    """Local indices ``(count, n)`` of joint indices 0..count−1 (mixed radix, agent 0 lowest)."""
    return (np.arange(count)[:, None] // base ** np.arange(n_agents)) % base


# ---------------------------------------------------------------------------------------------
# The environment
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetGridWorldConfig:
    """Settings of the networked GridWorld (docs/algorithms.md#net-gridworld has each default's source)."""

    n_agents: int = api.param(4, "Number of agents n (the paper lists four starts).", source="ours")
    size: int | None = api.param(
        5,
        "Side L of the grid. None: the smallest L (at least 3) giving every agent its own "
        "start cell besides the goal and holding every listed cell.",
        source="author-code",
    )
    goal: tuple[int, int] = api.param((2, 2), "The common goal cell (x, y).", source="author-code")
    starts: tuple[tuple[int, int], ...] = api.param(
        (),
        "Start cells (x, y) of the first agents. Agents without one are placed by the rule: "
        "the four corners, then the other cells in a random order drawn from layout_seed.",
        source="ours",
    )
    layout_seed: int = api.param(0, "Seed of the start-placement rule.", source="ours")
    sigma_max: float = api.param(
        0.1, "Noise level σ_max when no neighbour is on the goal.", source="author-code"
    )
    sigma_min: float = api.param(
        0.02, "Noise level σ_min when the whole neighbourhood is on the goal.", source="author-code"
    )
    noise_rule: Literal["count", "any"] = api.param(
        "count",
        "'count': σ_i falls linearly with the share of N_i on the goal (the paper's prose); "
        "'any': σ_min once any member of N_i is on the goal (the author's code).",
        source="paper",
    )
    step_cost: float = api.param(
        1.0, "Fixed cost c in r = −(c + ‖s' − g‖₂) per step before the goal.", source="author-code"
    )
    arrival_reward: float = api.param(
        0.0,
        "Reward on the step that reaches the goal: 0 in the paper's text, 10 in the code.",
        source="paper",
    )
    collision_penalty: float = api.param(
        0.0,
        "λ of the safety variant (eq. 37): subtracted when another agent shares the cell "
        "s_i(t) ≠ g. The dzopg-safety suite sets λ = 2 (docs/algorithms.md#net-gridworld).",
        source="ours",
    )
    horizon: int = api.param(
        20, "Episode length of the objective (the code's horizon is 20 too).", source="ours"
    )
    gamma: float = api.param(0.9, "Discount γ of the objective.", source="author-code")
    reference: Literal["exact", "greedy"] = api.param(
        "exact",
        "What a normalized score's 1 is. 'exact': the exact optimum by dynamic programming "
        "over per-agent contractions (computed once per instance and cached; beyond "
        "net_exact.EXACT_LIMIT, about 4 agents on 5×5, the greedy policy serves, labelled "
        "approximate). 'greedy': the Monte Carlo value of the greedy shortest-path policy, an "
        "approximation a learner can exceed (boards before exact references used it). Where "
        "joint tables exist (2 agents on 5×5) their optimum is exact either way.",
        source="ours",
    )

    def __post_init__(self) -> None:
        if self.n_agents < 1:
            raise ValueError(f"n_agents must be >= 1, got {self.n_agents}")
        if self.size is not None and self.size < 2:
            raise ValueError(f"size must be >= 2 or None, got {self.size}")
        if len(self.starts) > self.n_agents:
            raise ValueError(f"{len(self.starts)} starts listed for {self.n_agents} agents")
        cells = [self.goal, *self.starts]
        if any(len(c) != 2 or min(c) < 0 for c in cells):
            raise ValueError("goal and starts must be (x, y) cells with x, y >= 0")
        if self.size is not None and any(max(c) >= self.size for c in cells):
            raise ValueError(f"a listed cell lies outside the {self.size}×{self.size} grid")
        if not 0.0 <= self.sigma_min <= self.sigma_max <= 1.0:
            raise ValueError("need 0 <= sigma_min <= sigma_max <= 1")
        if self.step_cost < 0 or self.collision_penalty < 0:
            raise ValueError("step_cost and collision_penalty must be >= 0")
        if self.horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {self.horizon}")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must lie in (0, 1], got {self.gamma}")


class NetGridWorld(api.Environment):
    """n agents on a grid, one absorbing goal, moves calmer as neighbours arrive (DZOPG §5.1).

    Vectorized over (batch, agents); the network enters through the 1-hop neighbourhoods of
    the noise rule. Exact tables exist for tiny joint problems (:data:`TABLE_LIMIT`); the exact
    optimum is computed without them up to :data:`net_exact.EXACT_LIMIT` (the default 4 agents
    included); beyond, the reference is the greedy shortest-path policy, evaluated by Monte
    Carlo and labelled approximate.
    """

    name = "net-gridworld"
    summary = "Networked GridWorld: n agents, one goal, neighbour-dependent noise (DZOPG §5.1)."
    source = "Dai et al., arXiv 2605.15697, §5.1 (defaults: docs/algorithms.md#net-gridworld)"
    Config = NetGridWorldConfig
    networked = True
    default_topology = "chain"
    noise_dims = 1

    def __init__(self, config: NetGridWorldConfig | None = None) -> None:
        super().__init__(config)
        c = self.config
        n = c.n_agents
        L = c.size
        if L is None:
            L = fitting_size(3, n + 1, [c.goal, *c.starts])
        self.size = L
        self.n_agents, self.n_states, self.n_actions = n, L * L, len(ACTIONS)
        self.horizon, self.gamma = c.horizon, c.gamma
        self.goal = c.goal[0] * L + c.goal[1]
        xy = coordinates(L)
        # next cell of every (cell, action, noise outcome); outcome 0 is ε = 0, 1..4 the unit
        # moves ACTIONS[1:]; the goal is absorbing
        shift = ACTIONS[:, None, :] + ACTIONS[None, :, :]  # (A, 5, 2)
        moved = np.clip(xy[:, None, None, :] + shift[None], 0, L - 1)
        nxt = moved[..., 0] * L + moved[..., 1]
        nxt[self.goal] = self.goal
        self._next = np.ascontiguousarray(nxt)  # (S, A, 5)
        self._distance = np.linalg.norm(xy - np.asarray(c.goal), axis=1)
        self._landing = -(c.step_cost + self._distance)
        self._landing[self.goal] = c.arrival_reward  # reward of a step that lands on the goal
        listed = np.array([x * L + y for x, y in c.starts], dtype=np.int64)
        corners = np.array([0, L - 1, (L - 1) * L, L * L - 1])
        placed = spread_cells(
            L,
            n - len(listed),
            reserved=np.concatenate([[self.goal], listed]),
            first=corners,
            rng=np.random.default_rng(c.layout_seed),
        )
        self.starts = np.concatenate([listed, placed])
        """Start cell of every agent ``(n,)``."""
        self.reward_span = max(c.arrival_reward, 0.0) + c.step_cost + self._distance.max()
        self.reward_span += c.collision_penalty
        """Width of the per-step reward range (the ZO algorithms' return bounds use it)."""
        self._model: tuple[api.TransitionTables, np.ndarray] | None = None
        self._compiled_parameters: tuple[Network, tuple[Any, ...]] | None = None
        """The network :meth:`compiled_step` last prepared for, and its parameters."""

    # -- dynamics ------------------------------------------------------------------------------

    def noise_level(self, at_goal: np.ndarray) -> np.ndarray:
        """σ_i ``(B, n)`` from who is on the goal ``(B, n)``, by the configured noise rule."""
        if self.network is None:
            raise RuntimeError("net-gridworld needs a network: call connect(network) first")
        # members of each N_i on the goal: a sparse gather over all agents at once
        on_goal = self.network.neighbourhood_sum(at_goal.astype(np.float32), 1)
        c = self.config
        if c.noise_rule == "any":
            return np.where(on_goal > 0, c.sigma_min, c.sigma_max)
        per_member = (c.sigma_max - c.sigma_min) / self.network.sizes(1)  # (n,)
        return c.sigma_max - on_goal * per_member

    def collisions(self, states: np.ndarray) -> np.ndarray:
        """``(B, n)`` bool: another agent of the same episode shares my cell, and it is not g."""
        B = states.shape[0]
        key = states + self.n_states * np.arange(B)[:, None]
        crowd = np.bincount(key.ravel(), minlength=B * self.n_states)
        return (crowd[key] > 1) & (states != self.goal)

    def reset(self, noise: np.ndarray) -> np.ndarray:
        """Every episode starts from the fixed start cells (the noise is unused)."""
        return np.broadcast_to(self.starts, noise.shape[:2]).copy()

    def step(
        self, states: np.ndarray, actions: np.ndarray, noise: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Eq. (26)–(27) moves and eq. (31)/(37) rewards for a batch ``(B, n)``.

        Runs compiled (:mod:`._net_gridworld_compiled`, identical results) unless the kernel
        is numpy (``ZOBENCH_KERNEL=numpy`` or no numba); :meth:`numpy_step` is the reference.
        """
        if kernel.compiled_available():
            return self._compiled_step(states, actions, noise)
        return self.numpy_step(states, actions, noise)

    def _compiled_step(
        self, states: np.ndarray, actions: np.ndarray, noise: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        step, parameters = self.compiled_step()
        return kernel.call_step(step, parameters, states, actions, noise)

    def compiled_step(self) -> tuple[Callable[..., None], tuple[Any, ...]]:
        """The compiled step and its leading parameters (see :func:`zobench.sim.kernel.call_step`).

        The kernel's time loop calls it once per step with the rollout's own buffers as outputs,
        so large batches neither allocate nor copy a step's states and rewards.
        """
        if self.network is None:
            raise RuntimeError("net-gridworld needs a network: call connect(network) first")
        from zobench_plugins.environments._net_gridworld_compiled import net_step

        if self._compiled_parameters is None or self._compiled_parameters[0] is not self.network:
            c = self.config
            parameters = (
                self._next.reshape(-1),
                self._landing,
                self.goal,
                self.n_actions,
                c.sigma_max,
                c.sigma_min,
                c.noise_rule == "any",
                (c.sigma_max - c.sigma_min) / self.network.sizes(1),
                *(np.ascontiguousarray(x, dtype=np.int64) for x in self.network.neighbourhood(1)),
                c.collision_penalty,
            )
            self._compiled_parameters = (self.network, parameters)
        return net_step, self._compiled_parameters[1]

    def numpy_step(
        self, states: np.ndarray, actions: np.ndarray, noise: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`step` in numpy: the reference the compiled step must equal bit for bit."""
        at_goal = states == self.goal
        sigma = self.noise_level(at_goal)
        # u < 1 − σ: no noise; otherwise four equal slices of width σ/4 pick the unit move
        over = noise[..., 0] - (1.0 - sigma)
        # (clipped before the cast: with σ = 0 the ratio is huge, and that branch is unused)
        slice_ = np.clip(over * 4.0 / np.maximum(sigma, 1e-12), 0.0, 3.0).astype(np.int64)
        outcome = np.where(over < 0.0, 0, 1 + slice_)
        index = (states * self.n_actions + actions) * 5 + outcome
        next_states = np.take(self._next, index)
        rewards = np.where(at_goal, 0.0, np.take(self._landing, next_states))
        if self.config.collision_penalty:
            rewards -= self.config.collision_penalty * self.collisions(states)
        return next_states, rewards

    # -- exact model and reference -------------------------------------------------------------

    def _joint_model(self) -> tuple[api.TransitionTables, np.ndarray] | None:
        """Joint tables and per-agent expected rewards ``(n, S_joint, A_joint)``, or None."""
        n, S, A = self.n_agents, self.n_states, self.n_actions
        J, K = S**n, A**n
        if J * J * K > TABLE_LIMIT:
            return None
        if self._model is None:
            s = joint_digits(J, S, n)  # (J, n) local states of every joint state
            a = joint_digits(K, A, n)  # (K, n)
            e = joint_digits(5**n, 5, n)  # (E, n) noise outcomes of every agent
            sigma = self.noise_level(s == self.goal)
            p = np.concatenate([1.0 - sigma[..., None], np.repeat(sigma[..., None] / 4, 4, -1)], -1)
            nxt = self._next[s[:, None, :, None], a[None, :, :, None], np.arange(5)]  # (J,K,n,5)
            landing = np.where((s == self.goal)[:, None, :, None], 0.0, self._landing[nxt])
            agent_rewards = (p[:, None] * landing).sum(-1)  # (J, K, n)
            agent_rewards -= self.config.collision_penalty * self.collisions(s)[:, None, :]
            agents = np.arange(n)
            # next joint state and probability of every combination of the agents' outcomes
            target = (nxt[:, :, agents, e] * S**agents).sum(-1)  # (J, K, E)
            weight = np.broadcast_to(p[:, agents, e].prod(-1)[:, None, :], target.shape)
            flat = (np.arange(J)[:, None, None] * K + np.arange(K)[None, :, None]) * J + target
            P = np.bincount(flat.ravel(), weights=weight.ravel(), minlength=J * K * J)
            initial = np.zeros(J)
            initial[(self.starts * S**agents).sum()] = 1.0
            tables = api.TransitionTables(P.reshape(J, K, J), agent_rewards.mean(-1), initial)
            self._model = (tables, np.moveaxis(agent_rewards, -1, 0))
        return self._model

    def tables(self) -> api.TransitionTables | None:
        """The exact joint model when S_joint² · A_joint ≤ :data:`TABLE_LIMIT`, else None."""
        model = self._joint_model()
        return None if model is None else model[0]

    def agent_reward_tables(self) -> np.ndarray | None:
        """Each agent's expected reward ``(n, S_joint, A_joint)`` (for truncated objectives)."""
        model = self._joint_model()
        return None if model is None else model[1]

    def reference_policy(self) -> np.ndarray:
        """Greedy shortest path: in every cell, the move whose noise-free target is nearest g."""
        return greedy_theta(self.n_agents, self._next[:, :, 0], self._distance)

    def exact_optimum(self) -> float | None:
        """The exact optimal J by :func:`net_exact.optimal_value`, within its limit.

        ``None`` with ``reference = "greedy"`` or past :data:`net_exact.EXACT_LIMIT` (the work
        grows ×5(L² − 1) per agent: 4 agents on 5 × 5 take about 25 s, 5 agents 50 minutes).
        """
        if self.config.reference != "exact" or not net_exact.within_limit(self):
            return None
        return net_exact.optimal_value(self)


@zobench.hookimpl
def zobench_register_environments(register):
    """Register the networked GridWorld."""
    register(NetGridWorld)
