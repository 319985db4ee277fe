"""Pieces shared by the preference baselines: optimizers, pair labelling, the trajectory DPO loss.

Used by ``dpo``, ``online-dpo`` (the loss, its analytic gradient and the update loop) and
``ppo-rm`` (optimizers, labelling and the Bradley–Terry log-likelihood slope). Spec §4, §7.

Everything works on the shared tabular softmax θ ``(n_agents, n_states, n_actions)`` and on
trajectory batches with batch-first shapes; no autodiff: for softmax,
∇_{θ[i, s]} log π_i(a | s) = e_a − π_i(· | s), which :func:`zobench.sim.policy.score` sums.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from zobench.api import param
from zobench.sim import kernel, policy
from zobench.sim.problem import Problem
from zobench.sim.rollout import Trajectories
from zobench.space import BudgetSplit, Choice, LogUniform

COMPILED = "zobench_plugins.algorithms._compiled"
"""The module of the compiled DPO data build, loaded by the kernel's warm-up before a run is timed."""
kernel.compile_with_kernel(COMPILED)

# ---------------------------------------------------------------------------------------------
# Optimizers (minimizers: they step against the gradient they are given)
# ---------------------------------------------------------------------------------------------


class SGD:
    """Plain gradient descent x ← x − lr · g."""

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = float(learning_rate)

    def step(self, x: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """The updated parameters (a new array)."""
        return x - self.learning_rate * grad


class Adam:
    """Adam (Kingma & Ba 2015) with bias correction; its moments live between calls."""

    def __init__(
        self, learning_rate: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        self.learning_rate = float(learning_rate)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m: np.ndarray | None = None
        self.v: np.ndarray | None = None
        self.t = 0

    def step(self, x: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """The updated parameters (a new array)."""
        if self.m is None or self.v is None:
            self.m, self.v = np.zeros_like(x), np.zeros_like(x)
        self.t += 1
        self.m = self.beta1 * self.m + (1.0 - self.beta1) * grad
        self.v = self.beta2 * self.v + (1.0 - self.beta2) * grad * grad
        m_hat = self.m / (1.0 - self.beta1**self.t)
        v_hat = self.v / (1.0 - self.beta2**self.t)
        return x - self.learning_rate * m_hat / (np.sqrt(v_hat) + self.eps)


Optimizer = SGD | Adam


def make_optimizer(name: Literal["adam", "sgd"], learning_rate: float) -> Optimizer:
    """An optimizer by name."""
    if name == "adam":
        return Adam(learning_rate)
    if name == "sgd":
        return SGD(learning_rate)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', not {name!r}")


# ---------------------------------------------------------------------------------------------
# Labelled pairs and the logistic (Bradley–Terry) likelihood
# ---------------------------------------------------------------------------------------------


def labels_from_votes(
    p_hat: np.ndarray, rule: Literal["majority", "votes"], rng: np.random.Generator
) -> np.ndarray:
    """Targets y = P(τ1 ≻ τ0) to fit, from the panel's fractions p̂ (one per pair).

    ``"majority"``: y = 1{p̂ > 1/2}, ties (p̂ = 1/2, even M) broken by a fair coin from ``rng``.
    ``"votes"``: y = p̂ — every single vote is a datum, which is the same likelihood as M
    one-vote copies of the pair.
    """
    if rule == "votes":
        return np.asarray(p_hat, dtype=float)
    if rule == "majority":
        coin = rng.random(np.shape(p_hat)) < 0.5
        return np.where(p_hat == 0.5, coin, p_hat > 0.5).astype(float)
    raise ValueError(f"label rule must be 'majority' or 'votes', not {rule!r}")


def logistic_loss(h: np.ndarray, y: np.ndarray) -> np.ndarray:
    """−y log σ(h) − (1 − y) log σ(−h), elementwise and stable for large |h|."""
    return y * np.logaddexp(0.0, -h) + (1.0 - y) * np.logaddexp(0.0, h)


def logistic_slope(h: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d/dh of :func:`logistic_loss`: σ(h) − y."""
    return 0.5 * (1.0 + np.tanh(0.5 * h)) - y  # σ(h) without overflow


def labelled_pairs(
    problem: Problem,
    theta0: np.ndarray,
    theta1: np.ndarray,
    pairs: int,
    evaluators: int,
) -> tuple[Trajectories, Trajectories, np.ndarray]:
    """``pairs`` fresh pairs τ0 ~ π_θ0, τ1 ~ π_θ1 and the fraction p̂ of M evaluators preferring τ1.

    Global scope (whole trajectories, all agents): the centralized learner's view (docs/algorithms.md#centralized-baselines).
    The problem charges the episodes and M votes per pair.
    """
    first, second = problem.rollout_pair(theta0, theta1, pairs)
    return first, second, problem.panel.compare(first, second, evaluators)


# ---------------------------------------------------------------------------------------------
# Trajectory-level DPO (docs/algorithms.md#dpo): L = −log σ(β(Δ_w − Δ_l)), Δ = Σ_t Σ_i log π_θ/π_ref
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DPOSettings:
    """Settings shared by offline and online DPO (docs/algorithms.md#dpo, #online-dpo)."""

    beta: float = param(
        0.00114,
        "Inverse temperature β of the DPO loss −log σ(β(Δ_w − Δ_l)) (common DPO practice: 0.1). Online DPO's; offline DPO sets its own. Tuned by `zobench tune` on the default gridworld under Bradley–Terry votes, 500 iterations (docs/tuning.md).",
        source="ours",
        tune=LogUniform(1e-3, 1.0),
    )
    evaluators: int = param(
        5,
        "Evaluators M asked about each pair (zpg's M).",
        source="ours",
        tune=BudgetSplit("pairs", (1, 5, 10, 20, 40, 100)),
    )
    label: Literal["majority", "votes"] = param(
        "votes",
        "'votes': every vote is a datum (soft label p̂, the single-vote likelihood); "
        "'majority': one label per pair, the majority of the M votes (ties by a fair coin). "
        "Majority labels turn the many equal-return pairs of the uniform policy into coin "
        "flips: offline DPO then ends between 0.13 and 0.92 over seeds 0–3.",
        source="ours",
        tune=Choice(("majority", "votes")),
    )
    optimizer: Literal["adam", "sgd"] = param("adam", "Optimizer of the loss.", source="ours")
    learning_rate: float = param(
        0.0952,
        "Step size of the optimizer (common DPO practice: Adam 1e-2). Online DPO's; offline DPO sets its own. Tuned by `zobench tune` on the default gridworld under Bradley–Terry votes, 500 iterations (docs/tuning.md).",
        source="ours",
        tune=LogUniform(1e-3, 0.3),
    )
    batch_size: int = param(256, "Pairs per mini-batch.", source="ours")
    minibatches: int = param(4, "Gradient steps (mini-batches) per iteration.", source="ours")

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise ValueError(f"beta must be positive, got {self.beta}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if min(self.evaluators, self.batch_size, self.minibatches) < 1:
            raise ValueError("evaluators, batch_size and minibatches must be at least 1")


REFERENCE_CHUNK = 4096
"""Pairs :meth:`PreferenceData.build` stacks and scores under π_ref at a time (a few MB)."""


def _chunks(total: int, size: int) -> list[slice]:
    """Slices of ``range(total)``, ``size`` long but for the last, which is never 1 long.

    A slice of one pair would drop an axis from the stride order numpy lays temporaries out by.
    """
    starts = list(range(0, total, size))
    if len(starts) > 1 and total - starts[-1] == 1:
        starts.pop()
    return [slice(a, b) for a, b in zip(starts, [*starts[1:], total], strict=True)]


def _time_major(*arrays: np.ndarray) -> bool:
    """Whether every ``(K, T, n)`` array is laid out as the rollouts hand them out: a batch-first
    view of a time-major buffer (agents innermost, then episodes, then time), so that numpy
    stacks their cells time-major."""
    return all(a.strides[2] <= a.strides[0] < a.strides[1] for a in arrays)


@dataclass(frozen=True)
class PreferenceData:
    """Labelled pairs with their reference log-likelihoods; pair k is (τ0[k], τ1[k]), target y[k]."""

    cells: np.ndarray
    """Visited cells ``(K, 2, H, n)``: :func:`~zobench.sim.policy.cell_index` of the state and
    action of every step, ``[:, 0]`` of τ0 and ``[:, 1]`` of τ1 (the last state dropped). One
    index per step instead of a state and an action: a mini-batch gathers one array, and scoring
    it under a new θ is a single gather from the log-probability table."""
    targets: np.ndarray
    """y = P(τ1 ≻ τ0) to fit, ``(K,)`` (0/1 for majority labels)."""
    reference: np.ndarray
    """Σ_t Σ_i log π_ref(a | s) of each trajectory, ``(K, 2)``."""

    @classmethod
    def build(
        cls,
        first: Trajectories,
        second: Trajectories,
        targets: np.ndarray,
        theta_ref: np.ndarray,
    ) -> PreferenceData:
        """Stack a labelled batch and score it under π_ref (done once: π_ref is fixed)."""
        shape = theta_ref.shape
        K, H, n = first.actions.shape
        log_table = policy.log_probabilities(theta_ref).reshape(-1)  # log_prob_cells' table
        # Stored pair-major, (K, H, 2, n) in memory, so a mini-batch gathers K contiguous rows
        # rather than 2·H·n scattered entries per pair. This is the layout a gather from the
        # time-major stack produces anyway, so every mini-batch sums in the same order as before.
        # int32 where every cell fits: half the memory, and the cells only ever index θ
        index_type = np.int32 if theta_ref.size <= np.iinfo(np.int32).max else np.int64
        layout = np.empty((K, H, 2, n), dtype=index_type)
        reference = np.empty((K, 2))
        # A chunk of pairs at a time: the whole-batch stack, its log-probabilities and the copy
        # into the layout above held four K·2·H·n arrays at once (14 GB at predator-prey's
        # 800,000 pairs). Each chunk is the whole-batch computation on a slice of the pairs:
        # the slices keep the rollouts' strides, so the stack is laid out as the whole one was
        # (time-major) and every trajectory's sum adds the same numbers in the same order.
        arrays = (first.states, first.actions, second.states, second.actions)
        states0, actions0, states1, actions1 = (np.asarray(a, dtype=np.int64) for a in arrays)
        compiled = K > 1 and kernel.compiled_available() and _time_major(*arrays)
        if compiled:
            from zobench_plugins.algorithms._compiled import dpo_cells
        for chunk in _chunks(K, REFERENCE_CHUNK):
            if compiled:
                # one compiled pass writes the cells and their log-probabilities, the latter
                # time-major (H, k, 2, n) as the stack below is laid out: numpy's sum over the
                # transposed view then adds exactly as over the stack's log-probabilities
                log_probs = np.empty((H, chunk.stop - chunk.start, 2, n))
                dpo_cells(
                    states0,
                    actions0,
                    states1,
                    actions1,
                    shape[1],
                    shape[2],
                    log_table,
                    chunk.start,
                    layout,
                    log_probs,
                )
                reference[chunk] = log_probs.transpose(1, 2, 0, 3).sum(axis=(2, 3))
                continue
            cells = np.stack(
                [
                    policy.cell_index(shape, first.states[chunk, :-1], first.actions[chunk]),
                    policy.cell_index(shape, second.states[chunk, :-1], second.actions[chunk]),
                ],
                axis=1,
            )  # laid out like the rollouts' time-major buffers
            reference[chunk] = log_table[cells].sum(axis=(2, 3))
            layout[chunk] = cells.transpose(0, 2, 1, 3)
        cells = layout.transpose(0, 2, 1, 3)
        return cls(cells, np.asarray(targets, dtype=float), reference)

    @property
    def size(self) -> int:
        """Number of pairs K."""
        return self.targets.shape[0]


def dpo_loss_and_gradient(
    theta: np.ndarray, data: PreferenceData, beta: float, index: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Mean DPO loss over the pairs ``index`` (all by default) and its exact gradient in θ.

    h = β(Δ_1 − Δ_0) with Δ = log π_θ(τ) − log π_ref(τ) = Σ_t Σ_i [log π_θ − log π_ref](a|s)
    (the dynamics cancel, docs/algorithms.md#dpo); loss = −y log σ(h) − (1 − y) log σ(−h), which is
    −log σ(β(Δ_w − Δ_l)) for a 0/1 label. Chain rule: ∂loss/∂θ = (σ(h) − y) β (∇Δ_1 − ∇Δ_0), and
    ∇Δ = Σ_t Σ_i ∇ log π_θ(a|s) is a score sum, so one :func:`policy.score_cells` call with
    weights ±(σ(h) − y) β / K gives the whole gradient.
    """
    cells, targets, reference = data.cells, data.targets, data.reference
    if index is not None:
        cells = cells[index]
        targets, reference = targets[index], reference[index]
    log_ratio = policy.log_prob_cells(theta, cells).sum(axis=(2, 3)) - reference  # (K, 2)
    h = beta * (log_ratio[:, 1] - log_ratio[:, 0])
    loss = float(logistic_loss(h, targets).mean())
    slope = beta * logistic_slope(h, targets) / len(targets)  # ∂loss/∂Δ_1 = −∂loss/∂Δ_0
    weights = np.stack([-slope, slope], axis=1)[:, :, None, None]  # (K, 2, 1, 1) → (K, 2, H, n)
    return loss, policy.score_cells(theta, cells, weights)


def dpo_updates(
    theta: np.ndarray,
    data: PreferenceData,
    optimizer: Optimizer,
    settings: DPOSettings,
    rng: np.random.Generator,
) -> tuple[np.ndarray, Mapping[str, float]]:
    """``settings.minibatches`` optimizer steps on mini-batches drawn without replacement.

    Returns the new θ and diagnostics (mean mini-batch loss, last gradient norm).
    """
    losses = []
    grad = np.zeros_like(theta)
    for _ in range(settings.minibatches):
        index = rng.choice(data.size, size=min(settings.batch_size, data.size), replace=False)
        loss, grad = dpo_loss_and_gradient(theta, data, settings.beta, index)
        theta = optimizer.step(theta, grad)
        losses.append(loss)
    return theta, {"dpo_loss": float(np.mean(losses)), "grad_norm": float(np.linalg.norm(grad))}
