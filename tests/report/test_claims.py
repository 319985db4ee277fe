"""``claims.toml`` → ``REPRODUCTION.md``: verdicts from published raw runs, checked like leaderboards."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from report_helpers import write_run

from zobench.bench.store import Store
from zobench.cli import cli
from zobench.errors import ZobenchError
from zobench.report import claims, publish

SEEDS = range(8)


def _publish(root: Path) -> Path:
    """One leaderboard 'board': strong (≈0.84), twin (≈0.835), weak (≈0.65); 8 paired seeds."""
    store = Store(root / "store", create=True)
    for seed in SEEDS:
        # update_s: weak's own work costs 0.7 ms per iteration, strong's and twin's 0.9
        write_run(store, label="strong", seed=seed, target=9.0, update_per_iteration=9e-4)
        write_run(store, label="twin", seed=seed, target=8.95, update_per_iteration=9e-4)
        write_run(store, label="weak", seed=seed, target=7.0, update_per_iteration=7e-4)
        write_run(store, label="weak", seed=seed, target=2.0, environment="chain")
    target = root / "leaderboards"
    publish.publish(root / "store", target, name="board")
    return target


@pytest.fixture(scope="module")
def published_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _publish(tmp_path_factory.mktemp("claims"))


@pytest.fixture
def board(published_once: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(published_once, tmp_path / "leaderboards"))


CLAIMS = """\
title = "Reproduction of a synthetic paper"
preamble = "Synthetic runs."

[[claim]]
id = "S1"
claim = "Strong beats weak and reaches 0.8."
leaderboard = "board"
where = { environment = "gridworld" }
discussion = "Nothing to add."
[[claim.check]]
test = "better"
entry = "strong"
than = "weak"
[[claim.check]]
test = "at-least"
entry = "strong"
threshold = 0.8

[[claim]]
id = "S2"
claim = "Weak beats strong; twin matches strong."
leaderboard = "board"
where = { environment = "gridworld" }
discussion = "Weak is weak."
[[claim.check]]
test = "better"
entry = "weak"
than = "strong"
[[claim.check]]
test = "similar"
entry = "twin"
than = "strong"
tolerance = 0.05

[[claim]]
id = "S3"
claim = "Weak reaches 0.8 and is cheaper than strong."
leaderboard = "board"
where = { environment = "gridworld" }
[[claim.check]]
test = "at-least"
entry = "weak"
threshold = 0.8
[[claim.check]]
test = "cheaper"
entry = "weak"
than = "strong"
"""


def _write_claims(folder: Path, text: str = CLAIMS) -> None:
    (folder / claims.CLAIMS).write_text(text, encoding="utf-8")


@pytest.mark.slow
def test_verdicts_follow_the_checks(board: Path) -> None:
    _write_claims(board)
    _, results = claims.evaluate(board)
    outcomes = {r.claim.id: [o.holds for o in r.outcomes] for r in results}
    # strong beats weak on all 8 paired seeds; its IQM ≈ 0.84 ≥ 0.8
    assert outcomes["S1"] == [True, True]
    # weak loses on every seed; twin's IQM is within 0.005 of strong's
    assert outcomes["S2"] == [False, True]
    # weak's IQM ≈ 0.65 < 0.8; equal wall times tie on every seed: P = ½ exactly, unclear
    assert outcomes["S3"] == [False, None]
    assert [r.verdict for r in results] == ["reproduced", "partly", "not reproduced"]


def test_cheaper_compares_the_chosen_cost_per_iteration(board: Path) -> None:
    # weak's update costs 0.7 ms/it against strong's 0.9; their wall times tie on every seed
    text = (
        CLAIMS.split("[[claim]]")[0]
        + """
