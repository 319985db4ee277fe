"""The ranking a terminal shows: the leading columns of a board's ranking tables.

``zobench run`` prints it at its end for the suite's runs, ``zobench report`` for the whole store.
Both come from :func:`.ranking.rank_groups`, the ranking every board section starts from (per
group, normalized where references exist, learners by the board's ``rank_by``), so the run's
summary and the report give the same order and numbers. The optimality gap, equal-budget and
threshold tables are left to the markdown: the summary must stay quick after every suite.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from zobench.report import analysis
from zobench.report.analysis import EntryStats
from zobench.report.formatting import decimals, number, scale_text
from zobench.report.ranking import GroupRanking, Ranking, rank_groups


class Ranked(Protocol):
    """A ranked group: a :class:`~zobench.report.ranking.GroupRanking`, or a board's
    :class:`~zobench.report.leaderboard.Section`."""

    @property
    def title(self) -> str:
        """The group's plain-text title."""

    @property
    def reference(self) -> str:
        """What its normalized scores rest on ("exact", "certified bound [lo, hi]", ...)."""

    kind: str
    final: dict[str, EntryStats]
    learners: Ranking
    readers: Ranking
    references: list[EntryStats]


@dataclass(frozen=True)
class SummaryTable:
    """One ranking as plain text cells; the first ``required`` columns must always be shown."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    required: int
    numeric: frozenset[str]
    """Columns of numbers (right-aligned)."""


def _ci(entry: EntryStats, places: int) -> str:
    s = entry.summary
    return f"{number(s.iqm, places)} [{number(s.ci_low, places)}, {number(s.ci_high, places)}]"


def _ranking_table(group: Ranked, ranking: Ranking, what: str) -> SummaryTable:
    """Rank, entry, the ranked quantity, seeds; then final score, P(beats next) and spending."""
    places = decimals(group.kind, list(group.final.values()))
    final_only = ranking.quantity == "final score"
    columns = ["rank", "algorithm", "final IQM [95% CI]" if final_only else "IQM [95% CI]"]
    columns += ["seeds", "P(beats next)"]
    columns += [] if final_only else ["final IQM [95% CI]"]
    columns += ["final mean ± std", "queries", "episodes", "wall s"]
    rows = []
    for rank, (entry, beats) in enumerate(
        zip(ranking.entries, ranking.improvement, strict=True), 1
    ):
        final = group.final[entry.entry]
        s = final.summary
        rows.append(
            [
                str(rank),
                entry.entry,
                _ci(entry, places),
                str(s.runs),
                "–" if beats is None else f"{beats[0]:.2f}" + (" (paired)" if beats[1] else ""),
                *([] if final_only else [_ci(final, places)]),
                f"{number(s.mean, places)} ± {number(s.std, places)}",
                f"{final.queries:,.0f}",
                f"{final.episodes:,.0f}",
                f"{final.wall_s:.2f}",
            ]
        )
    title = f"{group.title} — {what}, ranked by {ranking.quantity}; {scale_text(group.kind, reference=group.reference)}"
    numeric = frozenset(c for c in columns if c not in ("algorithm", "P(beats next)"))
    return SummaryTable(title, columns, rows, 3, numeric)


def tables(group: Ranked) -> list[SummaryTable]:
    """A group's rankings: preference learners, then reward readers, then references."""
    out = []
    if group.learners.entries:
        out.append(_ranking_table(group, group.learners, "preference learners"))
    if group.readers.entries:
        out.append(_ranking_table(group, group.readers, "entries that read rewards"))
    if group.references:
        places = decimals(group.kind, list(group.final.values()))
        rows = [[e.entry, _ci(e, places), str(e.summary.runs)] for e in group.references]
        title = f"{group.title} — references (they spend no budget), final score"
        columns = ["algorithm", "final IQM [95% CI]", "seeds"]
        out.append(SummaryTable(title, columns, rows, 3, frozenset(columns[1:])))
    return out


def run_summary(
    out: str | Path, run_ids: list[str], *, last: int = 1, rank_by: str = "auc"
) -> list[GroupRanking]:
    """The ranked groups of the given runs of a store (what ``zobench run`` prints at its end)."""
    return rank_groups(analysis.from_store(out, run_ids=run_ids), last=last, rank_by=rank_by)
