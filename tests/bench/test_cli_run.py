"""``zobench run / validate / runs / export``: exit codes, one-line errors, resuming after SIGKILL."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zobench
from zobench.bench.store import ID_COLUMNS, Store
from zobench.cli import cli
from zobench.plugins import PluginLoadWarning, reset_host

FIXTURE_PLUGINS = Path(__file__).resolve().parents[1] / "fixtures" / "runs_plugins"

SUITE = {
    "name": "cli-tiny",
    "seeds": 2,
    "iterations": 4,
    "eval_every": 2,
    "eval_episodes": 16,
    "environment": {"name": "gridworld", "size": 3, "goal": [2, 2], "horizon": 6},
    "preference": {"name": "bradley-terry"},
    "algorithm": [{"name": "zpg", "pairs": 4, "grid": {"mu": [0.25, 0.5]}}],
}


def toml(value: object) -> str:
    """A small TOML writer: a table of keys as ``key = value`` lines, inline tables below."""
    if isinstance(value, dict):
        items = ", ".join(f"{json.dumps(str(k))} = {toml(v)}" for k, v in value.items())
        return "{ " + items + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return json.dumps(value)


def document(table: dict) -> str:
    return "\n".join(f"{json.dumps(str(k))} = {toml(v)}" for k, v in table.items()) + "\n"


@pytest.fixture
def invoke(clean_plugin_env: None) -> object:
    """Run the CLI in this process (click's CliRunner), returning the result."""

    def run(*args: str) -> object:
        with warnings.catch_warnings():  # other plugins' load failures are not under test
            warnings.simplefilter("ignore", PluginLoadWarning)
            return CliRunner().invoke(cli, list(args), catch_exceptions=True)

    return run


def _error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


def test_validate_prints_the_number_of_runs(invoke: object, tmp_path: Path) -> None:
    path = tmp_path / "suite.toml"
    path.write_text(document(SUITE), encoding="utf-8")
    result = invoke("validate", str(path))
    assert result.exit_code == 0, result.output
    assert "suite 'cli-tiny' is valid: 4 runs (2 configurations × 2 seeds)" in result.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"algorithm": [{"name": "zpgg"}]},
            "algorithm[0].name: no algorithm named 'zpgg' (did you mean 'zpg'?)",
        ),
        (
            {"algorithm": [{"name": "zpg", "grid": {"pairs": [4, 2.5]}}]},
            "algorithm[0].grid.pairs[1]",
        ),
        ({"environment": {"name": "gridworld", "size": "big"}}, "environment.size"),
        ({"seedz": 3}, "seedz: unknown suite setting (did you mean 'seeds'?)"),
    ],
)
def test_validate_errors_are_one_line_with_exit_code_2(
    invoke: object, tmp_path: Path, change: dict, message: str
) -> None:
    path = tmp_path / "suite.toml"
    path.write_text(document({**SUITE, **change}), encoding="utf-8")
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    assert _error_lines(result.output) == [f"Error: {_error_lines(result.output)[0][7:]}"]
    assert message in result.output
    assert "Traceback" not in result.output


scalars = st.one_of(
    st.booleans(),
    st.integers(-3, 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def malformed_suites(draw: st.DrawFn) -> str:
    """A valid suite with a few keys replaced, deleted or added, or its text cut and garbled."""
    suite = json.loads(json.dumps(SUITE))
    for _ in range(draw(st.integers(1, 3))):
        tables = [suite] + [t for t in suite.values() if isinstance(t, dict)]
        tables += [
            t for v in suite.values() if isinstance(v, list) for t in v if isinstance(t, dict)
        ]
        table = draw(st.sampled_from(tables))
        key = draw(st.sampled_from([*table, "name", "grid", "label", "sed", "iterations"]))
        if draw(st.booleans()):
            table.pop(key, None)
        else:
            table[key] = draw(values)
    text = document(suite)
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.text(max_size=4)) + text[cut:]
    return text


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=malformed_suites())
def test_malformed_suites_never_give_a_traceback(invoke: object, tmp_path: Path, text: str) -> None:
    path = tmp_path / "suite.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = invoke("validate", str(path))
    assert result.exit_code in (0, 2), result.output + repr(result.exception)
    if result.exit_code == 2:  # one line per independent mistake, nothing else
        lines = result.output.splitlines()
        assert lines, result.output
        assert all(line.startswith("Error: ") for line in lines), result.output
    assert "Traceback" not in result.output


def test_run_records_failures_exits_1_and_export_writes_the_long_table(
    invoke: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(FIXTURE_PLUGINS))
    reset_host()
    suite = {**SUITE, "algorithm": [*SUITE["algorithm"], {"name": "test-crashing"}]}
    path = tmp_path / "suite.toml"
    path.write_text(document(suite), encoding="utf-8")
    out = tmp_path / "out"
    result = invoke("run", str(path), "--out", str(out), "--executor", "serial")
    assert result.exit_code == 1, result.output
    assert "6 runs: 4 done, 0 already done (skipped), 2 failed" in result.output
    assert "deliberate failure in test-crashing" in result.output
    assert "preference learners, ranked by" in result.output

    status = invoke("runs", str(out))
    assert status.exit_code == 0
    assert "4 done, 2 failed" in status.output

    for fmt in ("csv", "parquet"):
        exported = invoke("export", str(out), "--format", fmt)
        assert exported.exit_code == 0, exported.output
        frame = (
            pl.read_csv(out / "results.csv")
            if fmt == "csv"
            else pl.read_parquet(out / "results.parquet")
        )
        assert frame.columns[: len(ID_COLUMNS)] == list(ID_COLUMNS)
        assert "algorithm.mu" in frame.columns
        assert {"iteration", "score", "score_normalized", "queries"} <= set(frame.columns)
        assert frame.get_column("run_id").n_unique() == 4

    missing = invoke("runs", str(tmp_path / "nothing-here"))
    assert missing.exit_code == 2
    assert "not a zobench results folder" in missing.output


