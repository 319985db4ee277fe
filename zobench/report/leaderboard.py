"""Leaderboard markdown from a run set: ranked tables with CIs, plot links, a provenance footer.

For each group of runs with the same (environment, preference model, topology) and task settings,
the preference learners ranked by the board's ``rank_by`` quantity (the IQM over seeds of the
AUC against votes by default; the final score; or the score at a number of votes) with 95%
bootstrap CIs, the final score, its optimality gap, the budget spent, wall time, seeds and the
probability that each entry beats the next (unpaired); then the scores at a ladder of equal
vote budgets, the budgets to reach 0.5 and 0.9 (:mod:`zobench.report.budgets`), the entries
that read rewards, ranked apart on their own axis, and the references that spend nothing.

The markdown is a pure function of the runs and the options: groups and entries are sorted, the
bootstrap seed is fixed, dates come from the runs, never from the clock. :func:`build` computes
everything once; :func:`markdown` renders it and :func:`draw` writes the plots it links to.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from zobench.report import analysis, budgets, stats
from zobench.report.analysis import BUDGET_LABELS, EntryStats, RunSet
from zobench.report.formatting import decimals as decimals  # re-exported names
from zobench.report.formatting import escape as escape
from zobench.report.formatting import group_title as group_title
from zobench.report.formatting import natural_key as natural_key
from zobench.report.formatting import number as number
from zobench.report.formatting import reference_text as reference_text
from zobench.report.formatting import scale_text as scale_text
from zobench.report.formatting import slug as slug
from zobench.report.ranking import GroupRanking as GroupRanking  # re-exported names
from zobench.report.ranking import Ranking as Ranking
from zobench.report.ranking import final_and_curves, rank_group
from zobench.report.ranking import rank_groups as rank_groups

PLOTS = "plots"
"""Folder of the plots, next to the markdown."""


@dataclass
class Plot:
    """A figure to draw: its link text, path relative to the markdown, and how to draw it."""

    text: str
    path: str
    kind: str
    args: tuple[Any, ...]


@dataclass
class Section:
    """One leaderboard group: its task, score scale, rankings, budget views and plots."""

    task: dict[str, Any]
    kind: str
    learners: Ranking
    """Preference learners (they spend votes), ranked by the board's headline quantity."""
    readers: Ranking
    """Entries that read rewards, ranked on their own axis (reward observations)."""
    references: list[EntryStats]
    """Entries that spend no budget at all (``uniform``): final scores only."""
    final: dict[str, EntryStats]
    """Every entry's final-score summary, by entry name."""
    budgets: budgets.GroupBudgets
    rungs: list[dict[str, EntryStats]]
    """Per rung of ``budgets.rungs``: entry → its scores at that many votes."""
    thresholds: dict[str, dict[str, tuple[float, float, float, int, int]]]
    """Entry → column → (median, low, high, runs reaching, runs) of a budget to threshold."""
    settings: tuple[list[str], dict[str, list[str]]]
    """Fixed settings written in the suite: the group's, and each label's own."""
    plots: list[Plot] = field(default_factory=list)
    reference: str = "exact"
    """What the group's scores are normalized by (:func:`formatting.reference_text`): "exact",
    "certified bound [lower, upper]", "approximate", or the kinds of a mixed group."""

    @property
    def approximate(self) -> bool:
        """True when some run's optimum was the reference policy's Monte Carlo value."""
        return "approximate" in self.reference or "not recorded" in self.reference

    @property
    def title(self) -> str:
        """Plain-text title of the group (see :func:`group_title`)."""
        return group_title(self.task)

    @property
    def entries(self) -> list[EntryStats]:
        """Every entry's final-score summary in board order: learners, readers, references."""
        order = [e.entry for e in (*self.learners.entries, *self.readers.entries)]
        order += [e.entry for e in self.references]
        order += sorted(set(self.final) - set(order))
        return [self.final[name] for name in order]


@dataclass
class Leaderboard:
    """Everything a leaderboard shows, computed once from a run set."""

    name: str
    last: int
    sections: list[Section]
    ablations: list[Plot]
    records: tuple[dict[str, Any], ...]
    rank_by: str = "auc"
    digest: str = ""
    """sha256 of the raw runs (:func:`analysis.digest`)."""


