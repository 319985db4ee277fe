"""The ``isolated`` topology: agents without links (the default for single-agent environments)."""

from __future__ import annotations

import numpy as np

import zobench
from zobench import api
from zobench.sim.network import Network


class Isolated(api.Topology):
    """n agents and no edges: every κ-hop neighbourhood is the agent alone."""

    name = "isolated"
    summary = "No links between agents; each neighbourhood is the agent itself."
    source = ""

    def build(self, n_agents: int, rng: np.random.Generator) -> Network:
        """The edgeless network (``rng`` is unused)."""
        return Network.empty(n_agents)


@zobench.hookimpl
def zobench_register_topologies(register):
    """Register the isolated topology."""
    register(Isolated)
