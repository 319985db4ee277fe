"""ZPG: its estimator against the exact gradient, its bookkeeping, and learning on the GridWorld."""

from __future__ import annotations

import numpy as np
import pytest
from zo_helpers import SMALL_GRID, cosine

import zobench
from zobench.bench.runner import run
from zobench.bench.spec import RunSpec
from zobench.config import validate
from zobench.errors import ConfigError
from zobench.sim.evaluate import exact_value
from zobench_plugins.algorithms import zpg

# Near-unbiased estimates: with M = 2000 votes per pair and the link's scale 5 (|ΔR|/5 ≤ 1.6 on
# the small grid), σ⁻¹(p̂) recovers R(τ1) − R(τ0) almost exactly, so the average of ĝ over the
# antithetic basis estimates ∇J up to preference noise and an O(μ²) smoothing error.
ESTIMATE = {"mu": 1.0, "pairs": 10_000, "evaluators": 2000}
SCALE = 5.0


@pytest.mark.parametrize("preference", ["bradley-terry", "weibull"])
def test_estimate_tracks_exact_gradient(preference, make_problem, theta_and_gradient, basis):
    """The mean of ĝ over 72 antithetic directions has cosine > 0.9 with ∇J and its smoothed target.

    The target is E[ĝ | v] = (d/μ)(J(θ + μv) − J(θ)) v averaged over the same directions, computed
    exactly. The preference noise left in the average has norm ≈ 0.22 ‖∇J‖ for this seed
    (measured cosine 0.975 BT, 0.978 Weibull), so 0.9 leaves room without admitting a
    wrong estimator: a sign error gives −1, a wrong d/μ scale keeps the cosine but a random
    estimate has cosine ≈ 0 ± 0.17 in d = 36 dimensions.
    """
    problem = make_problem(preference, scale=SCALE)
    theta, grad = theta_and_gradient(problem)
    config = zpg.ZPGConfig(**ESTIMATE)
    directions = basis(theta.shape, np.random.default_rng(1))
    env = zobench.make("environment", "gridworld", **SMALL_GRID)
    tables = env.tables()
    J = exact_value(tables, theta, env.horizon, env.gamma)
    d, mu = theta.size, config.mu
    target = np.mean(
        [
            (d / mu) * (exact_value(tables, theta + mu * v, env.horizon, env.gamma) - J) * v
            for v in directions
        ],
        axis=0,
    )
    estimate = np.mean(
        [zpg.estimate_gradient(problem, theta, config, direction=v)[0] for v in directions], axis=0
    )
    assert cosine(target, grad) > 0.99  # the smoothing at μ = 1 barely moves the gradient
    assert cosine(estimate, target) > 0.9
    assert cosine(estimate, grad) > 0.9
    # and the length is right too (the d/μ scale), within the same noise
    assert np.linalg.norm(estimate) / np.linalg.norm(grad) == pytest.approx(1.0, abs=0.3)


def test_step_ascends_along_the_estimate(make_problem):
    """step() is θ ← θ + α ĝ with ĝ from estimate_gradient (same seed, same draws)."""
    config = zpg.ZPGConfig()
    algorithm = zpg.ZPG(config, make_problem(seed=4))
    twin = make_problem(seed=4)
    grad, expected = zpg.estimate_gradient(twin, twin.initial_theta(), config)
    diagnostics = algorithm.step()
    np.testing.assert_allclose(algorithm.theta, config.step_size * grad)
    assert diagnostics == expected
    assert set(diagnostics) == {"mean_delta", "grad_norm"}


def test_one_step_charges_pairs_and_votes_never_rewards(make_problem):
    problem = make_problem()
    config = zpg.ZPGConfig(pairs=7, evaluators=3)
    zpg.ZPG(config, problem).step()
    ledger = problem.ledger
    assert (ledger.episodes, ledger.queries, ledger.reward_obs) == (14, 21, 0)
    assert ledger.env_steps == 14 * problem.env.horizon
    assert zpg.ZPG.uses_rewards is False


@pytest.mark.parametrize(
    ("params", "field"), [({"mu": 0.0}, "mu"), ({"pairs": 0}, "pairs"), ({"trim": "none"}, "trim")]
)
def test_bad_settings_are_refused(params, field):
    with pytest.raises(ConfigError, match=field):
        validate(zpg.ZPGConfig, params, path="algorithm")


def test_every_setting_is_documented():
    import dataclasses

    for f in dataclasses.fields(zpg.ZPGConfig):
        assert f.metadata["doc"], f.name
        assert f.metadata["source"] in ("paper", "author-code", "ours")


BUDGET = 500
"""The learning budget: the default suite length."""


@pytest.mark.slow
@pytest.mark.parametrize("preference", ["bradley-terry", "weibull"])
def test_zpg_learns_the_gridworld(preference):
    """From the uniform policy, ZPG reaches a normalized score ≥ 0.8 within the default length,
    with its defaults (tuned under Bradley–Terry) or, under Weibull, its Weibull preset (tuned by
    the same protocol: the Bradley–Terry step diverges on some seeds under Weibull's lopsided
    link, docs/tuning.md).

    Tolerance: the mean over seeds 0–4 is ≥ 0.8 and every seed is ≥ 0.7.
    """
    finals = []
    for seed in range(5):
        spec = RunSpec.create(
            algorithm="zpg", preference=preference, seed=seed, iterations=BUDGET, eval_every=BUDGET
        )
        finals.append(run(spec)["score_normalized"][-1])
    assert np.mean(finals) >= 0.8, finals
    assert min(finals) >= 0.7, finals
