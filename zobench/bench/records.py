"""Typed records: what a worker returns for a run, and what the store keeps about it.

A :class:`RunResult` is what :func:`zobench.bench.scheduler.execute` hands back (the frame, or the
error and traceback, with timings and the worker's environment). A :class:`RunRecord` is the
manifest record ``OUT/manifest/<run_id>.json``: the spec as the user wrote it, the *resolved*
configuration that ran, its ``config_hash``, the code ``fingerprint``, the digest of the parquet
file, status, error, timings and provenance.

Identity is pure data, so any reader can check a record without the plugins installed:

- ``config_hash`` = sha256 of the resolved configuration (every setting, defaults included, and
  the run settings and seed) — the same for the same configuration, whatever code ran it;
- ``run_id`` = the first 16 hex digits of sha256 of (``config_hash``, sha256 of the
  fingerprint) — a new id when the configuration *or* the code changes.

A record that does not parse or whose hashes do not add up raises :class:`DamagedRecord`
(a ``ValueError``): it is *damaged*, never a crash.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from zobench.bench.spec import COMPONENT_KINDS, SPEC_VERSION, RunSpec

RECORD_FORMAT = 2
"""Version of the manifest record layout (1: no resolved configuration, fingerprint or digest)."""
RUN_SETTINGS: tuple[str, ...] = ("seed", "iterations", "eval_every", "eval_episodes")
"""Run-level settings of a spec, hashed with the resolved components."""
STATUSES: tuple[str, ...] = ("done", "failed", "started")
"""``started``: written before a run in the scheduler's own process (serial executor), so a run
that kills the process outright is known and recomputed."""
_RUN_ID = re.compile(r"^[0-9a-f]{16}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class DamagedRecord(ValueError):  # noqa: N818 -- a state of a record, not only an error
    """A manifest record that does not parse or does not match itself (the message says why)."""


def is_run_id(value: object) -> bool:
    """True for a run id: exactly 16 lower-case hex digits (safe as a file name)."""
    return isinstance(value, str) and _RUN_ID.match(value) is not None


def canonical_json(value: Any) -> str:
    """The one JSON text of a value that is hashed: sorted keys, no spaces, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def sha256_text(value: Any) -> str:
    """sha256 (hex) of :func:`canonical_json` of ``value``."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def config_hash(resolved: Mapping[str, Any]) -> str:
    """The hash of a resolved configuration (see the module docstring)."""
    return sha256_text(resolved)


def run_id_of(config: str, fingerprint: Mapping[str, Any]) -> str:
    """The run id of a configuration hash run by the code of ``fingerprint``."""
    return sha256_text({"config": config, "code": sha256_text(fingerprint)})[:16]


def _require(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise DamagedRecord(f"field '{key}' is missing or not a {_kind_name(kind)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


@dataclass(frozen=True)
class Timings:
    """When a run started and finished (UTC, ISO 8601) and its wall time in seconds."""

    started_at: str
    finished_at: str
    wall_s: float

    @classmethod
    def from_json(cls, data: Any) -> Timings:
        """Parse; :class:`DamagedRecord` when the shape is wrong."""
        if not isinstance(data, Mapping):
            raise DamagedRecord("field 'timings' is not a table")
        return cls(
            _require(data, "started_at", str),
            _require(data, "finished_at", str),
            float(_require(data, "wall_s", (int, float))),
        )


@dataclass(frozen=True)
class FrameDigest:
    """The sha256 and row count of a run's parquet file, as the manifest keeps them."""

    sha256: str
    rows: int

    @classmethod
    def from_json(cls, data: Any) -> FrameDigest:
        """Parse; :class:`DamagedRecord` when the shape is wrong."""
        if not isinstance(data, Mapping):
            raise DamagedRecord("field 'frame' is not a table")
        digest = _require(data, "sha256", str)
        rows = _require(data, "rows", int)
        if not _SHA256.match(digest) or rows < 0:
            raise DamagedRecord("field 'frame' holds no valid sha256 and row count")
        return cls(digest, rows)


@dataclass
class RunResult:
    """What the worker returns for one run: the frame (done) or the error (failed)."""

    run_id: str
    status: str
    frame: Any
    """The runner's polars frame, ``None`` for a failed run."""
    error: str | None
    traceback: str | None
    timings: Timings
    worker: dict[str, str]
    """Versions and platform of the process that computed the run."""

    @classmethod
    def of(cls, value: RunResult | Mapping[str, Any]) -> RunResult:
        """A result as is, or from the equivalent mapping (an executor may build failures)."""
        if isinstance(value, RunResult):
            return value
        timings = value.get("timings") or {
            k: value[k] for k in ("started_at", "finished_at", "wall_s")
        }
        return cls(
            run_id=value["run_id"],
            status=value["status"],
            frame=value.get("frame"),
            error=value.get("error"),
            traceback=value.get("traceback"),
            timings=Timings.from_json(timings),
            worker=dict(value.get("worker") or {}),
        )


