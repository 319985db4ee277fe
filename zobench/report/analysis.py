"""From stored runs to per-run final scores, leaderboard groups and comparisons (polars).

The unit here is a :class:`RunSet`: the manifest records of finished runs plus their learning
curves. It comes from a results store (``OUT/manifest`` + ``OUT/runs``) or from the compact copy
that ``zobench leaderboard`` publishes (``raw/runs.json`` + ``raw/curves.parquet``), and several
run sets combine into one, which is how a new plugin is compared with published baselines
without re-running them. Everything downstream (statistics, plots, markdown) is derived from a
run set alone, so the same runs give the same report wherever they were read from.

This module reads only stored files: it never imports the runner or the simulation kernel.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from zobench.bench.records import DamagedRecord, parse_published
from zobench.bench.spec import COMPONENT_KINDS
from zobench.bench.store import Store, identifiers, swept_parameters
from zobench.errors import ZobenchError
from zobench.report import stats

BUDGETS: tuple[str, ...] = ("iteration", "episodes", "queries", "env_steps", "messages")
"""Ledger columns a learning curve can be drawn against."""
BUDGET_LABELS: dict[str, str] = {
    "iteration": "iterations",
    "episodes": "episodes",
    "queries": "preference queries",
    "env_steps": "environment steps",
    "messages": "messages between agents",
}
RUN_SETTINGS: tuple[str, ...] = ("iterations", "eval_every", "eval_episodes")
"""Run-level settings of a spec; where they differ between runs they become ``run.<name>``."""
GROUP_NAMES: tuple[str, ...] = ("environment", "preference", "topology")
RAW_RUNS, RAW_CURVES = "runs.json", "curves.parquet"
"""File names of a published compact copy of the raw runs (inside its ``raw/`` folder)."""
_PRIVATE_PROVENANCE = ("host",)
"""Provenance keys left out of a published copy: a machine's name is nobody else's business."""


@dataclass(frozen=True)
class RunSet:
    """Finished runs: manifest records (sorted by run id) and their curves (``run_id`` first)."""

    records: tuple[dict[str, Any], ...]
    curves: pl.DataFrame

    def __len__(self) -> int:
        return len(self.records)


def from_store(out: str | Path, run_ids: list[str] | None = None) -> RunSet:
    """The finished runs of a results store; a clear :class:`ZobenchError` when it is not one.

    ``run_ids`` keeps only those runs (a suite's, at the end of ``zobench run``). Damaged runs
    are left out with one warning line naming them (see :mod:`zobench.bench.store`).
    """
    out = Path(out)
    if not out.is_dir():
        raise ZobenchError(f"{out}: no such folder")
    finished, scan = Store(out).finished(run_ids)
    scan.warn(out)
    if not finished:
        raise ZobenchError(f"{out}: the store holds no finished runs")
    records = tuple(record.to_json() for record, _ in finished)
    frames = [frame.select(pl.lit(r.run_id).alias("run_id"), pl.all()) for r, frame in finished]
    return RunSet(records, pl.concat(frames, how="diagonal_relaxed"))


def from_published(folder: str | Path) -> RunSet:
    """The raw runs published beside a leaderboard (``folder/raw/``), each record checked."""
    raw = Path(folder) / "raw"
    try:
        data = json.loads((raw / RAW_RUNS).read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise DamagedRecord("runs.json is not a list of records")
        records = tuple(parse_published(r) for r in data)
        curves = pl.read_parquet(raw / RAW_CURVES)
    except (OSError, ValueError, RecursionError, pl.exceptions.PolarsError) as exc:
        raise ZobenchError(f"{folder}: unreadable published raw runs ({exc})") from None
    problem = _published_shape_problem(list(records), curves)
    if problem:
        raise ZobenchError(f"{raw / RAW_RUNS}: not published raw runs ({problem})")
    return RunSet(records, curves)


def _published_shape_problem(records: Any, curves: pl.DataFrame) -> str:
    """What is wrong with the shape of published records and curves; empty when nothing."""
    if not isinstance(records, list) or not records:
        return "not a non-empty list of run records"
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            return f"record {i} is not an object"
        if not isinstance(record.get("run_id"), str):
            return f"record {i} has no run_id"
        spec = record.get("spec")
        if not isinstance(spec, dict) or not isinstance(spec.get("label"), str):
            return f"record {i} ({record['run_id']}) has no spec with a label"
    missing = {"run_id", "iteration", "score", "score_normalized"} - set(curves.columns)
    return f"curves lack {', '.join(sorted(missing))}" if missing else ""


def digest(run_set: RunSet) -> str:
    """sha256 of a run set's every record and curve value, independent of file encodings.

    A board states it, so ``leaderboard --check`` notices an edit to any raw number, even one
    the markdown does not show (an earlier curve point, the raw score, a spec's setting).
    """
    records, curves = compact(run_set)  # a store and its published copy: the same digest
    hasher = hashlib.sha256(json.dumps(records, sort_keys=True).encode())
    for name in sorted(curves.columns):
        column = curves.get_column(name)
        hasher.update(f"\n{name}:{column.dtype}\n".encode())
        if column.dtype.is_numeric():
            hasher.update(column.cast(pl.Float64).fill_null(float("nan")).to_numpy().tobytes())
        else:
            hasher.update(json.dumps(column.cast(pl.String).to_list()).encode())
    return hasher.hexdigest()


def is_published(folder: Path) -> bool:
    """True when ``folder`` holds a published leaderboard's raw runs."""
    return (folder / "raw" / RAW_RUNS).is_file()


def read_any(path: str | Path) -> RunSet:
    """A store, a published leaderboard folder, or a folder of published leaderboards."""
    path = Path(path)
    if not path.is_dir():
        raise ZobenchError(f"{path}: no such folder")
    if (path / "manifest").is_dir():
        return from_store(path)
    if is_published(path):
        return from_published(path)
    published = sorted(p for p in path.iterdir() if p.is_dir() and is_published(p))
    if not published:
        raise ZobenchError(
            f"{path}: neither a results store (manifest/) nor a published leaderboard (raw/)"
        )
    return combine(*(from_published(p) for p in published))


def _spec_key(record: dict[str, Any]) -> str:
    """What a run computed, whatever its label, suite or the code's run id.

    Its resolved configuration's hash where the record has one (format 2, or a published
    record annotated by ``compare``); else the spec as written, for older published records.
    """
    if record.get("config_hash"):
        return str(record["config_hash"])
    spec = {k: v for k, v in record["spec"].items() if k not in ("label", "suite", "spec_version")}
    return json.dumps(spec, sort_keys=True)


def combine(*sets: RunSet) -> RunSet:
    """One run set from several; a run present in more than one is taken from the first.

    Runs are matched by what they computed (spec without label or suite), not only by run id:
    a published baseline recomputed under another zobench version must not count twice.
    """
    seen: set[str] = set()
    records, frames = [], []
    for run_set in sets:
        kept = []
        for record in run_set.records:
            key = _spec_key(record)
            if key not in seen:
                seen.add(key)
                kept.append(record)
        records.extend(kept)
        ids = [r["run_id"] for r in kept]
        frames.append(run_set.curves.filter(pl.col("run_id").is_in(ids)))
    records.sort(key=lambda r: r["run_id"])
    return RunSet(tuple(records), pl.concat(frames, how="diagonal_relaxed"))


def compact(run_set: RunSet) -> tuple[list[dict[str, Any]], pl.DataFrame]:
    """What a leaderboard publishes: records without tracebacks or host names, sorted curves."""
    records = []
    for record in run_set.records:
        provenance = {
            k: v for k, v in record.get("provenance", {}).items() if k not in _PRIVATE_PROVENANCE
        }
        keep = {k: v for k, v in record.items() if k not in ("error", "traceback")}
        records.append({**keep, "provenance": provenance})
    curves = run_set.curves.sort(["run_id", "iteration"])
    return records, curves


def _run_settings(records: tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    """Run id → ``{"run.<setting>": value}`` for the run-level settings that differ."""
    varying = [s for s in RUN_SETTINGS if len({json.dumps(r["spec"].get(s)) for r in records}) > 1]
    return {r["run_id"]: {f"run.{s}": r["spec"].get(s) for s in varying} for r in records}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def long_frame(run_set: RunSet) -> pl.DataFrame:
    """Identifiers, swept settings (``<table>.<setting>``, ``run.<setting>``) and the curves."""
    ids = run_frame(run_set.records)
    return ids.join(run_set.curves, on="run_id", how="inner", maintain_order="left")


def run_frame(records: tuple[dict[str, Any], ...]) -> pl.DataFrame:
    """One row per run: identifiers and swept settings, as :func:`long_frame` without curves."""
    swept = swept_parameters(list(records))
    run_level = _run_settings(records)
    columns = {k for values in swept.values() for k in values}
    numeric = {
        k
        for k in columns
        if all(_is_number(values.get(k)) or values.get(k) is None for values in swept.values())
    }
    rows = []
    for record in records:
        run_id = record["run_id"]
        params = {
            # numbers stay numbers (an ablation's x axis); anything else is text, one dtype
            k: v if v is None or k in numeric else str(v)
            for k, v in swept[run_id].items()
        }
        rows.append({**identifiers(record), **params, **run_level[run_id]})
    return pl.DataFrame(rows, infer_schema_length=None)


def entry_names(records: tuple[dict[str, Any], ...]) -> set[str]:
    """The distinct entry names the runs make (labels plus their naming settings)."""
    frame = run_frame(records)
    naming = naming_settings(frame)
    return {entry_name(row, naming[row["label"]]) for row in frame.iter_rows(named=True)}


def setting_columns(frame: pl.DataFrame) -> list[str]:
    """The swept-setting columns of a long or final frame, in a fixed order."""
    prefixes = (*COMPONENT_KINDS, "run")
    return sorted(c for c in frame.columns if "." in c and c.split(".", 1)[0] in prefixes)


def task_columns(frame: pl.DataFrame) -> list[str]:
    """Columns that define a leaderboard group: component names plus non-algorithm settings."""
    settings = [c for c in setting_columns(frame) if not c.startswith("algorithm.")]
    return [*GROUP_NAMES, *settings]


def setting_text(value: Any) -> str:
    """A setting as written in a suite: a column mixing 10 and 2.5 holds 10.0, shown as 10."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def naming_settings(frame: pl.DataFrame) -> dict[str, list[str]]:
    """Label → the algorithm settings that take several values among that label's runs.

    Those settings tell a label's entries apart (``dzopg (pairs=40)``); a setting that differs
    only between labels (each algorithm's own tuned step size) is not part of any name.
    """
    algorithm_settings = [c for c in setting_columns(frame) if c.startswith("algorithm.")]
    return {
        str(label): [c for c in algorithm_settings if part.get_column(c).n_unique() > 1]
        for (label,), part in frame.group_by(["label"], maintain_order=True)
    }


def entry_name(row: dict[str, Any], algorithm_settings: list[str]) -> str:
    """An algorithm entry's display name: its label, plus the given settings it has a value for."""
    extra = [
        f"{c.split('.', 1)[1]}={setting_text(row[c])}"
        for c in algorithm_settings
        if row[c] is not None
    ]
    return f"{row['label']} ({', '.join(extra)})" if extra else row["label"]


REFERENCE_COLUMNS: tuple[str, ...] = (
    "ref_kind",
    "ref_uniform",
    "ref_optimal",
    "ref_lower",
    "ref_optimal_exact",
)
"""What a run's normalized score was normalized by (the runner's reference columns), kept per run
in :func:`final_scores` where present."""


def with_reference_kind(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with ``ref_kind`` for every row: as recorded, or derived where it can be.

    Runs recorded before reference kinds existed have only ``ref_optimal_exact``: true means
    ``"exact"`` (dynamic programming over the tables); false means ``"approximate"``, the only
    other reference then (the Monte Carlo value of the reference policy). Null where neither
    column says (no optimum, or a run older still).
    """
    if "ref_optimal_exact" not in frame.columns:
        derived = pl.lit(None, dtype=pl.String)
    else:
        exact = pl.col("ref_optimal_exact")
        derived = (
            pl.when(exact).then(pl.lit("exact")).when(exact.not_()).then(pl.lit("approximate"))
        )
    if "ref_kind" in frame.columns:
        return frame.with_columns(pl.coalesce(pl.col("ref_kind"), derived).alias("ref_kind"))
    return frame.with_columns(derived.alias("ref_kind"))


def final_scores(frame: pl.DataFrame, last: int = 1) -> pl.DataFrame:
    """One row per run of a :func:`long_frame`: identifiers, settings, ``entry``, final values.

    ``score`` and ``score_normalized`` are the means of the last ``last`` evaluations
    (:func:`stats.final_score`); the ledger columns, ``wall_s`` and ``update_s`` are the last
    row's, i.e. what the run spent in all; the :data:`REFERENCE_COLUMNS` present are the run's
    (``ref_kind`` always, see :func:`with_reference_kind`). ``value`` is the normalized final
    score, or the raw one in groups where
    some run has no normalized score (``value_kind`` says which), so a group never mixes scales.
    """
    if last < 1:
        raise ZobenchError(f"--last must be at least 1, got {last}")
    frame = with_reference_kind(frame).sort(["run_id", "iteration"])
    tail = frame.group_by("run_id", maintain_order=True).tail(last)
    ledger = [c for c in (*BUDGETS, "wall_s", "update_s") if c in frame.columns]
    keys = [c for c in identifiers_and_settings(frame) if c != "run_id"]
    final = tail.group_by("run_id", maintain_order=True).agg(
        *(pl.col(c).first() for c in keys),
        *(pl.col(c).last() for c in ledger),
        *(pl.col(c).first() for c in REFERENCE_COLUMNS if c in frame.columns),
        pl.col("score").mean(),
        pl.when(pl.col("score_normalized").null_count() == 0)
        .then(pl.col("score_normalized").mean())
        .otherwise(None)
        .alias("score_normalized"),
    )
    naming = naming_settings(final)
    names = [entry_name(row, naming[row["label"]]) for row in final.iter_rows(named=True)]
    tasks = task_columns(final)
    normalized = pl.col("score_normalized").null_count().over(tasks) == 0
    return (
        final.with_columns(pl.Series("entry", names, dtype=pl.String))
        .with_columns(
            pl.when(normalized)
            .then(pl.col("score_normalized"))
            .otherwise(pl.col("score"))
            .alias("value"),
            pl.when(normalized)
            .then(pl.lit("normalized"))
            .otherwise(pl.lit("score"))
            .alias("value_kind"),
        )
        .sort([*tasks, "entry", "seed", "run_id"], nulls_last=True)
    )


def curve_rows(frame: pl.DataFrame, final: pl.DataFrame) -> pl.DataFrame:
    """The long frame's curves with each run's ``entry`` and its group's ``value`` scale."""
    scale = final.select("run_id", "entry", "value_kind")
    return frame.join(scale, on="run_id", how="inner", maintain_order="left").with_columns(
        pl.when(pl.col("value_kind") == "normalized")
        .then(pl.col("score_normalized"))
        .otherwise(pl.col("score"))
        .alias("value")
    )


def identifiers_and_settings(frame: pl.DataFrame) -> list[str]:
    """Identifying columns plus swept settings of a long frame."""
    ids = ["suite", "run_id", "algorithm", "label", *GROUP_NAMES, "seed"]
    return [*ids, *setting_columns(frame)]


def groups(final: pl.DataFrame) -> list[tuple[dict[str, Any], pl.DataFrame]]:
    """The leaderboard groups of a final-score frame, sorted by their task columns."""
    tasks = task_columns(final)
    out = []
    for _, part in final.group_by(tasks, maintain_order=True):
        out.append(({c: part.get_column(c)[0] for c in tasks}, part))
    return sorted(out, key=lambda item: _task_order(item[0]))


def _task_order(task: dict[str, Any]) -> list[tuple[str, tuple]]:
    """Sort key of a group: its columns by name, numbers by value (4 before 16 before 1024)."""
    return [
        (key, (0, value, "") if _is_number(value) else (1, 0, json.dumps(value, default=str)))
        for key, value in sorted(task.items())
    ]


@dataclass(frozen=True)
class EntryStats:
    """One algorithm entry of a group: its final values over seeds and their summary."""

    entry: str
    seeds: tuple[int, ...]
    values: np.ndarray
    summary: stats.Aggregate
    queries: float
    episodes: float
    wall_s: float


def mean_of(series: pl.Series) -> float:
    """The mean of a numeric series as a float.

    polars types an aggregate as any scalar a column can hold (dates, strings, ...); the
    columns averaged here are numeric, and anything else is a bug worth a clear error.
    """
    mean = series.mean()
    if not isinstance(mean, int | float):
        raise TypeError(f"column '{series.name}' has no numeric mean (got {mean!r})")
    return float(mean)


def entry_stats(group: pl.DataFrame, column: str = "value") -> list[EntryStats]:
    """Each entry's summary of ``column``, ranked by IQM (then mean, then name).

    ``column`` is a per-run quantity of the group's rows: the final ``value`` (the default),
    or an equal-budget one (:mod:`zobench.report.budgets`). Runs without a value (an offline
    learner below its budget) are left out, and so is an entry left with no runs.
    """
    out = []
    kept = group.filter(pl.col(column).is_not_null() & pl.col(column).is_not_nan())
    for part in kept.sort(["seed", "run_id"]).partition_by("entry", maintain_order=True):
        entry = part.get_column("entry")[0]
        values = part.get_column(column).to_numpy().astype(float)
        out.append(
            EntryStats(
                entry=str(entry),
                seeds=tuple(part.get_column("seed").to_list()),
                values=values,
                summary=stats.aggregate(values),
                queries=mean_of(part.get_column("queries")),
                episodes=mean_of(part.get_column("episodes")),
                wall_s=mean_of(part.get_column("wall_s")),
            )
        )
    return sorted(out, key=lambda e: (-e.summary.iqm, -e.summary.mean, e.entry))


def fixed_settings(
    records: tuple[dict[str, Any], ...], group: pl.DataFrame
) -> tuple[list[str], dict[str, list[str]]]:
    """The settings written in the suite that a group's runs hold fixed: shared, and per label.

    Each run's spec holds the settings its suite wrote (``evaluators = 5``); everything else
    ran at the component's default or preset. Settings that name a label's entries or define
    the group are left out (the board shows them already). Returns the ``setting=value``
    texts of the other components common to every run of the group, and per label those
    common to its runs.
    """
    by_id = {r["run_id"]: r for r in records}
    shown = set(task_columns(group))
    naming = naming_settings(group)
    per_label: dict[str, set[str]] = {}
    for run_id, label in group.select("run_id", "label").iter_rows():
        spec = by_id[run_id]["spec"]
        written = {
            f"{'' if kind == 'algorithm' else kind + '.'}{key}={setting_text(value)}"
            for kind in COMPONENT_KINDS
            for key, value in (spec.get(kind, {}).get("params") or {}).items()
            if f"{kind}.{key}" not in shown and f"{kind}.{key}" not in naming[label]
        }
        per_label[label] = per_label[label] & written if label in per_label else written
    common = set.intersection(*per_label.values()) if per_label else set()
    shared = {s for s in common if "." in s.split("=", 1)[0]}  # environment., preference., …
    own = {label: sorted(v - shared) for label, v in sorted(per_label.items()) if v - shared}
    return sorted(shared), own


def improvement(x: EntryStats, y: EntryStats, *, paired: bool = False) -> tuple[float, bool]:
    """P(x beats y) and whether it was paired by seed.

    Unpaired by default: rliable's Mann-Whitney share over all pairs of runs. ``paired`` asks
    for the seed-by-seed share, used only when both entries ran the same seeds once each.
    """
    return seeded_improvement(x.values, x.seeds, y.values, y.seeds, paired=paired)


def paired_by_seed(x_seeds: tuple[int, ...], y_seeds: tuple[int, ...]) -> bool:
    """True when two entries ran the same seeds, once each: they can be compared seed by seed."""
    return x_seeds == y_seeds and len(set(x_seeds)) == len(x_seeds)


def seeded_improvement(
    x: np.ndarray,
    x_seeds: tuple[int, ...],
    y: np.ndarray,
    y_seeds: tuple[int, ...],
    *,
    paired: bool = False,
) -> tuple[float, bool]:
    """:func:`improvement` on bare values with their seeds (in the same order).

    Runs on the same seed here are barely correlated (different algorithms draw differently
    from the same seed), so pairing discards most comparisons and its intervals undercover:
    it is an option, not the default.
    """
    if paired and paired_by_seed(x_seeds, y_seeds):
        return stats.paired_probability_of_improvement(x, y), True
    return stats.probability_of_improvement(x, y), False


def improvement_matrix(entries: list[EntryStats]) -> np.ndarray:
    """``M[i, j]`` = P(entry i beats entry j) (unpaired); NaN on the diagonal."""
    size = len(entries)
    matrix = np.full((size, size), np.nan)
    for i, x in enumerate(entries):
        for j, y in enumerate(entries):
            if i != j:
                matrix[i, j] = improvement(x, y)[0]
    return matrix


def curve_band(curves: np.ndarray, *, reps: int = 1000, seed: int = 0) -> np.ndarray:
    """Mean over seeds and its 95% percentile-bootstrap band, for every evaluation at once.

    ``curves`` is ``(seeds, points)``; the result is ``(3, points)``: mean, low, high. It is the
    bootstrap of :func:`stats.stratified_bootstrap_ci` with the mean as statistic, vectorized over
    points (one resample of seeds serves every point, so the band is a coherent curve) — calling
    that function point by point would cost a Python loop of ``reps`` per point.
    """
    curves = np.asarray(curves, dtype=float)
    picks = np.random.default_rng(seed).integers(0, curves.shape[0], size=(reps, curves.shape[0]))
    means = curves[picks].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975], axis=0)
    return np.stack([curves.mean(axis=0), low, high])
