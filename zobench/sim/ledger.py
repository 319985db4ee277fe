"""The ledger: what a run has spent, recorded beside every evaluation of the learning curve."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zobench.sim.rollout import Trajectories


@dataclass
class Ledger:
    """Running counters of a run's budget.

    ``env_steps`` counts joint steps (one step of all n agents), so a batch of B episodes of
    horizon H costs B·H; ``queries`` counts single evaluator votes (M per pair, per agent in the
    per-agent scope).
    """

    iterations: int = 0
    episodes: int = 0
    env_steps: int = 0
    queries: int = 0
    reward_obs: int = 0
    messages: int = 0
    """Messages between agents (κ-hop gathers of the distributed algorithms)."""
    values_moved: int = 0
    """Numbers carried by those messages."""

    def charge_rollout(self, traj: Trajectories) -> None:
        """Charge a batch of episodes: B episodes and B·H joint steps."""
        self.episodes += traj.batch
        self.env_steps += traj.batch * traj.horizon

    def charge_queries(self, count: int) -> None:
        """Charge ``count`` evaluator votes."""
        self.queries += int(count)

    def snapshot(self) -> dict[str, int]:
        """The counters as a plain dict (one row of the learning curve)."""
        return {f.name: int(getattr(self, f.name)) for f in dataclasses.fields(self)}
