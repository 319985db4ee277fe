"""Predator–prey's step compiled with numba (imported only when the kernel is compiled).

It repeats :meth:`PredatorPrey.numpy_step
<zobench_plugins.environments.predator_prey.PredatorPrey.numpy_step>` operation for operation —
the same float64 arithmetic in the same order, no fast-math — so both give bit-identical states,
rewards and remaining prey (the tests compare them). One call steps the whole batch.
"""

from __future__ import annotations

import numba
import numpy as np

from zobench.sim._compiled import STEP_ARGUMENTS

_SIGNATURE = numba.void(
    numba.int64[::1],  # next cell of (cell, action), flat (S·A)
    numba.int64[::1],  # prey index of every cell, −1 off prey (S,)
    numba.float64[:, ::1],  # distance of every cell to every prey (S, P)
    numba.float64[:, ::1],  # distance to the nearest prey of a remaining set (2^P, S), or (0, S)
    numba.int64,  # n_actions
    numba.float64,  # slip
    numba.float64,  # c_time
    numba.float64,  # R_cap
    numba.float64,  # η
    numba.boolean[:, ::1],  # remaining prey (B, P), updated in place
    *STEP_ARGUMENTS,
)


@numba.njit(_SIGNATURE, cache=True, nogil=True, boundscheck=False)
def predator_prey_step(
    next_flat: np.ndarray,
    prey_of_cell: np.ndarray,
    prey_distance: np.ndarray,
    nearest: np.ndarray,
    n_actions: int,
    slip: float,
    time_cost: float,
    capture_reward: float,
    shaping: float,
    remaining: np.ndarray,
    states: np.ndarray,
    actions: np.ndarray,
    uniforms: np.ndarray,
    next_states: np.ndarray,
    rewards: np.ndarray,
) -> None:
    """Blocked moves stay; captures share R_cap; shaping; caught prey leave (eq. 38).

    ``nearest[m, s]`` is the distance from cell s to the nearest prey of the set whose bit
    mask is m, the minimum the loop over the remaining prey would find (a table lookup instead
    of a loop per agent); with an empty table (too many prey for one) the loop runs.
    """
    batch, agents = states.shape
    n_prey = remaining.shape[1]
    table = nearest.shape[0] > 0
    captors = np.zeros(n_prey, dtype=np.int64)
    caught = np.empty(agents, dtype=np.int64)  # the remaining prey each agent stands on, or −1
    for b in range(batch):
        active = False  # prey left before the step
        mask = 0
        for p in range(n_prey):
            captors[p] = 0
            if remaining[b, p]:
                active = True
                if table:
                    mask |= 1 << p
        for i in range(agents):
            s = states[b, i]
            moved = next_flat[s * n_actions + actions[b, i]]
            if slip and uniforms[b, i] < slip:
                moved = s
            next_states[b, i] = moved
            prey = prey_of_cell[moved]
            caught[i] = -1
            if prey >= 0 and remaining[b, prey]:
                captors[prey] += 1
                caught[i] = prey
        if not active:  # the task is done: every later reward is 0
            for i in range(agents):
                rewards[b, i] = 0.0
            continue
        for i in range(agents):
            moved = next_states[b, i]
            share = 0.0
            if caught[i] >= 0:
                share = capture_reward / captors[caught[i]]
            if table:
                distance = nearest[mask, moved]
            else:
                distance = np.inf  # to the nearest remaining prey
                for p in range(n_prey):
                    if remaining[b, p] and prey_distance[moved, p] < distance:
                        distance = prey_distance[moved, p]
            rewards[b, i] = -time_cost + share - shaping * distance
        for p in range(n_prey):
            if captors[p]:
                remaining[b, p] = False
