"""A certified upper bound on predator–prey's optimal value, by relaxation.

The joint problem (8 predators on 7 × 7 with a remaining-prey mask: about 10¹⁴ states) has no
exact optimum here, but every episode's return obeys three facts whatever the policy, joint or
history-dependent, and whatever the slips (a failed move only stays):

* prey k cannot be caught before step e_k = max(0, min_i dist(start_i, p_k) − 1) (the fewest
  moves any predator needs to stand on it after a step), and each prey pays R_cap once, shared
  among its captors, so the agents' average gains at most (R_cap / n) · γ^{e_k} from it;
* the episode stays active (prey remain) at least through step e_max = max_k e_k, and while
  active every agent pays c_time;
* agent i's shaping cost at step t is η times its distance to the nearest remaining prey, at
  least η · ℓ_i(t), the smallest distance to any prey from a cell it can reach in t + 1 moves.

Hence, per episode and so in expectation,

    J ≤ Σ_{k: e_k < H} γ^{e_k} R_cap / n − Σ_{t ≤ min(e_max, H − 1)} γ^t (c_time + η/n Σ_i ℓ_i(t)).

It is computed in well under a second. The true optimum lies between the best value any policy
reaches and this bound; boards report that bracket.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zobench_plugins.environments.net_gridworld import grid_distances


def upper_bound(env: Any) -> float:  # a PredatorPrey
    """The relaxation bound on the optimal J (see the module docstring)."""
    c = env.config
    n, H, gamma = env.n_agents, env.horizon, env.gamma
    # fewest moves from every agent's start to every cell, (n, S)
    moves = np.stack([grid_distances(env._next, np.array([start])) for start in env.starts])
    earliest = np.maximum(moves[:, env.prey].min(axis=0) - 1, 0)  # e_k per prey
    discount = gamma ** np.arange(H)
    captures = sum(discount[int(e)] * c.capture_reward / n for e in earliest if e < H)
    nearest_prey = env._prey_distance.min(axis=1)  # (S,) Euclidean distance to the closest prey
    active_until = int(min(earliest.max(), H - 1))
    cost = 0.0
    for t in range(active_until + 1):
        reachable = moves <= t + 1  # (n, S)
        shaping = np.where(reachable, nearest_prey[None, :], np.inf).min(axis=1)  # ℓ_i(t)
        cost += discount[t] * (c.time_cost + c.shaping * shaping.sum() / n)
    return float(captures - cost)
