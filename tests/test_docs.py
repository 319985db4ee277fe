"""The documentation keeps up with the code: every hook has a section, every command an example.

As datasette does for its plugin hooks: adding a hook to ``zobench/hookspecs.py`` without a
section in ``docs/writing-plugins.md`` whose heading names it fails this test, and so does a
command line command whose ``--help`` shows no example of itself.
"""

from __future__ import annotations

import re
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
