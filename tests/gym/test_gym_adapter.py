"""The Gymnasium adapter (``gym:<EnvId>``): exact tables, sampling, semantics, settings, errors.

Statistical tests use fixed seeds and a tolerance of 4 standard errors (a two-sided 99.99 %
interval): with the seeds fixed they are deterministic, and a correct adapter would fail one of
them with probability below 1e-4 under a fresh seed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from click.testing import CliRunner  # noqa: E402
from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv  # noqa: E402

import zobench  # noqa: E402
from zobench.cli import cli  # noqa: E402
from zobench.config import validate  # noqa: E402
from zobench.errors import ConfigError, UnknownComponentError, ZobenchError  # noqa: E402
from zobench.plugins import get_host  # noqa: E402
from zobench.sim import evaluate  # noqa: E402
from zobench.testing import check_component  # noqa: E402
from zobench_plugins.environments import gym_adapter  # noqa: E402

Z = 4.0
"""Allowed distance between an exact value and a Monte Carlo estimate, in standard errors."""

CASES = {
    "frozenlake-4x4": ("gym:FrozenLake-v1", {}),
    "frozenlake-8x8": ("gym:FrozenLake-v1", {"map_name": "8x8"}),
    "cliffwalking": ("gym:CliffWalking-v1", {}),
}


class OpaqueLake(FrozenLakeEnv):
    """FrozenLake hiding its table ``P``: only the adapter's Gymnasium fallback can run it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._hidden = self.__dict__.pop("P")

    def step(self, a):
        """FrozenLake's own step, with the table lent back for the call."""
        self.P = self._hidden
        try:
            return super().step(a)
        finally:
            del self.P


class UnknownStartLake(FrozenLakeEnv):
    """FrozenLake without ``initial_state_distrib``: the adapter must estimate ρ from resets."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._rho = self.__dict__.pop("initial_state_distrib")

    def reset(self, *, seed=None, options=None):
        """FrozenLake's reset, with the distribution lent back for the call."""
        self.initial_state_distrib = self._rho
        try:
            return super().reset(seed=seed, options=options)
        finally:
            del self.initial_state_distrib


for _id, _cls in (
    ("zobench-test/OpaqueLake-v0", OpaqueLake),
    ("zobench-test/StartLake-v0", UnknownStartLake),
):
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_cls, max_episode_steps=100)


def _theta(env, seed: int = 7) -> np.ndarray:
    """A fixed, non-uniform softmax policy (so that the test does not only see θ = 0)."""
    return np.random.default_rng(seed).normal(0.0, 1.0, (1, env.n_states, env.n_actions))


# ---------------------------------------------------------------------------------------------
# Exact evaluation, the sampler and Gymnasium agree
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_exact_value_agrees_with_monte_carlo_through_the_sampler(case):
    name, params = CASES[case]
    env = zobench.make("environment", name, **params)
    tables = env.tables()
    for theta in (np.zeros((1, env.n_states, env.n_actions)), _theta(env)):
        exact = evaluate.exact_value(tables, theta, env.horizon, env.gamma)
        mean, se = evaluate.monte_carlo_value(env, theta, episodes=20_000, seed=11)
        assert abs(mean - exact) <= Z * se + 1e-12, (case, exact, mean, se)


