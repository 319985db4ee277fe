"""The example plugin's own tests: the conformance kit, discovery, and the components' logic.

Run them after ``pip install -e .`` (in an environment that has zobench) with ``pytest``.
"""

from __future__ import annotations

import importlib.metadata as md

import numpy as np
import pytest
from zobench_example import LapseLogistic, LapseLogisticConfig, RandomSearch, RandomSearchConfig

import zobench
from zobench.errors import ConfigError
from zobench.plugins import PluginHost
from zobench.testing import check_component, tiny_problem


@pytest.mark.parametrize("component", [RandomSearch, LapseLogistic])
def test_conformance(zobench_conformance, component):
    # the fixture comes with zobench (a pytest plugin); check_component runs every check
    # that applies: documented Config, construction, determinism, and a tiny run
    zobench_conformance.check_component(component)


def test_conformance_without_the_fixture():
    check_component(LapseLogistic)


def test_installed_entry_point_is_discovered():
    # needs `pip install -e .`: the entry point is read from the installed metadata
    (ep,) = [ep for ep in md.entry_points(group="zobench") if ep.name == "example"]
    assert ep.dist.name == "zobench-example"
    host = PluginHost([ep], environ={})
    assert host.get("algorithm", "example-random-search").obj is RandomSearch
    assert host.get("preference", "example-lapse-logistic").obj is LapseLogistic
    assert host.failures == []


def test_make_builds_the_link_with_validated_settings():
    link = zobench.make("preference", "example-lapse-logistic", lapse=0.2, scale=2)
    assert link.config == LapseLogisticConfig(lapse=0.2, scale=2.0)
    with pytest.raises(ConfigError, match="lapse must lie in"):
        zobench.make("preference", "example-lapse-logistic", lapse=1.5)


def test_link_limits_and_midpoint():
    link = LapseLogistic(LapseLogisticConfig(lapse=0.2))
    p = link.link(np.array([-1e6, 0.0, 1e6]))
    np.testing.assert_allclose(p, [0.1, 0.5, 0.9])
    assert np.isneginf(link.inverse(np.array([0.1, 0.05]))).all()  # at and below the limit


def test_no_lapse_is_bradley_terry():
    link = LapseLogistic(LapseLogisticConfig(lapse=0.0, scale=1.5))
    x = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(link.link(x), 1 / (1 + np.exp(-x / 1.5)))


def _rigged(problem, win_rate: float):
    """Replace the panel's verdict by a fixed win rate for the candidate."""
    problem.panel.compare = lambda traj0, traj1, evaluators: np.full(traj0.batch, win_rate)
    return problem


@pytest.mark.parametrize(("win_rate", "moves"), [(0.9, True), (0.5, False), (0.1, False)])
def test_random_search_keeps_only_preferred_candidates(win_rate, moves):
    problem = _rigged(tiny_problem(seed=1), win_rate)
    algorithm = RandomSearch(RandomSearchConfig(radius=0.3), problem)
    before = algorithm.theta.copy()
    diagnostics = algorithm.step()
    assert diagnostics == {"win_rate": win_rate, "accepted": float(moves)}
    step = np.linalg.norm(algorithm.theta - before)
    assert step == pytest.approx(0.3 if moves else 0.0)


def test_random_search_spends_what_it_says():
    problem = tiny_problem(seed=2)
    config = RandomSearchConfig(pairs=4, evaluators=3)
    algorithm = RandomSearch(config, problem)
    algorithm.step()
    assert problem.ledger.episodes == 2 * config.pairs
    assert problem.ledger.queries == config.pairs * config.evaluators
    assert problem.ledger.reward_obs == 0


def test_a_suite_names_the_components_like_builtins():
    from zobench.bench.suite import parse_suite

    suite = parse_suite(
        """
        name = "example-suite"
        iterations = 10

        [environment]
        name = "gridworld"

        [preference]
        name = "example-lapse-logistic"
        lapse = 0.2

        [[algorithm]]
        name = "example-random-search"
        radius = 0.3
        """
    )
    (entry,) = suite.entries["algorithm"]
    assert (entry.name, entry.params) == ("example-random-search", {"radius": 0.3})
