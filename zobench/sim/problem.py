"""The problem an algorithm is handed, and the core's simulation behind it.

Honesty by construction. The core builds one :class:`Simulation` per run: the environment, the
network, the panel, the random streams, the ledger and the rewards of every episode. The
algorithm gets its :class:`Problem`, a facade that exposes only

- to every algorithm: an :class:`EnvironmentDescription` (sizes, horizon, γ, reward span,
  network), rollouts whose :class:`~zobench.sim.rollout.Trajectories` carry states and actions
  but no rewards, the preference model's link, its own generator, a read-only view of the
  ledger and the communication primitive :meth:`Problem.gather`;
- the channels it declares (:class:`~zobench.sim.types.Channel`): ``preferences`` (the panel's
  votes, :class:`PanelChannel`), ``rewards`` (:meth:`Problem.rewards`, :meth:`Problem.returns`)
  and ``model`` (:class:`ModelChannel`: transition tables, reference policy).

Using an undeclared channel raises a :class:`~zobench.errors.ChannelError` naming the algorithm
and the channel. Every spend is charged by the core on the core's ledger. Python cannot make
anything private; the facade leaves no public route, and the conformance kit's honesty check
(:func:`zobench.sim.tripwires.tripwires`) turns the private ones into failures too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from zobench.errors import ChannelError, RewardAccessError
from zobench.sim import policy as softmax
from zobench.sim.channels import EnvironmentDescription, ModelChannel, PanelChannel, read_only
from zobench.sim.ledger import LedgerView
from zobench.sim.network import Network
from zobench.sim.rollout import Episodes, Trajectories, paired_rollout, rollout
from zobench.sim.tripwires import (
    CoreLedger,
    CorePanel,
    RewardTable,
    TripwiredEnvironment,
    armed,
)
from zobench.sim.types import (
    Channel,
    EnvironmentLike,
    LinkLike,
    TransitionTables,
    channels,
)

DEFAULT_CHANNELS: frozenset[Channel] = frozenset({Channel.PREFERENCES})
"""What an algorithm consumes unless it declares otherwise: the panel's votes."""

# ---------------------------------------------------------------------------------------------
# The facade
# ---------------------------------------------------------------------------------------------


