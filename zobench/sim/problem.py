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
from zobench.sim.rollout import Trajectories, paired_rollout, rollout


@dataclass
class Problem:
    """What one run's algorithm works on. Built by :func:`build_problem` (or the runner)."""

    env: api.Environment
    network: Network
    panel: Panel
    preference: api.PreferenceModel
    rng: np.random.Generator
    """The algorithm's own randomness (perturbations, mini-batches, ...)."""
    ledger: Ledger
    uses_rewards: bool = False
    rollout_rng: np.random.Generator | None = None
    """Randomness of the episodes only (defaults to ``rng``). Kept apart from the algorithm's
    own draws so that the same seed gives every algorithm the same first episodes, however many
    perturbations it drew before (common random numbers across algorithms)."""

    @property
    def _episode_rng(self) -> np.random.Generator:
        return self.rng if self.rollout_rng is None else self.rollout_rng

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

    def rollout(self, theta: np.ndarray, batch: int, *, horizon: int | None = None) -> Trajectories:
        """``batch`` episodes of the policy θ; charges episodes and env steps.

        ``horizon`` shortens episodes below the environment's length (truncated feedback).
        """
        traj = rollout(self.env, theta, batch=batch, rng=self._episode_rng, horizon=horizon)
        self.ledger.charge_rollout(traj)
        return traj

    def rollout_pair(
        self,
        theta0: np.ndarray,
        theta1: np.ndarray,
        batch: int,
        *,
        common_noise: bool = False,
        horizon: int | None = None,
    ) -> tuple[Trajectories, Trajectories]:
        """Paired batches of θ₀ and θ₁ from the same initial-state distribution.

        With ``common_noise`` both share initial states, environment noise and action uniforms
        (common random numbers), which lowers the variance of their difference; otherwise they
        are independent. ``horizon`` shortens the episodes (truncated feedback).
        """
        first, second = paired_rollout(
            self.env,
            theta0,
            theta1,
            batch=batch,
            rng=self._episode_rng,
            common_noise=common_noise,
            horizon=horizon,
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


def build_problem(
    env: api.Environment,
    preference: api.PreferenceModel,
    *,
    network: Network | None = None,
    seed: int,
    uses_rewards: bool = False,
) -> Problem:
    """The problem of one run: ``env`` connected to ``network``, a panel, a fresh ledger.

    ``network`` defaults to isolated agents (refused for a networked environment). The seed is
    split by :class:`numpy.random.SeedSequence` into three independent streams: the algorithm's
    own draws, the episodes, and the panel's votes. Because episodes and votes do not share a
    stream with the algorithm, the same seed gives every algorithm the same first episodes and
    the same first votes on equal pairs.
    """
    if network is None:
        if env.networked:
            raise ValueError(f"environment '{env.name}' is networked and needs a network")
        network = Network.empty(env.n_agents)
    env.connect(network)
    algorithm_seq, rollout_seq, panel_seq = np.random.SeedSequence(seed).spawn(3)
    ledger = Ledger()
    panel = Panel(preference, np.random.default_rng(panel_seq), ledger, network, env.gamma)
    return Problem(
        env=env,
        network=network,
        panel=panel,
        preference=preference,
        rng=np.random.default_rng(algorithm_seq),
        ledger=ledger,
        uses_rewards=uses_rewards,
        rollout_rng=np.random.default_rng(rollout_seq),
    )
