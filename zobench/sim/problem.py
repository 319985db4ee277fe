"""The problem an algorithm is handed: environment + network + panel + policy + rng + ledger.

Everything an algorithm learns from passes through here, so the ledger charges it and a
preference-only algorithm can never see a reward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zobench import api
from zobench.errors import RewardAccessError
from zobench.sim import policy as softmax
from zobench.sim.ledger import Ledger
from zobench.sim.network import Network
from zobench.sim.panel import Panel
from zobench.sim.rollout import Trajectories, rollout


@dataclass
class Problem:
    """What one run's algorithm works on. Built by :func:`build_problem` (or the runner)."""

    env: api.Environment
    network: Network
    panel: Panel
    preference: api.PreferenceModel
    rng: np.random.Generator
    """The algorithm's own randomness (perturbations, mini-batches, its rollouts)."""
    ledger: Ledger
    uses_rewards: bool = False

    @property
    def n_agents(self) -> int:
        """Number of agents."""
        return self.env.n_agents

    @property
    def theta_shape(self) -> tuple[int, int, int]:
        """Shape of the policy parameters: ``(n_agents, n_states, n_actions)``."""
        return (self.env.n_agents, self.env.n_states, self.env.n_actions)

    @property
    def dimension(self) -> int:
        """Number of policy parameters d."""
        n, s, a = self.theta_shape
        return n * s * a

    def initial_theta(self) -> np.ndarray:
        """θ₀ = 0: the uniform policy (spec §9)."""
        return np.zeros(self.theta_shape)

    def rollout(self, theta: np.ndarray, batch: int) -> Trajectories:
        """``batch`` episodes of the policy θ; charges episodes and env steps."""
        traj = rollout(self.env, theta, batch=batch, rng=self.rng)
        self.ledger.charge_rollout(traj)
        return traj

    def rollout_pair(
        self, theta0: np.ndarray, theta1: np.ndarray, batch: int, *, common_noise: bool = False
    ) -> tuple[Trajectories, Trajectories]:
        """Paired batches of θ₀ and θ₁ from the same initial-state distribution.

        With ``common_noise`` both share initial states and environment noise (common random
        numbers), which lowers the variance of their difference; otherwise they are independent.
        """
        from zobench.sim.rollout import paired_rollout

        first, second = paired_rollout(
            self.env, theta0, theta1, batch=batch, rng=self.rng, common_noise=common_noise
        )
        self.ledger.charge_rollout(first)
        self.ledger.charge_rollout(second)
        return first, second

    def rewards(self, traj: Trajectories) -> np.ndarray:
        """The rewards ``(B, H, n)`` of a batch: only for algorithms that declare ``uses_rewards``."""
        if not self.uses_rewards:
            raise RewardAccessError(
                "this algorithm is preference-only (uses_rewards = False) and may not read rewards"
            )
        self.ledger.reward_obs += traj.hidden_rewards.size
        return traj.hidden_rewards

    def log_prob(self, theta: np.ndarray, traj: Trajectories) -> np.ndarray:
        """Per-step log-probabilities ``(B, H, n)`` of the batch's actions under θ."""
        return softmax.log_prob(theta, traj.states[:, :-1], traj.actions)
