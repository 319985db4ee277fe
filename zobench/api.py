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
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

import numpy as np

# the contracts speak in the kernel's types (re-exported: zobench.api.TransitionTables)
from zobench import kinds
from zobench.sim.types import Channel, StepTable, TransitionTables, channels
from zobench.sim.types import ReferenceKind as ReferenceKind  # what normalized scores' 1 is
from zobench.space import TUNE_METADATA, SearchSpace

if TYPE_CHECKING:
    from zobench.sim.network import Network
    from zobench.sim.problem import Problem

KINDS: tuple[str, ...] = kinds.NAMES
"""Every kind of component a plugin may register, in the order the CLI lists them (the names of
:data:`zobench.kinds.KINDS`)."""

Provenance = Literal["paper", "author-code", "library", "ours"]
"""Where a default comes from: a paper's text, the paper author's public code, the wrapped
library's own default (a Gymnasium environment's constructor argument), or zobench's choice."""

PROVENANCES: tuple[str, ...] = ("paper", "author-code", "library", "ours")


def param(
    default: Any = dataclasses.MISSING,
    doc: str = "",
    *,
    source: Provenance = "ours",
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
    tune: SearchSpace | None = None,
) -> Any:
    """Declare one documented Config field.

    ``doc`` says what the setting means (shown by ``zobench info``); ``source`` says whether the
    default value is the paper's, the paper author's code's, a wrapped library's own default
    (``library``), or our own choice where the paper is silent, so a reader of a leaderboard
    knows which numbers are assumptions. ``tune`` is the search space ``zobench tune`` samples
    the setting from (see :mod:`zobench.space`).
    """
    if source not in PROVENANCES:
        raise ValueError(f"source must be one of {PROVENANCES}, not {source!r}")
    metadata = {"doc": doc, "source": source, TUNE_METADATA: tune}
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class EmptyConfig:
    """A component without settings."""


ConfigT = TypeVar("ConfigT")


class Component(Generic[ConfigT]):
    """Base of every registered component class.

    Subclasses set ``name`` (the registry key, lower-case with dashes), ``summary`` (one line),
    ``source`` (the paper or reference the component implements, or ``""``) and ``Config``.
    """

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    source: ClassVar[str] = ""
    Config: ClassVar[type[Any]] = EmptyConfig

    config: ConfigT

    def __init__(self, config: ConfigT | None = None) -> None:
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
    def input_files(cls, config: Any) -> list[str]:
        """Paths of the files this component reads with ``config`` (an edge list, a table).

        Their content enters the run's code fingerprint, so editing such a file recomputes the
        runs that read it instead of reusing their stored numbers. Paths are as the component
        opens them (relative ones from the working directory).
        """
        return []

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


