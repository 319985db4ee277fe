"""``report`` and ``compare`` at 60, 80 and 120 columns: names and numbers are never split.

The output is read as a person would: every entry name, and every number of the ranked tables
(the IQM with its interval, the seeds), must appear whole on one line, whatever the width.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from zobench.cli import cli
from zobench.report import analysis, leaderboard, summary
from zobench.report.compare import compare

WIDTHS = (60, 80, 120)


def invoke(width: int, *args: object) -> Result:
    result = CliRunner(env={"COLUMNS": str(width)}).invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def assert_whole(result: Result, *texts: str) -> None:
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    for text in texts:
        text = " ".join(text.split())
        assert any(text in line for line in lines), f"{text!r} split or missing:\n{result.stdout}"


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_report_keeps_names_and_numbers_whole(
    width: int, synthetic_store: Path, tmp_path: Path
) -> None:
    store = Path(shutil.copytree(synthetic_store, tmp_path / "store"))
    result = invoke(width, "report", store)
    tables_text = [line for line in result.stdout.splitlines() if not line.startswith("report: ")]
    assert all(len(line) <= width for line in tables_text)  # the path alone may be longer
    board = leaderboard.build(analysis.from_store(store), name="store")
    tables = [table for section in board.sections for table in summary.tables(section)]
    assert len(tables) == 2  # chain and gridworld
    for table in tables:
        for row in table.rows:
            assert_whole(result, *row[: table.required])  # rank, name, the ranked IQM [CI]
        if width < 120:
            continue
        # with room, the seeds and P(beats next) follow on the entry's line
        assert_whole(result, *(" ".join(row[1:5]) for row in table.rows))


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_keeps_names_and_numbers_whole(
    width: int, synthetic_store: Path, published_once: Path
) -> None:
    result = invoke(width, "compare", synthetic_store, published_once, "--baseline", "alpha")
    named = [("a", analysis.read_any(synthetic_store)), ("b", analysis.read_any(published_once))]
    groups, _ = compare(named, "alpha")
    for group in groups:
        places = leaderboard.decimals(group.kind, [group.baseline, *(r.entry for r in group.rows)])
        for row in group.rows:
            s = row.entry.summary
            ci = (
                f"{leaderboard.number(s.iqm, places)} [{leaderboard.number(s.ci_low, places)}, "
                f"{leaderboard.number(s.ci_high, places)}]"
            )
            assert_whole(
                result, row.entry.entry, ci, f"{s.iqm - group.baseline.summary.iqm:+.{places}f}"
            )


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_leaderboard_prints_paths_whole(width: int, synthetic_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "a-rather-long-folder-name-for-the-published-leaderboards"
    result = invoke(width, "leaderboard", synthetic_store, "--out", target, "--name", "syn")
    assert_whole(result, f"published {target / 'syn' / 'leaderboard.md'}")
    checked = invoke(width, "leaderboard", "--check", target)
    assert_whole(checked, f"{target}: published markdown matches its raw runs")
