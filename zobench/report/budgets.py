"""Equal-budget views of a leaderboard group: scores at budget rungs, AUC, budget to threshold.

"Who learns best from a given number of human votes?" is not answered by final scores after a
budget where everyone has saturated. For every run of a group this module computes, from its
learning curve alone:

- the **axis** its entry is ranked on: preference queries for preference learners; reward
  observations for entries that read rewards instead (``sac``, ``oracle-pg``), which are
  ranked on their own and never mixed into a query ranking; none for entries that spend
  neither (``uniform``), which are references;
- its **AUC**: the average score over the axis from 0 to the group's budget (the largest that
  any entry on that axis spent), the curve being a step function (:func:`stats.area_under_curve`);
- its **score at each rung** of a ladder of equal budgets: the last evaluation after the
  initial policy that had spent at most the rung. An offline learner, which spends its whole
  budget before its first policy, has no score below that budget;
- its **budget to threshold**: the budget (on its axis, and in episodes) at which it first
  reaches 0.5 and 0.9 normalized (infinite when it never does).

The ladder is chosen from the runs: the numbers 1, 2 and 5 × 10^k from the smallest budget at
which some preference learner has its first trained policy up to the group's budget (powers
of ten only when that would make more than :data:`MAX_RUNGS` rungs), plus the budget itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from zobench.report import stats

QUERIES, REWARDS = "queries", "reward_obs"
"""The two ranking axes: preference queries (votes) and reward observations."""
AXIS_LABELS = {QUERIES: "votes", REWARDS: "reward observations", "episodes": "episodes"}
THRESHOLDS: tuple[float, ...] = (0.5, 0.9)
"""Normalized scores whose budget-to-threshold a board reports."""
MAX_RUNGS = 6
RANK_BY_CHOICES = ("auc", "final", "budget:<n>")


def parse_rank_by(text: str) -> tuple[str, float | None]:
    """``"auc"``, ``"final"`` or ``"budget:<n>"`` → (kind, n); a clear ValueError otherwise."""
    if text in ("auc", "final"):
        return text, None
    kind, _, amount = text.partition(":")
    if kind == "budget":
        try:
            budget = float(amount.replace("_", ""))
        except ValueError:
            budget = float("nan")
        if math.isfinite(budget) and budget > 0:
            return "budget", budget
    raise ValueError(
        f"rank_by {text!r}: use 'auc', 'final' or 'budget:<n>' (a positive number of votes)"
    )


def axis_of(rows: pl.DataFrame) -> str | None:
    """The axis an entry's curve rows rank it on: queries, reward observations, or none."""
    for axis in (QUERIES, REWARDS):
        if axis in rows.columns and np.nanmax(_arrays(rows, axis), initial=0.0) > 0:
            return axis
    return None


def ladder(start: float, end: float) -> tuple[float, ...]:
    """Budget rungs: 1, 2, 5 × 10^k in ``[start, end]`` (powers of ten if too many), then ``end``."""
    if not (0 < start <= end) or not math.isfinite(end):
        return (end,) if end > 0 else ()
    candidates = [
        m * 10.0**k
        for k in range(math.floor(math.log10(start)), math.ceil(math.log10(end)) + 1)
        for m in (1, 2, 5)
    ]
    rungs = [c for c in candidates if start <= c <= end]
    if len(rungs) >= MAX_RUNGS:
        rungs = [c for c in rungs if math.log10(c).is_integer()]
    if not rungs or rungs[-1] != end:
        rungs.append(end)
    return tuple(rungs)


def budget_text(value: float) -> str:
    """A budget in few characters: 400k, 1.2M, 8M, 950; ``not reached`` for infinity."""
    if not math.isfinite(value):
        return "not reached"
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


@dataclass(frozen=True)
class GroupBudgets:
    """A group's budget views: one row per run, plus the choices that shaped them."""

    runs: pl.DataFrame
    """``run_id, entry, seed, axis, auc, at_0 … at_<r-1>, to_<axis>_<t>, to_episodes_<t>``."""
    ends: dict[str, float]
    """Axis → the group's budget on it (the most any entry on that axis spent)."""
    rungs: tuple[float, ...]
    """The ladder of query budgets (empty when no entry spends queries)."""
    thresholds: tuple[float, ...]
    """The normalized thresholds (none in a raw-score group)."""


