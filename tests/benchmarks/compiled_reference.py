"""A per-step rollout loop compiled with numba: the yardstick for "close to the hardware's limit".

It samples episodes of a tabular MDP one episode and one step at a time, the straightforward
way to write a tabular sampler in a compiled language: inverse-CDF look-ups (binary search) in
the policy's and the transition table's cumulative rows, one thread, with its uniforms drawn by
numpy inside the timed call. Benchmarks time it in the same run as zobench's rollout, so their
ratios hold on a busy machine.
"""

from __future__ import annotations

import numba
import numpy as np

from zobench import api
from zobench.sim import policy


@numba.njit(cache=True, nogil=True)
def _episodes(policy_cdf, transition_cdf, initial_cdf, reward, uniforms, states, actions, rewards):
    episodes, horizon = actions.shape
    for e in range(episodes):
        s = np.searchsorted(initial_cdf, uniforms[e, 0], side="right")
        states[e, 0] = s
        for t in range(horizon):
            a = np.searchsorted(policy_cdf[s], uniforms[e, 1 + 2 * t], side="right")
            nxt = np.searchsorted(transition_cdf[s, a], uniforms[e, 2 + 2 * t], side="right")
            actions[e, t] = a
            rewards[e, t] = reward[s, a, nxt]
            states[e, t + 1] = nxt
            s = nxt


class CompiledLoop:
    """Episodes of one policy on a single-agent tabular MDP, sampled by the compiled loop."""

    def __init__(
        self, tables: api.TransitionTables, theta: np.ndarray, step_reward: np.ndarray
    ) -> None:
        """``step_reward[s, a, s']`` is the reward of a step from s by a landing in s'."""
        # the last CDF entry is set to 1 exactly so a uniform can never fall past it
        self.policy_cdf = np.cumsum(policy.probabilities(theta)[0], axis=-1)
        self.transition_cdf = np.cumsum(tables.transitions, axis=-1)
        self.initial_cdf = np.cumsum(tables.initial)
        for cdf in (self.policy_cdf, self.transition_cdf, self.initial_cdf):
            cdf[..., -1] = 1.0
        self.step_reward = np.ascontiguousarray(step_reward, dtype=float)

    def __call__(
        self, episodes: int, horizon: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """States ``(E, H + 1)``, actions ``(E, H)`` and rewards ``(E, H)`` of ``episodes``."""
        uniforms = rng.random((episodes, 1 + 2 * horizon))
        states = np.empty((episodes, horizon + 1), dtype=np.int64)
        actions = np.empty((episodes, horizon), dtype=np.int64)
        rewards = np.empty((episodes, horizon))
        _episodes(
            self.policy_cdf,
            self.transition_cdf,
            self.initial_cdf,
            self.step_reward,
            uniforms,
            states,
            actions,
            rewards,
        )
        return states, actions, rewards
