"""PPO-RM: the learned reward orders trajectories like the true one, PPO itself solves the
gridworld on true rewards, and the pipeline never reads rewards."""

from __future__ import annotations

import numpy as np
import pytest

import zobench
from zobench.errors import RewardAccessError
from zobench.sim import evaluate, kernel
from zobench.sim.problem import build_problem
from zobench.sim.rollout import rollout
from zobench_plugins.algorithms import _optim, ppo_rm


def _gridworld_problem(seed: int, *, uses_rewards: bool = False, **env):
    return build_problem(
        zobench.make("environment", "gridworld", **env),
        zobench.make("preference", "bradley-terry"),
        seed=seed,
        uses_rewards=uses_rewards,
    )


def kendall_tau_untied(truth: np.ndarray, learned: np.ndarray) -> float:
    """Kendall's τ over the pairs whose true values differ: mean of sign(Δtruth)·sign(Δlearned).

    Pairs tied in the truth (many gridworld returns are equal) carry no order to recover.
    """
    d_true = np.sign(truth[:, None] - truth[None, :])
    d_learned = np.sign(learned[:, None] - learned[None, :])
    untied = np.triu(d_true != 0, k=1)
    return float((d_true * d_learned)[untied].mean())


def test_kendall_tau_helper():
    x = np.array([0.0, 1.0, 2.0, 2.0])
    assert kendall_tau_untied(x, x) == 1.0
    assert kendall_tau_untied(x, -x) == -1.0
    assert kendall_tau_untied(x, np.array([0.0, 2.0, 1.0, 3.0])) == pytest.approx(3 / 5)


@pytest.mark.slow
def test_learned_reward_orders_held_out_trajectories_like_the_true_reward():
    """BT fit on 5,000 pairs × 20 votes from the uniform policy; held-out trajectories of the
    uniform policy and of a policy drifting down-right (so that returns vary): Kendall τ over
    the truly ordered pairs > 0.8 (measured 0.999 for seeds 0–2)."""
    problem = _gridworld_problem(0)
    algorithm = ppo_rm.PPORM(ppo_rm.PPORMConfig(pairs=5000), problem)
    algorithm.refit(algorithm.config.pairs)
    rng = np.random.default_rng(99)
    drifting = np.zeros(problem.theta_shape)
    drifting[..., [1, 3]] = 1.0  # down, right
    held_out = [
        rollout(problem._simulation.env, theta, batch=300, rng=rng)  # the core behind the facade
        for theta in (0 * drifting, drifting)
    ]
    truth = np.concatenate([problem._simulation.panel.returns(t.rewards) for t in held_out])
    learned = np.concatenate([algorithm._features(t) @ algorithm.phi for t in held_out])
    assert np.ptp(truth) > 5  # the held-out set spans a wide range of returns
    assert kendall_tau_untied(truth, learned) > 0.8


def test_gae_limits():
    """λ = 1 with V = 0 gives the discounted reward-to-go; λ = 0 gives the one-step TD error."""
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=(3, 5, 2))
    values = np.concatenate([rng.normal(size=(3, 5, 2)), np.zeros((3, 1, 2))], axis=1)
    gamma = 0.9
    advantages, targets = ppo_rm.gae(rewards, np.zeros_like(values), gamma, 1.0)
    to_go = np.stack(
        [(rewards[:, t:] * gamma ** np.arange(5 - t)[None, :, None]).sum(axis=1) for t in range(5)],
        axis=1,
    )
    np.testing.assert_allclose(advantages, to_go)
    np.testing.assert_allclose(targets, to_go)
    one_step, _ = ppo_rm.gae(rewards, values, gamma, 0.0)
    np.testing.assert_allclose(one_step, rewards + gamma * values[:, 1:] - values[:, :-1])


def test_ppo_on_the_true_reward_solves_the_gridworld():
    """PPO alone, fed the TRUE rewards: normalized score ≥ 0.8 after 60 iterations of 100
    episodes on the default gridworld for seeds 0 and 1 (measured 0.987 both)."""
    for seed in (0, 1):
        problem = _gridworld_problem(seed, uses_rewards=True)
        env = problem._simulation.env  # the core behind the facade, for the tables
        ppo = ppo_rm.PPO(problem.initial_theta(), env.horizon, ppo_rm.PPORMConfig())
        for _ in range(60):
            ppo_rm.ppo_iteration(problem, ppo, problem.rewards)
        refs = evaluate.references(env, episodes=10, seed=0)
        tables = env.tables()
        score = refs.normalise(evaluate.exact_value(tables, ppo.theta, env.horizon, env.gamma))
        assert score >= 0.8, (seed, score)
        assert problem.ledger.reward_obs == 60 * 100 * env.horizon


