"""Typed records: a manifest record round-trips through JSON, and anything malformed is damaged."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from zobench.bench.identity import identify
from zobench.bench.records import (
    DamagedRecord,
    FrameDigest,
    RunRecord,
    RunResult,
    Timings,
    parse_published,
)
from zobench.bench.spec import RunSpec


@pytest.fixture
def record() -> RunRecord:
    spec = RunSpec.create(algorithm="zpg", algorithm_params={"pairs": 8}, seed=2, label="z")
    ident = identify(spec)
    return RunRecord(
        run_id=ident.run_id,
        status="done",
        spec=spec,
        resolved=ident.resolved,
        config_hash=ident.config_hash,
        fingerprint=ident.fingerprint,
        timings=Timings("2026-01-01T00:00:00", "2026-01-01T00:00:02", 2.0),
        frame=FrameDigest("ab" * 32, 5),
        provenance={"zobench": "0.1.0"},
    )


@pytest.mark.usefixtures("clean_plugin_env")
def test_a_record_round_trips_through_json(record: RunRecord) -> None:
    data = record.to_json()
    assert data["format"] == 2
    assert RunRecord.from_json(copy.deepcopy(data)) == record
    assert data["spec"]["algorithm"]["params"] == {"pairs": 8}  # as written
    assert data["resolved"]["algorithm"]["params"]["pairs"] == 8  # with every default
    assert "step_size" in data["resolved"]["algorithm"]["params"]


@pytest.mark.usefixtures("clean_plugin_env")
@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda d: d.update(format=1), "record format 1"),
        (lambda d: d.update(run_id="../../etc/passwd"), "16 hex"),
        (lambda d: d.update(status="maybe"), "unknown status"),
        (lambda d: d.pop("spec"), "spec"),
        (lambda d: d["spec"].update(seed="2"), "malformed spec"),
        (lambda d: d["spec"].update(algorithm=None), "malformed spec"),
        (lambda d: d.update(frame=None), "frame digest"),
        (lambda d: d.update(frame={"sha256": "x", "rows": 5}), "sha256"),
        (lambda d: d.update(timings=[]), "timings"),
        (lambda d: d["resolved"]["algorithm"]["params"].update(pairs=9), "config_hash"),
        (lambda d: d["fingerprint"].update(kernel={}), "run_id does not match"),
        (lambda d: d["spec"]["algorithm"]["params"].update(pairs=9), "algorithm.pairs"),
        (lambda d: d["spec"].update(iterations=7), "iterations"),
        (lambda d: d.update(error=3), "text"),
    ],
)
def test_a_malformed_record_is_damaged_with_the_reason(
    record: RunRecord, edit: Callable[[dict[str, Any]], object], reason: str
) -> None:
    data = record.to_json()
    edit(data)
    with pytest.raises(DamagedRecord, match=reason):
        RunRecord.from_json(data)


def test_a_result_may_come_back_as_a_mapping() -> None:
    result = RunResult.of(
        {
            "run_id": "0123456789abcdef",
            "status": "failed",
            "frame": None,
            "error": "TimeoutError: timed out after 2 s",
            "traceback": None,
            "started_at": "a",
            "finished_at": "b",
            "wall_s": 2.0,
            "worker": {"host": "h"},
        }
    )
    assert result.timings == Timings("a", "b", 2.0)
    assert RunResult.of(result) is result


def test_older_published_records_are_checked_for_shape_only() -> None:
    legacy = {
        "format": 1,
        "run_id": "0123456789abcdef",
        "status": "done",
        "spec": RunSpec.create(algorithm="zpg").to_record(),
    }
    assert parse_published(legacy) == legacy
    for bad in ([], {**legacy, "run_id": "../x"}, {**legacy, "status": "failed"}):
        with pytest.raises(DamagedRecord):
            parse_published(bad)
