"""net-gridworld and predator-prey behave as specified (docs/algorithms.md#net-gridworld, #predator-prey)."""

from __future__ import annotations

import numpy as np
import pytest

import zobench
from zobench.errors import ConfigError
from zobench.sim.evaluate import exact_value, monte_carlo_value
from zobench.sim.rollout import rollout
from zobench_plugins.environments.net_gridworld import ACTIONS

STAY, UP_Y, DOWN_Y, LEFT_X, RIGHT_X = range(5)


def cell(env, x: int, y: int) -> int:
    return x * env.size + y


def noise(value: float, shape: tuple[int, int]) -> np.ndarray:
    return np.full((*shape, 1), value)


# ---------------------------------------------------------------------------------------------
# net-gridworld
# ---------------------------------------------------------------------------------------------


def test_goal_is_absorbing_with_zero_reward(connected_env):
    env = connected_env("net-gridworld", arrival_reward=10.0, collision_penalty=2.0)
    states = np.full((6, 4), env.goal)
    rng = np.random.default_rng(0)
    nxt, rewards = env.step(states, rng.integers(0, 5, (6, 4)), rng.random((6, 4, 1)))
    assert (nxt == env.goal).all()
    assert (rewards == 0).all()  # no arrival reward again, no collision penalty at the goal


def test_rewards_before_on_and_after_arrival(connected_env):
    for arrival in (0.0, 10.0):
        env = connected_env("net-gridworld", n_agents=2, arrival_reward=arrival, step_cost=1.0)
        # agent 0 steps from (2, 1) onto the goal (2, 2); agent 1 from (0, 0) to (1, 0)
        states = np.array([[cell(env, 2, 1), cell(env, 0, 0)]])
        nxt, rewards = env.step(states, np.array([[UP_Y, RIGHT_X]]), noise(0.0, (1, 2)))
        assert nxt.tolist() == [[env.goal, cell(env, 1, 0)]]
        assert rewards[0, 0] == arrival
        assert rewards[0, 1] == pytest.approx(-(1.0 + np.hypot(1, 2)))
        _, after = env.step(nxt, np.array([[DOWN_Y, STAY]]), noise(0.0, (1, 2)))
        assert after[0, 0] == 0.0


def test_noise_level_count_and_any_rules(connected_env):
    # chain 0-1-2-3; agents 0 and 2 on the goal; N_i includes i
    at_goal = np.array([[True, False, True, False]])
    count = connected_env("net-gridworld", sigma_max=0.5, sigma_min=0.1)
    share = np.array([1 / 2, 2 / 3, 1 / 3, 1 / 2])
    np.testing.assert_allclose(count.noise_level(at_goal)[0], 0.5 - 0.4 * share)
    anyone = connected_env("net-gridworld", sigma_max=0.5, sigma_min=0.1, noise_rule="any")
    only_last = np.array([[False, False, False, True]])
    np.testing.assert_allclose(anyone.noise_level(only_last)[0], [0.5, 0.5, 0.1, 0.1])
    isolated = connected_env("net-gridworld", topology="isolated", sigma_max=0.5)
    np.testing.assert_allclose(isolated.noise_level(np.zeros((1, 4), bool)), 0.5)


def test_noise_outcomes_have_the_configured_probabilities(connected_env):
    # agent 1 of a 2-chain in the middle of the grid, agent 0 on the goal: σ_1 = σmax − Δσ/2
    env = connected_env(
        "net-gridworld", n_agents=2, size=7, goal=(0, 0), sigma_max=0.6, sigma_min=0.2
    )
    sigma = 0.6 - 0.4 / 2
    K = 10_000
    u = (np.arange(K) + 0.5) / K  # a uniform grid: frequencies are exact up to 1/K
    states = np.tile([env.goal, cell(env, 3, 3)], (K, 1))
    nxt, _ = env.step(states, np.full((K, 2), RIGHT_X), np.stack([u, u], 1)[..., None])
    x, y = np.divmod(nxt[:, 1], env.size)
    displacement = np.stack([x - 3, y - 3], 1) - ACTIONS[RIGHT_X]
    frequencies = [np.mean((displacement == e).all(1)) for e in ACTIONS]
    np.testing.assert_allclose(frequencies, [1 - sigma] + [sigma / 4] * 4, atol=2 / K)


def test_moves_are_clipped_to_the_grid(connected_env):
    env = connected_env(
        "net-gridworld", n_agents=1, topology="isolated", sigma_max=1.0, sigma_min=1.0
    )
    # corner (0, 0), action −x, noise −x (u in the third slice): stays in the corner
    nxt, _ = env.step(np.array([[0]]), np.array([[LEFT_X]]), noise(0.6, (1, 1)))
    assert nxt[0, 0] == 0