@dataclass(frozen=True)
class RunRecord:
    """One manifest record (see the module docstring); :meth:`from_json` checks it fully."""

    run_id: str
    status: str
    spec: RunSpec
    """The run as written in the suite (label and swept-setting columns show these values)."""
    resolved: dict[str, Any]
    """The configuration that ran: every component with every setting, and the run settings."""
    config_hash: str
    fingerprint: dict[str, Any]
    """The code that ran: the kernel and, per component, distribution, version, source hash,
    declared outside-library versions and the hashes of the files it read."""
    timings: Timings
    frame: FrameDigest | None = None
    """Digest of ``runs/<run_id>.parquet``; ``None`` for a failed run."""
    error: str | None = None
    traceback: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    format: int = RECORD_FORMAT

    def to_json(self) -> dict[str, Any]:
        """The record as plain JSON data (what the manifest file holds)."""
        return {
            "format": self.format,
            "run_id": self.run_id,
            "status": self.status,
            "spec": self.spec.to_record(),
            "resolved": self.resolved,
            "config_hash": self.config_hash,
            "fingerprint": self.fingerprint,
            "frame": None if self.frame is None else vars(self.frame).copy(),
            "error": self.error,
            "traceback": self.traceback,
            "timings": vars(self.timings).copy(),
            "provenance": self.provenance,
        }

    @classmethod
    def from_json(cls, data: Any) -> RunRecord:
        """Parse and check a manifest record; :class:`DamagedRecord` says what is wrong."""
        if not isinstance(data, Mapping):
            raise DamagedRecord(f"not a record (a JSON {type(data).__name__})")
        version = data.get("format")
        if version != RECORD_FORMAT:
            raise DamagedRecord(f"record format {version!r}, expected {RECORD_FORMAT}")
        run_id = data.get("run_id")
        if not isinstance(run_id, str) or not is_run_id(run_id):
            raise DamagedRecord(f"run_id {str(run_id)[:40]!r} is not 16 hex digits")
        status = _require(data, "status", str)
        if status not in STATUSES:
            raise DamagedRecord(f"unknown status {status[:20]!r}")
        try:
            spec = RunSpec.from_record(_require(data, "spec", Mapping))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DamagedRecord(f"malformed spec ({type(exc).__name__}: {exc})") from None
        frame = None if data.get("frame") is None else FrameDigest.from_json(data["frame"])
        if (status == "done") != (frame is not None):
            raise DamagedRecord("a done run needs a frame digest, a failed one has none")
        error, trace = data.get("error"), data.get("traceback")
        if not all(v is None or isinstance(v, str) for v in (error, trace)):
            raise DamagedRecord("error and traceback must be text")
        record = cls(
            run_id=run_id,
            status=status,
            spec=spec,
            resolved=dict(_require(data, "resolved", Mapping)),
            config_hash=_require(data, "config_hash", str),
            fingerprint=dict(_require(data, "fingerprint", Mapping)),
            timings=Timings.from_json(data.get("timings")),
            frame=frame,
            error=error,
            traceback=trace,
            provenance=dict(_require(data, "provenance", Mapping)),
        )
        record.check_identity()
        return record

    def check_identity(self) -> None:
        """Raise :class:`DamagedRecord` unless the hashes and the spec agree with the record.

        The configuration hash is recomputed from ``resolved``, the run id from it and the
        fingerprint, and the as-written spec must be part of the resolved configuration (an edited
        seed or setting anywhere shows).
        """
        try:
            expected_hash = config_hash(self.resolved)
            expected_id = run_id_of(self.config_hash, self.fingerprint)
        except (TypeError, ValueError) as exc:
            raise DamagedRecord(f"unhashable configuration ({exc})") from None
        if expected_hash != self.config_hash:
            raise DamagedRecord("config_hash does not match the resolved configuration")
        if expected_id != self.run_id:
            raise DamagedRecord("run_id does not match the configuration and code fingerprint")
        if self.resolved.get("spec_version") != SPEC_VERSION:
            raise DamagedRecord(f"spec version {self.resolved.get('spec_version')!r}")
        mismatch = spec_mismatch(self.spec, self.resolved)
        if mismatch:
            raise DamagedRecord(f"spec does not match the resolved configuration: {mismatch}")


def spec_mismatch(spec: RunSpec, resolved: Mapping[str, Any]) -> str:
    """Where an as-written spec disagrees with a resolved configuration ("" when it agrees)."""
    for setting in RUN_SETTINGS:
        if resolved.get(setting) != getattr(spec, setting):
            return setting
    for field_name, component in spec.components().items():
        entry = resolved.get(field_name)
        if not isinstance(entry, Mapping) or entry.get("name") != component.name:
            return f"{field_name}.name"
        params = entry.get("params")
        written = component.canonical()["params"]
        if not isinstance(params, Mapping):
            return f"{field_name}.params"
        for key, value in written.items():
            # == rather than text: a spec written through the Python API may say 1 for 1.0
            if key not in params or params[key] != value:
                return f"{field_name}.{key}"
    missing = [k for k in COMPONENT_KINDS if k not in resolved]
    return f"{missing[0]} missing" if missing else ""


def parse_published(data: Any) -> dict[str, Any]:
    """A record of a published leaderboard's ``raw/runs.json``, checked; the JSON data itself.

    Published records keep the format they were published with: a current one is checked like a
    manifest record (hashes included); a format 1 record (no resolved configuration) must still
    have a run id, a done status and a spec that parses. :class:`DamagedRecord` otherwise.
    """
    if not isinstance(data, Mapping):
        raise DamagedRecord(f"a published record is a JSON {type(data).__name__}")
    if data.get("format") == RECORD_FORMAT:
        RunRecord.from_json(data)
    else:
        if not is_run_id(data.get("run_id")):
            raise DamagedRecord(f"published run_id {str(data.get('run_id'))[:40]!r} is invalid")
        try:
            RunSpec.from_record(_require(data, "spec", Mapping))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DamagedRecord(f"published run {data['run_id']}: malformed spec ({exc})") from None
    if data.get("status") != "done":
        raise DamagedRecord(f"published run {data['run_id']} is not done")
    return dict(data)
