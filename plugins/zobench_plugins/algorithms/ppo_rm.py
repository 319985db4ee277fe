"""PPO-RM: the classic RLHF pipeline — a Bradley–Terry reward model, then PPO on it.

Christiano et al., "Deep RL from Human Preferences", NeurIPS 2017 (reward model by BT maximum
likelihood on trajectory pairs) and Schulman et al., "Proximal Policy Optimization",
arXiv 1707.06347 (clipped objective, GAE λ of Schulman et al. 2016); the ZPG paper's PPO-RM
baseline (Zhang & Ying, arXiv 2409.17401); docs/algorithms.md#ppo-rm.

1. Reward model (first iteration, and every ``refresh_every`` iterations if set): a tabular
   r_φ(s, a) over local state-action cells (shared by all agents, or one per agent), trajectory
   value R_φ(τ) = Σ_t γ^t (1/n) Σ_i r_φ(s_i(t), a_i(t)), fit by maximising the BT likelihood
   Σ_k log σ(±(R_φ(τ_k1) − R_φ(τ_k0))) of the panel's labels (+ a small ridge: constants and
   unvisited cells are not identified), by Newton's method (the loss is convex in φ).
2. PPO on r_φ (never on true rewards: preference-only). Each iteration: B episodes of π_θ,
   per-agent learned rewards r̂_i(t) = r_φ(s_i(t), a_i(t)), a tabular value V_i(t, s) per agent,
   GAE(λ) advantages (Schulman et al. 2016, eq. 16), then ``epochs`` passes of ``minibatches``
   Adam steps on the clipped surrogate (PPO eq. 7)
       L(θ) = E[min(ρ A, clip(ρ, 1 − ε, 1 + ε) A)],  ρ = π_θ(a|s) / π_old(a|s),
   whose gradient ρ A ∇log π (zero where the clip is active) is one :func:`policy.score` call.
   On a networked environment the learner is centralized (docs/algorithms.md#centralized-baselines) with per-agent ratios; each
   agent's advantage is the agents' mean (``credit = "global"``, the joint objective) or its own.

Budget. zpg's defaults ask N·M = 800·5 = 4,000 votes per iteration. The default reward-model
dataset is K = 200,000 pairs × M = 10 = 2,000,000 votes, all spent at iteration 1: equal to zpg's
budget over 500 iterations (the default suite length); use ``pairs = 4,000·T/M`` for T
iterations.
Refreshes (off by default) add ``refresh_pairs``·M votes each. The papers' PPO-RM settings are
unknown; the PPO constants are the PPO paper's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

import zobench
from zobench import api
from zobench.api import Channel, param
from zobench.sim import kernel, policy
from zobench.sim.problem import Problem
from zobench.sim.rollout import Trajectories
from zobench.space import BudgetSplit, Choice, IntRange, LogUniform, Uniform
from zobench_plugins.algorithms._optim import (
    Adam,
    labelled_pairs,
    labels_from_votes,
    logistic_loss,
    logistic_slope,
)


@dataclass(frozen=True)
class PPORMConfig:
    """PPO-RM settings. Default budget: 200,000 pairs × 10 votes = zpg's 4,000/iteration × 500."""

    pairs: int = param(
        200000,
        "Labelled pairs K from π_ref for the reward model. K·M = 200,000·10 = 2,000,000 votes equals zpg's default budget over the default 500 iterations; use 4,000·T/M for T.",
        source="ours",
    )
    evaluators: int = param(
        10,
        "Evaluators M per pair; K·M is the reward model's budget. Tuned by `zobench tune` on the "
        "default gridworld under Bradley–Terry votes, 500 iterations (docs/tuning.md).",
        source="ours",
        tune=BudgetSplit("pairs", (1, 5, 10, 20, 40, 100)),
    )
    label: Literal["majority", "votes"] = param(
        "votes",
        "'votes': fit every vote (the BT likelihood of the M votes); 'majority': one label per "
        "pair, ties by a fair coin.",
        source="ours",
        tune=Choice(("majority", "votes")),
    )
    reward_model: Literal["shared", "per-agent"] = param(
        "shared",
        "r_φ(s, a) over local state-action cells shared by all agents, or one table per agent.",
        source="ours",
    )
    ridge: float = param(1e-3, "Ridge penalty (ρ/2)‖φ‖² of the BT fit.", source="ours")
    newton_steps: int = param(
        38, "Most Newton steps of the BT fit.", source="ours", tune=IntRange(5, 60, log=True)
    )
    refresh_every: int = param(
        0,
        "Refit the reward model every this many iterations with new pairs (0: never).",
        source="ours",
    )
    refresh_pairs: int = param(
        200,
        "Pairs of the current policy added at each refresh (200·M = 4,000 votes: zpg's "
        "per-iteration budget).",
        source="ours",
    )
    episodes: int = param(100, "Episodes B of π_θ per PPO iteration.", source="ours")
    clip: float = param(
        0.135,
        "Clip range ε of the surrogate (the PPO paper uses 0.2). Tuned by `zobench tune` on the default gridworld under Bradley–Terry votes, 500 iterations (docs/tuning.md).",
        source="ours",
        tune=Uniform(0.05, 0.4),
    )
    gae_lambda: float = param(0.95, "GAE λ (PPO paper's setting).", source="paper")
    epochs: int = param(2, "Passes over each batch.", source="ours", tune=IntRange(1, 10))
    minibatches: int = param(4, "Mini-batches (of episodes) per pass.", source="ours")
    learning_rate: float = param(
        0.273,
        "Adam step size of the policy. Tuned by `zobench tune` on the default gridworld under Bradley–Terry votes, 500 iterations (docs/tuning.md).",
        source="ours",
        tune=LogUniform(1e-3, 0.5),
    )
    value_rate: float = param(
        0.917,
        "Step of the tabular value towards the batch mean of its λ-return targets per cell.",
        source="ours",
        tune=Uniform(0.05, 1.0),
    )
    credit: Literal["global", "local"] = param(
        "global",
        "Advantage of each agent: the agents' mean (joint objective) or its own local one.",
        source="ours",
    )

    def __post_init__(self) -> None:
        counts = (self.pairs, self.evaluators, self.episodes, self.epochs, self.minibatches)
        if min(counts) < 1 or self.newton_steps < 1 or self.refresh_pairs < 1:
            raise ValueError("pairs, evaluators, episodes, epochs, minibatches must be >= 1")
        if self.refresh_every < 0 or self.ridge < 0:
            raise ValueError("refresh_every and ridge must be >= 0")
        if not 0 < self.clip < 1 or not 0 <= self.gae_lambda <= 1:
            raise ValueError("clip must lie in (0, 1) and gae_lambda in [0, 1]")
        if not self.learning_rate > 0 or not 0 < self.value_rate <= 1:
            raise ValueError("learning_rate must be > 0 and value_rate in (0, 1]")


