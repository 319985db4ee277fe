"""The statistics against values computed by hand, and the bootstrap's coverage on synthetic data."""

import functools
import math

import numpy as np
import pytest

from zobench.report import stats


def test_iqm_drops_a_quarter_from_each_end():
    # 1..8: drop 1, 2 and 7, 8 -> mean(3, 4, 5, 6) = 4.5
    assert stats.iqm(np.arange(1, 9)) == pytest.approx(4.5)
    # n = 5: floor(1.25) = 1 cut each side -> mean(2, 3, 4) = 3; the outlier 100 is ignored
    assert stats.iqm([4, 1, 100, 3, 2]) == pytest.approx(3.0)


def test_iqm_pools_tasks():
    table = np.array([[1.0, 5.0], [2.0, 6.0], [3.0, 7.0], [4.0, 8.0]])  # 4 runs x 2 tasks
    assert stats.iqm(table) == pytest.approx(4.5)


def test_mean_std_uses_sample_deviation():
    mean, std = stats.mean_std([1.0, 2.0, 3.0, 4.0])
    assert mean == pytest.approx(2.5)
    assert std == pytest.approx(np.sqrt(5 / 3))  # sum of squares 5, over n - 1 = 3
    assert stats.mean_std([7.0]) == (7.0, 0.0)


def test_probability_of_improvement_counts_ties_as_half():
    # pairs (1,1) tie, (1,3) loss, (2,1) win, (2,3) loss -> (0.5 + 1) / 4
    assert stats.probability_of_improvement([1, 2], [1, 3]) == pytest.approx(0.375)
    assert stats.probability_of_improvement([5, 6], [1, 2]) == 1.0
    x, y = np.array([0.3, 0.9, 0.1]), np.array([0.5, 0.2, 0.4])
    assert stats.probability_of_improvement(x, y) + stats.probability_of_improvement(
        y, x
    ) == pytest.approx(1.0)


def test_probability_of_improvement_averages_tasks():
    x = np.array([[1.0, 0.0], [1.0, 0.0]])
    y = np.array([[0.0, 1.0], [0.0, 1.0]])
    assert stats.probability_of_improvement(x, y) == pytest.approx(0.5)  # task 1: 1, task 2: 0


def test_paired_probability_compares_seed_with_seed():
    # seed 0 tie (1/2), seed 1 loss (0) -> 0.25; unpaired would say 0.375
    assert stats.paired_probability_of_improvement([1, 2], [1, 3]) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="paired"):
        stats.paired_probability_of_improvement([1, 2], [1, 2, 3])


def test_performance_profile():
    profile = stats.performance_profile([0.1, 0.5, 0.9], [0.0, 0.5, 0.95])
    np.testing.assert_allclose(profile, [1.0, 1 / 3, 0.0])


def test_area_under_curve_is_the_average_score_of_a_step_curve_over_the_budget():
    # steps: 0 on [0,1), 0.5 on [1,3), 1 on [3,4] -> (0 + 1 + 1) / 4
    assert stats.area_under_curve([0, 1, 3], [0, 0.5, 1], end=4) == pytest.approx(2 / 4)
    # an offline learner: everything spent before its first policy scores nothing until then
    assert stats.area_under_curve([0, 8, 8], [0.0, 0.9, 0.95], end=8) == 0.0
    # before the first measurement the curve is `before`
    assert stats.area_under_curve([2, 4], [1.0, 1.0], end=4, before=0.5) == pytest.approx(0.75)
    assert stats.area_under_curve([5], [0.7], end=0) == pytest.approx(0.7)


def test_score_at_budget_holds_the_last_evaluation_within_it():
    budget, score = [0, 10, 20], [0.1, 0.5, 0.9]
    assert stats.score_at_budget(budget, score, 15) == 0.5
    assert stats.score_at_budget(budget, score, 20) == 0.9
    assert np.isnan(stats.score_at_budget([10, 20], [0.5, 0.9], 5))


def test_budget_to_threshold_and_final_score():
    assert stats.budget_to_threshold([10, 20, 30], [0.1, 0.8, 0.9], 0.8) == 20.0
    assert stats.budget_to_threshold([10, 20], [0.1, 0.2], 0.8) == np.inf
    assert stats.final_score([0.0, 1.0, 2.0, 4.0], last=2) == pytest.approx(3.0)


def test_bootstrap_is_stratified_by_task():
    # Every task is constant across runs, so a bootstrap within tasks cannot move the mean;
    # an unstratified bootstrap over the pooled cells would.
    table = np.array([[0.0, 10.0]] * 6)
    low, high = stats.stratified_bootstrap_ci(table, lambda t: float(t.mean()), reps=200)
    assert low == pytest.approx(5.0)
    assert high == pytest.approx(5.0)


def test_bootstrap_ci_is_deterministic_for_a_seed():
    scores = np.random.default_rng(1).normal(size=10)
    assert stats.stratified_bootstrap_ci(scores) == stats.stratified_bootstrap_ci(scores)


def test_bootstrap_ci_covers_the_mean_about_95_percent_of_the_time():
    # 300 synthetic experiments of 30 normal runs each; the percentile bootstrap of the mean
    # should cover the true mean ~95% of the time (slightly less at n = 30). With 300 trials the
    # binomial standard error is ~1.3 points, so [0.90, 0.985] is a > 3-sigma band around 0.94.
    rng = np.random.default_rng(2026)
    covered = 0
    trials = 300
    for trial in range(trials):
        sample = rng.normal(loc=3.0, scale=2.0, size=30)
        low, high = stats.stratified_bootstrap_ci(
            sample, lambda t: float(t.mean()), reps=1000, seed=trial
        )
        covered += low <= 3.0 <= high
    assert 0.90 <= covered / trials <= 0.985


