"""A logistic link with lapses: teachers who sometimes answer at random.

Psychophysics fits choice data with a lapse rate λ (Wichmann & Hill 2001): with probability λ
the subject ignores the stimulus and guesses. For preferences between trajectories,

    σ_λ(x) = λ/2 + (1 − λ) / (1 + e^{−x}),      σ_λ⁻¹(p) = logit((p − λ/2) / (1 − λ)),

so win probabilities stay inside (λ/2, 1 − λ/2) however different the returns are. Unlike the
panel's ``mistake`` setting, which the algorithm does not know about, the lapse is part of the
link, so an algorithm that inverts the link (ZPG) corrects for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zobench import api


@dataclass(frozen=True)
class LapseLogisticConfig(api.PreferenceConfig):
    """Settings of the lapsing logistic link (plus every preference model's shared settings)."""

    lapse: float = api.param(
        0.1,
        "Lapse rate λ: probability that a teacher guesses at random instead of comparing.",
        source="ours",
    )

    def __post_init__(self) -> None:
        if not 0.0 <= self.lapse < 1.0:
            raise ValueError(f"lapse must lie in [0, 1), got {self.lapse}")
        if not self.scale > 0.0:
            raise ValueError(f"scale must be positive, got {self.scale}")


class LapseLogistic(api.PreferenceModel):
    """Bradley–Terry mixed with random guessing at rate λ; its inverse undoes the mixing."""

    name = "example-lapse-logistic"
    summary = "Logistic (Bradley–Terry) link with a lapse rate: teachers sometimes guess."
    source = "Wichmann & Hill, Perception & Psychophysics 63(8) (2001), lapse rate"
    Config = LapseLogisticConfig
    symmetric = True

    config: LapseLogisticConfig

    def sigma(self, x: np.ndarray) -> np.ndarray:
        """λ/2 + (1 − λ)·logistic(x); the tanh form does not overflow for large |x|."""
        lapse = self.config.lapse
        return lapse / 2 + (1.0 - lapse) * 0.5 * (1.0 + np.tanh(np.asarray(x, dtype=float) / 2))

    def sigma_inverse(self, p: np.ndarray) -> np.ndarray:
        """logit((p − λ/2)/(1 − λ)); ±inf at and beyond the link's limits λ/2 and 1 − λ/2."""
        lapse = self.config.lapse
        q = np.clip((np.asarray(p, dtype=float) - lapse / 2) / (1.0 - lapse), 0.0, 1.0)
        with np.errstate(divide="ignore"):
            return np.log(q) - np.log1p(-q)