[[claim]]
id = "C1"
claim = "Weak's update is cheaper than strong's, and so is its wall time."
leaderboard = "board"
where = { environment = "gridworld" }
[[claim.check]]
test = "cheaper"
entry = "weak"
than = "strong"
quantity = "update"
[[claim.check]]
test = "cheaper"
entry = "weak"
than = "strong"
quantity = "wall"
"""
    )
    _write_claims(board, text)
    _, [result] = claims.evaluate(board)
    assert [o.holds for o in result.outcomes] == [True, None]
    assert result.outcomes[0].text.startswith("(update) ")
    _write_claims(board, text.replace('quantity = "wall"', 'quantity = "auc"'))
    with pytest.raises(ZobenchError, match="cost per iteration: quantity must be one of"):
        claims.evaluate(board)


def test_report_is_written_indexed_and_checked(board: Path) -> None:
    _write_claims(board)
    path, _ = claims.write(board)
    text = path.read_text(encoding="utf-8")
    assert "Of 3 claims: **1 reproduced**, **1 partly**, **1 not reproduced**" in text
    assert "[board](board/leaderboard.md) (environment = gridworld)" in text
    assert "P(strong beats weak) = 1.00 [1.00, 1.00]: **holds**" in text
    assert "### S2: partly" in text
    assert "Weak is weak." in text
    assert "### S3" not in text  # no discussion given
    assert claims.check(board) == []
    # The index links the report once claims.toml exists (and is itself checked).
    assert "(REPRODUCTION.md)" not in (board / publish.INDEX).read_text(encoding="utf-8")
    assert [m.path.name for m in publish.check(board)] == [publish.INDEX]
    (board / publish.INDEX).write_text(publish.index(board), encoding="utf-8")
    assert publish.check(board) == []
    # A hand edit of a number is caught.
    path.write_text(text.replace("= 1.00 [1.00, 1.00]", "= 0.99 [1.00, 1.00]"), encoding="utf-8")
    [mismatch] = claims.check(board)
    assert mismatch.path == path
    assert "0.99" in mismatch.found


def test_leaderboard_check_covers_the_report(board: Path) -> None:
    _write_claims(board)
    runner = CliRunner()
    result = runner.invoke(cli, ["claims", str(board)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "S2" in result.output
    assert "partly" in result.output
    (board / publish.INDEX).write_text(publish.index(board), encoding="utf-8")
    result = runner.invoke(cli, ["leaderboard", "--check", str(board)])
    assert result.exit_code == 0, result.output
    report = board / claims.REPRODUCTION
    report.write_text(report.read_text(encoding="utf-8") + "edited\n", encoding="utf-8")
    result = runner.invoke(cli, ["leaderboard", "--check", str(board)])
    assert result.exit_code == 1
    assert "REPRODUCTION.md: line" in result.output


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('leaderboard = "board"', 'leaderboard = "bord"'), "no published leaderboard 'bord'"),
        (('than = "weak"', 'than = "weakk"'), "no entry 'weakk' in board"),
        (("environment = ", "enviroment = "), "'enviroment' is not a group column"),
        (('than = "weak"\n', ""), "claim[0].check[0]: test 'better' compares two entries"),
        (("threshold = 0.8\n", 'threshold = "high"\n'), "claim[0].check[1].threshold"),
        (('test = "better"', 'test = "beter"'), "claim[0].check[0].test"),
        (('id = "S2"', 'id = "S1"'), "claim id 'S1' is used twice"),
    ],
)
def test_mistakes_are_one_clear_line(board: Path, edit: tuple[str, str], message: str) -> None:
    _write_claims(board, CLAIMS.replace(*edit, 1))
    with pytest.raises(ZobenchError) as info:
        claims.evaluate(board)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    result = CliRunner().invoke(cli, ["claims", str(board)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert message in result.output
    assert not (board / claims.REPRODUCTION).exists()  # nothing half-written


def test_an_entry_in_several_groups_needs_where(board: Path) -> None:
    _write_claims(board, CLAIMS.replace('where = { environment = "gridworld" }\n', "", 1))
    with pytest.raises(ZobenchError, match=r"'weak' is in 2 groups of board; .* environment"):
        claims.evaluate(board)


def test_missing_claims_file_is_an_error_for_claims_but_not_for_check(board: Path) -> None:
    assert claims.check(board) == []
    result = CliRunner().invoke(cli, ["claims", str(board)])
    assert result.exit_code == 2
    assert "claims.toml: cannot read" in result.output


@pytest.mark.slow
def test_republishing_a_leaderboard_keeps_the_report_in_step(board: Path, tmp_path: Path) -> None:
    _write_claims(board)
    claims.write(board)
    # A new store under the same leaderboard name: strong no longer beats weak.
    store = Store(tmp_path / "new", create=True)
    for seed in SEEDS:
        for label in ("strong", "twin", "weak"):
            write_run(store, label=label, seed=seed, target=7.0)
    result = CliRunner().invoke(
        cli, ["leaderboard", str(tmp_path / "new"), "--out", str(board), "--name", "board"]
    )
    assert result.exit_code == 0, result.output
    assert f"updated {board / claims.REPRODUCTION}" in result.output
    assert CliRunner().invoke(cli, ["leaderboard", "--check", str(board)]).exit_code == 0
    [s1] = [r for r in claims.evaluate(board)[1] if r.claim.id == "S1"]
    assert s1.outcomes[0].holds is None  # identical runs tie on every seed
    again = CliRunner().invoke(
        cli, ["leaderboard", str(tmp_path / "new"), "--out", str(board), "--name", "board"]
    )
    assert f"unchanged: {board / claims.REPRODUCTION}" in again.output  # nothing new to say
    assert "updated" not in again.output


def test_republishing_warns_when_the_claims_cannot_be_decided(board: Path, tmp_path: Path) -> None:
    _write_claims(board, CLAIMS.replace('leaderboard = "board"', 'leaderboard = "other"', 1))
    store = Store(tmp_path / "new", create=True)
    write_run(store, label="strong", seed=0, target=9.0)
    result = CliRunner().invoke(
        cli, ["leaderboard", str(tmp_path / "new"), "--out", str(board), "--name", "board"]
    )
    assert result.exit_code == 0
    assert "warning:" in result.output
    assert "no published leaderboard 'other'" in result.output
    assert not (board / claims.REPRODUCTION).exists()


def test_learning_speed_over_votes_and_over_iterations_differ(tmp_path: Path) -> None:
    # thrifty: 10 votes per iteration, ends at 0.65; strong: 100 per iteration, ends at 0.78
    store = Store(tmp_path / "store", create=True)
    for seed in SEEDS:
        write_run(store, label="strong", seed=seed, target=9.0)
        write_run(store, label="thrifty", seed=seed, target=7.0, queries_per_iteration=10)
    folder = tmp_path / "leaderboards"
    publish.publish(tmp_path / "store", folder, name="board")
    check = """
