"""The conformance kit's machinery: shared helpers, construction and each kind's checks.

Its public face is :mod:`zobench.testing`, which plugin authors import; this module holds the
checks of construction, determinism and kind-specific behaviour so that the facade stays small.
Like the facade, it imports nothing heavy at module level.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from zobench import api, kinds

if typing.TYPE_CHECKING:
    from zobench.plugins import PluginHost

TINY_GRIDWORLD: dict[str, Any] = {"size": 3, "goal": [2, 2], "horizon": 6}
"""Parameters (as TOML would spell them) of the ``gridworld`` the algorithm checks run on:
9 states, 6 steps, so a tiny run takes milliseconds."""

TINY_PREFERENCE = "bradley-terry"
"""The preference model of the algorithm checks' panel."""

TINY_ITERATIONS = 4
"""Iterations of a tiny run: enough to exercise an update and two evaluations, no more."""

TIME_COLUMNS = frozenset({"wall_s", "update_s", "time_s", "elapsed_s", "timestamp"})
"""Learning-curve columns that measure time and so may differ between identical runs."""


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _label(obj: Any) -> str:
    """How a message names a component: kind, registry name and Python location."""
    kind = getattr(obj, "kind", "") or "component"
    name = getattr(obj, "name", "") or "<no name>"
    where = obj if isinstance(obj, type) else type(obj)
    return f"{kind} '{name}' ({where.__module__}.{where.__qualname__})"


def _fail(obj: Any, message: str) -> typing.NoReturn:
    # AssertionError (not `assert`) so the checks still work under `python -O`
    raise AssertionError(f"{_label(obj)}: {message}")


def _kind_of(obj: Any) -> str:
    for kind in kinds.KINDS:
        if isinstance(obj, kind.base) if kind.is_data else _subclass(obj, kind.base):
            return kind.name
    bases = ", ".join(k.base.__qualname__ for k in kinds.COMPONENT_KINDS)
    data = " or a ".join(
        f"{k.base.__module__}.{k.base.__qualname__}" for k in kinds.KINDS if k.is_data
    )
    raise AssertionError(
        f"{obj!r} is not a zobench component: subclass one of {bases} (from zobench.api), "
        f"or make a {data}"
    )


def _subclass(obj: Any, base: type) -> bool:
    return isinstance(obj, type) and issubclass(obj, base)


