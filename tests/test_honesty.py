"""Honesty by construction: every route to what an algorithm did not declare is closed.

Test plugins try each route. The public ones (trajectory rewards, the environment's step,
tables and reference policy, the panel's returns, undeclared channels, forged trajectories,
writing or replacing the ledger) fail at run time: a suite records the run as failed and stores
no number. The private ones (digging under the facade) pass an ordinary run but fail the
conformance kit's honesty check, which arms trip-wires and poisons the rewards it hides.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping

import numpy as np
import pytest

from zobench import api
from zobench.bench import scheduler
from zobench.bench.store import Store
from zobench.bench.suite import parse_suite
from zobench.plugins import get_host
from zobench.sim.ledger import Ledger
from zobench.sim.rollout import Trajectories
from zobench.testing import check_honest, registered


class Peeker(api.Algorithm):
    """Base of the test plugins: one rollout, then :meth:`peek` tries a route."""

    consumes = frozenset({"preferences"})

    def step(self) -> Mapping[str, float]:
        traj = self.problem.rollout(self.theta, 2)
        value = self.peek(traj)
        self.theta = self.theta + 0.0 * float(np.sum(value))
        return {}

    def peek(self, traj: Trajectories) -> object:
        raise NotImplementedError


def _peeker(name: str, peek, **attributes) -> type[Peeker]:
    return type(name, (Peeker,), {"name": name, "peek": peek, **attributes})


def _set_ledger(problem) -> None:
    problem.ledger = Ledger()


def _add(problem, counter: str, amount: int) -> int:
    ledger = problem.ledger
    setattr(ledger, counter, getattr(ledger, counter) + amount)
    return 0


PUBLIC_ROUTES: dict[str, tuple[type[Peeker], str]] = {
    "trajectory rewards": (
        _peeker("peek-traj-rewards", lambda self, t: t.hidden_rewards),
        "channel 'rewards'",
    ),
    "env.step": (
        _peeker(
            "peek-env-step",
            lambda self, t: self.problem.env.step(t.states[:, 0], t.actions[:, 0], None),
        ),
        "environment.step",
    ),
    "env.tables": (
        _peeker("peek-env-tables", lambda self, t: self.problem.env.tables()),
        "'model'",
    ),
    "env.reference_policy": (
        _peeker("peek-env-reference", lambda self, t: self.problem.env.reference_policy()),
        "'model'",
    ),
    "panel.returns": (
        _peeker("peek-panel-returns", lambda self, t: self.problem.panel.returns(t)),
        "channel 'rewards'",
    ),
    "undeclared rewards": (
        _peeker("peek-rewards", lambda self, t: self.problem.rewards(t)),
        "channel 'rewards'",
    ),
    "undeclared model": (
        _peeker("peek-model", lambda self, t: self.problem.model.tables()),
        "channel 'model'",
    ),
    "undeclared preferences": (
        _peeker(
            "peek-votes",
            lambda self, t: self.problem.panel.compare(t, t, 1),
            consumes=frozenset({"rewards"}),
        ),
        "channel 'preferences'",
    ),
    "forged trajectories": (
        _peeker(
            "peek-forged",
            lambda self, t: self.problem.panel.compare(t, Trajectories(t.states, t.actions), 1),
        ),
        "did not produce",
    ),
    "add to the ledger": (
        _peeker("peek-add", lambda self, t: _add(self.problem, "queries", 1)),
        "read-only",
    ),
    "subtract from the ledger": (
        _peeker("peek-subtract", lambda self, t: _add(self.problem, "queries", -5000)),
        "read-only",
    ),
    "replace the ledger": (
        _peeker("peek-replace", lambda self, t: _set_ledger(self.problem)),
        "replace the ledger",
    ),
}


def _rewards_from_the_private_table(self, traj):
    # digs under the facade to the core's reward table (NaN under the honesty check)
    return self.problem._simulation.rewards._rewards[traj]


PRIVATE_ROUTES: dict[str, tuple[type[Peeker], str]] = {
    "core environment": (
        _peeker(
            "dig-env",
            lambda self, t: self.problem._simulation.env.step(
                t.states[:, 0], t.actions[:, 0], np.zeros((2, 1, 1))
            ),
        ),
        "environment.step()",
    ),
    "core reward table": (
        _peeker(
            "dig-reveal",
            lambda self, t: self.problem._simulation.rewards.reveal(t, "me"),
        ),
        "reward table",
    ),
    "core reward storage": (_peeker("dig-storage", _rewards_from_the_private_table), "NaN"),
    "core panel": (
        _peeker(
            "dig-panel",
            lambda self, t: self.problem._simulation.panel.returns(np.ones((2, 3, 1))),
        ),
        "core panel",
    ),
    "core ledger": (
        _peeker("dig-ledger", lambda self, t: self.problem._simulation.ledger.charge(queries=1)),
        "core ledger",
    ),
}


SUITE = """
name = "honesty"
seeds = 1
iterations = 2
eval_every = 1
eval_episodes = 8