def _gymnasium_returns(env_id, params, theta, horizon, episodes, seed):
    """Episode returns of the softmax policy θ run through Gymnasium itself (no adapter code)."""
    rng = np.random.default_rng(seed)
    probs = np.exp(theta[0] - theta[0].max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    genv = gym.make(env_id, max_episode_steps=horizon, **params)
    returns = np.zeros(episodes)
    for e in range(episodes):
        s, _ = genv.reset(seed=int(rng.integers(2**31)))
        for _ in range(horizon):
            s, r, terminated, truncated, _ = genv.step(int(rng.choice(len(probs[s]), p=probs[s])))
            returns[e] += r
            if terminated or truncated:
                break
    return returns


@pytest.mark.parametrize(
    ("env_id", "params", "episodes"),
    [("FrozenLake-v1", {}, 3000), ("CliffWalking-v1", {}, 600)],
)
def test_exact_value_agrees_with_episodes_run_by_gymnasium(env_id, params, episodes):
    # the adapter's tables against Gymnasium's own step(), reset() and termination
    env = zobench.make("environment", f"gym:{env_id}", **params)
    theta = _theta(env)
    exact = evaluate.exact_value(env.tables(), theta, env.horizon, env.gamma)
    returns = _gymnasium_returns(env_id, params, theta, env.horizon, episodes, seed=5)
    se = returns.std(ddof=1) / np.sqrt(episodes)
    assert abs(returns.mean() - exact) <= Z * se, (exact, returns.mean(), se)


@pytest.mark.parametrize("case", [*CASES, "taxi"])
def test_tables_are_distributions(case):
    name, params = CASES.get(case, ("gym:Taxi-v4", {}))
    env = zobench.make("environment", name, **params)
    t = env.tables()
    S, A = env.n_states, env.n_actions
    assert t.transitions.shape == (S, A, S)
    np.testing.assert_allclose(t.transitions.sum(axis=-1), 1.0, atol=1e-12)
    assert (t.transitions >= 0).all()
    assert t.initial.shape == (S,)
    assert t.initial.sum() == pytest.approx(1.0)


def test_frozenlake_maps_terminal_states_onto_its_own_absorbing_cells():
    env = zobench.make("environment", "gym:FrozenLake-v1", is_slippery=False)
    t = env.tables()
    assert env.n_states == 16  # holes and goal already absorb with reward 0: no extra state
    assert env.reward_span == 1.0
    assert env.horizon == 100  # FrozenLake-v1's TimeLimit
    assert t.initial[0] == 1.0
    # from 14, right reaches the goal 15: reward 1 once, then nothing more
    assert t.rewards[14, 2] == 1.0
    assert t.transitions[14, 2, 15] == 1.0
    assert (t.transitions[15, :, 15] == 1.0).all()
    assert (t.rewards[15] == 0).all()
    assert evaluate.optimal_value(t, env.horizon, env.gamma) == pytest.approx(1.0)


def test_cliffwalking_adds_an_episode_over_state():
    env = zobench.make("environment", "gym:CliffWalking-v1")
    done = env.n_states - 1
    assert (env.n_states, done) == (49, 48)
    assert env.horizon == gym_adapter.DEFAULT_HORIZON  # no TimeLimit registered
    assert env.reward_span == 100.0  # −100 at the cliff up to 0 once the episode is over
    u = np.zeros((3, 1, 1))
    states, actions = np.array([[36], [35], [done]]), np.array([[1], [2], [0]])
    next_states, rewards = env.step(states, actions, u)
    # the cliff costs −100 and sends back to the start without ending the episode; reaching the
    # goal pays its −1 and ends it; the over state pays 0 forever
    assert next_states[:, 0].tolist() == [36, done, done]
    assert rewards[:, 0].tolist() == [-100.0, -1.0, 0.0]
    assert evaluate.optimal_value(env.tables(), env.horizon, env.gamma) == -13.0


def test_sampling_follows_the_uniform_noise_by_inverse_cdf():
    env = zobench.make("environment", "gym:FrozenLake-v1")  # slippery: 3 outcomes of 1/3
    states, actions = np.full((3, 1), 5 - 1), np.full((3, 1), 2)  # state 4, action right
    outcomes = [s2 for _, s2, _, _ in FrozenLakeEnv().P[4][2]]
    u = np.array([0.1, 0.5, 0.9]).reshape(3, 1, 1)
    next_states, _ = env.step(states, actions, u)
    assert next_states[:, 0].tolist() == outcomes  # listed order, thirds of [0, 1)


# ---------------------------------------------------------------------------------------------
# Settings, horizon and the conformance kit
# ---------------------------------------------------------------------------------------------


def test_suite_tables_validate_against_the_resolved_config():
    cls = get_host().get("environment", "gym:FrozenLake-v1").obj
    config = validate(cls.Config, {"map_name": "8x8", "is_slippery": True}, path="environment")
    assert (config.map_name, config.is_slippery, config.horizon) == ("8x8", True, 100)
    with pytest.raises(ConfigError, match=r"environment\.is_slipery: unknown setting.*is_slippery"):
        validate(cls.Config, {"is_slipery": True}, path="environment")
    with pytest.raises(ConfigError, match=r"environment\.is_slippery"):
        validate(cls.Config, {"is_slippery": "yes"}, path="environment")
    with pytest.raises(ConfigError, match="horizon must be at least 1"):
        validate(cls.Config, {"horizon": 0}, path="environment")
    assert zobench.make("environment", "gym:FrozenLake-v1", map_name="8x8").n_states == 64
    assert zobench.make("environment", "gym:FrozenLake8x8-v1").horizon == 200


def test_gymnasium_refusing_a_setting_is_one_config_error():
    with pytest.raises(ConfigError, match=r"gymnasium\.make refused"):
        zobench.make("environment", "gym:FrozenLake-v1", map_name="5x5")


@pytest.mark.parametrize(
    "name", ["gym", "gym:FrozenLake-v1", "gym:CliffWalking-v1", "gym:Blackjack-v1"]
)
def test_conformance(name):
    check_component(get_host().get("environment", name).obj)


def test_unknown_ids_and_unsupported_spaces_are_clear_errors():
    with pytest.raises(UnknownComponentError, match="did you mean 'FrozenLake-v1'"):
        get_host().get("environment", "gym:FrozenLak-v1")
    with pytest.raises(ZobenchError, match="needs Discrete"):
        get_host().get("environment", "gym:CartPole-v1")


# ---------------------------------------------------------------------------------------------
# Without a table: estimated ρ, and Gymnasium's vectorized environment
# ---------------------------------------------------------------------------------------------


def test_initial_distribution_is_estimated_from_seeded_resets_when_unknown():
    with pytest.warns(UserWarning, match="estimated from 10000 seeded resets"):
        env = zobench.make("environment", "gym:zobench-test/StartLake-v0")
    np.testing.assert_array_equal(env.tables().initial, np.eye(16)[0])


@pytest.mark.slow
def test_fallback_through_sync_vector_env_agrees_with_the_exact_value():
    opaque = zobench.make("environment", "gym:zobench-test/OpaqueLake-v0")
    exact_env = zobench.make("environment", "gym:FrozenLake-v1")
    assert opaque.tables() is None
    assert opaque.n_states == 17
    theta = np.zeros((1, 17, 4))
    theta[0, :16] = _theta(exact_env)[0]
    exact = evaluate.exact_value(exact_env.tables(), theta[:, :16], 100, 1.0)
    mean, se = evaluate.monte_carlo_value(opaque, theta, episodes=2000, seed=3)
    assert abs(mean - exact) <= Z * se, (exact, mean, se)


@pytest.mark.slow
def test_taxi_with_a_fickle_passenger_is_not_trusted_to_its_table():
    # the fickle passenger changes destination outside P, so the table would be wrong
    assert zobench.make("environment", "gym:Taxi-v4").tables() is not None
    fickle = zobench.make("environment", "gym:Taxi-v4", fickle_passenger=True)
    assert fickle.tables() is None
    assert fickle.n_states == 501  # 500 observations + "episode over"


def test_fallback_refuses_a_batch_it_did_not_reset():
    env = zobench.make("environment", "gym:zobench-test/OpaqueLake-v0")
    states = env.reset(np.random.default_rng(0).random((4, 1, 1)))
    with pytest.raises(RuntimeError, match="one batch at a time"):
        env.step(states[:2], np.zeros((2, 1), dtype=np.int64), np.zeros((2, 1, 1)))


# ---------------------------------------------------------------------------------------------
# Without gymnasium
# ---------------------------------------------------------------------------------------------


def test_missing_gymnasium_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # `import gymnasium` now fails
    gym_adapter.resolve_env.cache_clear()
    try:
        with pytest.raises(ZobenchError, match=r'pip install "zobench\[gym\]"') as info:
            gym_adapter.GymEnvironment.resolve("FrozenLake-v1")
        assert "\n" not in str(info.value)
        with pytest.raises(ZobenchError, match=r'pip install -e "\.\[gym\]"'):
            gym_adapter.GymEnvironment()
    finally:
        gym_adapter.resolve_env.cache_clear()


def test_missing_gymnasium_on_the_command_line(tmp_path: Path):
    fake = tmp_path / "gymnasium"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError(\"No module named 'gymnasium'\")\n")
    environ = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-m", "zobench", "info", "gym:FrozenLake-v1", "--kind", "environment"],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error:")
    assert "zobench[gym]" in lines[0]


