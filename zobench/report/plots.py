"""Plots of a leaderboard group with seaborn: learning curves, final scores, ablations, P(X > Y).

Matplotlib runs on the Agg backend (no display needed) and writes reproducible files: no
creation date or software tag in PNG metadata, a fixed SVG hash salt, the default font. The same
runs therefore give the same image bytes, and certainly the same file names, which is what the
leaderboard markdown links to.

Every function takes plain data (a final-score frame, :class:`EntryStats`) and a path, writes one
figure and returns nothing; titles and axes say what is plotted and over how many seeds.
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display, same rendering everywhere

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
import polars as pl
import seaborn as sns

from zobench.report.analysis import BUDGET_LABELS, EntryStats, curve_band
from zobench.report.stats import performance_profile_ci

_METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
}
"""Metadata that would change from one save to the next (dates, versions) is left out."""


def to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """A polars frame as pandas: through pyarrow when installed, else through Python lists."""
    if importlib.util.find_spec("pyarrow") is not None:
        return frame.to_pandas()
    return pd.DataFrame(frame.to_dict(as_series=False), columns=frame.columns)


def _figure(width: float = 7.0, height: float = 4.2, columns: int = 1) -> tuple[Any, Any]:
    sns.set_theme(style="whitegrid", context="notebook")
    plt.rcParams["svg.hashsalt"] = "zobench"  # SVG element ids are otherwise random
    return plt.subplots(1, columns, figsize=(width, height), dpi=100, layout="constrained")


def _save(fig: Any, path: Path) -> None:
    fmt = path.suffix.lstrip(".")
    fig.savefig(path, format=fmt, metadata=_METADATA[fmt])
    plt.close(fig)


_LINESTYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


@dataclass(frozen=True)
class Style:
    """How one entry is drawn: a colour-blind-safe colour, a line style and a marker."""

    colour: Any
    linestyle: str
    marker: str

    def line(self) -> dict[str, Any]:
        """Keyword arguments of ``plot`` for this entry's line."""
        return {
            "color": self.colour,
            "linestyle": self.linestyle,
            "marker": self.marker,
            "markevery": 0.1,
            "markersize": 5,
            "linewidth": 1.6,
        }


def _styles(size: int) -> list[Style]:
    """Distinct styles in rank order (an entry keeps its style across a group's plots).

    Colours from seaborn's colour-blind palette, and line styles and markers that differ too,
    so entries stay apart in grey print and for readers who cannot tell the colours apart.
    """
    colours = sns.color_palette("colorblind", size)
    return [
        Style(colours[i], _LINESTYLES[i % len(_LINESTYLES)], _MARKERS[i % len(_MARKERS)])
        for i in range(size)
    ]


def _palette(size: int) -> list[Any]:
    """The colours of :func:`_styles`."""
    return [style.colour for style in _styles(size)]


def plot_text(text: Any) -> str:
    """Plugin-provided text made inert for matplotlib: a ``$`` would start mathtext."""
    return str(text).replace("$", r"\$")


