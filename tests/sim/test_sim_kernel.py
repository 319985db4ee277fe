"""The compiled rollout kernel gives exactly the numpy path's episodes, bit for bit.

Every environment that offers a :class:`~zobench.api.StepTable` is rolled out twice from the
same generator state, once with ``ZOBENCH_KERNEL=numpy`` and once compiled, with random
policies (peaked ones too, so absorbing states and long stays are reached) and batch sizes on
both sides of the on-the-fly noise threshold; states, actions and rewards must be identical.
"""

from __future__ import annotations

import platform
import resource
import sys

import numpy as np
import pytest

import zobench
from zobench import api
from zobench.errors import ConfigError
from zobench.sim import kernel, policy
from zobench.sim.network import Network
from zobench.sim.rollout import Noise, paired_rollout, rollout, rollout_with_noise

pytestmark = pytest.mark.skipif(
    kernel._compiled_module() is None, reason="numba is not installed: only the numpy path exists"
)


class TabularAgents(api.Environment):
    """Three agents with random per-(state, action) outcome tables, some rows deterministic.

    Thresholds hold ``+inf`` padding (outcomes a uniform cannot reach), rewards are arbitrary
    floats, and the last state is absorbing with reward 0: the general shape of a table.
    """

    name = "tabular-agents"

    def __init__(self, seed: int = 0, outcomes: int = 4) -> None:
        super().__init__(None)
        rng = np.random.default_rng(seed)
        self.n_agents, self.n_states, self.n_actions = 3, 6, 3
        self.horizon, self.gamma = 9, 0.95
        S, A, K = self.n_states, self.n_actions, outcomes
        cdf = np.sort(rng.random((S, A, K - 1)), axis=-1)
        cdf[rng.random((S, A)) < 0.3, :] = np.inf  # deterministic rows: outcome 0 only
        next_states = rng.integers(0, S, size=(S, A, K))
        next_states[S - 1] = S - 1  # absorbing
        rewards = rng.normal(size=(S, A, K))
        rewards[S - 1] = 0.0
        self.table = api.StepTable(thresholds=cdf, next_states=next_states, rewards=rewards)

    def reset(self, noise: np.ndarray) -> np.ndarray:
        return (noise[..., 0] * self.n_states).astype(np.int64)

    def step(self, states, actions, noise):
        return self.table.step(states, actions, noise[..., 0])

    def step_table(self) -> api.StepTable:
        return self.table


def _environments() -> dict[str, api.Environment]:
    envs: dict[str, api.Environment] = {
        "gridworld": zobench.make("environment", "gridworld"),
        "gridworld-slippery": zobench.make("environment", "gridworld", slip=0.75, horizon=4),
        "gridworld-no-slip": zobench.make(
            "environment", "gridworld", slip=0.0, size=3, goal=(2, 2)
        ),
        "tabular-agents": TabularAgents(),
        "tabular-deterministic": TabularAgents(seed=1, outcomes=1),
    }
    try:
        import gymnasium  # noqa: F401
    except ImportError:
        return envs
    envs["frozenlake"] = zobench.make("environment", "gym:FrozenLake-v1")  # absorbing holes
    envs["cliffwalking"] = zobench.make("environment", "gym:CliffWalking-v1")  # "episode over"
    envs["taxi"] = zobench.make("environment", "gym:Taxi-v4", horizon=30)
    return envs


ENVIRONMENTS = _environments()


def _theta(env: api.Environment, scale: float, seed: int) -> np.ndarray:
    shape = (env.n_agents, env.n_states, env.n_actions)
    return scale * np.random.default_rng(seed).normal(size=shape)


def _both_paths(monkeypatch, run):
    """``run()`` with the numpy loop, then with the compiled one."""
    monkeypatch.setenv(kernel.KERNEL_VARIABLE, "numpy")
    expected = run()
    monkeypatch.setenv(kernel.KERNEL_VARIABLE, "numba")
    return expected, run()


def _assert_identical(expected, actual) -> None:
    for name in ("states", "actions", "rewards"):
        a, b = getattr(expected, name), getattr(actual, name)
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b, strict=True, err_msg=name)


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
@pytest.mark.parametrize("batch", [1, 50, 5000])  # 5000: noise drawn a chunk of steps at a time
@pytest.mark.parametrize("scale", [0.0, 1.0, 8.0])  # uniform, random, nearly deterministic
def test_compiled_rollouts_equal_numpy_rollouts(monkeypatch, name, batch, scale):
    env = ENVIRONMENTS[name]
    assert env.step_table() is not None
    theta = _theta(env, scale, seed=batch)
    expected, actual = _both_paths(
        monkeypatch, lambda: rollout(env, theta, batch=batch, rng=np.random.default_rng(7))
    )
    _assert_identical(expected, actual)


