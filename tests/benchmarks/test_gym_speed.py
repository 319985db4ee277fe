"""Gym adapter rollouts against Gymnasium's own ``SyncVectorEnv`` on FrozenLake-v1, batch 64.

Both sides take the same number of steps, 64 environments × 100 steps, with the same softmax
policy sampled by the same zobench sampler: the adapter through :func:`zobench.sim.rollout.rollout`
(the table read from ``P``, one uniform per step), the reference through
``gymnasium.make_vec(..., vectorization_mode="sync")`` stepping 64 wrapped environments in Python
(auto-resetting those that finish, so every step is a real one). They are timed alternately in the
same run, so the ratio holds on a busy machine. With ``--benchmark-disable`` (the default test run)
the body runs once as a smoke test and nothing is asserted about speed.
"""

from __future__ import annotations

import numpy as np
import pytest
from bench_timing import interleaved_best

gym = pytest.importorskip("gymnasium")

import zobench  # noqa: E402
from zobench.sim import policy  # noqa: E402
from zobench.sim.rollout import rollout  # noqa: E402

BATCH = 64
MIN_RATIO = 20.0
"""Target from issue 8: the adapter at least 20× faster than SyncVectorEnv, same steps."""


def gymnasium_rollout(vector, sample, horizon: int, rng: np.random.Generator) -> float:
    """``horizon`` steps of every environment of ``vector``; returns the total reward."""
    obs, _ = vector.reset(seed=int(rng.integers(2**31)))
    total = 0.0
    for _ in range(horizon):
        actions = sample(obs[:, None], rng.random((len(obs), 1)))[:, 0]
        obs, reward, _, _, _ = vector.step(actions)
        total += float(reward.sum())
    return total


def test_gym_adapter_against_sync_vector_env(benchmark):
    env = zobench.make("environment", "gym:FrozenLake-v1")
    theta = np.random.default_rng(0).normal(size=(1, env.n_states, env.n_actions))
    rng = np.random.default_rng(1)
    traj = benchmark(rollout, env, theta, batch=BATCH, rng=rng)
    assert traj.states.shape == (BATCH, env.horizon + 1, 1)

    vector = gym.make_vec("FrozenLake-v1", num_envs=BATCH, vectorization_mode="sync")
    sample = policy.Sampler(theta)
    reference_rng = np.random.default_rng(2)
    try:
        gymnasium_rollout(vector, sample, env.horizon, reference_rng)  # the smoke test
        if benchmark.disabled:
            return
        fast_alt, reference = interleaved_best(
            lambda: rollout(env, theta, batch=BATCH, rng=rng),
            lambda: gymnasium_rollout(vector, sample, env.horizon, reference_rng),
            rounds=7,
        )
    finally:
        vector.close()
    fast = min(benchmark.stats.stats.min, fast_alt)
    steps = BATCH * env.horizon
    ratio = reference / fast
    benchmark.extra_info.update(
        steps=steps,
        adapter_steps_per_second=steps / fast,
        sync_vector_env_steps_per_second=steps / reference,
        speedup=ratio,
    )
    print(
        f"\nFrozenLake-v1, batch {BATCH}, {env.horizon} steps: adapter {steps / fast / 1e6:.2f} M "
        f"steps/s, SyncVectorEnv {steps / reference / 1e3:.0f} k steps/s, ratio {ratio:.0f}×"
    )
    assert ratio >= MIN_RATIO
