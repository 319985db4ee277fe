"""The simulated panel: hidden returns, binomial votes, B-Pref irrationalities, trimming."""

from __future__ import annotations

import numpy as np
import pytest

from zobench.sim.ledger import Ledger
from zobench.sim.network import Network
from zobench.sim.panel import Panel, estimate_difference, trim_bounds
from zobench.sim.rollout import rollout
from zobench_plugins.preferences.links import BradleyTerry, Cauchy, Linear, Weibull


def _traj(rewards: np.ndarray) -> np.ndarray:
    """What the core panel works on: a batch's rewards ``(B, H, n)`` (it never sees states)."""
    return rewards


def _panel(preference=None, *, n=1, network=None, gamma=1.0, seed=0) -> Panel:
    network = network or Network.empty(n)
    return Panel(
        preference or BradleyTerry(), np.random.default_rng(seed), Ledger(), network, gamma
    )


def _pair(diff: float, base: float = 0.0, batch: int = 20_000):
    """Single-step trajectories with returns ``base`` and ``base + diff``."""
    r0 = np.full((batch, 1, 1), base)
    return _traj(r0), _traj(r0 + diff)


def test_global_returns_discount_and_average():
    rewards = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    panel = _panel(n=4, gamma=0.5)
    expected = (rewards.mean(-1) * 0.5 ** np.arange(3)).sum(1)
    np.testing.assert_allclose(panel.returns(_traj(rewards)), expected)
    np.testing.assert_allclose(
        panel.returns(_traj(rewards), horizon=2), (rewards[:, :2].mean(-1) * [1, 0.5]).sum(1)
    )


def test_per_agent_returns_sum_the_neighbourhood():
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=(5, 4, 4))
    chain = Network.from_edges(4, [(0, 1), (1, 2), (2, 3)])
    panel = _panel(n=4, network=chain, gamma=0.9)
    local = (rewards * 0.9 ** np.arange(4)[:, None]).sum(1) / 4
    expected = np.stack(
        [
            local[:, [0, 1]].sum(1),
            local[:, [0, 1, 2]].sum(1),
            local[:, [1, 2, 3]].sum(1),
            local[:, [2, 3]].sum(1),
        ],
        1,
    )
    np.testing.assert_allclose(panel.returns(_traj(rewards), kappa=1), expected)


def test_neighbourhood_normalization_averages_over_the_neighbourhood():
    rng = np.random.default_rng(1)
    rewards = rng.normal(size=(5, 4, 4))
    chain = Network.from_edges(4, [(0, 1), (1, 2), (2, 3)])
    panel = _panel(n=4, network=chain, gamma=0.9)
    local = (rewards * 0.9 ** np.arange(4)[:, None]).sum(1)  # each agent's own discounted sum
    hoods = [[0, 1], [0, 1, 2], [1, 2, 3], [2, 3]]
    expected = np.stack([local[:, hood].mean(1) for hood in hoods], 1)
    got = panel.returns(_traj(rewards), kappa=1, normalize="neighbourhood")
    np.testing.assert_allclose(got, expected)
    with pytest.raises(ValueError, match="normalize"):
        panel.returns(_traj(rewards), kappa=1, normalize="agents")


@pytest.mark.parametrize("seed", range(3))
def test_per_agent_returns_equal_global_at_full_reach(seed):
    rng = np.random.default_rng(seed)
    n = 7
    # a random spanning tree plus extra edges: connected
    edges = [(i, int(rng.integers(0, i))) for i in range(1, n)] + [
        tuple(rng.integers(0, n, 2)) for _ in range(3)
    ]
    network = Network.from_edges(n, edges)
    panel = _panel(n=n, network=network, gamma=0.8)
    traj = _traj(rng.normal(size=(6, 5, n)))
    per_agent = panel.returns(traj, kappa=network.diameter(), horizon=5)
    np.testing.assert_allclose(per_agent, np.repeat(panel.returns(traj)[:, None], n, 1))
    if network.diameter() > 1:  # one hop short is not the global return
        short = panel.returns(traj, kappa=network.diameter() - 1)
        assert not np.allclose(short, per_agent)


@pytest.mark.parametrize("diff", [-1.0, 0.0, 0.7, 2.5])
def test_binomial_votes_match_bernoulli_frequencies(diff):
    # M = 10 votes per pair on 20,000 pairs: mean within 5 SE of σ(Δ), variance within 10% of p(1−p)/M
    panel = _panel()
    t0, t1 = _pair(diff)
    p_hat = panel.compare(t0, t1, 10)
    p = 1 / (1 + np.exp(-diff))
    assert abs(p_hat.mean() - p) < 5 * np.sqrt(p * (1 - p) / (10 * 20_000))
    assert p_hat.var() == pytest.approx(p * (1 - p) / 10, rel=0.1)
    assert set(np.unique(p_hat * 10)) <= set(range(11))
    # the same as counting individual Bernoulli votes, which a reference draws one by one
    votes = np.random.default_rng(1).random((20_000, 10)) < p
    assert abs(votes.mean(1).mean() - p_hat.mean()) < 5 * np.sqrt(2 * p * (1 - p) / (10 * 20_000))