def test_aggregate_bundles_the_summary():
    summary = stats.aggregate(np.arange(1.0, 9.0))
    assert summary.runs == 8
    assert summary.iqm == pytest.approx(4.5)
    assert summary.ci_low <= summary.iqm <= summary.ci_high


def test_improvement_ci_brackets_the_estimate_and_separates_clear_winners():
    rng = np.random.default_rng(7)
    x, y = rng.normal(1.0, 0.1, 10), rng.normal(0.0, 0.1, 10)
    for paired in (True, False):
        low, high = stats.improvement_ci(x, y, paired=paired)
        assert 0.5 < low <= high <= 1.0
    # Identical runs tie on every resample: the interval is the point ½.
    assert stats.improvement_ci(x, x, paired=True) == (0.5, 0.5)


def _coverage(interval, truth: float, shift: float, seed: int) -> float:
    """Share of 200 experiments (10 seeds per algorithm, N(shift, 1) against N(0, 1)) whose
    95% interval contains the true value; the percentile bootstrap undercovers at n = 10."""
    rng = np.random.default_rng(seed)
    covered = 0
    for _ in range(200):
        low, high = interval(rng.normal(shift, 1, 10), rng.normal(0, 1, 10), reps=500)
        covered += low <= truth <= high
    return covered / 200


@pytest.mark.parametrize("paired", [True, False])
def test_improvement_ci_covers_one_half_for_equal_algorithms(paired):
    interval = functools.partial(stats.improvement_ci, paired=paired)
    assert _coverage(interval, truth=0.5, shift=0.0, seed=11) >= 0.85


def test_iqm_difference_ci_covers_the_true_difference():
    # Shifted copies of one distribution differ in IQM by the shift.
    interval = functools.partial(stats.iqm_difference_ci, paired=False)
    assert _coverage(interval, truth=0.3, shift=0.3, seed=12) >= 0.85


def test_pair_comparisons_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match="equal shapes"):
        stats.improvement_ci(np.ones(3), np.ones(4), paired=True)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        stats.iqm_difference_ci(np.ones((3, 2)), np.ones(3), paired=False)


def _default_coverage(seeds: int, trials: int = 500) -> tuple[float, float]:
    """Coverage of the board's default 95% intervals by simulation: IQM of N(0, 1) runs (truth
    0, by symmetry) and the unpaired P(X > Y) of N(0, 1) against N(0.5, 1) runs (truth
    Φ(−0.5/√2)), each experiment with ``seeds`` runs per entry. Resamples: 2,000 (the count
    moves the third decimal of an interval, not its coverage)."""
    rng = np.random.default_rng(seeds)
    truth = 0.5 * (1 + math.erf(-0.5 / math.sqrt(2) / math.sqrt(2)))
    iqm_hits = poi_hits = 0
    for trial in range(trials):
        x, y = rng.normal(0.0, 1.0, seeds), rng.normal(0.5, 1.0, seeds)
        low, high = stats.stratified_bootstrap_ci(x, reps=2000, seed=trial)
        iqm_hits += low <= 0.0 <= high
        low, high = stats.improvement_ci(x, y, paired=False, reps=2000, seed=trial)
        poi_hits += low <= truth <= high
    return iqm_hits / trials, poi_hits / trials


@pytest.mark.slow
def test_default_intervals_cover_95_percent_at_10_seeds():
    # measured: 0.94 (IQM) and 0.94 (P(X > Y)); 500 trials give a standard error of ~1 point
    iqm_coverage, poi_coverage = _default_coverage(10)
    assert 0.90 <= iqm_coverage <= 0.98
    assert 0.90 <= poi_coverage <= 0.98


def test_unpaired_improvement_matches_rliable_with_ties():
    # rliable: per task, sum over pairs of 1[x > y] + ½·1[x = y], divided by n_x · n_y.
    x, y = np.array([1.0, 2.0, 2.0]), np.array([2.0, 1.0])
    # pairs: (1,2) 0, (1,1) ½, (2,2) ½, (2,1) 1, (2,2) ½, (2,1) 1 -> 3.5 / 6
    assert stats.probability_of_improvement(x, y) == pytest.approx(3.5 / 6)
    # two tasks are strata: the mean of the per-task values
    x2, y2 = np.c_[x, [0.0, 0.0, 0.0]], np.c_[y, [0.0, 0.0]]
    assert stats.probability_of_improvement(x2, y2) == pytest.approx((3.5 / 6 + 0.5) / 2)


def test_optimality_gap_and_profile_band():
    # rliable: γ − mean(min(x, γ)); a run above γ = 1 counts as 1
    assert stats.optimality_gap([0.5, 1.2, 0.9]) == pytest.approx(1 - (0.5 + 1.0 + 0.9) / 3)
    profile, low, high = stats.performance_profile_ci(np.linspace(0, 1, 10), [0.0, 0.5], reps=500)
    np.testing.assert_allclose(profile, stats.performance_profile(np.linspace(0, 1, 10), [0, 0.5]))
    assert np.all(low <= profile)
    assert np.all(profile <= high)


def test_median_ci_of_budgets_that_may_never_be_reached():
    median, low, high = stats.median_ci([1e5, 1e5, 2e5, np.inf], reps=500)
    assert median == 1.5e5
    assert low == 1e5
    assert high == np.inf
