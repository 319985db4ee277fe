"""Random topologies: ``erdos-renyi`` G(n, p) and ``random-geometric`` (unit square, radius r).

Both draw from the run's seeded generator and redraw until the graph is connected (a
disconnected network would split the agents into teams that never hear of each other), up to
``max_tries`` draws, after which they raise an error naming the settings to change. Neither
builds an n × n matrix: G(n, p) draws its number of edges and then that many distinct pair
indices; the geometric graph compares only points in neighbouring cells of a radius-wide grid.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import zobench
from zobench import api
from zobench.sim.network import Network


def connected_draw(draw: Callable[[], Network], max_tries: int, what: str, advice: str) -> Network:
    """The first connected network among up to ``max_tries`` calls of ``draw``."""
    for _ in range(max_tries):
        network = draw()
        if network.is_connected():
            return network
    raise ValueError(f"{what}: no connected graph in {max_tries} draws; {advice}")


def _check_tries(max_tries: int) -> None:
    if max_tries < 1:
        raise ValueError(f"max_tries must be >= 1, got {max_tries}")


# ---------------------------------------------------------------------------------------------
# Erdős–Rényi
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErdosRenyiConfig:
    """Settings of the Erdős–Rényi topology G(n, p)."""

    p: float | None = api.param(
        None,
        "Probability of each of the n(n−1)/2 links. None: p = min(1, 2 ln n / n), twice the "
        "connectivity threshold, so a draw is connected with high probability at any n.",
        source="ours",
    )
    max_tries: int = api.param(
        100, "Draws before giving up on a connected graph (then an error).", source="ours"
    )

    def __post_init__(self) -> None:
        if self.p is not None and not 0.0 <= self.p <= 1.0:
            raise ValueError(f"p must lie in [0, 1], got {self.p}")
        _check_tries(self.max_tries)


def pair_from_index(n: int, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pair (i, j), i < j, at position k of the row-major upper triangle of an n × n matrix."""
    k = np.asarray(k, dtype=np.int64)
    # row i starts at offset(i) = i(2n − i − 1)/2; invert the quadratic, then correct the
    # floating-point rounding by one row either way
    b = 2 * n - 1
    i = np.floor((b - np.sqrt(np.maximum(b * b - 8.0 * k, 0.0))) / 2).astype(np.int64)
    i = np.clip(i, 0, n - 2)

    def offset(rows: np.ndarray) -> np.ndarray:
        return rows * (2 * n - rows - 1) // 2

    i -= offset(i) > k
    i += (i + 1 <= n - 2) & (offset(i + 1) <= k)
    return i, k - offset(i) + i + 1


class ErdosRenyi(api.Topology):
    """G(n, p): each pair linked independently with probability p, redrawn until connected."""

    name = "erdos-renyi"
    summary = "Random G(n, p) graph, redrawn until connected (p defaults to 2 ln n / n)."
    source = "Erdős & Rényi (1959)"
    Config = ErdosRenyiConfig

    def probability(self, n_agents: int) -> float:
        """The link probability used for ``n_agents`` agents."""
        if self.config.p is not None:
            return self.config.p
        return min(1.0, 2.0 * math.log(n_agents) / n_agents) if n_agents > 1 else 1.0

    def build(self, n_agents: int, rng: np.random.Generator) -> Network:
        """A connected G(n, p) over ``n_agents`` agents drawn from ``rng``."""
        p = self.probability(n_agents)
        total = n_agents * (n_agents - 1) // 2

        def draw() -> Network:
            # the number of links is Binomial(total, p); given it, the links are a uniform
            # subset of the pairs: the same law as one coin per pair, without n² coins
            count = int(rng.binomial(total, p)) if total else 0
            chosen = rng.choice(total, size=count, replace=False) if count else np.zeros(0, int)
            i, j = pair_from_index(n_agents, chosen)
            return Network.from_edges(n_agents, np.stack([i, j], axis=1))

        return connected_draw(
            draw,
            self.config.max_tries,
            f"erdos-renyi with n={n_agents}, p={p:g}",
            f"raise p (connectivity needs p ≳ ln n / n = {math.log(max(n_agents, 2)) / n_agents:.3g})",
        )


