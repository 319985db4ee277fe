"""The ranking ``zobench run`` prints at its end is the one ``zobench report`` gives.

Both print :mod:`zobench.report.summary` tables; these tests read the terminal output and check
it against the leaderboard markdown (rendered by other code from the same ranking), and run a
suite of two groups end to end to check that ``run`` and ``report`` agree line for line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from report_helpers import write_run

from zobench.bench.store import Store
from zobench.cli import cli
from zobench.report import analysis, leaderboard, summary

WIDE = {"COLUMNS": "250"}
CI = r"-?\d+\.\d+ \[-?\d+\.\d+, -?\d+\.\d+\]"
ROW = re.compile(rf"^\s*(\d+)\s+(\S.*?)\s+({CI})\s+(\d+)\s")


def terminal_rankings(output: str) -> dict[str, list[tuple[str, str, str, str]]]:
    """Title → (rank, entry, ranked IQM [CI], seeds) of each ranked table in CLI output."""
    tables: dict[str, list[tuple[str, str, str, str]]] = {}
    title = None
    for line in output.splitlines():
        if " — " in line and "ranked by" in line:
            title = line.strip()
            tables[title] = []
        elif title is not None and (match := ROW.match(line)):
            tables[title].append(match.groups())  # type: ignore[arg-type]
    return tables


def markdown_rankings(text: str) -> list[list[tuple[str, str, str, str]]]:
    """The learners' tables of a leaderboard markdown: (rank, entry, headline CI, seeds)."""
    tables, current = [], None
    for line in text.splitlines():
        if line.startswith("Preference learners, ranked by"):
            current = []
            tables.append(current)
        elif current is not None and re.match(r"^\| \d+ \|", line):
            cells = [c.strip() for c in line.strip("|").split("|")]
            header_seeds = -2  # … | seeds | P(beats next) |
            current.append((cells[0], cells[1], cells[2], cells[header_seeds]))
        elif current is not None and line.startswith("Scores at equal"):
            current = None
    return tables


def test_the_summary_ranks_as_the_leaderboard_per_group(synthetic_store: Path) -> None:
    run_set = analysis.from_store(synthetic_store)
    board = leaderboard.build(run_set, name="synthetic")
    ranked = summary.run_summary(synthetic_store, [r["run_id"] for r in run_set.records])
    assert [g.title for g in ranked] == [s.title for s in board.sections]
    assert len(ranked) == 2  # chain and gridworld: never ranked together
    expected = markdown_rankings(leaderboard.markdown(board))
    for group, table in zip(ranked, expected, strict=True):
        learners = summary.tables(group)[0]
        assert [tuple(row[:3]) for row in learners.rows] == [row[:3] for row in table]
        assert [row[learners.columns.index("seeds")] for row in learners.rows] == [
            row[3] for row in table
        ]


def test_a_summary_of_some_runs_leaves_the_others_out(synthetic_store: Path) -> None:
    run_set = analysis.from_store(synthetic_store)
    chain = [r["run_id"] for r in run_set.records if r["spec"]["environment"]["name"] == "chain"]
    ranked = summary.run_summary(synthetic_store, chain)
    assert [g.task["environment"] for g in ranked] == ["chain"]


SUITE = """
name = "two-groups"
seeds = 3
iterations = 4
eval_every = 2
eval_episodes = 16
[environment]
name = "gridworld"
horizon = 6
goal = [2, 2]
grid.size = [3, 4]
[preference]
name = "bradley-terry"
[[algorithm]]
name = "zpg"
pairs = 4
[[algorithm]]
name = "zbcpg"
pairs = 4
[[algorithm]]
name = "uniform"
"""


@pytest.mark.slow
@pytest.mark.usefixtures("clean_plugin_env")
def test_run_and_report_print_the_same_ranking(tmp_path: Path) -> None:
    suite = tmp_path / "two-groups.toml"
    suite.write_text(SUITE, encoding="utf-8")
    out = tmp_path / "out"
    runner = CliRunner(env=WIDE)
    ran = runner.invoke(cli, ["run", str(suite), "--out", str(out), "--executor", "serial"])
    assert ran.exit_code == 0, ran.output
    reported = runner.invoke(cli, ["report", str(out)])
    assert reported.exit_code == 0, reported.output
    from_run, from_report = terminal_rankings(ran.stdout), terminal_rankings(reported.stdout)
    assert len(from_run) == 2  # one table per gridworld size, never one ranking of both
    assert all(len(rows) == 2 for rows in from_run.values())  # zpg and zbcpg ranked
    assert from_run == from_report
    markdown = markdown_rankings((out / "report" / "leaderboard.md").read_text(encoding="utf-8"))
    assert list(from_run.values()) == markdown


@pytest.mark.slow
def test_a_store_of_references_only_is_ranked_and_reported(tmp_path: Path) -> None:
    """Entries that spend no budget at all (no votes, no rewards) are references: the group
    has no learner to rank on any axis, and neither the summary nor the report may fail."""
    store = Store(tmp_path / "store", create=True)
    ids = [
        write_run(store, label="still", seed=seed, target=1.0, queries_per_iteration=0)
        for seed in range(2)
    ]
    [group] = summary.run_summary(tmp_path / "store", ids)
    assert group.learners.entries == group.readers.entries == []
    assert [e.entry for e in group.references] == ["still"]
    result = CliRunner(env=WIDE).invoke(cli, ["report", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    assert "references (they spend no budget)" in result.stdout
