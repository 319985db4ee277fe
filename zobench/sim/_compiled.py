"""The numba-compiled time loop of :mod:`zobench.sim.kernel` (imported only when it is used).

Compiled eagerly for one signature with ``cache=True``: the first import on a machine compiles
(about a second) and writes the cache next to this file (or, where that is read-only, to
numba's user cache); later imports load it. Floating-point work is only comparisons of the
caller's uniforms with the caller's thresholds and copies of table entries, so the results are
bit-identical to the numpy path whatever the compiler does.
"""

from __future__ import annotations

import numba
import numpy as np

AGENT_MAJOR_BYTES = 8 << 20
"""Policy rows larger than this (bytes; 100,000 agents' rows are 80 MB) are walked agent by
agent rather than episode by episode, so each agent's rows are read once per step (4-5× faster
at 100,000 agents and batch 20, measured)."""

STEP_ARGUMENTS = (
    numba.int64[:, :],  # states (B, n)
    numba.int64[:, :],  # actions (B, n)
    numba.float64[:, :],  # first-noise uniforms (B, n)
    numba.int64[:, ::1],  # next states (B, n), written
    numba.float64[:, ::1],  # rewards (B, n), written
)
"""Trailing argument types of a plugin's compiled step, as :func:`zobench.sim.kernel.call_step`
passes them (after the step's own parameters)."""

_SIGNATURE = numba.void(
    numba.float64[:, ::1],  # policy CDF rows (n·S, A − 1)
    numba.int64,  # S
    numba.int64,  # A
    numba.float64[:, ::1],  # outcome thresholds (S·A or 1, K − 1)
    numba.int64[::1],  # next states, flat (S·A·K)
    numba.float64[::1],  # rewards, flat (S·A·K)
    numba.float64[:, :, :],  # action uniforms (T, B, n)
    numba.float64[:, :, :],  # transition uniforms (T, B, n)
    numba.int64[:, :, ::1],  # states (T + 1, B, n); row 0 given
    numba.int64[:, :, ::1],  # actions (T, B, n), written
    numba.float64[:, :, ::1],  # rewards (T, B, n), written
)


PADDED_WIDTH = 4
"""Policy rows of fewer entries (2–4 actions) are padded with +inf to this width, and rows of
this width are compared without a loop: one unrolled comparison per entry (sampling at 1,024
agents took 0.9 ms instead of 1.6 ms per 20 steps of 20 episodes, measured), the same count
since no uniform reaches +inf."""


@numba.njit(cache=True, inline="always")
def _action(policy_rows: np.ndarray, row: int, u: float) -> int:
    """The number of entries of CDF row ``row`` at or below ``u``: the sampled action.

    The rule of :class:`zobench.sim.policy.Sampler`, so both draw the same action.
    """
    if policy_rows.shape[1] == PADDED_WIDTH:
        return (
            (u >= policy_rows[row, 0])
            + (u >= policy_rows[row, 1])
            + (u >= policy_rows[row, 2])
            + (u >= policy_rows[row, 3])
        )
    a = 0
    for j in range(policy_rows.shape[1]):
        if u >= policy_rows[row, j]:
            a += 1
    return a


@numba.njit(_SIGNATURE, cache=True, nogil=True, boundscheck=False)
def table_steps(
    policy_rows: np.ndarray,
    n_states: int,
    n_actions: int,
    threshold_rows: np.ndarray,
    next_flat: np.ndarray,
    reward_flat: np.ndarray,
    action_uniforms: np.ndarray,
    step_uniforms: np.ndarray,
    states: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
) -> None:
    """T steps of B episodes of n agents on a step table, written into the time-major buffers."""
    steps, batch, agents = action_uniforms.shape
    outcome_width = threshold_rows.shape[1]  # K − 1
    shared = threshold_rows.shape[0] == 1  # one row for every (state, action)
    for t in range(steps):
        for b in range(batch):
            for i in range(agents):
                s = states[t, b, i]
                a = _action(policy_rows, i * n_states + s, action_uniforms[t, b, i])
                # outcome: the number of thresholds at or below the uniform (StepTable.step)
                pair = s * n_actions + a
                threshold_row = 0 if shared else pair
                v = step_uniforms[t, b, i]
                k = 0
                for j in range(outcome_width):
                    if v >= threshold_rows[threshold_row, j]:
                        k += 1
                index = pair * (outcome_width + 1) + k
                actions[t, b, i] = a
                states[t + 1, b, i] = next_flat[index]
                rewards[t, b, i] = reward_flat[index]


@numba.njit(
    numba.void(
        numba.float64[:, ::1],  # policy CDF rows (n·S, A − 1)
        numba.int64,  # S
        numba.int64[:, :],  # states (B, n)
        numba.float64[:, :],  # action uniforms (B, n)
        numba.int64[:, :],  # actions (B, n), written
    ),
    cache=True,
    nogil=True,
    boundscheck=False,
)
def sample_actions(
    policy_rows: np.ndarray,
    n_states: int,
    states: np.ndarray,
    uniforms: np.ndarray,
    actions: np.ndarray,
) -> None:
    """One step's actions, as :class:`zobench.sim.policy.Sampler` draws them."""
    batch, agents = states.shape
    if policy_rows.size * 8 <= AGENT_MAJOR_BYTES:
        for b in range(batch):
            for i in range(agents):
                actions[b, i] = _action(policy_rows, i * n_states + states[b, i], uniforms[b, i])
    else:  # rows beyond the caches: read each agent's rows once for the whole batch
        for i in range(agents):
            for b in range(batch):
                actions[b, i] = _action(policy_rows, i * n_states + states[b, i], uniforms[b, i])


@numba.njit(
    numba.void(numba.float64[:, ::1], numba.float64[:, ::1]),
    cache=True,
    nogil=True,
    boundscheck=False,
)
def subtract_row_maximum(theta_rows: np.ndarray, shifted: np.ndarray) -> None:
    """``shifted = θ − max(θ)`` row by row, as :func:`zobench.sim.policy.probabilities` does.

    A maximum is exact whatever the order; a NaN anywhere in a row makes it NaN, as numpy's.
    """
    for r in range(theta_rows.shape[0]):
        largest = theta_rows[r, 0]
        for k in range(1, theta_rows.shape[1]):
            value = theta_rows[r, k]
            if value > largest or value != value:
                largest = value
        for k in range(theta_rows.shape[1]):
            shifted[r, k] = theta_rows[r, k] - largest


@numba.njit(
    numba.void(numba.float64[:, ::1], numba.float64[:, ::1]),
    cache=True,
    nogil=True,
    boundscheck=False,
)
def cumulative_rows(exponentials: np.ndarray, rows: np.ndarray) -> None:
    """CDF rows from exp(θ − max θ): each entry over the row's sum, added up left to right.

    The row sum is taken left to right, as numpy sums fewer than 8 entries (callers pass
    rows of at most 7), and the rest is one IEEE division and one addition per entry, in
    :func:`zobench.sim.policy.cdf_rows`' order, so the rows are bit-identical to it. Columns
    of ``rows`` beyond the A − 1 entries are padding, set to +inf (see :data:`PADDED_WIDTH`).
    """
    width = exponentials.shape[1] - 1  # A − 1
    for r in range(exponentials.shape[0]):
        total = exponentials[r, 0]
        for k in range(1, width + 1):
            total += exponentials[r, k]
        running = exponentials[r, 0] / total
        if width > 0:
            rows[r, 0] = running
        for k in range(1, width):
            running = running + exponentials[r, k] / total
            rows[r, k] = running
        for k in range(width, rows.shape[1]):
            rows[r, k] = np.inf
