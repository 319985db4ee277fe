"""The simulation kernel every algorithm shares: policy, rollouts, panel, network, evaluation.

``zobench.sim.rollout`` is the sampling *function* (re-exported here), which shadows the
submodule of the same name as an attribute of this package. ``from zobench.sim.rollout import
Trajectories`` still works, because ``from a.b import c`` reads the submodule from
``sys.modules``. Only ``import zobench.sim.rollout as m`` (and ``from zobench.sim import
rollout``) bind the function; reach the module itself with
``importlib.import_module("zobench.sim.rollout")``.
"""

from __future__ import annotations

from zobench.sim.ledger import Ledger
from zobench.sim.network import Network
from zobench.sim.panel import Panel, estimate_difference, trim_bounds
from zobench.sim.problem import Problem, build_problem
from zobench.sim.rollout import Noise, Trajectories, paired_rollout, rollout, rollout_with_noise

__all__ = [
    "Ledger",
    "Network",
    "Noise",
    "Panel",
    "Problem",
    "Trajectories",
    "build_problem",
    "estimate_difference",
    "paired_rollout",
    "rollout",
    "rollout_with_noise",
    "trim_bounds",
]