# ---------------------------------------------------------------------------------------------
# An algorithm learns through the adapter
# ---------------------------------------------------------------------------------------------

ZPG_FROZENLAKE = {
    "return_bound": 1.0,
    "mu": 2.0,
    "step_size": 0.5,
    "common_noise": True,
    "pairs": 200,
    "evaluators": 20,
}
"""ZPG settings for FrozenLake, tuned here (zpg's defaults barely move in this budget): a
FrozenLake return is 0 or 1, so B = 1 rather than the derived H × span = 100, whose trimming
maps unanimous votes to ±100; with B = 1, μ = 2 and α = 0.5 learn in a few hundred iterations."""

ZPG_ITERATIONS = 400
"""Budget: 400 iterations × 200 pairs = 160 000 episodes and 1.6 M preference queries (≈ 2 s)."""


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_zpg_solves_deterministic_frozenlake(seed):
    frame = zobench.run_one(
        algorithm="zpg",
        algorithm_params=ZPG_FROZENLAKE,
        environment="gym:FrozenLake-v1",
        environment_params={"is_slippery": False},
        seed=seed,
        iterations=ZPG_ITERATIONS,
        eval_every=100,
    )
    first, last = frame.row(0, named=True), frame.row(-1, named=True)
    assert first["score_normalized"] == 0.0
    assert last["score_normalized"] >= 0.8, frame
    assert last["reward_obs"] == 0  # preference-only, through the adapter too
    assert last["episodes"] == ZPG_ITERATIONS * 2 * 200