@pytest.mark.parametrize("name", ["gridworld", "tabular-agents", "cliffwalking"])
def test_common_noise_pairs_and_shorter_horizons_agree(monkeypatch, name):
    if name not in ENVIRONMENTS:
        pytest.skip("gymnasium is not installed")
    env = ENVIRONMENTS[name]
    theta0, theta1 = _theta(env, 2.0, 1), _theta(env, 2.0, 2)

    def run():
        rng = np.random.default_rng(3)
        pair = paired_rollout(env, theta0, theta1, batch=40, rng=rng, common_noise=True)
        short = rollout(env, theta1, batch=3000, rng=rng, horizon=2)
        return (*pair, short)

    for expected, actual in zip(*_both_paths(monkeypatch, run), strict=True):
        _assert_identical(expected, actual)


def test_explicit_noise_reaches_absorbing_states_identically(monkeypatch):
    """Uniforms just below, at and above every threshold: the comparisons agree exactly."""
    env = ENVIRONMENTS["tabular-agents"]
    thresholds = env.table.thresholds[np.isfinite(env.table.thresholds)]
    edges = np.concatenate([thresholds, np.nextafter(thresholds, 0.0), [0.0, 1 - 2**-53]])
    noise = Noise.for_env(env, np.random.default_rng(0), batch=len(edges))
    rng = np.random.default_rng(1)
    for field in (noise.actions, noise.step[..., 0]):
        field[...] = rng.choice(edges, size=field.shape)
    theta = _theta(env, 1.0, 4)
    expected, actual = _both_paths(monkeypatch, lambda: rollout_with_noise(env, theta, noise))
    _assert_identical(expected, actual)
    assert (expected.states[:, -1] == env.n_states - 1).any()  # some episodes got absorbed


def test_the_variable_selects_the_loop(monkeypatch, gridworld):
    theta = np.zeros((1, gridworld.n_states, gridworld.n_actions))
    monkeypatch.setenv(kernel.KERNEL_VARIABLE, "numpy")
    assert not kernel.compiled_available()
    monkeypatch.setenv(kernel.KERNEL_VARIABLE, " NUMBA ")
    assert kernel.compiled_available()
    monkeypatch.delenv(kernel.KERNEL_VARIABLE)
    assert kernel.compiled_available()
    assert kernel.loop(gridworld, theta).__qualname__.startswith("table_loop")
    monkeypatch.setenv(kernel.KERNEL_VARIABLE, "fortran")
    with pytest.raises(ConfigError, match="ZOBENCH_KERNEL='fortran' is not a kernel"):
        kernel.loop(gridworld, theta)


def test_environments_without_a_table_take_the_numpy_loop(coupled):
    assert coupled.step_table() is None
    theta = np.zeros((2, coupled.n_states, coupled.n_actions))
    assert kernel.loop(coupled, theta).__qualname__.startswith("step_loop")


def test_step_table_rejects_mismatched_shapes():
    next_states = np.zeros((2, 2, 3), dtype=np.int64)
    with pytest.raises(ValueError, match="thresholds"):
        api.StepTable(np.zeros(3), next_states, np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match="rewards"):
        api.StepTable(np.zeros(2), next_states, np.zeros((2, 2)))


def test_networked_tables_use_each_agents_own_policy(monkeypatch):
    """Per-agent policy rows: agent i's actions follow θ[i] (the row offset i·S)."""
    env = TabularAgents()
    env.connect(Network.empty(3))
    theta = np.zeros((3, env.n_states, env.n_actions))
    theta[1, :, 2] = 50.0  # agent 1 always takes action 2; the others are uniform
    traj = rollout(env, theta, batch=200, rng=np.random.default_rng(0))
    assert (traj.actions[..., 1] == 2).all()
    assert set(np.unique(traj.actions[..., 0])) == {0, 1, 2}


def _networked(name: str, topology: str, **params) -> api.Environment:
    env = zobench.make("environment", name, **params)
    network = zobench.make("topology", topology).build(env.n_agents, np.random.default_rng(0))
    env.connect(network)
    return env


NETWORKED = {
    "net-gridworld": lambda: _networked("net-gridworld", "chain"),
    "net-gridworld-any": lambda: _networked("net-gridworld", "chain", noise_rule="any"),
    "net-gridworld-safety": lambda: _networked(
        "net-gridworld", "ring", n_agents=9, collision_penalty=2.0, arrival_reward=10.0
    ),
    "net-gridworld-noiseless": lambda: _networked(
        "net-gridworld", "chain", sigma_max=0.0, sigma_min=0.0
    ),
    "net-gridworld-64": lambda: _networked("net-gridworld", "ring", n_agents=64, size=None),
    "predator-prey": lambda: _networked("predator-prey", "chain"),
    "predator-prey-crowded": lambda: _networked(
        "predator-prey", "ring", n_agents=30, size=None, n_prey=5, slip=0.2
    ),
    # as with too many prey for the compiled step's nearest-prey table: it loops over the prey
    "predator-prey-no-table": lambda: _without_nearest_table(
        _networked("predator-prey", "ring", n_agents=30, size=None, n_prey=5, slip=0.2)
    ),
}