def test_a_preference_only_pipeline_is_refused_true_rewards():
    """PPO-RM's problem is preference-only: feeding PPO the true rewards raises."""
    problem = _gridworld_problem(0, size=3, goal=(2, 2), horizon=6)
    algorithm = ppo_rm.PPORM(ppo_rm.PPORMConfig(pairs=20), problem)
    with pytest.raises(RewardAccessError):
        ppo_rm.ppo_iteration(problem, algorithm.ppo, problem.rewards)


def test_ledger_counts_the_reward_model_votes_and_refreshes():
    """K·M votes at the first iteration, refresh_pairs·M at each refresh; no reward reads."""
    problem = _gridworld_problem(0, size=3, goal=(2, 2), horizon=6)
    config = ppo_rm.PPORMConfig(
        pairs=50, evaluators=3, episodes=10, refresh_every=2, refresh_pairs=5
    )
    algorithm = ppo_rm.PPORM(config, problem)
    for _ in range(5):  # fit at the first iteration, refreshes before iterations 3 and 5
        algorithm.step()
    ledger = problem.ledger
    assert ledger.queries == (50 + 2 * 5) * 3
    assert ledger.episodes == 2 * (50 + 2 * 5) + 5 * 10
    assert ledger.reward_obs == 0
    assert algorithm.X.shape == (60, algorithm.size)


def test_per_agent_reward_model_has_one_table_per_agent():
    from baseline_envs import line_problem

    problem = line_problem(
        0,
        zobench.make("preference", "bradley-terry"),
        n_agents=3,
        consumes=ppo_rm.PPORM.consumes,
    )
    algorithm = ppo_rm.PPORM(ppo_rm.PPORMConfig(pairs=200, reward_model="per-agent"), problem)
    algorithm.step()
    assert algorithm.phi.shape == (3 * problem.env.n_states * problem.env.n_actions,)
    assert problem.ledger.reward_obs == 0


def test_default_budget_matches_zpg_over_the_default_suite_length():
    from zobench.bench.suite import SuiteSettings
    from zobench_plugins.algorithms import zpg

    c, z = ppo_rm.PPORMConfig(), zpg.ZPGConfig()
    assert c.pairs * c.evaluators == SuiteSettings().iterations * z.pairs * z.evaluators


def test_feature_differences_equal_whole_batch_features_bit_for_bit():
    """The chunked build of X is the subtraction of the two whole-batch feature matrices."""
    rng = np.random.default_rng(8)
    K, H, n, size = ppo_rm.FEATURE_CHUNK + 37, 6, 3, 40  # more than one chunk, a ragged last
    first = rng.integers(0, size, size=(K, H, n))
    second = rng.integers(0, size, size=(K, H, n))
    weights = 0.9 ** np.arange(H)
    X = ppo_rm.feature_differences(first, second, weights, size)
    expected = ppo_rm.features(second, weights, size) - ppo_rm.features(first, weights, size)
    assert X.shape == (K, size)
    assert np.array_equal(X, expected)


@pytest.mark.parametrize("per_agent", [False, True])
def test_compiled_pair_features_equal_the_numpy_build_bit_for_bit(per_agent, monkeypatch):
    """Several agents, a discount, rollouts as they come (time-major views): the compiled X
    is the numpy one exactly, with a table per agent or a shared one."""
    from baseline_envs import line_problem

    problem = line_problem(2, zobench.make("preference", "bradley-terry"), n_agents=3)
    env = problem._simulation.env  # the test reaches the core behind the facade
    rng = np.random.default_rng(4)
    theta = rng.normal(size=problem.theta_shape)
    first, second = (rollout(env, theta, batch=300, rng=rng) for _ in range(2))
    S, A = env.n_states, env.n_actions
    size = S * A * (3 if per_agent else 1)
    weights = 0.9 ** np.arange(first.horizon)
    built = []
    for name in ("numpy", "numba"):
        monkeypatch.setenv(kernel.KERNEL_VARIABLE, name)
        built.append(ppo_rm.pair_features(first, second, S, A, per_agent, weights, size))
    assert np.abs(built[0]).max() > 0
    assert np.array_equal(built[0], built[1])


