"""The simulated human panel: hidden returns → votes of M evaluators, through a preference model.

Two scopes (spec §1, DZOPG §5.2):

- global: one vote count per pair on the whole trajectories' returns;
- per agent, κ-hop: agent i's evaluators compare the truncated returns of its κ-hop
  neighbourhood, ``R_i = (1/n) Σ_{j∈N_i^κ} Σ_{t<H} γ^t r_j(t)`` (DZOPG eq. 7).

The M votes on a pair are one binomial draw. B-Pref's simulated-teacher irrationalities come
from the preference model's config (:class:`zobench.api.PreferenceConfig`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from zobench import api
from zobench.sim.ledger import Ledger
from zobench.sim.network import Network
from zobench.sim.rollout import Trajectories


class Panel:
    """M simulated evaluators per query, sharing one preference model and one generator."""

    def __init__(
        self,
        preference: api.PreferenceModel,
        rng: np.random.Generator,
        ledger: Ledger,
        network: Network,
        gamma: float,
    ) -> None:
        self.preference = preference
        self.rng = rng
        self.ledger = ledger
        self.network = network
        self.gamma = float(gamma)

    def step_weights(self, horizon: int) -> np.ndarray:
        """Weight of step t in a teacher's return: γ^t · myopia^(H−1−t), shape ``(H,)``."""
        t = np.arange(horizon)
        myopia = float(self.preference.config.myopia)
        return self.gamma**t * myopia ** (horizon - 1 - t)

    def returns(
        self, traj: Trajectories, *, horizon: int | None = None, kappa: int | None = None
    ) -> np.ndarray:
        """Hidden returns as the teachers see them (myopia included).

        ``kappa=None``: global returns ``(B,)`` = Σ_{t<H} w_t (1/n) Σ_i r_i(t).
        ``kappa=k``: per-agent κ-hop returns ``(B, n)`` = (1/n) Σ_{j∈N_i^k} Σ_{t<H} w_t r_j(t).
        ``horizon`` truncates to the first H steps (default: the whole trajectory).
        """
        H = traj.horizon if horizon is None else int(horizon)
        if not 0 < H <= traj.horizon:
            raise ValueError(f"horizon must lie in [1, {traj.horizon}], got {H}")
        n = traj.hidden_rewards.shape[2]
        # per-agent weighted sums, already divided by n (eq. 7's normalisation)
        local = np.einsum("bhn,h->bn", traj.hidden_rewards[:, :H], self.step_weights(H)) / n
        if kappa is None:
            return local.sum(axis=1)
        indptr, indices = self.network.neighbourhood(kappa)
        # every neighbourhood contains its agent, so no segment is empty and reduceat is exact
        return np.add.reduceat(local[:, indices], indptr[:-1], axis=1)

    def probabilities(self, r0: np.ndarray, r1: np.ndarray) -> np.ndarray:
        """Each evaluator's probability of preferring the second trajectory, irrationalities in.

        ``skip``: both returns below the threshold → a fair coin (then the mistake rate cannot
        move it away from 1/2). ``mistake`` ε: p' = (1−ε)p + ε(1−p). ``equal`` is handled in
        :meth:`compare` because it fixes the vote itself, not its probability.
        """
        cfg = self.preference.config
        p = self.preference.link(r1 - r0)
        if cfg.skip != 0.0:
            p = np.where((r0 < cfg.skip) & (r1 < cfg.skip), 0.5, p)
        if cfg.mistake != 0.0:
            p = (1.0 - cfg.mistake) * p + cfg.mistake * (1.0 - p)
        return p

    def compare(
        self,
        traj0: Trajectories,
        traj1: Trajectories,
        evaluators: int,
        *,
        horizon: int | None = None,
        kappa: int | None = None,
    ) -> np.ndarray:
        """Fraction p̂ of ``evaluators`` (M) preferring ``traj1`` over ``traj0``, pair by pair.

        Returns ``(B,)`` for the global scope or ``(B, n)`` per agent (``kappa`` given). Charges
        the ledger M votes per pair (per agent in the per-agent scope). With ``equal`` set, pairs
        whose returns differ by less than it are declared ties: every evaluator votes 1/2.
        """
        if traj0.batch != traj1.batch:
            raise ValueError(f"batches differ: {traj0.batch} vs {traj1.batch}")
        M = int(evaluators)
        if M < 1:
            raise ValueError("evaluators must be >= 1")
        r0 = self.returns(traj0, horizon=horizon, kappa=kappa)
        r1 = self.returns(traj1, horizon=horizon, kappa=kappa)
        p = self.probabilities(r0, r1)
        p_hat = self.rng.binomial(M, p) / M
        cfg = self.preference.config
        if cfg.equal > 0.0:
            p_hat = np.where(np.abs(r1 - r0) < cfg.equal, 0.5, p_hat)
        self.ledger.charge_queries(p_hat.size * M)
        return p_hat


def trim_bounds(
    preference: api.PreferenceModel,
    *,
    variant: Literal["bound", "constant"],
    bound: float = 0.0,
    margin: float = 0.0,
) -> tuple[float, float]:
    """Trimming interval ``[p_lo, p_hi]`` for p̂ before the inverse link (spec §1).

    ``"constant"``: (a) ``[D, 1 − D]`` with D = ``margin``. ``"bound"``: (b) ``[σ(−B), σ(B)]``
    with B = ``bound`` bounding |R1 − R0| (σ here is the scaled link).
    """
    if variant == "constant":
        if not 0.0 < margin < 0.5:
            raise ValueError(f"margin must lie in (0, 1/2), got {margin}")
        return float(margin), float(1.0 - margin)
    if variant == "bound":
        if not bound > 0.0:
            raise ValueError(f"bound must be positive, got {bound}")
        lo, hi = (float(v) for v in preference.link(np.array([-bound, bound])))
        if not lo < hi:
            raise ValueError(f"the link is flat on [-{bound}, {bound}]")
        return lo, hi
    raise ValueError(f"variant must be 'bound' or 'constant', not {variant!r}")


def estimate_difference(
    preference: api.PreferenceModel,
    p_hat: np.ndarray,
    lo: float,
    hi: float,
    *,
    bound: float | None = None,
) -> np.ndarray:
    """Return-difference estimate Δ̂ = σ⁻¹(trim(p̂)) (spec §1).

    With trimming variant (b), pass its ``bound`` B: a p̂ at or beyond the interval's ends then
    maps to exactly ∓B, which is σ⁻¹(σ(∓B)) in exact arithmetic. Without it an asymmetric link
    can lose that value: the Weibull link's σ(−15) = exp(−e¹⁵) underflows to 0, and its inverse
    at the smallest representable p gives about −3.3, making Δ̂ lopsided.
    """
    p_hat = np.asarray(p_hat, dtype=float)
    inner = preference.inverse(np.clip(p_hat, lo, hi))
    if bound is None:
        return inner
    return np.where(p_hat <= lo, -bound, np.where(p_hat >= hi, bound, inner))
