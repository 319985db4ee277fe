"""The ledger: what a run has spent, recorded beside every evaluation of the learning curve.

The ledger belongs to the core. The problem's own primitives charge it (rollouts charge episodes
and steps, the panel charges votes, the reward and model channels charge what they reveal, the
communication primitives charge messages), and the runner counts iterations. An algorithm gets
a :class:`LedgerView`: it can read every counter and can change none, so a number in a
leaderboard is what the core counted. Counters only grow: a charge must be a non-negative
integer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zobench.errors import LedgerError

if TYPE_CHECKING:
    from zobench.sim.rollout import Trajectories

COUNTERS: tuple[str, ...] = (
    "iterations",
    "episodes",
    "env_steps",
    "queries",
    "reward_obs",
    "messages",
    "values_moved",
    "model_reads",
)
"""Every counter, in the order of the learning curve's columns.

``env_steps`` counts joint steps (one step of all n agents), so a batch of B episodes of horizon
H costs B·H; ``queries`` counts single evaluator votes (M per pair, per agent in the per-agent
scope); ``reward_obs`` counts true reward values revealed (per-step rewards, returns' terms, or
reward-table entries read through the model); ``messages`` counts messages between agents and
``values_moved`` the numbers they carry; ``model_reads`` counts reads of the environment's model
(transition tables or reference policy)."""


class Ledger:
    """Running counters of a run's budget, owned and charged by the core."""

    __slots__ = ("_counts",)
    _counts: dict[str, int]

    def __init__(self) -> None:
        self._counts = dict.fromkeys(COUNTERS, 0)

    def charge(self, **amounts: int) -> None:
        """Add non-negative integer ``amounts`` to the named counters (counters never decrease)."""
        for name, amount in amounts.items():
            if name not in self._counts:
                raise LedgerError(f"the ledger has no counter '{name}'")
            if isinstance(amount, bool) or int(amount) != amount or amount < 0:
                raise LedgerError(f"a charge must be a non-negative integer, got {name}={amount!r}")
            self._counts[name] += int(amount)

    def charge_rollout(self, traj: Trajectories) -> None:
        """Charge a batch of episodes: B episodes and B·H joint steps."""
        self.charge(episodes=traj.batch, env_steps=traj.batch * traj.horizon)

    def charge_queries(self, count: int) -> None:
        """Charge ``count`` evaluator votes."""
        self.charge(queries=int(count))

    def snapshot(self) -> dict[str, int]:
        """The counters as a plain dict (one row of the learning curve)."""
        return dict(self._counts)

    def view(self, owner: str = "") -> LedgerView:
        """A read-only view of this ledger for the algorithm ``owner`` (named in errors)."""
        return LedgerView(self, owner)

    def __getattr__(self, name: str) -> int:
        # counters read as attributes: ledger.queries
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._counts[name]
        except KeyError:
            raise AttributeError(f"the ledger has no counter '{name}'") from None

    def __repr__(self) -> str:
        return f"Ledger({', '.join(f'{k}={v}' for k, v in self._counts.items())})"


class LedgerView:
    """What an algorithm sees of the ledger: every counter, read-only."""

    __slots__ = ("_ledger", "_owner")
    _ledger: Ledger
    _owner: str

    def __init__(self, ledger: Ledger, owner: str = "") -> None:
        object.__setattr__(self, "_ledger", ledger)
        object.__setattr__(self, "_owner", owner)

    def __getattr__(self, name: str) -> int:
        return getattr(self._ledger, name)

    def __setattr__(self, name: str, value: Any) -> None:
        who = f"algorithm '{self._owner}'" if self._owner else "an algorithm"
        raise LedgerError(
            f"{who} tried to set the ledger's '{name}', but the ledger is read-only: the core "
            "charges every spend (rollouts, votes, rewards, model reads, messages) itself"
        )

    def __delattr__(self, name: str) -> None:
        raise LedgerError("the ledger is read-only")

    def snapshot(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return self._ledger.snapshot()

    def __repr__(self) -> str:
        return f"LedgerView({self._ledger!r})"