def test_bradley_terry_fit_is_the_plain_newton_iteration():
    """The fit (one reused buffer for XᵀW) gives the textbook Newton iterates bit for bit, and
    they solve the ridge BT likelihood (its gradient vanishes)."""
    rng = np.random.default_rng(9)
    K, D, ridge = 3000, 40, 1e-3
    X = rng.normal(size=(K, D)) * (rng.random((K, D)) < 0.3)
    y = (rng.random(K) < 1 / (1 + np.exp(-X @ rng.normal(size=D)))).astype(float)
    phi = np.zeros(D)
    for _ in range(4):
        slope = _optim.logistic_slope(X @ phi, y)
        curvature = (slope + y) * (1.0 - slope - y)
        grad = X.T @ slope / K + ridge * phi
        hessian = (X.T * curvature) @ X / K + (ridge + 1e-9) * np.eye(D)
        phi -= np.linalg.solve(hessian, grad)
    fitted, _ = ppo_rm.fit_bradley_terry(X, y, ridge, 4)
    assert np.array_equal(fitted, phi)
    converged, _ = ppo_rm.fit_bradley_terry(X, y, ridge, 30)
    gradient = X.T @ _optim.logistic_slope(X @ converged, y) / K + ridge * converged
    assert np.abs(gradient).max() < 1e-10


def test_gemm_blocks_cut_the_pairs_as_openblas_does():
    """Full blocks while two remain, then a stretch between one and two blocks halved (the first
    half rounded up to the unroll), or a last short block."""
    Q = ppo_rm.GEMM_BLOCK
    assert ppo_rm.gemm_blocks(100).tolist() == [0, 100]
    assert ppo_rm.gemm_blocks(Q).tolist() == [0, Q]
    assert ppo_rm.gemm_blocks(2 * Q).tolist() == [0, Q, 2 * Q]
    assert ppo_rm.gemm_blocks(2 * Q + 500).tolist() == [0, Q, 2 * Q, 2 * Q + 256, 2 * Q + 500]
    assert ppo_rm.gemm_blocks(3 * Q + 1).tolist() == [0, Q, 2 * Q, 2 * Q + 192, 3 * Q + 1]
    bounds = ppo_rm.gemm_blocks(2_000_000)
    assert bounds[0] == 0
    assert bounds[-1] == 2_000_000
    assert np.diff(bounds).max() == Q
    assert np.diff(bounds).min() > 0


