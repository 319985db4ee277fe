"""Deterministic topologies: ``chain``, ``ring``, ``star``, ``grid`` and ``complete``.

Each builds its edge list with array arithmetic (no loop over agents) and hands it to
:meth:`~zobench.sim.network.Network.from_edges`, which makes the symmetric CSR neighbour lists
(the complete graph writes its CSR arrays directly).
Chain, ring, star and grid have O(n) edges and build in milliseconds at 100,000 agents; the
complete graph has n(n − 1)/2 edges and refuses sizes whose edge list would not fit in memory.
The DZOPG experiments use a chain (paper §5.1, §5.2); the author's code uses a ring (docs/algorithms.md#ring).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import zobench
from zobench import api
from zobench.sim.network import Network

COMPLETE_MAX_EDGES = 50_000_000
"""Largest complete graph built (in edges): its edge arrays alone take about 2 GB."""


def _pairs(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Edge rows ``(m, 2)`` from two endpoint arrays."""
    return np.stack([src, dst], axis=1).astype(np.int64)


def chain_edges(n_agents: int) -> np.ndarray:
    """Edges (i, i + 1) for i < n − 1: the path 0 – 1 – … – n−1."""
    agents = np.arange(n_agents - 1, dtype=np.int64)
    return _pairs(agents, agents + 1)


class Chain(api.Topology):
    """The path graph 0 – 1 – … – n−1 (DZOPG's network, A[i, j] = 1 iff |i − j| ≤ 1)."""

    name = "chain"
    summary = "Path graph: agent i linked to i − 1 and i + 1 (the DZOPG experiments' network)."
    source = "Dai et al., arXiv 2605.15697, §5.1"

    def build(self, n_agents: int, rng: np.random.Generator) -> Network:
        """The chain over ``n_agents`` agents (``rng`` is unused)."""
        return Network.from_edges(n_agents, chain_edges(n_agents))


class Ring(api.Topology):
    """The cycle 0 – 1 – … – n−1 – 0; with fewer than 3 agents it is the chain."""

    name = "ring"
    summary = "Cycle graph: agent i linked to i ± 1 modulo n (the DZOPG author's code)."
    source = "The DZOPG author's code: github.com/Pengcheng-Dai/NMARL_Grid_Environment"

    def build(self, n_agents: int, rng: np.random.Generator) -> Network:
        """The ring over ``n_agents`` agents (``rng`` is unused)."""
        edges = chain_edges(n_agents)
        if n_agents >= 3:  # with 2 agents the closing edge would duplicate (0, 1)
            edges = np.concatenate([edges, [[n_agents - 1, 0]]])
        return Network.from_edges(n_agents, edges)


@dataclass(frozen=True)
class StarConfig:
    """Settings of the star topology."""

    hub: int = api.param(0, "The agent linked to every other agent.", source="ours")

    def __post_init__(self) -> None:
        if self.hub < 0:
            raise ValueError(f"hub must be >= 0, got {self.hub}")


class Star(api.Topology):
    """One hub linked to every other agent; the others are linked only to the hub."""

    name = "star"
    summary = "Star graph: one hub agent linked to all others (diameter 2)."
    source = ""
    Config = StarConfig

    def build(self, n_agents: int, rng: np.random.Generator) -> Network:
        """The star over ``n_agents`` agents around ``hub`` (``rng`` is unused)."""
        hub = self.config.hub
        if hub >= n_agents:
            raise ValueError(f"star hub {hub} is not one of the {n_agents} agents")
        leaves = np.arange(n_agents, dtype=np.int64)
        leaves = leaves[leaves != hub]
        return Network.from_edges(n_agents, _pairs(np.full(len(leaves), hub), leaves))


@dataclass(frozen=True)
class GridConfig:
    """Settings of the 2-D lattice topology."""

    rows: int | None = api.param(
        None,
        "Rows of the lattice. None chooses a near-square shape: cols = ⌈√n⌉, rows = ⌈n / cols⌉.",
        source="ours",
    )

    def __post_init__(self) -> None:
        if self.rows is not None and self.rows < 1:
            raise ValueError(f"rows must be >= 1, got {self.rows}")


def grid_shape(n_agents: int, rows: int | None = None) -> tuple[int, int]:
    """(rows, cols) of the lattice holding ``n_agents`` agents row by row."""
    if n_agents < 1:
        return (0, 0)
    if rows is None:
        cols = math.isqrt(n_agents - 1) + 1  # ⌈√n⌉ without floating point
        return (-(-n_agents // cols), cols)
    cols = -(-n_agents // rows)
    return (-(-n_agents // cols), cols)


class Grid(api.Topology):
    """A 2-D lattice: agent k sits at (k // cols, k % cols) and links to its right and lower cells.

    When n is not a multiple of ``cols`` the last row is partly filled; it stays connected to
    the row above. With ``rows = 1`` the lattice is the chain.
    """

    name = "grid"
    summary = "2-D lattice (rows × cols, near-square by default), 4-neighbour links."
    source = ""
    Config = GridConfig

    def build(self, n_agents: int, rng: np.random.Generator) -> Network:
        """The lattice over ``n_agents`` agents (``rng`` is unused)."""
        _, cols = grid_shape(n_agents, self.config.rows)
        agents = np.arange(n_agents, dtype=np.int64)
        right = agents[(agents % cols != cols - 1) & (agents + 1 < n_agents)]
        down = agents[agents + cols < n_agents]
        edges = np.concatenate([_pairs(right, right + 1), _pairs(down, down + cols)])
        return Network.from_edges(n_agents, edges)


class Complete(api.Topology):
    """Every pair of agents linked: each 1-hop neighbourhood is everyone (the centralized limit)."""

    name = "complete"
    summary = "Complete graph: every agent linked to every other (n(n−1)/2 edges)."
    source = ""

    def build(self, n_agents: int, rng: np.random.Generator) -> Network:
        """The complete graph over ``n_agents`` agents (``rng`` is unused)."""
        edges = n_agents * (n_agents - 1) // 2
        if edges > COMPLETE_MAX_EDGES:
            raise ValueError(
                f"a complete graph over {n_agents} agents has {edges:,} edges, more than "
                f"{COMPLETE_MAX_EDGES:,}; use a sparse topology"
            )
        # the CSR arrays directly (every row is "all agents but me", already sorted): sorting
        # n² edge keys in from_edges would cost seconds at a few thousand agents
        everyone = np.tile(np.arange(n_agents, dtype=np.int64), n_agents)
        rows = np.repeat(np.arange(n_agents, dtype=np.int64), n_agents)
        indptr = np.arange(n_agents + 1, dtype=np.int64) * (n_agents - 1)
        return Network(n_agents, indptr, everyone[everyone != rows])


@zobench.hookimpl
def zobench_register_topologies(register):
    """Register chain, ring, star, grid and complete."""
    for cls in (Chain, Ring, Star, Grid, Complete):
        register(cls)