def test_no_warning_for_environments_with_a_known_start():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zobench.make("environment", "gym:Taxi-v4")


def test_a_table_less_environment_estimates_its_reward_span_or_takes_the_users():
    """Blackjack pays -1, 0 or +1 and has no table: the seeded probe must see the whole range."""
    estimated = zobench.make("environment", "gym:Blackjack-v1")
    assert estimated.tables() is None
    assert estimated.reward_span == 2.0
    declared = zobench.make("environment", "gym:Blackjack-v1", reward_span=2.5)
    assert declared.reward_span == 2.5
    assert declared.reward_span_source == "setting"
    assert estimated.reward_span_source == "probe: 256 episodes"
    # the probe belongs to building the environment: recorded with the run, charged to no one
    frame = zobench.run_one(
        algorithm="zpg",
        algorithm_params={"pairs": 2, "evaluators": 1},
        environment="gym:Blackjack-v1",
        iterations=1,
        eval_episodes=8,
    )
    assert frame["reward_span"].unique().to_list() == [2.0]
    assert frame["reward_span_source"].unique().to_list() == ["probe: 256 episodes"]
    assert frame["episodes"].to_list() == [0, 2 * 2]


def test_the_gymnasium_version_is_part_of_the_run_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Gymnasium upgrade may change dynamics, so stored runs must not be silently reused."""
    from zobench.bench.scheduler import plan
    from zobench.bench.spec import RunSpec
    from zobench_plugins.environments.gym_adapter import GymEnvironment

    spec = RunSpec.create(algorithm="uniform", environment="gym:FrozenLake-v1")
    installed = plan([spec])[0].run_id
    assert plan([spec])[0].run_id == installed  # stable for one installation
    monkeypatch.setattr(
        GymEnvironment, "dependency_versions", classmethod(lambda cls: {"gymnasium": "0.0.1"})
    )
    assert plan([spec])[0].run_id != installed


@pytest.mark.parametrize("name", ["gym", "gym:FrozenLake-v1"])
def test_info_gym_reads_as_plain_text_and_labels_the_library_defaults(name: str) -> None:
    result = CliRunner(env={"COLUMNS": "80"}).invoke(cli, ["info", name, "--kind", "environment"])
    assert result.exit_code == 0, result.output
    text = result.output
    for markup in ("``", ":class:", ":data:", ":func:", "(see module)", "(see zobench"):
        assert markup not in text, f"{markup!r} in `zobench info {name}`"
    data = CliRunner().invoke(cli, ["info", name, "--kind", "environment", "--json"]).output
    sources = {s["name"]: s["default_from"] for s in json.loads(data)["settings"]}
    if name == "gym":
        assert set(sources.values()) == {"ours"}
    else:  # Gymnasium's constructor arguments and registered time limit are its own defaults
        assert sources["map_name"] == sources["is_slippery"] == sources["horizon"] == "library"
        assert sources["gamma"] == "ours"
        assert "(default: wrapped library)" in text
