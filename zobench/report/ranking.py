"""The ranking step of every leaderboard group, on its own: what ``zobench run`` prints too.

Per group (same environment, preference model, topology and task settings), on the group's
scale (normalized where every run has a reference, else raw): preference learners ranked by the
board's ``rank_by`` quantity as the IQM over seeds (the AUC against votes by default), entries
that read rewards ranked apart on reward observations, and entries that spend nothing as
references. :mod:`.leaderboard` builds its sections on it; :mod:`.summary` shows it in a
terminal, so the run's summary and the report can never disagree.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import polars as pl

from zobench.errors import ZobenchError
from zobench.report import analysis, budgets
from zobench.report.analysis import EntryStats, RunSet
from zobench.report.formatting import group_title, reference_text


@dataclass
class Ranking:
    """Entries ranked on one quantity, with P(beats next) between neighbours (unpaired)."""

    quantity: str
    """What is ranked, as the board says it (``AUC against votes (0 to 8M)``)."""
    entries: list[EntryStats]
    improvement: list[tuple[float, bool] | None]


def make_ranking(quantity: str, entries: list[EntryStats]) -> Ranking:
    """Entries in rank order, with the probability that each beats the next."""
    pairs = [analysis.improvement(a, b) for a, b in itertools.pairwise(entries)]
    return Ranking(quantity, entries, [*pairs, None])


def _headline(rank_by: str, axis: str, end: float, rungs: tuple[float, ...]) -> tuple[str, str]:
    """The column and the words of what a ranking on ``axis`` is by."""
    kind, amount = budgets.parse_rank_by(rank_by)
    label = budgets.AXIS_LABELS[axis]
    if kind == "budget" and axis == budgets.QUERIES and amount is not None:
        return f"at_{rungs.index(amount)}", f"score at {budgets.budget_text(amount)} votes"
    if kind == "final":
        return "value", "final score"
    return "auc", f"AUC against {label} (0 to {budgets.budget_text(end)})"


@dataclass
class GroupRanking:
    """One group's entries ranked as its board ranks them, without budget tables or plots.

    What ``zobench run`` prints at its end and what every board section starts from, so that
    the run's summary and ``zobench report`` give the same order and numbers.
    """

    task: dict[str, Any]
    kind: str
    group: pl.DataFrame
    """The group's final-score rows joined with their budget view (``axis``, ``auc``, ...)."""
    rows: pl.DataFrame
    """The group's learning curves."""
    view: budgets.GroupBudgets
    final: dict[str, EntryStats]
    learners: Ranking
    readers: Ranking
    references: list[EntryStats]

    @property
    def title(self) -> str:
        """Plain-text title of the group (see :func:`group_title`)."""
        return group_title(self.task)

    @property
    def reference(self) -> str:
        """What the group's normalized scores rest on (:func:`formatting.reference_text`)."""
        return reference_text(self.group) if self.kind == "normalized" else ""


def rank_group(
    task: dict[str, Any], group: pl.DataFrame, curves: pl.DataFrame, rank_by: str
) -> GroupRanking:
    """Rank a group's entries: learners by ``rank_by``, readers on rewards, then references."""
    kind = group.get_column("value_kind")[0]
    run_ids = group.get_column("run_id")
    rows = curves.filter(pl.col("run_id").is_in(run_ids.implode()))
    _, amount = budgets.parse_rank_by(rank_by)
    view = budgets.group_budgets(rows, kind, (amount,) if amount is not None else ())
    group = group.join(view.runs.drop("entry", "seed"), on="run_id", how="left")
    final = {e.entry: e for e in analysis.entry_stats(group)}

    def ranked(axis: str) -> Ranking:
        part = group.filter(pl.col("axis") == axis)
        column, words = _headline(rank_by, axis, view.ends.get(axis, 0.0), view.rungs)
        if part.is_empty():  # nobody spends on this axis: its columns may not even exist
            return make_ranking(words, [])
        return make_ranking(words, analysis.entry_stats(part, column))

    learners, readers = ranked(budgets.QUERIES), ranked(budgets.REWARDS)
    references = analysis.entry_stats(group.filter(pl.col("axis").is_null()))
    return GroupRanking(task, kind, group, rows, view, final, learners, readers, references)


def final_and_curves(run_set: RunSet, last: int, rank_by: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per-run final scores and the curves on their group's scale; ``rank_by`` checked first."""
    try:
        budgets.parse_rank_by(rank_by)
    except ValueError as exc:
        raise ZobenchError(str(exc)) from None
    frame = analysis.long_frame(run_set)
    final = analysis.final_scores(frame, last)
    return final, analysis.curve_rows(frame, final)


def rank_groups(run_set: RunSet, *, last: int = 1, rank_by: str = "auc") -> list[GroupRanking]:
    """Every group of a run set ranked (:func:`rank_group`), in board order."""
    final, curves = final_and_curves(run_set, last, rank_by)
    return [rank_group(task, group, curves, rank_by) for task, group in analysis.groups(final)]