class Problem:
    """What one run's algorithm works on: the facade of a :class:`Simulation`.

    Built by :func:`build_problem` (or the runner, through :func:`build_simulation`). Its
    attributes cannot be replaced.
    """

    __slots__ = ("_channels", "_environment", "_ledger", "_model", "_panel", "_simulation")
    _channels: frozenset[Channel]
    _environment: EnvironmentDescription
    _ledger: LedgerView
    _model: ModelChannel
    _panel: PanelChannel
    _simulation: Simulation

    def __init__(self, simulation: Simulation) -> None:
        sim = simulation
        env = sim.env
        put = object.__setattr__
        put(self, "_simulation", sim)
        put(self, "_channels", sim.consumes)
        put(
            self,
            "_environment",
            EnvironmentDescription(
                name=str(getattr(env, "name", "")),
                n_agents=int(env.n_agents),
                n_states=int(env.n_states),
                n_actions=int(env.n_actions),
                horizon=int(env.horizon),
                gamma=float(env.gamma),
                reward_span=float(env.reward_span),
                network=sim.network,
                noise_dims=int(env.noise_dims),
                networked=bool(getattr(env, "networked", False)),
                owner=sim.algorithm,
            ),
        )
        put(self, "_ledger", sim.ledger.view(sim.algorithm))
        put(self, "_panel", PanelChannel(sim))
        put(self, "_model", ModelChannel(sim))

    def __setattr__(self, name: str, value: Any) -> None:
        what = "the ledger" if name == "ledger" else f"problem.{name}"
        raise ChannelError(
            f"tried to replace {what}: the problem is the core's and cannot be changed",
            algorithm=self._simulation.algorithm,
            channel="ledger" if name == "ledger" else "problem",
        )

    def _require(self, channel: Channel, what: str) -> None:
        if channel not in self._channels:
            declared = ", ".join(sorted(c.value for c in self._channels)) or "nothing"
            error = RewardAccessError if channel is Channel.REWARDS else ChannelError
            raise error(
                f"used {what} (channel '{channel.value}') but declares only: {declared}. "
                f"Add '{channel.value}' to the algorithm's `consumes` to use it (and be charged)",
                algorithm=self._simulation.algorithm,
                channel=channel.value,
            )

    # -- public facts ------------------------------------------------------------------------

    @property
    def consumes(self) -> frozenset[Channel]:
        """The channels the algorithm declared."""
        return self._channels

    @property
    def uses_rewards(self) -> bool:
        """True when the ``rewards`` channel is declared (the older spelling)."""
        return Channel.REWARDS in self._channels

    @property
    def environment(self) -> EnvironmentDescription:
        """The environment's description (sizes, horizon, γ, reward span, network)."""
        return self._environment

    @property
    def env(self) -> EnvironmentDescription:
        """Alias of :attr:`environment` (a description: it cannot step nor give its model)."""
        return self._environment

    @property
    def network(self) -> Network:
        """The agents' network."""
        return self._simulation.network

    @property
    def preference(self) -> LinkLike:
        """The preference model: the link σ the panel's evaluators vote through."""
        return self._simulation.preference

    @property
    def rng(self) -> np.random.Generator:
        """The algorithm's own randomness (perturbations, mini-batches, ...)."""
        return self._simulation.rng

    @property
    def ledger(self) -> LedgerView:
        """What the run has spent so far (read-only: the core charges every spend)."""
        return self._ledger

    @property
    def n_agents(self) -> int:
        """Number of agents."""
        return self._environment.n_agents

    @property
    def theta_shape(self) -> tuple[int, int, int]:
        """Shape of the policy parameters: ``(n_agents, n_states, n_actions)``."""
        e = self._environment
        return (e.n_agents, e.n_states, e.n_actions)

    @property
    def dimension(self) -> int:
        """Number of policy parameters d."""
        n, s, a = self.theta_shape
        return n * s * a

    def initial_theta(self) -> np.ndarray:
        """θ₀ = 0: the uniform policy (docs/algorithms.md#conventions)."""
        return np.zeros(self.theta_shape)

    # -- rollouts (every algorithm) ----------------------------------------------------------

    def rollout(self, theta: np.ndarray, batch: int, *, horizon: int | None = None) -> Trajectories:
        """``batch`` episodes of the policy θ; charges episodes and env steps.

        ``horizon`` shortens episodes below the environment's length (truncated feedback).
        """
        sim = self._simulation
        with sim.world_time():
            return sim.publish(
                rollout(sim.env, theta, batch=batch, rng=sim.episode_rng, horizon=horizon)
            )

    def rollout_pair(
        self,
        theta0: np.ndarray,
        theta1: np.ndarray,
        batch: int,
        *,
        common_noise: bool = False,
        horizon: int | None = None,
    ) -> tuple[Trajectories, Trajectories]:
        """Paired batches of θ₀ and θ₁ from the same initial-state distribution.

        With ``common_noise`` both share initial states, environment noise and action uniforms
        (common random numbers), which lowers the variance of their difference; otherwise they
        are independent. ``horizon`` shortens the episodes (truncated feedback).
        """
        sim = self._simulation
        with sim.world_time():
            first, second = paired_rollout(
                sim.env,
                theta0,
                theta1,
                batch=batch,
                rng=sim.episode_rng,
                common_noise=common_noise,
                horizon=horizon,
            )
            return sim.publish(first), sim.publish(second)

    def log_prob(self, theta: np.ndarray, traj: Trajectories) -> np.ndarray:
        """Per-step log-probabilities ``(B, H, n)`` of the batch's actions under θ."""
        return softmax.log_prob(theta, traj.states[:, :-1], traj.actions)

    def gather(self, kappa: int, *sequences: np.ndarray) -> tuple[np.ndarray, ...]:
        """Every agent receives its κ-hop neighbours' sequences: the one communication primitive.

        Each sequence is shaped ``(B, T, n)`` (per episode, T numbers per agent; T may differ
        between sequences). Returns each gathered in neighbourhood order, ``(B, T, nnz)``, where
        columns ``indptr[i]:indptr[i+1]`` of :meth:`Network.neighbourhood` hold N_i^κ. Charged:
        per episode, one message per (receiver, other member of its neighbourhood) carrying all
        the sequences' values of that member (Σ T numbers).
        """
        _, indices = self.network.neighbourhood(kappa)
        links = len(indices) - self.n_agents
        if not sequences:
            return ()
        episodes = sequences[0].shape[0]
        if any(s.ndim != 3 or s.shape[0] != episodes for s in sequences):
            raise ValueError("gather: every sequence must be (B, T, n_agents) with the same B")
        per_member = sum(int(s.shape[1]) for s in sequences)
        messages = episodes * links
        self._simulation.ledger.charge(messages=messages, values_moved=messages * per_member)
        return tuple(s[..., indices] for s in sequences)

    # -- declared channels -------------------------------------------------------------------

    @property
    def panel(self) -> PanelChannel:
        """The preference channel: the panel's votes (declare ``preferences``)."""
        self._require(Channel.PREFERENCES, "the panel's votes")
        return self._panel

    def rewards(self, traj: Trajectories) -> np.ndarray:
        """The rewards ``(B, H, n)`` of a batch, read-only (declare ``rewards``; charged B·H·n)."""
        self._require(Channel.REWARDS, "rewards")
        sim = self._simulation
        with sim.world_time():
            rewards = sim.rewards.reveal(traj, "the reward channel")
        sim.ledger.charge(reward_obs=rewards.size)
        return read_only(rewards)

    def returns(
        self, traj: Trajectories, *, horizon: int | None = None, kappa: int | None = None
    ) -> np.ndarray:
        """Returns as the panel weighs them, ``(B,)`` or κ-hop ``(B, n)`` (declare ``rewards``).

        Charged as the reward observations they sum: B·H·n for H steps.
        """
        self._require(Channel.REWARDS, "returns")
        sim = self._simulation
        rewards = sim.rewards.reveal(traj, "the reward channel")
        H = rewards.shape[1] if horizon is None else int(horizon)
        sim.ledger.charge(reward_obs=rewards.shape[0] * min(H, rewards.shape[1]) * rewards.shape[2])
        with sim.world_time():
            return sim.panel.returns(rewards, horizon=horizon, kappa=kappa)

    @property
    def model(self) -> ModelChannel:
        """The model channel: tables and reference policy (declare ``model``; charged)."""
        self._require(Channel.MODEL, "the environment's model")
        return self._model

    def __repr__(self) -> str:
        channels_ = ", ".join(sorted(c.value for c in self._channels))
        return f"Problem({self._environment.name!r}, consumes={{{channels_}}})"


