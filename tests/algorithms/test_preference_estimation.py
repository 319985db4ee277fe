"""The preference-estimation pieces the zeroth-order learners share (docs/algorithms.md#trimming).

Value gaps Δ̂ = σ⁻¹(trim(p̂)) under both trimming variants, the bound derived from public facts,
the directions on the unit sphere, and the trimming settings declared once for zpg, zbcpg and
dzopg.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from zobench_plugins.algorithms import _preference_estimation as estimation
from zobench_plugins.algorithms import dzopg, zbcpg, zpg

TRIMMING_FIELDS = ("trim", "trim_margin", "return_bound")


def test_return_bound_is_the_horizon_for_unit_rewards(make_problem):
    problem = make_problem()
    assert estimation.return_bound(problem) == pytest.approx(problem.env.horizon)


@pytest.mark.parametrize("preference", ["bradley-terry", "weibull"])
def test_bound_trimming_maps_unanimous_votes_to_plus_minus_b(preference, make_problem):
    """Variant (b): p̂ = 0 or 1 gives exactly ∓B, even where σ(−B) underflows (Weibull)."""
    problem = make_problem(preference)
    B = estimation.return_bound(problem)
    p_hat = np.array([0.0, 1.0, float(problem.preference.link(0.5))])
    deltas = estimation.inverse_link(problem, p_hat, zpg.ZPGConfig())
    np.testing.assert_allclose(deltas, [-B, B, 0.5], atol=1e-9)
    custom = estimation.inverse_link(problem, p_hat[:2], zpg.ZPGConfig(return_bound=2.0))
    np.testing.assert_allclose(custom, [-2.0, 2.0])


def test_constant_trimming_clips_to_the_margin(make_problem):
    problem = make_problem()
    deltas = estimation.inverse_link(
        problem, np.array([0.0, 1.0]), zpg.ZPGConfig(trim="constant", trim_margin=0.1)
    )
    np.testing.assert_allclose(deltas, [np.log(0.1 / 0.9), np.log(0.9 / 0.1)])


def test_the_derived_bound_is_asked_for_only_when_the_bound_variant_has_no_setting(make_problem):
    problem = make_problem()
    asked = []

    def bound() -> float:
        asked.append(1)
        return 3.0

    p_hat = np.array([0.0, 1.0])
    unset = estimation.inverse_link(problem, p_hat, zpg.ZPGConfig(), bound)
    np.testing.assert_allclose(unset, [-3.0, 3.0])
    assert len(asked) == 1
    estimation.inverse_link(problem, p_hat, zpg.ZPGConfig(return_bound=2.0), bound)
    estimation.inverse_link(problem, p_hat, zpg.ZPGConfig(trim="constant"), bound)
    assert len(asked) == 1


def test_sphere_directions_are_unit_vectors_in_the_requested_shape():
    rng = np.random.default_rng(7)
    directions = [estimation.sphere_direction(rng, (2, 3, 4)) for _ in range(50)]
    assert all(v.shape == (2, 3, 4) for v in directions)
    np.testing.assert_allclose([np.linalg.norm(v) for v in directions], 1.0)
    # uniform on the sphere: E[d v vᵀ] = I, so the mean of d·v_k² is 1 for every coordinate k
    many = np.stack([estimation.sphere_direction(rng, (24,)) for _ in range(4000)])
    np.testing.assert_allclose((24 * many**2).mean(axis=0), 1.0, atol=0.12)


@pytest.mark.parametrize("config", [zpg.ZPGConfig, zbcpg.ZBCPGConfig, dzopg.DZOPGConfig])
def test_the_trimming_settings_are_declared_once(config):
    assert issubclass(config, estimation.TrimmingSettings)
    shared = {f.name: f for f in dataclasses.fields(estimation.TrimmingSettings)}
    fields = {f.name: f for f in dataclasses.fields(config)}
    for name in TRIMMING_FIELDS:
        assert fields[name].metadata["doc"] == shared[name].metadata["doc"]
        assert fields[name].metadata["source"] == shared[name].metadata["source"]


def test_each_algorithm_keeps_its_default_trimming_variant():
    assert zpg.ZPGConfig().trim == zbcpg.ZBCPGConfig().trim == "bound"
    assert dzopg.DZOPGConfig().trim == "constant"
    assert zpg.ZPGConfig().trim_margin == dzopg.DZOPGConfig().trim_margin == 0.01


@pytest.mark.parametrize(
    ("config", "params"),
    [
        (zpg.ZPGConfig, {"trim_margin": 0.5}),
        (zpg.ZPGConfig, {"return_bound": 0.0}),
        (dzopg.DZOPGConfig, {"trim_margin": 0.0}),
        (dzopg.DZOPGConfig, {"return_bound": -1.0}),
    ],
)
def test_bad_trimming_settings_are_refused_by_every_config(config, params):
    with pytest.raises(ValueError, match=next(iter(params))):
        config(**params)
