"""The statistics a careful reader expects, in numpy: rliable's formulas without its package.

Scores across seeds come as arrays shaped ``(runs,)`` for one task or ``(runs, tasks)`` for
several; tasks are the strata of the bootstrap. Definitions follow Agarwal et al., "Deep RL at
the Edge of the Statistical Precipice" (NeurIPS 2021), as implemented in rliable:

- IQM: the mean of the middle 50% of all runs' scores (25% trimmed from each end, pooled over
  tasks), the same cut as ``scipy.stats.trim_mean(x, 0.25, axis=None)``;
- confidence intervals: percentile intervals of a bootstrap that resamples runs with replacement
  independently within each task;
- probability of improvement P(X > Y): per task the Mann-Whitney U statistic divided by
  ``n_x · n_y`` (ties count one half), averaged over tasks — over *all* pairs of runs, not
  seed by seed (the paired variant stays available and is labelled wherever it is used);
- optimality gap: ``γ − mean(min(score, γ))`` with γ = 1, how far runs fall short of the optimum;
- performance profile: for each threshold τ the share of runs scoring above τ.

Every interval is a percentile bootstrap with :data:`REPS` resamples and a fixed seed: enough
resamples that the third decimal of an interval's ends no longer moves with the bootstrap seed
(measured on the published leaderboards; ``docs/statistics.md``). By simulation at 10 seeds
per entry the 95% intervals of the IQM and of the unpaired P(X > Y) cover the truth 93–95% of
the time, 91–92% at 5 seeds (``tests/report/test_stats.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Statistic = Callable[[np.ndarray], float]

REPS = 10_000
"""Bootstrap resamples of every interval on a board (see the module docstring)."""
CI_METHOD = "percentile bootstrap"


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


def score_at_budget(budget: np.ndarray, score: np.ndarray, at: float) -> float:
    """The score of the last evaluation that had spent at most ``at``; NaN when none had.

    A score holds until the next evaluation has spent more: a learning curve against a budget
    is a step function, so an offline learner that spends its whole budget before its first
    policy has no score below that budget.
    """
    budget = np.asarray(budget, dtype=float)
    index = np.searchsorted(budget, at, side="right") - 1
    return float(np.asarray(score, dtype=float)[index]) if index >= 0 else float("nan")


def area_under_curve(
    budget: np.ndarray, score: np.ndarray, end: float | None = None, *, before: float = 0.0
) -> float:
    """The average score of a step-function curve over the budget ``[0, end]``.

    ``budget`` must be non-decreasing. Each score holds from the budget it was measured at to
    the next measurement's (as in :func:`score_at_budget`) and the last one to ``end`` (default:
    the last budget); before the first measurement the curve is ``before``. Dividing by ``end``
    makes it comparable across budgets; with ``end == 0`` it is the last score. Steps, not
    trapezoids: an offline learner spends its budget before its first policy and must not be
    credited with a gradual improvement along the way.
    """
    budget = np.asarray(budget, dtype=float)
    score = np.asarray(score, dtype=float)
    if budget.shape != score.shape or budget.size == 0:
        raise ValueError("budget and score must be non-empty and of the same shape")
    end = float(budget[-1]) if end is None else float(end)
    if end <= 0:
        return float(score[-1])
    edges = np.clip(np.append(budget, end), 0.0, end)
    widths = np.diff(edges)
    area = np.sum(widths * score) + edges[0] * before
    return float(area / end)


def budget_to_threshold(budget: np.ndarray, score: np.ndarray, threshold: float) -> float:
    """The first budget (queries, episodes, …) at which ``score`` reaches ``threshold``; inf if never."""
    reached = np.flatnonzero(np.asarray(score, dtype=float) >= threshold)
    return float(np.asarray(budget, dtype=float)[reached[0]]) if reached.size else float("inf")


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


def _iqm_rows(samples: np.ndarray) -> np.ndarray:
    """:func:`iqm` of every row of a ``(reps, runs)`` array at once."""
    runs = samples.shape[1]
    cut = int(0.25 * runs)
    # Partitioning at both cuts puts exactly the middle order statistics between them (in
    # some order, which a mean ignores): cheaper than sorting every row.
    middle = np.partition(samples, sorted({cut, runs - cut - 1}), axis=1)
    return middle[:, cut : runs - cut].mean(axis=1)


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
    reps: int = REPS,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile confidence interval of ``statistic`` under a bootstrap stratified by task.

    Each replicate draws, for every task, as many runs as it has, with replacement. The seed is
    fixed so the same store gives the same interval (leaderboards are byte-identical). The IQM,
    the mean and the optimality gap are computed for all replicates at once; any other
    statistic is called once per replicate.
    """
    table = _as_runs_by_tasks(scores)
    runs, tasks = table.shape
    if np.all(table == table[:1]):  # every task constant: every replicate is the sample
        value = statistic(table)
        return value, value
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, runs, size=(reps, runs, tasks))
    if tasks == 1:  # the usual case, and plain indexing is several times faster
        resampled = table[:, 0][picks[:, :, 0]][:, :, None]
    else:
        resampled = np.take_along_axis(table[None, :, :], picks, axis=1)
    vectorized = _VECTORIZED.get(statistic)
    if vectorized is not None:
        values = vectorized(resampled.reshape(reps, runs * tasks))
    else:
        values = np.array([statistic(sample) for sample in resampled])
    return _interval(values, confidence)