# ---------------------------------------------------------------------------------------------
# Random geometric
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeometricConfig:
    """Settings of the random geometric topology."""

    radius: float | None = api.param(
        None,
        "Agents are uniform points in the unit square, linked when at most this far apart. "
        "None: r = √(3 ln n / (π n)), above the connectivity threshold √(ln n / (π n)).",
        source="ours",
    )
    max_tries: int = api.param(
        100, "Draws before giving up on a connected graph (then an error).", source="ours"
    )

    def __post_init__(self) -> None:
        if self.radius is not None and not self.radius > 0.0:
            raise ValueError(f"radius must be positive, got {self.radius}")
        _check_tries(self.max_tries)


# forward half of the 3 × 3 cell block: each unordered pair of neighbouring cells is visited once
_HALF_BLOCK = np.array([(0, 0), (0, 1), (1, -1), (1, 0), (1, 1)])


def geometric_edges(points: np.ndarray, radius: float) -> np.ndarray:
    """Pairs of ``points`` (m, 2) at distance ≤ ``radius``, as rows (i, j) with i ≠ j.

    Points are binned into square cells at least ``radius`` wide, so a linked pair lies in the
    same or adjacent cells; cells are found by binary search in the sorted cell keys, so memory
    is linear in the points whatever the radius.
    """
    n = len(points)
    per_side = max(1, int(1.0 / radius))  # cell width 1/per_side ≥ radius
    cell = np.minimum((points * per_side).astype(np.int64), per_side - 1)
    side = per_side + 2  # keys with a margin, so offsets of −1 and +1 never wrap around
    key = (cell[:, 0] + 1) * side + (cell[:, 1] + 1)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    pieces = []
    for dx, dy in _HALF_BLOCK:  # five offsets, not a loop over agents
        target = key + dx * side + dy
        lo = np.searchsorted(sorted_key, target, side="left")
        counts = np.searchsorted(sorted_key, target, side="right") - lo
        owner = np.repeat(np.arange(n), counts)
        within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        other = order[lo[owner] + within]
        if dx == 0 and dy == 0:  # inside one cell, keep each pair once
            keep = other > owner
            owner, other = owner[keep], other[keep]
        close = ((points[owner] - points[other]) ** 2).sum(axis=1) <= radius * radius
        pieces.append(np.stack([owner[close], other[close]], axis=1))
    return np.concatenate(pieces)


class RandomGeometric(api.Topology):
    """Agents at uniform points of the unit square, linked within ``radius``; redrawn until connected.

    A model of agents that talk to whoever is physically near; the points themselves are not
    kept (the network only).
    """

    name = "random-geometric"
    summary = "Random geometric graph in the unit square (link within a radius), connected."
    source = "Penrose, Random Geometric Graphs (2003)"
    Config = GeometricConfig

    def radius(self, n_agents: int) -> float:
        """The link radius used for ``n_agents`` agents."""
        if self.config.radius is not None:
            return self.config.radius
        n = max(n_agents, 2)
        return math.sqrt(3.0 * math.log(n) / (math.pi * n))

    def build(self, n_agents: int, rng: np.random.Generator) -> Network:
        """A connected random geometric graph over ``n_agents`` agents drawn from ``rng``."""
        r = self.radius(n_agents)
        return connected_draw(
            lambda: Network.from_edges(n_agents, geometric_edges(rng.random((n_agents, 2)), r)),
            self.config.max_tries,
            f"random-geometric with n={n_agents}, radius={r:g}",
            "raise the radius (connectivity needs π r² n ≳ ln n)",
        )


@zobench.hookimpl
def zobench_register_topologies(register):
    """Register erdos-renyi and random-geometric."""
    register(ErdosRenyi)
    register(RandomGeometric)
