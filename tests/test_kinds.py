"""One table of kinds: every kind table the host, suites, CLI, scaffold and kit use comes from
``zobench.kinds``, and the old spelling ``preference-model`` still works with one warning line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import zobench
from zobench import api, hookspecs, kinds
from zobench.bench import spec as spec_module
from zobench.bench import suite as suite_module
from zobench.cli import inspect as inspect_module
from zobench.cli import scaffold
from zobench.conformance import _kind_of
from zobench.errors import UnknownComponentError
from zobench.kinds import KindSpellingWarning
from zobench.plugins import PluginHost, PluginLoadWarning, get_host

ZOBENCH = Path(zobench.__file__).resolve().parent


def _hookspec_names() -> set[str]:
    return {
        name
        for name, obj in vars(hookspecs).items()
        if callable(obj) and hasattr(obj, f"{hookspecs.PROJECT}_spec")
    }


def test_every_hook_spec_registers_exactly_one_kind():
    assert _hookspec_names() == {kind.hook for kind in kinds.KINDS}
    assert {kind.hook: kind.name for kind in kinds.KINDS} == hookspecs.HOOK_KINDS


def test_each_base_class_declares_its_kind_name():
    for kind in kinds.KINDS:
        assert kind.base.kind == kind.name, kind


def test_the_other_tables_are_the_records_projections():
    assert api.KINDS == kinds.NAMES
    suite_tables = [k.suite_table for k in kinds.KINDS if k.suite_table]
    assert list(spec_module.COMPONENT_KINDS) == suite_tables
    # one vocabulary: a suite table is its kind's name
    assert all(spec_module.COMPONENT_KINDS[t] == t for t in suite_tables)
    assert list(suite_module.COMPONENT_TABLES) == suite_tables
    assert {k.name: k.plural for k in kinds.KINDS} == inspect_module.PLURAL
    assert set(scaffold.TEMPLATES) <= {k.name for k in kinds.COMPONENT_KINDS}


def test_no_other_module_spells_a_kind_table():
    # Hook names and the old spelling live in kinds.py (and the hook specs themselves); a
    # table of them anywhere else would drift from the record.
    allowed = {ZOBENCH / "kinds.py", ZOBENCH / "hookspecs.py"}
    hook = re.compile(r"[\"']zobench_register_\w+[\"']")  # a hook name as a string
    for path in ZOBENCH.rglob("*.py"):
        if path in allowed:
            continue
        text = path.read_text(encoding="utf-8")
        assert not hook.search(text), f"{path} names a registrar hook"
        assert '"preference-model"' not in text, f"{path} spells the old kind name"


def test_the_scaffold_writes_the_hook_of_its_kinds_record():
    for name in scaffold.TEMPLATES:
        files = scaffold.render(f"zobench-sk-{name}", name)
        init = next(text for path, text in files.items() if path.endswith("__init__.py"))
        assert f"def {kinds.BY_NAME[name].hook}(" in init


@pytest.mark.parametrize("kind", kinds.KINDS, ids=lambda k: k.name)
def test_the_host_checks_each_registration_against_its_kinds_base(kind):
    class Plugin:
        @staticmethod
        @zobench.hookimpl(specname=kind.hook)
        def register_something(register):
            register(object(), name="not-a-component")

    with pytest.warns(PluginLoadWarning, match=f"{kind.name} hook raised PluginError"):
        host = PluginHost(entry_points=[], extra_plugins={"odd": Plugin}, environ={})
    (record,) = [p for p in host.plugins if p.name == "odd"]
    assert host.names(kind.name) == []
    assert any(kind.base.__qualname__ in error for error in record.errors), record.errors


def test_the_conformance_kit_recognises_each_kind_by_its_record():
    host = get_host()
    for kind in kinds.KINDS:
        registration = host.components(kind.name)[0]
        assert _kind_of(registration.obj) == kind.name


def test_the_facade_returns_each_kinds_classes_and_data():
    host = get_host()
    assert host.algorithm("zpg") is host.get("algorithm", "zpg").obj
    assert issubclass(host.environment("gridworld"), api.Environment)
    assert issubclass(host.preference("bradley-terry"), api.PreferenceModel)
    assert issubclass(host.topology("ring"), api.Topology)
    assert issubclass(host.executor("serial"), api.Executor)
    assert isinstance(host.suite("quickstart"), api.SuiteDefinition)
    preset = host.presets()[0]
    assert host.preset(preset.name) is preset
    with pytest.raises(UnknownComponentError, match="'zpg' is a algorithm, not a topology"):
        host.topology("zpg")


def test_make_builds_each_kind_and_hands_back_data_kinds():
    link = zobench.make("preference", "bradley-terry", scale=2.0)
    assert isinstance(link, api.PreferenceModel)
    assert link.config.scale == 2.0
    assert zobench.make("suite", "quickstart") is get_host().suite("quickstart")


def test_make_uses_the_host_it_is_given():
    empty = PluginHost(entry_points=[], environ={})
    with pytest.raises(UnknownComponentError, match="no environment named 'gridworld'"):
        zobench.make("environment", "gridworld", host=empty)


def test_the_old_spelling_works_with_a_warning_naming_the_callers_line():
    with pytest.warns(KindSpellingWarning, match="'preference-model' is now spelled 'preference'"):
        old = zobench.make("preference-model", "bradley-terry")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert get_host().get("preference-model", "bradley-terry").kind == "preference"
    assert [Path(w.filename).name for w in caught] == [Path(__file__).name]
    assert type(old) is get_host().preference("bradley-terry")


def test_an_unknown_kind_is_one_clear_error():
    with pytest.raises(UnknownComponentError, match=r"unknown kind 'algoritm'.*did you mean"):
        kinds.kind("algoritm")
    with pytest.raises(UnknownComponentError, match="'zpg' is a algorithm, not a suite"):
        get_host().data(kinds.SUITE, "zpg")


def test_the_cli_accepts_the_old_spelling_with_one_warning_line():
    result = subprocess.run(
        [sys.executable, "-m", "zobench", "list", "preference-model", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert {row["kind"] for row in json.loads(result.stdout)} == {"preference"}
    assert result.stderr.splitlines() == [
        "warning: the kind 'preference-model' is now spelled 'preference'; "
        "'preference-model' will stop working in a future release"
    ]
