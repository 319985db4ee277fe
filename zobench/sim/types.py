"""What the simulation kernel needs from the outside world, defined by the kernel itself.

The kernel (``zobench.sim``) sits below the plugin contracts (``zobench.api``): it names the
shapes it works with here, as small protocols and data types, and the contracts build on them
(:class:`zobench.api.Environment` satisfies :class:`EnvironmentLike`, and
:class:`zobench.api.PreferenceModel` satisfies :class:`LinkLike`). So the kernel can be read,
imported and tested without the contracts, and the two never import each other in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

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

    def reference_policy(self) -> np.ndarray | None:
        """Parameters of a known (near-)optimal policy, or ``None``."""


class LinkLike(Protocol):
    """What the panel uses of a preference model (see :class:`zobench.api.PreferenceModel`).

    ``config`` carries ``scale``, ``mistake``, ``myopia``, ``skip`` and ``equal``.
    """

    config: Any

    def link(self, x: np.ndarray) -> np.ndarray:
        """Probability that the second trajectory wins given the return difference ``x``."""

    def inverse(self, p: np.ndarray) -> np.ndarray:
        """Return difference implied by the win probability ``p``."""
