"""Online trajectory-level DPO: fresh pairs from the current policy every iteration.

Online (on-policy) DPO as in Guo et al., "Direct Language Model Alignment from Online AI
Feedback", arXiv 2402.04792, at the trajectory level as the ZPG paper's baseline (Zhang & Ying,
arXiv 2409.17401) and the DZOPG paper's centralized preference-based baseline (Dai et al.,
arXiv 2605.15697); docs/algorithms.md#online-dpo.

Each iteration k:

1. sample N pairs: two independent episodes of π_θk (``pairing = "independent"``), or one of
   π_θk and one of the perturbed π_θk+μv with v uniform on the unit sphere (``"perturbed"``,
   the pairs ZPG asks about);
2. ask M evaluators about each pair (global returns) and label by majority or keep every vote;
3. π_ref is the initial policy (as DPO's) or the iterate θk (``reference = "previous"``);
4. take a few mini-batch steps on L(θ) = −log σ(β(Δ_w − Δ_l)) over this iteration's pairs,
   Δ(τ) = Σ_t Σ_i [log π_θ − log π_ref](a_i(t)|s_i(t)) (analytic gradient, :mod:`._optim`).

Budget. The defaults ask N·M = 800·5 = 4,000 votes per iteration, exactly zpg's default
N·M, so over any number of iterations the two runs spend the same number of queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import zobench
from zobench import api
from zobench.api import Channel, param
from zobench.sim.problem import Problem
from zobench_plugins.algorithms._dpo_fast import build, dpo_updates
from zobench_plugins.algorithms._optim import (
    DPOSettings,
    labelled_pairs,
    labels_from_votes,
    make_optimizer,
)
from zobench_plugins.algorithms._preference_estimation import sphere_direction


@dataclass(frozen=True)
class OnlineDPOConfig(DPOSettings):
    """Online DPO (docs/algorithms.md#online-dpo); β, the optimizer and M come from :class:`DPOSettings`.

    Default budget: N·M = 800·5 = 4,000 votes per iteration, equal to zpg's default.
    """

    pairs: int = param(
        800,
        "Fresh pairs N per iteration; N·M = 800·5 = 4,000 votes per iteration, zpg's default budget.",
        source="ours",
    )
    pairing: Literal["independent", "perturbed"] = param(
        "independent",
        "'independent': both episodes from the current policy; 'perturbed': the second from "
        "θ + μv, v uniform on the unit sphere (ZPG's pairs).",
        source="ours",
    )
    mu: float = param(4.0, "Perturbation distance μ of the 'perturbed' pairing.", source="ours")
    reference: Literal["initial", "previous"] = param(
        "initial",
        "π_ref: the initial policy θ0 (as DPO's) or the iterate at the start of the iteration.",
        source="ours",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pairs < 1:
            raise ValueError(f"pairs must be at least 1, got {self.pairs}")
        if not self.mu > 0:
            raise ValueError(f"mu must be positive, got {self.mu}")


# ALGO LOGIC: online DPO's iteration, steps 1–4 (docs/algorithms.md#online-dpo)


class OnlineDPO(api.Algorithm[OnlineDPOConfig]):
    """Online DPO: every iteration labels fresh on-policy pairs and steps on their DPO loss."""

    name = "online-dpo"
    summary = (
        "Online trajectory DPO: N fresh on-policy pairs per iteration, M votes each (4,000 votes "
        "per iteration, as zpg), Adam steps on −log σ(βΔ)."
    )
    source = "Guo et al. 2024 (online DPO), trajectory-level as in arXiv 2409.17401 / 2605.15697"
    Config = OnlineDPOConfig
    consumes = frozenset({Channel.PREFERENCES})

    def __init__(self, config: OnlineDPOConfig, problem: Problem) -> None:
        super().__init__(config, problem)
        self.initial = self.theta.copy()
        self.optimizer = make_optimizer(config.optimizer, config.learning_rate)

    def step(self) -> Mapping[str, float]:
        """Steps 1–4: fresh labelled pairs, then mini-batch steps on their DPO loss."""
        c, problem = self.config, self.problem
        other = self.theta
        if c.pairing == "perturbed":
            other = self.theta + c.mu * sphere_direction(problem.rng, self.theta.shape)
        first, second, p_hat = labelled_pairs(problem, self.theta, other, c.pairs, c.evaluators)
        targets = labels_from_votes(p_hat, c.label, problem.rng)
        reference = self.initial if c.reference == "initial" else self.theta
        data = build(first, second, targets, reference)
        self.theta, diagnostics = dpo_updates(self.theta, data, self.optimizer, c, problem.rng)
        return {**diagnostics, "mean_vote": float(p_hat.mean())}


# END ALGO LOGIC


@zobench.hookimpl
def zobench_register_algorithms(register):
    """Register online DPO."""
    register(OnlineDPO)
