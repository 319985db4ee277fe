"""Value gaps from votes, and the random directions they are measured along.

The link-based zeroth-order learners (zpg, zbcpg, dzopg) turn the fraction p̂ of evaluators
preferring one trajectory of a pair into an estimate of the pair's value gap,

    Δ̂ = σ⁻¹(trim(p̂))      (docs/algorithms.md#trimming, #inverse-link; DZOPG eq. (10)),

and zpg, zbcpg, online-dpo and zspo perturb θ along directions uniform on the unit sphere
(docs/algorithms.md#sphere-directions). Those pieces live here once: the trimming settings
(:class:`TrimmingSettings`, a base of the algorithms' configs), :func:`sphere_direction`,
:func:`return_bound` and :func:`inverse_link`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from zobench.api import param
from zobench.sim import panel as panels
from zobench.sim.problem import Problem

TrimVariant = Literal["bound", "constant"]
"""(b) ``"bound"``: [σ(−B), σ(B)]; (a) ``"constant"``: [D, 1 − D] (docs/algorithms.md#trimming)."""


TRIM_DOC = (
    "Trimming of p̂ before σ⁻¹ (docs/algorithms.md#trimming): 'bound' = (b) [σ(−B), σ(B)] with B "
    "bounding the value gaps the panel compares; 'constant' = (a) [D, 1 − D]."
)
"""The doc of the ``trim`` field; each algorithm's config chooses only its default variant
(zpg and zbcpg trim to the return bound, dzopg by a constant margin)."""


@dataclass(frozen=True)
class TrimmingSettings:
    """The settings of the trimming before the inverse link, shared by zpg, zbcpg and dzopg."""

    trim: Literal["bound", "constant"] = param("bound", TRIM_DOC, source="ours")
    trim_margin: float = param(
        0.01,
        "D of the 'constant' trimming variant (a); 0.01 keeps σ⁻¹ within ±4.6 for Bradley–Terry.",
        source="ours",
    )
    return_bound: float | None = param(
        None,
        "B of the 'bound' variant (b), bounding the value gaps the panel compares. None derives "
        "it from public facts only: the environment's declared per-step reward span "
        "(`Environment.reward_span`) times the panel's step weights Σ_{t<H} w_t (= H undiscounted; "
        "dzopg's truncated returns: times max_i |N_i^κ| / n).",
        source="ours",
    )

    def __post_init__(self) -> None:
        if self.return_bound is not None and not self.return_bound > 0:
            raise ValueError(f"return_bound must be positive, got {self.return_bound}")
        if not 0.0 < self.trim_margin < 0.5:
            raise ValueError(f"trim_margin must lie in (0, 1/2), got {self.trim_margin}")


class Trimming(Protocol):
    """What :func:`inverse_link` reads from a config: the trimming settings (read-only)."""

    @property
    def trim(self) -> TrimVariant: ...
    @property
    def trim_margin(self) -> float: ...
    @property
    def return_bound(self) -> float | None: ...


def sphere_direction(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """v = z / ‖z‖ with z ~ N(0, I): uniform on the unit sphere of R^d, returned in ``shape``."""
    z = rng.standard_normal(shape)
    return z / np.linalg.norm(z)


def return_bound(problem: Problem) -> float:
    """B bounding |R(τ1) − R(τ0)| of whole trajectories as the panel sees them: span · Σ_{t<H} w_t.

    The per-step span is the environment's declared ``reward_span`` (1 for rewards in [0, 1],
    ZPG's assumption); w_t are the panel's step weights (γ^t, times myopia^(H−1−t) when the
    teachers are myopic), so B = H for the undiscounted GridWorld. Only public knowledge is
    used: a preference-only algorithm never looks at rewards or the reward table.
    """
    span = float(problem.env.reward_span)
    return span * float(problem.panel.step_weights(problem.env.horizon).sum())


def inverse_link(
    problem: Problem,
    p_hat: np.ndarray,
    trimming: Trimming,
    derived_bound: Callable[[], float] | None = None,
) -> np.ndarray:
    """Δ̂ = σ⁻¹(trim(p̂)) elementwise, with trimming variant (b) or (a).

    ``derived_bound`` gives B when the setting ``return_bound`` is None (default: the
    whole-trajectory :func:`return_bound`; dzopg passes its truncated returns' bound). Variant
    (b) passes B to the kernel so that p̂ at the interval's ends maps to exactly ∓B even where
    σ(−B) underflows (the Weibull link at B = 15); see
    :func:`zobench.sim.panel.estimate_difference`.
    """
    if trimming.trim == "constant":
        lo, hi = panels.trim_bounds(
            problem.preference, variant="constant", margin=trimming.trim_margin
        )
        return panels.estimate_difference(problem.preference, p_hat, lo, hi)
    bound = trimming.return_bound
    if bound is None:
        bound = derived_bound() if derived_bound is not None else return_bound(problem)
    lo, hi = panels.trim_bounds(problem.preference, variant="bound", bound=bound)
    return panels.estimate_difference(problem.preference, p_hat, lo, hi, bound=bound)
