"""The statistics a careful reader expects, in numpy: rliable's formulas without its package.

Scores across seeds come as arrays shaped ``(runs,)`` for one task or ``(runs, tasks)`` for
several; tasks are the strata of the bootstrap. Definitions follow Agarwal et al., "Deep RL at
the Edge of the Statistical Precipice" (NeurIPS 2021), as implemented in rliable:

- IQM: the mean of the middle 50% of all runs' scores (25% trimmed from each end, pooled over
  tasks), the same cut as ``scipy.stats.trim_mean(x, 0.25, axis=None)``;
- confidence intervals: percentile intervals of a bootstrap that resamples runs with replacement
  independently within each task;
- probability of improvement P(X > Y): per task the Mann-Whitney U statistic divided by
  ``n_x · n_y`` (ties count one half), averaged over tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Statistic = Callable[[np.ndarray], float]


def _as_runs_by_tasks(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ValueError(
            f"scores must be (runs,) or (runs, tasks) with runs > 0, got {scores.shape}"
        )
    return scores


# ---------------------------------------------------------------------------------------------
# Per run
# ---------------------------------------------------------------------------------------------


def final_score(curve: np.ndarray, last: int = 1) -> float:
    """Mean of the last ``last`` evaluations of a learning curve."""
    curve = np.asarray(curve, dtype=float)
    if last < 1 or curve.size == 0:
        raise ValueError("need a non-empty curve and last >= 1")
    return float(np.mean(curve[-last:]))


def normalized_score(score: np.ndarray | float, floor: float, ceiling: float) -> np.ndarray:
    """``(score − floor) / (ceiling − floor)``: 0 at the floor (uniform policy), 1 at the optimum."""
    if ceiling == floor:
        raise ValueError("ceiling and floor are equal: the normalized score is undefined")
    return (np.asarray(score, dtype=float) - floor) / (ceiling - floor)


def area_under_curve(budget: np.ndarray, score: np.ndarray) -> float:
    """Trapezoidal area under ``score`` against ``budget``, divided by the budget's range.

    Dividing by the range makes it the curve's average score over the budget, comparable across
    budgets of different lengths. A single point gives that point's score.
    """
    budget = np.asarray(budget, dtype=float)
    score = np.asarray(score, dtype=float)
    if budget.shape != score.shape or budget.size == 0:
        raise ValueError("budget and score must be non-empty and of the same shape")
    if budget.size == 1 or budget[-1] == budget[0]:
        return float(score[-1])
    widths = np.diff(budget)
    return float(np.sum(widths * (score[1:] + score[:-1]) / 2) / (budget[-1] - budget[0]))


def budget_to_threshold(budget: np.ndarray, score: np.ndarray, threshold: float) -> float:
    """The first budget (queries, episodes, …) at which ``score`` reaches ``threshold``; NaN if never."""
    reached = np.flatnonzero(np.asarray(score, dtype=float) >= threshold)
    return float(np.asarray(budget, dtype=float)[reached[0]]) if reached.size else float("nan")


# ---------------------------------------------------------------------------------------------
# Across seeds
# ---------------------------------------------------------------------------------------------


def mean_std(scores: np.ndarray) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; 0 for a single run) over all runs."""
    flat = _as_runs_by_tasks(scores).ravel()
    return float(flat.mean()), float(flat.std(ddof=1)) if flat.size > 1 else 0.0


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean: sort all scores, drop ``floor(0.25·n)`` from each end, average the rest."""
    flat = np.sort(_as_runs_by_tasks(scores).ravel())
    cut = int(0.25 * flat.size)
    return float(flat[cut : flat.size - cut].mean())


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central ``confidence`` percentile interval of bootstrap replicates."""
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def stratified_bootstrap_ci(
    scores: np.ndarray,
    statistic: Statistic = iqm,
    *,
    confidence: float = 0.95,
    reps: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile confidence interval of ``statistic`` under a bootstrap stratified by task.

    Each replicate draws, for every task, as many runs as it has, with replacement. The seed is
    fixed so the same store gives the same interval (leaderboards are byte-identical).
    """
    table = _as_runs_by_tasks(scores)
    runs, tasks = table.shape
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, runs, size=(reps, runs, tasks))
    resampled = np.take_along_axis(table[None, :, :], picks, axis=1)
    return _interval(np.array([statistic(sample) for sample in resampled]), confidence)


def _wins(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """1 where x beats y, ½ on a tie, 0 otherwise (elementwise, broadcasting)."""
    return (x > y) + 0.5 * (x == y)


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y): per task the share of (x, y) run pairs where x wins (ties count ½), averaged."""
    x, y = _as_runs_by_tasks(x), _as_runs_by_tasks(y)
    if x.shape[1] != y.shape[1]:
        raise ValueError("x and y must have the same number of tasks")
    return float(_wins(x[:, None, :], y[None, :, :]).mean(axis=(0, 1)).mean())


def paired_probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) on the same seed: the share of seeds where x beats y (ties ½), averaged over tasks.

    Use it when both algorithms ran on the same seeds (common random numbers): it compares each
    seed with its own pair instead of with every run of the other algorithm.
    """
    x, y = _as_runs_by_tasks(x), _as_runs_by_tasks(y)
    if x.shape != y.shape:
        raise ValueError(f"paired scores need equal shapes, got {x.shape} and {y.shape}")
    return float(_wins(x, y).mean())


def performance_profile(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """For each threshold τ, the fraction of runs (averaged over tasks) whose score exceeds τ."""
    table = _as_runs_by_tasks(scores)
    thresholds = np.asarray(thresholds, dtype=float)
    return (table[None, :, :] > thresholds[:, None, None]).mean(axis=1).mean(axis=1)


@dataclass(frozen=True)
class Aggregate:
    """Summary of one algorithm's final scores over seeds."""

    runs: int
    mean: float
    std: float
    iqm: float
    ci_low: float
    ci_high: float


