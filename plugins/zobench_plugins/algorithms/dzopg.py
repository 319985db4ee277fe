"""DZOPG: Distributed Zeroth-Order Policy Gradient from local human preferences.

Dai, Wang, Wang, Qin & Yu, "Distributed zeroth-order policy gradient for networked multi-agent
reinforcement learning with human feedback", arXiv 2605.15697, Algorithm 1;
docs/algorithms.md#dzopg.

Every agent i holds its own softmax parameters θ_i and learns from nothing but the votes of its
own evaluators on spatiotemporally truncated trajectories: the state-action sequences of its
κ-hop neighbourhood N_i^κ over the first H steps. One iteration k, by the paper's line numbers:

    2:  every agent draws u_i ~ N(0, I_{d_i}), with no normalisation, so no coordination
    3-4: N shared joint rollout pairs: τ_n ~ π_θ and τ'_n ~ π_{θ+μu}, H steps each
    5:  agent i gathers its κ-hop neighbours' state-action sequences (the only messages)
    6-7: M evaluators of agent i compare the pair's truncated returns
             R_i(τ) = (1/n) Σ_{j∈N_i^κ} Σ_{t<H} γ^t r_j(t)                       (7)
         and p̂_{i,n} = trim((1/M) Σ_m o_{i,n,m})                                 (10)
    9:  ĝ_i = (1/(μ N)) Σ_n σ⁻¹(p̂_{i,n}) u_i                                      (11)
    10: θ_i ← θ_i + α ĝ_i                                                          (12)

Because E[u_i u_iᵀ] = I, the estimate needs no dimension factor (unlike ZPG's d/μ). All agents
are handled together: the perturbation is one Gaussian array shaped like θ, the panel computes
every agent's truncated return by a sparse gather over the κ-hop neighbourhoods, and (11) is one
broadcast product; the cost of an iteration grows linearly in n at fixed κ.

The paper's values of κ, H, N, M, μ, α and the trimming were lost in its text, so every default
is zobench's own (``source="ours"``; docs/algorithms.md#dzopg says why), μ, α and the N/M split
tuned (docs/tuning.md). The trimming settings and the inverse link are shared with ZPG
(:mod:`zobench_plugins.algorithms._preference_estimation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

import zobench
from zobench import api
from zobench.api import Channel, param
from zobench.sim.problem import Problem
from zobench.sim.rollout import Trajectories
from zobench.space import BudgetSplit, LogUniform
from zobench_plugins.algorithms._preference_estimation import (
    TRIM_DOC,
    TrimmingSettings,
    inverse_link,
)


@dataclass(frozen=True)
class DZOPGConfig(TrimmingSettings):
    """Settings of DZOPG (Algorithm 1; docs/algorithms.md#dzopg), none of them the paper's.

    The trimming settings come from :class:`TrimmingSettings`, with variant (a) ``"constant"``
    by default: the bound of truncated value gaps is loose, a margin D bounds σ⁻¹ tightly.
    """

    trim: Literal["bound", "constant"] = param("constant", TRIM_DOC, source="ours")

    kappa: int = param(
        1,
        "κ: hops of the neighbourhood whose trajectories agent i's evaluators see.",
        source="ours",
    )
    horizon: int = param(
        20,
        "H: steps of the truncated trajectories (rollouts are H steps long; capped at the "
        "environment's episode length).",
        source="ours",
    )
    pairs: int = param(200, "N: shared joint rollout pairs per iteration.", source="ours")
    evaluators: int = param(
        1,
        "M: evaluators per agent per pair (one binomial draw).",
        source="ours",
        tune=BudgetSplit("pairs", (1, 2, 5, 10, 20, 50)),
    )
    mu: float = param(
        2.31,
        "Perturbation scale μ: θ' = θ + μ u with u ~ N(0, I), not normalised.",
        source="ours",
        tune=LogUniform(0.02, 4.0),
    )
    step_size: float = param(
        0.486,
        "Ascent step α of eq. (12). Tuned by `zobench tune` on the default net-gridworld (4 agents, chain) under Bradley–Terry votes, 500 iterations (docs/tuning.md).",
        source="ours",
        tune=LogUniform(1e-3, 1.0),
    )
    normalize: Literal["n", "neighbourhood"] = param(
        "n",
        "Averaging of agent i's κ-hop return: 'n' divides the neighbourhood's sum by the number "
        "of agents n, as eq. (7) writes it (consistent with the average-return objective); "
        "'neighbourhood' divides by |N_i^κ| instead (ours): the value gaps then do not shrink "
        "like 1/n against vote noise fixed in link units as the network grows.",
        source="paper",
    )
    common_noise: bool = param(
        False,
        "Share the environment and action randomness within each pair (common random numbers). "
        "Off by default: Algorithm 1 runs the two joint policies independently.",
        source="ours",
    )

    def __post_init__(self) -> None:
        if self.kappa < 0 or self.horizon < 1:
            raise ValueError("need kappa >= 0 and horizon >= 1")
        if self.pairs < 1 or self.evaluators < 1:
            raise ValueError("pairs and evaluators must be at least 1")
        if not self.mu > 0:
            raise ValueError(f"mu must be positive, got {self.mu}")
        super().__post_init__()


# ALGO LOGIC: Algorithm 1, lines 2–10 (docs/algorithms.md#dzopg)


def truncation_horizon(problem: Problem, config: DZOPGConfig) -> int:
    """H, capped at the environment's episode length (the objective looks no further)."""
    return min(config.horizon, problem.env.horizon)


def truncated_return_bound(problem: Problem, config: DZOPGConfig) -> float:
    """B ≥ |R_i(τ') − R_i(τ)| for every agent: span · max_i |N_i^κ| / n · Σ_{t<H} w_t, or
    span · Σ_{t<H} w_t with the neighbourhood normalization (a mean over the neighbourhood).

    Only public knowledge enters: the reward span the environment declares, the network and the
    panel's step weights (γ^t, and myopia if any), never a reward.
    """
    span = float(problem.env.reward_span)
    largest = int(problem.network.sizes(config.kappa).max())
    weights = problem.panel.step_weights(truncation_horizon(problem, config))
    share = 1.0 if config.normalize == "neighbourhood" else largest / problem.n_agents
    return span * share * float(weights.sum())


def joint_rollout_pairs(
    problem: Problem, theta: np.ndarray, perturbed: np.ndarray, config: DZOPGConfig
) -> tuple[Trajectories, Trajectories]:
    """Lines 3–4: N joint episodes of π_θ and N of π_{θ+μu}, H steps each; charges the ledger.

    The rollouts are H steps long rather than the environment's episode length, which is what
    the truncated feedback needs.
    """
    return problem.rollout_pair(
        theta,
        perturbed,
        config.pairs,
        common_noise=config.common_noise,
        horizon=truncation_horizon(problem, config),
    )


def estimate_gradient(
    problem: Problem, theta: np.ndarray, config: DZOPGConfig, perturbation: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, float]]:
    """Every agent's local estimate ĝ_i of eq. (11), stacked like θ ``(n, S, A)``.

    ``perturbation`` overrides the random u (tests); otherwise u is drawn from the algorithm's
    own stream, all agents at once (each agent's block is an independent N(0, I)).
    """
    u = problem.rng.standard_normal(theta.shape) if perturbation is None else perturbation  # 2
    current, perturbed = joint_rollout_pairs(problem, theta, theta + config.mu * u, config)  # 3-4
    H = truncation_horizon(problem, config)
    # 5-7: p̂_{i,n}, shaped (N, n): agent i's M evaluators on its κ-hop, H-step returns (7)-(9).
    # The per-agent votes gather each agent's κ-hop neighbours' state-action sequences (line
    # 5's messages), which the panel charges to the ledger.
    p_hat = problem.panel.compare(
        current,
        perturbed,
        config.evaluators,
        horizon=H,
        kappa=config.kappa,
        normalize=config.normalize,
    )
    # σ⁻¹(trim(p̂)) of (10), (N, n); trimmed to the truncated returns' bound under variant (b)
    deltas = inverse_link(problem, p_hat, config, lambda: truncated_return_bound(problem, config))
    mean_delta = deltas.mean(axis=0)  # (1/N) Σ_n, per agent
    grad = (mean_delta / config.mu)[:, None, None] * u  # (11)
    return grad, {
        "mean_delta": float(mean_delta.mean()),
        "grad_norm": float(np.linalg.norm(grad)),
    }


class DZOPG(api.Algorithm[DZOPGConfig]):
    """Distributed ZOPG: Gaussian perturbations, shared rollouts, κ-hop local votes, local steps."""

    name = "dzopg"
    summary = "Distributed zeroth-order PG: per-agent κ-hop, H-step preference feedback (Alg. 1)."
    source = "Dai et al., arXiv 2605.15697, Algorithm 1"
    Config = DZOPGConfig
    consumes = frozenset({Channel.PREFERENCES})

    def step(self) -> Mapping[str, float]:
        """One iteration of Algorithm 1: estimate every ĝ_i, then θ_i ← θ_i + α ĝ_i (12)."""
        grad, diagnostics = estimate_gradient(self.problem, self.theta, self.config)
        self.theta = self.theta + self.config.step_size * grad  # 10: local updates
        return diagnostics


# END ALGO LOGIC


@zobench.hookimpl
def zobench_register_algorithms(register):
    """Register DZOPG."""
    register(DZOPG)
