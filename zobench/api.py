"""The plugin contracts: what a plugin author subclasses.

Every component is a class with a ``Config`` dataclass (one documented field per setting, made
with :func:`param`) and class-level metadata: ``name``, a one-line ``summary`` and the ``source``
paper. Plugins hand their classes to the host through the registrar hooks of
:mod:`zobench.hookspecs`.

Shapes follow one rule: batch dimension first, then time, then agents, e.g. states
``(batch, horizon + 1, n_agents)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import numpy as np

if TYPE_CHECKING:
    from zobench.sim.network import Network
    from zobench.sim.problem import Problem

KINDS: tuple[str, ...] = (
    "algorithm",
    "environment",
    "preference-model",
    "topology",
    "executor",
    "suite",
)
"""Every kind of component a plugin may register, in the order the CLI lists them."""

Provenance = Literal["paper", "author-code", "ours"]
"""Where a default comes from: a paper's text, the paper author's public code, or zobench's choice."""

PROVENANCES: tuple[str, ...] = ("paper", "author-code", "ours")


def param(
    default: Any = dataclasses.MISSING,
    doc: str = "",
    *,
    source: Provenance = "ours",
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
) -> Any:
    """Declare one documented Config field.

    ``doc`` says what the setting means (shown by ``zobench info``); ``source`` says whether the
    default value is the paper's, the paper author's code's, or our own choice where the paper
    is silent, so a reader of a leaderboard knows which numbers are assumptions.
    """
    if source not in PROVENANCES:
        raise ValueError(f"source must be one of {PROVENANCES}, not {source!r}")
    metadata = {"doc": doc, "source": source}
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class EmptyConfig:
    """A component without settings."""


ConfigT = TypeVar("ConfigT")


class Component:
    """Base of every registered component class.

    Subclasses set ``name`` (the registry key, lower-case with dashes), ``summary`` (one line),
    ``source`` (the paper or reference the component implements, or ``""``) and ``Config``.
    """

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    source: ClassVar[str] = ""
    Config: ClassVar[type] = EmptyConfig

    config: Any

    def __init__(self, config: Any = None) -> None:
        self.config = self.Config() if config is None else config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    @classmethod
    def dependency_versions(cls) -> dict[str, str]:
        """Versions of libraries outside the plugin's own distribution that shape its numbers.

        They enter run ids next to the plugin's version, so upgrading such a library (Gymnasium
        for the gym adapter) recomputes stored runs instead of silently reusing them.
        """
        return {}

    @classmethod
    def resolve(cls, suffix: str) -> type[Component]:
        """The class serving ``name:suffix`` when this component is a family (e.g. ``gym:<EnvId>``).

        A family overrides this to build (and may cache) a concrete class, whose ``Config`` can be
        made for the suffix. Plain components take no suffix.
        """
        from zobench.errors import UnknownComponentError

        raise UnknownComponentError(f"{cls.kind} '{cls.name}' takes no ':{suffix}' suffix")


# ---------------------------------------------------------------------------------------------
# Environments
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransitionTables:
    """A tabular model of the joint MDP, for exact evaluation and dynamic programming.

    Joint states and actions are indexed in mixed radix, agent 0 least significant:
    ``s = Σ_i s_i · S^i`` and ``a = Σ_i a_i · A^i`` (see :mod:`zobench.sim.evaluate`).
    """

    transitions: np.ndarray
    """``P[s, a, s']``, shape ``(S_joint, A_joint, S_joint)``; rows sum to 1."""
    rewards: np.ndarray
    """Expected reward averaged over agents, ``R[s, a] = E[(1/n) Σ_i r_i | s, a]``."""
    initial: np.ndarray
    """Initial joint-state distribution ``ρ``, shape ``(S_joint,)``."""