def _as_toml(value: Any) -> Any:
    """The value as a TOML file would hand it back: tuples become lists."""
    if isinstance(value, (tuple, list)):
        return [_as_toml(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _as_toml(v) for k, v in value.items()}
    return value


def _same(a: Any, b: Any) -> bool:
    """Structural equality that understands numpy arrays, dataclasses and plain objects."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return all(_same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if hasattr(a, "__dict__") and not callable(a):
        # caches (leading underscore) may legitimately differ; the public state may not
        public = {k: v for k, v in vars(a).items() if not k.startswith("_")}
        other = {k: v for k, v in vars(b).items() if not k.startswith("_")}
        return _same(public, other)
    return bool(a == b)


# ---------------------------------------------------------------------------------------------
# Construction
# ---------------------------------------------------------------------------------------------


def _host(host: PluginHost | None) -> PluginHost:
    from zobench.plugins import get_host

    return host if host is not None else get_host()


@contextlib.contextmanager
def registered(cls: type[api.Component[Any]], host: PluginHost | None = None) -> Iterator[None]:
    """Make ``cls`` resolvable by its name in ``host`` (default: the process-wide one) for the
    duration (see :meth:`zobench.plugins.PluginHost.registered`).

    The runner builds components by name; a class under test may not be installed (a plugin
    in development) or may be shadowed. An already registered identical class is left alone.
    """
    with _host(host).registered(cls):
        yield


def tiny_problem(
    seed: int = 0,
    *,
    consumes: Any = None,
    uses_rewards: bool = False,
    host: PluginHost | None = None,
) -> Any:
    """A small single-agent gridworld :class:`~zobench.sim.problem.Problem` for quick checks.

    ``consumes`` are the channels it opens (default: preferences only, as for an algorithm that
    declares nothing); ``uses_rewards=True`` adds the rewards channel. Components come from
    ``host`` (default: the process-wide one).
    """
    import zobench
    from zobench.sim.problem import build_problem

    host = _host(host)
    env = zobench.make("environment", "gridworld", host=host, **TINY_GRIDWORLD)
    preference = zobench.make("preference", TINY_PREFERENCE, host=host)
    return build_problem(env, preference, seed=seed, consumes=consumes, uses_rewards=uses_rewards)


def _missing_dependency(exc: BaseException | None) -> bool:
    """True when ``exc`` is, or was raised while handling, an ImportError (an uninstalled extra)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ImportError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _construct(cls: type) -> Any:
    try:
        return cls()
    except Exception as exc:
        message = f"cannot be built with its default Config: {type(exc).__name__}: {exc}"
        if _missing_dependency(exc) and "pytest" in sys.modules:
            # An optional dependency (an extra such as zobench[dask]) is not installed: this
            # environment cannot check the component. Reported as a skip with the reason, so it
            # shows in pytest's summary rather than passing or failing silently.
            import pytest

            pytest.skip(f"{_label(cls)}: {message}")
        _fail(cls, message)


def check_constructs(cls: Any, *, host: PluginHost | None = None) -> None:
    """The component builds from its default Config and exposes what its kind promises."""
    kind = _kind_of(cls)
    if kind == kinds.SUITE.name:
        return  # a suite is data, built already
    if kind == kinds.ALGORITHM.name:
        problem = tiny_problem(consumes=cls.consumes, host=host)
        try:
            algorithm = cls(cls.Config(), problem)
        except Exception as exc:
            _fail(cls, f"cannot be built on a tiny gridworld: {type(exc).__name__}: {exc}")
        theta = getattr(algorithm, "theta", None)
        if not isinstance(theta, np.ndarray) or theta.shape != problem.theta_shape:
            _fail(
                cls,
                f"theta must be an array shaped {problem.theta_shape} after construction, "
                f"got {getattr(theta, 'shape', type(theta).__name__)}",
            )
        return
    obj = _construct(cls)
    if not dataclasses.is_dataclass(obj.config) or type(obj.config) is not cls.Config:
        _fail(cls, "self.config must hold the Config instance (call super().__init__(config))")
    repr(obj)
    if kind == kinds.ENVIRONMENT.name:
        for attr in ("n_agents", "n_states", "n_actions", "horizon", "noise_dims"):
            value = getattr(obj, attr, None)
            if not isinstance(value, (int, np.integer)) or value < 1:
                _fail(cls, f"{attr} must be a positive int after construction, got {value!r}")
        gamma = getattr(obj, "gamma", None)
        if not isinstance(gamma, (int, float)) or not 0.0 < gamma <= 1.0:
            _fail(cls, f"gamma must be a number in (0, 1], got {gamma!r}")


# ---------------------------------------------------------------------------------------------
# Determinism and kind-specific behaviour
# ---------------------------------------------------------------------------------------------


def _check_environment(cls: type[api.Environment[Any]], host: PluginHost | None = None) -> None:
    envs = [_construct(cls), _construct(cls)]
    env = envs[0]
    if env.networked:
        topology = _host(host).topology(env.default_topology)()
        for e in envs:
            e.connect(topology.build(e.n_agents, np.random.default_rng(0)))
    batch, n = 5, env.n_agents
    rng = np.random.default_rng(12345)
    noise = rng.random((batch, n, env.noise_dims))
    states = [e.reset(noise.copy()) for e in envs]
    _check_states(cls, "reset", states[0], batch, env)
    if not _same(states[0], states[1]):
        _fail(cls, "reset() gave different states for the same noise")
    low, high = np.inf, -np.inf
    for t in range(env.horizon):
        actions = rng.integers(0, env.n_actions, size=(batch, n))
        noise = rng.random((batch, n, env.noise_dims))
        out = [e.step(s, actions.copy(), noise.copy()) for e, s in zip(envs, states, strict=True)]
        (s0, r0), (s1, r1) = out
        _check_states(cls, f"step {t}", s0, batch, env)
        rewards = np.asarray(r0)
        if rewards.shape != (batch, n) or not np.isfinite(rewards).all():
            _fail(
                cls, f"step {t}: rewards must be finite, shaped {(batch, n)}, got {rewards.shape}"
            )
        if not (_same(s0, s1) and _same(r0, r1)):
            _fail(cls, f"step {t}: the same states, actions and noise gave different results")
        states = [s0, s1]
        low, high = min(low, rewards.min()), max(high, rewards.max())
    # preference-only algorithms bound return differences with the declared span
    if high - low > env.reward_span * (1 + 1e-9):
        _fail(cls, f"rewards spanned {high - low:g} but reward_span declares {env.reward_span:g}")
    tables = env.tables()
    if tables is not None:
        joint_s, joint_a = env.n_states**n, env.n_actions**n
        if tables.transitions.shape != (joint_s, joint_a, joint_s):
            _fail(cls, f"tables().transitions must be shaped {(joint_s, joint_a, joint_s)}")
        if not np.allclose(tables.transitions.sum(axis=-1), 1.0):
            _fail(cls, "tables().transitions: rows must sum to 1")
        if tables.rewards.shape != (joint_s, joint_a):
            _fail(cls, f"tables().rewards must be shaped {(joint_s, joint_a)}")
        if tables.initial.shape != (joint_s,) or not np.isclose(tables.initial.sum(), 1.0):
            _fail(cls, f"tables().initial must be a distribution over {joint_s} joint states")


def _check_states(cls: type, where: str, states: Any, batch: int, env: Any) -> None:
    states = np.asarray(states)
    if states.shape != (batch, env.n_agents) or not np.issubdtype(states.dtype, np.integer):
        _fail(
            cls,
            f"{where}: states must be ints shaped {(batch, env.n_agents)}, "
            f"got {states.dtype} {states.shape}",
        )
    if states.min() < 0 or states.max() >= env.n_states:
        _fail(cls, f"{where}: states must lie in [0, n_states={env.n_states})")


def _check_preference_model(cls: type[api.PreferenceModel[Any]]) -> None:
    for scale in (1.0, 2.5):
        model = cls(dataclasses.replace(cls.Config(), scale=scale))
        x = np.linspace(-6.0, 6.0, 241) * scale
        p = np.asarray(model.link(x), dtype=float)
        if p.shape != x.shape:
            _fail(cls, f"link() must keep its input's shape {x.shape}, got {p.shape}")
        if not (np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()):
            _fail(cls, f"link() must give probabilities in [0, 1] (scale={scale})")
        if (np.diff(p) < -1e-12).any():
            bad = float(x[1:][np.diff(p) < -1e-12][0])
            _fail(cls, f"link() must be increasing; it decreases at x={bad:g} (scale={scale})")
        if not _same(p, np.asarray(model.link(x), dtype=float)):
            _fail(cls, "link() gave different values for the same input")
        # the inverse is only defined where the link is strictly inside (0, 1)
        inside = (p > 1e-6) & (p < 1 - 1e-6)
        if inside.sum() < 10:
            _fail(cls, f"link() is saturated almost everywhere on [-6s, 6s] (scale={scale})")
        if (np.diff(p[inside]) <= 0).any():
            _fail(cls, f"link() must be strictly increasing where 0 < link < 1 (scale={scale})")
        back = np.asarray(model.inverse(p[inside]), dtype=float)
        if not np.allclose(back, x[inside], rtol=1e-6, atol=1e-6 * scale):
            worst = int(np.argmax(np.abs(back - x[inside])))
            _fail(
                cls,
                f"inverse(link(x)) != x: at x={x[inside][worst]:g} got {back[worst]:g} "
                f"(scale={scale})",
            )
        if cls.symmetric and not np.allclose(p + p[::-1], 1.0, atol=1e-9):
            _fail(cls, "declares symmetric = True but link(-x) != 1 - link(x)")


def _check_topology(cls: type[api.Topology[Any]]) -> None:
    topology = _construct(cls)
    for n in (1, 4, 9):
        first = topology.build(n, np.random.default_rng(7))
        second = topology.build(n, np.random.default_rng(7))
        if getattr(first, "n_agents", None) != n:
            _fail(
                cls, f"build({n}, rng) made a network of {getattr(first, 'n_agents', '?')} agents"
            )
        if not _same(first, second):
            _fail(cls, f"build({n}, rng) gave different networks for the same seed")


def _square(x: int) -> int:
    """A picklable task for the executor check."""
    return x * x


def _check_executor(cls: type[api.Executor[Any]]) -> None:
    executor = _construct(cls)
    tasks = list(range(6))
    try:
        results = list(executor.map_unordered(_square, tasks))
    finally:
        close = getattr(executor, "close", None) or getattr(executor, "shutdown", None)
        if callable(close):
            close()
    indices = sorted(i for i, _ in results)
    if indices != tasks:
        _fail(cls, f"map_unordered must yield every task index once; got {indices}")
    wrong = [i for i, r in results if r != _square(tasks[i])]
    if wrong:
        _fail(cls, f"map_unordered paired results with the wrong task indices: {wrong}")


def _run_tiny(
    cls: type[api.Algorithm[Any]], seed: int, host: PluginHost | None, *, eval_every: int = 2
) -> Any:
    """A tiny gridworld run of ``cls`` with its ``tiny_settings``; exceptions reach the caller."""
    import zobench

    host = _host(host)
    with host.registered(cls):
        return zobench.run_one(
            host=host,
            algorithm=cls.name,
            algorithm_params=dict(cls.tiny_settings),
            environment="gridworld",
            environment_params=dict(TINY_GRIDWORLD),
            preference=TINY_PREFERENCE,
            seed=seed,
            iterations=TINY_ITERATIONS,
            eval_every=eval_every,
            eval_episodes=32,
        )


def _tiny_run(cls: type[api.Algorithm[Any]], seed: int, host: PluginHost | None) -> Any:
    try:
        return _run_tiny(cls, seed, host)
    except Exception as exc:
        _fail(cls, f"a tiny run on gridworld failed: {type(exc).__name__}: {exc}")


def _without_time(frame: Any) -> Any:
    return frame.drop([c for c in frame.columns if c in TIME_COLUMNS])


def _check_algorithm_determinism(
    cls: type[api.Algorithm[Any]], host: PluginHost | None = None
) -> None:
    first, second = (_without_time(_tiny_run(cls, 3, host)) for _ in range(2))
    if first.columns != second.columns:
        _fail(cls, "two runs with the same seed gave different columns")
    if not first.equals(second):
        differing = [c for c in first.columns if not first[c].equals(second[c])]
        _fail(cls, f"two runs with the same seed differ in columns: {', '.join(differing)}")


def check_deterministic(cls: Any, *, host: PluginHost | None = None) -> None:
    """Same inputs and seed, same outputs; plus each kind's mathematical contract.

    Components the check needs besides ``cls`` come from ``host`` (default: the process-wide
    one), as for every check of the kit.
    """
    checks: dict[str, Callable[[Any, PluginHost | None], None]] = {
        kinds.ENVIRONMENT.name: _check_environment,
        kinds.PREFERENCE.name: lambda c, _: _check_preference_model(c),
        kinds.TOPOLOGY.name: lambda c, _: _check_topology(c),
        kinds.EXECUTOR.name: lambda c, _: _check_executor(c),
        kinds.ALGORITHM.name: _check_algorithm_determinism,
        kinds.SUITE.name: lambda c, _: None,
    }
    checks[_kind_of(cls)](cls, host)


def check_tiny_run(cls: Any, *, host: PluginHost | None = None) -> None:
    """An algorithm finishes a tiny gridworld run with finite scores, honest about rewards."""
    if _kind_of(cls) != kinds.ALGORITHM.name:
        _fail(cls, "check_tiny_run applies to algorithms only")
    frame = _tiny_run(cls, 0, host)
    if frame.height == 0:
        _fail(cls, "a tiny run recorded no rows")
    numeric = [c for c, t in frame.schema.items() if t.is_numeric() and c not in TIME_COLUMNS]
    for column in numeric:
        values = frame[column].drop_nulls().to_numpy().astype(float)
        if not np.isfinite(values).all():
            _fail(cls, f"a tiny run recorded non-finite values in column '{column}'")
    reads = {str(c) for c in cls.consumes} & {"rewards", "model"}
    if not reads and "reward_obs" in frame.columns and frame["reward_obs"].max() != 0:
        _fail(cls, "declares neither the rewards nor the model channel but observed rewards")


# ---------------------------------------------------------------------------------------------
# Honesty
# ---------------------------------------------------------------------------------------------

SPENDING: dict[str, str] = {
    "preferences": "queries",
    "rewards": "reward_obs",
    "model": "model_reads",
}
"""The ledger counter that shows each channel's use."""


def check_honest(cls: Any, *, host: PluginHost | None = None) -> None:
    """An algorithm sees and spends only what it declares, and the ledger shows what it spent.

    A tiny run with trip-wires armed (:func:`zobench.sim.tripwires.tripwires`): an undeclared
    channel, or a private route around the problem's facade to the environment, the panel, the
    ledger or the rewards, raises and fails the check with the channel's name; rewards stored
    where the facade does not look are NaN, so an algorithm that reads them ends with a NaN θ.
    Then every ledger column must be monotone over the run (one row per iteration), and every
    declared channel must show its spending (a channel the algorithm does not use should not be
    declared: leaderboards mark reward and model readers by what they declare and spend).
    """
    from zobench.bench.runner import RunFailed
    from zobench.errors import HonestyError
    from zobench.sim.ledger import COUNTERS
    from zobench.sim.tripwires import tripwires

    if _kind_of(cls) != kinds.ALGORITHM.name:
        _fail(cls, "check_honest applies to algorithms only")
    with tripwires():
        try:
            frame = _run_tiny(cls, 1, host, eval_every=1)  # a row per iteration
        except HonestyError as exc:
            _fail(cls, f"the honesty check caught it: {exc}")
        except RunFailed as exc:
            _fail(
                cls,
                f"under the honesty check's NaN-poisoned rewards its run failed ({exc}): rewards "
                "reached it through a route it did not declare (channel 'rewards')",
            )
        except Exception as exc:
            _fail(cls, f"a tiny run under the honesty check failed: {type(exc).__name__}: {exc}")
    for column in ("iteration", *COUNTERS[1:]):  # the counter `iterations` is `iteration`
        values = frame[column].to_numpy() if column in frame.columns else None
        if values is None:
            _fail(cls, f"the learning curve has no ledger column '{column}'")
        if (np.diff(values) < 0).any() or (values < 0).any():
            _fail(
                cls, f"the ledger column '{column}' decreased or went negative: {values.tolist()}"
            )
    for channel in sorted(str(c) for c in cls.consumes):
        counter = SPENDING[channel]
        if frame[counter].max() == 0:
            _fail(
                cls,
                f"declares the '{channel}' channel but a tiny run spent nothing on it "
                f"({counter} = 0); declare only the channels it uses",
            )
