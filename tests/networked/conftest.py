"""Fixtures of the networked-track tests: environments connected to a network."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import zobench
from zobench import api


@pytest.fixture
def connected_env() -> Callable[..., api.Environment]:
    """Factory: ``connected_env(name, topology="chain", topology_params=None, **params)``."""

    def make(
        name: str,
        topology: str = "chain",
        topology_params: dict[str, Any] | None = None,
        **params: Any,
    ) -> api.Environment:
        env = zobench.make("environment", name, **params)
        network = zobench.make("topology", topology, **(topology_params or {})).build(
            env.n_agents, np.random.default_rng(0)
        )
        env.connect(network)
        return env

    return make