def test_collision_penalty_eq_37(connected_env):
    env = connected_env("net-gridworld", n_agents=4, collision_penalty=2.0, step_cost=0.0)
    shared = cell(env, 0, 0)
    states = np.array([[shared, shared, env.goal, cell(env, 4, 4)]])
    base = connected_env("net-gridworld", n_agents=4, step_cost=0.0)
    actions = np.zeros((1, 4), int)
    _, penalised = env.step(states, actions, noise(0.0, (1, 4)))
    _, plain = base.step(states, actions, noise(0.0, (1, 4)))
    np.testing.assert_allclose(penalised - plain, [[-2.0, -2.0, 0.0, 0.0]])


@pytest.mark.parametrize(
    "params",
    [
        {"collision_penalty": 2.0, "arrival_reward": 10.0, "sigma_max": 0.5},
        {"noise_rule": "any", "sigma_max": 0.8, "sigma_min": 0.0, "starts": [[0, 0], [0, 0]]},
    ],
)
def test_exact_tables_agree_with_monte_carlo(connected_env, params):
    env = connected_env("net-gridworld", n_agents=2, size=3, horizon=8, **params)
    tables = env.tables()
    assert tables.transitions.shape == (81, 25, 81)
    np.testing.assert_allclose(tables.transitions.sum(-1), 1.0)
    theta = np.random.default_rng(1).normal(size=(2, 9, 5))
    exact = exact_value(tables, theta, env.horizon, env.gamma)
    mean, se = monte_carlo_value(env, theta, episodes=20_000, seed=2)
    assert abs(mean - exact) < 5 * se  # fixed seeds: a deterministic check at 5 standard errors
    # per-agent reward tables average to the joint ones
    np.testing.assert_allclose(env.agent_reward_tables().mean(0), tables.rewards)


def test_tables_only_for_small_joint_problems(connected_env):
    assert connected_env("net-gridworld").tables() is None  # 4 agents on 5×5: 25⁴ joint states
    assert connected_env("net-gridworld", n_agents=2).tables() is not None  # 625 joint states


def test_default_layout_and_any_number_of_agents(connected_env):
    env = connected_env("net-gridworld")
    assert env.size == 5
    assert [divmod(int(s), 5) for s in env.starts] == [(0, 0), (0, 4), (4, 0), (4, 4)]
    grown = connected_env("net-gridworld", n_agents=30, size=None, topology="ring")
    assert grown.size == 6
    assert len(set(grown.starts.tolist())) == 30
    assert grown.goal not in grown.starts
    crowded = connected_env("net-gridworld", n_agents=60, topology="ring")
    assert crowded.size == 5
    assert len(set(crowded.starts.tolist())) == 24
    again = connected_env("net-gridworld", n_agents=60, topology="ring")
    other = connected_env("net-gridworld", n_agents=60, topology="ring", layout_seed=1)
    assert again.starts.tolist() == crowded.starts.tolist() != other.starts.tolist()
    listed = connected_env("net-gridworld", n_agents=3, starts=[[1, 1]])
    assert listed.starts.tolist() == [cell(listed, 1, 1), 0, 4]  # then the corners


def test_reference_policy_walks_shortest_paths(connected_env):
    env = connected_env("net-gridworld", sigma_max=0.0, sigma_min=0.0, horizon=6)
    traj = rollout(env, env.reference_policy(), batch=3, rng=np.random.default_rng(0))
    # each corner is 4 moves from (2, 2): on the goal after exactly 4 steps, then absorbed
    assert (traj.states[:, 4] == env.goal).all()
    assert (traj.states[:, 3] != env.goal).all()


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match="outside the 5×5 grid"):
        zobench.make("environment", "net-gridworld", goal=(5, 0))
    with pytest.raises(ConfigError, match="sigma_min <= sigma_max"):
        zobench.make("environment", "net-gridworld", sigma_min=0.5)
    with pytest.raises(ConfigError, match="3 starts listed for 2 agents"):
        zobench.make("environment", "net-gridworld", n_agents=2, starts=[[0, 0]] * 3)
    with pytest.raises(RuntimeError, match="needs a network"):
        zobench.make("environment", "net-gridworld").step(
            np.zeros((1, 4), int), np.zeros((1, 4), int), np.zeros((1, 4, 1))
        )


# ---------------------------------------------------------------------------------------------
# predator-prey
# ---------------------------------------------------------------------------------------------

SMALL = {
    "n_agents": 3,
    "size": 4,
    "n_prey": 2,
    "prey": [[3, 3], [0, 3]],
    "n_obstacles": 1,
    "obstacles": [[1, 1]],
    "starts": [[1, 0], [2, 3], [0, 0]],
    "time_cost": 0.1,
    "capture_reward": 10.0,
    "shaping": 0.5,
}


def test_nearest_prey_table_is_the_minimum_over_each_set_of_prey():
    """Row m: the nearest of the prey whose bits m sets (∞ for none); no table for too many."""
    from zobench_plugins.environments.predator_prey import nearest_prey_table

    distance = np.random.default_rng(3).random((10, 4)) * 5
    table = nearest_prey_table(distance)
    assert table.shape == (16, 10)
    assert np.isinf(table[0]).all()
    for mask in range(1, 16):
        members = [p for p in range(4) if mask >> p & 1]
        assert np.array_equal(table[mask], distance[:, members].min(axis=1))
    assert nearest_prey_table(np.ones((10, 17))).shape == (0, 10)  # 2^17 · 10 entries