def _without_nearest_table(env: api.Environment) -> api.Environment:
    env._nearest = env._nearest[:0]  # what nearest_prey_table returns for too many prey
    return env


@pytest.mark.parametrize("name", sorted(NETWORKED))
@pytest.mark.parametrize("batch", [3, 400])
def test_stepped_environments_agree_on_both_paths(monkeypatch, name, batch):
    """Environments without a table: compiled action sampling and their own compiled steps
    give the numpy path's episodes exactly, greedy reference policies included."""
    env = NETWORKED[name]()
    assert env.step_table() is None
    for theta in (_theta(env, 3.0, batch), env.reference_policy()):
        expected, actual = _both_paths(
            monkeypatch,
            lambda theta=theta: rollout(env, theta, batch=batch, rng=np.random.default_rng(9)),
        )
        _assert_identical(expected, actual)
    if name.startswith("net-gridworld"):
        assert (expected.states[:, -1] == env.goal).any()  # the absorbing goal was reached
    else:  # every prey caught in some episodes: the rewards stop (the task is done)
        assert (expected.rewards[:, -1] == 0.0).all(axis=-1).any()


@pytest.mark.parametrize("n_actions", [3, 5, 7])  # padded to 4 entries, unrolled, looped
@pytest.mark.parametrize("n_agents", [7, 11_000])  # 11,000 agents' rows (8.8 MB): agent-major
def test_compiled_sampler_draws_the_samplers_actions(n_agents, n_actions):
    from zobench.sim import _compiled, policy

    rng = np.random.default_rng(n_agents)
    theta = 3.0 * rng.normal(size=(n_agents, 25, n_actions))
    theta[0, :, -1] = np.inf  # the last action certain in agent 0's states: NaN rows
    rows = kernel.cdf_rows(theta)
    assert (rows.nbytes > _compiled.AGENT_MAJOR_BYTES) == (n_agents > 10_000)
    states = rng.integers(0, 25, size=(3, n_agents))
    uniforms = rng.random((3, n_agents))
    uniforms[0] = rows[np.arange(n_agents) * 25 + states[0], 1]  # exactly on a CDF entry
    actions = np.empty_like(states)
    _compiled.sample_actions(rows, 25, states, uniforms, actions)
    np.testing.assert_array_equal(actions, policy.Sampler(theta)(states, uniforms), strict=True)


