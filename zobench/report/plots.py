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
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display, same rendering everywhere

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import polars as pl
import seaborn as sns

from zobench.report.analysis import BUDGET_LABELS, EntryStats, curve_band

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


def _palette(size: int) -> list[Any]:
    """Distinct colours, assigned in rank order so an entry keeps its colour across plots."""
    return sns.color_palette("deep", size)


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
    rank order (it fixes their colours, the same in every plot). Seeds of an entry are aligned on
    the iteration; the budget plotted is its mean over seeds at each evaluation (the ledger of
    one iteration can differ between seeds when an algorithm adapts its sampling). An entry that
    spends none of the budget (the oracle's queries, say) is drawn as a dashed line at its final
    mean: a reference, not a curve squeezed onto x = 0. Against a budget the curves are steps.
    """
    fig, ax = _figure()
    counts, spent = [], []
    for colour, entry in zip(_palette(len(order)), order, strict=True):
        part = curves.filter(pl.col("entry") == entry)
        wide = part.pivot(on="seed", index="iteration", values="value", sort_columns=True)
        wide = wide.sort("iteration").drop_nulls()
        matrix = wide.drop("iteration").to_numpy().T
        counts.append(matrix.shape[0])
        mean, low, high = curve_band(matrix)
        if budget != "iteration" and part.get_column(budget).max() == 0:
            ax.axhline(mean[-1], color=colour, linestyle="--", label=f"{entry} (spends none)")
            continue
        x = (
            part.group_by("iteration")
            .agg(pl.col(budget).mean().alias("x"))
            .join(wide.select("iteration"), on="iteration")
            .sort("iteration")
            .get_column("x")
            .to_numpy()
        )
        spent.append(float(x.max()))
        # Against a budget, a score holds until the next evaluation has spent more: steps, not
        # slopes (an offline learner that spends its whole budget before its first evaluation
        # would otherwise seem to improve gradually along the budget axis).
        step = None if budget == "iteration" else "post"
        drawstyle = "default" if step is None else "steps-post"
        sns.lineplot(
            x=x, y=mean, ax=ax, color=colour, label=entry, errorbar=None, drawstyle=drawstyle
        )
        ax.fill_between(x, low, high, color=colour, alpha=0.2, linewidth=0, step=step)
    label = BUDGET_LABELS[budget] + (" (mean over seeds)" if budget != "iteration" else "")
    if spent and min(spent) > 0 and max(spent) >= 20 * min(spent):
        # budgets orders of magnitude apart: on a linear axis the frugal curves would be a wall
        ax.set_xscale("log", nonpositive="mask")  # the zero-budget start has no place here
        label += ", log scale"
    ax.set_xlabel(label)
    ax.set_ylabel(_value_label(kind))
    ax.set_title(f"{title}\nmean and 95% CI over {_seeds_text(counts)}", fontsize=11)
    ax.legend(fontsize=8, loc="best")
    _save(fig, path)


def final_scores(entries: list[EntryStats], kind: str, title: str, path: Path) -> None:
    """Each entry's final scores: one dot per seed, the IQM and its 95% CI as a bar."""
    fig, ax = _figure(7.0, 0.6 + 0.45 * len(entries) + 1.2)
    names = [e.entry for e in entries]
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
    ax.set_title(f"{title}\nfinal score: IQM and 95% CI over {seeds}", fontsize=11)
    ax.legend(fontsize=8, loc="best")
    _save(fig, path)


def improvement_heatmap(
    entries: list[EntryStats], matrix: np.ndarray, title: str, path: Path
) -> None:
    """P(row beats column) between every pair of entries, paired by seed where seeds match."""
    size = len(entries)
    fig, ax = _figure(2.5 + 0.8 * size, 1.8 + 0.6 * size)
    names = [e.entry for e in entries]
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
    seeds = _seeds_text([len(e.values) for e in entries])
    ax.set_title(f"{title}\nP(row beats column), final score, {seeds}", fontsize=11)
    _save(fig, path)


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
    palette = _palette(frame["entry"].nunique())
    for colour, (entry, part) in zip(palette, frame.groupby("entry", sort=False), strict=True):
        xs = part["x"] if numeric else [categories.index(v) for v in part["x"]]
        ax.errorbar(
            xs,
            part["iqm"],
            yerr=[part["iqm"] - part["low"], part["high"] - part["iqm"]],
            marker="o",
            capsize=3,
            color=colour,
            label=str(entry),
        )
        cost.plot(xs, part["ms_per_iteration"], marker="o", color=colour, label=str(entry))
    if not numeric:
        ax.set_xticks(range(len(categories)), categories)
        cost.set_xticks(range(len(categories)), categories)
    elif (frame["x"] > 0).all() and frame["x"].max() >= 32 * frame["x"].min():
        # A geometric sweep (4 to 1,024 agents) would crowd its small values on a linear axis.
        for axis in (ax, cost):
            axis.set_xscale("log", base=2)
    cost.set_xlabel(setting)
    cost.set_ylabel("wall-clock ms per iteration (mean)")
    cost.set_title(f"cost against {setting}", fontsize=11)
    ax.set_xlabel(setting)
    ax.set_ylabel("final normalized score (IQM)" if kind == "normalized" else "final score (IQM)")
    seeds = _seeds_text([int(s) for s in frame["seeds"]])
    ax.set_title(f"{title}\nfinal score against {setting}: IQM and 95% CI, {seeds}", fontsize=11)
    ax.legend(fontsize=8, loc="best")
    _save(fig, path)
