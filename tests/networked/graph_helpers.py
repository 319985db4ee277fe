"""Brute-force graph facts the networked tests compare the fast code against."""

from __future__ import annotations

from collections import deque

import numpy as np

from zobench.sim.network import Network


def brute_force_distances(network: Network, source: int) -> dict[int, int]:
    """Hop distances from ``source`` by a textbook queue-based breadth-first search."""
    dist = {source: 0}
    queue = deque([source])
    while queue:
        node = queue.popleft()
        for nbr in network.neighbours(node).tolist():
            if nbr not in dist:
                dist[nbr] = dist[node] + 1
                queue.append(nbr)
    return dist


def assert_well_formed(network: Network) -> None:
    """Symmetric, sorted neighbour lists without self-loops or duplicates."""
    n = network.n_agents
    src = np.repeat(np.arange(n), network.degrees)
    assert not (src == network.indices).any(), "self-loop"
    forward = set(zip(src.tolist(), network.indices.tolist(), strict=True))
    assert len(forward) == len(src), "duplicate link"
    assert forward == {(j, i) for i, j in forward}, "links are not symmetric"
    for i in range(min(n, 50)):
        assert (np.diff(network.neighbours(i)) > 0).all()