[[claim]]
id = "Q1"
claim = "Thrifty learns faster."
leaderboard = "board"
[[claim.check]]
test = "better"
entry = "thrifty"
than = "strong"
quantity = "{quantity}"
"""
    verdicts = {}
    for quantity in ("final", "auc", "auc-iterations"):
        _write_claims(folder, CLAIMS.split("[[claim]]")[0] + check.format(quantity=quantity))
        _, [result] = claims.evaluate(folder)
        verdicts[quantity] = result.outcomes[0].holds
    # per vote, thrifty's early plateau wins; per iteration and at the end, strong's higher curve
    assert verdicts == {"final": False, "auc": True, "auc-iterations": False}


@pytest.mark.parametrize("width", [60, 80, 120])
def test_claims_table_keeps_ids_verdicts_and_counts_whole(board: Path, width: int) -> None:
    _write_claims(board, CLAIMS)
    result = CliRunner(env={"COLUMNS": str(width)}).invoke(cli, ["claims", str(board)])
    assert result.exit_code == 0, result.output
    _, results = claims.evaluate(board)
    lines = [line.split() for line in result.stdout.splitlines()]
    for outcome in results:
        marks = [o.holds for o in outcome.outcomes]
        counts = f"{marks.count(True)}/{marks.count(False)}/{marks.count(None)}"
        words = [outcome.claim.id, *outcome.verdict.split(), counts]
        # the id, the verdict and the counts side by side on the claim's first line
        assert any(line[: len(words)] == words for line in lines), (words, result.stdout)
