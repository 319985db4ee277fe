"""The Problem handed to algorithms, its seeding, and the GridWorld environment itself."""

from __future__ import annotations

import numpy as np
import pytest

import zobench
from zobench.errors import ChannelError, ConfigError, LedgerError, RewardAccessError
from zobench.sim.ledger import COUNTERS, Ledger
from zobench.sim.network import Network
from zobench.sim.problem import build_problem, build_simulation
from zobench.sim.rollout import rollout
from zobench_plugins.environments.gridworld import GridWorld, GridWorldConfig
from zobench_plugins.preferences.links import BradleyTerry
from zobench_plugins.topologies.isolated import Isolated


def test_rewards_are_refused_to_preference_only_problems(gridworld):
    problem = build_problem(gridworld, BradleyTerry(), seed=0)
    traj = problem.rollout(problem.initial_theta(), 4)
    with pytest.raises(RewardAccessError):
        problem.rewards(traj)
    assert problem.ledger.reward_obs == 0


def test_rewards_are_given_and_charged_when_declared(gridworld):
    problem = build_problem(gridworld, BradleyTerry(), seed=0, uses_rewards=True)
    traj = problem.rollout(problem.initial_theta(), 4)
    expected = rollout(gridworld, problem.initial_theta(), batch=4, rng=_episode_rng(0)).rewards
    rewards = problem.rewards(traj)
    np.testing.assert_array_equal(rewards, expected)
    assert problem.ledger.reward_obs == 4 * 15
    assert not rewards.flags.writeable  # the panel's copy cannot be edited through it
    returns = problem.returns(traj, horizon=5)
    np.testing.assert_allclose(returns, expected[:, :5].sum(axis=(1, 2)))
    assert problem.ledger.reward_obs == 4 * 15 + 4 * 5


