"""``zobench report``, ``leaderboard`` and ``compare`` on the command line, and the compare logic."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from report_helpers import write_run
from rich.console import Console

from zobench.bench.store import Store
from zobench.cli import cli, display
from zobench.cli.display import phases
from zobench.report import analysis
from zobench.report.compare import compare


def _invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], env={"COLUMNS": "200"})


def _new_plugin_store(root: Path) -> Path:
    """A store holding only a new algorithm's runs, with the synthetic suite's settings."""
    store = Store(root, create=True)
    for seed in range(4):
        write_run(store, label="delta", seed=seed, target=8.0, distribution=("new-plugin", "1.0"))
    return root


def test_compare_uses_published_baseline_runs(published_once: Path, tmp_path: Path) -> None:
    new = _new_plugin_store(tmp_path / "mine")
    folder = published_once / "synthetic"
    groups, missing = compare(
        [("mine", analysis.read_any(new)), ("published", analysis.read_any(folder))], "alpha"
    )
    assert [g.task["environment"] for g in groups] == ["chain", "gridworld"]
    assert missing == []
    gridworld = groups[1]
    assert gridworld.baseline_source == "published"
    delta = next(r for r in gridworld.rows if r.entry.entry == "delta")
    assert delta.source == "mine"
    # delta (target 8) loses to alpha (target 9) in every pair of runs (unpaired, as rliable)
    assert not delta.paired
    assert delta.p_improvement == 0.0
    assert delta.p_improvement == 0.0
    assert delta.entry.summary.runs == 4
    gamma = next(r for r in gridworld.rows if r.entry.entry == "gamma")
    assert gamma.source == "published"


def test_compare_takes_the_new_copy_of_a_run_present_twice(
    synthetic_store: Path, published_once: Path
) -> None:
    both = [
        ("new", analysis.read_any(synthetic_store)),
        ("old", analysis.read_any(published_once)),  # a folder of published leaderboards
    ]
    groups, _ = compare(both, "gamma")
    for group in groups:
        assert group.baseline_source == "new"
        assert {row.source for row in group.rows} == {"new"}
        assert all(row.entry.summary.runs in (3, 4) for row in group.rows)  # not doubled


def test_compare_cli_prints_each_group(published_once: Path, tmp_path: Path) -> None:
    new = _new_plugin_store(tmp_path / "mine")
    result = _invoke("compare", new, published_once / "synthetic", "--baseline", "gamma")
    assert result.exit_code == 0, result.output
    assert "against gamma" in result.output
    assert re.search(r"delta .*1\.00", result.output)
    assert "(paired)" not in result.output


@pytest.mark.slow
def test_report_cli_writes_markdown_and_prints_tables(synthetic_store: Path, tmp_path: Path):
    store = Path(shutil.copytree(synthetic_store, tmp_path / "store"))
    result = _invoke("report", store)
    assert result.exit_code == 0, result.output
    assert "beta (trajectories=20)" in result.output
    assert (store / "report" / "leaderboard.md").is_file()


@pytest.mark.slow
def test_leaderboard_cli_publishes_and_checks(synthetic_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "boards"
    result = _invoke("leaderboard", synthetic_store, "--out", target, "--name", "syn")
    assert result.exit_code == 0, result.output
    assert (target / "syn" / "leaderboard.md").is_file()
    assert _invoke("leaderboard", "--check", target).exit_code == 0
    markdown = target / "syn" / "leaderboard.md"
    markdown.write_text(markdown.read_text().replace("| 4 | gamma |", "| 4 | gamma! |"))
    result = _invoke("leaderboard", "--check", target)
    assert result.exit_code == 1
    # one line per file that differs (and, on a slow machine, the line of a slow phase)
    problems = [li for li in result.output.splitlines() if not li.startswith("leaderboard: ")]
    assert len(problems) == 1
    assert "line" in result.output
    assert "gamma!" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("report", "{tmp}/missing"), "no such folder"),
        (("report", "{tmp}"), "not a zobench results folder"),
        (("report", "{empty}"), "no finished runs"),
        (("compare", "{store}", "--baseline", "alpah"), "did you mean 'alpha'"),
        (("compare", "{store}", "{tmp}", "--baseline", "alpha"), "neither a results store"),
        (("leaderboard", "--check", "{tmp}"), "no published leaderboard"),
        (("leaderboard", "{store}", "--out", "{tmp}/b", "--name", "../x"), "leaderboard name"),
        (("report", "{store}", "--last", "0"), "Invalid value"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: tuple[str, ...], message: str, synthetic_store: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    Store(empty, create=True)
    fill = {"tmp": tmp_path, "store": synthetic_store, "empty": empty}
    result = _invoke(*(a.format(**fill) for a in args))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_compare_headers_show_only_settings_that_apply_and_skips_in_one_line(
    tmp_path: Path,
) -> None:
    """Four chain groups (a setting only chain has, swept) without the baseline; gridworld has
    it. The gridworld header must not name chain's setting, and the skipped groups are one line."""
    store = Store(tmp_path / "store", create=True)
    for seed in range(2):
        write_run(store, label="alpha", seed=seed, target=9.0)
        write_run(store, label="beta", seed=seed, target=6.0)
        for length in (3, 4, 5, 6):
            write_run(
                store,
                label="beta",
                seed=seed,
                target=2.0,
                environment="chain",
                environment_params={"length": length},
            )
    result = _invoke("compare", tmp_path / "store", "--baseline", "alpha")
    assert result.exit_code == 0, result.output
    assert "None" not in result.output
    header = next(line for line in result.output.splitlines() if "against alpha" in line)
    assert "length" not in header
    skipped = [line for line in result.output.splitlines() if "skipped" in line]
    assert skipped == ["skipped 4 groups without alpha runs, from 1 suite: synthetic"]


@pytest.mark.slow
def test_report_shows_its_phases_on_stderr_one_line_each(
    synthetic_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(display, "SLOW_PHASE_S", 0.0)  # every phase, however quick
    store = Path(shutil.copytree(synthetic_store, tmp_path / "store"))
    result = _invoke("report", store)
    assert result.exit_code == 0, result.output
    phases = [line.rsplit(" ", 2)[0] for line in result.stderr.splitlines()]
    plots = len(list((store / "report" / "plots").glob("*.png")))
    assert phases == [
        "report: loading runs",
        "report: statistics",
        f"report: plots ({plots})",
        "report: writing",
    ]
    assert all(line.endswith(" s") for line in result.stderr.splitlines())
    assert "report: loading" not in result.stdout  # the tables on stdout stay clean


def test_phases_on_a_terminal_count_and_never_show_zero_of_zero() -> None:
    terminal = Console(file=io.StringIO(), force_terminal=True, width=100)
    with phases("report", terminal) as steps:
        with steps("loading runs"):
            pass
        with steps("plots", 3) as advance:
            for _ in range(3):
                advance()
    shown = terminal.file.getvalue()
    assert "report: plots" in shown
    assert "3/3" in shown
    assert "0/0" not in shown
