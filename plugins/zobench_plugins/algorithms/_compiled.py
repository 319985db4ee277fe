"""The baselines' inner loops compiled with numba (imported only when the kernel is compiled).

Each function repeats a numpy reference in its algorithm's module operation for operation —
the same float64 arithmetic in the same order, no fast-math — so both give bit-identical
results (the tests compare them). They replace Python loops of many small numpy calls
(:func:`sac_critic_sweeps`) or passes over whole-batch temporaries
(:func:`ppo_feature_differences`, :func:`dpo_cells`).
"""

from __future__ import annotations

import numba
import numpy as np


def _read(dtype: numba.types.Type, ndim: int) -> numba.types.Array:
    """An input array of any layout, writable or not (rollouts hand out read-only views)."""
    return numba.types.Array(dtype, ndim, "A", readonly=True)


_SAC_SIGNATURE = numba.void(
    numba.float64[::1],  # the group's critic values, updated in place
    _read(numba.int64, 3),  # entry of every (episode, step, agent of the group) (B, H, g)
    _read(numba.float64, 3),  # true local rewards (B, H, n)
    _read(numba.int64, 1),  # agents of the group (g,)
    numba.float64,  # γ
    _read(numba.float64, 1),  # step α of every (sweep, t), in order
    numba.int64,  # sweeps
)
_FEATURES_SIGNATURE = numba.void(
    _read(numba.int64, 3),  # states of the first trajectories (K, H + 1, n)
    _read(numba.int64, 3),  # their actions (K, H, n)
    _read(numba.int64, 3),  # states of the second trajectories
    _read(numba.int64, 3),  # their actions
    numba.int64,  # n_actions
    numba.int64,  # offset of agent i's table: i · agent_stride
    _read(numba.float64, 1),  # weight of step t, γ^t / n (H,)
    numba.float64[:, ::1],  # X (K, size), written
)
_DPO_SIGNATURES = [
    numba.void(
        _read(numba.int64, 3),  # states of the first trajectories (K, H + 1, n)
        _read(numba.int64, 3),  # their actions (K, H, n)
        _read(numba.int64, 3),  # states of the second trajectories
        _read(numba.int64, 3),  # their actions
        numba.int64,  # n_states
        numba.int64,  # n_actions
        _read(numba.float64, 1),  # log π_ref of every cell (n·S·A,)
        numba.int64,  # first pair of the chunk
        cells,  # stored cells (K, H, 2, n), written
        numba.float64[:, :, :, ::1],  # the chunk's log-probabilities (H, k', 2, n), written
    )
    for cells in (numba.int32[:, :, :, ::1], numba.int64[:, :, :, ::1])
]


@numba.njit(_SAC_SIGNATURE, cache=True, nogil=True, boundscheck=False)
def sac_critic_sweeps(
    values: np.ndarray,
    position: np.ndarray,
    rewards: np.ndarray,
    agents: np.ndarray,
    gamma: float,
    alphas: np.ndarray,
    sweeps: int,
) -> None:
    """SAC's TD(0) sweeps of one critic group, in place on ``values``.

    ``position`` ``(B, H, g)`` are the entries of ``values`` each (episode, step, agent of the
    group) visits; ``rewards`` ``(B, H, n)``; ``alphas`` the step of each (sweep, t) in order.
    As :meth:`zobench_plugins.algorithms.sac.SAC.critic` does with numpy: at step t every TD
    error is computed before any entry moves; an entry visited k times moves by α times the sum
    of its TD errors (added in (episode, agent) order, as ``np.bincount`` does) divided by k.
    """
    B, H, g = position.shape
    size = B * g
    # the entries visited at step t, numbered by first appearance in sorted order: slot[t, k]
    # of the k-th (episode, agent), the entry of each slot and its visit count (fixed per t)
    slot = np.empty((H, size), dtype=np.int64)
    entry = np.empty((H, size), dtype=np.int64)
    count = np.zeros((H, size), dtype=np.int64)
    used = np.zeros(H, dtype=np.int64)
    flat = np.empty(size, dtype=np.int64)
    for t in range(H):
        for b in range(B):
            for j in range(g):
                flat[b * g + j] = position[b, t, j]
        order = np.argsort(flat, kind="mergesort")
        slots = -1
        previous = -1
        for k in range(size):
            e = flat[order[k]]
            if slots < 0 or e != previous:
                slots += 1
                entry[t, slots] = e
                previous = e
            slot[t, order[k]] = slots
            count[t, slots] += 1
        used[t] = slots + 1
    td = np.empty(size)
    sums = np.empty(size)
    u = 0
    for _ in range(sweeps):
        for t in range(H):
            alpha = alphas[u]
            u += 1
            for b in range(B):
                for j in range(g):
                    target = rewards[b, t, agents[j]]
                    if t + 1 < H:
                        target = target + gamma * values[position[b, t + 1, j]]
                    td[b * g + j] = target - values[position[b, t, j]]
            for s in range(used[t]):
                sums[s] = 0.0
            for k in range(size):
                sums[slot[t, k]] += td[k]
            for s in range(used[t]):
                e = entry[t, s]
                values[e] += alpha * (sums[s] / count[t, s])


