"""The runner: the learning-curve frame, determinism, references, honesty and divergence checks."""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping

import numpy as np
import polars as pl
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import zobench
from zobench import api
from zobench.bench import runner
from zobench.bench.runner import COLUMNS, REFERENCE_COLUMNS, RunFailed, evaluation_seed, run
from zobench.bench.spec import RunSpec
from zobench.errors import RewardAccessError, UnknownComponentError
from zobench.plugins import PluginHost, PluginLoadWarning
from zobench.sim import evaluate
from zobench_plugins.environments.gridworld import GridWorld


class RewardPeeker(api.Algorithm):
    """A preference-only algorithm that tries to read rewards (must be refused)."""

    name = "reward-peeker"

    def step(self) -> Mapping[str, float]:
        traj = self.problem.rollout(self.theta, 2)
        self.problem.rewards(traj)
        return {}


class Diverger(api.Algorithm):
    """θ becomes NaN at the third iteration."""

    name = "diverger"

    def step(self) -> Mapping[str, float]:
        if self.problem.ledger.iterations == 2:
            self.theta = self.theta * np.nan
        return {"calls": float(self.problem.ledger.iterations)}


class Ponderer(api.Algorithm):
    """Spends 20 ms per iteration on its own work and little on one small rollout."""

    name = "ponderer"

    def step(self) -> Mapping[str, float]:
        self.problem.rollout(self.theta, 1)
        time.sleep(0.02)
        return {}


class Roller(api.Algorithm):
    """Spends its iterations in the world: large rollouts, no update."""

    name = "roller"

    def step(self) -> Mapping[str, float]:
        self.problem.rollout(self.theta, 4096)
        return {}


class ThreadCounter(api.Algorithm):
    """Reports the BLAS threads it may use while it steps."""

    name = "thread-counter"

    def step(self) -> Mapping[str, float]:
        blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
        return {"blas_threads": float(max(blas, default=1))}


class ModelFreeGrid(GridWorld):
    """The GridWorld without tables: evaluated by Monte Carlo, no optimum known."""

    name = "model-free-grid"

    def tables(self) -> None:
        return None


