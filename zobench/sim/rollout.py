"""Vectorized episode sampler: a batch of B episodes of all n agents, looping only over time.

All randomness comes in as uniform arrays (:class:`Noise`), so two rollouts can share it
exactly (common random numbers) and the result depends only on the generator's state. The draw
order is fixed (reset noise, then per step: action uniforms, transition noise), so drawing all
noise up front and drawing it a few steps at a time give identical episodes; :func:`rollout`
does the latter for large batches, where fresh multi-megabyte noise arrays cost more in page
faults than the sampling itself. The steps themselves run in :mod:`zobench.sim.kernel`
(compiled for environments with a :class:`~zobench.sim.types.StepTable`, numpy otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from zobench.errors import RewardAccessError
from zobench.sim import kernel
from zobench.sim.types import EnvironmentLike


class _Batch:
    """Sizes of a batch read off its ``actions`` array ``(B, H, ...)``."""

    actions: np.ndarray

    @property
    def batch(self) -> int:
        """Number of episodes B."""
        return self.actions.shape[0]

    @property
    def horizon(self) -> int:
        """Number of steps H."""
        return self.actions.shape[1]


@dataclass(frozen=True, eq=False)
class Trajectories(_Batch):
    """A batch of episodes of the joint policy, as an algorithm sees it: states and actions.

    Trajectories carry no rewards. The problem keeps each batch's rewards in a side table keyed
    by the batch itself, where only the panel (to simulate its evaluators) and the declared
    reward channel (:meth:`zobench.sim.problem.Problem.rewards`) reach them; so a batch an
    algorithm assembles itself has no rewards, and the panel refuses it. Equality is identity.
    """

    states: np.ndarray
    """Local states ``(B, H + 1, n)`` int: ``states[:, t]`` is the state before step t.

    The arrays of a rollout are batch-first views of time-major buffers (not C-contiguous);
    reshape copies when it must, and ``np.ascontiguousarray`` gives a compact copy."""
    actions: np.ndarray
    """Local actions ``(B, H, n)`` int."""
    owner: str = field(default="", repr=False)
    """The algorithm whose problem rolled the batch out (named in error messages)."""

    @property
    def hidden_rewards(self) -> np.ndarray:
        """Gone: trajectories carry no rewards (this raises a :class:`ChannelError`)."""
        raise RewardAccessError(
            "read trajectory rewards (traj.hidden_rewards): trajectories carry states and "
            "actions only. Rewards reach an algorithm only through the 'rewards' channel: "
            "declare consumes = {..., 'rewards'} and call problem.rewards(traj) (charged)",
            algorithm=self.owner,
            channel="rewards",
        )


@dataclass(frozen=True, eq=False)
class Episodes(_Batch):
    """A batch of episodes with their rewards: the kernel's own record of a rollout.

    The kernel's sampling functions return it; the problem splits it into the public
    :class:`Trajectories` and the rewards it keeps to itself. Evaluation and tests use it whole.
    """

    states: np.ndarray
    """Local states ``(B, H + 1, n)`` int (see :attr:`Trajectories.states`)."""
    actions: np.ndarray
    """Local actions ``(B, H, n)`` int."""
    rewards: np.ndarray
    """Local rewards ``(B, H, n)`` float: ``r_i(t)`` received for step t."""

    def trajectories(self, owner: str = "") -> Trajectories:
        """The public part: states and actions, no rewards."""
        return Trajectories(self.states, self.actions, owner)


@dataclass(frozen=True)
class Noise(_Batch):
    """Pre-drawn uniforms in ``[0, 1)`` that fully determine a batch of episodes given θ.

    :meth:`draw` stores the per-step arrays time-major and hands out batch-first views, so that
    the rollout's slice at step t is contiguous (about a quarter faster at large batches).
    """

    reset: np.ndarray
    """Initial-state noise ``(B, n, noise_dims)``."""
    step: np.ndarray
    """Transition noise ``(B, H, n, noise_dims)``."""
    actions: np.ndarray
    """Action-sampling uniforms ``(B, H, n)``."""

    @classmethod
    def draw(
        cls, rng: np.random.Generator, *, batch: int, n_agents: int, horizon: int, noise_dims: int
    ) -> Noise:
        """Draw the noise of ``batch`` episodes from ``rng`` in the module's fixed order."""
        reset = rng.random((batch, n_agents, noise_dims))
        actions, step = _draw_steps(rng, horizon, batch, n_agents, noise_dims)
        return cls(reset, step.swapaxes(0, 1), actions.swapaxes(0, 1))

    @classmethod
    def for_env(
        cls,
        env: EnvironmentLike,
        rng: np.random.Generator,
        *,
        batch: int,
        horizon: int | None = None,
    ) -> Noise:
        """Noise shaped for ``env`` (its agent count, noise dimensions and horizon)."""
        return cls.draw(
            rng,
            batch=batch,
            n_agents=env.n_agents,
            horizon=env.horizon if horizon is None else horizon,
            noise_dims=env.noise_dims,
        )


