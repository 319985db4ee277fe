"""ZSPO: the majority-vote sign step correlates with the true gradient; step schedule; batches,
evaluators and their bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
from zo_helpers import cosine

from zobench.config import validate
from zobench.errors import ConfigError
from zobench.sim.ledger import Ledger
from zobench.sim.network import Network
from zobench.sim.panel import Panel
from zobench_plugins.algorithms import zpg, zspo
from zobench_plugins.preferences.links import BradleyTerry


@pytest.mark.parametrize(("batch", "evaluators"), [(1, 1), (4, 1), (1, 4)])
def test_expected_step_has_positive_inner_product_with_gradient(
    batch, evaluators, make_problem, theta_and_gradient, basis
):
    """Mean of ⟨ŝ v, ∇J⟩ over ± an orthonormal basis is > 0 by more than 2.5 standard errors.

    ZSPO's link assumption is a symmetric σ with σ(0) = 1/2, so Bradley–Terry is used (under the
    asymmetric Weibull link nearly every vote says "worse" and ŝ carries no information). With
    2000 (D = 1) or 500 (D = 4) labels per direction, the measured z-scores are ≈ 4.9 and ≈ 3.0;
    with 500 comparisons of M = 4 labels each (the majority over all 2000 labels), ≈ 3.2.
    """
    problem = make_problem("bradley-terry")
    theta, grad = theta_and_gradient(problem)
    config = zspo.ZSPOConfig(
        mu=1.0, comparisons=2000 // (batch * evaluators), batch=batch, evaluators=evaluators
    )
    steps = [
        zspo.estimate_step(problem, theta, config, direction=v)[0]
        for v in basis(theta.shape, np.random.default_rng(1))
    ]
    inner = np.array([float((s * grad).sum()) for s in steps])
    assert inner.mean() > 2.5 * inner.std(ddof=1) / np.sqrt(len(inner))
    assert cosine(np.mean(steps, axis=0), grad) > 0.2


def test_first_step_is_a_sign_step_of_length_alpha(make_problem):
    config = zspo.ZSPOConfig(comparisons=11, evaluators=1)
    problem = make_problem(seed=2)
    algorithm = zspo.ZSPO(config, problem)
    diagnostics = algorithm.step()
    assert diagnostics["sign"] in (-1.0, 1.0)
    assert np.linalg.norm(algorithm.theta) == pytest.approx(config.step_size)
    assert (problem.ledger.episodes, problem.ledger.queries) == (22, 11)  # one label each
    assert problem.ledger.reward_obs == 0


@pytest.mark.parametrize("decay", [0.0, 0.5])
def test_step_lengths_follow_the_schedule(make_problem, decay):
    """Step t moves θ by exactly α / √(1 + λ t): fixed when λ = 0, shrinking otherwise."""
    config = zspo.ZSPOConfig(comparisons=3, step_size=0.7, step_decay=decay)
    algorithm = zspo.ZSPO(config, make_problem(seed=4))
    lengths = []
    for _ in range(4):
        before = algorithm.theta
        algorithm.step()
        lengths.append(float(np.linalg.norm(algorithm.theta - before)))
    expected = [0.7 / np.sqrt(1 + decay * t) for t in range(4)]
    np.testing.assert_allclose(lengths, expected, rtol=1e-12)


def test_evaluators_label_each_comparison_and_are_charged(make_problem):
    problem = make_problem()
    config = zspo.ZSPOConfig(comparisons=6, evaluators=5, batch=2)
    zspo.ZSPO(config, problem).step()
    assert problem.ledger.episodes == 2 * 6 * 2  # evaluators cost votes, not episodes
    assert problem.ledger.queries == 6 * 5


def test_the_default_vote_budget_equals_zpgs():
    """Equal budgets: zspo's N·M votes per iteration are zpg's pairs × evaluators."""
    config, reference = zspo.ZSPOConfig(), zpg.ZPGConfig()
    assert config.comparisons * config.evaluators == reference.pairs * reference.evaluators


def test_batches_are_charged_and_compared_by_their_mean(make_problem):
    problem = make_problem()
    config = zspo.ZSPOConfig(comparisons=5, batch=3)
    zspo.ZSPO(config, problem).step()
    assert problem.ledger.episodes == 2 * 5 * 3
    assert problem.ledger.queries == 5
    # the panel's batch oracle votes on the batches' mean returns, exactly as on mean rewards
    rewards0, rewards1 = np.random.default_rng(0).random((2, 6, 2, 1))
    panels = [Panel(BradleyTerry(), np.random.default_rng(5), Ledger(), Network.empty(1), 1.0)]
    panels.append(Panel(BradleyTerry(), np.random.default_rng(5), Ledger(), Network.empty(1), 1.0))
    by_batch = panels[0].compare_batch_means(rewards0, rewards1, 3, 7)
    by_mean = panels[1].compare(
        rewards0.reshape(2, 3, 2, 1).mean(axis=1), rewards1.reshape(2, 3, 2, 1).mean(axis=1), 7
    )
    np.testing.assert_array_equal(by_batch, by_mean)
    assert panels[0].ledger.queries == 2 * 7
    with pytest.raises(ValueError, match="split"):
        panels[0].compare_batch_means(rewards0, rewards1, 4, 7)


def test_ties_are_broken_by_a_coin(make_problem, monkeypatch):
    problem = make_problem()
    monkeypatch.setattr(problem.panel, "compare", lambda a, b, m: np.array([0.0, 1.0]))
    config = zspo.ZSPOConfig(comparisons=2)
    signs = {
        zspo.vote_sign(problem, problem.initial_theta(), np.ones((1, 9, 4)) / 6, config)
        for _ in range(40)
    }
    assert signs == {-1.0, 1.0}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"mu": -1.0}, "mu"),
        ({"batch": 0}, "batch"),
        ({"evaluators": 0}, "evaluators"),
        ({"step_decay": -0.1}, "step_decay"),
        ({"step_decay": float("nan")}, "step_decay"),
    ],
)
def test_bad_settings_are_refused(params, field):
    with pytest.raises(ConfigError, match=field):
        validate(zspo.ZSPOConfig, params, path="algorithm")
