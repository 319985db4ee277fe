"""Gymnasium environments as zobench environments: the family ``gym``, addressed ``gym:<EnvId>``.

Needs the extra ``zobench[gym]``. ``gym:<EnvId>`` resolves to a class whose ``Config`` holds
``horizon``, ``gamma`` and the keyword arguments of the environment's constructor (defaults from
its registration), so ``[environment] name = "gym:FrozenLake-v1"  map_name = "8x8"`` validates like
any table. Plain ``gym`` takes the id as the setting ``env_id`` and Gymnasium's default arguments.

**Exact mode** (discrete spaces and a table ``unwrapped.P[s][a]`` = list of ``(probability,
next_state, reward, terminated)``, as in toy text): ``P`` is read into arrays once; Gymnasium is
never stepped. How its semantics map:

- *Step*: one uniform per agent per step picks an outcome of ``P[s][a]`` by inverse CDF (listed
  order) and pays that outcome's reward, as Gymnasium would; ``tables()`` holds ``P (S, A, S)``
  and the expected reward ``R[s, a]``.
- *Termination*: after a ``terminated`` outcome the episode continues, to the fixed horizon, in an
  absorbing state paying 0: the outcome's own next state if the table already makes it so
  (FrozenLake's holes and goal), else an extra "episode over" state ``n_states − 1`` (CliffWalking,
  Taxi). Returns equal Gymnasium's episode returns.
- *Truncation*: episodes last ``horizon`` steps, by default the registered ``TimeLimit``
  ``max_episode_steps`` (FrozenLake-v1 100, Taxi-v4 200), else :data:`DEFAULT_HORIZON`
  (CliffWalking-v1). The horizon ends the episode; nothing is bootstrapped.
- *Initial states*: ρ is ``unwrapped.initial_state_distrib``; without one it is estimated from
  :data:`INITIAL_SAMPLES` seeded resets (with a warning; "exact" is then up to that estimate).
- ``reward_span`` is the range of the rewards drawn with positive probability (with 0 when the
  "episode over" state exists): 1 for FrozenLake, 100 for CliffWalking.

Taxi's ``fickle_passenger = true`` acts outside ``P``, so it takes the fallback.

**Fallback** (discrete spaces, a ``Tuple`` of ``Discrete`` observations flattened in mixed radix,
but no ``P``, e.g. Blackjack): Gymnasium's own ``SyncVectorEnv`` is stepped, one Python call per
environment and step, tens of times slower; Monte Carlo evaluation only, no optimal reference
(so no normalized score). Randomness comes from the reset seeds, taken from the reset noise; the
step noise is ignored, so common-random-number pairs share seeds but not transition noise. An
instance runs one batch at a time (reset, then its steps). Gymnasium 1.x declares no reward
range, so ``reward_span`` is the ``reward_span`` setting when given, else the range seen over
:data:`SPAN_PROBE_EPISODES` seeded uniform-random episodes (an estimate: set it when you know).
The probe runs when the environment is built, before any algorithm exists: it is charged to no
algorithm's budget, and every run records the span and where it came from (the curve's
``reward_span`` and ``reward_span_source`` columns).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import types
import typing
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

import zobench
from zobench import api
from zobench.errors import ConfigError, UnknownComponentError, ZobenchError, did_you_mean

SPAN_PROBE_EPISODES = 256
"""Uniform-random episodes that estimate a table-less environment's reward span."""
DEFAULT_HORIZON = 100
"""Episode length when the Gymnasium registration has no ``max_episode_steps``."""

INITIAL_SAMPLES = 10_000
"""Seeded resets used to estimate ρ when the environment has no ``initial_state_distrib``."""

INSTALL_HINT = (
    "the gym environments need Gymnasium, which is not installed: run "
    '`pip install "zobench[gym]"` (in a zobench checkout: `pip install -e ".[gym]"`)'
)

TABLE_BREAKERS = {"fickle_passenger"}
"""Keyword arguments that, when true, make the dynamics differ from ``P`` (Taxi's fickle passenger)."""

