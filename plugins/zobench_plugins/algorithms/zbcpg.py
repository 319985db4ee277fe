"""ZBCPG: Zeroth-Order Block-Coordinate Policy Gradient from human preferences.

Zhang & Ying, arXiv 2409.17401 (ICLR 2025), Algorithm ZBCPG; docs/algorithms.md#zbcpg.

ZBCPG is ZPG (:mod:`zobench_plugins.algorithms.zpg`) with another perturbation rule: only a block
of coordinates is perturbed and updated. The block rule was not recovered, so this is our
reconstruction:

1. draw a block I ⊂ {1..d} of k coordinates; by default the k = |A| logits of one (agent, state)
   row, chosen uniformly, the natural block of a tabular softmax;
2. draw v uniformly on the unit sphere of span{e_i : i ∈ I} and set θ' = θ + μ v;
3. N pairs, M votes, trimming and the inverse link exactly as in ZPG;
4. ĝ = (d/μ) (1/N) Σ_n Δ̂_n v, the ZPG scaling, since E[d v vᵀ] = I still holds;
5. θ_I ← θ_I + α ĝ_I (ĝ is zero off the block).

``parallel_blocks`` = B > 1 is the parallel version: B disjoint blocks, each with its own pairs
and votes (B workers), whose updates are applied together. In expectation that is B sequential
ZBCPG steps taken from the same θ, so it costs B times the episodes and votes of one step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import zobench
from zobench.api import param
from zobench.sim.problem import Problem
from zobench.space import BudgetSplit, LogUniform
from zobench_plugins.algorithms import zpg
from zobench_plugins.algorithms._preference_estimation import sphere_direction

TUNED = (
    "Tuned by `zobench tune` on the default gridworld under Bradley–Terry votes, 500 iterations "
    "(docs/tuning.md)."
)


@dataclass(frozen=True)
class ZBCPGConfig(zpg.ZPGConfig):
    """ZPG's settings plus the block rule (docs/algorithms.md#zbcpg); all defaults are ours, tuned
    for ZBCPG itself.

    ZBCPG tunes its own μ, vote split and step (the same search spaces as ZPG's): a block step
    moves few logits, so it wants other values than ZPG.
    """

    mu: float = param(
        6.74,
        "Perturbation distance μ of the block direction. " + TUNED,
        source="ours",
        tune=LogUniform(0.25, 16.0),
    )
    pairs: int = param(
        4000, "Trajectory pairs N per iteration (current vs perturbed).", source="ours"
    )
    evaluators: int = param(
        1,
        "Evaluators M per pair; N·M = 4,000 votes per iteration, zpg's budget. " + TUNED,
        source="ours",
        tune=BudgetSplit("pairs", (1, 5, 10, 20, 40, 100)),
    )
    step_size: float = param(
        0.744,
        "Ascent step α on ĝ; larger than ZPG's because a block step moves one state's logits only. Tuned by `zobench tune` on the default gridworld under Bradley–Terry votes, 500 iterations (docs/tuning.md).",
        source="ours",
        tune=LogUniform(1e-3, 1.0),
    )
    block_size: int | None = param(
        None,
        "Coordinates k per block. None: one (agent, state) row of |A| logits, chosen uniformly; "
        "an integer: k coordinates drawn uniformly without replacement.",
        source="ours",
    )
    parallel_blocks: int = param(
        1,
        "Disjoint blocks B estimated and updated together per iteration, each with its own "
        "pairs and votes (the parallel ZBCPG, docs/algorithms.md#zbcpg).",
        source="ours",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.block_size is not None and self.block_size < 1:
            raise ValueError(f"block_size must be at least 1, got {self.block_size}")
        if self.parallel_blocks < 1:
            raise ValueError(f"parallel_blocks must be at least 1, got {self.parallel_blocks}")


# ALGO LOGIC: ZBCPG's perturbation rule on top of ZPG's steps 2–5 (docs/algorithms.md#zbcpg)


def draw_blocks(
    rng: np.random.Generator, shape: tuple[int, int, int], block_size: int | None, count: int
) -> np.ndarray:
    """``count`` disjoint blocks as flat coordinate indices, shape ``(count, k)`` (step 1).

    ``block_size=None`` takes whole (agent, state) rows of θ ``(n, S, A)``; otherwise k
    coordinates per block drawn without replacement from all d.
    """
    n, S, A = shape
    if block_size is None:
        if count > n * S:
            raise ValueError(f"{count} parallel blocks exceed the {n * S} (agent, state) rows")
        rows = rng.choice(n * S, size=count, replace=False)
        return rows[:, None] * A + np.arange(A)[None, :]
    d = n * S * A
    if count * block_size > d:
        raise ValueError(f"{count} blocks of {block_size} coordinates exceed d = {d}")
    return rng.choice(d, size=count * block_size, replace=False).reshape(count, block_size)


def block_direction(
    rng: np.random.Generator, shape: tuple[int, ...], block: np.ndarray
) -> np.ndarray:
    """v uniform on the unit sphere of the block's span, zero elsewhere, in ``shape`` (step 2)."""
    v = np.zeros(int(np.prod(shape)))
    v[block] = sphere_direction(rng, (len(block),))
    return v.reshape(shape)


def estimate_gradient(
    problem: Problem,
    theta: np.ndarray,
    config: ZBCPGConfig,
    directions: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, dict[str, float]]:
    """The summed estimate Σ_b ĝ_b over the iteration's blocks (steps 1–4).

    ``directions`` overrides the random block directions (tests); each must be supported on a
    block, and the blocks must be disjoint for the summed update to be the parallel ZBCPG one.
    """
    if directions is None:
        blocks = draw_blocks(problem.rng, theta.shape, config.block_size, config.parallel_blocks)
        directions = [block_direction(problem.rng, theta.shape, block) for block in blocks]
    total = np.zeros_like(theta)
    deltas = []
    # One ZPG-style estimate per block, each with its own N pairs and N·M votes (B "workers").
    for v in directions:
        grad, diagnostics = zpg.estimate_along(problem, theta, v, config)
        total += grad
        deltas.append(diagnostics["mean_delta"])
    return total, {"mean_delta": float(np.mean(deltas)), "grad_norm": float(np.linalg.norm(total))}


class ZBCPG(zpg.ZPG):
    """Zeroth-order block-coordinate policy gradient: perturb and update one block at a time.

    Everything but the perturbation rule is ZPG's, so only the estimator changes; the estimate
    is zero off the drawn block(s), so the ascent step updates only those (step 5).
    """

    name = "zbcpg"
    summary = "Zeroth-Order Block-Coordinate PG: ZPG restricted to random blocks (parallelizable)."
    source = "Zhang & Ying, arXiv 2409.17401 (ICLR 2025), Algorithm ZBCPG (block rule: ours)"
    Config = ZBCPGConfig
    config: ZBCPGConfig

    def estimate(self) -> tuple[np.ndarray, dict[str, float]]:
        """The summed block estimate Σ_b ĝ_b at the current θ (steps 1–4)."""
        return estimate_gradient(self.problem, self.theta, self.config)


# END ALGO LOGIC


@zobench.hookimpl
def zobench_register_algorithms(register):
    """Register ZBCPG."""
    register(ZBCPG)
