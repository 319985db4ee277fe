"""ZPG: Zeroth-Order Policy Gradient from human preferences, without reward inference.

Zhang & Ying, "Zeroth-Order Policy Gradient for Reinforcement Learning from Human Feedback
without Reward Inference", arXiv 2409.17401 (ICLR 2025), Algorithm ZPG. The paper's equation
numbers could not be recovered, so the comments cite the steps of its algorithm box as
docs/algorithms.md#zpg numbers them:

1. draw a direction v uniformly on the unit sphere S^{d−1} and set θ' = θ + μ v;
2. roll out N trajectory pairs, τ_{n,0} ~ π_θ and τ_{n,1} ~ π_θ';
3. ask M evaluators about each pair: p̂_n = fraction preferring τ_{n,1};
4. trim p̂_n and invert the link: Δ̂_n = σ⁻¹(trim(p̂_n)), an estimate of R(τ_{n,1}) − R(τ_{n,0});
5. ĝ = (d/μ) (1/N) Σ_n Δ̂_n v, and ascend: θ ← θ + α ĝ.

The papers' values of μ, N, M, the trimming and α were not recovered, so every default is
zobench's own (``source="ours"``), most of them tuned (docs/tuning.md). The trimming settings,
the inverse link and the sphere directions are shared with other learners and live in
:mod:`zobench_plugins.algorithms._preference_estimation`.
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
from zobench_plugins.algorithms._preference_estimation import (
    TrimmingSettings,
    inverse_link,
    sphere_direction,
)


@dataclass(frozen=True)
class ZPGConfig(TrimmingSettings):
    """Settings of ZPG (docs/algorithms.md#zpg); none of the paper's values are known.

    The trimming settings ``trim``, ``trim_margin`` and ``return_bound`` come from
    :class:`TrimmingSettings`, with variant (b) ``"bound"`` by default.
    """

    mu: float = param(
        6.1,
        "Perturbation distance μ: θ' = θ + μ v with ‖v‖ = 1. Large on purpose: at the uniform "
        "GridWorld policy ‖∇J‖ ≈ 0.08, and J(θ + μv) − J(θ) must stand out of the votes' noise.",
        source="ours",
        tune=LogUniform(0.25, 16.0),
    )
    pairs: int = param(
        800, "Trajectory pairs N per iteration (current vs perturbed).", source="ours"
    )
    evaluators: int = param(
        5,
        "Evaluators M asked about each pair (one binomial draw per pair).",
        source="ours",
        tune=BudgetSplit("pairs", (1, 5, 10, 20, 40, 100)),
    )
    step_size: float = param(
        0.163,
        "Ascent step α on ĝ. Tuned by `zobench tune` on the default gridworld under Bradley–Terry votes, 500 iterations (docs/tuning.md); the same value learns FrozenLake-v1 (not slippery) too, whose returns are 15× smaller.",
        source="ours",
        tune=LogUniform(1e-3, 0.3),
    )
    common_noise: bool = param(
        False,
        "Share initial states, transition noise and action uniforms within each pair (common "
        "random numbers). Off by default: the paper's pairs are independent.",
        source="ours",
    )

    def __post_init__(self) -> None:
        if not self.mu > 0:
            raise ValueError(f"mu must be positive, got {self.mu}")
        if self.pairs < 1 or self.evaluators < 1:
            raise ValueError("pairs and evaluators must be at least 1")
        super().__post_init__()


# ALGO LOGIC: ZPG's algorithm box, steps 1–5 (docs/algorithms.md#zpg)


def estimate_along(
    problem: Problem, theta: np.ndarray, direction: np.ndarray, config: ZPGConfig
) -> tuple[np.ndarray, dict[str, float]]:
    """Steps 2–5 along a unit ``direction`` v: the two-point estimate ĝ = (d/μ) mean_n(Δ̂_n) v.

    d is the full dimension whatever the support of v: for a uniform direction on a uniformly
    chosen block, E[d v vᵀ] = I still holds, so ZBCPG uses this function for its blocks
    (docs/algorithms.md#zbcpg).
    """
    perturbed = theta + config.mu * direction  # step 1: θ' = θ + μ v
    current, other = problem.rollout_pair(  # step 2: N pairs τ_{n,0} ~ π_θ, τ_{n,1} ~ π_θ'
        theta, perturbed, config.pairs, common_noise=config.common_noise
    )
    p_hat = problem.panel.compare(current, other, config.evaluators)  # step 3: M votes per pair
    deltas = inverse_link(problem, p_hat, config)  # step 4: Δ̂_n = σ⁻¹(trim(p̂_n))
    mean_delta = float(deltas.mean())
    grad = (problem.dimension / config.mu) * mean_delta * direction  # step 5: ĝ
    return grad, {"mean_delta": mean_delta, "grad_norm": float(np.linalg.norm(grad))}


def estimate_gradient(
    problem: Problem, theta: np.ndarray, config: ZPGConfig, direction: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, float]]:
    """ZPG's gradient estimate at θ; ``direction`` overrides the random v (tests)."""
    if direction is None:
        direction = sphere_direction(problem.rng, theta.shape)  # step 1: v ~ U(S^{d−1})
    return estimate_along(problem, theta, direction, config)


class ZPG(api.Algorithm[ZPGConfig]):
    """Zeroth-order policy gradient: one sphere perturbation, N pairs, M votes each."""

    name = "zpg"
    summary = "Zeroth-Order Policy Gradient: sphere perturbation, preference-estimated value gaps."
    source = "Zhang & Ying, arXiv 2409.17401 (ICLR 2025), Algorithm ZPG"
    Config = ZPGConfig
    consumes = frozenset({Channel.PREFERENCES})

    def estimate(self) -> tuple[np.ndarray, dict[str, float]]:
        """ĝ at the current θ (steps 1–5) and diagnostics; ZBCPG changes only this (step 1)."""
        return estimate_gradient(self.problem, self.theta, self.config)

    def step(self) -> Mapping[str, float]:
        """One iteration: estimate ĝ, then θ ← θ + α ĝ (step 5, ascent on J)."""
        grad, diagnostics = self.estimate()
        self.theta = self.theta + self.config.step_size * grad
        return diagnostics


# END ALGO LOGIC


@zobench.hookimpl
def zobench_register_algorithms(register):
    """Register ZPG."""
    register(ZPG)
