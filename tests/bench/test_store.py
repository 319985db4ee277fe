"""The results store: atomic files, what counts as done, and the long table of load()."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import zobench
from zobench.bench.identity import identify
from zobench.bench.records import RunRecord, Timings, run_id_of
from zobench.bench.spec import RunSpec
from zobench.bench.store import ID_COLUMNS, Store, StoreError, StoreWarning, load, write_atomic


def _curve(seed: int, extra: str | None = None) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "iteration": [0, 5],
            "episodes": [0, 10],
            "env_steps": [0, 150],
            "queries": [0, 50],
            "reward_obs": [0, 0],
            "messages": [0, 0],
            "wall_s": [0.0, 0.1],
            "score": [0.1 * seed, 0.2 * seed],
            "score_normalized": [0.0, 0.5],
        }
    )
    return frame.with_columns(pl.lit(1.5).alias(extra)) if extra else frame


def _record(spec: RunSpec, status: str = "done", error: str | None = None) -> RunRecord:
    identity = identify(spec)
    return RunRecord(
        run_id=identity.run_id,
        status=status,
        spec=spec,
        resolved=identity.resolved,
        config_hash=identity.config_hash,
        fingerprint=identity.fingerprint,
        timings=Timings("2026-01-01T00:00:00", "2026-01-01T00:00:01", 1.0),
        error=error,
    )


def _id(spec: RunSpec) -> str:
    return identify(spec).run_id


def _spec(seed: int, **algorithm_params: object) -> RunSpec:
    return RunSpec.create(
        algorithm="zpg", algorithm_params=algorithm_params, topology="isolated", seed=seed
    )


def test_write_atomic_leaves_nothing_behind_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "result.json"

    def crash(path: Path) -> None:
        path.write_text("half a fi", encoding="utf-8")
        raise KeyboardInterrupt  # Ctrl-C in the middle of a write

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, crash)
    assert list(tmp_path.iterdir()) == []
    write_atomic(target, lambda p: p.write_text("whole", encoding="utf-8"))
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]
    assert target.read_text(encoding="utf-8") == "whole"


def test_a_run_is_done_only_with_both_files_and_status_done(tmp_path: Path) -> None:
    store = Store(tmp_path / "out", create=True)
    done, failed, orphan = _spec(0), _spec(1), _spec(2)
    store.write(_record(done), _curve(0))
    store.write(_record(failed, "failed", "RuntimeError: x"))
    store.write(_record(orphan), _curve(2))
    store.frame_path(_id(orphan)).unlink()  # a manifest whose frame is missing
    assert store.is_done(_id(done))
    assert not store.is_done(_id(failed))
    assert not store.is_done(_id(orphan))
    assert not store.is_done("0" * 16)
    assert json.loads(store.record_path(_id(done)).read_text())["format"] == 2

    store.write(_record(done, "failed", "diverged on a --fresh rerun"))
    assert not store.is_done(_id(done))
    assert not store.frame_path(_id(done)).exists()


def test_stale_temporaries_and_torn_records_are_never_results(tmp_path: Path) -> None:
    store = Store(tmp_path, create=True)
    spec = _spec(0)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    stale = store.runs_dir / f".{_id(spec)}.parquet.{int(gone.stdout)}.abcd.tmp"
    live = store.runs_dir / f".{_id(spec)}.parquet.{os.getpid()}.abcd.tmp"
    for tmp in (stale, live):
        tmp.write_bytes(b"PAR1 torn")
    store.record_path(_id(spec)).write_text('{"run_id": "', encoding="utf-8")
    assert not store.is_done(_id(spec))
    assert list(store.records()) == []
    with pytest.warns(StoreWarning, match=f"1 damaged run.*{_id(spec)}"):
        assert load(tmp_path).is_empty()
    with store.lock():  # the writer's lock removes the temporaries of writers that are gone
        assert not stale.exists()
        assert live.exists()  # this process may still be writing it


def test_load_adds_identifying_and_swept_columns(tmp_path: Path) -> None:
    store = Store(tmp_path, create=True)
    specs = [_spec(seed, pairs=pairs) for seed in (0, 1) for pairs in (4, 8)]
    specs.append(RunSpec.create(algorithm="uniform", topology="isolated", seed=0, label="rand"))
    for spec in specs:
        store.write(_record(spec), _curve(spec.seed, extra="diag_cos" if spec.seed else None))
    store.write(_record(_spec(5, pairs=16), "failed", "boom"))

    frame = zobench.load(tmp_path)
    assert frame.columns[: len(ID_COLUMNS)] == list(ID_COLUMNS)
    assert frame.columns[len(ID_COLUMNS)] == "algorithm.pairs"
    assert frame.columns[-1] == "diag_cos"
    assert frame.height == 2 * len(specs)
    assert frame.get_column("run_id").n_unique() == len(specs)  # the failed run is left out
    assert frame.schema["seed"] == pl.Int64
    assert frame.schema["algorithm.pairs"] == pl.Int64
    rand = frame.filter(pl.col("label") == "rand")
    assert rand.get_column("algorithm").unique().to_list() == ["uniform"]
    assert rand.get_column("algorithm.pairs").null_count() == rand.height
    assert sorted(frame.get_column("algorithm.pairs").drop_nulls().unique()) == [4, 8]

    # Restricted to runs that share every setting, no column is swept.
    same = [_id(s) for s in specs if s.algorithm.params.get("pairs") == 4]
    assert "algorithm.pairs" not in load(tmp_path, run_ids=same).columns


def test_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a zobench results folder"):
        load(tmp_path / "nowhere")


def test_of_two_runs_of_one_configuration_only_the_later_counts(tmp_path: Path) -> None:
    store = Store(tmp_path, create=True)
    current = _record(_spec(0))
    code = {**current.fingerprint, "kernel": {"zobench": "0.0.1", "source": "old"}}
    older = dataclasses.replace(
        current,
        run_id=run_id_of(current.config_hash, code),
        fingerprint=code,
        timings=Timings("2025-01-01T00:00:00", "2025-01-01T00:00:01", 1.0),
    )
    store.write(older, _curve(1))
    store.write(current, _curve(2))
    scan = store.scan()
    assert scan.superseded == {older.run_id: current.run_id}
    assert [r.run_id for r in scan.current()] == [current.run_id]
    frame = load(tmp_path)
    assert frame.get_column("run_id").unique().to_list() == [current.run_id]
    assert frame.get_column("score").to_list() == _curve(2).get_column("score").to_list()


def test_an_unreadable_frame_is_damaged_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path, create=True)
    record = store.write(_record(_spec(0)), _curve(0))
    path = store.frame_path(record.run_id)
    real_open = os.open

    def denied(file: object, *args: object, **kwargs: object) -> int:
        if Path(str(file)) == path:  # what chmod 000 does to anyone but root
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", denied)
    scan = store.scan(frames="hash")
    assert scan.damaged == {record.run_id: f"{path.name} is unreadable (Permission denied)"}
    with pytest.warns(StoreWarning, match=record.run_id):
        assert load(tmp_path).is_empty()
