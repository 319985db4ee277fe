"""What the simulation kernel needs from the outside world, defined by the kernel itself.

The kernel (``zobench.sim``) sits below the plugin contracts (``zobench.api``): it names the
shapes it works with here, as small protocols and data types, and the contracts build on them
(:class:`zobench.api.Environment` satisfies :class:`EnvironmentLike`, and
:class:`zobench.api.PreferenceModel` satisfies :class:`LinkLike`). So the kernel can be read,
imported and tested without the contracts, and the two never import each other in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

if TYPE_CHECKING:
    from zobench.sim.network import Network


class Channel(StrEnum):
    """What an algorithm may learn from; it declares the channels it consumes.

    Equal to its plain string value, so ``consumes = frozenset({"preferences"})`` works too.
    """

    PREFERENCES = "preferences"
    """The panel's votes on pairs of trajectories (or of batches), charged per vote."""
    REWARDS = "rewards"
    """True per-step rewards and returns of the algorithm's own episodes, charged per value."""
    MODEL = "model"
    """The environment's model: transition tables (rewards included) and reference policy."""


CHANNELS: frozenset[Channel] = frozenset(Channel)
"""Every channel."""


def channels(declared: Any) -> frozenset[Channel]:
    """``declared`` (an iterable of names) as a frozenset of :class:`Channel`; unknown names raise."""
    if isinstance(declared, str):
        raise TypeError(f"consumes must be a set of channel names, not the string {declared!r}")
    names = list(declared)
    unknown = sorted(str(n) for n in names if n not in CHANNELS)
    if unknown:
        raise ValueError(
            f"unknown channel(s) {', '.join(unknown)}; the channels are "
            f"{', '.join(sorted(c.value for c in Channel))}"
        )
    return frozenset(Channel(n) for n in names)


ReferenceKind = Literal["exact", "certified bound", "approximate"]
"""What a normalized score's 1 is: ``"exact"``, the optimal J by dynamic programming or the
environment's exact computation; ``"certified bound"``, a proven upper bound on the optimal J
(a learner cannot exceed it; the optimum lies between the best known policy's value and it);
``"approximate"``, the Monte Carlo value of the environment's reference policy (a learner can
exceed it)."""

REFERENCE_KINDS: tuple[ReferenceKind, ...] = ("exact", "certified bound", "approximate")
"""Every :data:`ReferenceKind`, strongest first."""


@dataclass(frozen=True)
class TransitionTables:
    """A tabular model of the joint MDP, for exact evaluation and dynamic programming.

    Joint states and actions are indexed in mixed radix, agent 0 least significant:
    ``s = Σ_i s_i · S^i`` and ``a = Σ_i a_i · A^i`` (see :mod:`zobench.sim.evaluate`).
    """

    transitions: np.ndarray
    """``P[s, a, s']``, shape ``(S_joint, A_joint, S_joint)``; rows sum to 1."""
    rewards: np.ndarray
    """Expected reward averaged over agents, ``R[s, a] = E[(1/n) Σ_i r_i | s, a]``."""
    initial: np.ndarray
    """Initial joint-state distribution ``ρ``, shape ``(S_joint,)``."""