def _episode_rng(seed: int) -> np.random.Generator:
    """The episodes' stream of a problem built with ``seed`` (the second of three)."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[1])


def test_problem_shapes_and_ledger(gridworld):
    problem = build_problem(gridworld, BradleyTerry(), seed=0)
    assert problem.theta_shape == (1, 25, 4)
    assert problem.dimension == 100
    assert problem.n_agents == 1
    theta = problem.initial_theta()
    a, b = problem.rollout_pair(theta, theta, 8, common_noise=True)
    np.testing.assert_array_equal(a.states, b.states)
    problem.panel.compare(a, b, 3)
    snap = problem.ledger.snapshot()
    assert snap["episodes"] == 16
    assert snap["env_steps"] == 16 * 15
    assert snap["queries"] == 8 * 3
    assert problem.log_prob(theta, a).shape == (8, 15, 1)
    np.testing.assert_allclose(problem.log_prob(theta, a), np.log(0.25))


def test_same_seed_same_first_episodes_whatever_the_algorithm_drew(gridworld):
    first = build_problem(gridworld, BradleyTerry(), seed=7)
    second = build_problem(GridWorld(), BradleyTerry(), seed=7)
    second.rng.normal(size=100)  # e.g. a perturbation drawn before the first rollout
    theta = first.initial_theta()
    np.testing.assert_array_equal(first.rollout(theta, 16).states, second.rollout(theta, 16).states)
    other = build_problem(GridWorld(), BradleyTerry(), seed=8)
    assert not np.array_equal(first.rollout(theta, 16).states, other.rollout(theta, 16).states)
    # the three streams differ from each other
    core = build_simulation(GridWorld(), BradleyTerry(), seed=7)
    assert core.rng.random() != core.panel.rng.random() != core.episode_rng.random()


def test_networked_environment_needs_a_network(coupled):
    with pytest.raises(ValueError, match="networked"):
        build_problem(coupled, BradleyTerry(), seed=0)
    problem = build_problem(
        coupled, BradleyTerry(), seed=0, network=Network.from_edges(2, [(0, 1)])
    )
    assert problem.network.n_agents == 2
    with pytest.raises(ValueError, match="agents"):
        build_problem(coupled, BradleyTerry(), seed=0, network=Network.empty(3))


def test_isolated_topology():
    network = Isolated().build(5, np.random.default_rng(0))
    indptr, indices = network.neighbourhood(3)
    np.testing.assert_array_equal(indices, np.arange(5))
    np.testing.assert_array_equal(indptr, np.arange(6))


@pytest.mark.parametrize(
    "params",
    [
        {"size": 1},
        {"start": (5, 0)},
        {"goal": (-1, 2)},
        {"goal": (0, 0)},
        {"slip": 1.5},
        {"horizon": 0},
        {"gamma": 0.0},
    ],
)
def test_gridworld_config_is_validated(params):
    (name,) = params  # every message names the offending setting
    with pytest.raises(ValueError, match=name):
        GridWorldConfig(**params)
    with pytest.raises(ConfigError, match=name):
        zobench.make("environment", "gridworld", **params)


def test_gridworld_dynamics_and_reward():
    env = GridWorld(GridWorldConfig(slip=0.0, horizon=10))
    right_then_down = np.zeros((1, 25, 4))
    right_then_down[0, :, 3] = 50.0  # always right
    right_then_down[0, [4, 9, 14, 19], 3] = 0.0
    right_then_down[0, [4, 9, 14, 19], 1] = 50.0  # down along the last column
    traj = zobench.sim.rollout(env, right_then_down, batch=2, rng=np.random.default_rng(0))
    path = traj.states[0, :, 0]
    assert path.tolist()[:9] == [0, 1, 2, 3, 4, 9, 14, 19, 24]
    assert (path[8:] == 24).all()  # absorbing
    # reward 1 for each step that ends on the goal: steps 8, 9, 10 → 3
    assert traj.rewards[0].sum() == 3.0
    # walls clip: up from the start stays put
    nxt, reward = env.step(np.array([[0]]), np.array([[0]]), np.array([[[0.0]]]))
    assert nxt[0, 0] == 0
    assert reward[0, 0] == 0.0


def test_gridworld_slip_goes_to_the_other_moves():
    env = GridWorld(GridWorldConfig(slip=0.3))
    u = np.random.default_rng(0).random((30_000, 1, 1))
    nxt, _ = env.step(np.full((30_000, 1), 12), np.full((30_000, 1), 0), u)  # centre, up
    freq = np.bincount(nxt[:, 0], minlength=25)[[7, 17, 11, 13]] / 30_000
    np.testing.assert_allclose(freq, [0.7, 0.1, 0.1, 0.1], atol=0.015)


def test_the_problem_describes_the_environment_and_cannot_be_rearranged(gridworld):
    problem = build_problem(gridworld, BradleyTerry(), seed=0, algorithm="probe")
    description = problem.environment
    assert problem.env is description
    assert (description.n_agents, description.n_states, description.n_actions) == (1, 25, 4)
    assert (description.horizon, description.gamma, description.reward_span) == (15, 1.0, 1.0)
    assert description.network is problem.network
    with pytest.raises(ChannelError, match=r"algorithm 'probe'.*tables"):
        description.tables()
    with pytest.raises(ChannelError, match=r"problem\.rollout"):
        description.step(None, None, None)
    with pytest.raises(ChannelError, match=r"replace problem\.rng"):
        problem.rng = np.random.default_rng(0)
    with pytest.raises(LedgerError, match="read-only"):
        problem.ledger.episodes = 0
    assert problem.consumes == {"preferences"}
    assert not problem.uses_rewards


def test_the_core_ledger_only_grows():
    ledger = Ledger()
    ledger.charge(queries=3, messages=2)
    assert (ledger.queries, ledger.messages) == (3, 2)
    for bad in ({"queries": -1}, {"queries": 0.5}, {"queries": True}, {"bribes": 1}):
        with pytest.raises(LedgerError):
            ledger.charge(**bad)
    assert ledger.snapshot() == {**dict.fromkeys(COUNTERS, 0), "queries": 3, "messages": 2}
    with pytest.raises(AttributeError):
        ledger.queries = 0  # the core charges; it never sets


def test_the_model_channel_charges_each_read_and_hands_out_read_only_tables(gridworld):
    problem = build_problem(gridworld, BradleyTerry(), seed=0, consumes={"rewards", "model"})
    tables = problem.model.tables()
    np.testing.assert_array_equal(tables.rewards, gridworld.tables().rewards)
    assert not tables.rewards.flags.writeable
    assert not tables.transitions.flags.writeable
    problem.model.tables()
    assert problem.ledger.model_reads == 2
    assert problem.ledger.reward_obs == 2 * tables.rewards.size
    assert problem.model.reference_policy() is None  # the gridworld has tables instead
    assert problem.ledger.model_reads == 3
    with pytest.raises(ChannelError, match="'model'"):
        build_problem(gridworld, BradleyTerry(), seed=0).model.tables()


def test_gather_hands_each_agent_its_neighbours_and_charges_the_messages(coupled):
    chain = Network.from_edges(2, [(0, 1)])
    problem = build_problem(coupled, BradleyTerry(), seed=0, network=chain)
    states = np.arange(3 * 4 * 2).reshape(3, 4, 2)
    actions = np.arange(3 * 5 * 2).reshape(3, 5, 2)
    near_states, near_actions = problem.gather(1, states, actions)
    _, indices = chain.neighbourhood(1)
    np.testing.assert_array_equal(near_states, states[..., indices])
    np.testing.assert_array_equal(near_actions, actions[..., indices])
    # 3 episodes x 2 links (0 <- 1 and 1 <- 0), each carrying 4 + 5 numbers
    assert (problem.ledger.messages, problem.ledger.values_moved) == (3 * 2, 3 * 2 * 9)
    problem.gather(0, states)  # κ = 0: nobody but oneself, no messages
    assert problem.ledger.messages == 3 * 2


def test_rewards_are_kept_only_while_their_trajectories_live(gridworld):
    simulation = build_simulation(gridworld, BradleyTerry(), seed=0)
    traj = simulation.problem.rollout(simulation.problem.initial_theta(), 3)
    assert len(simulation.rewards._rewards) == 1
    del traj
    assert len(simulation.rewards._rewards) == 0
