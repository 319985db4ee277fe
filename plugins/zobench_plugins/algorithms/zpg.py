"""ZPG: Zeroth-Order Policy Gradient from human preferences, without reward inference.

Zhang & Ying, "Zeroth-Order Policy Gradient for Reinforcement Learning from Human Feedback
without Reward Inference", arXiv 2409.17401 (ICLR 2025), Algorithm ZPG; zobench spec §1–§2.

One iteration (spec §2):

1. draw a direction v uniformly on the unit sphere S^{d−1} and set θ' = θ + μ v;
2. roll out N trajectory pairs, τ_{n,0} ~ π_θ and τ_{n,1} ~ π_θ';
3. ask M evaluators about each pair: p̂_n = fraction preferring τ_{n,1};
4. trim p̂_n and invert the link: Δ̂_n = σ⁻¹(trim(p̂_n)), an estimate of R(τ_{n,1}) − R(τ_{n,0});
5. ĝ = (d/μ) (1/N) Σ_n Δ̂_n v, and ascend: θ ← θ + α ĝ.

The papers' values of μ, N, M, the trimming and α were not recovered (spec §4, §9), so every
default below is zobench's own choice (``source="ours"``). The pieces shared with ZBCPG
(:mod:`zobench_plugins.algorithms.zbcpg`) live here: :func:`sphere_direction`,
:func:`return_bound`, :func:`inverse_link`, :func:`preference_differences` and
:func:`estimate_along`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

import numpy as np

import zobench
from zobench import api
from zobench.api import Channel, param
from zobench.sim import panel as panels
from zobench.sim.problem import Problem
from zobench.space import BudgetSplit, LogUniform


@dataclass(frozen=True)
class ZPGConfig:
    """Settings of ZPG (spec §2, defaults §9); none of the papers' values are known."""

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
    trim: Literal["bound", "constant"] = param(
        "bound",
        "Trimming of p̂ before σ⁻¹ (spec §1): 'bound' = (b) [σ(−B), σ(B)] with B the return "
        "bound; 'constant' = (a) [D, 1 − D].",
        source="ours",
    )
    trim_margin: float = param(0.01, "D of the 'constant' trimming variant (a).", source="ours")
    return_bound: float | None = param(
        None,
        "B of the 'bound' variant (b), bounding |R(τ1) − R(τ0)|. None derives it: per-step "
        "rewards in [0, 1] (the ZPG assumption, spec §2), weighted as the panel weighs steps, "
        "i.e. B = Σ_{t<H} γ^t (= H undiscounted), times the environment's declared "
        "per-step reward span (`Environment.reward_span`).",
        source="ours",
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
        if self.return_bound is not None and not self.return_bound > 0:
            raise ValueError(f"return_bound must be positive, got {self.return_bound}")
        if not 0.0 < self.trim_margin < 0.5:
            raise ValueError(f"trim_margin must lie in (0, 1/2), got {self.trim_margin}")


# ---------------------------------------------------------------------------------------------
# Shared pieces (also used by ZBCPG)
# ---------------------------------------------------------------------------------------------


def sphere_direction(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """v = z / ‖z‖ with z ~ N(0, I): uniform on the unit sphere of R^d, returned in ``shape``."""
    z = rng.standard_normal(shape)
    return z / np.linalg.norm(z)


def return_bound(problem: Problem) -> float:
    """B bounding |R(τ1) − R(τ0)| as the panel sees returns: span · Σ_{t<H} w_t.

    The per-step span is the environment's declared ``reward_span`` (1 for rewards in [0, 1],
    spec §2); w_t are the panel's step weights (γ^t, times myopia^(H−1−t) when the
    teachers are myopic), so B = H for the undiscounted GridWorld. Only public knowledge is
    used: a preference-only algorithm never looks at rewards or the reward table.
    """
    span = float(problem.env.reward_span)
    return span * float(problem.panel.step_weights(problem.env.horizon).sum())


class TrimmingSettings(Protocol):
    """The trimming settings :func:`inverse_link` reads (ZPG's and DZOPG's configs carry them)."""

    @property
    def trim(self) -> Literal["bound", "constant"]:
        """The trimming variant: (b) ``bound`` or (a) ``constant``."""

    @property
    def trim_margin(self) -> float:
        """D of variant (a)."""

    @property
    def return_bound(self) -> float | None:
        """B of variant (b); ``None``: derived from the environment's public reward span."""


def inverse_link(problem: Problem, p_hat: np.ndarray, config: TrimmingSettings) -> np.ndarray:
    """Δ̂ = σ⁻¹(trim(p̂)) (spec §1), with variant (b) or (a) of the trimming.

    Variant (b) passes B to the kernel so that p̂ at the interval's ends maps to exactly ∓B even
    where σ(−B) underflows (the Weibull link at B = 15); see
    :func:`zobench.sim.panel.estimate_difference`.
    """
    if config.trim == "constant":
        lo, hi = panels.trim_bounds(
            problem.preference, variant="constant", margin=config.trim_margin
        )
        return panels.estimate_difference(problem.preference, p_hat, lo, hi)
    bound = config.return_bound if config.return_bound is not None else return_bound(problem)
    lo, hi = panels.trim_bounds(problem.preference, variant="bound", bound=bound)
    return panels.estimate_difference(problem.preference, p_hat, lo, hi, bound=bound)


def preference_differences(
    problem: Problem, theta: np.ndarray, perturbed: np.ndarray, config: ZPGConfig
) -> np.ndarray:
    """Δ̂_n = σ⁻¹(trim(p̂_n)) for N fresh pairs (π_θ, π_θ'), shape ``(N,)`` (spec §2 steps 2–4)."""
    current, other = problem.rollout_pair(
        theta, perturbed, config.pairs, common_noise=config.common_noise
    )
    p_hat = problem.panel.compare(current, other, config.evaluators)  # M votes per pair
    return inverse_link(problem, p_hat, config)


def estimate_along(
    problem: Problem, theta: np.ndarray, direction: np.ndarray, config: ZPGConfig
) -> tuple[np.ndarray, dict[str, float]]:
    """The two-point estimate ĝ = (d/μ) mean_n(Δ̂_n) v along a unit ``direction`` v.

    d is the full dimension whatever the support of v: for a uniform direction on a uniformly
    chosen block, E[d v vᵀ] = I still holds, so the same scaling serves ZPG and ZBCPG (spec §3).
    """
    deltas = preference_differences(problem, theta, theta + config.mu * direction, config)
    mean_delta = float(deltas.mean())
    grad = (problem.dimension / config.mu) * mean_delta * direction
    return grad, {"mean_delta": mean_delta, "grad_norm": float(np.linalg.norm(grad))}


# ---------------------------------------------------------------------------------------------
# ZPG
# ---------------------------------------------------------------------------------------------


def estimate_gradient(
    problem: Problem, theta: np.ndarray, config: ZPGConfig, direction: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, float]]:
    """ZPG's gradient estimate at θ (spec §2); ``direction`` overrides the random v (tests)."""
    if direction is None:
        direction = sphere_direction(problem.rng, theta.shape)  # step 1: v ~ U(S^{d−1})
    return estimate_along(problem, theta, direction, config)  # steps 2–5


class ZPG(api.Algorithm[ZPGConfig]):
    """Zeroth-order policy gradient: one sphere perturbation, N pairs, M votes each."""

    name = "zpg"
    summary = "Zeroth-Order Policy Gradient: sphere perturbation, preference-estimated value gaps."
    source = "Zhang & Ying, arXiv 2409.17401 (ICLR 2025), Algorithm ZPG"
    Config = ZPGConfig
    consumes = frozenset({Channel.PREFERENCES})
    # typed loosely: ZBCPG's estimator takes its own config and a list of block directions
    estimate: ClassVar[Callable[..., tuple[np.ndarray, dict[str, float]]]] = staticmethod(
        estimate_gradient
    )
    """The gradient estimator, called as ``estimate(problem, θ, config)``; ZBCPG differs from
    ZPG only here (spec §3)."""

    def step(self) -> Mapping[str, float]:
        """One iteration: estimate ĝ, then θ ← θ + α ĝ (ascent on J)."""
        grad, diagnostics = self.estimate(self.problem, self.theta, self.config)
        self.theta = self.theta + self.config.step_size * grad
        return diagnostics


@zobench.hookimpl
def zobench_register_algorithms(register):
    """Register ZPG."""
    register(ZPG)