# ---------------------------------------------------------------------------------------------
# The core side
# ---------------------------------------------------------------------------------------------


class Simulation:
    """The core's side of one run: the environment, panel, streams, ledger and rewards.

    The runner and the kernel's tests use it; an algorithm gets only :attr:`problem`.
    """

    def __init__(
        self,
        env: EnvironmentLike,
        preference: LinkLike,
        network: Network,
        seed: int,
        *,
        consumes: frozenset[Channel],
        algorithm: str,
        armed: bool,
    ) -> None:
        self.algorithm = algorithm
        """The algorithm's registered name (named in error messages)."""
        self.consumes = consumes
        self.network = network
        self.preference = preference
        armed_for = algorithm if armed else None
        self.env: EnvironmentLike = TripwiredEnvironment(env, algorithm) if armed else env
        algorithm_seq, rollout_seq, panel_seq = np.random.SeedSequence(seed).spawn(3)
        self.rng = np.random.default_rng(algorithm_seq)
        """The algorithm's own randomness."""
        self.episode_rng = np.random.default_rng(rollout_seq)
        """Randomness of the episodes only. Kept apart from the algorithm's own draws so that
        the same seed gives every algorithm the same first episodes, however many perturbations
        it drew before (common random numbers across algorithms)."""
        self.ledger = CoreLedger(armed_for)
        self.panel = CorePanel(
            preference, np.random.default_rng(panel_seq), self.ledger, network, env.gamma
        )
        self.panel._armed_for = armed_for
        self.rewards = RewardTable(algorithm, armed=armed)
        self._tables: list[TransitionTables | None] = []
        self.problem = Problem(self)
        """The facade handed to the algorithm."""
        self.world_s = 0.0
        """Seconds spent simulating the world for the algorithm: its rollouts, the panel's votes
        and revealed rewards. The rest of an iteration is the algorithm's own estimator and
        update, which the runner records as ``update_s``."""

    @contextmanager
    def world_time(self) -> Iterator[None]:
        """Count the enclosed work (a rollout, a vote) as the simulated world's, not the algorithm's."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.world_s += time.perf_counter() - start

    def publish(self, episodes: Episodes) -> Trajectories:
        """Charge a batch, keep its rewards, and hand out its trajectories."""
        traj = episodes.trajectories(self.algorithm)
        self.rewards.keep(traj, episodes.rewards)
        self.ledger.charge_rollout(traj)
        return traj

    def model_tables(self) -> TransitionTables | None:
        """The environment's tables, fetched once, with read-only arrays."""
        if not self._tables:
            tables = self.env.tables()
            if tables is not None:
                tables = TransitionTables(
                    read_only(tables.transitions),
                    read_only(tables.rewards),
                    read_only(tables.initial),
                )
            self._tables.append(tables)
        return self._tables[0]


def build_simulation(
    env: EnvironmentLike,
    preference: LinkLike,
    *,
    network: Network | None = None,
    seed: int,
    consumes: Any = None,
    algorithm: str = "",
    uses_rewards: bool | None = None,
) -> Simulation:
    """The core side of one run: ``env`` connected to ``network``, a panel, a fresh ledger.

    ``network`` defaults to isolated agents (refused for a networked environment). The seed is
    split by :class:`numpy.random.SeedSequence` into three independent streams: the algorithm's
    own draws, the episodes, and the panel's votes. Because episodes and votes do not share a
    stream with the algorithm, the same seed gives every algorithm the same first episodes and
    the same first votes on equal pairs.

    ``consumes`` are the algorithm's declared channels (default: preferences only);
    ``uses_rewards=True`` is the older spelling of adding ``rewards``. Inside
    :func:`zobench.sim.tripwires.tripwires` the simulation is armed.
    """
    if network is None:
        if env.networked:
            raise ValueError(f"environment '{env.name}' is networked and needs a network")
        network = Network.empty(env.n_agents)
    env.connect(network)
    declared = DEFAULT_CHANNELS if consumes is None else channels(consumes)
    if uses_rewards:
        declared = declared | {Channel.REWARDS}
    return Simulation(
        env,
        preference,
        network,
        seed,
        consumes=declared,
        algorithm=algorithm,
        armed=armed(),
    )


def build_problem(env: EnvironmentLike, preference: LinkLike, **options: Any) -> Problem:
    """The facade of :func:`build_simulation` (same arguments): what an algorithm is handed."""
    return build_simulation(env, preference, **options).problem
