"""The command line at every terminal width, and for pipes.

Rich wraps output to the terminal (80 columns when piped). These tests read the output as a
person would at 60, 80 and 120 columns: every name and number of the data must appear whole on
one line; machine output (``--json``, ``--toml``) must parse whatever a plugin prints.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from zobench.bench.suite import SuiteSettings, load_suite, parse_suite
from zobench.cli import cli
from zobench.cli.display import format_value, plain
from zobench.config import describe
from zobench.plugins import get_host

WIDTHS = (60, 80, 120)
BUILT_IN_SUITES = sorted(
    p.stem
    for p in (Path(__file__).resolve().parents[1] / "plugins/zobench_plugins/suites").glob("*.toml")
)


def invoke(width: int, *args: str) -> Result:
    result = CliRunner(env={"COLUMNS": str(width)}).invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result


def lines_of(result: Result) -> list[str]:
    return [" ".join(line.split()) for line in result.output.splitlines()]


def assert_whole_on_a_line(result: Result, *words: str) -> None:
    text = lines_of(result)
    for word in words:
        assert any(word in line for line in text), f"{word!r} is split or missing:\n{result.output}"


@pytest.mark.usefixtures("example_installed")
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("long_", [False, True])
def test_list_keeps_every_name_whole_one_line_each(width: int, long_: bool) -> None:
    result = invoke(width, "list", *(["--long"] if long_ else []))
    registrations = get_host().components()
    assert_whole_on_a_line(result, *(r.name for r in registrations))
    if long_:
        assert_whole_on_a_line(result, *(f"{r.distribution} {r.version}" for r in registrations))
    else:  # one line per component, plus a title and a blank line per kind
        kinds = {r.kind for r in registrations}
        assert len(result.output.splitlines()) <= len(registrations) + 3 * len(kinds)


@pytest.mark.usefixtures("clean_plugin_env")
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["zpg", "dzopg", "gridworld", "bradley-terry", "ring"])
def test_info_keeps_every_setting_with_its_default_on_one_line(width: int, name: str) -> None:
    result = invoke(width, "info", name)
    registration = get_host().find(name)
    expected = [
        f"{f.name} {f.type} = {format_value(f.default)}" for f in describe(registration.obj.Config)
    ]
    assert_whole_on_a_line(result, registration.name, *expected)


@pytest.mark.usefixtures("clean_plugin_env")
@pytest.mark.parametrize("width", WIDTHS)
def test_a_suite_printed_by_info_stays_valid_toml(width: int) -> None:
    result = invoke(width, "info", "quickstart")
    toml_text = result.output.split("\n\n", 1)[1]
    assert tomllib.loads(toml_text)["name"] == "quickstart"


@pytest.mark.usefixtures("clean_plugin_env")
@pytest.mark.parametrize("name", BUILT_IN_SUITES)
def test_info_toml_round_trips_into_the_same_suite(name: str) -> None:
    text = invoke(60, "info", name, "--toml").output
    assert parse_suite(text).runs() == load_suite(name).runs()


@pytest.mark.usefixtures("clean_plugin_env")
def test_toml_is_refused_for_a_component_that_is_not_a_suite() -> None:
    result = CliRunner().invoke(cli, ["info", "zpg", "--toml"])
    assert result.exit_code == 2
    assert "--toml applies to suites" in result.output


@pytest.mark.usefixtures("clean_plugin_env")
def test_info_knows_the_suite_level_settings() -> None:
    result = invoke(80, "info", "suite")
    assert_whole_on_a_line(result, *(f.name for f in describe(SuiteSettings)))
    one = invoke(80, "info", "iterations")
    assert_whole_on_a_line(one, f"iterations int = {SuiteSettings().iterations}")
    assert "seeds" not in one.output
    data = json.loads(invoke(80, "info", "suite", "--json").output)
    assert [s["name"] for s in data["settings"]] == [f.name for f in describe(SuiteSettings)]


@pytest.mark.usefixtures("clean_plugin_env")
def test_info_json_describes_every_setting() -> None:
    data = json.loads(invoke(80, "info", "zpg", "--json").output)
    assert data["name"] == "zpg"
    assert data["kind"] == "algorithm"
    names = [f.name for f in describe(get_host().get("algorithm", "zpg").obj.Config)]
    assert [s["name"] for s in data["settings"]] == names


def test_json_stays_clean_when_a_plugin_prints(zobench_distribution, clean_plugin_env) -> None:
    chatty = (
        "import zobench\n"
        "print('hello from a chatty plugin')\n"
        "@zobench.hookimpl\n"
        "def zobench_register_topologies(register):\n"
        "    print('registering!')\n"
    )
    zobench_distribution(
        "zobench-chatty", {"chatty": "zobench_chatty"}, modules={"zobench_chatty.py": chatty}
    )
    result = CliRunner().invoke(cli, ["list", "--json"])
    assert result.exit_code == 0, result.output
    assert {row["kind"] for row in json.loads(result.stdout)}
    assert "hello from a chatty plugin" in result.stderr
    assert "registering!" in result.stderr


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1 / 3, "0.333333"),
        (0.015, "0.015"),
        (1.0, "1.0"),
        (1e-5, "1e-05"),
        (200, "200"),
        (True, "true"),
        (None, "null"),
        ("bound", '"bound"'),
        ((0.5, 2.0), "[0.5, 2.0]"),
    ],
)
def test_values_are_shown_short_and_typed(value: object, text: str) -> None:
    assert format_value(value) == text


def test_docstring_markup_is_removed() -> None:
    assert plain("exact from ``P`` (see :class:`~zobench.api.Environment`)") == (
        "exact from P (see Environment)"
    )


@pytest.mark.parametrize(
    ("word", "choices", "suggestion"),
    [("mew", ["mu", "pairs", "evaluators"], "mu"), ("pairz", ["mu", "pairs"], "pairs")],
)
def test_did_you_mean_reaches_short_misspellings(word, choices, suggestion) -> None:
    from zobench.errors import did_you_mean

    assert did_you_mean(word, choices) == f" (did you mean '{suggestion}'?)"


@pytest.mark.usefixtures("clean_plugin_env")
def test_runs_keeps_ids_seeds_and_states_whole_at_every_width(tmp_path: Path) -> None:
    suite = tmp_path / "tiny.toml"
    suite.write_text(
        'name = "tiny"\nseeds = 2\niterations = 2\neval_every = 1\n'
        '[environment]\nname = "gridworld"\nsize = 3\ngoal = [2, 2]\nhorizon = 4\n'
        '[preference]\nname = "bradley-terry"\n'
        '[[algorithm]]\nname = "zpg"\npairs = 4\n[algorithm.grid]\nmu = [0.5, 1.0]\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert (
        CliRunner()
        .invoke(cli, ["run", str(suite), "--out", str(out), "--executor", "serial"])
        .exit_code
        == 0
    )
    ids = [p.stem for p in (out / "manifest").glob("*.json")]
    assert len(ids) == 4
    for width in WIDTHS:
        result = invoke(width, "runs", str(out))
        for line in (li for li in lines_of(result) if li.split(" ")[0] in ids):
            _, seed, state, wall = line.split(" ")[:4]
            assert seed in ("0", "1"), line
            assert state == "done", line
            assert float(wall) >= 0, line
        assert_whole_on_a_line(result, *ids)
        assert "mu=0.5" in " ".join(lines_of(result)).replace(" ", "")  # the swept setting shows


@pytest.mark.usefixtures("clean_plugin_env")
@pytest.mark.parametrize("width", WIDTHS)
def test_plugins_keeps_names_versions_and_states_whole(width: int) -> None:
    result = invoke(width, "plugins")
    rows = [line.split() for line in lines_of(result)]
    for plugin in get_host().plugins:
        expected = [plugin.name, plugin.distribution, plugin.version, plugin.status]
        assert expected in [row[:4] for row in rows], (expected, result.output)


CHATTY = (
    "import zobench\n"
    "print('hello from a chatty plugin')\n"
    "@zobench.hookimpl\n"
    "def zobench_register_topologies(register):\n"
    "    print('registering!')\n"
)


@pytest.mark.parametrize(
    "command",
    [
        ["list", "--json"],
        ["info", "zpg", "--json"],
        ["info", "suite", "--json"],
        ["plugins", "--json"],
    ],
)
def test_every_json_listing_parses_while_a_plugin_prints(
    command: list[str], zobench_distribution, clean_plugin_env
) -> None:
    module = "zobench_chatty_" + "_".join(c.strip("-") for c in command)  # imported afresh
    zobench_distribution("zobench-chatty", {"chatty": module}, modules={f"{module}.py": CHATTY})
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)
    assert "hello from a chatty plugin" in result.stderr
    assert "registering!" in result.stderr


def test_runs_json_parses_while_a_plugin_prints(
    tmp_path: Path, zobench_distribution, clean_plugin_env
) -> None:
    suite = tmp_path / "tiny.toml"
    suite.write_text(
        'name = "tiny"\nseeds = 1\niterations = 2\neval_every = 1\n'
        '[environment]\nname = "gridworld"\nsize = 3\ngoal = [2, 2]\nhorizon = 4\n'
        '[preference]\nname = "bradley-terry"\n[[algorithm]]\nname = "zpg"\npairs = 4\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    ran = CliRunner().invoke(cli, ["run", str(suite), "--out", str(out), "--executor", "serial"])
    assert ran.exit_code == 0, ran.output
    module = "zobench_chatty_runs"
    zobench_distribution("zobench-chatty", {"chatty": module}, modules={f"{module}.py": CHATTY})
    result = CliRunner().invoke(cli, ["runs", str(out), "--json"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["state"] for r in records] == ["done"]
    assert "hello from a chatty plugin" in result.stderr