def test_ledger_counts_votes_per_agent():
    network = Network.from_edges(3, [(0, 1), (1, 2)])
    panel = _panel(n=3, network=network)
    t0, t1 = _traj(np.zeros((4, 2, 3))), _traj(np.ones((4, 2, 3)))
    assert panel.compare(t0, t1, 5).shape == (4,)
    assert panel.ledger.queries == 4 * 5
    assert panel.compare(t0, t1, 5, kappa=1).shape == (4, 3)
    assert panel.ledger.queries == 4 * 5 + 4 * 5 * 3


def _preference(cls=BradleyTerry, **kwargs):
    return cls(cls.Config(**kwargs))


def test_mistake_flips_votes():
    eps, diff = 0.2, 1.5
    p = 1 / (1 + np.exp(-diff))
    p_hat = _panel(_preference(mistake=eps)).compare(*_pair(diff), 10)
    target = (1 - eps) * p + eps * (1 - p)
    assert abs(p_hat.mean() - target) < 5 * np.sqrt(target * (1 - target) / 200_000)
    assert abs(p_hat.mean() - p) > 0.05


def test_equal_declares_ties():
    pref = _preference(equal=0.5)
    small = _panel(pref).compare(*_pair(0.3), 10)
    np.testing.assert_array_equal(small, 0.5)
    large = _panel(pref).compare(*_pair(0.6), 10)
    assert large.std() > 0  # above the threshold votes are random again


def test_skip_gives_a_fair_coin_when_both_returns_are_low():
    pref = _preference(skip=1.0)
    low = _panel(pref).compare(*_pair(3.0, base=-5.0), 10)  # both below 1: skipped
    assert abs(low.mean() - 0.5) < 5 * np.sqrt(0.25 / 200_000)
    high = _panel(pref).compare(*_pair(3.0, base=0.5), 10)  # the second is above 1: a real vote
    assert high.mean() > 0.9


def test_myopia_weights_late_steps():
    rewards = np.zeros((1, 3, 1))
    rewards[0, 0, 0] = 1.0  # early reward
    late = np.zeros((1, 3, 1))
    late[0, 2, 0] = 1.0
    panel = _panel(_preference(myopia=0.5))
    assert panel.returns(_traj(rewards))[0] == pytest.approx(0.25)
    assert panel.returns(_traj(late))[0] == pytest.approx(1.0)


def test_trim_bounds_and_estimate():
    bt = BradleyTerry()
    lo, hi = trim_bounds(bt, variant="bound", bound=3.0)
    assert (lo, hi) == pytest.approx((1 / (1 + np.exp(3)), 1 / (1 + np.exp(-3))))
    assert trim_bounds(bt, variant="constant", margin=0.01) == (0.01, 0.99)
    est = estimate_difference(bt, np.array([0.0, 0.5, 1.0]), lo, hi)
    np.testing.assert_allclose(est, [-3.0, 0.0, 3.0], atol=1e-12)
    w = Weibull()
    lo, hi = trim_bounds(w, variant="bound", bound=2.0)
    np.testing.assert_allclose(estimate_difference(w, np.array([0.0, 1.0]), lo, hi), [-2.0, 2.0])
    lin = Linear(Linear.Config(scale=4.0))
    assert trim_bounds(lin, variant="bound", bound=4.0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="margin"):
        trim_bounds(bt, variant="constant", margin=0.7)
    with pytest.raises(ValueError, match="variant"):
        trim_bounds(bt, variant="other", bound=1.0)


def test_compare_on_real_rollouts_prefers_the_better_policy(gridworld):
    # a policy that always moves right/down reaches the goal; always-up never does
    good = np.full((1, 25, 4), -5.0)
    good[..., 1] = good[..., 3] = 5.0
    bad = np.full((1, 25, 4), -5.0)
    bad[..., 0] = 5.0
    rng = np.random.default_rng(0)
    t_bad, t_good = (
        rollout(gridworld, bad, batch=200, rng=rng),
        rollout(gridworld, good, batch=200, rng=rng),
    )
    p_hat = _panel(Cauchy()).compare(t_bad.rewards, t_good.rewards, 10)
    assert p_hat.mean() > 0.7


def test_estimate_difference_maps_trim_ends_to_the_bound_when_the_link_underflows():
    from zobench_plugins.preferences.links import Weibull

    weibull = Weibull()
    lo, hi = trim_bounds(weibull, variant="bound", bound=15.0)
    assert lo == 0.0  # exp(-e^15) underflows: the plain inverse cannot recover -15
    plain = estimate_difference(weibull, np.array([0.0, 1.0]), lo, hi)
    assert plain[0] > -4.0
    exact = estimate_difference(weibull, np.array([0.0, 0.5, 1.0]), lo, hi, bound=15.0)
    np.testing.assert_allclose(exact[[0, 2]], [-15.0, 15.0])
    assert exact[1] == pytest.approx(float(weibull.inverse(np.array(0.5))))
