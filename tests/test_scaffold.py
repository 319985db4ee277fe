"""``zobench new plugin``: the scaffold is discovered, conforms, and its own tests pass.

Discovery goes through a real ``*.dist-info`` record on ``sys.path`` (what ``pip install -e``
leaves behind), never by registering the class by hand; the generated tests run in a subprocess
pytest with that record and the plugin's ``src`` on PYTHONPATH. ``.ci/run`` does the same with
a real ``pip install -e``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from zobench.cli import cli
from zobench.cli.scaffold import TEMPLATES, render
from zobench.plugins import get_host
from zobench.testing import check_component, make_distribution

CASES = {
    "algorithm": ("zobench-sc-climber", "sc-climber"),
    "environment": ("sc-corridor", "sc-corridor"),
    "preference": ("sc-cauchy", "sc-cauchy"),
    "topology": ("sc-lattice", "sc-lattice"),
}
"""kind → (plugin NAME, registered component name): a leading 'zobench-' is dropped."""


def _new(*args: str) -> object:
    return CliRunner().invoke(cli, ["new", "plugin", *args], catch_exceptions=False)


@pytest.fixture
def forget_modules():
    """Drop the scaffolded packages from ``sys.modules`` after the test (they live in tmp_path)."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith(("zobench_sc_", "sc_")):
            del sys.modules[name]


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(TEMPLATES))
def test_scaffolded_plugin_is_discovered_conforms_and_its_tests_pass(
    kind, tmp_path, clean_plugin_env, zobench_distribution, monkeypatch, forget_modules
):
    name, component = CASES[kind]
    result = _new(name, "--kind", kind, "--output", str(tmp_path))
    assert result.exit_code == 0, result.output
    root = tmp_path / name
    package = name.replace("-", "_")
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == sorted(
        render(name, kind)
    )
    pyproject = (root / "pyproject.toml").read_text()
    assert f'[project.entry-points.zobench]\n{component} = "{package}"' in pyproject

    # discovered through a dist-info record, as after `pip install -e`
    monkeypatch.syspath_prepend(str(root / "src"))
    dist_info = zobench_distribution(name, {component: package})
    registration = get_host().get(kind, component)
    assert (registration.distribution, registration.version) == (name, "0.1.0")
    check_component(registration.obj)

    # the plugin's own tests, in a fresh interpreter that sees the same record
    environ = dict(os.environ)
    paths = [str(dist_info.parent), str(root / "src"), environ.get("PYTHONPATH", "")]
    environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    for variable in ("ZOBENCH_PLUGINS", "ZOBENCH_DISABLE_PLUGINS", "ZOBENCH_STRICT_PLUGINS"):
        environ.pop(variable, None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert " passed" in run.stdout, run.stdout
    assert "skipped" not in run.stdout, run.stdout


@pytest.mark.parametrize("kind", list(TEMPLATES))
def test_rendered_files_are_complete_python_and_toml(kind):
    import tomllib

    name, _ = CASES[kind]
    files = render(name, kind)
    for path, text in files.items():
        assert "$" not in text.replace("$$", ""), f"unfilled placeholder in {path}"
        if path.endswith(".py"):
            compile(text, path, "exec")
    toml = tomllib.loads(files["pyproject.toml"])
    assert toml["project"]["dependencies"][0].startswith("zobench")
    assert toml["build-system"]["build-backend"] == "hatchling.build"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad_Name"], "invalid plugin name 'Bad_Name'"),
        (["9lives"], "invalid plugin name '9lives'"),
        (["zobench"], "plugin name 'zobench' is reserved"),
        (["x-y", "--kind", "executor"], "cannot scaffold kind 'executor'"),
        (["x-y", "--kind", "topolgy"], "did you mean 'topology'"),
        (["zpg"], "'zpg' is already the name of an installed algorithm (from zobench)"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(args, message, tmp_path, clean_plugin_env):
    result = _new(*args, "--output", str(tmp_path))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error:"), result.output
    assert message in lines[0]
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_an_existing_directory_is_never_overwritten(tmp_path: Path, clean_plugin_env):
    (tmp_path / "my-thing").mkdir()
    (tmp_path / "my-thing" / "keep.txt").write_text("mine")
    result = _new("my-thing", "--output", str(tmp_path))
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert [p.name for p in (tmp_path / "my-thing").iterdir()] == ["keep.txt"]


def test_plural_and_short_kind_names_are_accepted(tmp_path, clean_plugin_env):
    result = _new("sc-link", "--kind", "preference", "--output", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "sc-link" / "src" / "sc_link" / "preference.py").is_file()


def test_make_distribution_is_what_the_scaffold_tests_rely_on(tmp_path):
    # the helper writes the record importlib.metadata reads for an installed distribution
    record = make_distribution(tmp_path, "sc-demo", {"sc-demo": "sc_demo"})
    assert (record / "entry_points.txt").read_text() == "[zobench]\nsc-demo = sc_demo\n"