def aggregate(scores: np.ndarray, *, confidence: float = 0.95, reps: int = 2000) -> Aggregate:
    """Mean ± std, IQM and its stratified-bootstrap confidence interval."""
    table = _as_runs_by_tasks(scores)
    mean, std = mean_std(table)
    low, high = stratified_bootstrap_ci(table, iqm, confidence=confidence, reps=reps)
    return Aggregate(table.size, mean, std, iqm(table), low, high)


# ---------------------------------------------------------------------------------------------
# Comparisons of two algorithms on one task, with bootstrap intervals
# ---------------------------------------------------------------------------------------------


def _resample(size_x: int, size_y: int, *, paired: bool, reps: int, seed: int) -> tuple:
    """Bootstrap indices for x and y: the same seeds for both when paired, independent otherwise."""
    rng = np.random.default_rng(seed)
    picks_x = rng.integers(0, size_x, size=(reps, size_x))
    picks_y = picks_x if paired else rng.integers(0, size_y, size=(reps, size_y))
    return picks_x, picks_y


def _check_pair(x: np.ndarray, y: np.ndarray, paired: bool) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.ndim != 1 or y.ndim != 1 or x.size == 0 or y.size == 0:
        raise ValueError(f"x and y must be non-empty 1-D arrays, got {x.shape} and {y.shape}")
    if paired and x.shape != y.shape:
        raise ValueError(f"paired scores need equal shapes, got {x.shape} and {y.shape}")
    return x, y


def improvement_ci(
    x: np.ndarray,
    y: np.ndarray,
    *,
    paired: bool,
    confidence: float = 0.95,
    reps: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of P(X > Y) on one task (rliable reports the same interval).

    Paired (same seeds, common random numbers): seeds are resampled and each keeps its pair, so
    the statistic is the share of resampled seeds where x wins. Unpaired: x's and y's runs are
    resampled independently and the statistic is the Mann-Whitney share of the resampled pairs.
    """
    x, y = _check_pair(x, y, paired)
    picks_x, picks_y = _resample(x.size, y.size, paired=paired, reps=reps, seed=seed)
    if paired:
        values = _wins(x, y)[picks_x].mean(axis=1)
    else:
        wins = _wins(x[:, None], y[None, :])
        values = wins[picks_x[:, :, None], picks_y[:, None, :]].mean(axis=(1, 2))
    return _interval(values, confidence)


def _iqm_rows(samples: np.ndarray) -> np.ndarray:
    """:func:`iqm` of every row of a ``(reps, runs)`` array at once."""
    ordered = np.sort(samples, axis=1)
    cut = int(0.25 * samples.shape[1])
    return ordered[:, cut : samples.shape[1] - cut].mean(axis=1)


def iqm_difference_ci(
    x: np.ndarray,
    y: np.ndarray,
    *,
    paired: bool,
    confidence: float = 0.95,
    reps: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of IQM(X) − IQM(Y) on one task (paired as above)."""
    x, y = _check_pair(x, y, paired)
    picks_x, picks_y = _resample(x.size, y.size, paired=paired, reps=reps, seed=seed)
    return _interval(_iqm_rows(x[picks_x]) - _iqm_rows(y[picks_y]), confidence)