def test_a_bad_kernel_name_is_one_error_before_any_run(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from zobench.cli import cli

    monkeypatch.setenv(kernel.KERNEL_VARIABLE, "fortran")
    out = tmp_path / "store"
    result = CliRunner().invoke(
        cli, ["run", "quickstart", "--executor", "serial", "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "Error: ZOBENCH_KERNEL='fortran' is not a kernel" in result.output
    assert "Traceback" not in result.output
    assert not list(out.glob("runs/*"))  # nothing ran


def test_net_gridworld_steps_straight_into_the_rollout_buffers():
    """net-gridworld offers its compiled step to the time loop (checked equal to the numpy
    path above)."""
    step, parameters = kernel.compiled_step_of(NETWORKED["net-gridworld-safety"]())
    assert callable(step)
    assert parameters


@pytest.mark.skipif(not kernel.compiled_available(), reason="needs numba")
@pytest.mark.parametrize(
    "name", ["predator-prey", "predator-prey-crowded", "predator-prey-no-table"]
)
def test_predator_prey_steps_straight_into_the_rollout_buffers(monkeypatch, name):
    """predator-prey, whose step keeps the remaining prey between calls, offers a step that
    reads the mask reset made: its episodes are those of env.step called per step, and it
    refuses a batch that was not reset."""
    env = NETWORKED[name]()
    step, parameters = kernel.compiled_step_of(env)
    assert callable(step)
    assert parameters == ()
    theta = _theta(env, 3.0, 300)
    direct = rollout(env, theta, batch=300, rng=np.random.default_rng(4))
    monkeypatch.setattr(env, "compiled_step", None, raising=False)
    assert kernel.compiled_step_of(env) is None
    stepped = rollout(env, theta, batch=300, rng=np.random.default_rng(4))
    _assert_identical(stepped, direct)
    assert (stepped.rewards[:, -1] == 0.0).all(axis=-1).any()  # every prey caught somewhere
    states, uniforms = np.zeros((2, env.n_agents), dtype=np.int64), np.zeros((2, env.n_agents))
    with pytest.raises(RuntimeError, match="call reset"):
        step(states, states, uniforms, states.copy(), uniforms.copy())


@pytest.mark.parametrize("rule", ["count", "any"])
@pytest.mark.parametrize("penalty", [0.0, 2.0])
@pytest.mark.parametrize("on_goal", [0.0, 0.3, 0.95])
def test_net_gridworld_compiled_step_counts_neighbours_on_the_goal_as_numpy(rule, penalty, on_goal):
    """The compiled step counts an agent's neighbours on the goal only where its uniform can
    let the noise move it; on uneven graphs (a hub, isolated agents), crowded goals and
    uniforms around 1 − σ_max it must give :meth:`numpy_step`'s states and rewards bit for bit."""
    n = 40
    rng = np.random.default_rng(int(10 * on_goal) + len(rule))
    edges = np.concatenate(
        [
            np.stack([np.zeros(12, int), np.arange(1, 13)], axis=1),  # a hub
            rng.integers(13, n - 3, size=(30, 2)),
        ]
    )  # the last 3 isolated
    network = Network.from_edges(n, edges)
    env = zobench.make(
        "environment", "net-gridworld", n_agents=n, noise_rule=rule, collision_penalty=penalty
    )
    env.connect(network)
    states = rng.integers(0, env.n_states, size=(50, n))
    states[rng.random(states.shape) < on_goal] = env.goal
    actions = rng.integers(0, env.n_actions, size=states.shape)
    noise = rng.random((*states.shape, 1))
    calm = 1.0 - env.config.sigma_max
    near = rng.random(states.shape) < 0.5  # half the uniforms within 1e-3 of 1 − σ_max, or on it
    noise[near, 0] = calm + rng.uniform(-1e-3, 1e-3, size=near.sum())
    noise[near & (rng.random(states.shape) < 0.2), 0] = calm
    noise[0, :5, 0] = np.nextafter(calm, 0.0), calm, np.nextafter(calm, 1.0), 0.0, 1.0 - 1e-16
    step, parameters = env.compiled_step()
    expected = env.numpy_step(states, actions, noise)
    actual = kernel.call_step(step, parameters, states, actions, noise)
    np.testing.assert_array_equal(actual[0], expected[0])
    np.testing.assert_array_equal(actual[1], expected[1])


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt is glibc's",
)
def test_warm_up_keeps_freed_blocks_for_the_next_allocation():
    """After warm-up a freed 64 MB block is reused: writing a new one faults no fresh pages."""
    kernel.warm_up()
    assert kernel.keep_freed_memory()
    size = 8 << 20  # float64 entries: 64 MB, above glibc's default (dynamic) mmap limit of 32 MB
    block = np.empty(size)
    block[:] = 1.0
    del block
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    again = np.empty(size)
    again[:] = 2.0
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    # unmapped and mapped afresh, the 16,384 pages (or 32 huge pages) would fault again
    assert faults < 16, f"{faults} page faults writing a reused block"


def test_cdf_rows_are_the_cumulative_probabilities_bit_for_bit():
    rng = np.random.default_rng(3)
    for shape in [(1, 25, 4), (300, 25, 5), (2, 3, 2), (4, 6, 9), (2, 5, 1)]:
        theta = 4.0 * rng.normal(size=shape)
        n, S, A = shape
        expected = np.cumsum(policy.probabilities(theta), axis=-1)[..., :-1].reshape(n * S, A - 1)
        rows = policy.cdf_rows(theta)
        assert rows.flags.c_contiguous
        np.testing.assert_array_equal(rows, expected)


@pytest.mark.parametrize(
    "shape", [(1, 25, 4), (300, 25, 5), (7, 3, 2), (2, 5, 1), (3, 4, 7), (3, 4, 9)]
)
@pytest.mark.parametrize("scale", [0.1, 5.0, 800.0])
def test_the_kernels_cdf_rows_are_the_policys_bit_for_bit(shape, scale):
    """Compiled where numpy sums rows left to right (A < 8), numpy's own beyond; rows of 2–4
    actions padded with +inf to the sampler's unrolled width (4 entries)."""
    theta = scale * np.random.default_rng(4).normal(size=shape)
    rows = kernel.cdf_rows(theta)
    assert rows.flags.c_contiguous
    A = shape[-1]
    np.testing.assert_array_equal(rows[:, : A - 1], policy.cdf_rows(theta))
    assert rows.shape[1] == max(A - 1, 4)
    assert (rows[:, A - 1 :] == np.inf).all()