def _section(ranked: GroupRanking, fmt: str, records: tuple[dict[str, Any], ...]) -> Section:
    group, view, rows = ranked.group, ranked.view, ranked.rows
    learning = group.filter(pl.col("axis") == budgets.QUERIES)
    rungs = [
        {e.entry: e for e in analysis.entry_stats(learning, f"at_{i}")}
        for i in range(len(view.rungs))
    ]
    section = Section(
        ranked.task,
        ranked.kind,
        ranked.learners,
        ranked.readers,
        ranked.references,
        ranked.final,
        view,
        rungs,
        budgets.threshold_stats(group, view),
        analysis.fixed_settings(records, group),
        reference=reference_text(group) if ranked.kind == "normalized" else "",
    )
    kind, task = ranked.kind, ranked.task
    entries = section.entries
    stem = f"{PLOTS}/{slug(section.title, json.dumps(task, sort_keys=True, default=str))}"
    by_final = sorted(entries, key=lambda e: (-e.summary.iqm, -e.summary.mean, e.entry))
    section.plots.append(Plot("final scores", f"{stem}-final.{fmt}", "final", (by_final, kind)))
    if len(entries) > 1:
        ordered = sorted(entries, key=lambda e: natural_key(e.entry))
        matrix = analysis.improvement_matrix(ordered)
        section.plots.append(Plot("P(X beats Y)", f"{stem}-poi.{fmt}", "poi", (ordered, matrix)))
    if kind == "normalized":
        section.plots.append(
            Plot("performance profile", f"{stem}-profile.{fmt}", "profile", (entries,))
        )
    order = [e.entry for e in entries]
    for budget in analysis.BUDGETS:
        if budget in rows.columns and rows.get_column(budget).n_unique() > 1:
            path = f"{stem}-curves-{budget.replace('_', '-')}.{fmt}"
            section.plots.append(
                Plot(
                    f"curves against {BUDGET_LABELS[budget]}",
                    path,
                    "curves",
                    (rows, budget, kind, order),
                )
            )
    return section


def _ablations(final: pl.DataFrame, fmt: str) -> list[Plot]:
    """One plot per swept setting and per combination of everything else held fixed.

    A setting is swept when one entry (a label, with its other naming settings) runs at several
    of its values; settings that merely differ between algorithms make no ablation.
    """
    plots = []
    settings = analysis.setting_columns(final)
    naming = analysis.naming_settings(final)
    for setting in settings:
        held = [c for c in analysis.task_columns(final) if c != setting]
        for _, part in final.group_by(held, maintain_order=True):
            part = part.filter(pl.col(setting).is_not_null())  # runs that leave it unset: no x
            bases = [
                analysis.entry_name(r, [c for c in naming[r["label"]] if c != setting])
                for r in part.iter_rows(named=True)
            ]
            part = part.with_columns(pl.Series("base", bases, dtype=pl.String))
            values_per_base = part.group_by("base").agg(pl.col(setting).n_unique())
            if values_per_base.filter(pl.col(setting) >= 2).is_empty():  # nothing varies
                continue
            kind = (
                "normalized" if part.get_column("score_normalized").null_count() == 0 else "score"
            )
            points = []
            for (base, x), cell in part.sort([setting, "base"]).group_by(
                ["base", setting], maintain_order=True
            ):
                values = cell.get_column("score_normalized" if kind == "normalized" else "score")
                summary = stats.aggregate(values.to_numpy())
                points.append(
                    {
                        "entry": base,
                        "x": x,
                        "iqm": summary.iqm,
                        "low": summary.ci_low,
                        "high": summary.ci_high,
                        "seeds": summary.runs,
                        "ms_per_iteration": analysis.mean_of(
                            1000 * cell.get_column("wall_s") / cell.get_column("iteration")
                        ),
                    }
                )
            task = {c: part.get_column(c)[0] for c in held}
            title = group_title(task)
            key = json.dumps({"setting": setting, **task}, sort_keys=True, default=str)
            frame = pl.DataFrame(points, infer_schema_length=None).sort(["entry", "x"])
            text = f"{setting} ({title})"
            plots.append(
                Plot(
                    text,
                    f"{PLOTS}/ablation-{slug(text, key)}.{fmt}",
                    "ablation",
                    (frame, setting, kind, title),
                )
            )
    return sorted(plots, key=lambda p: p.path)


