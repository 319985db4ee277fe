"""Single-agent algorithms on networked environments: centralized learners with global preferences.

The DZOPG paper's DPO baseline is such a learner (docs/algorithms.md#centralized-baselines): one
learner over the joint policy, asking the panel about whole joint trajectories. The runs here use
net-gridworld's greedy reference (its exact optimum costs a 25 s dynamic program): the normalized
score then rests on the reference policy's Monte Carlo value, which the results must say.
"""

from __future__ import annotations

import numpy as np
import pytest

import zobench

SMALL = {
    "zpg": {"pairs": 4, "evaluators": 3},
    "zbcpg": {"pairs": 4, "evaluators": 3},
    "zspo": {"comparisons": 4},
    "dpo": {"pairs": 12, "evaluators": 3, "batch_size": 4},
    "online-dpo": {"pairs": 4, "evaluators": 3, "batch_size": 4},
    "ppo-rm": {"pairs": 12, "evaluators": 3, "episodes": 4},
}
ITERATIONS = 3
GREEDY = {"reference": "greedy"}


@pytest.mark.parametrize("algorithm", sorted(SMALL))
def test_a_single_agent_algorithm_learns_centrally_with_global_preferences(algorithm: str) -> None:
    frame = zobench.run_one(
        algorithm=algorithm,
        algorithm_params=SMALL[algorithm],
        environment="net-gridworld",
        environment_params=GREEDY,
        topology="chain",
        seed=0,
        iterations=ITERATIONS,
        eval_every=ITERATIONS,
        eval_episodes=50,
    )
    assert np.isfinite(frame["score"].to_numpy()).all()
    assert frame["queries"][-1] > 0
    # global preferences: the panel is asked once per pair, not once per agent, and no
    # messages pass between agents because a central learner sees the joint trajectories
    assert frame["messages"][-1] == 0
    assert frame["reward_obs"][-1] == 0
    # four agents on a 5x5 grid have no joint tables: the greedy optimum is approximate, and labelled
    assert frame["ref_optimal_exact"].to_list() == [False] * frame.height
    assert frame["ref_kind"].to_list() == ["approximate"] * frame.height


def test_global_queries_count_pairs_times_evaluators_not_agents() -> None:
    params = SMALL["zpg"]
    frame = zobench.run_one(
        algorithm="zpg",
        algorithm_params=params,
        environment="net-gridworld",
        environment_params=GREEDY,
        seed=0,
        iterations=ITERATIONS,
        eval_every=ITERATIONS,
        eval_episodes=50,
    )
    assert frame["queries"][-1] == ITERATIONS * params["pairs"] * params["evaluators"]


def test_a_report_says_when_its_optimum_is_approximate(tmp_path) -> None:
    from zobench.bench.suite import parse_suite
    from zobench.report import make_report

    suite = parse_suite(
        """
        name = "approximate-optimum"
        seeds = 2
        iterations = 2
        eval_every = 2
        eval_episodes = 20
        [environment]
        name = "net-gridworld"
        reference = "greedy"
        [preference]
        name = "bradley-terry"
        [[algorithm]]
        name = "uniform"
        [[algorithm]]
        name = "zpg"
        pairs = 4
        evaluators = 3
        """
    )
    zobench.run_suite(suite, tmp_path / "out", executor="serial")
    markdown = make_report(tmp_path / "out").read_text()
    assert "approximate optimum, which a learner can exceed" in markdown
