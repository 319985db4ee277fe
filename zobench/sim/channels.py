"""The parts of the problem's facade: the environment's description and the declared channels.

See :mod:`zobench.sim.problem` for the facade itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from zobench.errors import ChannelError, RewardAccessError
from zobench.sim.network import Network
from zobench.sim.rollout import Trajectories
from zobench.sim.types import LinkLike, TransitionTables

if TYPE_CHECKING:
    from zobench.sim.panel import Normalization
    from zobench.sim.problem import Simulation


@dataclass(frozen=True)
class EnvironmentDescription:
    """The environment as an algorithm sees it: public facts, no dynamics, no model.

    Stepping happens only through the problem's rollouts; the model (tables, reference policy)
    only through the declared ``model`` channel. The methods of the same names here raise a
    :class:`~zobench.errors.ChannelError` that says so.
    """

    name: str
    """The environment's registered name."""
    n_agents: int
    n_states: int
    """Local states per agent."""
    n_actions: int
    """Local actions per agent."""
    horizon: int
    """Episode length H."""
    gamma: float
    """Discount γ of the objective."""
    reward_span: float
    """Declared width of each agent's per-step reward (bounds return differences)."""
    network: Network
    """The agents' network (neighbour lists and κ-hop neighbourhoods)."""
    noise_dims: int = 1
    """Uniforms per agent and step the environment consumes."""
    networked: bool = False
    """True when dynamics or rewards couple agents through the network."""
    owner: str = field(default="", repr=False, compare=False)

    def _refuse(self, what: str, channel: str, how: str) -> ChannelError:
        return ChannelError(
            f"called environment.{what} but the environment is only described to algorithms; {how}",
            algorithm=self.owner,
            channel=channel,
        )

    def reset(self, *args: Any, **kwargs: Any) -> Any:
        """Refused: episodes start only inside the problem's rollouts."""
        raise self._refuse("reset()", "environment", "roll out with problem.rollout")

    def step(self, *args: Any, **kwargs: Any) -> Any:
        """Refused: the environment steps only inside the problem's rollouts (charged)."""
        raise self._refuse("step()", "environment", "roll out with problem.rollout (charged)")

    def tables(self) -> Any:
        """Refused: the tables belong to the ``model`` channel."""
        raise self._refuse(
            "tables()", "model", "declare the 'model' channel and call problem.model.tables()"
        )

    def reference_policy(self) -> Any:
        """Refused: the reference policy belongs to the ``model`` channel."""
        raise self._refuse(
            "reference_policy()",
            "model",
            "declare the 'model' channel and call problem.model.reference_policy()",
        )


class PanelChannel:
    """The preference channel: the panel's votes on pairs of the algorithm's own trajectories.

    Every vote is charged to the ledger. Returns are never revealed: they are the panel's
    hidden input.
    """

    def __init__(self, simulation: Simulation) -> None:
        self._simulation = simulation

    @property
    def preference(self) -> LinkLike:
        """The preference model (its link σ and the teachers' settings)."""
        return self._simulation.preference

    def step_weights(self, horizon: int) -> np.ndarray:
        """Weight of step t in a teacher's return: γ^t · myopia^(H−1−t), shape ``(H,)``."""
        return self._simulation.panel.step_weights(horizon)

    def compare(
        self,
        traj0: Trajectories,
        traj1: Trajectories,
        evaluators: int,
        *,
        horizon: int | None = None,
        kappa: int | None = None,
        normalize: Normalization = "n",
    ) -> np.ndarray:
        """Fraction p̂ of ``evaluators`` (M) preferring ``traj1`` over ``traj0``, pair by pair.

        Global scope ``(B,)``, or per agent ``(B, n)`` on κ-hop, H-step truncated returns when
        ``kappa`` is given (``horizon`` truncates; ``normalize`` chooses how they are averaged,
        see :meth:`zobench.sim.panel.Panel.returns`). Charges M votes per pair (per agent), and
        for per-agent votes the gather of the neighbours' trajectories as messages (see
        :meth:`zobench.sim.panel.Panel.compare`).
        """
        sim = self._simulation
        if traj0.batch != traj1.batch:
            raise ValueError(f"batches differ: {traj0.batch} vs {traj1.batch}")
        with sim.world_time():
            return sim.panel.compare(
                sim.rewards.reveal(traj0, "the panel"),
                sim.rewards.reveal(traj1, "the panel"),
                evaluators,
                horizon=horizon,
                kappa=kappa,
                normalize=normalize,
            )

    def compare_batch_means(
        self, traj0: Trajectories, traj1: Trajectories, batch: int, evaluators: int
    ) -> np.ndarray:
        """Votes on batches of ``batch`` consecutive episodes by mean return, ``(N,)`` (ZSPO)."""
        sim = self._simulation
        with sim.world_time():
            return sim.panel.compare_batch_means(
                sim.rewards.reveal(traj0, "the panel"),
                sim.rewards.reveal(traj1, "the panel"),
                batch,
                evaluators,
            )

    def returns(self, *args: Any, **kwargs: Any) -> Any:
        """Refused: the panel gives votes, never returns."""
        raise RewardAccessError(
            "called panel.returns(): the panel gives votes, never returns. Returns are "
            "rewards: declare the 'rewards' channel and call problem.returns(traj) (charged)",
            algorithm=self._simulation.algorithm,
            channel="rewards",
        )


class ModelChannel:
    """The model channel: the environment's transition tables and reference policy.

    Each read that reveals something is charged as one ``model_reads``; the tables include the
    reward table, so reading them also charges its entries as ``reward_obs``. Arrays handed out
    are read-only.
    """

    def __init__(self, simulation: Simulation) -> None:
        self._simulation = simulation

    def tables(self) -> TransitionTables | None:
        """The joint tabular model, or ``None`` when the environment has none (charged)."""
        tables = self._simulation.model_tables()
        if tables is None:  # nothing was revealed, so nothing is charged
            return None
        self._simulation.ledger.charge(model_reads=1, reward_obs=tables.rewards.size)
        return tables

    def reference_policy(self) -> np.ndarray | None:
        """Parameters of the environment's known good policy, or ``None`` (charged)."""
        self._simulation.ledger.charge(model_reads=1)
        theta = self._simulation.env.reference_policy()
        return None if theta is None else read_only(np.asarray(theta))


def read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view
