"""Trip-wires on the private routes around the problem's facade (the honesty check).

Python cannot make anything private: an algorithm holding the problem can dig through its
underscored attributes to the core's environment, panel, ledger and reward table. Inside
:func:`tripwires` (the conformance kit's honesty check arms it) the simulation is built from the
guarded versions here, which raise a :class:`~zobench.errors.ChannelError` when reached from
outside the core other than through the facade, and the reward table keeps NaN where the facade
does not look. Unarmed, the guards cost one attribute test per call.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import weakref
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

from zobench.errors import ChannelError
from zobench.sim.ledger import Ledger
from zobench.sim.panel import Panel
from zobench.sim.rollout import Trajectories
from zobench.sim.types import EnvironmentLike, TransitionTables

_TRIPWIRES: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "zobench_tripwires", default=False
)

_ENTRY_MODULES = frozenset({"zobench.sim.problem", "zobench.sim.channels", "zobench.bench.runner"})
"""Modules through which the core's private objects are legitimately reached: the facade and
the runner (which builds the run and evaluates θ)."""


@contextlib.contextmanager
def tripwires() -> Iterator[None]:
    """Arm trip-wires on the private routes of every simulation built inside the block.

    The environment, the core panel, the core ledger and the reward table then raise a
    :class:`~zobench.errors.ChannelError` when reached from outside the core other than through
    the facade, and the rewards stored where the facade does not look are NaN, so an algorithm
    that reads them anyway ends with a NaN θ (the runner fails such a run).
    """
    token = _TRIPWIRES.set(True)
    try:
        yield
    finally:
        _TRIPWIRES.reset(token)


def armed() -> bool:
    """True inside :func:`tripwires`: simulations built now are armed."""
    return _TRIPWIRES.get()


def _reached_through_core() -> bool:
    """True when the innermost non-core caller is behind the facade (or there is none).

    Walks outwards from the trip-wired call: frames of ``zobench`` modules are the kernel's own
    work; reaching the facade or the runner first means the call is legitimate, reaching
    anything else (a plugin's module, a test) first means a private route.
    """
    frame: Any = sys._getframe(3)  # 0 here, 1 _trip, 2 the guard, 3 the guarded call's caller
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module in _ENTRY_MODULES:
            return True
        if module != "zobench" and not module.startswith("zobench."):
            return False
        frame = frame.f_back
    return True


def _trip(owner: str, route: str, channel: str) -> None:
    if not _reached_through_core():
        raise ChannelError(
            f"reached {route} through a private route around the problem's facade "
            f"(channel '{channel}'); use only the problem's public methods",
            algorithm=owner,
            channel=channel,
        )


F = TypeVar("F", bound=Callable[..., Any])


def _core_only(route: str, channel: str) -> Callable[[F], F]:
    """Decorate a core method: when its object is armed, calls from outside the core trip."""

    def decorate(method: F) -> F:
        def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
            if self._armed_for is not None:
                _trip(self._armed_for, route, channel)
            return method(self, *args, **kwargs)

        guarded.__doc__ = method.__doc__
        guarded.__name__ = method.__name__
        guarded.__qualname__ = method.__qualname__
        return guarded  # type: ignore[return-value]

    return decorate


class CoreLedger(Ledger):
    """The core's ledger; armed, it refuses charges that do not come through the core."""

    __slots__ = ("_armed_for",)

    def __init__(self, armed_for: str | None) -> None:
        super().__init__()
        self._armed_for = armed_for

    charge = _core_only("the core ledger's charge()", "ledger")(Ledger.charge)


class CorePanel(Panel):
    """The core's panel; armed, it refuses calls that do not come through the facade."""

    _armed_for: str | None = None

    returns = _core_only("the core panel's returns()", "rewards")(Panel.returns)
    compare = _core_only("the core panel's compare()", "preferences")(Panel.compare)


class TripwiredEnvironment:
    """The environment behind trip-wires: stepping or reading its model from a plugin trips."""

    def __init__(self, env: EnvironmentLike, owner: str) -> None:
        self._env = env
        self._armed_for = owner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)

    @_core_only("environment.reset()", "environment")
    def reset(self, noise: np.ndarray) -> np.ndarray:
        """The wrapped environment's reset."""
        return self._env.reset(noise)

    @_core_only("environment.step()", "environment")
    def step(
        self, states: np.ndarray, actions: np.ndarray, noise: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The wrapped environment's step."""
        return self._env.step(states, actions, noise)

    @_core_only("environment.tables()", "model")
    def tables(self) -> TransitionTables | None:
        """The wrapped environment's tables."""
        return self._env.tables()

    @_core_only("environment.reference_policy()", "model")
    def reference_policy(self) -> np.ndarray | None:
        """The wrapped environment's reference policy."""
        return self._env.reference_policy()

    @_core_only("environment.exact_optimum()", "model")
    def exact_optimum(self) -> float | None:
        """The wrapped environment's exact optimum."""
        return self._env.exact_optimum()

    @_core_only("environment.optimum_bounds()", "model")
    def optimum_bounds(self) -> tuple[float | None, float] | None:
        """The wrapped environment's certified bracket on the optimum."""
        return self._env.optimum_bounds()


class RewardTable:
    """The rewards of every batch the problem rolled out, keyed by the batch itself.

    Only the facade's panel and reward channel look rewards up. Keys are held weakly, so a
    batch's rewards go when the algorithm drops the batch. Armed (:func:`tripwires`), the table
    keeps NaN in its plain mapping and the true rewards where only :meth:`reveal` finds them,
    and :meth:`reveal` trips when called from outside the core.
    """

    def __init__(self, owner: str = "", *, armed: bool = False) -> None:
        self._owner = owner
        self._armed_for = owner if armed else None
        self._rewards: weakref.WeakKeyDictionary[Trajectories, np.ndarray]
        self._rewards = weakref.WeakKeyDictionary()
        sealed: weakref.WeakKeyDictionary[Trajectories, np.ndarray] = weakref.WeakKeyDictionary()
        self._sealed = sealed.get if armed else self._rewards.get
        self._seal = sealed.__setitem__ if armed else None

    def keep(self, traj: Trajectories, rewards: np.ndarray) -> None:
        """Remember ``rewards`` as the rewards of ``traj``."""
        if self._seal is None:
            self._rewards[traj] = rewards
        else:
            self._seal(traj, rewards)
            self._rewards[traj] = np.full(rewards.shape, np.nan)

    @_core_only("the reward table", "rewards")
    def reveal(self, traj: Trajectories, reader: str) -> np.ndarray:
        """The rewards ``(B, H, n)`` of ``traj`` (for the panel and the reward channel)."""
        rewards = self._sealed(traj) if isinstance(traj, Trajectories) else None
        if rewards is None:
            raise ChannelError(
                f"handed {reader} trajectories that this problem's rollouts did not produce; "
                "only batches returned by problem.rollout / rollout_pair (unchanged) have "
                "rewards behind them",
                algorithm=self._owner,
                channel="preferences",
            )
        return rewards
