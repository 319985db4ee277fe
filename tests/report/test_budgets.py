"""Equal-budget views: a board that tells a fast learner from a slow one that ends as high."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from report_helpers import write_run

from zobench.bench.store import Store
from zobench.errors import ZobenchError
from zobench.report import analysis, budgets, leaderboard

EVALUATIONS = 11  # iterations 0, 10, ..., 100


def _curve(per_iteration: int, reach_09_at: float, seed: int, *, offline: bool = False):
    """A run spending ``per_iteration`` votes per iteration (all at once if offline), scoring 0
    before it has spent ``reach_09_at`` votes, 0.9 from then, and 0.99 at the end."""
    it = np.arange(EVALUATIONS) * 10
    queries = np.where(it > 0, per_iteration * it[-1], 0) if offline else it * per_iteration
    noise = np.random.default_rng(seed).uniform(0.0, 0.001, it.size)  # never below 0.9 once there
    score = np.where(queries >= reach_09_at, 0.9, 0.0) + noise * (it > 0)
    score[-1] = 0.99
    score[0] = 0.0
    return pl.DataFrame(
        {
            "iteration": it,
            "episodes": it * 10,
            "env_steps": it * 100,
            "queries": queries,
            "reward_obs": np.zeros_like(it),
            "messages": np.zeros_like(it),
            "wall_s": it * 0.01,
            "score": score,
            "score_normalized": score,
        }
    )


def _store(root: Path, learners: dict[str, dict]) -> Path:
    """One run per (learner, seed) written through the report helpers' writer, then its curve
    replaced by a made-up one."""
    store = Store(root, create=True)
    for label, shape in learners.items():
        for seed in range(6):
            run_id = write_run(store, label=label, seed=seed, target=1.0)
            store.write(store.read_record(run_id), _curve(seed=seed, **shape))
    return root


@pytest.fixture(scope="module")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Each spends 10^4 votes per iteration, 10^6 in all; alpha is at 0.9 from 10^5 votes,
    # beta only from 9 × 10^5, and gamma (offline) spends all 10^6 before its first policy.
    return _store(
        tmp_path_factory.mktemp("budgets") / "store",
        {
            "alpha": {"per_iteration": 10_000, "reach_09_at": 1e5},
            "beta": {"per_iteration": 10_000, "reach_09_at": 9e5},
            "gamma": {"per_iteration": 10_000, "reach_09_at": 0, "offline": True},
        },
    )


@pytest.fixture(scope="module")
def fast_and_slow(store_root: Path) -> leaderboard.Leaderboard:
    return leaderboard.build(analysis.from_store(store_root), name="budgets")


def test_auc_and_equal_budgets_tell_a_fast_learner_from_a_slow_one(fast_and_slow) -> None:
    section = fast_and_slow.sections[0]
    # ranked by AUC against votes: alpha, then beta; the offline gamma has nothing until 10^6
    assert [e.entry for e in section.learners.entries] == ["alpha", "beta", "gamma"]
    assert section.learners.quantity == "AUC against votes (0 to 1M)"
    rungs = section.budgets.rungs
    assert rungs[:2] == (1e5, 2e5)
    assert rungs[-1] == 1e6
    at_1e5 = section.rungs[0]
    assert list(at_1e5) == ["alpha", "beta"]  # rank order at 10^5 votes; gamma not yet there
    assert at_1e5["alpha"].summary.iqm == pytest.approx(0.9, abs=0.01)
    assert at_1e5["beta"].summary.iqm == pytest.approx(0.0, abs=0.01)
    # the final score ties: every run ends at 0.99
    finals = {name: e.summary for name, e in section.final.items()}
    assert finals["alpha"].iqm == finals["beta"].iqm == pytest.approx(0.99)
    text = leaderboard.markdown(fast_and_slow)
    assert re.search(r"^\| 1 \| alpha \|", text, re.M)


def test_budget_to_threshold_has_intervals_containing_the_truth(fast_and_slow) -> None:
    cells = fast_and_slow.sections[0].thresholds
    median, low, high, reached, runs = cells["alpha"]["to_axis_0.9"]
    assert median == 1e5
    assert low <= 1e5 <= high
    assert reached == runs == 6
    median, low, high, _, _ = cells["beta"]["to_axis_0.9"]
    assert median == 9e5
    assert low <= 9e5 <= high
    text = leaderboard.markdown(fast_and_slow)
    assert "| alpha | votes | 100k [100k, 100k] | 100k [100k, 100k] |" in text


def test_an_offline_learner_scores_only_at_and_after_its_budget(fast_and_slow) -> None:
    section = fast_and_slow.sections[0]
    present = [("gamma" in at) for at in section.rungs]
    assert present == [rung >= 1e6 for rung in section.budgets.rungs]
    assert section.learners.entries[-1].summary.iqm == 0.0  # AUC: nothing before its budget
    text = leaderboard.markdown(fast_and_slow)
    row = next(line for line in text.splitlines() if line.startswith("| gamma |"))
    assert row.count(" – ") == len(section.budgets.rungs) - 1


def test_rank_by_a_budget_or_the_final_score(store_root: Path) -> None:
    run_set = analysis.from_store(store_root)
    at = leaderboard.build(run_set, name="b", rank_by="budget:1e5").sections[0].learners
    assert at.quantity == "score at 100k votes"
    assert [e.entry for e in at.entries] == ["alpha", "beta"]  # gamma has no score there
    final = leaderboard.build(run_set, name="b", rank_by="final").sections[0].learners
    assert final.quantity == "final score"
    assert {e.entry for e in final.entries} == {"alpha", "beta", "gamma"}
    with pytest.raises(ZobenchError, match="rank_by 'best'"):
        leaderboard.build(run_set, name="b", rank_by="best")


def test_ladder_of_rungs() -> None:
    assert budgets.ladder(4e5, 8e6) == (5e5, 1e6, 2e6, 5e6, 8e6)
    assert budgets.ladder(1e3, 1e8) == (1e3, 1e4, 1e5, 1e6, 1e7, 1e8)
    assert budgets.budget_text(float("inf")) == "not reached"
    assert budgets.budget_text(1_200_000) == "1.2M"
