"""The ``edges`` topology: a network read from an edge-list file, or listed in the suite itself.

File format: one link per line, two agent indices (0-based) separated by spaces, tabs or a
comma; ``#`` starts a comment; blank lines are skipped. Links are undirected, duplicates and
self-loops are dropped. Every malformed line is reported with the file name and line number,
so a typo in a 10,000-line file is found at once::

    # a 4-agent ring
    0 1
    1 2
    2 3
    3 0   # closes the ring
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import zobench
from zobench import api
from zobench.sim.network import Network

_SEPARATORS = re.compile(r"[\s,]+")


class EdgeListError(ValueError):
    """A malformed edge-list file or an agent index outside the run's agents."""


def parse_edge_list(text: str, *, source: str = "<edges>") -> tuple[np.ndarray, np.ndarray]:
    """Edges ``(m, 2)`` of an edge-list text and the line number of each edge ``(m,)``.

    Raises :class:`EdgeListError` naming ``source`` and the line for anything but two
    non-negative integers per line.
    """
    rows: list[tuple[int, int]] = []
    lines: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):  # parsing text, not a hot path
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        fields = _SEPARATORS.split(content)
        if len(fields) != 2:
            raise EdgeListError(
                f"{source}:{number}: expected two agent indices, got {len(fields)} fields: "
                f"{content!r}"
            )
        try:
            i, j = int(fields[0]), int(fields[1])
        except ValueError:
            raise EdgeListError(
                f"{source}:{number}: agent indices must be integers, got {content!r}"
            ) from None
        if i < 0 or j < 0:
            raise EdgeListError(f"{source}:{number}: agent indices must be >= 0, got {content!r}")
        rows.append((i, j))
        lines.append(number)
    return np.array(rows, dtype=np.int64).reshape(-1, 2), np.array(lines, dtype=np.int64)


@dataclass(frozen=True)
class EdgeListConfig:
    """Settings of the edge-list topology."""

    path: str = api.param(
        "",
        "Edge-list file: two agent indices per line, '#' comments. Relative paths are taken "
        "from the working directory. Empty: use the `edges` setting instead.",
        source="ours",
    )
    edges: tuple[tuple[int, int], ...] = api.param(
        (),
        "Links listed inline, e.g. [[0, 1], [1, 2]], used when `path` is empty. Both empty: "
        "no links (every agent on its own).",
        source="ours",
    )

    def __post_init__(self) -> None:
        if self.path and self.edges:
            raise ValueError("give either `path` or `edges`, not both")
        for pair in self.edges:
            if len(pair) != 2 or min(pair) < 0:
                raise ValueError(f"edges must be pairs of agent indices >= 0, got {pair}")


class EdgeList(api.Topology):
    """A fixed network from a file (or inline list) of links between agent indices."""

    name = "edges"
    summary = "Network read from an edge-list file (two agent indices per line) or listed inline."
    source = ""
    Config = EdgeListConfig

    @classmethod
    def input_files(cls, config: EdgeListConfig) -> list[str]:
        """The edge-list file, when the links come from one (its content is part of the run)."""
        return [config.path] if config.path else []

    def read(self) -> tuple[np.ndarray, np.ndarray, str]:
        """The configured edges, the line number of each (0 inline) and where they came from."""
        path = self.config.path
        if not path:
            edges = np.array(self.config.edges, dtype=np.int64).reshape(-1, 2)
            return edges, np.zeros(len(edges), dtype=np.int64), "edges setting"
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise EdgeListError(f"cannot read edge-list file {path!r}: {exc.strerror}") from None
        edges, lines = parse_edge_list(text, source=path)
        return edges, lines, path

    def build(self, n_agents: int, rng: np.random.Generator) -> Network:
        """The listed network over ``n_agents`` agents (``rng`` is unused).

        Raises :class:`EdgeListError` when a link names an agent ``>= n_agents``.
        """
        edges, lines, where = self.read()
        outside = np.flatnonzero((edges >= n_agents).any(axis=1))
        if len(outside):
            k = outside[0]
            at = f"{where}:{lines[k]}" if lines[k] else f"{where}, link {k}"
            raise EdgeListError(
                f"{at}: link {tuple(edges[k].tolist())} names an agent outside the run's "
                f"{n_agents} agents (indices 0..{n_agents - 1})"
            )
        return Network.from_edges(n_agents, edges)


@zobench.hookimpl
def zobench_register_topologies(register):
    """Register the edge-list topology."""
    register(EdgeList)
