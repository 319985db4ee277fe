"""The results store: one parquet file per run plus one JSON manifest record per run.

Layout of a store folder ``OUT/``::

    OUT/store.json                 {"format": 2}: the layout version of this store
    OUT/runs/<run_id>.parquet      the runner's frame (learning curve), exactly as returned
    OUT/manifest/<run_id>.json     the run's record (:class:`~zobench.bench.records.RunRecord`)
    OUT/.lock                      held (``flock``) by the ``zobench run`` writing the store
    OUT/damaged/                   damaged files moved aside when their run is recomputed

Every file is written to a temporary file in the same folder (``.<name>.<pid>.<random>.tmp``),
flushed to disk (``fsync``), renamed over its final name and the folder is flushed too, so a
crash, Ctrl-C or power cut never leaves a partial file under a final name. The parquet file is
written before the manifest, and a run is done only when its record says ``done`` and the
parquet file matches the sha256 and row count the record keeps.

Readers trust nothing: a manifest is read only as a regular file (no symlink, FIFO or folder),
parsed into a typed record whose hashes must add up and whose run id must be its file name; a
frame must be a regular file with the recorded hash and rows. Anything else makes the run
*damaged*: reported by ``zobench runs`` with the reason, left out of every table with one
warning (:class:`StoreWarning`), and recomputed by the next ``zobench run``. Two records of the
same configuration (a run computed again after its code changed) never both count: the one
finished last does, the other is *superseded*.

:func:`load` joins records and frames into one long polars DataFrame: identifying columns
(``suite, run_id, algorithm, label, environment, preference, topology, seed``), then one column
per swept parameter, then the runner's columns. A swept parameter is a setting *as written in
the suite* whose value differs between the loaded runs (including "not set" in some runs); its
column is named ``<table>.<setting>``, e.g. ``algorithm.pairs``. List values are stored
as JSON text. Nothing is ever unpickled: the store holds only parquet and JSON.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import stat
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from zobench.bench.files import (
    DamagedRun,
    LockError,
    check_regular,
    fsync_folder,
    locked,
    read_regular,
    write_atomic,
    writer_alive,
)
from zobench.bench.records import (
    RECORD_FORMAT,
    DamagedRecord,
    FrameDigest,
    RunRecord,
    canonical_json,
    is_run_id,
)
from zobench.bench.spec import COMPONENT_KINDS
from zobench.errors import ZobenchError

STORE_FORMAT = RECORD_FORMAT
"""Version of the store layout (its ``store.json``) and of the manifest records in it."""
MARKER = "store.json"
LOCK = ".lock"
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


class StoreWarning(UserWarning):
    """Runs of a store left out of a table because they are damaged (one line, naming them)."""


@dataclass
class Scan:
    """What a store holds: trustworthy records, damaged entries and superseded runs."""

    records: dict[str, RunRecord] = field(default_factory=dict)
    """Run id → its record, for every manifest that parses and checks (done or failed)."""
    damaged: dict[str, str] = field(default_factory=dict)
    """Run id (or the manifest's file name when it is no run id) → why it is damaged."""
    superseded: dict[str, str] = field(default_factory=dict)
    """Run id → the run id of a later run of the same configuration, which counts instead."""
    _groups: tuple[dict[str, list[str]], dict[str, list[str]]] | None = field(
        default=None, repr=False
    )

    def current(self) -> list[RunRecord]:
        """Done records that are neither damaged nor superseded, sorted by run id."""
        return [
            r
            for run_id, r in sorted(self.records.items())
            if r.status == "done" and run_id not in self.damaged and run_id not in self.superseded
        ]

    def by_config(self) -> dict[str, list[str]]:
        """Configuration hash → the run ids (any status) that computed it."""
        out: dict[str, list[str]] = {}
        for run_id, record in sorted(self.records.items()):
            out.setdefault(record.config_hash, []).append(run_id)
        return out

    def by_written(self) -> dict[str, list[str]]:
        """The spec as written (no label or suite) → the run ids (any status) made from it.

        Several ids for one written spec mean the code or a default changed in between.
        """
        out: dict[str, list[str]] = {}
        for run_id, record in sorted(self.records.items()):
            out.setdefault(written_key(record), []).append(run_id)
        return out

    def same_run(self, record: RunRecord) -> set[str]:
        """Other stored runs of ``record``'s configuration or of its spec as written."""
        if self._groups is None:  # built once: a suite asks this for each of its runs
            self._groups = (self.by_config(), self.by_written())
        ids = set(self._groups[0].get(record.config_hash, []))
        ids |= set(self._groups[1].get(written_key(record), []))
        return ids - {record.run_id}

    def warn(self, where: str | Path) -> None:
        """One :class:`StoreWarning` line naming the damaged runs, when there are any."""
        if self.damaged:
            names = ", ".join(sorted(self.damaged))
            warnings.warn(
                f"{where}: {len(self.damaged)} damaged run(s) left out ({names}); "
                f"see `zobench runs {where}`, a `zobench run` recomputes them",
                StoreWarning,
                stacklevel=3,
            )


class Store:
    """A results folder: read and write run records and frames by run id."""

    def __init__(self, root: str | Path, *, create: bool = False) -> None:
        self.root = Path(root)
        self.runs_dir = self.root / "runs"
        self.manifest_dir = self.root / "manifest"
        if create:
            try:
                self.runs_dir.mkdir(parents=True, exist_ok=True)
                self.manifest_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"{self.root}: cannot create the results folder ({exc.strerror})"
                ) from None
        elif not self.manifest_dir.is_dir():
            raise StoreError(f"{self.root}: not a zobench results folder (no manifest/ inside)")
        self._check_format(create)

    def _check_format(self, create: bool) -> None:
        """Refuse a store of another layout version with one line saying what to do."""
        marker = self.root / MARKER
        try:
            found = json.loads(read_regular(marker)).get("format")
        except DamagedRun:
            found = None if marker.exists() or marker.is_symlink() else "absent"
        except (ValueError, AttributeError):
            found = None
        if found == STORE_FORMAT:
            return
        if found == "absent" and not any(self.manifest_dir.glob("*.json")):
            if create:  # a new (or empty) store: say which layout it holds
                try:
                    text = json.dumps({"format": STORE_FORMAT}) + "\n"
                    write_atomic(marker, lambda p: p.write_text(text, encoding="utf-8"))
                except OSError as exc:
                    raise StoreError(f"{self.root}: cannot write ({exc.strerror})") from None
            return
        version = 1 if found == "absent" else found
        raise StoreError(
            f"{self.root}: written by an older zobench (store format {version!r}, this one reads "
            f"{STORE_FORMAT}); run the suite again with --fresh into a new folder (--out)"
        )

    # -- paths and locking -------------------------------------------------------------------

    def frame_path(self, run_id: str) -> Path:
        """Where the run's parquet file lives (the id is checked first: it becomes a path)."""
        return self.runs_dir / f"{_checked_id(run_id)}.parquet"

    def record_path(self, run_id: str) -> Path:
        """Where the run's manifest record lives (the id is checked first)."""
        return self.manifest_dir / f"{_checked_id(run_id)}.json"

    @contextlib.contextmanager
    def lock(self, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the store's writer lock (``OUT/.lock``, see :func:`~zobench.bench.files.locked`).

        Holding it, the temporary files of writers that are gone are removed.
        """
        path = self.root / LOCK
        try:
            with locked(path, on_wait):
                self._remove_stale_temporaries()
                yield
        except LockError as exc:
            raise StoreError(str(exc)) from None

    def _remove_stale_temporaries(self) -> None:
        """Temporary files whose writer is gone are garbage: never a finished run."""
        for folder in (self.runs_dir, self.manifest_dir):
            for tmp in folder.glob(".*.tmp"):
                if not writer_alive(tmp.name):
                    with contextlib.suppress(OSError):
                        tmp.unlink()

    # -- reading ---------------------------------------------------------------------------------

    def read_record(self, run_id: str) -> RunRecord:
        """The run's checked record; :class:`DamagedRun` (or ``FileNotFoundError``) otherwise."""
        path = self.record_path(run_id)
        if not path.exists() and not path.is_symlink():
            raise FileNotFoundError(path)
        try:
            record = RunRecord.from_json(json.loads(read_regular(path)))
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            reason = str(exc) if isinstance(exc, DamagedRecord) else "not valid JSON"
            raise DamagedRun(f"manifest: {reason}") from None
        if record.run_id != run_id:
            raise DamagedRun(f"manifest: its run_id {record.run_id} is not its file name")
        return record

    def record(self, run_id: str) -> dict[str, Any] | None:
        """The run's manifest record as JSON data, or ``None`` when missing or damaged."""
        try:
            return self.read_record(run_id).to_json()
        except (DamagedRun, OSError, ValueError):
            return None

    def records(self) -> Iterator[dict[str, Any]]:
        """Every manifest record that checks out, as JSON data, sorted by run id."""
        for _, record in sorted(self.scan().records.items()):
            yield record.to_json()

    def frame_bytes(self, record: RunRecord, *, verify: bool = True) -> bytes:
        """The run's parquet file, checked against the record's sha256 (unless ``verify`` is off)."""
        if record.frame is None:
            raise DamagedRun("a failed run has no frame")
        data = read_regular(self.frame_path(record.run_id))
        if verify and hashlib.sha256(data).hexdigest() != record.frame.sha256:
            raise DamagedRun("parquet file does not match the sha256 in its manifest")
        return data

    def read_frame(self, record: RunRecord, *, verify: bool = True) -> pl.DataFrame:
        """The run's learning curve, checked (hash and row count); :class:`DamagedRun` if not."""
        data = self.frame_bytes(record, verify=verify)
        try:
            frame = pl.read_parquet(io.BytesIO(data))
        except Exception as exc:  # polars raises many kinds for a malformed file
            raise DamagedRun(f"parquet file is unreadable ({type(exc).__name__})") from None
        if frame.height != record.frame.rows:  # type: ignore[union-attr]  # checked above
            raise DamagedRun(f"parquet file has {frame.height} rows, not {record.frame.rows}")  # type: ignore[union-attr]
        if "score" not in frame.columns or "iteration" not in frame.columns:
            raise DamagedRun("parquet file lacks the runner's columns")
        return frame

    def frame(self, run_id: str) -> pl.DataFrame:
        """The checked frame of a finished run (raises :class:`DamagedRun` when damaged)."""
        return self.read_frame(self.read_record(run_id))

    def scan(self, *, frames: str = "exists") -> Scan:
        """Every manifest, checked, and the frame of every done run as deep as ``frames`` says.

        ``"exists"``: the frame is a regular file; ``"hash"``: its bytes match the recorded
        sha256; ``"read"``: it also parses, with the recorded rows and the runner's columns.
        """
        scan = Scan()
        try:
            names = sorted(e.name for e in os.scandir(self.manifest_dir))
        except OSError as exc:
            raise StoreError(f"{self.manifest_dir}: cannot list ({exc.strerror})") from None
        for name in names:
            if name.startswith(".") or not name.endswith(".json"):
                continue  # temporaries (and anything not a record) are no runs
            run_id = name[: -len(".json")]
            if not is_run_id(run_id):
                scan.damaged[name] = "manifest file is not named by a run id"
                continue
            try:
                record = self.read_record(run_id)
                scan.records[run_id] = record
                if record.status == "done":
                    if frames == "read":
                        self.read_frame(record)
                    elif frames == "hash":
                        self.frame_bytes(record)
                    else:
                        check_regular(self.frame_path(run_id))
            except (DamagedRun, OSError) as exc:
                scan.damaged[run_id] = str(exc)
        _mark_superseded(scan)
        return scan

    def is_done(self, run_id: str, *, verify: bool = True) -> bool:
        """True when the run finished and its record and frame check out."""
        try:
            record = self.read_record(run_id)
            if record.status != "done":
                return False
            self.frame_bytes(record, verify=verify)
        except (DamagedRun, OSError, ValueError):
            return False
        return True

    def finished(
        self, run_ids: list[str] | None = None, *, verify: bool = True
    ) -> tuple[list[tuple[RunRecord, pl.DataFrame]], Scan]:
        """The current finished runs with their checked frames, and the scan (damage found).

        A run whose frame turns out damaged moves to ``scan.damaged`` and is left out.
        """
        scan = self.scan()
        wanted = None if run_ids is None else set(run_ids)
        out = []
        for record in scan.current():
            if wanted is not None and record.run_id not in wanted:
                continue
            try:
                out.append((record, self.read_frame(record, verify=verify)))
            except DamagedRun as exc:
                scan.damaged[record.run_id] = str(exc)
        return out, scan

    # -- writing ---------------------------------------------------------------------------------

    def write(self, record: RunRecord, frame: pl.DataFrame | None = None) -> RunRecord:
        """Store a run: the frame first (if any), then its manifest record, each atomically.

        The record's frame digest is filled in from the bytes written. Damaged entries in the
        way (a folder, a FIFO, a symlink under the run's names) are moved to ``OUT/damaged/``.
        Without a frame (a failed run), an older frame of the same run id is removed, so the
        folder never pairs a failure record with a curve from an earlier attempt.
        """
        frame_path, record_path = self.frame_path(record.run_id), self.record_path(record.run_id)
        for path in (frame_path, record_path):
            self._clear_non_file(path)
        if frame is not None:
            buffer = io.BytesIO()
            frame.write_parquet(buffer)
            data = buffer.getvalue()
            digest = FrameDigest(hashlib.sha256(data).hexdigest(), frame.height)
            record = dataclasses.replace(record, frame=digest, status="done")
            write_atomic(frame_path, lambda p: p.write_bytes(data))
        else:  # failed, or started (the placeholder of a run in the scheduler's process)
            status = record.status if record.status == "started" else "failed"
            record = dataclasses.replace(record, frame=None, status=status)
        text = json.dumps(record.to_json(), indent=1)
        write_atomic(record_path, lambda p: p.write_text(text, encoding="utf-8"))
        if frame is None:  # a recomputation that failed: drop the previous frame, now stale
            with contextlib.suppress(FileNotFoundError):
                frame_path.unlink()
        return record

    def remove(self, run_id: str) -> None:
        """Delete a run (manifest first, so no reader pairs a record with a missing frame)."""
        for path in (self.record_path(run_id), self.frame_path(run_id)):
            self._clear_non_file(path)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        fsync_folder(self.manifest_dir)

    def _clear_non_file(self, path: Path) -> None:
        """Move anything but a regular file (or nothing) at ``path`` to ``OUT/damaged/``."""
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISREG(mode):
            return
        aside = self.root / "damaged"
        aside.mkdir(exist_ok=True)
        os.replace(path, aside / f"{path.name}.{uuid.uuid4().hex[:8]}")


def _checked_id(run_id: str) -> str:
    if not is_run_id(run_id):
        raise StoreError(f"{str(run_id)[:40]!r} is not a run id (16 hex digits)")
    return run_id


def written_key(record: RunRecord) -> str:
    """What the user asked for: the spec as written, without label and suite."""
    return canonical_json(record.spec.canonical())


def _mark_superseded(scan: Scan) -> None:
    """Of the trustworthy runs of one configuration, or of one spec as written (computed again
    after a default or the code changed), only the one finished last counts."""
    for groups in (scan.by_config(), scan.by_written()):
        for run_ids in groups.values():
            usable = [i for i in run_ids if i not in scan.damaged and i not in scan.superseded]
            if len(usable) > 1:
                latest = max(usable, key=lambda i: (scan.records[i].timings.finished_at, i))
                for run_id in usable:
                    if run_id != latest:
                        scan.superseded[run_id] = latest


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


def load(
    root: str | Path, run_ids: list[str] | None = None, *, verify: bool = True
) -> pl.DataFrame:
    """The finished runs of a store as one long DataFrame (see the module docstring).

    ``run_ids`` restricts the table to those runs (and the swept columns to what differs among
    them). Damaged runs are left out with one :class:`StoreWarning`; ``verify=False`` skips the
    sha256 check of the parquet files (their row counts are still checked). A store without
    finished runs gives an empty frame with the identifying columns.
    """
    finished, scan = Store(root).finished(run_ids, verify=verify)
    scan.warn(root)
    records = [record.to_json() for record, _ in finished]
    swept = swept_parameters(records)
    frames = []
    for rec, (_, frame) in zip(records, finished, strict=True):
        cells = {**identifiers(rec), **swept[rec["run_id"]]}
        frames.append(frame.select(*(_literal(k, v) for k, v in cells.items()), pl.all()))
    if not frames:
        return pl.DataFrame({c: [] for c in ID_COLUMNS})
    return pl.concat(frames, how="diagonal_relaxed")