RESERVED = ("env_id", "horizon", "gamma", "render_mode")
"""Setting names zobench keeps for itself; constructor arguments of these names are not exposed."""


def gymnasium() -> Any:
    """The ``gymnasium`` module, or one clear :class:`ZobenchError` naming the extra to install."""
    try:
        import gymnasium as gym
    except ImportError as exc:
        raise ZobenchError(INSTALL_HINT) from exc
    return gym


def _spec(gym: Any, env_id: str) -> Any:
    try:
        return gym.spec(env_id)
    except gym.error.Error as exc:
        hint = did_you_mean(env_id, gym.registry.keys())
        raise UnknownComponentError(
            f"no Gymnasium environment '{env_id}'{hint} ({type(exc).__name__})"
        ) from None


def _make(gym: Any, env_id: str, kwargs: dict[str, Any], **extra: Any) -> Any:
    try:
        return gym.make(env_id, **kwargs, **extra)
    except (TypeError, ValueError, KeyError, gym.error.Error) as exc:
        # the user's keyword arguments reached the Gymnasium constructor and it refused them
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"gym:{env_id}: gymnasium.make refused the settings: {first}") from None


def _discrete_dims(space: Any, gym: Any) -> tuple[list[int], list[int]] | None:
    """(sizes, starts) of a Discrete space or a Tuple of them; None for anything else."""
    spaces = gym.spaces
    parts = space.spaces if isinstance(space, spaces.Tuple) else (space,)
    if not all(isinstance(p, spaces.Discrete) for p in parts):
        return None
    return [int(p.n) for p in parts], [int(p.start) for p in parts]


class TableModel:
    """``P[s][a]`` as padded outcome arrays ``(S, A, K)``, ready for batched inverse-CDF sampling."""

    def __init__(self, unwrapped: Any, n_states: int, n_actions: int) -> None:
        S, A = n_states, n_actions
        rows = [[list(unwrapped.P[s][a]) for a in range(A)] for s in range(S)]
        K = max(len(r) for row in rows for r in row)
        prob, nxt = np.zeros((S, A, K)), np.zeros((S, A, K), dtype=np.int64)
        rew, done = np.zeros((S, A, K)), np.zeros((S, A, K), dtype=bool)
        nxt[...] = np.arange(S)[:, None, None]  # padding: stay (never drawn, probability 0)
        for s, row in enumerate(rows):  # a one-off read of a Python dict, not a hot path
            for a, outcomes in enumerate(row):
                for k, (p, s2, r, terminated) in enumerate(outcomes):
                    prob[s, a, k], nxt[s, a, k], rew[s, a, k], done[s, a, k] = p, s2, r, terminated
        prob /= prob.sum(axis=-1, keepdims=True)  # 1/3 + 1/3 + 1/3 need not be exactly 1
        # A state is already absorbing with reward 0 when every outcome of every action stays
        # put and pays nothing; a terminal outcome leading there needs no extra state.
        stays = (nxt == np.arange(S)[:, None, None]) & (rew == 0)
        absorbing = ((prob == 0) | stays).all(axis=(1, 2))
        redirect = done & (prob > 0) & ~absorbing[nxt]
        self.extra_state = bool(redirect.any())
        if self.extra_state:  # "episode over": one more state, absorbing with reward 0
            nxt = np.where(redirect, S, nxt)
            pad = np.zeros((1, A, K))
            prob, rew = np.concatenate([prob, pad]), np.concatenate([rew, pad])
            prob[S, :, 0] = 1.0
            nxt = np.concatenate([nxt, np.full((1, A, K), S, dtype=np.int64)])
            S += 1
        self.n_states, self.n_actions, self.outcomes = S, A, K
        self.prob, self.next, self.reward = prob, nxt, rew
        cdf = np.cumsum(prob, axis=-1)
        # from each row's last real outcome on, the CDF is +inf: a u in [0, 1) can never fall
        # past it into the padding, whatever the rounding of the sum
        last = K - 1 - np.argmax(prob[..., ::-1] > 0, axis=-1)
        cdf[np.arange(K) >= last[..., None]] = np.inf
        # outcome k = number of CDF breakpoints at or below u (inverse CDF); the last entry is
        # +inf, so it is left out of the thresholds
        self.table = api.StepTable(thresholds=cdf[..., :-1], next_states=nxt, rewards=rew)
        """The step as lookup tables: numpy and compiled rollouts both sample from it."""
        drawn = rew[prob > 0]
        span = float(drawn.max() - drawn.min()) if drawn.size else 0.0
        self.reward_span = span if span > 0 else 1.0  # all-zero rewards: any span bounds them

    def tables(self, initial: np.ndarray) -> api.TransitionTables:
        """P (S, A, S), expected rewards R (S, A) and ρ."""
        S, A, K = self.prob.shape
        P = np.zeros((S, A, S))
        s, a = np.meshgrid(np.arange(S), np.arange(A), indexing="ij")
        for k in range(K):  # duplicate next states within a row add up
            np.add.at(P, (s, a, self.next[:, :, k]), self.prob[:, :, k])
        return api.TransitionTables(P, (self.prob * self.reward).sum(axis=-1), initial)