# ALGO LOGIC: the reward model, then PPO on it (docs/algorithms.md#ppo-rm)


# ---------------------------------------------------------------------------------------------
# 1. Reward model: tabular r_φ by Bradley–Terry maximum likelihood
# ---------------------------------------------------------------------------------------------


def cells(traj: Trajectories, n_states: int, n_actions: int, per_agent: bool) -> np.ndarray:
    """Reward-table cell of every (episode, step, agent), ``(B, H, n)``: (agent,) s·A + a."""
    index = traj.states[:, :-1] * n_actions + traj.actions
    if per_agent:
        index = index + np.arange(traj.actions.shape[2]) * (n_states * n_actions)
    return index


def features(index: np.ndarray, step_weights: np.ndarray, size: int) -> np.ndarray:
    """Φ(τ) with R_φ(τ) = Φ(τ)·φ: Σ_t γ^t (1/n) Σ_i 1{cell = k}, shaped ``(B, size)``."""
    B, _, n = index.shape
    weights = np.broadcast_to((step_weights / n)[None, :, None], index.shape)
    flat = (np.arange(B)[:, None, None] * size + index).ravel()
    counts = np.bincount(flat, weights=weights.ravel(), minlength=B * size)
    return counts.reshape(B, size)


COMPILED = "zobench_plugins.algorithms._compiled"
"""The module of the compiled feature build, loaded by the kernel's warm-up before a run is timed."""
kernel.compile_with_kernel(COMPILED)

