"""The scheduler: resume without recomputing, failures recorded while the rest completes."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pytest
from rich.console import Console

import zobench
from zobench import progress
from zobench.bench import display, scheduler
from zobench.bench.store import Store
from zobench.bench.suite import parse_suite
from zobench.errors import ConfigError
from zobench.plugins import reset_host

FIXTURE_PLUGINS = Path(__file__).resolve().parents[1] / "fixtures" / "runs_plugins"

TINY = """
name = "tiny"
seeds = 2
iterations = 4
eval_every = 2
eval_episodes = 16

[environment]
name = "gridworld"
size = 3
goal = [2, 2]
horizon = 6

[preference]
name = "bradley-terry"

[[algorithm]]
name = "zpg"
pairs = 4
[algorithm.grid]
mu = [0.25, 0.5]
"""

FAILING = """
[[algorithm]]
name = "test-crashing"

[[algorithm]]
name = "test-nan"
label = "diverges"
"""


@pytest.fixture
def failing_plugins(clean_plugin_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture distribution with algorithms that raise and that produce NaN, installed."""
    monkeypatch.syspath_prepend(str(FIXTURE_PLUGINS))
    reset_host()


def _serial() -> object:
    return scheduler.make_executor("serial")


def _stats(store: Store) -> dict[str, tuple[int, int]]:
    """Inode and modification time of every stored file: unchanged means not rewritten."""
    files = [*store.runs_dir.iterdir(), *store.manifest_dir.iterdir()]
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files}


@pytest.mark.usefixtures("clean_plugin_env")
def test_resume_skips_done_runs_and_fresh_recomputes_them(tmp_path: Path) -> None:
    suite = parse_suite(TINY)
    first = scheduler.schedule(suite, tmp_path, executor=_serial())
    assert len(first.done) == 4
    assert not first.failed
    assert not first.skipped
    store = Store(tmp_path)
    before = _stats(store)
    table = first.frame()

    again = scheduler.schedule(suite, tmp_path, executor=_serial())
    assert again.done == []
    assert sorted(again.skipped) == sorted(first.done)
    assert _stats(store) == before  # nothing was rewritten
    assert again.frame().equals(table)

    fresh = scheduler.schedule(suite, tmp_path, executor=_serial(), fresh=True)
    assert sorted(fresh.done) == sorted(first.done)
    assert all(_stats(store)[name] != stat for name, stat in before.items())
    assert (
        fresh.frame()
        .drop("wall_s", "update_s", strict=False)
        .equals(table.drop("wall_s", "update_s", strict=False))
    )


@pytest.mark.usefixtures("failing_plugins")
def test_failing_runs_are_recorded_while_the_others_complete(tmp_path: Path) -> None:
    suite = parse_suite(TINY + FAILING)
    outcome = scheduler.schedule(suite, tmp_path, executor=_serial())
    assert len(outcome.done) == 4
    assert len(outcome.failed) == 4
    store = Store(tmp_path)
    by_label: dict[str, list[dict]] = {}
    for record in store.records():
        by_label.setdefault(record["spec"]["label"], []).append(record)
    for record in by_label["test-crashing"]:
        assert record["status"] == "failed"
        assert "deliberate failure in test-crashing" in record["error"]
        assert "Traceback" in record["traceback"]
        assert "deliberate failure" in record["traceback"]
        assert not store.frame_path(record["run_id"]).exists()
    for record in by_label["diverges"]:
        assert record["status"] == "failed"
        assert "nan" in record["error"].lower()
    for record in by_label["zpg"]:
        assert record["status"] == "done"
        assert store.is_done(record["run_id"])

    # A rerun retries the failed runs only; the finished ones are reused.
    rerun = scheduler.schedule(suite, tmp_path, executor=_serial())
    assert sorted(rerun.skipped) == sorted(outcome.done)
    assert sorted(rerun.failed) == sorted(outcome.failed)
    assert set(outcome.frame().get_column("label")) == {"zpg"}


@pytest.mark.usefixtures("clean_plugin_env")
def test_records_carry_spec_timings_and_provenance(tmp_path: Path) -> None:
    suite = parse_suite(TINY.replace("seeds = 2", "seeds = 1"))
    outcome = scheduler.schedule(suite, tmp_path, executor=_serial())
    record = Store(tmp_path).record(outcome.done[0])
    assert record["spec"]["algorithm"]["name"] == "zpg"
    assert record["spec"]["suite"] == "tiny"
    assert record["timings"]["wall_s"] > 0
    assert record["timings"]["started_at"] <= record["timings"]["finished_at"]
    provenance = record["provenance"]
    assert provenance["zobench"] == zobench.__version__
    assert {"python", "numpy", "platform", "git_commit"} <= set(provenance)
    component = provenance["components"]["algorithm"]
    assert component == {"name": "zpg", "distribution": "zobench", "version": zobench.__version__}


@pytest.mark.usefixtures("clean_plugin_env")
def test_live_per_run_progress_with_the_serial_executor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int, int]] = []
    original = display.BarsDisplay.run_progress

    def spy(self: object, run: scheduler.PlannedRun, done: int, total: int) -> None:
        calls.append((run.run_id, done, total))
        original(self, run, done, total)  # type: ignore[arg-type]

    monkeypatch.setattr(display.BarsDisplay, "run_progress", spy)
    console = Console(file=io.StringIO(), width=120, force_terminal=True)
    suite = parse_suite(TINY.replace("seeds = 2", "seeds = 1"))
    outcome = scheduler.schedule(suite, tmp_path, executor=_serial(), console=console)
    assert {run_id for run_id, _, _ in calls} == set(outcome.done)
    assert all(total == 4 for _, _, total in calls)
    assert "2 done" in console.file.getvalue()
    calls.clear()
    progress.report(1, 4)  # after the suite, a report from anywhere goes nowhere
    assert calls == []


@pytest.mark.usefixtures("clean_plugin_env")
def test_the_worker_is_picklable_and_never_raises_for_a_failing_run() -> None:
    assert pickle.loads(pickle.dumps(scheduler.execute)) is scheduler.execute
    spec = parse_suite(TINY).runs()[0]
    bad = spec.to_record()
    bad["algorithm"] = {"name": "no-such-algorithm", "params": {}}
    result = scheduler.execute({"run_id": "x", "spec": bad})
    assert result.status == "failed"
    assert "no-such-algorithm" in (result.error or "")
    assert result.frame is None


def test_options_an_executor_does_not_take_are_refused() -> None:
    with pytest.raises(ConfigError, match="--jobs does not apply to the serial executor"):
        scheduler.make_executor("serial", jobs=2)
    with pytest.raises(ConfigError, match="jobs must be at least 1"):
        scheduler.make_executor("process", jobs=0)


@pytest.mark.usefixtures("failing_plugins")
def test_python_api_runs_a_suite_and_warns_about_failures(tmp_path: Path) -> None:
    path = tmp_path / "suite.toml"
    path.write_text(TINY + FAILING, encoding="utf-8")
    with pytest.warns(RuntimeWarning, match="2 of 4 runs failed"):
        table = zobench.run_suite(path, tmp_path / "out", seeds=1, executor="serial")
    assert set(table.get_column("label")) == {"zpg"}
    assert table.get_column("seed").unique().to_list() == [0]
    assert table.equals(zobench.load(tmp_path / "out"))