def _draw_steps(
    rng: np.random.Generator, steps: int, batch: int, n_agents: int, noise_dims: int
) -> tuple[np.ndarray, np.ndarray]:
    """Time-major noise of ``steps`` steps: action uniforms ``(T, B, n)``, transition ``(T, B, n, k)``.

    Each step's action uniforms come first, then its transition noise: the fixed draw order.
    """
    per_step = batch * n_agents
    block = rng.random((steps, per_step * (1 + noise_dims)))
    actions = block[:, :per_step].reshape(steps, batch, n_agents)
    return actions, block[:, per_step:].reshape(steps, batch, n_agents, noise_dims)


ON_THE_FLY_VALUES = 1 << 16
"""From this many uniforms per rollout on, :func:`rollout` draws its noise a chunk of steps at a
time, each chunk at most this many uniforms (at least one step)."""

StepNoise = Callable[[int, int], tuple[np.ndarray, np.ndarray]]
"""``noise(t0, t1)``: time-major action uniforms ``(T, B, n)`` and transition noise
``(T, B, n, k)`` of steps ``t0 ≤ t < t1``, in the fixed draw order."""


def _run(
    env: EnvironmentLike,
    theta: np.ndarray,
    reset_noise: np.ndarray,
    horizon: int,
    step_noise: StepNoise,
    chunk: int,
) -> Episodes:
    """The time loop, ``chunk`` steps per call of the kernel's loop (compiled or numpy)."""
    B, n = reset_noise.shape[:2]
    if theta.shape != (n, env.n_states, env.n_actions):
        raise ValueError(
            f"theta has shape {theta.shape}, expected {(n, env.n_states, env.n_actions)}"
        )
    steps = kernel.loop(env, theta)
    # time-major buffers: every per-step write is contiguous; the batch-first arrays handed out
    # are transposed views of them
    states = np.empty((horizon + 1, B, n), dtype=np.int64)
    actions = np.empty((horizon, B, n), dtype=np.int64)
    rewards = np.empty((horizon, B, n), dtype=float)
    states[0] = env.reset(reset_noise)
    for t0 in range(0, horizon, chunk):  # time is the only sequential axis
        t1 = min(t0 + chunk, horizon)
        uniforms, noise = step_noise(t0, t1)
        steps(uniforms, noise, states[t0 : t1 + 1], actions[t0:t1], rewards[t0:t1])
    return Episodes(states.swapaxes(0, 1), actions.swapaxes(0, 1), rewards.swapaxes(0, 1))


def rollout_with_noise(env: EnvironmentLike, theta: np.ndarray, noise: Noise) -> Episodes:
    """Episodes of the policy θ driven by the given noise (deterministic given both)."""
    action_noise = noise.actions.swapaxes(0, 1)  # time-major views of the arrays
    step_noise = noise.step.swapaxes(0, 1)
    return _run(
        env,
        theta,
        noise.reset,
        noise.horizon,
        lambda t0, t1: (action_noise[t0:t1], step_noise[t0:t1]),
        max(1, noise.horizon),
    )


def rollout(
    env: EnvironmentLike,
    theta: np.ndarray,
    *,
    batch: int,
    rng: np.random.Generator,
    horizon: int | None = None,
) -> Episodes:
    """``batch`` episodes of θ on ``env`` (of ``horizon`` steps, default the environment's).

    Identical to ``rollout_with_noise(env, theta, Noise.for_env(env, rng, ...))``.
    """
    H = env.horizon if horizon is None else horizon
    n, k = env.n_agents, env.noise_dims
    if batch * H * n * (1 + k) < ON_THE_FLY_VALUES:
        return rollout_with_noise(env, theta, Noise.for_env(env, rng, batch=batch, horizon=H))
    reset = rng.random((batch, n, k))
    chunk = max(1, ON_THE_FLY_VALUES // (batch * n * (1 + k)))
    return _run(env, theta, reset, H, lambda t0, t1: _draw_steps(rng, t1 - t0, batch, n, k), chunk)


def paired_rollout(
    env: EnvironmentLike,
    theta0: np.ndarray,
    theta1: np.ndarray,
    *,
    batch: int,
    rng: np.random.Generator,
    common_noise: bool = False,
    horizon: int | None = None,
) -> tuple[Episodes, Episodes]:
    """Pairs of episodes of θ₀ and θ₁ (episode b of each batch forms pair b).

    With ``common_noise`` both batches reuse the same initial-state, environment and action
    uniforms (common random numbers): equal parameters give identical episodes, and nearby
    parameters give strongly correlated ones. Otherwise the two batches are independent, and the
    first batch is exactly what :func:`rollout` would have drawn from the same generator state.
    """
    if not common_noise:
        first = rollout(env, theta0, batch=batch, rng=rng, horizon=horizon)
        return first, rollout(env, theta1, batch=batch, rng=rng, horizon=horizon)
    noise = Noise.for_env(env, rng, batch=batch, horizon=horizon)
    return rollout_with_noise(env, theta0, noise), rollout_with_noise(env, theta1, noise)
