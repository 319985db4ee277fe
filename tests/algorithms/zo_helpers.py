"""Plain helpers of the algorithm tests (importable by name, unlike conftest modules)."""

from __future__ import annotations

from typing import Any

import numpy as np

SMALL_GRID: dict[str, Any] = {"size": 3, "goal": (2, 2), "horizon": 8}
"""A 3×3 GridWorld (d = 36) whose estimates average quickly; slip and start are the defaults."""


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two arrays of the same shape."""
    a, b = np.ravel(a), np.ravel(b)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def antithetic_basis(
    shape: tuple[int, ...], rng: np.random.Generator, blocks: np.ndarray | None = None
) -> list[np.ndarray]:
    """Directions ±q_i of a random orthonormal basis (per block when ``blocks`` is given).

    Averaging (d/μ)(J(θ + μv) − J(θ)) v over these 2d directions is a central difference in a
    rotated basis: it equals ∇J up to O(μ²), with no sampling error from the directions, so a
    test only has to beat the noise of the preference estimates.
    """
    d = int(np.prod(shape))
    groups = blocks if blocks is not None else np.arange(d)[None, :]
    directions = []
    for block in groups:
        q, _ = np.linalg.qr(rng.standard_normal((len(block), len(block))))
        for column in q.T:
            v = np.zeros(d)
            v[block] = column
            directions += [v.reshape(shape), -v.reshape(shape)]
    return directions