def _arrays(rows: pl.DataFrame, column: str) -> np.ndarray:
    return rows.get_column(column).to_numpy().astype(float)


def group_budgets(
    curves: pl.DataFrame, kind: str, extra_rungs: tuple[float, ...] = ()
) -> GroupBudgets:
    """Budget views of one group's curve rows (:func:`analysis.curve_rows`, one group only).

    ``kind`` is the group's score scale: thresholds apply to normalized scores only.
    ``extra_rungs`` adds query budgets to the ladder (a board ranked at ``budget:<n>``).
    """
    curves = curves.sort(["run_id", "iteration"])
    axes = {
        str(part.get_column("entry")[0]): axis_of(part)
        for part in curves.partition_by("entry", maintain_order=True)
    }
    by_run = [
        ((part.get_column("run_id")[0],), part)
        for part in curves.partition_by("run_id", maintain_order=True)
    ]
    ends: dict[str, float] = {}
    first_trained: list[float] = []
    for _, rows in by_run:
        axis = axes[str(rows.get_column("entry")[0])]
        if axis is None:
            continue
        spent = _arrays(rows, axis)
        ends[axis] = max(ends.get(axis, 0.0), float(spent[-1]))
        if axis == QUERIES and rows.height > 1:
            first_trained.append(float(spent[1]))
    start = min((b for b in first_trained if b > 0), default=0.0)
    rungs = ladder(start, ends[QUERIES]) if QUERIES in ends else ()
    rungs = tuple(sorted(set(rungs) | set(extra_rungs))) if rungs else ()
    thresholds = THRESHOLDS if kind == "normalized" else ()
    rows_out = []
    for (run_id,), rows in by_run:
        entry = str(rows.get_column("entry")[0])
        axis = axes[entry]
        value = _arrays(rows, "value")
        row: dict[str, object] = {
            "run_id": run_id,
            "entry": entry,
            "seed": rows.get_column("seed")[0],
            "axis": axis,
        }
        if axis is not None:
            spent = _arrays(rows, axis)
            row["auc"] = stats.area_under_curve(spent, value, ends[axis], before=value[0])
            trained = rows.get_column("iteration").to_numpy() > 0
            for i, rung in enumerate(rungs if axis == QUERIES else ()):
                row[f"at_{i}"] = stats.score_at_budget(spent[trained], value[trained], rung)
            episodes = _arrays(rows, "episodes")
            for t in thresholds:
                row[f"to_axis_{t}"] = stats.budget_to_threshold(spent, value, t)
                # an entry that runs no episodes (a model-based oracle) has no episode budget
                row[f"to_episodes_{t}"] = (
                    stats.budget_to_threshold(episodes, value, t) if episodes[-1] > 0 else None
                )
        rows_out.append(row)
    frame = pl.DataFrame(rows_out, infer_schema_length=None)
    return GroupBudgets(frame, ends, rungs, thresholds)


def threshold_stats(
    group: pl.DataFrame, view: GroupBudgets
) -> dict[str, dict[str, tuple[float, float, float, int, int]]]:
    """Entry → ``to_<axis|episodes>_<t>`` → (median, low, high, runs reaching, runs).

    ``group`` holds one row per run with :attr:`GroupBudgets.runs`' columns joined.
    """
    out: dict[str, dict[str, tuple[float, float, float, int, int]]] = {}
    columns = [f"to_{where}_{t}" for where in ("axis", "episodes") for t in view.thresholds]
    for (entry,), part in group.group_by(["entry"], maintain_order=True):
        if part.get_column("axis")[0] is None:
            continue
        cells = {}
        for column in columns:
            values = part.get_column(column).drop_nulls().to_numpy().astype(float)
            if values.size:
                reached = int(np.isfinite(values).sum())
                cells[column] = (*stats.median_ci(values), reached, values.size)
        out[str(entry)] = cells
    return out


def threshold_text(cell: tuple[float, float, float, int, int] | None) -> str:
    """A budget-to-threshold cell: ``1.2M [800k, 1.6M]``, ``not reached (3/10 runs)`` or ``–``."""
    if cell is None:
        return "–"
    median, low, high, reached, runs = cell
    if not math.isfinite(median):
        return f"not reached ({reached}/{runs} runs)"
    text = budget_text
    return f"{text(median)} [{text(low)}, {text(high)}]" + (
        f" ({reached}/{runs} runs)" if reached < runs else ""
    )
