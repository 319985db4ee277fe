"""Offline and online DPO's data build and update loop, compiled where that is bit-identical.

:func:`build` and :func:`dpo_updates` give exactly what :meth:`._optim.PreferenceData.build` and
:func:`._optim.dpo_updates` give (the numpy reference, still used with ``ZOBENCH_KERNEL=numpy``,
without numba, and for shapes the compiled code does not cover): the same cells, the same
reference sums, the same losses and gradients bit for bit, and the same draws from the
generator. The compiled kernels (:mod:`._dpo_compiled`) add the same numbers in numpy's order
without the temporaries numpy needs: the log-probabilities of every step and their gathers.

Measured on predator-prey (8 agents, H = 30; one core, the other busy), each against the
previous code in the same session: online DPO's build of 1,600 pairs 4.2 → 1.7 ms, a
mini-batch's loss and gradient (256 pairs) 1.28 → 0.36 ms; offline DPO's build of 800,000 pairs
2.7 → 0.7 s (in memory already touched; first-touching the old 1.5 GB of cells added ~2.8 s).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np

from zobench.sim import kernel, policy
from zobench.sim.rollout import Trajectories
from zobench_plugins.algorithms import _optim
from zobench_plugins.algorithms._optim import (
    DPOSettings,
    Optimizer,
    PreferenceData,
    logistic_loss,
    logistic_slope,
)

COMPILED = "zobench_plugins.algorithms._dpo_compiled"
"""The module of the compiled build and loss, loaded by the kernel's warm-up before a run is timed."""
kernel.compile_with_kernel(COMPILED)

MAX_AGENTS = 128
"""Most agents the compiled sums cover: numpy adds up to 128 agents by one pairwise block."""


def build(
    first: Trajectories, second: Trajectories, targets: np.ndarray, theta_ref: np.ndarray
) -> PreferenceData:
    """:meth:`PreferenceData.build`, in one compiled pass where it is exact.

    The compiled pass writes the stored cells and adds each trajectory's reference
    log-probabilities in the order numpy adds them over the time-major stack (which the
    rollouts' layout gives it; :func:`._optim._time_major`), without writing those
    log-probabilities out (the numpy path writes and sums 3 GB of them for predator-prey's
    800,000 pairs).
    """
    K, H, n = first.actions.shape
    arrays = (first.states, first.actions, second.states, second.actions)
    # the rollouts' time-major buffers, which the batch-first arrays are views of
    buffers = [np.asarray(a, dtype=np.int64).swapaxes(0, 1) for a in arrays]
    contiguous = all(b.flags.c_contiguous for b in buffers)
    if not (K > 1 and n <= MAX_AGENTS and kernel.compiled_available() and contiguous):
        return PreferenceData.build(first, second, targets, theta_ref)
    from zobench_plugins.algorithms._dpo_compiled import dpo_build

    shape = theta_ref.shape
    log_table = policy.log_probabilities(theta_ref).reshape(-1)
    index_type = cell_type(theta_ref.size)
    layout = np.empty((K, H, 2, n), dtype=index_type)  # pair-major, as PreferenceData stores
    reference = np.empty((K, 2))
    states0, actions0, states1, actions1 = buffers
    dpo_build(
        states0, actions0, states1, actions1, shape[1], shape[2], log_table, layout, reference
    )
    return PreferenceData(layout.transpose(0, 2, 1, 3), np.asarray(targets, dtype=float), reference)


@functools.cache
def _rows(rows: int, n_actions: int) -> np.ndarray:
    """The row i·S + s of every cell (i·S + s)·A + a: ``cell // A``, read-only."""
    table = np.repeat(np.arange(rows, dtype=np.int64), n_actions)
    table.flags.writeable = False
    return table


def cell_type(size: int) -> type[np.signedinteger]:
    """The narrowest of int16, int32 and int64 that holds every cell of a θ of ``size`` entries.

    The cells only index θ, so any width gives the same numbers. int16 holds predator-prey's
    1,960 cells: its 800,000 pairs' cells take 0.77 GB instead of 1.5 GB, and fresh memory is
    dear there (the build's first touch of 1.5 GB cost 2.8 s when the machine was busy, as much
    as the rest of the build).
    """
    for kind in (np.int16, np.int32):
        if size <= np.iinfo(kind).max:
            return kind
    return np.int64


def _stored(data: PreferenceData) -> np.ndarray | None:
    """The cells as stored ``(K, H, 2, n)`` C-contiguous, or None if the compiled loss can't use them."""
    layout = data.cells.transpose(0, 2, 1, 3)
    if layout.flags.c_contiguous and layout.shape[3] <= MAX_AGENTS:
        return layout
    return None


def dpo_loss_and_gradient(
    theta: np.ndarray, data: PreferenceData, layout: np.ndarray, beta: float, index: np.ndarray
) -> tuple[float, np.ndarray]:
    """:func:`._optim.dpo_loss_and_gradient` on the pairs ``index`` (at least 2), compiled.

    The log-likelihood sums and the score's two bincounts read the stored cells in place
    instead of gathering the mini-batch's cells, their log-probabilities and weights (and
    ravelled copies of both); the arithmetic between them is numpy's, as before.
    """
    from zobench_plugins.algorithms._dpo_compiled import dpo_counts, dpo_log_sums

    n, S, A = theta.shape
    index = np.asarray(index, dtype=np.int64)
    targets, reference = data.targets[index], data.reference[index]
    sums = np.empty((len(index), 2))
    dpo_log_sums(layout, index, policy.log_probabilities(theta).reshape(-1), sums)
    log_ratio = sums - reference  # (m, 2)
    h = beta * (log_ratio[:, 1] - log_ratio[:, 0])
    loss = float(logistic_loss(h, targets).mean())
    slope = beta * logistic_slope(h, targets) / len(targets)
    counts = np.zeros(n * S * A)
    visits = np.zeros(n * S)
    dpo_counts(layout, index, slope, _rows(n * S, A), counts, visits)
    return loss, counts.reshape(n, S, A) - visits.reshape(n, S, 1) * policy.probabilities(theta)


def dpo_updates(
    theta: np.ndarray,
    data: PreferenceData,
    optimizer: Optimizer,
    settings: DPOSettings,
    rng: np.random.Generator,
) -> tuple[np.ndarray, Mapping[str, float]]:
    """:func:`._optim.dpo_updates` (the same draws, steps and diagnostics), its loss compiled."""
    batch = min(settings.batch_size, data.size)
    layout = _stored(data) if batch > 1 and kernel.compiled_available() else None
    if layout is None:
        return _optim.dpo_updates(theta, data, optimizer, settings, rng)
    losses = []
    grad = np.zeros_like(theta)
    for _ in range(settings.minibatches):
        index = rng.choice(data.size, size=batch, replace=False)
        loss, grad = dpo_loss_and_gradient(theta, data, layout, settings.beta, index)
        theta = optimizer.step(theta, grad)
        losses.append(loss)
    return theta, {"dpo_loss": float(np.mean(losses)), "grad_norm": float(np.linalg.norm(grad))}
