"""ZSPO: zeroth-order sign policy optimization from batch comparisons (no link function needed).

Zhang & Ying, "Provable Reinforcement Learning from Human Feedback with an Unknown Link
Function", arXiv 2506.03066; docs/algorithms.md#zspo.

ZSPO only estimates the *sign* of the value difference, so it needs neither σ⁻¹ nor trimming:

1. draw v uniformly on the unit sphere and set θ' = θ + μ v;
2. for n = 1..N draw fresh batches 𝒟_{n,0} ~ π_θ and 𝒟_{n,1} ~ π_θ' of D trajectories each and
   get one label o_n ~ Bernoulli(σ(mean R(𝒟_{n,1}) − mean R(𝒟_{n,0})));
3. majority vote ŝ = sign(Σ_n (o_n − 1/2)), ties broken by a fair coin;
4. θ ← θ + α_t ŝ v (a step of length α_t: E[ŝ v] correlates positively with ∇J).

The reviews report D = 1 on their GridWorld and N = 1000 in one example; μ and α were not
recovered, so those defaults are ours (tuned, docs/tuning.md). Two settings are ours beyond the paper, both
reducing to it at their neutral value:

- the step length α_t = α / √(1 + λ t) decays with the iteration t (λ = 0: the paper's fixed
  α). A sign step carries no magnitude that shrinks near an optimum, so with a fixed α it keeps
  moving by α in a random direction and cannot settle; only a shrinking step lets it converge
  to a point, and λ lets tuning choose how fast it shrinks.
- M evaluators may label each comparison (M = 1: the paper's one label). The majority is then
  taken over all N·M labels; each label still has mean σ(ΔR̄), so ŝ estimates the same sign.
  Like ZPG's pairs and evaluators, N·M is the vote budget and tuning decides only its split.

The default budget is N·M = 4,000 votes per iteration, that of every single-agent preference
learner (docs/tuning.md).

ZSPO assumes a symmetric link with σ(0) = 1/2. Under an asymmetric link such as Weibull
(σ(0) = 1/e) nearly equal batches get a majority of "worse" labels, so ŝ is biased towards −1
and carries little information: that is the method's assumption, not a bug of this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

import zobench
from zobench import api
from zobench.api import Channel, param
from zobench.sim.problem import Problem
from zobench.space import BudgetSplit, LogUniform
from zobench_plugins.algorithms._preference_estimation import sphere_direction

TUNED = (
    "Tuned by `zobench tune` on the default gridworld under Bradley–Terry votes, 500 iterations "
    "(docs/tuning.md)."
)


@dataclass(frozen=True)
class ZSPOConfig:
    """Settings of ZSPO (docs/algorithms.md#zspo has each default's source)."""

    mu: float = param(
        3.44,
        "Perturbation distance μ: θ' = θ + μ v with ‖v‖ = 1 (ZPG's). " + TUNED,
        source="ours",
        tune=LogUniform(0.25, 16.0),
    )
    comparisons: int = param(
        4000,
        "Batch comparisons N per iteration. N·M = 4,000 votes per iteration, the budget of every "
        "single-agent preference learner (docs/tuning.md).",
        source="ours",
    )
    evaluators: int = param(
        1,
        "Evaluators M labelling each comparison (one binomial draw per comparison); 1 is the "
        "paper's single label. " + TUNED,
        source="ours",
        tune=BudgetSplit("comparisons", (1, 5, 10, 20, 40, 100)),
    )
    batch: int = param(
        1,
        "Trajectories D per side of a comparison (the GridWorld value of the paper).",
        source="paper",
    )
    step_size: float = param(
        1.11,
        "Initial length α of the sign step α_t ŝ v. " + TUNED,
        source="ours",
        tune=LogUniform(0.01, 3.0),
    )
    step_decay: float = param(
        0.00744,
        "Decay rate λ of the step length, α_t = α / √(1 + λ t) at iteration t = 0, 1, ...; "
        "0 keeps the paper's fixed length α. " + TUNED,
        source="ours",
        tune=LogUniform(0.001, 1.0),
    )
    common_noise: bool = param(
        False, "Share the episodes' random numbers between the two sides of each comparison."
    )

    def __post_init__(self) -> None:
        if not self.mu > 0:
            raise ValueError(f"mu must be positive, got {self.mu}")
        if self.comparisons < 1 or self.batch < 1 or self.evaluators < 1:
            raise ValueError("comparisons, evaluators and batch must be at least 1")
        if not self.step_decay >= 0:  # also refuses NaN
            raise ValueError(f"step_decay must be >= 0, got {self.step_decay}")


# ALGO LOGIC: ZSPO's iteration, steps 1–4 (docs/algorithms.md#zspo)


def vote_sign(
    problem: Problem, theta: np.ndarray, direction: np.ndarray, config: ZSPOConfig
) -> float:
    """The majority vote ŝ ∈ {−1, +1} on "θ + μ v is better than θ" (steps 2–3)."""
    current, other = problem.rollout_pair(
        theta,
        theta + config.mu * direction,
        config.comparisons * config.batch,
        common_noise=config.common_noise,
    )
    # the panel compares the batches' mean returns: p̂_n, the share of M labels saying "better"
    shares = problem.panel.compare_batch_means(current, other, config.batch, config.evaluators)
    margin = float(np.sum(shares - 0.5))  # Σ_{n,m} (o_{n,m} − 1/2) / M: the same sign
    if margin == 0.0:
        return float(problem.rng.choice((-1.0, 1.0)))  # tie: a fair coin
    return float(np.sign(margin))


def estimate_step(
    problem: Problem, theta: np.ndarray, config: ZSPOConfig, direction: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, float]]:
    """The step direction ŝ v (unit length); ``direction`` overrides the random v (tests)."""
    if direction is None:
        direction = sphere_direction(problem.rng, theta.shape)  # step 1
    sign = vote_sign(problem, theta, direction, config)
    return sign * direction, {"sign": sign}


def step_length(config: ZSPOConfig, iteration: int) -> float:
    """α_t = α / √(1 + λ t), the sign step's length at ``iteration`` t (α itself when λ = 0)."""
    return config.step_size / float(np.sqrt(1.0 + config.step_decay * iteration))


class ZSPO(api.Algorithm[ZSPOConfig]):
    """Zeroth-order sign policy optimization: majority votes on batch comparisons."""

    name = "zspo"
    summary = "ZSPO: sign of the value gap by majority vote; no link function, decaying sign steps."
    source = "Zhang & Ying, arXiv 2506.03066 (ZSPO)"
    Config = ZSPOConfig
    consumes = frozenset({Channel.PREFERENCES})

    def __init__(self, config: ZSPOConfig, problem: Problem) -> None:
        super().__init__(config, problem)
        self.iteration = 0
        """Iterations done so far: the t of the step length α_t."""

    def step(self) -> Mapping[str, float]:
        """One ZSPO iteration: θ ← θ + α_t ŝ v (step 4)."""
        direction, diagnostics = estimate_step(self.problem, self.theta, self.config)
        self.theta = self.theta + step_length(self.config, self.iteration) * direction
        self.iteration += 1
        return diagnostics


# END ALGO LOGIC


@zobench.hookimpl
def zobench_register_algorithms(register):
    """Register ZSPO."""
    register(ZSPO)
