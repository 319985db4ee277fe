"""The simulated human panel: hidden returns → votes of M evaluators, through a preference model.

Two scopes (docs/algorithms.md#preference-oracle):

- global: one vote count per pair on the whole trajectories' returns;
- per agent, κ-hop: agent i's evaluators compare the truncated returns of its κ-hop
  neighbourhood, ``R_i = (1/n) Σ_{j∈N_i^κ} Σ_{t<H} γ^t r_j(t)`` (DZOPG eq. 7).

The M votes on a pair are one binomial draw. B-Pref's simulated-teacher irrationalities come
from the preference model's config (:class:`zobench.api.PreferenceConfig`).

This is the core's panel: it works on reward arrays, which only the core holds. Algorithms reach
it through the problem's preference channel (:class:`zobench.sim.problem.PanelChannel`), which
looks a batch's rewards up on their behalf and hands back votes only.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

from zobench.errors import PreferenceScaleWarning
from zobench.sim.ledger import Ledger
from zobench.sim.network import Network
from zobench.sim.types import LinkLike

Normalization = Literal["n", "neighbourhood"]
"""How per-agent κ-hop returns are averaged: over all n agents (eq. 7) or over the neighbourhood."""

SATURATION = 10.0
"""A median |ΔR| / scale above this over a panel's first differing pairs makes votes all-or-nothing
(σ(10) of Bradley–Terry is 0.99995): the run warns once and names the setting to change."""


class Panel:
    """M simulated evaluators per query, sharing one preference model and one generator."""

    def __init__(
        self,
        preference: LinkLike,
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
        self._scale_checked = False
        self._step_weights: dict[int, np.ndarray] = {}

    def step_weights(self, horizon: int) -> np.ndarray:
        """Weight of step t in a teacher's return: γ^t · myopia^(H−1−t), shape ``(H,)``.

        Computed once per horizon (every vote uses them) and handed out read-only.
        """
        weights = self._step_weights.get(horizon)
        if weights is None:
            t = np.arange(horizon)
            myopia = float(self.preference.config.myopia)
            weights = self.gamma**t * myopia ** (horizon - 1 - t)
            weights.flags.writeable = False
            self._step_weights[horizon] = weights
        return weights

    def returns(
        self,
        rewards: np.ndarray,
        *,
        horizon: int | None = None,
        kappa: int | None = None,
        normalize: Normalization = "n",
    ) -> np.ndarray:
        """Hidden returns of a batch's rewards ``(B, H, n)`` as the teachers see them (myopia in).

        ``kappa=None``: global returns ``(B,)`` = Σ_{t<H} w_t (1/n) Σ_i r_i(t).
        ``kappa=k``: per-agent κ-hop returns ``(B, n)`` = (1/n) Σ_{j∈N_i^k} Σ_{t<H} w_t r_j(t)
        (DZOPG eq. 7), or with ``normalize="neighbourhood"`` divided by |N_i^k| instead of n:
        the neighbourhood's mean, whose differences do not shrink like 1/n as the network grows.
        ``horizon`` truncates to the first H steps (default: the whole trajectory).
        """
        full = rewards.shape[1]
        H = full if horizon is None else int(horizon)
        if not 0 < H <= full:
            raise ValueError(f"horizon must lie in [1, {full}], got {H}")
        n = rewards.shape[2]
        # per-agent weighted sums, already divided by n (eq. 7's normalisation)
        local = np.einsum("bhn,h->bn", rewards[:, :H], self.step_weights(H)) / n
        if kappa is None:
            return local.sum(axis=1)
        indptr, indices = self.network.neighbourhood(kappa)
        # every neighbourhood contains its agent, so no segment is empty and reduceat is exact
        summed = np.add.reduceat(local[:, indices], indptr[:-1], axis=1)
        if normalize == "neighbourhood":
            return summed * (n / np.diff(indptr))  # (1/n) Σ → (1/|N_i^κ|) Σ
        if normalize != "n":
            raise ValueError(f"normalize must be 'n' or 'neighbourhood', got {normalize!r}")
        return summed

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
        rewards0: np.ndarray,
        rewards1: np.ndarray,
        evaluators: int,
        *,
        horizon: int | None = None,
        kappa: int | None = None,
        normalize: Normalization = "n",
    ) -> np.ndarray:
        """Fraction p̂ of ``evaluators`` (M) preferring the second batch's episodes, pair by pair.

        ``rewards0`` and ``rewards1`` are the two batches' rewards ``(B, H, n)``; episode b of
        each forms pair b. Returns ``(B,)`` for the global scope or ``(B, n)`` per agent
        (``kappa`` given). Charges the ledger M votes per pair (per agent in the per-agent
        scope). With ``equal`` set, pairs whose returns differ by less than it are declared
        ties: every evaluator votes 1/2.

        Per-agent votes need each agent's κ-hop neighbours' trajectories (DZOPG Algorithm 1,
        line 5), so they also charge that gather: per pair, agent i receives one message from
        every other member of N_i^κ, carrying the member's state and action sequences of both
        episodes of the pair over the H steps (2 · 2H numbers).
        """
        if rewards0.shape[0] != rewards1.shape[0]:
            raise ValueError(f"batches differ: {rewards0.shape[0]} vs {rewards1.shape[0]}")
        M = int(evaluators)
        if M < 1:
            raise ValueError("evaluators must be >= 1")
        r0 = self.returns(rewards0, horizon=horizon, kappa=kappa, normalize=normalize)
        r1 = self.returns(rewards1, horizon=horizon, kappa=kappa, normalize=normalize)
        if not self._scale_checked:
            self._check_scale(r1 - r0)
        p_hat = self._vote(r0, r1, M)
        if kappa is not None:
            H = rewards0.shape[1] if horizon is None else int(horizon)
            messages = rewards0.shape[0] * self.network.message_count(kappa)
            self.ledger.charge(messages=messages, values_moved=messages * 2 * (2 * H))
        return p_hat

    def compare_batch_means(
        self, rewards0: np.ndarray, rewards1: np.ndarray, batch: int, evaluators: int
    ) -> np.ndarray:
        """Votes on N comparisons of batches of D = ``batch`` episodes, by their mean return.

        Episodes ``n·D .. n·D + D − 1`` of each side form comparison n (ZSPO's oracle, docs/algorithms.md#zspo):
        p̂_n is the fraction of ``evaluators`` preferring the second side's batch, whose mean
        return decides through the link. Returns ``(N,)`` and charges M votes per comparison.
        """
        B = rewards0.shape[0]
        D = int(batch)
        if D < 1 or B % D or rewards1.shape[0] != B:
            raise ValueError(f"cannot split batches of {B} and {rewards1.shape[0]} into {D}s")
        if D > 1:  # returns are linear in rewards: the mean return is the return of the mean
            rewards0 = rewards0.reshape(B // D, D, *rewards0.shape[1:]).mean(axis=1)
            rewards1 = rewards1.reshape(B // D, D, *rewards1.shape[1:]).mean(axis=1)
        return self.compare(rewards0, rewards1, evaluators)

    def _check_scale(self, differences: np.ndarray) -> None:
        """Warn once when the return differences dwarf the link's scale (votes saturate)."""
        differing = np.abs(differences[differences != 0])
        if not differing.size:
            return  # nothing to judge yet (the uniform policy's first pairs may all tie)
        self._scale_checked = True
        scale = float(self.preference.config.scale)
        typical = float(np.median(differing))
        if typical / scale > SATURATION:
            warnings.warn(
                f"votes saturate: the typical return difference of a pair, {typical:.3g}, is "
                f"{typical / scale:.0f}× the preference model's scale {scale:g}, so nearly every "
                f"vote is unanimous and carries no size; set the preference's scale (e.g. "
                f"[preference] scale = {typical:.2g}) so that differences are a few units of it",
                PreferenceScaleWarning,
                stacklevel=3,
            )

    def _vote(self, r0: np.ndarray, r1: np.ndarray, M: int) -> np.ndarray:
        """The M evaluators' votes on returns ``r0`` vs ``r1`` (one binomial draw per pair)."""
        p = self.probabilities(r0, r1)
        p_hat = self.rng.binomial(M, p) / M
        cfg = self.preference.config
        if cfg.equal > 0.0:
            p_hat = np.where(np.abs(r1 - r0) < cfg.equal, 0.5, p_hat)
        self.ledger.charge_queries(p_hat.size * M)
        return p_hat


def trim_bounds(
    preference: LinkLike,
    *,
    variant: Literal["bound", "constant"],
    bound: float = 0.0,
    margin: float = 0.0,
) -> tuple[float, float]:
    """Trimming interval ``[p_lo, p_hi]`` for p̂ before the inverse link (docs/algorithms.md#trimming).

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
    preference: LinkLike,
    p_hat: np.ndarray,
    lo: float,
    hi: float,
    *,
    bound: float | None = None,
) -> np.ndarray:
    """Return-difference estimate Δ̂ = σ⁻¹(trim(p̂)) (docs/algorithms.md#inverse-link).

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