FEATURE_CHUNK = 4096
"""Pairs whose features :func:`feature_differences` builds at a time (a few MB of counts)."""


def feature_differences(
    first: np.ndarray, second: np.ndarray, step_weights: np.ndarray, size: int
) -> np.ndarray:
    """X = Φ(τ1) − Φ(τ0) of every pair ``(K, size)`` from the pairs' cells ``(K, H, n)`` each.

    Equal bit for bit to ``features(second) − features(first)``, built :data:`FEATURE_CHUNK`
    pairs at a time into X: the whole-batch form allocates and fills three K × size arrays
    (a GB at the suites' 400,000 pairs), which costs more than the counting.
    """
    K = first.shape[0]
    X = np.empty((K, size))
    for start in range(0, K, FEATURE_CHUNK):
        chunk = slice(start, start + FEATURE_CHUNK)
        np.subtract(
            features(second[chunk], step_weights, size),
            features(first[chunk], step_weights, size),
            out=X[chunk],
        )
    return X


def pair_features(
    first: Trajectories,
    second: Trajectories,
    n_states: int,
    n_actions: int,
    per_agent: bool,
    step_weights: np.ndarray,
    size: int,
) -> np.ndarray:
    """X = Φ(τ1) − Φ(τ0) of every pair ``(K, size)``: :func:`feature_differences` of the pairs'
    :func:`cells`, compiled where the kernel is (bit-identical, without the cells' arrays).

    The compiled loop reads the rollouts' states and actions where they lie and builds each
    pair's row in two small buffers: numpy's chunks spent more on zeroing and subtracting
    K × size counts than on counting, and the cells of 2,000,000 pairs take half a GB.
    """
    n = first.actions.shape[2]
    if kernel.compiled_available():
        from zobench_plugins.algorithms._compiled import ppo_feature_differences

        X = np.empty((first.actions.shape[0], size))
        ppo_feature_differences(
            np.asarray(first.states, dtype=np.int64),
            np.asarray(first.actions, dtype=np.int64),
            np.asarray(second.states, dtype=np.int64),
            np.asarray(second.actions, dtype=np.int64),
            n_actions,
            n_states * n_actions if per_agent else 0,
            step_weights / n,  # the weights features() counts with
            X,
        )
        return X
    return feature_differences(
        cells(first, n_states, n_actions, per_agent),
        cells(second, n_states, n_actions, per_agent),
        step_weights,
        size,
    )


GEMM_BLOCK, GEMM_UNROLL = 384, 16
"""OpenBLAS's ``GEMM_Q`` and ``GEMM_UNROLL_M`` for doubles with its SkylakeX kernels (the ones in
use here): the blocks of the inner dimension its single-threaded GEMM sums one after another."""

HESSIAN_COMPILED = "zobench_plugins.algorithms._ppo_rm_compiled"
"""The module of the compiled Hessian (:func:`fit_bradley_terry`), warmed up before a run."""
kernel.compile_with_kernel(HESSIAN_COMPILED)

HESSIAN_MIN_PAIRS = 2 * GEMM_BLOCK + 500
"""Fewer pairs than this keep the BLAS product (cheap there); also the size of the check."""


