"""SAC: the Scalable Actor-Critic for networked agents (not Soft Actor-Critic).

Qu, Wierman & Li, "Scalable Reinforcement Learning of Localized Policies for Multi-Agent
Networked Systems", L4DC 2020 (arXiv 1912.02906); the DZOPG paper's "distributed reward-driven
baseline" (Dai et al., arXiv 2605.15697); docs/algorithms.md#sac.

Per outer iteration m:

1. roll out B episodes of the joint policy and read every agent's TRUE local reward r_i(t)
   (``consumes = {rewards}``: charged to the ledger as reward observations);
2. reset each agent's κ-hop truncated critic Q̂_i ≡ 0 (option: keep it, as the DZOPG author's
   code does), a table over z_i = (s_{N_i^κ}, a_{N_i^κ}) with (S·A)^{|N_i^κ|} entries;
3. critic, for t = 0..H−1 (SARSA / TD(0), step α_t = h / (t + t0)):
       Q̂_i(z_i(t)) ← Q̂_i(z_i(t)) + α_t [r_i(t) + γ Q̂_i(z_i(t+1)) − Q̂_i(z_i(t))],
   with no bootstrap after the last step (episodes end at H). The B episodes update in parallel:
   an entry visited by several episodes at step t moves by the mean of their TD errors;
4. actor: ĝ_i = mean_b Σ_t γ^t (1/n) Σ_{j∈N_i^κ} Q̂_j(z_j(t)) ∇_{θ_i} log π_i(a_i(t)|s_i(t)),
   where agent i receives its κ-hop neighbours' critic values (charged as messages);
5. θ_i ← θ_i + η_m ĝ_i with η_m = η / √(m + 1).

The critic indexes its neighbourhood's (s, a) in mixed radix, member k the k-th digit base S·A.
Agents whose neighbourhoods have equal size share one sparse table (only visited entries are
stored: (S·A)^|N_i^κ| is 1.5·10⁷ per agent on predator-prey already at κ = 1), so a step is a
few gathers per neighbourhood size, vectorized over episodes and agents; only time is a loop. On a
single-agent environment N_0^κ = {0} and this is a tabular actor-critic (Q without baseline).

Budget. SAC learns from rewards, not preferences: it asks no queries (zpg asks 4,000 per
iteration) and observes B·H·n true rewards per iteration; the ledger shows both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

import zobench
from zobench import api
from zobench.api import Channel, param
from zobench.sim import kernel, policy
from zobench.sim.problem import Problem
from zobench.space import Choice, IntRange, LogUniform


@dataclass(frozen=True)
class SACConfig:
    """SAC settings (docs/algorithms.md#sac has each default's source). SAC spends no preference queries (zpg: 4,000/iter)."""

    kappa: int = param(1, "Hops κ of the truncated critics' neighbourhoods.", source="author-code")
    h: float = param(
        5.02,
        "Critic step numerator: α_t = h / (t + t0) (Qu et al.'s form).",
        source="ours",
        tune=LogUniform(0.1, 10.0),
    )
    t0: float = param(10.0, "Critic step offset t0 in α_t = h / (t + t0).", source="ours")
    eta: float = param(
        13.8,
        "Actor step η; iteration m uses η / √(m + 1) (Qu et al.'s form). Tuned by `zobench tune` on the default net-gridworld (4 agents, chain) under Bradley–Terry votes, 500 iterations (docs/tuning.md); gridworld has its own preset.",
        source="ours",
        tune=LogUniform(0.5, 500.0),
    )
    episodes: int = param(
        16,
        "Episodes B per iteration, updating the critics in parallel (the author's code: 1).",
        source="ours",
    )
    critic_sweeps: int = param(
        2,
        "Passes of the critic over the iteration's steps (the step counter t runs on).",
        source="ours",
        tune=IntRange(1, 20, log=True),
    )
    reset_critic: bool = param(
        False,
        "Zero the critics at every outer iteration (Qu et al.) or keep them, as the DZOPG author's code does. Keeping them was tuned best on net-gridworld; the gridworld preset resets them.",
        source="ours",
        tune=Choice((True, False)),
    )
    max_table_entries: int = param(
        1 << 24,
        "Most critic entries stored, summed over agents (16 bytes each). Tables are sparse: "
        "only visited (s, a) of a neighbourhood are stored, out of (S·A)^|N_i^κ|. Exceeding "
        "the cap (a kept critic grows over iterations) raises a ValueError.",
        source="ours",
    )

    def __post_init__(self) -> None:
        if self.kappa < 0:
            raise ValueError(f"kappa must be >= 0, got {self.kappa}")
        if not (self.h > 0 and self.t0 > 0 and self.eta > 0):
            raise ValueError("h, t0 and eta must be positive")
        if min(self.episodes, self.critic_sweeps, self.max_table_entries) < 1:
            raise ValueError("episodes, critic_sweeps and max_table_entries must be >= 1")


# ALGO LOGIC: the κ-hop critics and the actor, steps 1–5 (docs/algorithms.md#sac)


INT64_MAX = np.iinfo(np.int64).max

COMPILED = "zobench_plugins.algorithms._compiled"
"""The module of the compiled critic sweeps, loaded by the kernel's warm-up before a run is timed."""
kernel.compile_with_kernel(COMPILED)


@dataclass
class CriticGroup:
    """The critics of the g agents whose κ-hop neighbourhoods have the same size k.

    A table has (S·A)^k entries, far too many to hold densely beyond tiny problems (predator-
    prey, κ = 1 on a chain: 245³ ≈ 1.5·10⁷ per agent), but an iteration visits at most B·H of
    them. So all g tables live in one sparse table: sorted int64 keys (key = z·g + slot) and
    their values; lookups are binary searches.
    """

    agents: np.ndarray
    """Agents of the group ``(g,)``."""
    members: np.ndarray
    """Their neighbourhoods ``(g, k)``, sorted, each agent included."""
    columns: np.ndarray
    """Where each member's gathered values sit in a κ-hop gather, ``(g, k)``."""
    radix: np.ndarray
    """(S·A)^m for digit m ``(k,)``: z = Σ_m code(member m) · (S·A)^m."""
    keys: np.ndarray
    """Stored keys, sorted, unique."""
    values: np.ndarray
    """Q̂ of each stored key."""

    def index(self, codes: np.ndarray) -> np.ndarray:
        """Key z·g + slot of every (episode, step, agent of the group) from local codes s·A + a.

        ``codes`` is the gathered ``(B, H, nnz)`` (neighbourhood order, see
        :meth:`zobench.sim.problem.Problem.gather`); the result is ``(B, H, g)``.
        """
        z = (codes[..., self.columns] * self.radix).sum(axis=-1)
        return z * len(self.agents) + np.arange(len(self.agents))

    def prepare(self, keys: np.ndarray, reset: bool) -> np.ndarray:
        """Make room for ``keys`` (new entries start at 0, or all do when ``reset``) and return
        their positions in :attr:`values`."""
        batch = np.unique(keys)
        if reset:
            self.keys, self.values = batch, np.zeros(len(batch))
        else:
            # insert only the keys not stored yet (before the first larger stored key, in order:
            # the keys stay sorted); a union of the whole table, sorted anew every iteration,
            # cost most of a kept critic's time once it held millions of entries
            at = np.searchsorted(self.keys, batch)
            stored = at < len(self.keys)
            stored[stored] = self.keys[at[stored]] == batch[stored]
            if not stored.all():
                fresh = ~stored
                self.keys = np.insert(self.keys, at[fresh], batch[fresh])
                self.values = np.insert(self.values, at[fresh], 0.0)
        return np.searchsorted(self.keys, keys)


def build_critics(problem: Problem, kappa: int) -> list[CriticGroup]:
    """One empty :class:`CriticGroup` per neighbourhood size.

    Refuses neighbourhoods whose keys z·g + slot, z < (S·A)^k, would overflow int64.
    """
    env = problem.env
    local = env.n_states * env.n_actions
    indptr, indices = problem.network.neighbourhood(kappa)
    sizes = np.diff(indptr)
    groups = []
    for k in np.unique(sizes):
        agents = np.flatnonzero(sizes == k)
        if local ** int(k) * len(agents) > INT64_MAX:  # Python ints: exact
            raise ValueError(
                f"SAC's κ={kappa} critics over neighbourhoods of {k} agents have (S·A)^{k} = "
                f"{local}^{k} entries per agent, too many to index in int64: lower kappa"
            )
        columns = indptr[agents][:, None] + np.arange(k)
        radix = local ** np.arange(k, dtype=np.int64)
        empty = np.zeros(0, dtype=np.int64)
        groups.append(CriticGroup(agents, indices[columns], columns, radix, empty, np.zeros(0)))
    return groups


class SAC(api.Algorithm[SACConfig]):
    """Scalable Actor-Critic: κ-hop truncated SARSA critics on true local rewards, local actors."""

    name = "sac"
    summary = (
        "Scalable Actor-Critic (Qu et al. 2020): κ-hop truncated Q critics by TD(0) on true "
        "local rewards, localized actor; no preference queries."
    )
    source = "Qu, Wierman & Li, L4DC 2020 (arXiv 1912.02906); baseline of arXiv 2605.15697"
    Config = SACConfig
    consumes = frozenset({Channel.REWARDS})

    def __init__(self, config: SACConfig, problem: Problem) -> None:
        super().__init__(config, problem)
        self.critics = build_critics(problem, config.kappa)
        self.neighbourhood = problem.network.neighbourhood(config.kappa)
        self.iteration = 0

    def critic(self, codes: np.ndarray, rewards: np.ndarray) -> list[np.ndarray]:
        """Steps 2–3: SARSA sweeps over the batch; returns each group's positions ``(B, H, g)``.

        ``codes`` are the neighbourhoods' local (s, a) codes as gathered, ``(B, H, nnz)``.
        """
        c, gamma = self.config, self.problem.env.gamma
        index = [group.prepare(group.index(codes), c.reset_critic) for group in self.critics]
        stored = sum(len(group.keys) for group in self.critics)
        if stored > c.max_table_entries:
            raise ValueError(
                f"SAC's critics hold {stored:,} entries, above max_table_entries = "
                f"{c.max_table_entries:,}: raise it, lower kappa, or reset the critics"
            )
        H = codes.shape[1]
        alphas = [c.h / (updates + c.t0) for updates in range(c.critic_sweeps * H)]
        if kernel.compiled_available():  # the loop below, compiled (bit-identical)
            from zobench_plugins.algorithms._compiled import sac_critic_sweeps

            for group, position in zip(self.critics, index, strict=True):
                sac_critic_sweeps(
                    group.values,
                    position,
                    rewards,
                    group.agents,
                    gamma,
                    np.array(alphas),
                    c.critic_sweeps,
                )
            return index
        # the entries each step visits do not change between sweeps: find them once
        visited = [
            [np.unique(position[:, t].ravel(), return_inverse=True) for t in range(H)]
            for position in index
        ]
        updates = 0
        for _ in range(c.critic_sweeps):
            for t in range(H):  # time is sequential: step t's update is seen by step t + 1
                alpha = alphas[updates]
                updates += 1
                for group, position, steps in zip(self.critics, index, visited, strict=True):
                    now = position[:, t]  # (B, g)
                    target = rewards[:, t][:, group.agents]
                    if t + 1 < H:
                        target = target + gamma * group.values[position[:, t + 1]]
                    td = (target - group.values[now]).ravel()
                    # several episodes on one entry: move it by the mean of their TD errors
                    entries, which = steps[t]
                    mean_td = np.bincount(which, weights=td) / np.bincount(which)
                    group.values[entries] += alpha * mean_td
        return index

    def step(self) -> Mapping[str, float]:
        """Steps 1–5 of one outer iteration."""
        c, problem, env = self.config, self.problem, self.problem.env
        traj = problem.rollout(self.theta, c.episodes)  # step 1
        rewards = problem.rewards(traj)  # (B, H, n), charged as reward observations
        B, H, n = traj.actions.shape
        states = traj.states[:, :-1]
        # agent i receives each neighbour's (s, a) sequence for its critic (one message per
        # episode and neighbour, 2H numbers; the problem's gather charges it)
        near_states, near_actions = problem.gather(c.kappa, states, traj.actions)
        codes = near_states * env.n_actions + near_actions  # local (s, a) code, base S·A
        index = self.critic(codes, rewards)  # steps 2–3
        q = np.empty((B, H, n))
        for group, position in zip(self.critics, index, strict=True):
            q[..., group.agents] = group.values[position]
        # step 4: agent i sums its κ-hop neighbours' critic values, received as one more message
        # per episode and neighbour (H numbers); every segment is non-empty
        indptr, _ = self.neighbourhood
        (near_q,) = problem.gather(c.kappa, q)
        shared = np.add.reduceat(near_q, indptr[:-1], axis=-1) / n
        weights = (env.gamma ** np.arange(H))[None, :, None] * shared / B
        grad = policy.score(self.theta, states, traj.actions, weights)
        eta = c.eta / np.sqrt(self.iteration + 1)  # step 5
        self.theta = self.theta + eta * grad
        self.iteration += 1
        return {"grad_norm": float(np.linalg.norm(grad)), "mean_q": float(q.mean())}


# END ALGO LOGIC


@zobench.hookimpl
def zobench_register_algorithms(register):
    """Register SAC."""
    register(SAC)
