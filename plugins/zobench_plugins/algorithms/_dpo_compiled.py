"""DPO's data build and mini-batch loss compiled with numba (imported only when the kernel is
compiled); :mod:`._dpo_fast` calls them, :mod:`._optim` holds the numpy reference.

Every sum here adds the same float64 numbers in the order numpy's reduction does over the
arrays the numpy path builds, so results are bit-identical (the tests compare them on many
shapes). numpy's ``x.sum(axis=(t, i))`` over an array whose agent axis is innermost walks the
remaining axes in memory order and adds each run of ``n`` agents with its pairwise summation
(:func:`pairwise`, ``n <= 128``) into the running total, which starts at 0. ``np.bincount``
adds its weights one by one in the order given. No fast-math.
"""

from __future__ import annotations

import numba
import numpy as np

PAIRWISE_BLOCK = 128
"""numpy's pairwise block: runs of up to this many entries are summed by :func:`pairwise`."""


def _read(dtype: numba.types.Type, ndim: int) -> numba.types.Array:
    """A C-contiguous input array, writable or not (rollouts hand out read-only views)."""
    return numba.types.Array(dtype, ndim, "C", readonly=True)


@numba.njit(numba.float64(numba.float64[::1], numba.int64), cache=True, nogil=True, inline="always")
def pairwise(values: np.ndarray, n: int) -> float:
    """numpy's pairwise sum of ``values[:n]`` for ``n <= 128``: left to right from −0 below 8
    entries; else 8 running sums combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then the
    rest of a length not a multiple of 8 added left to right."""
    if n < 8:
        res = -0.0
        for i in range(n):
            res += values[i]
        return res
    r0, r1, r2, r3 = values[0], values[1], values[2], values[3]
    r4, r5, r6, r7 = values[4], values[5], values[6], values[7]
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 += values[i]
        r1 += values[i + 1]
        r2 += values[i + 2]
        r3 += values[i + 3]
        r4 += values[i + 4]
        r5 += values[i + 5]
        r6 += values[i + 6]
        r7 += values[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += values[i]
        i += 1
    return res


BUILD_BLOCK = 512
"""Pairs :func:`dpo_build` runs through time at once (their sums stay in cache)."""

_BUILD_SIGNATURES = [
    numba.void(
        _read(numba.int64, 3),  # states of the first trajectories, time-major (H + 1, K, n)
        _read(numba.int64, 3),  # their actions (H, K, n)
        _read(numba.int64, 3),  # states of the second trajectories (H + 1, K, n)
        _read(numba.int64, 3),  # their actions (H, K, n)
        numba.int64,  # n_states
        numba.int64,  # n_actions
        _read(numba.float64, 1),  # log π_ref of every cell (n·S·A,)
        cells,  # stored cells (K, H, 2, n), written
        numba.float64[:, ::1],  # Σ_t Σ_i log π_ref of every trajectory (K, 2), written
    )
    for cells in (numba.int16[:, :, :, ::1], numba.int32[:, :, :, ::1], numba.int64[:, :, :, ::1])
]


@numba.njit(_BUILD_SIGNATURES, cache=True, nogil=True, boundscheck=False)
def dpo_build(
    first_states: np.ndarray,
    first_actions: np.ndarray,
    second_states: np.ndarray,
    second_actions: np.ndarray,
    n_states: int,
    n_actions: int,
    log_table: np.ndarray,
    cells: np.ndarray,
    reference: np.ndarray,
) -> None:
    """The cells of every step and each trajectory's reference log-likelihood, in one pass.

    The trajectories come as the rollouts' time-major buffers (the batch-first arrays swapped
    back). Writes :func:`zobench.sim.policy.cell_index`'s (i·S + s)·A + a into ``cells`` and
    ``reference[k, c]`` = Σ_t pairwise_i log_table[cell]: numpy's sum of the time-major
    log-probabilities ``(H, k, 2, n)`` over t and i (:meth:`PreferenceData.build`'s numpy
    path), added in its order without writing those log-probabilities out (they were 3 GB
    written and read again for predator-prey's 800,000 pairs).
    """
    K, H, _, n = cells.shape
    row = np.empty(n)
    for start in range(0, K, BUILD_BLOCK):
        stop = min(start + BUILD_BLOCK, K)
        for k in range(start, stop):
            reference[k, 0] = 0.0
            reference[k, 1] = 0.0
        for t in range(H):
            for k in range(start, stop):
                for i in range(n):
                    cell = (i * n_states + first_states[t, k, i]) * n_actions
                    cell += first_actions[t, k, i]
                    cells[k, t, 0, i] = cell
                    row[i] = log_table[cell]
                reference[k, 0] += pairwise(row, n)
                for i in range(n):
                    cell = (i * n_states + second_states[t, k, i]) * n_actions
                    cell += second_actions[t, k, i]
                    cells[k, t, 1, i] = cell
                    row[i] = log_table[cell]
                reference[k, 1] += pairwise(row, n)


_SUMS_SIGNATURES = [
    numba.void(
        cells,  # stored cells (K, H, 2, n)
        _read(numba.int64, 1),  # the mini-batch's pairs (m,)
        _read(numba.float64, 1),  # log π_θ of every cell (n·S·A,)
        numba.float64[:, ::1],  # Σ_t Σ_i log π_θ of every trajectory of the batch (m, 2), written
    )
    for cells in (_read(numba.int16, 4), _read(numba.int32, 4), _read(numba.int64, 4))
]


@numba.njit(_SUMS_SIGNATURES, cache=True, nogil=True, boundscheck=False)
def dpo_log_sums(cells: np.ndarray, index: np.ndarray, log_table: np.ndarray, out: np.ndarray):
    """``log_prob_cells(θ, data.cells[index]).sum(axis=(2, 3))`` without the gathers.

    The gathered cells keep the stored pair-major layout ``(m, H, 2, n)``, so numpy adds, for
    each pair, t by t and trajectory by trajectory, the pairwise sum of the n agents.
    """
    H, n = cells.shape[1], cells.shape[3]
    row = np.empty(n)
    for b in range(index.shape[0]):
        k = index[b]
        out[b, 0] = 0.0
        out[b, 1] = 0.0
        for t in range(H):
            for c in range(2):
                for i in range(n):
                    row[i] = log_table[cells[k, t, c, i]]
                out[b, c] += pairwise(row, n)


_COUNTS_SIGNATURES = [
    numba.void(
        cells,  # stored cells (K, H, 2, n)
        _read(numba.int64, 1),  # the mini-batch's pairs (m,)
        _read(numba.float64, 1),  # slope of every pair (m,): weight −slope on τ0, +slope on τ1
        _read(numba.int64, 1),  # row i·S + s of every cell, cell // A (n·S·A,)
        numba.float64[::1],  # weighted cell counts (n·S·A,), zeroed, added to
        numba.float64[::1],  # weighted row counts (n·S,), zeroed, added to
    )
    for cells in (_read(numba.int16, 4), _read(numba.int32, 4), _read(numba.int64, 4))
]


@numba.njit(_COUNTS_SIGNATURES, cache=True, nogil=True, boundscheck=False)
def dpo_counts(
    cells: np.ndarray,
    index: np.ndarray,
    slope: np.ndarray,
    row_of_cell: np.ndarray,
    counts: np.ndarray,
    visits: np.ndarray,
) -> None:
    """:func:`zobench.sim.policy.score_cells`' two bincounts of ``data.cells[index]`` with
    weights ±slope, in their order: pair, then trajectory (τ0, τ1), then t, then agent. The
    rows come from a table (an integer division per cell cost as much as the rest)."""
    H, n = cells.shape[1], cells.shape[3]
    for b in range(index.shape[0]):
        k = index[b]
        for c in range(2):
            w = -slope[b] if c == 0 else slope[b]
            for t in range(H):
                for i in range(n):
                    cell = cells[k, t, c, i]
                    counts[cell] += w
                    visits[row_of_cell[cell]] += w
