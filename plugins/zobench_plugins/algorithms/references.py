"""Reference algorithms that bracket the benchmark: a reward-driven ceiling and a no-learning floor.

- ``oracle-pg``: policy-gradient ascent on the *true* rewards. Where the environment offers
  transition tables it follows the exact gradient of :mod:`zobench.sim.gradients` (it then uses
  the model, not episodes); otherwise it is REINFORCE with a per-step mean baseline on
  episodes whose rewards it reads through ``problem.rewards`` (charged to the ledger). It is not
  a preference-based method: it shows what the same softmax policy reaches with full reward
  information.
- ``uniform``: never learns; θ stays 0, the floor of normalized scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

import zobench
from zobench import api
from zobench.api import Channel, param
from zobench.sim import policy
from zobench.sim.gradients import exact_gradient
from zobench.sim.problem import Problem


@dataclass(frozen=True)
class OracleConfig:
    """Settings of the reward-driven reference (all ours; it is not from a paper)."""

    step_size: float = param(
        5.0,
        "Ascent step α on the gradient of J. The exact gradient of the GridWorld is small "
        "(‖∇J‖ ≈ 0.08 at the uniform policy), hence the large default.",
        source="ours",
    )
    exact: bool = param(
        True,
        "Use the exact gradient from the environment's tables when it has them; False forces "
        "REINFORCE on episodes.",
        source="ours",
    )
    episodes: int = param(100, "Episodes per REINFORCE gradient (when no tables are used).")

    def __post_init__(self) -> None:
        if self.episodes < 2:
            raise ValueError(f"episodes must be at least 2, got {self.episodes}")


# ALGO LOGIC: the reward-driven ceiling and the floor (docs/algorithms.md#oracle-pg, #uniform)


def reinforce_gradient(problem: Problem, theta: np.ndarray, episodes: int) -> np.ndarray:
    """REINFORCE estimate of ∇J from ``episodes`` episodes with true rewards.

    ∇J = E[Σ_t ∇log π(a_t|s_t) (G_t − b_t)] with G_t = Σ_{t'≥t} γ^{t'} (1/n) Σ_i r_i(t') and the
    batch mean of G_t as baseline b_t (it lowers the variance; its own-sample bias is O(1/B)).
    The joint log-probability is the sum of the agents' own, so every agent's score is weighted
    by the same G_t.
    """
    traj = problem.rollout(theta, episodes)
    rewards = problem.rewards(traj)  # (B, H, n): charged to the ledger as reward observations
    gamma = problem.env.gamma
    discounted = rewards.mean(axis=2) * gamma ** np.arange(traj.horizon)  # (B, H)
    to_go = np.cumsum(discounted[:, ::-1], axis=1)[:, ::-1]
    advantage = (to_go - to_go.mean(axis=0, keepdims=True)) / traj.batch
    return policy.score(theta, traj.states[:, :-1], traj.actions, advantage[:, :, None])


class OraclePG(api.Algorithm):
    """True-reward policy gradient: exact from the model where tables exist, else REINFORCE."""

    name = "oracle-pg"
    summary = (
        "Reward-driven ceiling: exact policy gradient from the model's tables (no episodes, "
        "uses the model) where they exist, else REINFORCE on true rewards."
    )
    source = "Policy gradient theorem (Sutton et al. 2000); REINFORCE (Williams 1992)"
    Config = OracleConfig
    consumes = frozenset({Channel.REWARDS, Channel.MODEL})

    def step(self) -> Mapping[str, float]:
        """One ascent step θ ← θ + α ∇J; ``diag_exact_model`` is 1 when the model was used."""
        env = self.problem.env
        # Each exact step reads the model through the declared channel, which charges a model
        # read and the reward table's entries as reward observations.
        tables = self.problem.model.tables() if self.config.exact else None
        if tables is not None:
            grad = exact_gradient(tables, self.theta, env.horizon, env.gamma)
        else:
            grad = reinforce_gradient(self.problem, self.theta, self.config.episodes)
        self.theta = self.theta + self.config.step_size * grad
        return {
            "grad_norm": float(np.linalg.norm(grad)),
            "exact_model": float(tables is not None),
        }


@dataclass(frozen=True)
class UniformConfig:
    """The uniform policy has no settings."""


class Uniform(api.Algorithm):
    """The uniform random policy θ = 0: no learning, no cost (the floor of normalized scores)."""

    name = "uniform"
    summary = "No learning: the uniform random policy (the floor of normalized scores)."
    source = ""
    Config = UniformConfig
    consumes = frozenset()

    def step(self) -> Mapping[str, float]:
        """Does nothing and spends nothing."""
        return {}


# END ALGO LOGIC


@zobench.hookimpl
def zobench_register_algorithms(register):
    """Register the reference algorithms."""
    register(OraclePG)
    register(Uniform)