@numba.njit(_FEATURES_SIGNATURE, cache=True, nogil=True, boundscheck=False)
def ppo_feature_differences(
    first_states: np.ndarray,
    first_actions: np.ndarray,
    second_states: np.ndarray,
    second_actions: np.ndarray,
    n_actions: int,
    agent_stride: int,
    weights: np.ndarray,
    out: np.ndarray,
) -> None:
    """PPO-RM's X = Φ(τ1) − Φ(τ0) into ``out`` ``(K, size)``, pair by pair.

    As :func:`zobench_plugins.algorithms.ppo_rm.feature_differences` on the pairs'
    :func:`~zobench_plugins.algorithms.ppo_rm.cells` (s·A + a, plus i·``agent_stride``): each
    feature adds ``weights[t]`` (γ^t / n) over the steps and agents in (t, i) order from 0, as
    ``np.bincount`` does, then the first trajectory's features are subtracted from the second's.
    """
    K, size = out.shape
    H, n = first_actions.shape[1], first_actions.shape[2]
    plus = np.zeros(size)
    minus = np.zeros(size)
    for k in range(K):
        for t in range(H):
            for i in range(n):
                cell = second_states[k, t, i] * n_actions + second_actions[k, t, i]
                plus[cell + i * agent_stride] += weights[t]
        for t in range(H):
            for i in range(n):
                cell = first_states[k, t, i] * n_actions + first_actions[k, t, i]
                minus[cell + i * agent_stride] += weights[t]
        for d in range(size):
            out[k, d] = plus[d] - minus[d]
            plus[d] = 0.0
            minus[d] = 0.0


@numba.njit(_DPO_SIGNATURES, cache=True, nogil=True, boundscheck=False)
def dpo_cells(
    first_states: np.ndarray,
    first_actions: np.ndarray,
    second_states: np.ndarray,
    second_actions: np.ndarray,
    n_states: int,
    n_actions: int,
    log_table: np.ndarray,
    start: int,
    cells: np.ndarray,
    log_probs: np.ndarray,
) -> None:
    """DPO's cells and their log-probabilities, for the pairs ``start ≤ k < start + k'``.

    Writes :func:`zobench.sim.policy.cell_index`'s (i·S + s)·A + a of every step into ``cells``
    ``(K, H, 2, n)`` (the stored, pair-major layout) and ``log_table`` at each cell into
    ``log_probs`` ``(H, k', 2, n)``: the time-major layout numpy's stack of the chunk's cells
    has, so that numpy's sum over it adds as it did over the stack's log-probabilities.
    """
    H, chunk, _, n = log_probs.shape
    for t in range(H):
        for b in range(chunk):
            k = start + b
            for i in range(n):
                row = i * n_states
                first = (row + first_states[k, t, i]) * n_actions + first_actions[k, t, i]
                second = (row + second_states[k, t, i]) * n_actions + second_actions[k, t, i]
                cells[k, t, 0, i] = first
                cells[k, t, 1, i] = second
                log_probs[t, b, 0, i] = log_table[first]
                log_probs[t, b, 1, i] = log_table[second]