class InfiniteRewardGrid(ModelFreeGrid):
    """Every step pays +∞: θ stays finite, the Monte Carlo score does not."""

    name = "infinite-reward-grid"

    def step_table(self) -> None:
        return None  # rollouts go through :meth:`step`

    def step(
        self, states: np.ndarray, actions: np.ndarray, noise: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        next_states, rewards = super().step(states, actions, noise)
        return next_states, rewards + np.inf


class TestPlugins:
    """Test-only components, registered through the real host."""

    @zobench.hookimpl
    def zobench_register_algorithms(self, register):
        register(RewardPeeker)
        register(Diverger)
        register(Ponderer)
        register(Roller)
        register(ThreadCounter)

    @zobench.hookimpl
    def zobench_register_environments(self, register):
        register(ModelFreeGrid)
        register(InfiniteRewardGrid)


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> PluginHost:
    """The installed plugins plus the test components, as the runner's host."""
    with warnings.catch_warnings():  # other plugins' load problems are not this test's concern
        warnings.simplefilter("ignore", PluginLoadWarning)
        plugin_host = PluginHost(extra_plugins={"runner-test": TestPlugins()})
    monkeypatch.setattr(runner, "get_host", lambda: plugin_host)
    return plugin_host


def spec(**kwargs) -> RunSpec:
    return RunSpec.create(**{"iterations": 12, "eval_every": 5, **kwargs})


def test_columns_dtypes_and_evaluation_rows():
    frame = run(spec(algorithm="zpg", algorithm_params={"pairs": 4, "evaluators": 3}))
    assert list(frame.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert dict(frame.schema) == {
        **COLUMNS,
        **REFERENCE_COLUMNS,
        "diag_mean_delta": pl.Float64,
        "diag_grad_norm": pl.Float64,
    }
    # the gridworld has tables: its optimum is exact dynamic programming, the same in every row
    assert frame["ref_optimal_exact"].to_list() == [True] * 4
    assert frame["ref_optimal"].n_unique() == 1
    assert frame["ref_uniform"].n_unique() == 1
    assert frame["iteration"].to_list() == [0, 5, 10, 12]  # 0, every eval_every, and the end
    assert frame["diag_grad_norm"][0] is None  # no step before iteration 0
    assert frame["episodes"].to_list() == [0, 40, 80, 96]  # 2N episodes per iteration
    assert frame["queries"].to_list() == [0, 60, 120, 144]  # N·M votes per iteration
    assert frame["reward_obs"].to_list() == [0, 0, 0, 0]
    assert frame["wall_s"].is_sorted()
    assert frame["wall_s"][0] >= 0


def test_same_spec_same_numbers():
    one = run(spec(algorithm="zpg", seed=3))
    two = run(spec(algorithm="zpg", seed=3))
    assert one.drop("wall_s", "update_s", strict=False).equals(
        two.drop("wall_s", "update_s", strict=False)
    )
    other_seed = run(spec(algorithm="zpg", seed=4))
    assert not one.drop("wall_s", "update_s", strict=False).equals(
        other_seed.drop("wall_s", "update_s", strict=False)
    )


def test_iteration_zero_is_the_uniform_policy():
    env = zobench.make("environment", "gridworld")
    uniform = evaluate.exact_value(env.tables(), np.zeros((1, 25, 4)), env.horizon, env.gamma)
    for algorithm in ("zpg", "zspo", "oracle-pg"):
        frame = run(spec(algorithm=algorithm, iterations=1))
        assert frame["score"][0] == pytest.approx(uniform, abs=1e-12)
        assert frame["score_normalized"][0] == pytest.approx(0.0, abs=1e-12)


def test_uniform_stays_at_zero_and_oracle_climbs_to_one():
    floor = run(spec(algorithm="uniform", iterations=30, eval_every=10))
    np.testing.assert_allclose(floor["score_normalized"].to_numpy(), 0.0, atol=1e-12)
    assert floor["episodes"].sum() == 0
    ceiling = run(spec(algorithm="oracle-pg", iterations=60, eval_every=20))
    normalized = ceiling["score_normalized"].to_list()
    assert normalized[-1] >= 0.95
    assert normalized == sorted(normalized)  # exact gradient ascent with a small enough step


def test_monte_carlo_evaluation_uses_the_seed_only(host):
    seed = 5
    frames = {
        a: run(spec(algorithm=a, environment="model-free-grid", seed=seed, eval_episodes=300))
        for a in ("uniform", "zpg")
    }
    env = zobench.make("environment", "gridworld")
    expected, _ = evaluate.monte_carlo_value(
        env, np.zeros((1, 25, 4)), episodes=300, seed=evaluation_seed(seed)
    )
    for frame in frames.values():
        assert frame["score"][0] == pytest.approx(expected, abs=1e-12)  # same episodes for all
        assert frame["score_normalized"].null_count() == frame.height  # no optimum known
    assert frames["uniform"]["score"].n_unique() == 1


def test_update_time_counts_the_algorithms_own_work_not_the_world(host):
    pondering = run(spec(algorithm="ponderer", iterations=10, eval_every=10))
    rolling = run(spec(algorithm="roller", iterations=10, eval_every=10))
    for frame in (pondering, rolling):
        update, wall = frame.get_column("update_s"), frame.get_column("wall_s")
        assert update[0] == 0.0
        assert (update.diff().drop_nulls() >= 0).all()
        assert (update <= wall).all()
    # 10 × 20 ms of sleep are the ponderer's own; the roller's time is the world's
    assert pondering.get_column("update_s")[-1] >= 0.2
    assert rolling.get_column("update_s")[-1] < 0.25 * rolling.get_column("wall_s")[-1]


def test_every_run_steps_with_one_blas_thread_and_restores_the_callers(host):
    with threadpool_limits(limits=2, user_api="blas"):
        before = threadpool_info()
        assert any(pool["user_api"] == "blas" for pool in before), "numpy's BLAS not found"
        frame = run(spec(algorithm="thread-counter", iterations=3, eval_every=1))
        after = threadpool_info()
    assert frame.get_column("diag_blas_threads").drop_nulls().to_list() == [1.0, 1.0, 1.0]
    assert after == before


def test_preference_only_algorithm_is_refused_rewards(host):
    with pytest.raises(RewardAccessError, match=r"reward-peeker.*channel 'rewards'"):
        run(spec(algorithm="reward-peeker"))


def test_nan_parameters_fail_the_run(host):
    with pytest.raises(RunFailed, match="iteration 3"):
        run(spec(algorithm="diverger", eval_every=100))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_a_non_finite_score_fails_the_run(host):
    # the runner's check is the only one: the scheduler records its RunFailed as the run's error
    with pytest.raises(RunFailed, match="score became NaN or infinite at iteration 0"):
        run(spec(algorithm="uniform", environment="infinite-reward-grid", eval_episodes=10))


def test_progress_is_reported():
    calls = []
    run(
        spec(algorithm="uniform", iterations=25), progress=lambda i, total: calls.append((i, total))
    )
    assert calls == [(10, 25), (20, 25), (25, 25)]


def test_unknown_components_and_bad_settings_are_clear_errors():
    with pytest.raises(UnknownComponentError, match="zpgg"):
        run(spec(algorithm="zpgg"))
    with pytest.raises(zobench.errors.ConfigError, match=r"algorithm\.mu"):
        run(spec(algorithm="zpg", algorithm_params={"mu": "big"}))
    with pytest.raises(zobench.errors.ConfigError, match="eval_every"):
        run(spec(algorithm="uniform", eval_every=0))


def test_explicit_topology_is_used():
    frame = run(spec(algorithm="uniform", topology="isolated", iterations=1))
    assert frame.height == 2