@dataclass(frozen=True, eq=False)
class StepTable:
    """An environment's step as lookup tables, so the rollout kernel can run it compiled.

    It applies when every agent moves on its own: from local state s by action a, with its first
    noise uniform u, the outcome is ``k = #{j : u >= thresholds[s, a, j]}`` (inverse CDF, as
    actions are sampled), the next state ``next_states[s, a, k]`` and the reward
    ``rewards[s, a, k]``. :meth:`step` is that rule in numpy; an environment that offers a table
    must return exactly it from :meth:`Environment.step` (most simply by calling :meth:`step`),
    so the numpy and compiled rollout paths give bit-identical episodes.
    """

    thresholds: np.ndarray
    """Outcome thresholds ``(S, A, K − 1)``, non-decreasing along the last axis, or ``(K − 1,)``
    shared by every (state, action). ``+inf`` marks outcomes a uniform can never reach."""
    next_states: np.ndarray
    """Next local state of every (state, action, outcome), ``(S, A, K)`` int."""
    rewards: np.ndarray
    """Reward of every (state, action, outcome), ``(S, A, K)`` float."""

    next_flat: np.ndarray = field(init=False, repr=False)
    """``next_states`` flattened: entry ``(s·A + a)·K + k``."""
    reward_flat: np.ndarray = field(init=False, repr=False)
    """``rewards`` flattened like :attr:`next_flat`."""
    threshold_rows: np.ndarray = field(init=False, repr=False)
    """``thresholds`` as rows ``(S·A or 1, K − 1)``: one row per (state, action), or one shared."""

    def __post_init__(self) -> None:
        S, A, K = self.next_states.shape
        if self.rewards.shape != (S, A, K):
            raise ValueError(f"rewards {self.rewards.shape} and next_states {(S, A, K)} differ")
        if self.thresholds.shape not in ((K - 1,), (S, A, K - 1)):
            raise ValueError(
                f"thresholds {self.thresholds.shape} fit neither {(K - 1,)} nor {(S, A, K - 1)}"
            )
        # flat, contiguous copies for one gather per step (numpy) and for the compiled kernel
        flat = {
            "next_flat": np.ascontiguousarray(self.next_states, dtype=np.int64).reshape(-1),
            "reward_flat": np.ascontiguousarray(self.rewards, dtype=np.float64).reshape(-1),
            "threshold_rows": np.ascontiguousarray(self.thresholds, dtype=np.float64).reshape(
                1 if self.thresholds.ndim == 1 else S * A, K - 1
            ),
        }
        for name, value in flat.items():
            object.__setattr__(self, name, value)

    @property
    def shared(self) -> bool:
        """True when one row of thresholds serves every (state, action)."""
        return self.thresholds.ndim == 1

    def step(
        self, states: np.ndarray, actions: np.ndarray, uniforms: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Next states and rewards for ``states``, ``actions`` and one uniform each (any shape)."""
        _, A, K = self.next_states.shape
        index = states * A + actions
        if K > 1:
            index *= K
            if self.shared:
                index += np.searchsorted(self.threshold_rows[0], uniforms, side="right")
            else:
                rows = self.threshold_rows[index // K]
                index += (uniforms[..., None] >= rows).sum(axis=-1)
        return np.take(self.next_flat, index), np.take(self.reward_flat, index)


class Environment(Component):
    """A finite, vectorized, possibly multi-agent MDP with a fixed episode length.

    Every agent has ``n_states`` local states and ``n_actions`` local actions. Episodes last
    exactly ``horizon`` steps (a reached goal is an absorbing state); the objective is
    ``J(θ) = E[Σ_{t<H} γ^t (1/n) Σ_i r_i(t)]``.

    Randomness comes in only as uniform noise arrays drawn by the caller, shaped
    ``(batch, n_agents, noise_dims)`` with values in ``[0, 1)``: that is what lets two rollouts
    share their environment randomness (common random numbers) and keeps results identical
    whatever executes them.
    """

    kind = "environment"
    networked: ClassVar[bool] = False
    """True when the dynamics or rewards couple agents through a network (needs a topology)."""
    default_topology: ClassVar[str] = "isolated"
    """Topology used when a suite names none."""

    n_agents: int
    n_states: int
    n_actions: int
    horizon: int
    gamma: float
    noise_dims: int = 1
    reward_span: float = 1.0
    """Width (max − min) of each agent's per-step reward. Preference-only algorithms read it to
    bound return differences (the trimming bound B of spec §1); environments whose rewards do
    not lie in an interval of width 1 must set it. The conformance kit checks it."""
    network: Network | None = None

    def connect(self, network: Network) -> None:
        """Attach the agents' network (called by the runner before the first reset)."""
        if network.n_agents != self.n_agents:
            raise ValueError(
                f"network has {network.n_agents} agents, environment has {self.n_agents}"
            )
        self.network = network

    def reset(self, noise: np.ndarray) -> np.ndarray:
        """Initial local states ``(batch, n_agents)`` (int) from noise ``(batch, n, noise_dims)``."""
        raise NotImplementedError

    def step(
        self, states: np.ndarray, actions: np.ndarray, noise: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One step for a batch: ``(next_states (B, n) int, rewards (B, n) float)``."""
        raise NotImplementedError

    def tables(self) -> TransitionTables | None:
        """The joint tabular model, or ``None`` when it is too large (Monte Carlo evaluation)."""
        return None

    def step_table(self) -> StepTable | None:
        """The step as lookup tables (see :class:`StepTable`), or ``None``.

        Optional: with a table, rollouts run in zobench's compiled kernel instead of calling
        :meth:`step` once per time step. Return the same object on every call.
        """
        return None

    def reference_policy(self) -> np.ndarray | None:
        """Parameters ``θ`` of a known (near-)optimal policy, when no tables exist.

        Its Monte Carlo value serves as the "optimal" reference for normalized scores, labelled as
        an approximation in the results. ``None`` means no reference is known.
        """
        return None


# ---------------------------------------------------------------------------------------------
# Preference models
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreferenceConfig:
    """Settings every preference model shares: the link's scale and the teachers' irrationalities.

    The irrationalities are B-Pref's simulated-teacher options; all are off by default.
    """

    scale: float = param(1.0, "Temperature s of the link: P(τ1 ≻ τ0) = σ((R1 − R0) / s).")
    mistake: float = param(
        0.0, "Probability that a teacher flips its vote (B-Pref's 'mistake' teacher)."
    )
    myopia: float = param(
        1.0,
        "Discount the teacher applies to its own view of a trajectory, weighting step t by "
        "myopia^(H-1-t) so late steps count most; 1 means no myopia (B-Pref's 'myopic' teacher).",
    )
    skip: float = param(
        0.0,
        "Teachers skip a pair when both returns are below this threshold; a skipped pair "
        "gets a fair coin (B-Pref's 'skip' teacher). 0 disables skipping.",
    )
    equal: float = param(
        0.0,
        "Pairs whose returns differ by less than this are declared equal and voted 1/2 "
        "(B-Pref's 'equal' teacher). 0 disables it.",
    )

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError(f"scale must be positive, got {self.scale}")
        if not 0.0 <= self.mistake <= 1.0:
            raise ValueError(f"mistake must lie in [0, 1], got {self.mistake}")
        if not 0.0 < self.myopia <= 1.0:
            raise ValueError(f"myopia must lie in (0, 1], got {self.myopia}")
        if self.equal < 0:
            raise ValueError(f"equal must be >= 0, got {self.equal}")


class PreferenceModel(Component):
    """A link function σ with its inverse: ``P(τ1 ≻ τ0) = σ((R(τ1) − R(τ0)) / scale)``.

    Subclasses implement the unit-scale :meth:`sigma` and :meth:`sigma_inverse`; the scaled
    :meth:`link` and :meth:`inverse` are derived. Configs must extend :class:`PreferenceConfig`.
    """

    kind = "preference-model"
    Config = PreferenceConfig
    symmetric: ClassVar[bool] = True
    """True when σ(−x) = 1 − σ(x)."""

    def sigma(self, x: np.ndarray) -> np.ndarray:
        """The link at unit scale, increasing from 0 to 1."""
        raise NotImplementedError

    def sigma_inverse(self, p: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`sigma` on the open interval where it is defined."""
        raise NotImplementedError

    def link(self, x: np.ndarray) -> np.ndarray:
        """Probability that the second trajectory wins given the return difference ``x``."""
        return self.sigma(np.asarray(x, dtype=float) / self.config.scale)

    def inverse(self, p: np.ndarray) -> np.ndarray:
        """Return difference implied by the win probability ``p`` (inverse of :meth:`link`)."""
        return self.config.scale * self.sigma_inverse(np.asarray(p, dtype=float))


# ---------------------------------------------------------------------------------------------
# Topologies
# ---------------------------------------------------------------------------------------------


class Topology(Component):
    """Builds the agents' communication network."""

    kind = "topology"

    def build(self, n_agents: int, rng: np.random.Generator) -> Network:
        """The network over ``n_agents`` agents (``rng`` for random graphs; seeded by the run)."""
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------
# Algorithms
# ---------------------------------------------------------------------------------------------


class Algorithm(Component):
    """Learns tabular softmax parameters θ, shaped ``(n_agents, n_states, n_actions)``.

    The runner constructs it with its config and the :class:`~zobench.sim.problem.Problem`, then
    calls :meth:`step` once per iteration and evaluates :attr:`theta` every ``eval_every``
    iterations. Everything the algorithm learns from goes through ``problem`` (rollouts, the
    panel's votes, and, only when ``uses_rewards`` is true, rewards), which charges the ledger.
    """

    kind = "algorithm"
    uses_rewards: ClassVar[bool] = False
    """Declare True to read rewards; a preference-only algorithm that asks is refused."""

    theta: np.ndarray

    def __init__(self, config: Any, problem: Problem) -> None:
        super().__init__(config)
        self.problem = problem
        self.theta = problem.initial_theta()

    def step(self) -> Mapping[str, float]:
        """One iteration. Returns diagnostics, recorded as ``diag_<key>`` columns."""
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------
# Executors and suites
# ---------------------------------------------------------------------------------------------

TaskT = TypeVar("TaskT")
ResultT = TypeVar("ResultT")


class Executor(Component):
    """Runs independent tasks, possibly in parallel, and yields results as they finish.

    ``fn`` and the tasks must be picklable (module-level functions, plain data). Results must not
    depend on which worker ran a task: every task carries its own seed.
    """

    kind = "executor"

    def map_unordered(
        self, fn: Callable[[TaskT], ResultT], tasks: Sequence[TaskT]
    ) -> Iterator[tuple[int, ResultT]]:
        """Yield ``(index into tasks, fn(task))`` in completion order."""
        raise NotImplementedError


@dataclass(frozen=True)
class SuiteDefinition:
    """A named suite that a plugin ships: its TOML text, checked when it is run or validated."""

    name: str
    summary: str
    toml: str
    kind: ClassVar[str] = "suite"