def _pair_data(pairs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """X and votes of real gridworld pairs from the uniform policy (as PPO-RM's first fit)."""
    problem = _gridworld_problem(seed)
    algorithm = ppo_rm.PPORM(ppo_rm.PPORMConfig(pairs=pairs), problem)
    first, second, p_hat = _optim.labelled_pairs(
        problem, algorithm.theta, algorithm.theta, pairs, 1
    )
    env = problem._simulation.env  # the test reaches the core behind the facade
    weights = algorithm.step_weights[: first.horizon]
    X = ppo_rm.pair_features(first, second, env.n_states, env.n_actions, False, weights, 100)
    return X, p_hat


@pytest.mark.skipif(not kernel.compiled_available(), reason="numba is not installed")
@pytest.mark.parametrize("K", [100, 384, 1268, 5000, 20011])
def test_compiled_hessian_is_the_blas_product_bit_for_bit(K):
    """One BLAS thread (as runs have): the compiled XᵀWX of real pairs' X equals numpy's
    ``(X.T * w) @ X`` bit for bit — one block, exact blocks, a halved stretch, many blocks."""
    from threadpoolctl import threadpool_limits

    from zobench_plugins.algorithms._ppo_rm_compiled import bt_hessian, bt_structure

    X, _ = _pair_data(K)
    curvature = np.random.default_rng(K).random(K) * 0.25
    curvature[::7] = 0.0  # a saturated σ: W = 0 where X is not
    with threadpool_limits(limits=1, user_api="blas"):
        if not ppo_rm._compiled_hessian_matches_blas(X.shape[1]):
            pytest.skip("this BLAS sums its product in another order (the fit keeps it)")
        expected = (X.T * curvature) @ X
    hessian = np.empty_like(expected)
    bt_hessian(X, curvature, *bt_structure(X, ppo_rm.gemm_blocks(K)), hessian)
    assert np.array_equal(hessian, expected)
    assert np.array_equal(hessian / K + np.eye(100), expected / K + np.eye(100))
    assert np.array_equal(
        (hessian / K + 1e-3 * np.eye(100)).view(np.int64),
        (expected / K + 1e-3 * np.eye(100)).view(np.int64),
    )


@pytest.mark.skipif(not kernel.compiled_available(), reason="numba is not installed")
@pytest.mark.parametrize("label", ["majority", "votes"])
def test_compiled_fit_equals_the_numpy_fit_bit_for_bit(label, monkeypatch):
    """The BT fit of real pairs with the compiled Hessian (used: spied on) and with numpy's
    product: the same φ and loss bits, every Newton step (a cold and a warm start)."""
    from threadpoolctl import threadpool_limits

    from zobench_plugins.algorithms import _ppo_rm_compiled

    X, p_hat = _pair_data(6000, seed=3)
    y = _optim.labels_from_votes(p_hat, label, np.random.default_rng(1))
    calls = []
    original = _ppo_rm_compiled.bt_hessian
    monkeypatch.setattr(
        _ppo_rm_compiled, "bt_hessian", lambda *args: calls.append(1) or original(*args)
    )
    fits = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for name in ("numpy", "numba"):
            monkeypatch.setenv(kernel.KERNEL_VARIABLE, name)
            for steps in (1, 3, 38):
                phi, loss = ppo_rm.fit_bradley_terry(X, y, 1e-3, steps)
                warm = ppo_rm.fit_bradley_terry(X, y, 1e-3, 2, phi=phi)
                fits[name, steps] = (phi, loss, *warm)
    if not calls:
        pytest.skip("this BLAS sums its product in another order (the fit keeps it)")
    for steps in (1, 3, 38):
        numpy_fit, compiled_fit = fits["numpy", steps], fits["numba", steps]
        assert all(np.array_equal(a, b) for a, b in zip(numpy_fit, compiled_fit, strict=True))
        assert np.isfinite(numpy_fit[1])


def test_fit_keeps_the_blas_product_where_the_orders_differ(monkeypatch):
    """A BLAS whose sums the check does not reproduce (or too few pairs): numpy's product."""
    from zobench_plugins.algorithms import _ppo_rm_compiled

    def refuse(*args):
        raise AssertionError("the compiled Hessian ran")

    monkeypatch.setattr(_ppo_rm_compiled, "bt_hessian", refuse)
    monkeypatch.setattr(ppo_rm, "_compiled_hessian_matches_blas", lambda D: False)
    X, p_hat = _pair_data(2000, seed=5)
    y = (p_hat > 0.5).astype(float)
    phi, loss = ppo_rm.fit_bradley_terry(X, y, 1e-3, 3)
    assert np.isfinite(loss)
    assert np.abs(phi).max() > 0
    monkeypatch.undo()
    monkeypatch.setattr(_ppo_rm_compiled, "bt_hessian", refuse)
    small = ppo_rm.HESSIAN_MIN_PAIRS - 1
    ppo_rm.fit_bradley_terry(X[:small], y[:small], 1e-3, 3)


def test_the_hessian_check_rejects_another_order(monkeypatch):
    """The check compares with the BLAS product: blocks cut elsewhere fail it."""
    from threadpoolctl import threadpool_limits

    if not kernel.compiled_available():
        pytest.skip("numba is not installed")
    with threadpool_limits(limits=1, user_api="blas"):
        if not ppo_rm._compiled_hessian_matches_blas(100):
            pytest.skip("this BLAS sums its product in another order")
        monkeypatch.setattr(ppo_rm, "gemm_blocks", lambda K: ppo_rm.np.array([0, K]))
        assert not ppo_rm._compiled_hessian_matches_blas(100)


def test_a_refresh_refits_on_all_pairs_the_same_with_either_kernel(monkeypatch):
    """Refreshes grow X (the compiled fit rebuilds its row lists for each new X, nothing is kept
    between fits): φ, θ and the BT losses of a few refreshed iterations are the numpy kernel's
    bit for bit."""
    from threadpoolctl import threadpool_limits

    results = []
    with threadpool_limits(limits=1, user_api="blas"):
        for name in ("numpy", "numba"):
            monkeypatch.setenv(kernel.KERNEL_VARIABLE, name)
            config = ppo_rm.PPORMConfig(
                pairs=1500, evaluators=2, refresh_every=1, refresh_pairs=700, episodes=20
            )
            algorithm = ppo_rm.PPORM(config, _gridworld_problem(7))
            losses = [algorithm.step()["bt_loss"] for _ in range(3)]
            assert algorithm.X.shape[0] == 1500 + 2 * 700
            results.append((algorithm.phi, algorithm.theta, np.array(losses)))
    for numpy_value, compiled_value in zip(*results, strict=True):
        assert np.array_equal(numpy_value, compiled_value)