def optimality_gap(scores: np.ndarray, gamma: float = 1.0) -> float:
    """rliable's optimality gap: ``γ − mean(min(score, γ))``; a run above γ counts as reaching it."""
    return float(gamma - np.minimum(_as_runs_by_tasks(scores), gamma).mean())


def _mean(scores: np.ndarray) -> float:
    return float(_as_runs_by_tasks(scores).mean())


_VECTORIZED: dict[Callable[..., float], Callable[[np.ndarray], np.ndarray]] = {
    iqm: _iqm_rows,
    _mean: lambda rows: rows.mean(axis=1),
    optimality_gap: lambda rows: 1.0 - np.minimum(rows, 1.0).mean(axis=1),
}
"""Row-wise forms of the statistics a board bootstraps many times (same numbers, no loop)."""


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


def performance_profile_ci(
    scores: np.ndarray,
    thresholds: np.ndarray,
    *,
    confidence: float = 0.95,
    reps: int = REPS,
    seed: int = 0,
) -> np.ndarray:
    """:func:`performance_profile` with its stratified-bootstrap percentile band, ``(3, τ)``.

    Rows: the profile, the band's low and high ends, one resample of runs serving every τ.
    """
    table = _as_runs_by_tasks(scores)
    thresholds = np.asarray(thresholds, dtype=float)
    runs = table.shape[0]
    picks = np.random.default_rng(seed).integers(0, runs, size=(reps, runs, table.shape[1]))
    resampled = np.take_along_axis(table[None, :, :], picks, axis=1)
    # (reps, τ): share of a replicate's runs above each τ, averaged over tasks
    above = (resampled[:, None, :, :] > thresholds[None, :, None, None]).mean(axis=2).mean(axis=2)
    tail = (1 - confidence) / 2
    low, high = np.quantile(above, [tail, 1 - tail], axis=0)
    return np.stack([performance_profile(table, thresholds), low, high])


def median_ci(
    values: np.ndarray, *, confidence: float = 0.95, reps: int = REPS, seed: int = 0
) -> tuple[float, float, float]:
    """Median of runs that may be infinite (never reached) and its percentile-bootstrap interval.

    The interval's ends are order statistics of the replicates (no interpolation), so an end
    is infinite exactly when that share of replicates never reaches.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array, got {values.shape}")
    if np.all(values == values[0]):  # every replicate is the sample (inf == inf holds)
        return float(values[0]), float(values[0]), float(values[0])
    picks = np.random.default_rng(seed).integers(0, values.size, size=(reps, values.size))
    ordered = np.sort(values[picks], axis=1)
    middle = (values.size - 1) / 2  # the median of sorted rows, inf-safe: no inf − inf
    low_rows, high_rows = ordered[:, int(np.floor(middle))], ordered[:, int(np.ceil(middle))]
    replicates = np.where(low_rows == high_rows, low_rows, (low_rows + high_rows) / 2)
    tail = (1 - confidence) / 2
    low, high = np.quantile(replicates, [tail, 1 - tail], method="inverted_cdf")
    return float(np.median(values)), float(low), float(high)


@dataclass(frozen=True)
class Aggregate:
    """Summary of one algorithm's final scores over seeds."""

    runs: int
    mean: float
    std: float
    iqm: float
    ci_low: float
    ci_high: float


def aggregate(scores: np.ndarray, *, confidence: float = 0.95, reps: int = REPS) -> Aggregate:
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
    reps: int = REPS,
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


def iqm_difference_ci(
    x: np.ndarray,
    y: np.ndarray,
    *,
    paired: bool,
    confidence: float = 0.95,
    reps: int = REPS,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of IQM(X) − IQM(Y) on one task (paired as above)."""
    x, y = _check_pair(x, y, paired)
    picks_x, picks_y = _resample(x.size, y.size, paired=paired, reps=reps, seed=seed)
    return _interval(_iqm_rows(x[picks_x]) - _iqm_rows(y[picks_y]), confidence)
