"""The simulation kernel every algorithm shares: policy, rollouts, panel, network, evaluation.

The kernel sits below the plugin contracts: it imports nothing from ``zobench.api`` (it names
what it needs in :mod:`zobench.sim.types`), nor from ``bench/``, ``report/`` or ``cli/``.

``zobench.sim.rollout`` is the sampling *function* (re-exported here), which shadows the
submodule of the same name as an attribute of this package. ``from zobench.sim.rollout import
Trajectories`` still works, because ``from a.b import c`` reads the submodule from
``sys.modules``. Only ``import zobench.sim.rollout as m`` (and ``from zobench.sim import
rollout``) bind the function; reach the module itself with
``importlib.import_module("zobench.sim.rollout")``.
"""

from __future__ import annotations

from zobench.sim.ledger import Ledger, LedgerView
from zobench.sim.network import Network
from zobench.sim.panel import Panel, estimate_difference, trim_bounds
from zobench.sim.problem import Problem, Simulation, build_problem, build_simulation
from zobench.sim.rollout import (
    Episodes,
    Noise,
    Trajectories,
    paired_rollout,
    rollout,
    rollout_with_noise,
)
from zobench.sim.types import Channel, TransitionTables

__all__ = [
    "Channel",
    "Episodes",
    "Ledger",
    "LedgerView",
    "Network",
    "Noise",
    "Panel",
    "Problem",
    "Simulation",
    "Trajectories",
    "TransitionTables",
    "build_problem",
    "build_simulation",
    "estimate_difference",
    "paired_rollout",
    "rollout",
    "rollout_with_noise",
    "trim_bounds",
]