def build(
    run_set: RunSet, *, name: str, last: int = 1, fmt: str = "png", rank_by: str = "auc"
) -> Leaderboard:
    """Compute a leaderboard: final scores (mean of the last ``last`` evaluations), equal-budget
    views, groups ranked by ``rank_by`` (``auc``, ``final`` or ``budget:<n>``), plots."""
    final, curves = final_and_curves(run_set, last, rank_by)
    sections = [
        _section(rank_group(task, group, curves, rank_by), fmt, run_set.records)
        for task, group in analysis.groups(final)
    ]
    return Leaderboard(
        name,
        last,
        sections,
        _ablations(final, fmt),
        run_set.records,
        rank_by,
        analysis.digest(run_set),
    )


def plot_count(board: Leaderboard) -> int:
    """How many plots :func:`draw` writes."""
    return sum(len(section.plots) for section in board.sections) + len(board.ablations)


def draw(board: Leaderboard, folder: Path, on_plot: Callable[[], None] | None = None) -> list[Path]:
    """Write every plot the markdown links to under ``folder``; returns their paths.

    ``on_plot()`` is called after each plot (a progress display counts them).
    """
    from zobench.report import plots  # matplotlib is slow to import: only when drawing

    (folder / PLOTS).mkdir(parents=True, exist_ok=True)
    written = []
    for section in board.sections:
        for plot in section.plots:
            path = folder / plot.path
            if plot.kind == "final":
                entries, kind = plot.args
                plots.final_scores(entries, kind, section.title, path)
            elif plot.kind == "poi":
                ordered, matrix = plot.args
                plots.improvement_heatmap(ordered, matrix, section.title, path)
            elif plot.kind == "profile":
                plots.performance_profiles(plot.args[0], section.title, path)
            else:
                rows, budget, kind, order = plot.args
                plots.learning_curves(rows, budget, kind, order, section.title, path)
            written.append(path)
            if on_plot is not None:
                on_plot()
    for plot in board.ablations:
        frame, setting, kind, title = plot.args
        plots.ablation(frame, setting, kind, title, folder / plot.path)
        written.append(folder / plot.path)
        if on_plot is not None:
            on_plot()
    return written


def _ci(summary: stats.Aggregate, places: int) -> str:
    return (
        f"{number(summary.iqm, places)} "
        f"[{number(summary.ci_low, places)}, {number(summary.ci_high, places)}]"
    )


def table_columns(section: Section, ranking: Ranking | None = None) -> list[str]:
    """The header of a ranking's table (the learners' by default)."""
    ranking = ranking or section.learners
    headline = [] if ranking.quantity == "final score" else [f"{ranking.quantity}: IQM [95% CI]"]
    gap = ["optimality gap [95% CI]"] if section.kind == "normalized" else []
    return [
        "rank",
        "algorithm",
        *headline,
        "final: IQM [95% CI]",
        "final: mean ± std",
        *gap,
        "queries",
        "episodes",
        "wall s",
        "seeds",
        "P(beats next)",
    ]


def table_rows(section: Section, ranking: Ranking | None = None) -> list[list[str]]:
    """The cells of a ranking's table as plain text (names not yet escaped), in rank order.

    The learners' ranking by default; a reference (it spends nothing) has no rank or P.
    """
    ranking = ranking or section.learners
    places = decimals(section.kind, list(section.final.values()))
    headline = ranking.quantity != "final score"
    rows = []
    listed: list[tuple[str, EntryStats | None, tuple[float, bool] | None]] = [
        (str(rank), entry, beats)
        for rank, (entry, beats) in enumerate(
            zip(ranking.entries, ranking.improvement, strict=True), 1
        )
    ]
    for rank, entry, beats in listed:
        assert entry is not None
        final = section.final[entry.entry]
        s = final.summary
        gap = []
        if section.kind == "normalized":
            low, high = stats.stratified_bootstrap_ci(final.values, stats.optimality_gap)
            gap_value = stats.optimality_gap(final.values)
            gap = [f"{number(gap_value, places)} [{number(low, places)}, {number(high, places)}]"]
        rows.append(
            [
                rank,
                entry.entry,
                *([_ci(entry.summary, places)] if headline else []),
                _ci(s, places),
                f"{number(s.mean, places)} ± {number(s.std, places)}",
                *gap,
                f"{final.queries:,.0f}",
                f"{final.episodes:,.0f}",
                f"{final.wall_s:.2f}",
                str(s.runs),
                "–" if beats is None else f"{beats[0]:.2f}" + (" (paired)" if beats[1] else ""),
            ]
        )
    return rows