@pytest.mark.parametrize("command", ["run", "validate", "runs", "export"])
def test_every_command_has_an_example_in_its_help(invoke: object, command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert f"zobench {command}" in result.output


def _python_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "zobench", *args]


def _environ() -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ZOBENCH_")}
    environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(FIXTURE_PLUGINS), environ.get("PYTHONPATH")])
    )
    return environ


def _done(store_dir: Path) -> dict[str, dict]:
    if not (store_dir / "manifest").is_dir():
        return {}
    store = Store(store_dir)
    return {r["run_id"]: r for r in store.records() if r["status"] == "done"}


@pytest.mark.slow
@pytest.mark.usefixtures("clean_plugin_env")
def test_sigkill_mid_suite_then_rerun_resumes_without_recomputing(tmp_path: Path) -> None:
    # Runs of about 0.3 s each, so the kill lands while most runs are still to do.
    suite = {**SUITE, "seeds": 4, "iterations": 2000, "eval_every": 500}
    path = tmp_path / "suite.toml"
    path.write_text(document(suite), encoding="utf-8")
    out = tmp_path / "killed"
    args = _python_cli("run", str(path), "--out", str(out), "--jobs", "2")
    process = subprocess.Popen(
        args, env=_environ(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while len(_done(out)) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = _done(out)
    assert 2 <= len(before) < 8, "the suite should be killed in the middle"
    stats = {rid: os.stat(out / "runs" / f"{rid}.parquet") for rid in before}

    rerun = subprocess.run(
        args, env=_environ(), capture_output=True, text=True, timeout=120, check=False
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(before)} already done (skipped)" in rerun.stderr
    after = _done(out)
    assert len(after) == 8
    for run_id, record in before.items():  # finished before the kill: not recomputed
        assert after[run_id]["timings"] == record["timings"]
        stat = os.stat(out / "runs" / f"{run_id}.parquet")
        assert (stat.st_ino, stat.st_mtime_ns) == (stats[run_id].st_ino, stats[run_id].st_mtime_ns)
    assert not list(out.rglob("*.tmp"))

    reference = zobench.run_suite(path, tmp_path / "uninterrupted", executor="serial")
    resumed = zobench.load(out)
    key = ["run_id", "iteration"]
    assert (
        resumed.drop("wall_s", "update_s", strict=False)
        .sort(key)
        .equals(reference.drop("wall_s", "update_s", strict=False).sort(key))
    )


@pytest.mark.slow
@pytest.mark.usefixtures("clean_plugin_env")
@pytest.mark.parametrize("executor", ["process", "serial"])
def test_ctrl_c_stops_cleanly_keeping_finished_runs(tmp_path: Path, executor: str) -> None:
    # A limit far away: the run's alarm and Ctrl-C handling must not get in each other's way.
    suite = {**SUITE, "seeds": 4, "iterations": 2000, "eval_every": 500, "timeout": 600}
    path = tmp_path / "suite.toml"
    path.write_text(document(suite), encoding="utf-8")
    out = tmp_path / "interrupted"
    options = ["--jobs", "2"] if executor == "process" else ["--executor", "serial"]
    args = _python_cli("run", str(path), "--out", str(out), *options)
    # A session of its own, so the signal goes to the CLI and its workers as a terminal's would.
    process = subprocess.Popen(
        args, env=_environ(), stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while not _done(out) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    assert not list(out.rglob("*.tmp"))
    finished = _done(out)
    assert 1 <= len(finished) < 8
    assert all(Store(out).is_done(run_id) for run_id in finished)  # what a rerun skips


def test_address_implies_the_dask_executor(invoke: object, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    path = tmp_path / "suite.toml"
    path.write_text(document({**SUITE, "seeds": 1}), encoding="utf-8")
    refused = invoke("run", str(path), "--executor", "serial", "--address", "tcp://127.0.0.1:1")
    assert refused.exit_code == 2
    assert "--address does not apply to the serial executor" in refused.output
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        result = invoke(
            "run", str(path), "--out", str(tmp_path / "out"), "--address", cluster.scheduler_address
        )
    assert result.exit_code == 0, result.output
    assert "2 runs: 2 done" in result.output


def test_run_with_report_writes_the_report_and_without_it_points_to_the_command(
    invoke: object, tmp_path: Path
) -> None:
    path = tmp_path / "suite.toml"
    path.write_text(document(SUITE))
    out = tmp_path / "out"
    plain = invoke("run", str(path), "--out", str(out), "--executor", "serial")
    assert plain.exit_code == 0, plain.output
    assert f"next: zobench report {out}" in plain.output
    assert not (out / "report").exists()
    reported = invoke("run", str(path), "--out", str(out), "--executor", "serial", "--report")
    assert reported.exit_code == 0, reported.output
    markdown = sorted((out / "report").glob("*.md"))
    assert markdown, "no report markdown written"
    assert "IQM" in markdown[0].read_text()