class EnvironmentLike(Protocol):
    """What the kernel uses of an environment (see :class:`zobench.api.Environment`).

    The sizes and constants are read-only here, so class and instance attributes both qualify.
    """

    @property
    def name(self) -> str:
        """The registered name."""

    @property
    def networked(self) -> bool:
        """True when agents are coupled through the network."""

    @property
    def n_agents(self) -> int:
        """Number of agents n."""

    @property
    def n_states(self) -> int:
        """Local states per agent."""

    @property
    def n_actions(self) -> int:
        """Local actions per agent."""

    @property
    def horizon(self) -> int:
        """Episode length H."""

    @property
    def gamma(self) -> float:
        """Discount γ."""

    @property
    def noise_dims(self) -> int:
        """Uniforms per agent and step."""

    @property
    def reward_span(self) -> float:
        """Width of each agent's per-step reward."""

    def connect(self, network: Network) -> None:
        """Attach the agents' network."""

    def reset(self, noise: np.ndarray) -> np.ndarray:
        """Initial local states ``(batch, n_agents)`` from noise ``(batch, n, noise_dims)``."""

    def step(
        self, states: np.ndarray, actions: np.ndarray, noise: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One step for a batch: ``(next_states, rewards)``, both ``(B, n)``."""

    def tables(self) -> TransitionTables | None:
        """The joint tabular model, or ``None``."""

    def step_table(self) -> StepTable | None:
        """The step as lookup tables for the compiled kernel, or ``None``."""

    def reference_policy(self) -> np.ndarray | None:
        """Parameters of a known (near-)optimal policy, or ``None``."""

    def exact_optimum(self) -> float | None:
        """The exact optimal J of the connected instance, or ``None``."""

    def optimum_bounds(self) -> tuple[float | None, float] | None:
        """A certified bracket ``(lower or None, upper)`` on the optimal J, or ``None``."""


class LinkLike(Protocol):
    """What the panel uses of a preference model (see :class:`zobench.api.PreferenceModel`).

    ``config`` carries ``scale``, ``mistake``, ``myopia``, ``skip`` and ``equal``.
    """

    config: Any

    def link(self, x: np.ndarray) -> np.ndarray:
        """Probability that the second trajectory wins given the return difference ``x``."""

    def inverse(self, p: np.ndarray) -> np.ndarray:
        """Return difference implied by the win probability ``p``."""


@dataclass(frozen=True, eq=False)
class StepTable:
    """An environment's step as lookup tables, so the rollout kernel can run it compiled.

    It applies when every agent moves on its own: from local state s by action a, with its first
    noise uniform u, the outcome is ``k = #{j : u >= thresholds[s, a, j]}`` (inverse CDF, as
    actions are sampled), the next state ``next_states[s, a, k]`` and the reward
    ``rewards[s, a, k]``. :meth:`step` is that rule in numpy; an environment that offers a table
    must return exactly it from :meth:`Environment.step` (most simply by calling :meth:`step`),
    so the numpy and compiled rollout paths give bit-identical episodes.
    """

    thresholds: np.ndarray
    """Outcome thresholds ``(S, A, K − 1)``, non-decreasing along the last axis, or ``(K − 1,)``
    shared by every (state, action). ``+inf`` marks outcomes a uniform can never reach."""
    next_states: np.ndarray
    """Next local state of every (state, action, outcome), ``(S, A, K)`` int."""
    rewards: np.ndarray
    """Reward of every (state, action, outcome), ``(S, A, K)`` float."""

    next_flat: np.ndarray = field(init=False, repr=False)
    """``next_states`` flattened: entry ``(s·A + a)·K + k``."""
    reward_flat: np.ndarray = field(init=False, repr=False)
    """``rewards`` flattened like :attr:`next_flat`."""
    threshold_rows: np.ndarray = field(init=False, repr=False)
    """``thresholds`` as rows ``(S·A or 1, K − 1)``: one row per (state, action), or one shared."""

    def __post_init__(self) -> None:
        S, A, K = self.next_states.shape
        if self.rewards.shape != (S, A, K):
            raise ValueError(f"rewards {self.rewards.shape} and next_states {(S, A, K)} differ")
        if self.thresholds.shape not in ((K - 1,), (S, A, K - 1)):
            raise ValueError(
                f"thresholds {self.thresholds.shape} fit neither {(K - 1,)} nor {(S, A, K - 1)}"
            )
        # flat, contiguous copies for one gather per step (numpy) and for the compiled kernel
        flat = {
            "next_flat": np.ascontiguousarray(self.next_states, dtype=np.int64).reshape(-1),
            "reward_flat": np.ascontiguousarray(self.rewards, dtype=np.float64).reshape(-1),
            "threshold_rows": np.ascontiguousarray(self.thresholds, dtype=np.float64).reshape(
                1 if self.thresholds.ndim == 1 else S * A, K - 1
            ),
        }
        for name, value in flat.items():
            object.__setattr__(self, name, value)

    @property
    def shared(self) -> bool:
        """True when one row of thresholds serves every (state, action)."""
        return self.thresholds.ndim == 1

    def step(
        self, states: np.ndarray, actions: np.ndarray, uniforms: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Next states and rewards for ``states``, ``actions`` and one uniform each (any shape)."""
        _, A, K = self.next_states.shape
        index = states * A + actions
        if K > 1:
            index *= K
            if self.shared:
                index += np.searchsorted(self.threshold_rows[0], uniforms, side="right")
            else:
                rows = self.threshold_rows[index // K]
                index += (uniforms[..., None] >= rows).sum(axis=-1)
        return np.take(self.next_flat, index), np.take(self.reward_flat, index)
