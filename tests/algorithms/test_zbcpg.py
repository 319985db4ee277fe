"""ZBCPG: block estimates against the exact gradient, the block rule, the parallel version."""

from __future__ import annotations

import numpy as np
import pytest
from zo_helpers import cosine

from zobench.config import validate
from zobench.errors import ConfigError
from zobench_plugins.algorithms import zbcpg

# As in test_zpg: many votes and a wide link make σ⁻¹(p̂) ≈ R(τ1) − R(τ0).
ESTIMATE = {"mu": 1.0, "pairs": 10_000, "evaluators": 2000}


def test_block_estimates_track_exact_gradient(make_problem, theta_and_gradient, basis):
    """Averaged over ± an orthonormal basis of every (agent, state) block, ĝ has cosine > 0.9 with ∇J.

    Each direction is supported on one block, as ZBCPG draws them, and the blocks together span
    R^d, so the average is a block-by-block central difference of J: ∇J up to O(μ²) and the
    preference noise (measured cosine ≈ 0.97; a random vector would give ≈ 0 ± 0.17). The
    estimate must also vanish off each direction's block.
    """
    problem = make_problem("bradley-terry", scale=5.0)
    theta, grad = theta_and_gradient(problem)
    config = zbcpg.ZBCPGConfig(**ESTIMATE)
    n, S, A = theta.shape
    rows = np.arange(n * S)[:, None] * A + np.arange(A)[None, :]
    directions = basis(theta.shape, np.random.default_rng(1), blocks=rows)
    estimates = [
        zbcpg.estimate_gradient(problem, theta, config, directions=[v])[0] for v in directions
    ]
    for v, g in zip(directions, estimates, strict=True):
        assert np.all(g[v == 0] == 0)  # only the block moves
    estimate = np.mean(estimates, axis=0)
    assert cosine(estimate, grad) > 0.9
    # block by block, the estimated rows point the same way as the exact ones where ∇J is large
    big = np.linalg.norm(grad, axis=-1).ravel() > 0.5 * np.linalg.norm(grad, axis=-1).max()
    per_row = [
        cosine(e, g) for e, g in zip(estimate.reshape(-1, A), grad.reshape(-1, A), strict=True)
    ]
    assert np.min(np.array(per_row)[big]) > 0.8


def test_default_blocks_are_whole_state_rows():
    rng = np.random.default_rng(0)
    blocks = zbcpg.draw_blocks(rng, (2, 5, 4), None, 3)
    assert blocks.shape == (3, 4)
    rows = blocks // 4
    assert np.all(rows == rows[:, :1])  # one row per block
    assert np.all(blocks % 4 == np.arange(4))
    assert len(set(rows[:, 0])) == 3  # disjoint


def test_custom_block_size_draws_disjoint_coordinates():
    blocks = zbcpg.draw_blocks(np.random.default_rng(0), (1, 5, 4), 3, 4)
    assert blocks.shape == (4, 3)
    assert len(np.unique(blocks)) == 12


def test_block_direction_is_a_unit_vector_on_its_block():
    block = np.array([4, 5, 6, 7])
    v = zbcpg.block_direction(np.random.default_rng(0), (1, 5, 4), block)
    assert np.linalg.norm(v) == pytest.approx(1.0)
    assert np.count_nonzero(v.ravel()[block]) == 4
    assert np.count_nonzero(v) == 4


def test_block_scaling_is_isotropic():
    """E[d v vᵀ] = I over uniform rows and uniform block directions (the ZPG scaling holds).

    20 000 draws in d = 8: each entry of the empirical mean has standard error ≲ 0.03.
    """
    rng = np.random.default_rng(0)
    shape = (1, 2, 4)
    d = 8
    outer = np.zeros((d, d))
    draws = 20_000
    for _ in range(draws):
        (block,) = zbcpg.draw_blocks(rng, shape, None, 1)
        v = zbcpg.block_direction(rng, shape, block).ravel()
        outer += d * np.outer(v, v)
    np.testing.assert_allclose(outer / draws, np.eye(d), atol=0.06)


def test_parallel_blocks_update_disjoint_rows_with_their_own_pairs(make_problem):
    problem = make_problem()
    config = zbcpg.ZBCPGConfig(parallel_blocks=3, pairs=5, evaluators=2)
    algorithm = zbcpg.ZBCPG(config, problem)
    algorithm.step()
    moved_rows = np.flatnonzero(np.abs(algorithm.theta).sum(axis=-1).ravel())
    assert len(moved_rows) <= 3  # a row whose votes averaged to Δ̂ = 0 may stay put
    assert problem.ledger.episodes == 3 * 2 * 5  # B blocks × 2N episodes
    assert problem.ledger.queries == 3 * 5 * 2  # B blocks × N pairs × M votes
    assert problem.ledger.reward_obs == 0


def test_step_updates_only_the_drawn_block(make_problem):
    algorithm = zbcpg.ZBCPG(zbcpg.ZBCPGConfig(), make_problem(seed=3))
    for _ in range(5):
        before = algorithm.theta.copy()
        algorithm.step()
        changed = np.flatnonzero(np.any(algorithm.theta != before, axis=-1).ravel())
        assert len(changed) <= 1


def test_too_many_parallel_blocks_are_refused(make_problem):
    problem = make_problem()  # 9 states
    algorithm = zbcpg.ZBCPG(zbcpg.ZBCPGConfig(parallel_blocks=10), problem)
    with pytest.raises(ValueError, match="exceed"):
        algorithm.step()


@pytest.mark.parametrize(
    ("params", "field"),
    [({"block_size": 0}, "block_size"), ({"parallel_blocks": 0}, "parallel_blocks")],
)
def test_bad_settings_are_refused(params, field):
    with pytest.raises(ConfigError, match=field):
        validate(zbcpg.ZBCPGConfig, params, path="algorithm")