def gemm_blocks(K: int, block: int = GEMM_BLOCK, unroll: int = GEMM_UNROLL) -> np.ndarray:
    """Bounds 0 = k₀ < k₁ < … = K of the blocks OpenBLAS's level-3 driver cuts K into: ``block``
    rows while at least twice that many remain, then a stretch between one and two blocks in
    two halves (the first rounded up to ``unroll``), or what is left."""
    bounds, done = [0], 0
    while done < K:
        rest = K - done
        if rest >= 2 * block:
            rest = block
        elif rest > block:
            rest = (rest // 2 + unroll - 1) // unroll * unroll
        done += rest
        bounds.append(done)
    return np.array(bounds, dtype=np.int64)


def _compiled_hessian_matches_blas(D: int) -> bool:
    """Does :func:`~zobench_plugins.algorithms._ppo_rm_compiled.bt_hessian` give the BLAS
    product's bits under the BLAS as it is now (library, kernel, threads)? Checked on a fixed
    sparse problem of D columns and :data:`HESSIAN_MIN_PAIRS` rows: full blocks, the halved
    stretch and a ragged end (a few ms)."""
    from zobench_plugins.algorithms._ppo_rm_compiled import bt_hessian, bt_structure

    rng = np.random.default_rng(0)  # its own stream: the run's generator is not touched
    K = HESSIAN_MIN_PAIRS
    X = rng.normal(size=(K, D)) * (rng.random((K, D)) < 0.2)
    curvature = rng.random(K) * 0.25
    expected = (X.T * curvature) @ X
    hessian = np.empty((D, D))
    bt_hessian(X, curvature, *bt_structure(X, gemm_blocks(K)), hessian)
    return bool(np.array_equal(hessian, expected))  # equal values: a zero's sign may differ


def fit_bradley_terry(
    X: np.ndarray, y: np.ndarray, ridge: float, steps: int, phi: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Ridge BT maximum likelihood: argmin_φ mean_k ℓ(X_k φ, y_k) + (ρ/2)‖φ‖², by Newton.

    ℓ is the logistic loss; X_k = Φ(τ_k1) − Φ(τ_k0). Gradient Xᵀ(σ(h) − y)/K + ρφ, Hessian
    XᵀWX/K + ρI with W = σ(h)(1 − σ(h)); a tiny jitter keeps the solve defined at ρ = 0.
    Returns φ and the final mean negative log-likelihood.

    Where the kernel is compiled, XᵀWX comes from
    :func:`~zobench_plugins.algorithms._ppo_rm_compiled.bt_hessian`: the BLAS product's sums in
    its order without the zero products (the same bits, checked against the BLAS before use;
    that module says why and how much it saves).
    """
    K, D = X.shape
    phi = np.zeros(D) if phi is None else phi.copy()
    compiled = (
        kernel.compiled_available()
        and K >= HESSIAN_MIN_PAIRS
        and X.flags.c_contiguous
        and _compiled_hessian_matches_blas(D)
    )
    if compiled:
        from zobench_plugins.algorithms._ppo_rm_compiled import bt_hessian, bt_structure

        structure = bt_structure(X, gemm_blocks(K))  # X is the same in every step
        product = np.empty((D, D))
    else:
        # XᵀW, written into one buffer for all steps: a fresh K × D array per step costs more in
        # page faults than the product (the buffer has the layout X.T * curvature would have,
        # so the matrix product below is the same BLAS call and gives the same bits)
        weighted = np.empty((K, D)).T
    for _ in range(steps):
        # from φ = 0, h = Xφ is all (signed) zeros, whose σ(h) = 1/2 is that of zeros(K)
        h = X @ phi if phi.any() else np.zeros(K)
        slope = logistic_slope(h, y)
        curvature = (slope + y) * (1.0 - slope - y)  # σ(h)(1 − σ(h))
        grad = X.T @ slope / K + ridge * phi
        if compiled:
            bt_hessian(X, curvature, *structure, product)
        else:
            np.multiply(X.T, curvature, out=weighted)
            product = weighted @ X
        hessian = product / K + (ridge + 1e-9) * np.eye(D)
        delta = np.linalg.solve(hessian, grad)
        phi -= delta
        if np.abs(delta).max() < 1e-7:
            break
    return phi, float(logistic_loss(X @ phi, y).mean())


# ---------------------------------------------------------------------------------------------
# 2. PPO with GAE and a tabular value, on whatever per-step rewards it is given
# ---------------------------------------------------------------------------------------------


def gae(
    rewards: np.ndarray, values: np.ndarray, gamma: float, lam: float
) -> tuple[np.ndarray, np.ndarray]:
    """GAE(λ) advantages and λ-return targets, ``(B, H, n)`` each (Schulman et al. 2016).

    ``values`` is ``(B, H + 1, n)`` with V = 0 after the last step (episodes end at H).
    δ_t = r_t + γ V_{t+1} − V_t;  A_t = δ_t + γλ A_{t+1}.
    """
    deltas = rewards + gamma * values[:, 1:] - values[:, :-1]
    advantages = np.empty_like(deltas)
    running = np.zeros(deltas[:, 0].shape)
    for t in range(deltas.shape[1] - 1, -1, -1):  # backwards in time, vectorized over (B, n)
        running = deltas[:, t] + gamma * lam * running
        advantages[:, t] = running
    return advantages, advantages + values[:, :-1]


class PPO:
    """PPO's state: θ, Adam's moments and the tabular value V[i, t, s] (V[:, H] = 0)."""

    def __init__(self, theta: np.ndarray, horizon: int, config: PPORMConfig) -> None:
        n, S, _ = theta.shape
        self.theta = theta
        self.value = np.zeros((n, horizon + 1, S))
        self.optimizer = Adam(config.learning_rate)
        self.config = config

    def update(
        self, traj: Trajectories, rewards: np.ndarray, gamma: float, rng: np.random.Generator
    ) -> dict[str, float]:
        """One PPO iteration on a batch and its per-step rewards ``(B, H, n)``."""
        c = self.config
        B, H, n = traj.actions.shape
        states, actions = traj.states[:, :-1], traj.actions
        agent = np.arange(n)
        times = np.arange(H + 1)[None, :, None]
        values = self.value[agent, times, traj.states]  # (B, H + 1, n); V[:, H] stays 0
        advantages, targets = gae(rewards, values, gamma, c.gae_lambda)
        if c.credit == "global":
            advantages = np.broadcast_to(advantages.mean(axis=2, keepdims=True), advantages.shape)
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        # value: each visited cell (i, t, s) moves towards the mean of its λ-return targets
        flat = ((agent * (H + 1) + times[:, :-1]) * self.value.shape[2] + states).ravel()
        sums = np.bincount(flat, weights=targets.ravel(), minlength=self.value.size)
        visits = np.bincount(flat, minlength=self.value.size)
        seen = visits > 0
        table = self.value.reshape(-1)
        table[seen] += c.value_rate * (sums[seen] / visits[seen] - table[seen])

        # every pass scores the same visited cells: one flat index per step, gathered per batch
        visited = policy.cell_index(self.theta.shape, states, actions)
        old = policy.log_prob_cells(self.theta, visited)
        clipped = 0.0
        for _ in range(c.epochs):
            for batch in np.array_split(rng.permutation(B), c.minibatches):
                cells, adv = visited[batch], advantages[batch]
                ratio = np.exp(policy.log_prob_cells(self.theta, cells) - old[batch])
                # the min picks the clipped term (zero gradient) when ρ left [1−ε, 1+ε] in the
                # direction the advantage favours
                active = ~(((adv > 0) & (ratio > 1 + c.clip)) | ((adv < 0) & (ratio < 1 - c.clip)))
                clipped += 1.0 - active.mean()
                ascent = policy.score_cells(self.theta, cells, ratio * adv * active / adv.size)
                self.theta = self.optimizer.step(self.theta, -ascent)
        return {
            "clip_fraction": clipped / (c.epochs * c.minibatches),
            "mean_reward": float(rewards.mean()),
        }


def ppo_iteration(
    problem: Problem, ppo: PPO, rewards_of: Callable[[Trajectories], np.ndarray]
) -> dict[str, float]:
    """B fresh episodes of π_θ, their rewards from ``rewards_of`` (learned, or true in tests),
    then one PPO update."""
    traj = problem.rollout(ppo.theta, ppo.config.episodes)
    return ppo.update(traj, rewards_of(traj), problem.env.gamma, problem.rng)


class PPORM(api.Algorithm[PPORMConfig]):
    """Reward model by BT maximum likelihood on labelled pairs, then PPO on the learned reward."""

    name = "ppo-rm"
    summary = (
        "PPO on a tabular Bradley-Terry reward model fit to labelled pairs (default 2M votes = "
        "zpg's 500 iterations); preference-only."
    )
    source = "Christiano et al. 2017 (reward model) + Schulman et al. 2017 (PPO); arXiv 2409.17401"
    Config = PPORMConfig
    # the conformance kit's tiny runs: not 2M votes up front
    tiny_settings: ClassVar[dict[str, int]] = {"pairs": 2000}
    consumes = frozenset({Channel.PREFERENCES})

    def __init__(self, config: PPORMConfig, problem: Problem) -> None:
        super().__init__(config, problem)
        env = problem.env
        self.per_agent = config.reward_model == "per-agent"
        self.size = env.n_states * env.n_actions * (env.n_agents if self.per_agent else 1)
        self.step_weights = env.gamma ** np.arange(env.horizon)  # public: the objective's γ
        self.ppo = PPO(self.theta, env.horizon, config)
        self.X = np.zeros((0, self.size))
        self.y = np.zeros(0)
        self.phi: np.ndarray | None = None
        self.bt_loss = float("nan")
        """Mean negative BT log-likelihood of the last fit (a diagnostic)."""
        self.iteration = 0

    def _features(self, traj: Trajectories) -> np.ndarray:
        env = self.problem.env
        index = cells(traj, env.n_states, env.n_actions, self.per_agent)
        return features(index, self.step_weights[: traj.horizon], self.size)

    def refit(self, pairs: int) -> float:
        """Label ``pairs`` new pairs of the current policy, add them, refit φ; the BT loss."""
        c = self.config
        first, second, p_hat = labelled_pairs(
            self.problem, self.theta, self.theta, pairs, c.evaluators
        )
        env = self.problem.env
        X = pair_features(
            first,
            second,
            env.n_states,
            env.n_actions,
            self.per_agent,
            self.step_weights[: first.horizon],
            self.size,
        )
        y = labels_from_votes(p_hat, c.label, self.problem.rng)
        if len(self.y):  # a refresh adds to the pairs so far (the first fit copies nothing)
            X, y = np.concatenate([self.X, X]), np.concatenate([self.y, y])
        self.X, self.y = X, y
        self.phi, loss = fit_bradley_terry(self.X, self.y, c.ridge, c.newton_steps, self.phi)
        return loss

    def learned_rewards(self, traj: Trajectories) -> np.ndarray:
        """r̂_i(t) = r_φ(s_i(t), a_i(t)), ``(B, H, n)``; never the true rewards."""
        if self.phi is None:
            raise RuntimeError("learned_rewards before the reward model's first fit")
        env = self.problem.env
        return self.phi[cells(traj, env.n_states, env.n_actions, self.per_agent)]

    def step(self) -> Mapping[str, float]:
        """Fit (or refresh) the reward model when due, then one PPO iteration on it."""
        c = self.config
        if self.phi is None:
            self.bt_loss = self.refit(c.pairs)  # step 1, from π_ref = π_θ0
        elif c.refresh_every and self.iteration % c.refresh_every == 0:
            self.bt_loss = self.refit(c.refresh_pairs)
        self.iteration += 1
        diagnostics = ppo_iteration(self.problem, self.ppo, self.learned_rewards)  # step 2
        self.theta = self.ppo.theta
        return {"bt_loss": self.bt_loss, **diagnostics}


# END ALGO LOGIC


@zobench.hookimpl
def zobench_register_algorithms(register):
    """Register PPO-RM."""
    register(PPORM)
