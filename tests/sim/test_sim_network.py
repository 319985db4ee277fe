"""Networks and κ-hop neighbourhoods against a brute-force breadth-first search."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zobench.sim.network import Network


def _bfs_neighbourhood(n: int, edges, source: int, kappa: int) -> list[int]:
    adjacency = [set() for _ in range(n)]
    for i, j in edges:
        if i != j:
            adjacency[i].add(j)
            adjacency[j].add(i)
    dist = {source: 0}
    queue = deque([source])
    while queue:
        node = queue.popleft()
        if dist[node] == kappa:
            continue
        for nbr in adjacency[node]:
            if nbr not in dist:
                dist[nbr] = dist[node] + 1
                queue.append(nbr)
    return sorted(dist)


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 12))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=20))
    return n, edges


@settings(max_examples=60, deadline=None)
@given(graphs(), st.integers(0, 5))
def test_neighbourhoods_match_brute_force(graph, kappa):
    n, edges = graph
    network = Network.from_edges(n, edges)
    indptr, indices = network.neighbourhood(kappa)
    for i in range(n):
        assert list(indices[indptr[i] : indptr[i + 1]]) == _bfs_neighbourhood(n, edges, i, kappa)
    # asking in another order (cache and resumed search) gives the same answer
    fresh = Network.from_edges(n, edges)
    fresh.neighbourhood(kappa + 2)
    np.testing.assert_array_equal(fresh.neighbourhood(kappa)[1], indices)


@settings(max_examples=40, deadline=None)
@given(graphs())
def test_diameter_is_the_longest_shortest_path(graph):
    n, edges = graph
    network = Network.from_edges(n, edges)
    longest = 0
    for i in range(n):
        reach = _bfs_neighbourhood(n, edges, i, n)
        for k in range(n + 1):
            if len(_bfs_neighbourhood(n, edges, i, k)) == len(reach):
                longest = max(longest, k)
                break
    assert network.diameter() == longest


def test_from_edges_symmetrises_and_drops_duplicates():
    network = Network.from_edges(4, [(0, 1), (1, 0), (2, 2), (3, 1)])
    assert list(network.neighbours(1)) == [0, 3]
    assert list(network.neighbours(2)) == []
    np.testing.assert_array_equal(network.edges(), [[0, 1], [1, 3]])
    assert network.degrees.tolist() == [1, 2, 0, 1]


def test_bad_edges_are_refused():
    with pytest.raises(ValueError, match="endpoints"):
        Network.from_edges(3, [(0, 3)])
    with pytest.raises(ValueError, match="kappa"):
        Network.empty(3).neighbourhood(-1)


def test_large_ring():
    n = 100_000
    ring = Network.from_edges(n, np.stack([np.arange(n), (np.arange(n) + 1) % n], 1))
    indptr, indices = ring.neighbourhood(2)
    assert (np.diff(indptr) == 5).all()
    np.testing.assert_array_equal(indices[:5], [0, 1, 2, n - 2, n - 1])
    assert ring.neighbourhood(2)[0] is indptr  # cached


def test_chain_facts():
    chain = Network.from_edges(5, [(i, i + 1) for i in range(4)])
    assert chain.diameter() == 4
    assert chain.is_connected()
    assert not Network.empty(2).is_connected()
    assert Network.empty(1).is_connected()
