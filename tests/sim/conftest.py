"""Fixtures of the simulation-kernel tests: the GridWorld and a small coupled two-agent MDP."""

from __future__ import annotations

import numpy as np
import pytest

from zobench import api
from zobench.sim.network import Network
from zobench_plugins.environments.gridworld import GridWorld


class CoupledPair(api.Environment):
    """Two agents on a 2-node network; agent i's next state depends on (s_i, a_i, s_{other}).

    Random local kernels and rewards, a random initial distribution: small enough for exact
    tables (9 joint states, 4 joint actions) and coupled, so the mixed-radix joint indexing of
    :class:`api.TransitionTables` is really exercised.
    """

    name = "coupled-pair"
    networked = True

    def __init__(self, seed: int = 0, gamma: float = 0.9, horizon: int = 6) -> None:
        super().__init__(None)
        rng = np.random.default_rng(seed)
        self.n_agents, self.n_states, self.n_actions = 2, 3, 2
        self.horizon, self.gamma = horizon, gamma
        S, A = self.n_states, self.n_actions
        # kernel[i, s_i, a_i, s_other, s_i']
        self.kernel = rng.dirichlet(np.ones(S), size=(2, S, A, S))
        self.local_rewards = rng.uniform(-1, 1, size=(2, S, A))  # r_i(s_i, a_i)
        self.rho = rng.dirichlet(np.ones(S), size=2)  # independent initial local states

    def reset(self, noise: np.ndarray) -> np.ndarray:
        cdf = np.cumsum(self.rho, axis=-1)[:, :-1]  # (2, S-1)
        return (noise[..., 0][..., None] >= cdf[None]).sum(-1)

    def step(self, states, actions, noise):
        other = states[:, ::-1]
        agents = np.arange(2)
        cdf = np.cumsum(self.kernel[agents, states, actions, other], axis=-1)[..., :-1]
        nxt = (noise[..., 0][..., None] >= cdf).sum(-1)
        return nxt, self.local_rewards[agents, states, actions]

    def tables(self) -> api.TransitionTables:
        S, A = self.n_states, self.n_actions
        P = np.zeros((S * S, A * A, S * S))
        R = np.zeros((S * S, A * A))
        rho = np.zeros(S * S)
        for s0 in range(S):
            for s1 in range(S):
                s = s0 + S * s1
                rho[s] = self.rho[0, s0] * self.rho[1, s1]
                for a0 in range(A):
                    for a1 in range(A):
                        a = a0 + A * a1
                        R[s, a] = (
                            self.local_rewards[0, s0, a0] + self.local_rewards[1, s1, a1]
                        ) / 2
                        p0 = self.kernel[0, s0, a0, s1]
                        p1 = self.kernel[1, s1, a1, s0]
                        P[s, a] = np.outer(p1, p0).ravel()  # index t1 * S + t0
        return api.TransitionTables(P, R, rho)


@pytest.fixture
def gridworld() -> GridWorld:
    """The default GridWorld."""
    return GridWorld()


@pytest.fixture
def coupled() -> CoupledPair:
    """The coupled two-agent MDP, connected to its two-node network."""
    env = CoupledPair()
    env.connect(Network.from_edges(2, [(0, 1)]))
    return env