def _markdown_table(header: list[str], rows: list[list[str]], names: int = 1) -> list[str]:
    """A markdown table; column ``names`` (plugin-provided text) is escaped."""
    align = ["---" if i == names or not h else "---:" for i, h in enumerate(header)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for cells in rows:
        lines.append(
            "| " + " | ".join(escape(c) if i == names else c for i, c in enumerate(cells)) + " |"
        )
    return lines


def _table(section: Section, ranking: Ranking | None = None) -> list[str]:
    return _markdown_table(table_columns(section, ranking), table_rows(section, ranking))


def rung_rows(section: Section) -> tuple[list[str], list[list[str]]]:
    """The equal-budget table: learners by rows, vote budgets by columns, IQM [CI] (rank)."""
    places = decimals(section.kind, list(section.final.values()))
    rungs = section.budgets.rungs
    header = ["algorithm", *(f"{budgets.budget_text(r)} votes" for r in rungs)]
    ranks = [{e.entry: i for i, e in enumerate(at.values(), 1)} for at in section.rungs]
    rows = []
    for entry in section.learners.entries:
        cells = [entry.entry]
        for at, rank in zip(section.rungs, ranks, strict=True):
            stat = at.get(entry.entry)
            cells.append(
                "–" if stat is None else f"{_ci(stat.summary, places)} ({rank[entry.entry]})"
            )
        rows.append(cells)
    return header, rows


def threshold_rows(section: Section) -> tuple[list[str], list[list[str]]]:
    """Budget to threshold: median over runs [95% CI] on the entry's axis and in episodes."""
    ts = section.budgets.thresholds
    header = [
        "algorithm",
        "axis",
        *(f"to {t:g}" for t in ts),
        *(f"episodes to {t:g}" for t in ts),
    ]
    rows = []
    for ranking in (section.learners, section.readers):
        for entry in ranking.entries:
            cells = section.thresholds.get(entry.entry, {})
            axis = budgets.AXIS_LABELS[
                budgets.QUERIES if ranking is section.learners else budgets.REWARDS
            ]
            row = [entry.entry, axis]
            for column in [f"to_{w}_{t}" for w in ("axis", "episodes") for t in ts]:
                row.append(budgets.threshold_text(cells.get(column)))
            rows.append(row)
    return header, rows


def _values(records: tuple[dict[str, Any], ...], *keys: str) -> list[str]:
    """Sorted distinct values found at ``record[keys[0]][keys[1]]...``, missing ones skipped."""
    found = set()
    for record in records:
        value: Any = record
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None:
            found.add(str(value))
    return sorted(found)


def suite_hash(records: tuple[dict[str, Any], ...]) -> str:
    """A hash of the sorted run ids (each the hash of a run's spec and plugin versions)."""
    ids = "\n".join(sorted(r["run_id"] for r in records))
    return hashlib.sha256(ids.encode()).hexdigest()[:16]


def _footer(records: tuple[dict[str, Any], ...], raw_links: bool, digest: str) -> list[str]:
    plugins = sorted(
        {
            f"{c.get('distribution')} {c.get('version')}"
            for r in records
            for c in r.get("provenance", {}).get("components", {}).values()
        }
    )
    started = [d[:10] for d in _values(records, "timings", "started_at")]
    finished = [d[:10] for d in _values(records, "timings", "finished_at")]
    dates = sorted(started + finished)
    span = (
        "unknown"
        if not dates
        else dates[0]
        if dates[0] == dates[-1]
        else f"{dates[0]} to {dates[-1]}"
    )
    commits = [c[:12] for c in _values(records, "provenance", "git_commit")]
    lines = [
        "## Provenance",
        "",
        f"- zobench: {escape(', '.join(_values(records, 'provenance', 'zobench')) or 'unknown')}",
        f"- plugins: {escape(', '.join(plugins) or 'unknown')}",
        f"- python: {escape(', '.join(_values(records, 'provenance', 'python')) or 'unknown')}; "
        f"numpy: {escape(', '.join(_values(records, 'provenance', 'numpy')) or 'unknown')}",
        f"- suite hash: `{suite_hash(records)}` (sha256 of the sorted run ids, "
        f"{len(records)} runs)",
        f"- runs computed: {span}",
        f"- raw data: sha256 `{digest}` (every record and curve value)",
    ]
    if commits:
        lines.append(f"- git commit: {escape(', '.join(commits))}")
    if raw_links:
        lines.append(
            "- raw runs: [raw/runs.json](raw/runs.json) (specs, provenance), "
            "[raw/curves.parquet](raw/curves.parquet) (learning curves)"
        )
    return lines


def _preamble(board: Leaderboard) -> str:
    kind, amount = budgets.parse_rank_by(board.rank_by)
    headline = {
        "auc": "the area under its learning curve against votes (AUC: the average score over "
        "the group's vote budget, the curve a step function from the first evaluation on)",
        "final": "its final score",
        "budget": f"its score at {budgets.budget_text(amount or 0)} votes",
    }[kind]
    return (
        f"Final score of a run: mean of its last {board.last} evaluation"
        f"{'s' if board.last > 1 else ''}. Preference learners are ranked by {headline}, "
        f'as the interquartile mean (IQM) over seeds (`rank_by = "{board.rank_by}"`); '
        "entries that read rewards are ranked among themselves on reward observations, and "
        "entries that spend no budget are references. Intervals: 95% "
        f"{stats.CI_METHOD} ({stats.REPS:,} resamples, seed 0, stratified by task). "
        "P(beats next): probability that a run of this entry scores above a run of the next "
        "on the ranked quantity (rliable's unpaired estimator over all pairs of runs). "
        "Scores at equal budgets: the last evaluation that had spent at most that many votes "
        "(after the initial policy: an offline learner has none before its budget; an entry "
        "that spent less in all keeps its final score); rungs 1, 2, 5 × 10^k from the first "
        "trained policy to the group's budget. Budget to a "
        "threshold: the median over runs of the budget at which a run first reaches it."
    )


def _section_markdown(section: Section) -> list[str]:
    scale = scale_text(section.kind, reference=section.reference)
    links = " · ".join(f"[{p.text}]({p.path})" for p in section.plots)
    reference = f" Reference: {section.reference}." if section.reference else ""
    lines = ["", f"## {escape(section.title)}", "", f"Scores: {scale}.{reference}", ""]
    shared, own = section.settings
    if shared or own:
        parts = [f"{escape(e)}: {escape(', '.join(v))}" for e, v in own.items()]
        parts = ([f"every entry: {escape(', '.join(shared))}"] if shared else []) + parts
        lines += [
            "Fixed settings written in the suite (all others at the component's default or "
            "preset): " + "; ".join(parts) + ".",
            "",
        ]
    if section.learners.entries:
        lines += [f"Preference learners, ranked by {section.learners.quantity}:", ""]
        lines += _table(section)
    if section.budgets.rungs and section.learners.entries:
        lines += ["", "Scores at equal vote budgets: IQM [95% CI] (rank at that budget):", ""]
        lines += _markdown_table(*rung_rows(section), names=0)
    if section.readers.entries:
        lines += [
            "",
            f"Entries that read rewards (not ranked against votes), ranked by "
            f"{section.readers.quantity}:",
            "",
        ]
        lines += _table(section, section.readers)
    if section.budgets.thresholds and (section.learners.entries or section.readers.entries):
        lines += [
            "",
            "Budget to reach a normalized score: median over runs [95% CI] on the entry's axis "
            "and in episodes:",
            "",
        ]
        lines += _markdown_table(*threshold_rows(section), names=0)
    if section.references:
        places = decimals(section.kind, list(section.final.values()))
        text = "; ".join(
            f"{escape(e.entry)} {_ci(e.summary, places)} ({e.summary.runs} seeds)"
            for e in section.references
        )
        lines += ["", f"References (they spend no budget), final score: {text}."]
    lines += ["", f"Plots: {links}", "", f"![final scores]({section.plots[0].path})"]
    curves = [p for p in section.plots if p.kind == "curves"]
    # Budget-aware first: the curve against preference queries when there is one.
    shown = next((p for p in curves if p.args[1] == "queries"), curves[0] if curves else None)
    if shown is not None:
        lines += ["", f"![{shown.text}]({shown.path})"]
    return lines


def markdown(board: Leaderboard, *, raw_links: bool = True) -> str:
    """The leaderboard as markdown (the same board always gives the same text)."""
    suites = sorted({str(r["spec"].get("suite") or "") for r in board.records} - {""})
    lines = [
        f"# zobench leaderboard: {escape(board.name)}",
        "",
        f"Suite{'s' if len(suites) > 1 else ''}: {escape(', '.join(suites) or 'unnamed')}. "
        + _preamble(board),
    ]
    for section in board.sections:
        lines += _section_markdown(section)
    if board.ablations:
        lines += ["", "## Ablations", ""]
        lines += [f"- [{escape(p.text)}]({p.path})" for p in board.ablations]
    lines += ["", *_footer(board.records, raw_links, board.digest)]
    return "\n".join(lines) + "\n"
