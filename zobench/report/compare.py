"""Every entry against a baseline: IQM with CI and probability of improvement, group by group.

The runs may come from several places — a new results store and published leaderboards'
raw runs — combined with :func:`analysis.combine`, so a new plugin's runs are compared with
published baselines' runs without recomputing them. Runs compare only within a leaderboard group
(same environment, preference model, topology, task and run settings such as ``iterations``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from zobench.errors import ZobenchError, did_you_mean
from zobench.report import analysis
from zobench.report.analysis import EntryStats, RunSet


@dataclass(frozen=True)
class Row:
    """One entry against the baseline."""

    entry: EntryStats
    p_improvement: float
    """P(a run of this entry beats a run of the baseline)."""
    paired: bool
    source: str
    """Where the entry's runs came from (the name given to its run set)."""


@dataclass(frozen=True)
class GroupComparison:
    """A leaderboard group that holds the baseline: the baseline and every other entry."""

    task: dict[str, Any]
    kind: str
    baseline: EntryStats
    baseline_source: str
    rows: list[Row]


@dataclass(frozen=True)
class Skipped:
    """A leaderboard group without the baseline's runs, and the suites its runs came from."""

    task: dict[str, Any]
    suites: tuple[str, ...]


def _sources(named: list[tuple[str, RunSet]], combined: RunSet) -> dict[str, str]:
    """Run id → the name of the run set it was taken from (the first that holds it)."""
    kept = {r["run_id"] for r in combined.records}
    where: dict[str, str] = {}
    for name, run_set in named:
        for record in run_set.records:
            if record["run_id"] in kept:
                where.setdefault(record["run_id"], name)
    return where


def _source_of(group: pl.DataFrame, entry: str, where: dict[str, str]) -> str:
    ids = group.filter(pl.col("entry") == entry).get_column("run_id").to_list()
    return " + ".join(sorted({where[i] for i in ids}))


def compare(
    named: list[tuple[str, RunSet]], baseline: str, *, last: int = 1
) -> tuple[list[GroupComparison], list[Skipped]]:
    """Compare every entry with ``baseline`` in each group that has it.

    ``named`` lists ``(source name, run set)``, the first taking precedence for runs present in
    several. Returns the comparisons and the groups without the baseline (skipped). The
    baseline is an entry name (a label, plus swept algorithm settings when there are any); an
    unknown name raises a :class:`ZobenchError` with the closest known one.
    """
    combined = analysis.combine(*(run_set for _, run_set in named))
    final = analysis.final_scores(analysis.long_frame(combined), last)
    names = set(final.get_column("entry").to_list())
    if baseline not in names:
        raise ZobenchError(
            f"unknown baseline '{baseline}'{did_you_mean(baseline, names)}; "
            f"entries: {', '.join(sorted(names))}"
        )
    where = _sources(named, combined)
    done: list[GroupComparison] = []
    missing: list[Skipped] = []
    for task, group in analysis.groups(final):
        entries = analysis.entry_stats(group)
        base = next((e for e in entries if e.entry == baseline), None)
        if base is None:
            suites = sorted({str(s) for s in group.get_column("suite").to_list() if s})
            missing.append(Skipped(task, tuple(suites)))
            continue
        rows = []
        for entry in entries:
            if entry is not base:
                p, paired = analysis.improvement(entry, base)
                rows.append(Row(entry, p, paired, _source_of(group, entry.entry, where)))
        kind = group.get_column("value_kind")[0]
        source = _source_of(group, baseline, where)
        done.append(GroupComparison(task, kind, base, source, rows))
    return done, missing
