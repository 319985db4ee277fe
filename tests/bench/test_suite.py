"""Suites: TOML → validated Suite → run specs, and errors that name their TOML path."""

from __future__ import annotations

from pathlib import Path

import pytest

from zobench.bench.identity import identify
from zobench.bench.suite import SuiteError, load_suite, parse_suite

pytestmark = pytest.mark.usefixtures("clean_plugin_env")

EXAMPLE = """
name = "my-comparison"
description = "ZPG grid against itself"
seeds = 2
iterations = 6
eval_every = 3

[environment]
name = "gridworld"
size = 4
goal = [3, 3]

[preference]
name = "bradley-terry"

[[algorithm]]
name = "zpg"
mu = 0.5
[algorithm.grid]
pairs = [4, 8]
trim = ["bound", "constant"]

[[algorithm]]
name = "zpg"
label = "zpg-small-steps"
step_size = 0.01
"""


def test_expansion_is_the_product_of_grids_tables_and_seeds() -> None:
    suite = parse_suite(EXAMPLE)
    runs = suite.runs()
    assert suite.name == "my-comparison"
    assert suite.seeds == [0, 1]
    assert len(runs) == (2 * 2 + 1) * 2
    # Seeds outermost: the first half of the runs is seed 0, every cell once.
    assert [r.seed for r in runs[:5]] == [0] * 5
    grid_params = {(r.algorithm.params["pairs"], r.algorithm.params["trim"]) for r in runs[:4]}
    assert grid_params == {(4, "bound"), (8, "bound"), (4, "constant"), (8, "constant")}
    assert all(r.algorithm.params["mu"] == 0.5 for r in runs[:4])
    assert runs[4].display_label == "zpg-small-steps"
    assert runs[0].display_label == "zpg"
    assert runs[0].environment.params == {"size": 4, "goal": (3, 3)}
    assert all(r.iterations == 6 and r.eval_every == 3 and r.suite == suite.name for r in runs)


def test_topology_defaults_to_the_environments_default() -> None:
    runs = parse_suite(EXAMPLE).runs()
    assert {r.topology.name for r in runs} == {"isolated"}


def test_explicit_seed_list_and_seed_override() -> None:
    suite = parse_suite(EXAMPLE.replace("seeds = 2", "seeds = [3, 7, 11]"))
    assert sorted({r.seed for r in suite.runs()}) == [3, 7, 11]
    assert suite.with_seeds(4).seeds == [0, 1, 2, 3]


def test_values_are_normalized_so_equal_suites_give_equal_run_ids() -> None:
    one = parse_suite(EXAMPLE.replace("mu = 0.5", "mu = 1")).runs()
    other = parse_suite(EXAMPLE.replace("mu = 0.5", "mu = 1.0")).runs()
    assert one[0].algorithm.params["mu"] == 1.0
    assert [identify(r).run_id for r in one] == [identify(r).run_id for r in other]
    assert len({identify(r).run_id for r in one}) == len(one)


def test_labels_and_suite_names_do_not_change_run_ids() -> None:
    relabelled = EXAMPLE.replace('label = "zpg-small-steps"', 'label = "x"').replace(
        "my-comparison", "renamed"
    )
    assert [identify(r).run_id for r in parse_suite(EXAMPLE).runs()] == [
        identify(r).run_id for r in parse_suite(relabelled).runs()
    ]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("seeds = 2", "seed = 2"), "seed: unknown suite setting (did you mean 'seeds'?)"),
        (("seeds = 2", "seeds = 0"), "seeds: must be at least 1"),
        (("seeds = 2", "seeds = [1, 1]"), "seeds: must be distinct"),
        (("seeds = 2", "seeds = 1_000_000_000"), "the suite expands into 5,000,000,000 runs"),
        (("seeds = 2", 'seeds = "2"'), "seeds: expected a number of seeds or a list"),
        (("seeds = 2", "seeds = [1, true]"), "seeds: expected a number of seeds or a list"),
        (("iterations = 6", "iterations = 6.5"), "iterations:"),
        (
            ('name = "gridworld"', 'name = "gridwrld"'),
            "environment.name: no environment named 'gridwrld' (did you mean 'gridworld'?)",
        ),
        (("size = 4", 'size = "big"'), "environment.size:"),
        (("size = 4", "sizes = 4"), "environment.sizes: unknown setting (did you mean 'size'?)"),
        (("goal = [3, 3]", "goal = [9, 9]"), "environment:"),
        (("pairs = [4, 8]", 'pairs = [4, "many"]'), "algorithm[0].grid.pairs[1]:"),
        (('trim = ["bound", "constant"]', 'trim = ["bound", "cut"]'), "algorithm[0].grid.trim[1]:"),
        (("pairs = [4, 8]", "pairs = []"), "algorithm[0].grid.pairs: expected a non-empty list"),
        (("pairs = [4, 8]", "mu = [1.0]"), "algorithm[0].grid.mu: also set outside the grid"),
        (
            ("step_size = 0.01", "step_size = nan"),
            "algorithm[1].step_size: must be a finite number",
        ),
        (('label = "zpg-small-steps"', "label = 3"), "algorithm[1].label: expected a string"),
        (('name = "bradley-terry"', "name = 7"), "preference.name: expected the preference's name"),
        (('name = "bradley-terry"', r'name = "bradley\nterry"'), r"named 'bradley\nterry'"),
        (
            ("[preference]", "[prefrence]"),
            "prefrence: unknown suite setting (did you mean 'preference'?)",
        ),
        (
            ("mu = 0.5", "mu = 0.5\n[[algorithm.grid.bad]]"),
            "algorithm[0].grid.bad: unknown setting",
        ),
        (
            ("pairs = [4, 8]", "pair = [4, 8]"),
            "algorithm[0].grid.pair: unknown setting (did you mean 'pairs'?)",
        ),
        (("iterations = 6", "iterations = 6\nalgorithm = 3"), "invalid TOML"),
        (("eval_every = 3", "eval_every = "), "invalid TOML"),
    ],
)
def test_mistakes_raise_one_line_naming_the_toml_path(edit: tuple[str, str], message: str) -> None:
    text = EXAMPLE.replace(*edit)
    assert text != EXAMPLE
    with pytest.raises(SuiteError) as info:
        parse_suite(text).runs()
    assert message in str(info.value)
    assert "\n" not in str(info.value).strip() or "invalid TOML" in str(info.value)


