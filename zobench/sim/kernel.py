"""The rollout's time loop, compiled where the environment allows it.

:func:`loop` picks how a batch of episodes is stepped through time:

- **compiled** (numba): for environments that describe their step by a
  :class:`~zobench.sim.types.StepTable`, whole chunks of time steps run in one call of
  :func:`zobench.sim._compiled.table_steps`;
- **stepped**: for every other environment, one ``env.step`` call per time step, its actions
  drawn by the compiled :func:`~zobench.sim._compiled.sample_actions` (an environment may
  compile its own step too, as the networked GridWorld does);
- **numpy**: :class:`~zobench.sim.policy.Sampler` and ``env.step`` per step, when numba is
  missing or the environment variable ``ZOBENCH_KERNEL=numpy`` asks for it.

Both consume the same uniforms in the same way — an action or outcome is the number of CDF
entries or thresholds at or below its uniform — so every trajectory, vote and score is
bit-identical whichever runs (the tests compare them). numba compiles once per machine
(``cache=True``); :func:`warm_up` loads it, so the runner pays that before its clock starts.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from zobench.errors import ConfigError
from zobench.sim import policy
from zobench.sim.types import EnvironmentLike, StepTable

KERNEL_VARIABLE = "ZOBENCH_KERNEL"
"""Environment variable choosing the kernel: ``numba`` (the default) or ``numpy``."""

KERNELS = ("numba", "numpy")


class Loop(Protocol):
    """Steps a chunk of time: fills ``states[1:]``, ``actions`` and ``rewards`` from ``states[0]``."""

    def __call__(
        self,
        uniforms: np.ndarray,
        noise: np.ndarray,
        states: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
    ) -> None:
        """``uniforms (T, B, n)``, ``noise (T, B, n, k)``; buffers ``(T + 1 | T, B, n)``."""


def requested() -> str:
    """The kernel asked for by :data:`KERNEL_VARIABLE` (``numba`` when unset)."""
    value = os.environ.get(KERNEL_VARIABLE, "").strip().lower() or "numba"
    if value not in KERNELS:
        raise ConfigError(
            f"{KERNEL_VARIABLE}={value!r} is not a kernel; choose one of {', '.join(KERNELS)}"
        )
    return value


_compiled: Any = None
"""The :mod:`zobench.sim._compiled` module once loaded; ``False`` when numba is missing."""


def _compiled_module() -> Any:
    """:mod:`zobench.sim._compiled`, or ``None`` without numba (imported on first use)."""
    global _compiled
    if _compiled is None:
        if importlib.util.find_spec("numba") is None:
            _compiled = False
        else:
            from zobench.sim import _compiled as module

            _compiled = module
    return _compiled or None


def compiled_available() -> bool:
    """True when the compiled kernel is requested and numba is installed."""
    return requested() == "numba" and _compiled_module() is not None


_warm_up_modules: list[str] = []


def compile_with_kernel(module: str) -> None:
    """Have :func:`warm_up` import ``module`` too: a plugin's own numba code (not imported now).

    A plugin whose compiled code lives in a module of its own calls this when it is imported,
    so that module's loading (or compiling) is paid before a run's clock starts.
    """
    if module not in _warm_up_modules:
        _warm_up_modules.append(module)


def compiled_modules() -> list[str]:
    """The modules holding compiled code (the kernel's and plugins'), when it is in use.

    Executors may import them once in a parent their workers fork from (a fork server).
    """
    return ["zobench.sim._compiled", *_warm_up_modules] if compiled_available() else []


def warm_up() -> None:
    """Prepare the process for runs: :func:`keep_freed_memory`, then load (or, the first time on
    a machine, compile) the kernel now rather than mid-run."""
    keep_freed_memory()
    for module in compiled_modules():
        importlib.import_module(module)


HEAP_LIMIT = 2**31 - 1
"""Bytes (mallopt's largest value): blocks up to this size come from, and return to, the heap."""

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h


@functools.cache
def keep_freed_memory() -> bool:
    """Have glibc's malloc keep freed blocks for reuse instead of returning them to the system.

    By default a block over 128 KiB to 32 MiB is mapped afresh and unmapped when freed, so every
    rollout's buffers (tens of MB at thousands of agents) are new pages, and the first write to
    each page is a page fault. On this project's 2-core machine, idle and with one BLAS thread,
    a 1,024-agent dzopg iteration took 27 ms with those faults and 16 ms with freed memory kept,
    a 100,000-agent one 3.3–5.2 s and 2.1–2.6 s (measured). Raising the mmap and trim thresholds makes such blocks heap memory that
    the next rollout reuses. Numbers do not change, only where arrays live; a process's
    resident memory stays at its peak. A no-op (False) where the C library is not glibc.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, HEAP_LIMIT) and mallopt(_M_TRIM_THRESHOLD, HEAP_LIMIT))


def call_step(
    step: Callable[..., None],
    parameters: tuple[Any, ...],
    states: np.ndarray,
    actions: np.ndarray,
    noise: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Run an environment's compiled step ``step(*parameters, states, actions, u, next, r)``.

    The helper for plugins that compile their own step: it hands over int64 states and actions
    and float64 first-noise uniforms ``(B, n)``, and returns the ``next`` states and rewards
    ``r`` the step wrote into the fresh ``(B, n)`` arrays it was given.
    """
    next_states = np.empty(states.shape, dtype=np.int64)
    rewards = np.empty(states.shape)
    step(
        *parameters,
        np.asarray(states, dtype=np.int64),
        np.asarray(actions, dtype=np.int64),
        np.asarray(noise[..., 0], dtype=np.float64),
        next_states,
        rewards,
    )
    return next_states, rewards


def compiled_step_of(env: EnvironmentLike) -> tuple[Callable[..., None], tuple[Any, ...]] | None:
    """``env.compiled_step()`` if the environment offers one: its compiled step and parameters.

    An optional method: an environment whose ``step`` runs a compiled function through
    :func:`call_step` may return that function and its leading parameters, and the time loop
    then calls it with the rollout's own buffers as outputs (no per-step arrays, no copies; at
    thousands of agents the fresh arrays' page faults cost more than the step itself).
    """
    offer = getattr(env, "compiled_step", None)
    return offer() if callable(offer) else None


COMPILED_ROW_SUMS = 8
"""Rows shorter than this are summed left to right by numpy, so :func:`cdf_rows` compiles them."""


def cdf_rows(theta: np.ndarray) -> np.ndarray:
    """:func:`zobench.sim.policy.cdf_rows`, bit for bit, compiled where that is exact; rows of
    2–4 actions padded with +inf to the compiled sampler's unrolled width.

    The exponentials stay numpy's (numba's ``exp`` may differ in the last bit); the row
    maximum, sum, division and running sums around them run compiled: four numpy calls fewer
    per rollout. Rows of 8 or more actions, which numpy sums pairwise, take the numpy
    function. The first A − 1 columns are the policy's rows; padding (+inf, which no uniform
    reaches) changes no sampled action.
    """
    n, S, A = theta.shape
    module = _compiled_module()
    if A >= COMPILED_ROW_SUMS or module is None:
        return policy.cdf_rows(theta)
    flat = np.ascontiguousarray(theta, dtype=np.float64).reshape(n * S, A)
    shifted = np.empty_like(flat)
    module.subtract_row_maximum(flat, shifted)
    rows = np.empty((n * S, max(A - 1, module.PADDED_WIDTH)))
    module.cumulative_rows(np.exp(shifted), rows)
    return rows


def step_loop(env: EnvironmentLike, theta: np.ndarray, *, compiled: bool) -> Loop:
    """Sample actions, then ``env.step``, once per time step (actions compiled if ``compiled``).

    With the compiled kernel and an environment that offers :func:`compiled_step_of`, the step
    writes straight into the time-major buffers, giving what ``env.step`` gives.
    """
    direct = None
    if compiled:
        sample_into = _compiled_module().sample_actions
        rows, n_states = cdf_rows(theta), theta.shape[1]
        direct = compiled_step_of(env)
    else:
        sample = policy.Sampler(theta)

    def steps(
        uniforms: np.ndarray,
        noise: np.ndarray,
        states: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
    ) -> None:
        uniforms = np.asarray(uniforms, dtype=np.float64)
        for t in range(len(uniforms)):
            s = states[t]  # int64 whatever the environment returns
            if compiled:
                sample_into(rows, n_states, s, uniforms[t], actions[t])
                a = actions[t]
            else:
                a = actions[t] = sample(s, uniforms[t])
            if direct is not None:
                step, parameters = direct
                u = np.asarray(noise[t][..., 0], dtype=np.float64)  # as call_step hands it over
                step(*parameters, s, a, u, states[t + 1], rewards[t])
            else:
                states[t + 1], rewards[t] = env.step(s, a, noise[t])

    return steps


def table_loop(table: StepTable, theta: np.ndarray) -> Loop:
    """The compiled loop over ``table`` (needs numba: check :func:`compiled_available`)."""
    table_steps: Callable[..., None] = _compiled_module().table_steps
    rows = cdf_rows(theta)
    n_states, n_actions = table.next_states.shape[:2]

    def steps(
        uniforms: np.ndarray,
        noise: np.ndarray,
        states: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
    ) -> None:
        table_steps(
            rows,
            n_states,
            n_actions,
            table.threshold_rows,
            table.next_flat,
            table.reward_flat,
            np.asarray(uniforms, dtype=np.float64),
            np.asarray(noise[..., 0], dtype=np.float64),
            states,
            actions,
            rewards,
        )

    return steps


def loop(env: EnvironmentLike, theta: np.ndarray) -> Loop:
    """The fastest loop that gives ``env``'s exact episodes: compiled if it can, else numpy."""
    compiled = compiled_available()
    table = env.step_table() if compiled else None
    if table is not None:
        return table_loop(table, theta)
    return step_loop(env, theta, compiled=compiled)
