"""Every Python and TOML example of the README and the guides in docs/ runs as written.

Each fenced ```python block is executed on its own (a fresh namespace, a temporary working
folder), then what it defined is exercised: registrar hooks are called and must register
something, a `step`/`step_table` pair must reproduce the environment it describes, `test_*`
functions run with the fixtures they name. Each ```toml block is read by what it is: a suite is
validated and expanded into runs, a pyproject's entry points must import, component tables must
build their components. The guide's plugin, `zobench_my_method`, is made by `zobench new
plugin` once per session.

A block is skipped only when the line before it says so, `<!-- not run: why -->`; the reasons
are listed by :func:`test_skipped_examples_say_why`.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import shutil
import sys
import tomllib
import types
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zobench
from zobench import kinds
from zobench.api import SuiteDefinition
from zobench.bench.suite import parse_suite
from zobench.cli.scaffold import scaffold_plugin
from zobench.plugins import PluginHost, PluginLoadWarning
from zobench.presets import Preset

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(python|toml)\s*\n(.*?)^```\s*$", re.S | re.M)
SKIP = re.compile(r"<!--\s*not run:\s*(.*?)\s*-->\s*$")
COMPONENT_TABLES = {table: kind.name for table, kind in kinds.SUITE_TABLES.items()}
"""Suite tables and the component kind each names (from the one table of kinds)."""
GUIDE_PLUGIN = "zobench-my-method"
"""The plugin docs/writing-plugins.md builds (`zobench new plugin zobench-my-method`)."""


@dataclass(frozen=True)
class Example:
    """One fenced block: where it is, its language, its text, and why it is skipped (if it is)."""

    path: Path
    line: int
    language: str
    code: str
    skip: str | None

    @property
    def label(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _examples() -> list[Example]:
    found = []
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            skip = SKIP.search(before)
            found.append(
                Example(
                    path,
                    text[: match.start()].count("\n") + 1,
                    match.group(1),
                    match.group(2),
                    skip.group(1) if skip else None,
                )
            )
    return found


EXAMPLES = _examples()
RUN = [e for e in EXAMPLES if e.skip is None]


@pytest.fixture(scope="session")
def guide_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The guide's plugin package, importable as ``zobench_my_method``, with a presets file."""
    root = scaffold_plugin(GUIDE_PLUGIN, "algorithm", tmp_path_factory.mktemp("guide"))
    source = root / "src"
    package = source / "zobench_my_method"
    # what `zobench tune` writes and the guide's preset hook reads beside its module
    shutil.copy(
        ROOT / "plugins/zobench_plugins/presets/home-gridworld.toml", package / "presets.toml"
    )
    sys.path.insert(0, str(source))
    try:
        yield importlib.import_module("zobench_my_method")
    finally:
        sys.path.remove(str(source))
        for name in [m for m in sys.modules if m.split(".")[0] == "zobench_my_method"]:
            del sys.modules[name]


@pytest.fixture
def host(guide_plugin: Any) -> PluginHost:
    """The installed plugins plus the guide's plugin, for suites that name 'my-method'."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginLoadWarning)
        return PluginHost(extra_plugins={GUIDE_PLUGIN: guide_plugin})


def test_the_documents_have_examples_to_run():
    assert len(RUN) >= 12
    assert {e.language for e in RUN} == {"python", "toml"}


def test_skipped_examples_say_why():
    skipped = [(e.label, e.skip) for e in EXAMPLES if e.skip is not None]
    assert all(reason for _, reason in skipped), skipped


def _is_slow(example: Example) -> bool:
    """The README's Python tour runs the quickstart suite (tens of seconds on 2 cores)."""
    return "run_suite(" in example.code


@pytest.mark.parametrize(
    "example",
    [
        pytest.param(e, id=e.label, marks=[pytest.mark.slow] if _is_slow(e) else [])
        for e in RUN
        if e.language == "python"
    ],
)
def test_python_example_runs(example: Example, guide_plugin, host, tmp_path, monkeypatch, request):
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType("docs_example")  # a real module: dataclasses look their own up
    module.__package__ = guide_plugin.__name__  # what `resources.files(__package__)` reads
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace = module.__dict__
    exec(compile(example.code, example.label, "exec"), namespace)
    defined = {
        name: value
        for name, value in namespace.items()
        if not name.startswith("__") and getattr(value, "__module__", None) == "docs_example"
    }
    for name, value in defined.items():
        if name.startswith("zobench_register_") and callable(value):
            _check_registrar(value, host)
        elif name.startswith("test_") and callable(value):
            fixtures = inspect.signature(value).parameters
            value(**{p: request.getfixturevalue(p) for p in fixtures})
        elif dataclasses.is_dataclass(value) and isinstance(value, type):
            value()  # every documented Config field has a default that passes its checks
    if "step" in defined and "step_table" in defined:
        _check_step_delegation(defined["step"], defined["step_table"])


def _check_registrar(hook: Any, host: PluginHost) -> None:
    registered: list[Any] = []
    hook(registered.append)
    assert registered, f"{hook.__name__} registered nothing"
    for obj in registered:
        if isinstance(obj, SuiteDefinition):
            assert parse_suite(obj.toml, source=obj.name, host=host).count() > 0
        elif hook.__name__ == "zobench_register_presets":
            assert isinstance(obj, Preset)


def _check_step_delegation(step: Any, step_table: Any) -> None:
    """The guide's delegation gives the environment's own step (and its table)."""
    env = zobench.make("environment", "gridworld")
    rng = np.random.default_rng(0)
    states = rng.integers(0, env.n_states, (16, 1))
    actions = rng.integers(0, env.n_actions, (16, 1))
    noise = rng.random((16, 1, 1))
    ours, theirs = step(env, states, actions, noise), env.step(states, actions, noise)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)
    assert step_table(env) is env.step_table()


@pytest.mark.parametrize("example", [e for e in RUN if e.language == "toml"], ids=lambda e: e.label)
def test_toml_example_is_valid(example: Example, guide_plugin, host):
    data = tomllib.loads(example.code)
    if "project" in data:  # a plugin's pyproject.toml: its entry points must import
        for module in data["project"]["entry-points"]["zobench"].values():
            importlib.import_module(module)
    elif "name" in data:  # a suite
        suite = parse_suite(example.code, source=example.label, host=host)
        assert suite.count() > 0
        assert suite.runs(host)
    else:  # component tables, as a suite would write them
        tables = [t for t in COMPONENT_TABLES if t in data]
        assert tables, f"{example.label}: neither a suite, a pyproject nor component tables"
        for table in tables:
            entries = data[table] if isinstance(data[table], list) else [data[table]]
            for entry in entries:
                params = {k: v for k, v in entry.items() if k not in ("name", "grid")}
                if entry["name"].startswith("gym:"):
                    pytest.importorskip("gymnasium")
                zobench.make(COMPONENT_TABLES[table], entry["name"], **params)


def test_the_suite_module_example_validates():
    docstring = importlib.import_module("zobench.bench.suite").__doc__ or ""
    example = docstring.split("Example::", 1)[1]
    suite = parse_suite(inspect.cleandoc(example), source="zobench/bench/suite.py")
    assert suite.count() == 5 * 2  # 5 seeds × the two values of the swept setting