def _legend_outside(ax: Any) -> None:
    """The legend to the right of the axes, never over the data."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def _seeds_text(counts: list[int]) -> str:
    """'3 seeds' or '3–5 seeds' when entries differ."""
    low, high = min(counts), max(counts)
    return f"{low} seed{'s' if high > 1 else ''}" if low == high else f"{low}–{high} seeds"


def _value_label(kind: str) -> str:
    return "normalized score (0 = uniform, 1 = optimum)" if kind == "normalized" else "score"


def learning_curves(
    curves: pl.DataFrame, budget: str, kind: str, order: list[str], title: str, path: Path
) -> None:
    """Mean score over seeds and its 95% bootstrap band against a budget, one line per entry.

    ``curves`` holds ``entry, seed, iteration, <budget>, value`` rows; ``order`` is the entries'
    board order (it fixes their styles, the same in every plot). Seeds of an entry are aligned
    on the iteration; the budget plotted is its mean over seeds at each evaluation. Against a
    budget the axis is logarithmic and curves are steps (a score holds until the next
    evaluation has spent more). An entry that spends none of the budget (the oracle's queries)
    is a dotted reference line at its final mean; an offline learner, which spends its whole
    budget before its first trained policy, is one marker with its 95% CI at that budget.
    """
    fig, ax = _figure(8.5, 4.4)
    counts = []
    against_budget = budget != "iteration"
    for style, entry in zip(_styles(len(order)), order, strict=True):
        part = curves.filter(pl.col("entry") == entry)
        wide = part.pivot(on="seed", index="iteration", values="value", sort_columns=True)
        wide = wide.sort("iteration").drop_nulls()
        matrix = wide.drop("iteration").to_numpy().T
        counts.append(matrix.shape[0])
        mean, low, high = curve_band(matrix)
        name = plot_text(entry)
        if against_budget and part.get_column(budget).max() == 0:
            ax.axhline(mean[-1], color=style.colour, linestyle=":", label=f"{name} (spends none)")
            continue
        x = (
            part.group_by("iteration")
            .agg(pl.col(budget).mean().alias("x"))
            .join(wide.select("iteration"), on="iteration")
            .sort("iteration")
            .get_column("x")
            .to_numpy()
        )
        if against_budget and x.size > 1 and np.all(x[1:] == x[-1]):
            # offline: nothing learnt before the whole budget was spent
            ax.errorbar(
                [x[-1]],
                [mean[-1]],
                yerr=[[mean[-1] - low[-1]], [high[-1] - mean[-1]]],
                color=style.colour,
                marker=style.marker,
                markersize=8,
                capsize=4,
                linestyle="none",
                label=f"{name} (offline)",
            )
            continue
        if against_budget:
            x, mean, low, high = x[1:], mean[1:], low[1:], high[1:]  # no log place for 0
        drawstyle = "steps-post" if against_budget else "default"
        ax.plot(x, mean, label=name, drawstyle=drawstyle, **style.line())
        step = "post" if against_budget else None
        ax.fill_between(x, low, high, color=style.colour, alpha=0.15, linewidth=0, step=step)
    label = BUDGET_LABELS[budget]
    if against_budget:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # 2×10^6 … collide
        label += " (mean over seeds, log scale)"
    ax.set_xlabel(label)
    ax.set_ylabel(_value_label(kind))
    ax.set_title(f"{plot_text(title)}\nmean and 95% CI over {_seeds_text(counts)}", fontsize=11)
    _legend_outside(ax)
    _save(fig, path)


def final_scores(entries: list[EntryStats], kind: str, title: str, path: Path) -> None:
    """Each entry's final scores: one dot per seed, the IQM and its 95% CI as a bar (entries
    in the order given: the board sorts them by final IQM, the best on top)."""
    fig, ax = _figure(7.0, 0.6 + 0.45 * len(entries) + 1.2)
    names = [plot_text(e.entry) for e in entries]
    for row, entry in enumerate(entries):
        # seeds spread evenly across the row: a jitter, but the same one every time
        offsets = np.linspace(-0.2, 0.2, len(entry.values)) if len(entry.values) > 1 else [0.0]
        ax.scatter(entry.values, row + np.asarray(offsets), color="0.45", s=14, zorder=2)
    iqms = [e.summary.iqm for e in entries]
    low = [e.summary.iqm - e.summary.ci_low for e in entries]
    high = [e.summary.ci_high - e.summary.iqm for e in entries]
    ax.errorbar(
        iqms,
        range(len(names)),
        xerr=[low, high],
        fmt="D",
        color="C3",
        capsize=4,
        zorder=3,
        label="IQM, 95% CI",
    )
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -0.5)  # rank 1 on top
    ax.set_xlabel(f"final {_value_label(kind)}")
    ax.set_ylabel("")
    seeds = _seeds_text([len(e.values) for e in entries])
    ax.set_title(f"{plot_text(title)}\nfinal score: IQM and 95% CI over {seeds}", fontsize=11)
    _legend_outside(ax)
    _save(fig, path)


def improvement_heatmap(
    entries: list[EntryStats], matrix: np.ndarray, title: str, path: Path
) -> None:
    """P(row beats column) between every pair of entries (unpaired), rows in the order given.

    Column labels are rotated and the figure grows with the longest name, so labels never
    collide or run off the figure.
    """
    size = len(entries)
    names = [plot_text(e.entry) for e in entries]
    longest = max(len(n) for n in names)
    fig, ax = _figure(2.8 + 0.8 * size + 0.07 * longest, 2.0 + 0.6 * size + 0.07 * longest)
    with warnings.catch_warnings():  # seaborn 0.13 calls a colormap method matplotlib deprecates
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        sns.heatmap(
            pd.DataFrame(matrix, index=names, columns=names),
            annot=True,
            fmt=".2f",
            vmin=0,
            vmax=1,
            cmap="vlag",
            center=0.5,
            square=True,
            cbar_kws={"label": "P(row beats column)"},
            ax=ax,
        )
    ax.grid(False)
    ax.tick_params(axis="y", rotation=0)
    ax.set_xticks(ax.get_xticks(), names, rotation=40, ha="right", rotation_mode="anchor")
    seeds = _seeds_text([len(e.values) for e in entries])
    ax.set_title(
        f"{plot_text(title)}\nP(row beats column), final score, unpaired, {seeds}", fontsize=11
    )
    _save(fig, path)


def setting_label(column: str) -> str:
    """A setting column as an axis label: ``algorithm.pairs`` → ``pairs (algorithm setting)``."""
    table, _, name = column.partition(".")
    if not name:
        return plot_text(column)
    owner = "run" if table == "run" else f"{table}"
    return plot_text(f"{name.replace('_', ' ')} ({owner} setting)")


def ablation(points: pl.DataFrame, setting: str, kind: str, title: str, path: Path) -> None:
    """Final score and cost against a swept setting, one line per entry.

    Left: IQM and 95% CI of the final score per (entry, value). Right: mean wall-clock
    milliseconds per iteration, what the setting costs. ``points`` holds ``entry, x, iqm, low,
    high, seeds, ms_per_iteration`` rows, ``x`` as text when the setting is not numeric (then
    it is categorical, in the order given).
    """
    fig, (ax, cost) = _figure(width=11.0, columns=2)
    frame = to_pandas(points)
    numeric = pd.api.types.is_numeric_dtype(frame["x"])
    categories = list(dict.fromkeys(frame["x"])) if not numeric else []
    styles = _styles(frame["entry"].nunique())
    for style, (entry, part) in zip(styles, frame.groupby("entry", sort=False), strict=True):
        xs = part["x"] if numeric else [categories.index(v) for v in part["x"]]
        ax.errorbar(
            xs,
            part["iqm"],
            yerr=[part["iqm"] - part["low"], part["high"] - part["iqm"]],
            marker=style.marker,
            linestyle=style.linestyle,
            capsize=3,
            color=style.colour,
            label=plot_text(entry),
        )
        cost.plot(
            xs,
            part["ms_per_iteration"],
            marker=style.marker,
            linestyle=style.linestyle,
            color=style.colour,
        )
    if not numeric:
        ax.set_xticks(range(len(categories)), categories)
        cost.set_xticks(range(len(categories)), categories)
    elif (frame["x"] > 0).all() and frame["x"].max() >= 32 * frame["x"].min():
        # A geometric sweep (4 to 1,024 agents) would crowd its small values on a linear axis.
        for axis in (ax, cost):
            axis.set_xscale("log", base=2)
    name = setting_label(setting)
    cost.set_xlabel(name)
    cost.set_ylabel("wall-clock ms per iteration (mean)")
    cost.set_title("cost: wall-clock time per iteration", fontsize=11)
    ax.set_xlabel(name)
    ax.set_ylabel("final normalized score (IQM)" if kind == "normalized" else "final score (IQM)")
    seeds = _seeds_text([int(s) for s in frame["seeds"]])
    ax.set_title(f"final score: IQM and 95% CI, {seeds}", fontsize=11)
    # the group and the setting span both panels: one title above them, never clipped
    fig.suptitle(f"{plot_text(title)}: against {plot_text(name)}", fontsize=12)
    handles, labels = ax.get_legend_handles_labels()
    cost.legend(
        handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0
    )
    _save(fig, path)


def performance_profiles(entries: list[EntryStats], title: str, path: Path) -> None:
    """rliable's performance profiles of the final normalized scores, with 95% bootstrap bands.

    For each threshold τ, the share of an entry's runs scoring above τ; one line per entry.
    """
    fig, ax = _figure()
    taus = np.linspace(0.0, 1.0, 101)
    for style, entry in zip(_styles(len(entries)), entries, strict=True):
        profile, low, high = performance_profile_ci(entry.values, taus)
        ax.plot(taus, profile, label=plot_text(entry.entry), **style.line())
        ax.fill_between(taus, low, high, color=style.colour, alpha=0.15, linewidth=0)
    ax.set_xlabel("normalized score τ (0 = uniform, 1 = optimum)")
    ax.set_ylabel("fraction of runs with score > τ")
    ax.set_ylim(-0.02, 1.02)
    seeds = _seeds_text([len(e.values) for e in entries])
    ax.set_title(
        f"{plot_text(title)}\nperformance profile of final scores, 95% CI, {seeds}", fontsize=11
    )
    _legend_outside(ax)
    _save(fig, path)
