"""DPO's compiled build and loss (:mod:`zobench_plugins.algorithms._dpo_fast`) against the numpy
reference in :mod:`zobench_plugins.algorithms._optim`: bit for bit, on shapes around numpy's
pairwise-summation block edges, and the same generator draws in the update loop."""

from __future__ import annotations

import numpy as np
import pytest
from baseline_envs import line_problem

import zobench
from zobench.sim import kernel
from zobench.sim.rollout import Trajectories, rollout
from zobench_plugins.algorithms import _dpo_fast, _optim

pytestmark = pytest.mark.skipif(not kernel.compiled_available(), reason="needs numba")


@pytest.fixture(scope="module")
def bradley_terry():
    return zobench.make("preference", "bradley-terry")


def _pairs(n_agents, batch, rng, bradley_terry, horizon=None):
    """Two rollouts of a random policy on the line walk with ``n_agents`` agents."""
    problem = line_problem(0, bradley_terry, n_agents=n_agents)
    env = problem._simulation.env  # the test reaches the core behind the facade
    shape = problem.theta_shape
    behaviour = rng.normal(size=shape) * 3
    first, second = (
        rollout(env, behaviour, batch=batch, rng=rng, horizon=horizon) for _ in range(2)
    )
    return first, second, shape


def _numpy_build(monkeypatch, first, second, targets, theta_ref):
    with monkeypatch.context() as patch:
        patch.setenv(kernel.KERNEL_VARIABLE, "numpy")
        return _optim.PreferenceData.build(first, second, targets, theta_ref)


def test_pairwise_adds_as_numpy_sums_a_run():
    """numpy's sum of 1 to 128 contiguous entries (its pairwise block), and of signed zeros."""
    from zobench_plugins.algorithms._dpo_compiled import pairwise

    rng = np.random.default_rng(0)
    for n in range(1, 129):
        values = rng.normal(size=n) * np.exp(rng.normal(size=n) * 8)
        assert pairwise(values, n) == values.sum(), n
    zeros = np.array([-0.0, -0.0, -0.0])  # numpy's total starts at +0, as the kernels' do
    assert np.signbit(0.0 + pairwise(zeros, 3)) == np.signbit(zeros.sum())


@pytest.mark.parametrize("n_agents", [1, 2, 7, 8, 9, 17])
@pytest.mark.parametrize("batch", [2, 3, 70])
@pytest.mark.parametrize("horizon", [1, 4, None])
def test_build_equals_numpy(n_agents, batch, horizon, monkeypatch, bradley_terry):
    """Same cells (values and layout; int16 where θ is that small) and reference sums as the
    numpy build and as :mod:`._optim`'s chunked compiled build, for agent counts around the
    8-wide unrolled sum."""
    rng = np.random.default_rng(n_agents * 100 + batch)
    first, second, shape = _pairs(n_agents, batch, rng, bradley_terry, horizon)
    targets, theta_ref = rng.random(batch), rng.normal(size=shape) * 5
    fast = _dpo_fast.build(first, second, targets, theta_ref)
    for reference in (
        _numpy_build(monkeypatch, first, second, targets, theta_ref),
        _optim.PreferenceData.build(first, second, targets, theta_ref),
    ):
        assert (fast.cells.dtype, reference.cells.dtype) == (np.int16, np.int32)
        assert np.array_equal(
            fast.cells.transpose(0, 2, 1, 3).strides,
            np.array(reference.cells.transpose(0, 2, 1, 3).strides) // 2,
        )
        assert fast.cells.transpose(0, 2, 1, 3).flags.c_contiguous  # stored pair-major
        assert np.array_equal(fast.cells, reference.cells)
        assert np.array_equal(fast.reference, reference.reference)
        assert np.array_equal(fast.targets, reference.targets)


def test_build_falls_back_off_the_rollout_layout(monkeypatch, bradley_terry):
    """Trajectories that are not the rollouts' time-major buffers take the numpy reference."""
    rng = np.random.default_rng(3)
    first, second, shape = _pairs(3, 20, rng, bradley_terry)
    compact = [
        Trajectories(np.ascontiguousarray(t.states), np.ascontiguousarray(t.actions))
        for t in (first, second)
    ]
    targets, theta_ref = rng.random(20), rng.normal(size=shape)
    fast = _dpo_fast.build(*compact, targets, theta_ref)
    expected = _numpy_build(monkeypatch, *compact, targets, theta_ref)
    assert np.array_equal(fast.cells, expected.cells)
    assert np.array_equal(fast.reference, expected.reference)


@pytest.mark.parametrize("n_agents", [1, 8, 9])
@pytest.mark.parametrize("size", [2, 3, 45, 60])
def test_loss_and_gradient_equal_numpy(n_agents, size, monkeypatch, bradley_terry):
    """The compiled mini-batch loss and gradient are the numpy ones bit for bit."""
    rng = np.random.default_rng(n_agents + size)
    first, second, shape = _pairs(n_agents, 60, rng, bradley_terry)
    targets, theta_ref = rng.random(60), rng.normal(size=shape)
    data = _dpo_fast.build(first, second, targets, theta_ref)
    layout = _dpo_fast._stored(data)
    assert layout is not None
    theta = rng.normal(size=shape) * 2
    index = rng.choice(60, size=size, replace=False)
    loss, grad = _dpo_fast.dpo_loss_and_gradient(theta, data, layout, 0.37, index)
    with monkeypatch.context() as patch:
        patch.setenv(kernel.KERNEL_VARIABLE, "numpy")
        expected_loss, expected_grad = _optim.dpo_loss_and_gradient(theta, data, 0.37, index)
    assert loss == expected_loss
    assert np.array_equal(grad, expected_grad)
    assert np.abs(grad).max() > 0


@pytest.mark.parametrize("batch_size", [1, 16, 500])
def test_updates_equal_numpy(batch_size, bradley_terry):
    """Same θ, diagnostics and generator state after the update loop (mini-batches of one
    pair, and larger than the data, take the numpy loop)."""
    rng = np.random.default_rng(11)
    first, second, shape = _pairs(4, 40, rng, bradley_terry)
    data = _dpo_fast.build(first, second, rng.random(40), rng.normal(size=shape))
    settings = _optim.DPOSettings(batch_size=batch_size, minibatches=3)
    theta = rng.normal(size=shape)
    results = []
    for updates in (_dpo_fast.dpo_updates, _optim.dpo_updates):
        generator = np.random.default_rng(5)
        optimizer = _optim.make_optimizer("adam", 0.1)
        new, diagnostics = theta.copy(), {}
        for _ in range(3):
            new, diagnostics = updates(new, data, optimizer, settings, generator)
        results.append((new, diagnostics, generator.random()))
    (theta_a, diag_a, draw_a), (theta_b, diag_b, draw_b) = results
    assert np.array_equal(theta_a, theta_b)
    assert diag_a == diag_b
    assert draw_a == draw_b


def test_cells_take_the_narrowest_type_that_holds_them():
    assert _dpo_fast.cell_type(1960) is np.int16  # predator-prey's 8 · 49 · 5
    assert _dpo_fast.cell_type(2**15 - 1) is np.int16
    assert _dpo_fast.cell_type(2**15) is np.int32
    assert _dpo_fast.cell_type(2**31) is np.int64
