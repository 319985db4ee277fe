"""Preference-only random search: perturb θ, ask the panel, keep the perturbation if preferred.

The simplest algorithm that learns from votes alone (random optimization, Matyas 1965, with the
function comparison replaced by human preference). Each iteration:

1. draw a direction u uniformly on the unit sphere of R^d and form the candidate θ' = θ + r·u;
2. roll out ``pairs`` episodes of θ and of θ' (common random numbers, so the pair differs
   mostly by the policy and not by luck);
3. ask M simulated evaluators about every pair; p̂_j is the fraction preferring θ''s episode;
4. keep θ' when the mean win rate exceeds 1/2 + margin.

It never reads a reward: it consumes only the ``preferences`` channel, and the problem would
refuse it anything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from zobench import api


@dataclass(frozen=True)
class RandomSearchConfig:
    """Settings of preference-only random search."""

    radius: float = api.param(
        0.5, "Norm r of the random perturbation of θ (the search radius).", source="ours"
    )
    pairs: int = api.param(
        8,
        "Episode pairs per iteration: one episode of θ and one of the candidate each.",
        source="ours",
    )
    evaluators: int = api.param(
        5, "Simulated evaluators M voting on each pair (one binomial draw per pair).", source="ours"
    )
    margin: float = api.param(
        0.0,
        "Keep the candidate only when its mean win rate exceeds 1/2 + margin; a positive "
        "margin trades speed for fewer mistaken moves.",
        source="ours",
    )
    common_noise: bool = api.param(
        True,
        "Roll out θ and the candidate with common random numbers (shared environment noise).",
        source="ours",
    )

    def __post_init__(self) -> None:
        # cross-field and range rules: zobench.config.validate turns these into ConfigErrors
        if not self.radius > 0.0:
            raise ValueError(f"radius must be positive, got {self.radius}")
        if self.pairs < 1 or self.evaluators < 1:
            raise ValueError("pairs and evaluators must be at least 1")
        if not 0.0 <= self.margin < 0.5:
            raise ValueError(f"margin must lie in [0, 1/2), got {self.margin}")


class RandomSearch(api.Algorithm):
    """Hill climbing on θ driven only by the panel's votes between θ and a random neighbour."""

    name = "example-random-search"
    summary = (
        "Preference-only hill climbing: keep a random perturbation of θ if the panel prefers it."
    )
    source = "Matyas, 'Random optimization', Automation and Remote Control 26 (1965)"
    Config = RandomSearchConfig
    consumes = frozenset({api.Channel.PREFERENCES})

    config: RandomSearchConfig

    def step(self) -> Mapping[str, float]:
        """One comparison of θ with a random neighbour; returns the win rate and the decision."""
        c, problem = self.config, self.problem
        # ALGO LOGIC: a uniform direction on the unit sphere (a normalized Gaussian)
        u = problem.rng.standard_normal(self.theta.shape)
        candidate = self.theta + c.radius * u / np.linalg.norm(u)
        current_eps, candidate_eps = problem.rollout_pair(
            self.theta, candidate, c.pairs, common_noise=c.common_noise
        )
        # fraction of evaluators preferring the candidate's episode, pair by pair: shape (pairs,)
        p_hat = problem.panel.compare(current_eps, candidate_eps, c.evaluators)
        win_rate = float(np.mean(p_hat))
        accepted = win_rate > 0.5 + c.margin
        if accepted:
            self.theta = candidate
        return {"win_rate": win_rate, "accepted": float(accepted)}
