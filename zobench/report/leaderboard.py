"""Leaderboard markdown from a run set: ranked tables with CIs, plot links, a provenance footer.

For each group of runs with the same (environment, preference model, topology) and task settings,
a table ranked by the IQM of the final normalized score (the raw score where a group has no
reference for normalizing), with the IQM's 95% stratified-bootstrap CI, mean ± std, the budget
spent (queries, episodes, final ledger values averaged over seeds), wall time, seeds and the
probability that each entry beats the next one (paired by seed where the seeds match).

The markdown is a pure function of the runs and the options: groups and entries are sorted, the
bootstrap seed is fixed, dates come from the runs, never from the clock. :func:`build` computes
everything once; :func:`markdown` renders it and :func:`draw` writes the plots it links to.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from zobench.report import analysis, stats
from zobench.report.analysis import BUDGET_LABELS, EntryStats, RunSet

PLOTS = "plots"
"""Folder of the plots, next to the markdown."""


def escape(text: Any) -> str:
    """Plugin-provided text made inert in markdown: no tables broken, links, code or HTML.

    HTML metacharacters become entities first; then every markdown metacharacter gets a
    backslash (``&`` of the entities excepted); line breaks become spaces. Parentheses and
    dashes stay: without an unescaped ``]`` before them they link nothing, and no escaped
    text starts a line.
    """
    text = " ".join(str(text).split())
    text = html.escape(text, quote=False)  # & < > → entities
    return re.sub(r"([\\`*_{}\[\]#!|~])", r"\\\1", text)


def slug(text: str, key: str | None = None) -> str:
    """A safe file-name stem: lowercase words of ``text`` plus a short hash of ``key`` (or text).

    The hash keeps stems unique when two names differ only in characters the words drop.
    """
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48].strip("-")
    digest = hashlib.sha256((text if key is None else key).encode()).hexdigest()[:6]
    return f"{words}-{digest}" if words else digest


def decimals(kind: str, entries: list[EntryStats]) -> int:
    """Decimals for a group's scores: 3 when normalized, else 4 significant digits of the largest.

    One count per group keeps a column aligned and comparable (``3.660``, not ``3.66``).
    """
    largest = max((float(np.max(np.abs(e.values))) for e in entries), default=0.0)
    if kind == "normalized" or largest == 0 or not math.isfinite(largest):
        return 3
    return min(6, max(0, 3 - math.floor(math.log10(largest))))


def number(value: float, places: int) -> str:
    """A score with ``places`` decimals (never ``-0.000``)."""
    text = f"{value:.{places}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


@dataclass
class Plot:
    """A figure to draw: its link text, path relative to the markdown, and how to draw it."""

    text: str
    path: str
    kind: str
    args: tuple[Any, ...]


@dataclass
class Section:
    """One leaderboard group: its task, score scale, ranked entries and plots."""

    task: dict[str, Any]
    kind: str
    entries: list[EntryStats]
    improvement: list[tuple[float, bool] | None]
    plots: list[Plot] = field(default_factory=list)
    approximate: bool = False
    """True when some run's optimum was the reference policy's Monte Carlo value."""

    @property
    def title(self) -> str:
        """Plain-text title of the group (see :func:`group_title`)."""
        return group_title(self.task)


def group_title(task: dict[str, Any]) -> str:
    """A group's plain-text title: component names joined by ``·``, then its task settings."""
    names = [str(task[c]) for c in analysis.GROUP_NAMES if task.get(c) is not None]
    settings = [f"{k}={analysis.setting_text(v)}" for k, v in task.items() if "." in k]
    return " · ".join(names) + (f" ({', '.join(settings)})" if settings else "")


def scale_text(kind: str, *, approximate: bool = False) -> str:
    """What a group's scores are: normalized (against an exact or approximate optimum), or raw."""
    if kind == "normalized" and approximate:
        return (
            "final normalized score (0 = uniform policy, 1 = the Monte Carlo value of the "
            "environment's reference policy: an approximate optimum, which a learner can exceed)"
        )
    if kind == "normalized":
        return "final normalized score (0 = uniform policy, 1 = optimal policy)"
    return "final raw score (no reference to normalize by in this group)"


@dataclass
class Leaderboard:
    """Everything a leaderboard shows, computed once from a run set."""

    name: str
    last: int
    sections: list[Section]
    ablations: list[Plot]
    records: tuple[dict[str, Any], ...]