[environment]
name = "gridworld"
size = 3
goal = [2, 2]
horizon = 4

[preference]
name = "bradley-terry"

[[algorithm]]
name = "{name}"
"""


@pytest.mark.parametrize("route", list(PUBLIC_ROUTES))
def test_a_public_route_fails_the_run_and_publishes_nothing(route, tmp_path):
    cls, message = PUBLIC_ROUTES[route]
    with registered(cls):
        outcome = scheduler.schedule(
            parse_suite(SUITE.format(name=cls.name)),
            tmp_path,
            executor=get_host().get("executor", "serial").obj(),
        )
    assert not outcome.done
    ((run_id, error),) = outcome.failed.items()
    assert cls.name in error
    assert message in error
    assert not Store(tmp_path).frame_path(run_id).exists()
    with pytest.raises(AssertionError, match=f"{cls.name}.*honesty check caught it"):
        check_honest(cls)


@pytest.mark.parametrize("route", list(PRIVATE_ROUTES))
def test_a_private_route_fails_the_honesty_check(route):
    cls, message = PRIVATE_ROUTES[route]
    with pytest.raises(AssertionError, match=message):
        check_honest(cls)


def test_declared_but_unused_channels_and_quiet_plugins():
    class Overclaims(api.Algorithm):
        name = "overclaims"
        consumes = frozenset({"preferences", "model"})

        def step(self):
            traj = self.problem.rollout(self.theta, 2)
            self.problem.panel.compare(traj, traj, 1)
            return {}

    with pytest.raises(AssertionError, match="'model' channel but a tiny run spent nothing"):
        check_honest(Overclaims)


def test_consumes_is_validated_and_uses_rewards_still_works():
    with pytest.raises(ValueError, match="unknown channel"):
        type("Bad", (api.Algorithm,), {"consumes": frozenset({"rewardz"})})
    with pytest.warns(DeprecationWarning, match="uses_rewards"):
        old = type("Old", (api.Algorithm,), {"uses_rewards": True})
    assert old.consumes == {"preferences", "rewards"}
    assert old.uses_rewards is True
    assert api.Algorithm.consumes == {"preferences"}


def test_the_kernel_imports_without_the_contracts():
    code = "import sys, zobench.sim; assert 'zobench.api' not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def _chain_run(algorithm: str, **params) -> object:
    import zobench

    return zobench.run_one(
        algorithm=algorithm,
        algorithm_params=params,
        environment="net-gridworld",
        # greedy reference: the counts are the point here, not a 7 s exact optimum
        environment_params={"n_agents": 4, "horizon": 7, "reference": "greedy"},
        topology="chain",
        seed=0,
        iterations=3,
        eval_every=1,
        eval_episodes=8,
    )


def test_ledger_columns_of_dzopg_on_a_four_agent_chain_are_the_hand_counted_messages():
    # chain 0-1-2-3, κ = 1: agents 0..3 have 1, 2, 2, 1 other neighbours = 6 messages per pair,
    # each carrying the neighbour's states and actions of both episodes: 2 · 2H numbers
    frame = _chain_run("dzopg", kappa=1, pairs=5, horizon=4, evaluators=3)
    per_iteration = 5 * 6
    assert frame["messages"].to_list() == [0, per_iteration, 2 * per_iteration, 3 * per_iteration]
    assert frame["values_moved"].to_list() == [m * 2 * 2 * 4 for m in frame["messages"]]
    assert frame["queries"].to_list() == [i * 5 * 3 * 4 for i in range(4)]  # M per pair per agent
    assert frame["reward_obs"].max() == 0


def test_ledger_columns_of_sac_on_a_four_agent_chain_are_the_hand_counted_messages():
    # per episode, each of the 6 (receiver, neighbour) links carries the neighbour's (s, a)
    # sequence (2H numbers) for the critic and its critic values (H numbers) for the actor
    frame = _chain_run("sac", kappa=1, episodes=2)
    H = 7
    assert frame["messages"].to_list() == [i * 2 * 2 * 6 for i in range(4)]
    assert frame["values_moved"].to_list() == [i * 2 * 6 * (2 * H + H) for i in range(4)]
    assert frame["reward_obs"].to_list() == [i * 2 * H * 4 for i in range(4)]
    assert frame["queries"].max() == 0
    assert frame["model_reads"].max() == 0
