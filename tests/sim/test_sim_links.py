"""The built-in preference models: inverses, monotonicity, symmetry, edge behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zobench_plugins.preferences.links import EPS, LINKS, Linear, Weibull, normal_cdf, normal_ppf

X = np.linspace(-6, 6, 241)
P = np.linspace(0.001, 0.999, 999)


@pytest.fixture(params=LINKS, ids=lambda c: c.name)
def link(request):
    return request.param()


def test_inverse_inverts_the_link(link):
    x = X[np.abs(X) < 0.99] if isinstance(link, Linear) else X  # linear is flat beyond ±1
    # inverses clip p to [EPS, 1 − EPS]; the Weibull tails reach EPS already near |x| = 3.3
    inside = (link.sigma(x) > 10 * EPS) & (link.sigma(x) < 1 - 10 * EPS)
    assert inside.mean() > 0.5
    x = x[inside]
    np.testing.assert_allclose(link.sigma_inverse(link.sigma(x)), x, atol=1e-6)
    np.testing.assert_allclose(link.sigma(link.sigma_inverse(P)), P, atol=1e-9)


def test_scaled_link_inverts(link):
    model = type(link)(type(link).Config(scale=2.5))
    x = np.linspace(-2, 2, 41)
    np.testing.assert_allclose(model.inverse(model.link(x)), x, atol=1e-6)


def test_link_and_inverse_are_increasing(link):
    assert (np.diff(link.sigma(np.linspace(-0.9, 0.9, 50))) > 0).all()
    assert (np.diff(link.sigma_inverse(P)) > 0).all()
    values = link.sigma(X)
    assert values.min() >= 0.0
    assert values.max() <= 1.0


def test_symmetric_flag_is_true(link):
    x = np.linspace(-3, 3, 61)
    symmetric = np.allclose(link.sigma(-x), 1 - link.sigma(x), atol=1e-9)
    assert symmetric == link.symmetric


def test_inverse_is_finite_at_the_edges(link):
    values = link.sigma_inverse(np.array([0.0, 1e-300, 0.5, 1 - 1e-17, 1.0]))
    assert np.isfinite(values).all()
    assert values[0] <= values[2] <= values[-1]


def test_weibull_forms():
    x = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(Weibull().sigma(x), np.exp(-np.exp(-x)))
    mirrored = Weibull(Weibull.Config(mirrored=True))
    np.testing.assert_allclose(mirrored.sigma(x), 1 - Weibull().sigma(-x), atol=1e-15)
    assert Weibull().sigma(np.array(0.0)) == pytest.approx(math.exp(-1))


def test_normal_cdf_and_ppf_are_accurate():
    xs = np.linspace(-37, 8, 4001)  # down to Φ ≈ 1e-300
    exact = np.array([0.5 * math.erfc(-x / math.sqrt(2)) for x in xs])
    np.testing.assert_allclose(normal_cdf(xs), exact, rtol=1e-12, atol=0)
    # reference quantiles (15+ digits, from the literature's tables)
    ps = np.array([1e-10, 1e-4, 0.02, 0.3, 0.5, 0.9, 0.999])
    reference = np.array(
        [-6.361340902404056, -3.719016485455709, -2.053748910631823, -0.5244005127080407,
         0.0, 1.2815515655446004, 3.090232306167813]
    )  # fmt: skip
    np.testing.assert_allclose(normal_ppf(ps), reference, rtol=1e-12, atol=1e-13)
    p = np.linspace(1e-12, 1 - 1e-12, 10_001)
    np.testing.assert_allclose(normal_cdf(normal_ppf(p)), p, rtol=1e-12)
