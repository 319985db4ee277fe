"""Tabular softmax policies, one per agent: π_i(a | s) = exp θ[i, s, a] / Σ_b exp θ[i, s, b].

θ is shaped ``(n_agents, n_states, n_actions)``. Every function here is vectorized over the
batch, time and agent axes; index arrays follow the house rule (batch first, agents last).
"""

from __future__ import annotations

import numpy as np

COLUMN_ROWS = 4096
"""From this many rows (n·S) on, :func:`probabilities` reduces rows column by column."""


def probabilities(theta: np.ndarray) -> np.ndarray:
    """Action probabilities ``(n, S, A)``; stable for any finite θ (the row maximum is removed)."""
    A = theta.shape[-1]
    if A >= 8 or theta.size < COLUMN_ROWS * A:
        z = theta - theta.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)
    # Many short rows (dzopg's thousands of agents): numpy's reductions over a last axis of a
    # few entries cost a call per row, so take the maximum and the sum column by column. The
    # same numbers: a maximum is exact, and numpy sums fewer than 8 entries left to right.
    largest = theta[..., 0]
    for k in range(1, A):
        largest = np.maximum(largest, theta[..., k])
    e = np.exp(theta - largest[..., None])
    total = e[..., 0].copy()
    for k in range(1, A):
        total += e[..., k]
    return e / total[..., None]


def log_probabilities(theta: np.ndarray) -> np.ndarray:
    """Log action probabilities ``(n, S, A)`` by a stable log-sum-exp."""
    m = theta.max(axis=-1, keepdims=True)
    z = theta - m
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def cumulative(theta: np.ndarray) -> np.ndarray:
    """Cumulative action probabilities ``(n, S, A)`` for inverse-CDF sampling (see :class:`Sampler`)."""
    return np.cumsum(probabilities(theta), axis=-1)


def cdf_rows(theta: np.ndarray) -> np.ndarray:
    """CDF rows ``(n·S, A − 1)`` of :class:`Sampler`: row i·S + s, the last entry left out.

    The running sums are :func:`cumulative`'s, added column by column straight into the rows:
    numpy's ``cumsum`` adds left to right too, so the entries are bit-identical, without its
    per-row cost over a last axis of a few entries nor a copy to drop the last column (at
    thousands of agents these were half the cost of building the rows).
    """
    n, S, A = theta.shape
    p = probabilities(theta).reshape(n * S, A)
    rows = np.empty((n * S, A - 1))
    if A > 1:
        rows[:, 0] = p[:, 0]
    for k in range(1, A - 1):
        np.add(rows[:, k - 1], p[:, k], out=rows[:, k])
    return rows


SMALL_BATCH = 1024
"""Below this many (episode, agent) entries one comparison against whole CDF rows is fastest."""


class Sampler:
    """Inverse-CDF action sampler for a fixed θ; the CDF rows are built once (per rollout).

    The action is the number of CDF entries at or below the uniform. The last entry (1 up to
    rounding) is left out, so rounding can never yield an action ``A``.
    """

    def __init__(self, theta: np.ndarray) -> None:
        n, S, A = theta.shape
        self.n_actions = A
        self.rows = cdf_rows(theta)
        self.columns = [self.rows[:, k].copy() for k in range(A - 1)]
        self.offsets = np.arange(n) * S if n > 1 else None  # row of (agent i, state s): i·S + s

    def __call__(self, states: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """Actions ``(..., n)`` for ``states (..., n)`` from uniforms ``(..., n)`` in ``[0, 1)``."""
        index = states if self.offsets is None else states + self.offsets
        if states.size < SMALL_BATCH:  # per-call overhead dominates: one gather, one comparison
            return (uniforms[..., None] >= np.take(self.rows, index, axis=0)).sum(axis=-1)
        # large batches: per-column gathers and comparisons beat numpy's row gather and its
        # reduction over a tiny last axis (about 5× at B = 8192, A = 4)
        actions = np.zeros(states.shape, dtype=np.int64)
        for column in self.columns:
            actions += uniforms >= np.take(column, index)
        return actions


def sample(theta: np.ndarray, states: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Actions ``(B, n)`` for ``states (B, n)`` from uniforms ``(B, n)`` in ``[0, 1)``."""
    return Sampler(theta)(states, uniforms)


def log_prob(theta: np.ndarray, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """log π_i(a_i | s_i) for ``states`` and ``actions`` shaped ``(..., n)``; same shape out."""
    n = theta.shape[0]
    return log_probabilities(theta)[np.arange(n), states, actions]


def cell_index(shape: tuple[int, ...], states: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Flat index (i·S + s)·A + a into θ ``shape = (n, S, A)`` of every ``(..., n)`` entry.

    Learners that score the same visited cells under several θ (mini-batch passes) compute this
    once: :func:`log_prob_cells` and :func:`score_cells` then gather from it, giving exactly the
    numbers :func:`log_prob` and :func:`score` give for the states and actions it came from.
    """
    n, S, A = shape
    return (np.arange(n) * S + states) * A + actions


def log_prob_cells(theta: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """log π(a | s) of the flat :func:`cell_index` entries ``cells``; same shape out.

    The result keeps the memory layout of ``cells`` (indexing, not ``np.take``), as
    :func:`log_prob` keeps that of its states: a later reduction over it then adds in the same
    order, so sums agree bit for bit.
    """
    return log_probabilities(theta).reshape(-1)[cells]


def score(
    theta: np.ndarray, states: np.ndarray, actions: np.ndarray, weights: np.ndarray | float = 1.0
) -> np.ndarray:
    """Σ weights · ∇_θ log π(a | s), shaped like θ ``(n, S, A)``.

    ``states``, ``actions`` are ``(..., n)``; ``weights`` broadcasts to them. For a softmax row,
    ∇_{θ[i, s]} log π_i(a | s) = e_a − π_i(· | s), so the gradient is a weighted count of the
    visited (state, action) cells minus the weighted state counts times π — two bincounts.
    """
    n, S, A = theta.shape
    states = np.asarray(states)
    actions = np.asarray(actions)
    w = np.broadcast_to(np.asarray(weights, dtype=float), states.shape).ravel()
    row = (np.arange(n) * S + states).ravel()
    return _score(theta, row * A + actions.ravel(), row, w)


def score_cells(
    theta: np.ndarray, cells: np.ndarray, weights: np.ndarray | float = 1.0
) -> np.ndarray:
    """:func:`score` of the flat :func:`cell_index` entries ``cells`` (same numbers, bit for bit).

    ``weights`` broadcasts to ``cells``.
    """
    A = theta.shape[2]
    cells = np.asarray(cells)
    w = np.broadcast_to(np.asarray(weights, dtype=float), cells.shape).ravel()
    flat = cells.ravel()
    return _score(theta, flat, flat // A, w)


def _score(theta: np.ndarray, cells: np.ndarray, rows: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The two bincounts of :func:`score`: flat cells (i·S + s)·A + a, rows i·S + s, weights."""
    n, S, A = theta.shape
    counts = np.bincount(cells, weights=w, minlength=n * S * A)
    visits = np.bincount(rows, weights=w, minlength=n * S)
    return counts.reshape(n, S, A) - visits.reshape(n, S, 1) * probabilities(theta)