class VectorStepper:
    """Steps a ``SyncVectorEnv`` of one batch; finished episodes sit in the "episode over" state."""

    def __init__(self, make_one: Any, dims: list[int], starts: list[int]) -> None:
        self.make_one, self.dims, self.starts = make_one, dims, np.array(starts)
        self.done_state = int(np.prod(dims))
        self.vector: Any = None
        self.alive = np.zeros(0, dtype=bool)

    def _flat(self, obs: Any) -> np.ndarray:
        parts = obs if isinstance(obs, tuple) else (obs,)
        cols = [np.asarray(p, dtype=np.int64) - s for p, s in zip(parts, self.starts, strict=True)]
        return np.ravel_multi_index(tuple(cols), self.dims).astype(np.int64)

    def reset(self, noise: np.ndarray) -> np.ndarray:
        """A fresh batch; sub-environment b is seeded by ``noise[b, 0, 0]``."""
        gym = gymnasium()
        B = noise.shape[0]
        if self.vector is None or self.vector.num_envs != B:
            if self.vector is not None:
                self.vector.close()
            self.vector = gym.vector.SyncVectorEnv([self.make_one] * B)
        seeds = [int(x) for x in (noise[:, 0, 0] * 2**31).astype(np.int64)]
        obs, _ = self.vector.reset(seed=seeds)
        self.alive = np.ones(B, dtype=bool)
        return self._flat(obs)[:, None]

    def probe_reward_span(self, horizon: int, n_actions: int) -> float:
        """Reward range seen over :data:`SPAN_PROBE_EPISODES` seeded uniform-random episodes.

        The "episode over" state pays 0, so 0 is always in the range; all-zero rewards give 1.
        """
        rng = np.random.default_rng(0)
        states = self.reset(rng.random((SPAN_PROBE_EPISODES, 1, 1)))
        low = high = 0.0
        for _ in range(horizon):
            actions = rng.integers(0, n_actions, size=states.shape)
            states, rewards = self.step(states, actions)
            low, high = min(low, rewards.min()), max(high, rewards.max())
            if not self.alive.any():
                break
        return float(high - low) or 1.0

    def step(self, states: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One step of every sub-environment; those already over stay over with reward 0."""
        if states.shape[0] != self.alive.shape[0]:
            raise RuntimeError(
                f"the Gymnasium fallback runs one batch at a time: reset gave "
                f"{self.alive.shape[0]} episodes, step got {states.shape[0]}"
            )
        if not self.alive.any():  # every episode is over: no need to ask Gymnasium
            return np.full_like(states, self.done_state), np.zeros(states.shape)
        obs, reward, terminated, _, _ = self.vector.step(actions[:, 0])
        # an episode over before this step is auto-reset by Gymnasium: its output is ignored
        rewards = np.where(self.alive, np.asarray(reward, dtype=float), 0.0)
        self.alive &= ~np.asarray(terminated, dtype=bool)
        next_states = np.where(self.alive, self._flat(obs), self.done_state)
        return next_states[:, None], rewards[:, None]


def _check_common(config: Any) -> None:
    if config.horizon is not None and config.horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {config.horizon}")
    if not 0.0 < config.gamma <= 1.0:
        raise ValueError(f"gamma must lie in (0, 1], got {config.gamma}")


@dataclass(frozen=True)
class GymConfig:
    """Settings of the plain ``gym`` family entry (``gym:<EnvId>`` also validates the env's own)."""

    env_id: str = api.param("FrozenLake-v1", "Gymnasium id (default keyword arguments).")
    horizon: int | None = api.param(
        None,
        f"Episode length H; None takes the registration's max_episode_steps, else {DEFAULT_HORIZON}.",
    )
    gamma: float = api.param(1.0, "Discount γ of the objective (1: Gymnasium's return).")
    reward_span: float | None = api.param(
        None,
        "Width of the per-step reward range, for environments without a transition table. None "
        "reads it from the table, else estimates it from seeded uniform-random episodes.",
    )

    def __post_init__(self) -> None:
        _check_common(self)


class GymEnvironment(api.Environment):
    """A Gymnasium environment with discrete spaces, run by zobench's adapter.

    Where the environment publishes its transition table P (FrozenLake, CliffWalking, Taxi),
    the adapter reads it once and steps from it, so runs are fast and scored exactly by dynamic
    programming; otherwise (Blackjack) it steps Gymnasium itself and scores by Monte Carlo.
    Episodes last the fixed horizon; after a terminal outcome the episode stays where it ended
    with no further reward. Address one environment as gym:<EnvId> (gym:FrozenLake-v1) to get
    its constructor's arguments as settings, with Gymnasium's defaults.
    """

    name = "gym"
    summary = "Gymnasium environments with discrete spaces: gym:<EnvId>, e.g. gym:FrozenLake-v1."
    source = "Gymnasium (Towers et al., arXiv 2407.17032)"
    Config = GymConfig
    noise_dims = 1
    env_id: ClassVar[str | None] = None
    """Id of a resolved ``gym:<EnvId>`` class, which keeps ``name = "gym"`` (a valid registry
    name; the host registers it under ``gym:<EnvId>``). ``None``: the family, using ``env_id``."""
    passthrough: ClassVar[tuple[str, ...]] = ()
    """Config fields handed to ``gymnasium.make`` as keyword arguments."""

    @classmethod
    def dependency_versions(cls) -> dict[str, str]:
        """Gymnasium's version: its environments' dynamics may change between releases."""
        import importlib.metadata

        try:
            return {"gymnasium": importlib.metadata.version("gymnasium")}
        except importlib.metadata.PackageNotFoundError:
            return {}

    @classmethod
    def resolve(cls, suffix: str) -> type[api.Component]:
        """The class of ``gym:<suffix>`` with a Config made for that environment."""
        return resolve_env(suffix)

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        c = self.config
        gym = gymnasium()
        env_id = self.env_id or c.env_id
        kwargs = {k: getattr(c, k) for k in self.passthrough}
        spec = _spec(gym, env_id)
        self.n_agents = 1
        self.horizon = c.horizon if c.horizon is not None else _default_horizon(spec)
        self.gamma = c.gamma
        env = _make(gym, env_id, kwargs)
        unwrapped = env.unwrapped
        obs, act = (_discrete_dims(s, gym) for s in (env.observation_space, env.action_space))
        if obs is None or act is None or len(act[0]) != 1:
            raise ZobenchError(_unsupported(env_id, env))
        self.n_actions = act[0][0]
        self._model: TableModel | None = None
        self._vector: VectorStepper | None = None
        exact = hasattr(unwrapped, "P") and len(obs[0]) == 1 and obs[1][0] == 0 and act[1][0] == 0
        if exact and not any(kwargs.get(k) for k in TABLE_BREAKERS):
            self._model = TableModel(unwrapped, obs[0][0], self.n_actions)
            self.n_states = self._model.n_states
            self.reward_span = self._model.reward_span
            self.reward_span_source = "table"
            self._initial = self._initial_distribution(unwrapped, obs[0][0])
            self._initial_cdf = np.cumsum(self._initial)
            # rounding must never land a uniform on a state of probability 0 after the last one
            self._initial_cdf[np.flatnonzero(self._initial)[-1] :] = np.inf
        else:
            make_one = functools.partial(gym.make, env_id, max_episode_steps=self.horizon, **kwargs)
            self._vector = VectorStepper(make_one, *obs)
            self.n_states = self._vector.done_state + 1
            # Gymnasium 1.x no longer declares reward ranges: the user's value, else an estimate
            # made here, at build time, outside every algorithm's budget (recorded with the run)
            if c.reward_span:
                self.reward_span, self.reward_span_source = c.reward_span, "setting"
            else:
                self.reward_span = self._vector.probe_reward_span(self.horizon, self.n_actions)
                self.reward_span_source = f"probe: {SPAN_PROBE_EPISODES} episodes"
        env.close()

    def _initial_distribution(self, unwrapped: Any, n_obs: int) -> np.ndarray:
        rho = np.zeros(self.n_states)
        known = getattr(unwrapped, "initial_state_distrib", None)
        if known is not None:
            rho[:n_obs] = np.asarray(known, dtype=float)
        else:
            warnings.warn(
                f"gym:{self.env_id or self.config.env_id} has no initial_state_distrib: ρ is "
                f"estimated from {INITIAL_SAMPLES} seeded resets",
                UserWarning,
                stacklevel=3,
            )
            starts = [unwrapped.reset(seed=seed)[0] for seed in range(INITIAL_SAMPLES)]
            rho[:n_obs] = np.bincount(starts, minlength=n_obs)
        return rho / rho.sum()

    def reset(self, noise: np.ndarray) -> np.ndarray:
        """Initial states ``(B, 1)``: inverse CDF of ρ (or the fallback's seeded resets)."""
        if self._vector is not None:
            return self._vector.reset(noise)
        return np.searchsorted(self._initial_cdf, noise[..., 0], side="right").astype(np.int64)

    def step(
        self, states: np.ndarray, actions: np.ndarray, noise: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One step for the batch: an outcome of ``P[s][a]`` per uniform (or the fallback)."""
        if self._vector is not None:
            return self._vector.step(states, actions)
        if self._model is None:  # the constructor sets one of the two
            raise RuntimeError(f"{self!r} has neither a transition table nor a fallback")
        return self._model.table.step(states, actions, noise[..., 0])

    def step_table(self) -> api.StepTable | None:
        """The table read from ``P`` (``None`` for the fallback, which steps Gymnasium)."""
        return None if self._model is None else self._model.table

    def tables(self) -> api.TransitionTables | None:
        """The exact model built from ``P`` (``None`` for the fallback)."""
        if self._model is None:
            return None
        if not hasattr(self, "_tables"):
            self._tables = self._model.tables(self._initial)
        return self._tables


def _default_horizon(spec: Any) -> int:
    return int(spec.max_episode_steps) if spec.max_episode_steps else DEFAULT_HORIZON


def _unsupported(env_id: str, env: Any) -> str:
    return (
        f"gym:{env_id} has observation space {env.observation_space} and action space "
        f"{env.action_space}; zobench needs Discrete ones (or a Tuple of Discrete observations)"
    )


def _hint_for(default: Any, annotation: Any) -> Any:
    """The annotation when it is a real type the default satisfies, else a type from the default."""
    from pydantic import TypeAdapter

    if annotation is not None:
        try:
            TypeAdapter(annotation).validate_python(default, strict=True)
            return annotation
        except Exception:  # unresolvable or too loose an annotation: fall back to the default
            pass
    if isinstance(default, (bool, int, float, str)):
        return type(default)
    if isinstance(default, tuple) and default:
        kinds = {type(v) for v in default}
        if len(kinds) == 1 and kinds <= {bool, int, float, str}:
            return types.GenericAlias(tuple, (kinds.pop(), ...))  # tuple[<kind>, ...]
    return Any


def _constructor_settings(gym: Any, spec: Any) -> list[tuple[str, Any, Any]]:
    """(name, default, type) of each keyword argument of the environment's constructor."""
    from gymnasium.envs.registration import load_env_creator

    creator = spec.entry_point
    creator = load_env_creator(creator) if isinstance(creator, str) else creator
    # a class's keyword annotations are its constructor's (mypy flags reading __init__ off a
    # class object as unsound in general; here it is exactly what is wanted)
    target = creator.__init__ if isinstance(creator, type) else creator  # type: ignore[misc]
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # annotations naming what cannot be imported: type from defaults
        hints = {}
    settings, seen = [], set()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    for p in inspect.signature(creator).parameters.values():
        if p.kind not in kinds or p.name in RESERVED:
            continue
        default = spec.kwargs.get(p.name, p.default)
        if default is inspect.Parameter.empty:
            continue  # a required argument cannot be a setting with a default
        default = tuple(default) if isinstance(default, list) else default  # frozen config
        seen.add(p.name)
        settings.append((p.name, default, _hint_for(default, hints.get(p.name))))
    for key, value in spec.kwargs.items():  # registered kwargs the signature hides (**kwargs)
        if key not in seen and key not in RESERVED and key.isidentifier():
            value = tuple(value) if isinstance(value, list) else value
            settings.append((key, value, _hint_for(value, None)))
    return settings


@functools.cache
def resolve_env(env_id: str) -> type[GymEnvironment]:
    """Build (once per process) the class of ``gym:<env_id>`` and its Config dataclass."""
    gym = gymnasium()
    spec = _spec(gym, env_id)
    probe = _make(gym, env_id, {})
    supported = _discrete_dims(probe.observation_space, gym) and _discrete_dims(
        probe.action_space, gym
    )
    probe.close()
    if not supported:
        raise ZobenchError(_unsupported(env_id, probe))
    limit = spec.max_episode_steps is not None
    horizon_doc = "Episode length H: " + (
        "the max_episode_steps of Gymnasium's TimeLimit registration."
        if limit
        else "Gymnasium registers no time limit, so zobench's default."
    )
    # Gymnasium's registration and constructor defaults are the library's, not a paper's.
    horizon = api.param(_default_horizon(spec), horizon_doc, source="library" if limit else "ours")
    common = GymConfig.__dataclass_fields__
    fields = [
        ("horizon", int, horizon),
        ("gamma", float, common["gamma"]),
        ("reward_span", float | None, common["reward_span"]),
    ]
    names = []
    for name, default, hint in _constructor_settings(gym, spec):
        doc = f"Passed through to gymnasium.make('{env_id}', {name}=...); Gymnasium's default."
        fields.append((name, hint, api.param(default, doc, source="library")))
        names.append(name)
    label = re.sub(r"\W+", "", env_id.title())
    config = dataclasses.make_dataclass(
        f"Gym{label}Config",
        fields,
        frozen=True,
        namespace={"__post_init__": _check_common, "__doc__": f"Settings of gym:{env_id}."},
    )
    config.__module__ = __name__
    return type(
        f"Gym{label}",
        (GymEnvironment,),
        {
            "__doc__": f"Gymnasium's {env_id} through zobench's adapter. "
            + inspect.cleandoc(GymEnvironment.__doc__ or "").split("\n\n", 1)[1],
            "__module__": __name__,
            "summary": f"Gymnasium {env_id} through the gym adapter.",
            "Config": config,
            "env_id": env_id,
            "passthrough": tuple(names),
        },
    )


@zobench.hookimpl
def zobench_register_environments(register):
    """Register the ``gym`` family (Gymnasium itself is imported only when one is used)."""
    register(GymEnvironment)
