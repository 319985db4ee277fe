"""The baselines' inner loops compiled with numba (imported only when the kernel is compiled).

Each function repeats a numpy reference in its algorithm's module operation for operation —
the same float64 arithmetic in the same order, no fast-math — so both give bit-identical
results (the tests compare them). They replace Python loops of many small numpy calls
(:func:`sac_critic_sweeps`) or whole-batch temporaries (:func:`feature_differences`).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, boundscheck=False)
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