class Environment(Component[ConfigT]):
    """A finite, vectorized, possibly multi-agent MDP with a fixed episode length.

    Every agent has ``n_states`` local states and ``n_actions`` local actions. Episodes last
    exactly ``horizon`` steps (a reached goal is an absorbing state); the objective is
    ``J(θ) = E[Σ_{t<H} γ^t (1/n) Σ_i r_i(t)]``.

    Randomness comes in only as uniform noise arrays drawn by the caller, shaped
    ``(batch, n_agents, noise_dims)`` with values in ``[0, 1)``: that is what lets two rollouts
    share their environment randomness (common random numbers) and keeps results identical
    whatever executes them.
    """

    kind = kinds.ENVIRONMENT.name
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
    bound return differences (the trimming bound B of docs/algorithms.md#trimming); environments whose rewards do
    not lie in an interval of width 1 must set it. The conformance kit checks it."""
    reward_span_source: str = "declared"
    """How :attr:`reward_span` was obtained, recorded with every run: ``"declared"`` by the
    environment, ``"table"`` (read from its model), ``"setting"`` (the user's), or
    ``"probe: <N> episodes"`` when the environment estimated it from N episodes of its own at
    build time. A probe is part of building the environment, so no algorithm's budget is
    charged for it."""
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

        Without :meth:`exact_optimum` or :meth:`optimum_bounds`, its Monte Carlo value serves as
        the "optimal" reference for normalized scores, labelled "approximate" in the results;
        with bounds that leave the lower end open, its value is that lower end. ``None`` means
        no reference is known.
        """
        return None

    def exact_optimum(self) -> float | None:
        """The exact optimal J of this instance (connected to its network), or ``None``.

        The best J of any policy, joint and time-dependent ones included, computed exactly (by
        dynamic programming over structure that the joint tables of :meth:`tables` cannot
        hold). Normalized scores then use it, labelled "exact". The core calls it once per
        instance and caches the result on disk, keyed by the environment's resolved config, the
        network and the code fingerprint of the environment's modules, so it may take minutes
        once; return ``None`` quickly when the instance is beyond what you can compute.
        Environments with :meth:`tables` need not implement it: the core's dynamic program over
        the tables is exact already.
        """
        return None

    def optimum_bounds(self) -> tuple[float | None, float] | None:
        """A certified bracket ``(lower, upper)`` on the optimal J of this instance, or ``None``.

        ``upper`` must be proven: no policy's J exceeds it (a relaxation, say). ``lower`` is a
        value some policy is known to reach, or ``None`` for the Monte Carlo value of
        :meth:`reference_policy` as the core evaluates it. Asked only when
        :meth:`exact_optimum` gives nothing; normalized scores then use ``upper`` (1 = the
        bound, which no learner can exceed) and results say "certified bound [lower, upper]".
        Cached on disk like :meth:`exact_optimum`.
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


PreferenceConfigT = TypeVar("PreferenceConfigT", bound=PreferenceConfig)


class PreferenceModel(Component[PreferenceConfigT]):
    """A link function σ with its inverse: ``P(τ1 ≻ τ0) = σ((R(τ1) − R(τ0)) / scale)``.

    Subclasses implement the unit-scale :meth:`sigma` and :meth:`sigma_inverse`; the scaled
    :meth:`link` and :meth:`inverse` are derived. Configs must extend :class:`PreferenceConfig`.
    """

    kind = kinds.PREFERENCE.name
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


class Topology(Component[ConfigT]):
    """Builds the agents' communication network."""

    kind = kinds.TOPOLOGY.name

    def build(self, n_agents: int, rng: np.random.Generator) -> Network:
        """The network over ``n_agents`` agents (``rng`` for random graphs; seeded by the run)."""
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------
# Algorithms
# ---------------------------------------------------------------------------------------------


class Algorithm(Component[ConfigT]):
    """Learns tabular softmax parameters θ, shaped ``(n_agents, n_states, n_actions)``.

    The runner constructs it with its config and the :class:`~zobench.sim.problem.Problem`, then
    calls :meth:`step` once per iteration and evaluates :attr:`theta` every ``eval_every``
    iterations. Everything the algorithm learns from goes through ``problem``: rollouts (states
    and actions, no rewards) and the channels it declares in :attr:`consumes`, each charged to
    the ledger by the core. Using a channel it did not declare raises a
    :class:`~zobench.errors.ChannelError`.
    """

    kind = kinds.ALGORITHM.name
    consumes: ClassVar[frozenset[Channel]] = frozenset({Channel.PREFERENCES})
    """The channels the algorithm learns from: ``"preferences"`` (the panel's votes),
    ``"rewards"`` (true rewards and returns) and ``"model"`` (transition tables, reference
    policy). Default: preferences only. Leaderboards rank reward and model readers apart."""
    tiny_settings: ClassVar[Mapping[str, Any]] = {}
    """Settings the conformance kit's tiny runs use over the defaults (e.g. a smaller offline
    dataset than a full run's), so the kit stays quick; none by default."""
    uses_rewards: ClassVar[bool] = False
    """Deprecated spelling of ``"rewards" in consumes``; kept in step with :attr:`consumes`.
    A subclass that sets only ``uses_rewards = True`` consumes preferences and rewards."""

    theta: np.ndarray

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__
        if "consumes" in own:
            cls.consumes = channels(own["consumes"])
        elif "uses_rewards" in own:
            warnings.warn(
                f"{cls.__qualname__}: `uses_rewards` is deprecated; declare "
                "`consumes = frozenset({'preferences', 'rewards'})` (or the channels it uses)",
                DeprecationWarning,
                stacklevel=2,
            )
            base = {c for c in cls.consumes if c is not Channel.REWARDS}
            cls.consumes = frozenset(base | ({Channel.REWARDS} if own["uses_rewards"] else set()))
        cls.uses_rewards = Channel.REWARDS in cls.consumes

    def __init__(self, config: ConfigT, problem: Problem) -> None:
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


@dataclass(frozen=True)
class TaskLost:
    """What an executor yields in place of ``fn(task)`` when no result can come back.

    The task's worker died (``os._exit``, a crash in native code, killed for memory) or did not
    answer within ``task_timeout`` and was stopped. The other tasks go on; the scheduler records
    the run as failed with ``reason``.
    """

    reason: str
    """One line saying what happened, e.g. "the worker process exited with code 0 during the run"."""
    seconds: float = 0.0
    """Wall-clock seconds from handing the task to a worker until it was given up."""


class Executor(Component[ConfigT]):
    """Runs independent tasks, possibly in parallel, and yields results as they finish.

    ``fn`` and the tasks must be picklable (module-level functions, plain data). Results must not
    depend on which worker ran a task: every task carries its own seed.
    """

    kind = kinds.EXECUTOR.name

    def map_unordered(
        self,
        fn: Callable[[TaskT], ResultT],
        tasks: Sequence[TaskT],
        *,
        task_timeout: float | None = None,
    ) -> Iterator[tuple[int, ResultT | TaskLost]]:
        """Yield ``(index into tasks, fn(task))`` in completion order.

        A task whose worker dies, or that has not answered after ``task_timeout`` seconds (the
        worker is then stopped), yields a :class:`TaskLost` instead; the other tasks go on.
        ``fn`` enforces the run's own time limit; ``task_timeout`` is the backstop for a worker
        stuck where that limit cannot reach (native code). An executor that cannot stop its
        workers may ignore it.
        """
        raise NotImplementedError


@dataclass(frozen=True)
class SuiteDefinition:
    """A named suite that a plugin ships: its TOML text, checked when it is run or validated."""

    name: str
    summary: str
    toml: str
    kind: ClassVar[str] = kinds.SUITE.name