def test_obstacles_and_walls_block_moves(connected_env):
    env = connected_env("predator-prey", **SMALL)
    states = env.reset(np.zeros((1, 3, 1)))
    # agent 0 at (1, 0) walks +y into the obstacle (1, 1); agent 2 at (0, 0) walks −x off the grid
    nxt, _ = env.step(states, np.array([[UP_Y, STAY, LEFT_X]]), noise(0.5, (1, 3)))
    assert nxt[0].tolist() == [cell(env, 1, 0), cell(env, 2, 3), cell(env, 0, 0)]


def test_capture_is_shared_and_the_prey_removed(connected_env):
    env = connected_env("predator-prey", **{**SMALL, "starts": [[3, 2], [2, 3], [0, 0]]})
    states = env.reset(np.zeros((2, 3, 1)))
    # episode 0: agents 0 and 1 both step onto the prey at (3, 3); episode 1: everyone stays
    actions = np.array([[UP_Y, RIGHT_X, STAY], [STAY, STAY, STAY]])
    nxt, rewards = env.step(states, actions, noise(0.5, (2, 3)))
    c, r_cap, eta = 0.1, 10.0, 0.5
    np.testing.assert_allclose(rewards[0, :2], -c + r_cap / 2)  # shared, on the prey: d = 0
    np.testing.assert_allclose(rewards[0, 2], -c - eta * 3.0)  # nearest prey (0, 3) is 3 away
    np.testing.assert_allclose(rewards[1, 0], -c - eta * 1.0)  # nothing caught in episode 1
    # the prey of episode 0 is gone: leaving and coming back captures nothing, and the
    # shaping now measures the distance to the remaining prey (0, 3)
    back, _ = env.step(nxt, np.array([[DOWN_Y, STAY, STAY], [STAY] * 3]), noise(0.5, (2, 3)))
    _, again = env.step(back, np.array([[UP_Y, STAY, STAY], [STAY] * 3]), noise(0.5, (2, 3)))
    np.testing.assert_allclose(again[0, 0], -c - eta * 3.0)


def test_rewards_stop_once_every_prey_is_caught(connected_env):
    env = connected_env("predator-prey", **{**SMALL, "starts": [[3, 2], [0, 2], [0, 0]]})
    states = env.reset(np.zeros((1, 3, 1)))
    nxt, rewards = env.step(states, np.array([[UP_Y, UP_Y, STAY]]), noise(0.5, (1, 3)))
    np.testing.assert_allclose(rewards[0, :2], -0.1 + 10.0)  # both prey, one captor each
    _, after = env.step(nxt, np.array([[DOWN_Y, DOWN_Y, UP_Y]]), noise(0.5, (1, 3)))
    assert (after == 0).all()


def test_slip_keeps_the_agent_in_place(connected_env):
    env = connected_env("predator-prey", **SMALL, slip=0.3)
    states = env.reset(np.zeros((1, 3, 1)))
    u = np.array([[[0.1], [0.9], [0.9]]])
    nxt, _ = env.step(states, np.array([[RIGHT_X, DOWN_Y, RIGHT_X]]), u)
    assert nxt[0].tolist() == [cell(env, 1, 0), cell(env, 2, 2), cell(env, 1, 0)]


def test_step_needs_a_reset_of_the_same_batch(connected_env):
    env = connected_env("predator-prey")
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(np.zeros((2, 8), int), np.zeros((2, 8), int), np.zeros((2, 8, 1)))
    env.reset(np.zeros((3, 8, 1)))
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(np.zeros((2, 8), int), np.zeros((2, 8), int), np.zeros((2, 8, 1)))


def test_default_layout_is_valid_and_seeded(connected_env):
    env = connected_env("predator-prey")
    assert (env.size, len(env.prey), len(env.obstacles), env.n_agents) == (7, 3, 4, 8)
    cells = [*env.prey.tolist(), *env.obstacles.tolist(), *env.starts.tolist()]
    assert len(set(cells)) == len(cells)  # obstacles, prey and starts are distinct cells
    other = connected_env("predator-prey", layout_seed=1)
    assert env.prey.tolist() != other.prey.tolist()
    assert env.tables() is None
    many = connected_env("predator-prey", n_agents=500, topology="ring")
    assert many.size == 7
    assert set(many.starts.tolist()).isdisjoint([*many.prey, *many.obstacles])
    grown = connected_env("predator-prey", n_agents=100, size=None, topology="ring")
    assert grown.size == 11
    assert len(set(grown.starts.tolist())) == 100


def test_greedy_reference_beats_the_uniform_policy(connected_env):
    env = connected_env("predator-prey")
    greedy, se = monte_carlo_value(env, env.reference_policy(), episodes=400, seed=0)
    uniform, se0 = monte_carlo_value(env, np.zeros((8, 49, 5)), episodes=400, seed=0)
    assert greedy > uniform + 5 * (se + se0)
