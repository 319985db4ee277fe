"""The results store: one parquet file per run plus one JSON manifest record per run.

Layout of a store folder ``OUT/``::

    OUT/runs/<run_id>.parquet      the runner's frame (learning curve), exactly as returned
    OUT/manifest/<run_id>.json     spec, status (done/failed), error + traceback, timings, provenance

Every file is written to a temporary file in the same folder and then renamed over its final name
(``os.replace`` is atomic), so a crash or Ctrl-C never leaves a partial file under a final name.
A run counts as done only when its manifest record says ``done`` *and* its parquet file exists;
the parquet file is written first, so a kill between the two writes just reruns that run.

:func:`load` joins the two into one long polars DataFrame: identifying columns (``suite, run_id,
algorithm, label, environment, preference, topology, seed``), then one column per swept parameter,
then the runner's columns. A swept parameter is a component setting whose value differs between
the loaded runs (including "not set" in some runs); its column is named ``<table>.<setting>``,
e.g. ``algorithm.trajectories`` or ``environment.size``. List values are stored as JSON text.
Nothing is ever unpickled: the store holds only parquet and JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from zobench.bench import guard
from zobench.bench.spec import COMPONENT_KINDS
from zobench.errors import ZobenchError

STORE_FORMAT = 1
"""Version of the manifest record layout."""
ID_COLUMNS: tuple[str, ...] = (
    "suite",
    "run_id",
    "algorithm",
    "label",
    "environment",
    "preference",
    "topology",
    "seed",
)
"""Identifying columns that :func:`load` puts in front of the runner's columns."""


class StoreError(ZobenchError):
    """A folder that is not a readable zobench store."""


def write_atomic(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` on a temporary file next to ``path``, then rename it to ``path``.

    The temporary name is unique per process and call (so concurrent writers never collide) and
    starts with a dot and ends in ``.tmp``, so nothing reading the store mistakes it for a result.
    A Ctrl-C during the write is delivered after it, so it never leaves the temporary file behind.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    # A Ctrl-C waits until the file is in place or cleaned up (see guard.interrupts_deferred).
    with guard.interrupts_deferred():
        try:
            write(tmp)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


class Store:
    """A results folder: read and write run records and frames by run id."""

    def __init__(self, root: str | Path, *, create: bool = False) -> None:
        self.root = Path(root)
        self.runs_dir = self.root / "runs"
        self.manifest_dir = self.root / "manifest"
        if create:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            self.manifest_dir.mkdir(parents=True, exist_ok=True)
            self._remove_stale_temporaries()
        elif not self.manifest_dir.is_dir():
            raise StoreError(f"{self.root}: not a zobench results folder (no manifest/ inside)")

    def _remove_stale_temporaries(self) -> None:
        """Temporary files left by a killed process are garbage: never a finished run."""
        for folder in (self.runs_dir, self.manifest_dir):
            for tmp in folder.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def frame_path(self, run_id: str) -> Path:
        """Where the run's parquet file lives."""
        return self.runs_dir / f"{run_id}.parquet"

    def record_path(self, run_id: str) -> Path:
        """Where the run's manifest record lives."""
        return self.manifest_dir / f"{run_id}.json"

    def record(self, run_id: str) -> dict[str, Any] | None:
        """The run's manifest record, or ``None`` when there is none (or it is unreadable)."""
        try:
            return json.loads(self.record_path(run_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def is_done(self, run_id: str) -> bool:
        """True when the run finished successfully and its frame is on disk."""
        record = self.record(run_id)
        return bool(record and record.get("status") == "done") and self.frame_path(run_id).exists()

    def records(self) -> Iterator[dict[str, Any]]:
        """Every readable manifest record, sorted by run id."""
        for path in sorted(self.manifest_dir.glob("*.json")):
            with contextlib.suppress(OSError, ValueError):
                yield json.loads(path.read_text(encoding="utf-8"))

    def write(self, record: dict[str, Any], frame: pl.DataFrame | None = None) -> None:
        """Store a run: the frame first (if any), then its manifest record, each atomically.

        Without a frame (a failed run), an older frame of the same run id is removed, so the
        folder never pairs a failure record with a curve from an earlier attempt.
        """
        run_id = record["run_id"]
        if frame is not None:
            write_atomic(self.frame_path(run_id), frame.write_parquet)
        text = json.dumps({"format": STORE_FORMAT, **record}, indent=1, default=str)
        write_atomic(self.record_path(run_id), lambda p: p.write_text(text, encoding="utf-8"))
        if frame is None:  # a recomputation that failed: drop the previous frame, now stale
            with contextlib.suppress(FileNotFoundError):
                self.frame_path(run_id).unlink()

    def frame(self, run_id: str) -> pl.DataFrame:
        """The runner's frame of a finished run."""
        return pl.read_parquet(self.frame_path(run_id))


def _literal(name: str, value: Any) -> pl.Expr:
    """A constant column with a fixed dtype (polars would pick Int32 for small ints)."""
    if isinstance(value, bool):
        return pl.lit(value, dtype=pl.Boolean).alias(name)
    if isinstance(value, int):
        return pl.lit(value, dtype=pl.Int64).alias(name)
    if isinstance(value, float):
        return pl.lit(value, dtype=pl.Float64).alias(name)
    return pl.lit(value).alias(name)


def _column_value(value: Any) -> Any:
    """A setting as a table cell: scalars as they are, lists and tables as JSON text."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True)
    return value


def swept_parameters(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Run id → ``{"<table>.<setting>": value}`` for the settings that differ between runs."""
    flat: dict[str, dict[str, Any]] = {}
    for rec in records:
        spec = rec["spec"]
        flat[rec["run_id"]] = {
            f"{table}.{key}": _column_value(value)
            for table in COMPONENT_KINDS
            if spec.get(table)
            for key, value in spec[table]["params"].items()
        }
    keys = sorted({k for values in flat.values() for k in values})
    swept = [k for k in keys if len({json.dumps(v.get(k)) for v in flat.values()}) > 1]
    return {run_id: {k: values.get(k) for k in swept} for run_id, values in flat.items()}


def identifiers(record: dict[str, Any]) -> dict[str, Any]:
    """The identifying columns of a run, from its manifest record."""
    spec = record["spec"]
    return {
        "suite": spec.get("suite", ""),
        "run_id": record["run_id"],
        "algorithm": spec["algorithm"]["name"],
        "label": spec.get("label") or spec["algorithm"]["name"],
        "environment": spec["environment"]["name"],
        "preference": spec["preference"]["name"],
        "topology": (spec.get("topology") or {}).get("name"),
        "seed": spec["seed"],
    }


def load(root: str | Path, run_ids: list[str] | None = None) -> pl.DataFrame:
    """The finished runs of a store as one long DataFrame (see the module docstring).

    ``run_ids`` restricts the table to those runs (and the swept columns to what differs among
    them). A store without finished runs gives an empty frame with the identifying columns.
    """
    store = Store(root)
    wanted = None if run_ids is None else set(run_ids)
    records = [
        r
        for r in store.records()
        if r.get("status") == "done"
        and (wanted is None or r.get("run_id") in wanted)
        and store.frame_path(r["run_id"]).exists()
    ]
    swept = swept_parameters(records)
    frames = []
    for rec in records:
        cells = {**identifiers(rec), **swept[rec["run_id"]]}
        frame = store.frame(rec["run_id"])
        frames.append(frame.select(*(_literal(k, v) for k, v in cells.items()), pl.all()))
    if not frames:
        return pl.DataFrame({c: [] for c in ID_COLUMNS})
    return pl.concat(frames, how="diagonal_relaxed")