def _section(task: dict[str, Any], group: pl.DataFrame, curves: pl.DataFrame, fmt: str) -> Section:
    kind = group.get_column("value_kind")[0]
    entries = analysis.entry_stats(group)
    pairs = [analysis.improvement(a, b) for a, b in itertools.pairwise(entries)]
    exact = group.get_column("ref_optimal_exact") if "ref_optimal_exact" in group.columns else None
    approximate = exact is not None and bool((exact == False).any())  # noqa: E712 (polars)
    section = Section(task, kind, entries, [*pairs, None], approximate=approximate)
    stem = f"{PLOTS}/{slug(section.title, json.dumps(task, sort_keys=True, default=str))}"
    section.plots.append(Plot("final scores", f"{stem}-final.{fmt}", "final", (entries, kind)))
    if len(entries) > 1:
        matrix = analysis.improvement_matrix(entries)
        section.plots.append(Plot("P(X beats Y)", f"{stem}-poi.{fmt}", "poi", (entries, matrix)))
    run_ids = group.get_column("run_id")
    rows = curves.filter(pl.col("run_id").is_in(run_ids.implode()))
    for budget in analysis.BUDGETS:
        if budget in rows.columns and rows.get_column(budget).n_unique() > 1:
            path = f"{stem}-curves-{budget.replace('_', '-')}.{fmt}"
            section.plots.append(
                Plot(
                    f"curves against {BUDGET_LABELS[budget]}",
                    path,
                    "curves",
                    (rows, budget, kind, [e.entry for e in entries]),
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
            if (values_per_base.get_column(setting).max() or 0) < 2:
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
                        "ms_per_iteration": float(
                            (1000 * cell.get_column("wall_s") / cell.get_column("iteration")).mean()
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


def build(run_set: RunSet, *, name: str, last: int = 1, fmt: str = "png") -> Leaderboard:
    """Compute a leaderboard: final scores (mean of the last ``last`` evaluations), groups, plots."""
    frame = analysis.long_frame(run_set)
    final = analysis.final_scores(frame, last)
    curves = analysis.curve_rows(frame, final)
    sections = [_section(task, group, curves, fmt) for task, group in analysis.groups(final)]
    return Leaderboard(name, last, sections, _ablations(final, fmt), run_set.records)


def draw(board: Leaderboard, folder: Path) -> list[Path]:
    """Write every plot the markdown links to under ``folder``; returns their paths."""
    from zobench.report import plots  # matplotlib is slow to import: only when drawing

    (folder / PLOTS).mkdir(parents=True, exist_ok=True)
    written = []
    for section in board.sections:
        for plot in section.plots:
            path = folder / plot.path
            if plot.kind == "final":
                plots.final_scores(*plot.args, section.title, path)
            elif plot.kind == "poi":
                plots.improvement_heatmap(*plot.args, section.title, path)
            else:
                plots.learning_curves(*plot.args, section.title, path)
            written.append(path)
    for plot in board.ablations:
        frame, setting, kind, title = plot.args
        plots.ablation(frame, setting, kind, title, folder / plot.path)
        written.append(folder / plot.path)
    return written


TABLE_COLUMNS: tuple[str, ...] = (
    "rank",
    "algorithm",
    "IQM [95% CI]",
    "mean ± std",
    "queries",
    "episodes",
    "wall s",
    "seeds",
    "P(beats next)",
)


def table_rows(section: Section) -> list[list[str]]:
    """The cells of a group's table as plain text (names not yet escaped), in rank order."""
    places, rows = decimals(section.kind, section.entries), []
    for rank, (entry, beats) in enumerate(
        zip(section.entries, section.improvement, strict=True), 1
    ):
        s = entry.summary
        p = "–" if beats is None else f"{beats[0]:.2f}" + (" (paired)" if beats[1] else "")
        rows.append(
            [
                str(rank),
                entry.entry,
                f"{number(s.iqm, places)} [{number(s.ci_low, places)}, {number(s.ci_high, places)}]",
                f"{number(s.mean, places)} ± {number(s.std, places)}",
                f"{entry.queries:,.0f}",
                f"{entry.episodes:,.0f}",
                f"{entry.wall_s:.2f}",
                str(s.runs),
                p,
            ]
        )
    return rows


def _table(section: Section) -> list[str]:
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|---:|---|---|---|---:|---:|---:|---:|---:|"]
    for cells in table_rows(section):
        lines.append(
            "| " + " | ".join(escape(c) if i == 1 else c for i, c in enumerate(cells)) + " |"
        )
    return lines


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


def _footer(records: tuple[dict[str, Any], ...], raw_links: bool) -> list[str]:
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
    ]
    if commits:
        lines.append(f"- git commit: {escape(', '.join(commits))}")
    if raw_links:
        lines.append(
            "- raw runs: [raw/runs.json](raw/runs.json) (specs, provenance), "
            "[raw/curves.parquet](raw/curves.parquet) (learning curves)"
        )
    return lines


def markdown(board: Leaderboard, *, raw_links: bool = True) -> str:
    """The leaderboard as markdown (the same board always gives the same text)."""
    suites = sorted({str(r["spec"].get("suite") or "") for r in board.records} - {""})
    lines = [
        f"# zobench leaderboard: {escape(board.name)}",
        "",
        f"Suite{'s' if len(suites) > 1 else ''}: {escape(', '.join(suites) or 'unnamed')}. "
        f"Final score of a run: mean of its last {board.last} evaluation"
        f"{'s' if board.last > 1 else ''}. Ranked by the interquartile mean (IQM) over seeds; "
        "95% stratified-bootstrap confidence intervals (2000 resamples, seed 0); "
        "P(beats next): probability that a run of this entry scores above one of the next "
        "(paired by seed where both ran the same seeds).",
    ]
    for section in board.sections:
        scale = scale_text(section.kind, approximate=section.approximate)
        links = " · ".join(f"[{p.text}]({p.path})" for p in section.plots)
        lines += ["", f"## {escape(section.title)}", "", f"Score: {scale}.", ""]
        lines += _table(section)
        lines += ["", f"Plots: {links}", "", f"![final scores]({section.plots[0].path})"]
        curves = [p for p in section.plots if p.kind == "curves"]
        # Budget-aware first: the curve against preference queries when there is one.
        shown = next((p for p in curves if p.args[1] == "queries"), curves[0] if curves else None)
        if shown is not None:
            lines += ["", f"![{shown.text}]({shown.path})"]
    if board.ablations:
        lines += ["", "## Ablations", ""]
        lines += [f"- [{escape(p.text)}]({p.path})" for p in board.ablations]
    lines += ["", *_footer(board.records, raw_links)]
    return "\n".join(lines) + "\n"
