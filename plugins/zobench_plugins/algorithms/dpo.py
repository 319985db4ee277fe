"""Offline trajectory-level DPO: a fixed preference dataset from π_ref, then supervised steps.

Rafailov et al., "Direct Preference Optimization", NeurIPS 2023, lifted to whole trajectories as
the ZPG paper's baseline (Zhang & Ying, arXiv 2409.17401) and as the DZOPG paper's centralized
preference-based baseline (Dai et al., arXiv 2605.15697); docs/algorithms.md#dpo.

1. Once (first iteration): sample K pairs (τ0, τ1) i.i.d. from π_ref = π_θ0, the initial
   (uniform) policy, and ask M evaluators about each; label by majority or keep every vote.
2. Each iteration: a few mini-batch steps of Adam (or SGD) on

       L(θ) = −log σ(β(Δ_w − Δ_l)),  Δ(τ) = Σ_t Σ_i [log π_θ(a_i(t)|s_i(t)) − log π_ref(a_i(t)|s_i(t))]

   (for pairs from the same start the dynamics cancel in log π_θ(τ)/π_ref(τ)). On a
   networked environment the learner is centralized: the joint policy Π_i π_i and the panel's
   global preference (docs/algorithms.md#centralized-baselines). The gradient is analytic (:mod:`._optim`).

Budget. zpg's defaults ask N·M = 800·5 = 4,000 votes per iteration. DPO's default dataset is
K = 50,000 pairs × M = 40 = 2,000,000 votes, all spent at iteration 1: equal to zpg's budget over
500 iterations (the default suite length). For a run of T iterations set ``pairs = 4,000·T/M``
to keep the budgets equal. DPO's true values of β, K and the optimizer are
unknown, so every default is ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import zobench
from zobench import api
from zobench.api import Channel, param
from zobench.sim.problem import Problem
from zobench.space import BudgetSplit, LogUniform
from zobench_plugins.algorithms._dpo_fast import build, dpo_updates
from zobench_plugins.algorithms._optim import (
    DPOSettings,
    PreferenceData,
    labelled_pairs,
    labels_from_votes,
    make_optimizer,
)

TUNED = (
    "Tuned by `zobench tune` on the default gridworld under Bradley–Terry votes, 500 iterations "
    "(docs/tuning.md)."
)


@dataclass(frozen=True)
class DPOConfig(DPOSettings):
    """Offline DPO (docs/algorithms.md#dpo): the optimizer comes from :class:`DPOSettings`; β, M and the
    learning rate are offline DPO's own, tuned like every algorithm's (docs/tuning.md).

    Default budget: K·M = 50,000·40 = 2,000,000 votes = zpg's 4,000 per iteration × 500 iterations.
    """

    beta: float = param(
        0.00375,
        "Inverse temperature β of the DPO loss −log σ(β(Δ_w − Δ_l)) (common DPO practice: 0.1). "
        + TUNED,
        source="ours",
        tune=LogUniform(1e-3, 1.0),
    )
    evaluators: int = param(
        40,
        "Evaluators M per pair; K·M is the offline budget. " + TUNED,
        source="ours",
        tune=BudgetSplit("pairs", (1, 5, 10, 20, 40, 100)),
    )
    learning_rate: float = param(
        0.216,
        "Step size of the optimizer (common DPO practice: Adam 1e-2). " + TUNED,
        source="ours",
        tune=LogUniform(1e-3, 0.3),
    )

    pairs: int = param(
        50000,
        "Pairs K in the offline dataset, sampled once from π_ref and labelled by M evaluators. K·M = 50,000·40 = 2,000,000 votes equals zpg's default budget over the default 500 iterations (4,000 per iteration); use 4,000·T/M for a T-iteration run.",
        source="ours",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pairs < 1:
            raise ValueError(f"pairs must be at least 1, got {self.pairs}")


# ALGO LOGIC: offline DPO, steps 1–2 (docs/algorithms.md#dpo)


class DPO(api.Algorithm[DPOConfig]):
    """Offline DPO on a fixed dataset of labelled trajectory pairs from the initial policy."""

    name = "dpo"
    summary = (
        "Offline trajectory DPO: K labelled pairs from π_ref once (default 2M votes = zpg's "
        "500 iterations), then Adam steps on −log σ(βΔ)."
    )
    source = "Rafailov et al. 2023 (DPO), trajectory-level as in arXiv 2409.17401 / 2605.15697"
    Config = DPOConfig
    # the conformance kit's tiny runs: not 2M votes up front
    tiny_settings: ClassVar[dict[str, int]] = {"pairs": 2000}
    consumes = frozenset({Channel.PREFERENCES})

    def __init__(self, config: DPOConfig, problem: Problem) -> None:
        super().__init__(config, problem)
        self.reference = self.theta.copy()  # π_ref = π_θ0
        self.optimizer = make_optimizer(config.optimizer, config.learning_rate)
        self.data: PreferenceData | None = None

    def collect(self) -> PreferenceData:
        """Step 1: K pairs from π_ref, M votes each, labelled (charged to the ledger)."""
        c = self.config
        first, second, p_hat = labelled_pairs(
            self.problem, self.reference, self.reference, c.pairs, c.evaluators
        )
        targets = labels_from_votes(p_hat, c.label, self.problem.rng)
        return build(first, second, targets, self.reference)

    def step(self) -> Mapping[str, float]:
        """Collect the dataset on the first call; then mini-batch steps on the DPO loss."""
        if self.data is None:
            self.data = self.collect()
        self.theta, diagnostics = dpo_updates(
            self.theta, self.data, self.optimizer, self.config, self.problem.rng
        )
        return diagnostics


# END ALGO LOGIC


@zobench.hookimpl
def zobench_register_algorithms(register):
    """Register offline DPO."""
    register(DPO)
