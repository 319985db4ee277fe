"""Several suites as one pool: each distinct run computed once, stored in every suite's folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bench_helpers import four_run_suite
from click.testing import CliRunner

from zobench.bench import scheduler
from zobench.bench.store import Store
from zobench.bench.suite import parse_suite
from zobench.cli import cli
from zobench.errors import ConfigError

FIRST = four_run_suite("first")
SECOND = four_run_suite("second", mus=(0.5, 1.0))  # shares mu = 0.5 (2 seeds) with FIRST


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The run ids the scheduler computes in its own process (serial executor), in order."""
    ids: list[str] = []
    original = scheduler._execute_here

    def counting(task: dict[str, Any], host: Any = None) -> Any:
        ids.append(task["run_id"])
        return original(task, host)

    monkeypatch.setattr(scheduler, "_execute_here", counting)
    return ids


def _both(tmp_path: Path) -> list[tuple[Any, Path]]:
    return [(parse_suite(FIRST), tmp_path / "first"), (parse_suite(SECOND), tmp_path / "second")]


def _curve(store: Path, run_id: str) -> Any:
    return Store(store).frame(run_id).drop("wall_s", "update_s", strict=False)


@pytest.mark.usefixtures("clean_plugin_env")
def test_a_run_two_suites_share_is_computed_once_and_stored_in_both(
    tmp_path: Path, computed: list[str]
) -> None:
    first, second = scheduler.schedule_suites(
        _both(tmp_path), executor=scheduler.make_executor("serial")
    )
    shared = set(first.done) & set(second.done)
    assert len(shared) == 2  # mu = 0.5, two seeds
    assert len(computed) == len(set(computed)) == 6  # 4 + 4 runs, 2 of them the same
    for run_id in shared:
        assert _curve(tmp_path / "first", run_id).equals(_curve(tmp_path / "second", run_id))
        # each folder's record names its own suite
        assert Store(tmp_path / "first").read_record(run_id).spec.suite == "first"
        assert Store(tmp_path / "second").read_record(run_id).spec.suite == "second"
    # the same numbers as the second suite scheduled on its own
    alone = scheduler.schedule(
        parse_suite(SECOND), tmp_path / "alone", executor=scheduler.make_executor("serial")
    )
    for run_id in alone.done:
        assert _curve(tmp_path / "alone", run_id).equals(_curve(tmp_path / "second", run_id))


@pytest.mark.usefixtures("clean_plugin_env")
def test_a_run_done_in_one_suites_folder_is_copied_to_the_other(
    tmp_path: Path, computed: list[str]
) -> None:
    serial = scheduler.make_executor("serial")
    before = scheduler.schedule(parse_suite(FIRST), tmp_path / "first", executor=serial)
    computed.clear()
    first, second = scheduler.schedule_suites(_both(tmp_path), executor=serial)
    assert sorted(first.skipped) == sorted(before.done)
    assert len(second.shared) == 2
    assert len(second.done) == 2
    assert sorted(computed) == sorted(second.done)  # only the runs nobody had
    for run_id in second.shared:
        copied = Store(tmp_path / "second").read_record(run_id)
        original = Store(tmp_path / "first").read_record(run_id)
        assert copied.spec.suite == "second"
        assert copied.timings == original.timings  # what computing it cost, once
        assert _curve(tmp_path / "first", run_id).equals(_curve(tmp_path / "second", run_id))
    # and a resumed pair computes nothing
    computed.clear()
    again = scheduler.schedule_suites(_both(tmp_path), executor=serial)
    assert computed == []
    assert all(len(outcome.skipped) == 4 for outcome in again)


@pytest.mark.usefixtures("clean_plugin_env")
def test_a_damaged_shared_run_is_recomputed_once_for_both(
    tmp_path: Path, computed: list[str]
) -> None:
    serial = scheduler.make_executor("serial")
    first = scheduler.schedule(parse_suite(FIRST), tmp_path / "first", executor=serial)
    second = scheduler.schedule(parse_suite(SECOND), tmp_path / "second", executor=serial)
    damaged = sorted(set(first.done) & set(second.done))[0]
    for folder in ("first", "second"):
        Store(tmp_path / folder).frame_path(damaged).write_bytes(b"not parquet")
    computed.clear()
    first, second = scheduler.schedule_suites(_both(tmp_path), executor=serial)
    assert computed == [damaged]
    assert first.repaired == second.repaired == [damaged]
    assert not second.shared  # a damaged copy is never copied
    assert _curve(tmp_path / "first", damaged).equals(_curve(tmp_path / "second", damaged))


@pytest.mark.usefixtures("clean_plugin_env")
def test_two_suites_cannot_share_a_folder(tmp_path: Path) -> None:
    suites = [(parse_suite(FIRST), tmp_path / "x"), (parse_suite(SECOND), tmp_path / "x")]
    with pytest.raises(ConfigError, match="share a results folder"):
        scheduler.schedule_suites(suites, executor=scheduler.make_executor("serial"))


@pytest.mark.usefixtures("clean_plugin_env")
def test_the_cli_runs_several_suites_into_one_folder_each(tmp_path: Path) -> None:
    files = []
    for name, text in (("first", FIRST), ("second", SECOND)):
        files.append(tmp_path / f"{name}.toml")
        files[-1].write_text(text)
    out = tmp_path / "results"
    args = ["run", *map(str, files), "--out", str(out), "--executor", "serial"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert len(Store(out / "first").scan().current()) == 4
    assert len(Store(out / "second").scan().current()) == 4
    assert "first: 4 runs: 4 done" in result.output

    again = CliRunner().invoke(cli, [*args[:2], str(files[0]), *args[3:]])
    assert again.exit_code == 2
    assert again.output.count("Error:") == 1
    assert "named twice" in again.output
    assert "Traceback" not in again.output