def test_component_tables_must_be_tables() -> None:
    with pytest.raises(SuiteError, match=r"algorithm: expected a table \[algorithm\]"):
        parse_suite('algorithm = "zpg"\n[environment]\nname="gridworld"\n')
    with pytest.raises(SuiteError, match="algorithm: required table is missing"):
        parse_suite('[environment]\nname = "gridworld"\n[preference]\nname = "bradley-terry"\n')


def test_load_suite_from_file_from_name_and_with_suggestions(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(EXAMPLE, encoding="utf-8")
    assert load_suite(path).name == "my-comparison"
    assert load_suite("quickstart").name == "quickstart"
    with pytest.raises(SuiteError, match="did you mean 'quickstart'"):
        load_suite("quickstrat")
    with pytest.raises(SuiteError, match="no such suite file"):
        load_suite(tmp_path / "missing.toml")
    with pytest.raises(SuiteError, match="is a directory"):
        load_suite(tmp_path)
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(SuiteError, match="cannot read suite file"):
        load_suite(path)


def test_a_folder_named_like_a_built_in_suite_does_not_shadow_it(tmp_path, monkeypatch) -> None:
    """Running from inside results/ must still find the built-in suite, not the results folder."""
    from zobench.bench.suite import SuiteError, load_suite

    monkeypatch.chdir(tmp_path)
    (tmp_path / "quickstart").mkdir()
    assert load_suite("quickstart").name == "quickstart"
    (tmp_path / "not-a-suite").mkdir()
    with pytest.raises(SuiteError, match="is a directory"):
        load_suite("not-a-suite")


FOUR_MISTAKES = """
name = "bad"
iteration = 5
[environment]
name = "gridwrld"
[preference]
name = "bradley-terry"
scale = "big"
[[algorithm]]
name = "zpg"
mew = 2.0
"""


def test_validate_reports_every_independent_mistake_at_once(tmp_path, clean_plugin_env):
    from click.testing import CliRunner

    from zobench.cli import cli

    suite = tmp_path / "bad.toml"
    suite.write_text(FOUR_MISTAKES, encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(suite)])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 4, result.output
    for fragment in ("did you mean 'iterations'", "did you mean 'mu'", "'gridworld'", "scale"):
        assert sum(fragment in e for e in errors) == 1, (fragment, errors)
    assert "Traceback" not in result.output
    run = CliRunner().invoke(cli, ["run", str(suite), "--out", str(tmp_path / "out")])
    assert run.exit_code == 2
    assert [line for line in run.output.splitlines() if line.startswith("Error: ")] == [
        "Error: 4 mistakes: " + "; ".join(e.removeprefix("Error: ") for e in errors)
    ]


@pytest.mark.parametrize("width", [60, 80, 120])
def test_validate_keeps_each_mistake_and_the_verdict_on_one_line(
    width: int, tmp_path: Path, clean_plugin_env: None
) -> None:
    from click.testing import CliRunner

    from zobench.cli import cli

    runner = CliRunner(env={"COLUMNS": str(width)})
    suite = tmp_path / "bad.toml"
    suite.write_text(FOUR_MISTAKES, encoding="utf-8")
    result = runner.invoke(cli, ["validate", str(suite)])
    lines = result.output.splitlines()
    assert len(lines) == 4  # one whole line per mistake, however narrow the terminal
    assert all(line.startswith("Error: ") for line in lines)
    valid = runner.invoke(cli, ["validate", "quickstart"])
    assert valid.output.splitlines() == [
        "suite 'quickstart' is valid: 15 runs (5 configurations × 3 seeds)"
    ]
