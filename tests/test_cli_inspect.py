"""``zobench --version``, ``list``, ``info`` and ``plugins``: output, exit codes, and no tracebacks.

The example plugin is installed through a dist-info record for these tests, so they have known
components to look at whatever built-ins exist.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zobench import api
from zobench.__about__ import __version__
from zobench.cli import cli
from zobench.plugins import get_host

pytestmark = pytest.mark.usefixtures("example_installed")

ALGORITHM = "example-random-search"
PREFERENCE = "example-lapse-logistic"


def invoke(*args: str) -> Result:
    """Run the CLI in-process; exceptions are caught by click's runner and inspected by tests."""
    return CliRunner().invoke(cli, list(args))


def assert_user_error(result: Result, *fragments: str) -> None:
    """Exit code 2, one ``Error:`` line (click usage errors add a usage header), no traceback."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


# ---------------------------------------------------------------------------------------------
# --version and --help
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag):
    result = invoke(flag)
    assert result.exit_code == 0
    assert result.output.strip() == f"zobench, version {__version__}"


@pytest.mark.parametrize("command", [[], ["list"], ["info"], ["plugins"]])
def test_every_command_has_help_with_an_example(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Example" in result.output


# ---------------------------------------------------------------------------------------------
# list
# ---------------------------------------------------------------------------------------------


def test_list_shows_every_component_under_its_kind():
    result = invoke("list")
    assert result.exit_code == 0, result.output
    for reg in get_host().components():
        assert reg.name in result.output
    lines = result.output.splitlines()
    row = next(i for i, line in enumerate(lines) if ALGORITHM in line)
    assert "Preference-only hill climbing" in lines[row]
    title = next(line for line in reversed(lines[:row]) if line and not line.startswith(" "))
    assert title.startswith("algorithms (")


def test_list_long_adds_distribution_and_version():
    result = invoke("list", "--long")
    assert result.exit_code == 0, result.output
    for header in ("name", "distribution", "version", "summary"):
        assert header in result.output
    row = next(line for line in result.output.splitlines() if ALGORITHM in line)
    assert "zobench-example" in row
    assert "0.1.0" in row


def test_list_json_parses_and_matches_the_registry():
    result = invoke("list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    assert all(set(row) == {"name", "kind", "distribution", "version", "summary"} for row in rows)
    expected = [(r.kind, r.name, r.distribution) for r in get_host().components()]
    assert [(r["kind"], r["name"], r["distribution"]) for r in rows] == expected
    mine = next(r for r in rows if r["name"] == ALGORITHM)
    assert mine["summary"].startswith("Preference-only hill climbing")


@pytest.mark.parametrize(
    ("spelling", "kind"),
    [
        ("algorithm", "algorithm"),
        ("algorithms", "algorithm"),
        ("ALGORITHMS", "algorithm"),
        ("environment", "environment"),
        ("environments", "environment"),
        ("preference", "preference"),
        ("preferences", "preference"),
        ("topology", "topology"),
        ("topologies", "topology"),
        ("executor", "executor"),
        ("executors", "executor"),
        ("suite", "suite"),
        ("suites", "suite"),
        ("presets", "preset"),
    ],
)
def test_list_one_kind_singular_or_plural(spelling, kind):
    result = invoke("list", spelling, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {row["kind"] for row in rows} <= {kind}
    assert [row["name"] for row in rows] == get_host().names(kind)


def test_list_kind_table_shows_only_that_kind():
    result = invoke("list", "preference")
    assert result.exit_code == 0, result.output
    assert PREFERENCE in result.output
    assert ALGORITHM not in result.output


@pytest.mark.parametrize("kind", ["bogus-kind", "algorithmz", "", "-"])
def test_list_unknown_kind_exits_2(kind):
    result = invoke("list", kind)
    assert_user_error(result, "unknown kind")


def test_list_unknown_kind_suggests():
    assert_user_error(invoke("list", "algoritm"), "did you mean 'algorithm'?")


# ---------------------------------------------------------------------------------------------
# info
# ---------------------------------------------------------------------------------------------


def test_info_shows_fields_and_provenance():
    result = invoke("info", ALGORITHM)
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"{ALGORITHM}  (algorithm)" in out
    assert "source: Matyas" in out
    assert "plugin: zobench-example 0.1.0 (example)" in out
    assert "settings" in out
    for field, default in [
        ("radius", "0.5"),
        ("pairs", "8"),
        ("evaluators", "5"),
        ("margin", "0.0"),
        ("common_noise", "true"),
    ]:
        row = next(line for line in out.splitlines() if line.startswith(f"  {field} "))
        assert f"= {default}" in row, row
        assert "(default: ours)" in row, row


def test_info_shows_the_channels_an_algorithm_consumes():
    out = invoke("info", ALGORITHM).output
    assert "consumes: preferences" in out
    assert "uses rewards" not in out
    oracle = invoke("info", "oracle-pg").output
    assert "consumes: model, rewards" in oracle
    assert "uses rewards" in oracle
    assert "uses the model" in oracle
    assert "consumes: nothing" in invoke("info", "uniform").output


def test_info_shows_inherited_preference_settings():
    result = invoke("info", PREFERENCE)
    assert result.exit_code == 0, result.output
    for field in ("scale", "mistake", "myopia", "skip", "equal", "lapse"):
        assert any(f" {field} " in line for line in result.output.splitlines()), field


def test_info_with_kind():
    assert invoke("info", ALGORITHM, "--kind", "algorithms").exit_code == 0
    assert_user_error(invoke("info", ALGORITHM, "--kind", "topology"), "is a algorithm")


def test_info_works_for_every_registered_component():
    for reg in get_host().components():
        result = invoke("info", reg.name, "--kind", reg.kind)
        assert result.exit_code == 0, (reg.kind, reg.name, result.output)
        assert reg.name in result.output


def test_info_unknown_name_exits_2_with_did_you_mean():
    assert_user_error(invoke("info", "no-such-thing"), "no-such-thing", "did you mean")


def test_info_misspelt_name_suggests_the_right_one():
    assert_user_error(invoke("info", "example-random-serch"), f"did you mean '{ALGORITHM}'?")


def test_info_needs_a_name():
    result = invoke("info")
    assert result.exit_code == 2
    assert "Missing argument" in result.output


# ---------------------------------------------------------------------------------------------
# plugins
# ---------------------------------------------------------------------------------------------


def test_plugins_table_and_json():
    table = invoke("plugins")
    assert table.exit_code == 0, table.output
    row = next(line for line in table.output.splitlines() if "zobench-example" in line)
    assert "algorithms, preference_models" in row
    assert "loaded" in row
    records = json.loads(invoke("plugins", "--json").stdout)
    assert {"name", "distribution", "version", "module", "status", "hooks", "errors"} <= set(
        records[0]
    )


# ---------------------------------------------------------------------------------------------
# No bad input gives a traceback
# ---------------------------------------------------------------------------------------------

# Command-line text: any printable characters (surrogates are covered by the subprocess test).
ARGUMENT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
KIND_WORDS = st.sampled_from([*api.KINDS, *(k + "s" for k in api.KINDS)])
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def assert_clean(result: Result) -> None:
    assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


@SETTINGS
@given(name=ARGUMENT)
def test_info_any_name(name):
    assert_clean(invoke("info", name))


@SETTINGS
@given(name=ARGUMENT, kind=st.one_of(ARGUMENT, KIND_WORDS))
def test_info_any_name_and_kind(name, kind):
    assert_clean(invoke("info", name, "--kind", kind))


@SETTINGS
@given(kind=st.one_of(ARGUMENT, KIND_WORDS), as_json=st.booleans())
def test_list_any_kind(kind, as_json):
    args = ["list", kind, *(["--json"] if as_json else [])]
    result = invoke(*args)
    assert_clean(result)
    if as_json and result.exit_code == 0:
        json.loads(result.stdout)


@SETTINGS
@given(args=st.lists(ARGUMENT, max_size=4))
def test_any_arguments_to_any_command(args):
    for command in ("list", "info", "plugins"):
        assert_clean(invoke(command, *args))


def test_undecodable_argument_in_the_real_cli():
    # A byte that is not UTF-8 reaches Python as a lone surrogate; printing it must not crash.
    for args in ([b"info", b"\xff\xfe"], [b"list", b"\xff"]):
        result = subprocess.run(
            [sys.executable.encode(), b"-m", b"zobench", *args],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert b"Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith(b"Error: ")


@pytest.mark.parametrize(
    "args", [["info", "a\nb"], ["list", "a\nb"], ["info", "x", "--kind", "al\ngorithm"]]
)
def test_error_stays_one_line_for_names_with_newlines(args):
    # A quoted TOML key or a shell argument can hold a newline; the error must still be one line.
    result = invoke(*args)
    assert_user_error(result)
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1, result.output
