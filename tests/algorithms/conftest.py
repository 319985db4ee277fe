"""Shared fixtures of the algorithm tests: small GridWorld problems with exact gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from zo_helpers import SMALL_GRID, antithetic_basis

import zobench
from zobench.sim.gradients import value_and_gradient
from zobench.sim.problem import Problem, build_problem


@pytest.fixture
def make_problem() -> Callable[..., Problem]:
    """Factory: a problem on the small GridWorld with a named preference model."""

    def make(preference: str = "bradley-terry", seed: int = 0, **preference_params: Any) -> Problem:
        env = zobench.make("environment", "gridworld", **SMALL_GRID)
        return build_problem(
            env, zobench.make("preference", preference, **preference_params), seed=seed
        )

    return make


def small_grid() -> Any:
    """The small GridWorld itself (tests need its tables; algorithms only see a description)."""
    return zobench.make("environment", "gridworld", **SMALL_GRID)


@pytest.fixture
def theta_and_gradient() -> Callable[[Problem], tuple[np.ndarray, np.ndarray]]:
    """Factory: a fixed random, non-uniform θ (seeded) and the exact ∇J there."""

    def make(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
        theta = np.random.default_rng(12345).normal(scale=0.5, size=problem.theta_shape)
        env = small_grid()  # the problem only describes its environment
        _, grad = value_and_gradient(env.tables(), theta, env.horizon, env.gamma)
        return theta, grad

    return make


@pytest.fixture
def basis() -> Callable[..., list[np.ndarray]]:
    """The :func:`antithetic_basis` factory."""
    return antithetic_basis
