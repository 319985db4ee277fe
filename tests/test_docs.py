"""The documentation keeps up with the code: every hook has a section, every command an example.

As datasette does for its plugin hooks: adding a hook to ``zobench/hookspecs.py`` without a
section in ``docs/writing-plugins.md`` whose heading names it fails this test, and so does a
command line command whose ``--help`` shows no example of itself.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from zobench import hookspecs
from zobench.cli import cli

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "writing-plugins.md"


def _hooks() -> list[str]:
    """Every hook specification of the zobench project, by function name."""
    return sorted(
        name
        for name, obj in vars(hookspecs).items()
        if callable(obj) and hasattr(obj, f"{hookspecs.PROJECT}_spec")
    )


def _headings() -> list[str]:
    return [
        line.lstrip("#").strip() for line in GUIDE.read_text().splitlines() if line.startswith("#")
    ]


def test_the_hook_list_is_not_empty_and_matches_the_kinds():
    assert _hooks() == sorted(hookspecs.HOOK_KINDS)


@pytest.mark.parametrize("hook", _hooks())
def test_every_hook_has_a_section_in_the_plugin_guide(hook):
    # the heading holds the hook's exact name (in backticks or not), as a whole word
    pattern = re.compile(rf"(?<![\w]){re.escape(hook)}(?![\w])")
    assert any(pattern.search(h) for h in _headings()), (
        f"docs/writing-plugins.md has no section for the hook '{hook}': add a heading "
        f"'## `{hook}`' describing what it registers and the contract"
    )


def _commands(group: click.Group, path: tuple[str, ...] = ("zobench",)):
    """(path, command) of every command and group under ``group``, depth first."""
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


@pytest.mark.parametrize("path", [" ".join(p) for p, _ in [(("zobench",), cli), *_commands(cli)]])
def test_every_command_shows_an_example_in_its_help(path):
    result = CliRunner().invoke(cli, [*path.split()[1:], "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip().lower().startswith("example")]
    assert starts, f"`{path} --help` has no 'Examples:' section"
    examples = lines[starts[0] + 1 :]
    assert any(path in line for line in examples), (
        f"`{path} --help` shows no example that runs `{path}`"
    )


def test_the_guide_describes_the_compare_command_that_exists():
    text = GUIDE.read_text()
    section = text[text.index("## Comparing against published leaderboards") :]
    assert "compare" in cli.commands
    assert "planned" not in section, "the guide still calls `zobench compare` planned"
    assert re.search(r"zobench compare \S+ \S+ --baseline \S+", section), (
        "the guide shows no `zobench compare OUT PUBLISHED --baseline NAME` example"
    )
    command = cli.commands["compare"]
    assert "--baseline" in command.get_help(click.Context(command))


# ---------------------------------------------------------------------------------------------
# Every example of every --help runs
# ---------------------------------------------------------------------------------------------

EXAMPLE_SUITE = """\
name = "my-suite"
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
[[algorithm]]
name = "uniform"
"""

EXAMPLE_CLAIMS = """\
title = "Examples"
preamble = "The examples' sandbox."

[[claim]]
id = "E1"
claim = "ZPG beats the uniform policy."
leaderboard = "zpg-gridworld"
where = { environment = "gridworld" }
discussion = "A tiny suite."
[[claim.check]]
test = "at-least"
entry = "uniform"
threshold = -1.0
"""

PARSED_ONLY = {
    "zobench run": "runs the whole quickstart suite (about a minute on 2 cores)",
    "zobench run quickstart --seeds 10 --address tcp://10.0.0.5:8786": "needs a Dask cluster",
    "zobench run quickstart --report": "runs the whole quickstart suite",
    "zobench run dzopg-scaling dzopg-scaling-normalization --jobs 2": (
        "runs two paper suites, 200 runs of up to 2,000 iterations at 1,024 agents"
    ),
    "zobench tune quickstart --trials 20": "tunes 20 trials per algorithm of quickstart",
    "zobench tune my-suite.toml --seeds 1000,1001,1002 --objective final --jobs 2": (
        "tunes 20 trials per algorithm"
    ),
}
"""Examples too long or needing a network to run in a test: their arguments are parsed (every
option exists and every value has its type), with the reason they do not run."""


def _help_examples() -> list[str]:
    """Every ``zobench ...`` line of every Examples section, comments removed, deduplicated."""
    found: dict[str, None] = {}
    for path, _ in [(("zobench",), cli), *_commands(cli)]:
        output = CliRunner().invoke(cli, [*path[1:], "--help"]).output.splitlines()
        start = next(i for i, line in enumerate(output) if line.strip().startswith("Example"))
        for line in output[start + 1 :]:
            if not line.strip():
                break
            example = line.split("  #")[0].strip()
            words = shlex.split(example)
            first = next((w for w in words if "=" not in w), "")
            if first == "zobench":  # not `cd zobench-my-method && pip install ...`
                found[example] = None
    return list(found)


def _split(example: str) -> tuple[dict[str, str], list[str], str | None, bool]:
    """Environment prefix, arguments after ``zobench``, redirect target and whether it pipes."""
    piped = "|" in example
    command, _, redirect = example.split("|")[0].partition(">")
    words = shlex.split(command)
    env = dict(w.split("=", 1) for w in words[: words.index("zobench")])
    return env, words[words.index("zobench") + 1 :], redirect.strip() or None, piped


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where the examples' paths exist: my-suite.toml, results/quickstart and
    results/mine (stores of a tiny suite), leaderboards/zpg-gridworld and a claims.toml."""
    root = tmp_path_factory.mktemp("examples")
    (root / "my-suite.toml").write_text(EXAMPLE_SUITE, encoding="utf-8")
    runner = CliRunner()
    with contextlib.chdir(root):
        for out in ("results/quickstart", "results/mine"):
            ran = runner.invoke(cli, ["run", "my-suite.toml", "--out", out, "--executor", "serial"])
            assert ran.exit_code == 0, ran.output
        args = ["leaderboard", "results/quickstart", "--out", "leaderboards", "--name"]
        published = runner.invoke(cli, [*args, "zpg-gridworld"])
        assert published.exit_code == 0, published.output
    (root / "leaderboards" / "claims.toml").write_text(EXAMPLE_CLAIMS, encoding="utf-8")
    return root


@pytest.mark.slow
@pytest.mark.usefixtures("clean_plugin_env")
@pytest.mark.parametrize("example", _help_examples())
def test_every_help_example_runs(
    example: str, sandbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, args, redirect, piped = _split(example)
    if example in PARSED_ONLY:
        command: click.Command = cli
        while isinstance(command, click.Group):
            name, args = args[0], args[1:]
            command = command.commands[name]
        command.make_context(name, list(args))  # a click.UsageError when the example is stale
        return
    # `new plugin` writes a fresh distribution: each in its own folder
    monkeypatch.chdir(tmp_path if args[0] == "new" else sandbox)
    result = CliRunner(env={"COLUMNS": "100", **env}).invoke(cli, args)
    assert result.exit_code == 0, f"`{example}` failed:\n{result.output}"
    if redirect:  # what the shell would write: a suite's TOML, parsed back
        assert tomllib.loads(result.stdout)["name"]
    if piped:  # JSON lines for jq
        assert [json.loads(line) for line in result.stdout.splitlines()]


def test_the_examples_include_every_command() -> None:
    examples = _help_examples()
    commands = {" ".join(p[1:]) for p, c in _commands(cli) if not isinstance(c, click.Group)}
    for command in commands:
        assert any(f"zobench {command}" in e for e in examples), command
    assert set(PARSED_ONLY) <= set(examples)  # no stale exemption
