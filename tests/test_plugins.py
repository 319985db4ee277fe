"""The plugin host: discovery through real distribution metadata, isolation of failures, selection.

Plugins here are discovered the way pip-installed ones are: a ``*.dist-info`` record with
``entry_points.txt`` on the path. The CLI-level checks of the broken plugin and of strict mode
run the real ``python -m zobench`` in a subprocess, so the warning and exit-code paths are the
ones a user meets.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import textwrap
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from zobench import api
from zobench.cli import cli
from zobench.errors import PluginError, UnknownComponentError
from zobench.plugins import PluginHost, PluginLoadWarning, get_host
from zobench.testing import make_distribution

TESTS = Path(__file__).resolve().parent
EXAMPLE_SRC = TESTS.parent / "plugins" / "zobench-example" / "src"
BROKEN_DIR = TESTS / "fixtures" / "broken_plugin"
"""Holds ``zobench_broken_fixture``, a plugin module that raises on import."""
EXAMPLE_DIST = ("zobench-example", {"example": "zobench_example"})
BROKEN_DIST = ("zobench-broken-fixture", {"broken": "zobench_broken_fixture"})

# ---------------------------------------------------------------------------------------------
# Plugin modules written at test time: each declares what it registers in plain source
# ---------------------------------------------------------------------------------------------

ALGORITHM_MODULE = """
import zobench
from zobench import api

class {cls}(api.Algorithm):
    name = {name!r}
    summary = "A test algorithm."

    def step(self):
        return {{}}

@zobench.hookimpl
def zobench_register_algorithms(register):
    register({cls})
"""


def _algorithm_module(name: str, cls: str = "Thing") -> str:
    return ALGORITHM_MODULE.format(name=name, cls=cls)


def _host_for(root: Path, **environ: str) -> PluginHost:
    """A host that sees only the distributions recorded under ``root`` (real metadata)."""
    entry_points = [ep for dist in md.distributions(path=[str(root)]) for ep in dist.entry_points]
    return PluginHost(entry_points, environ=environ)


@pytest.fixture
def plugin_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory on sys.path for test distributions and their modules."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    return root


# ---------------------------------------------------------------------------------------------
# The example plugin, discovered through its dist-info
# ---------------------------------------------------------------------------------------------


def test_example_plugin_is_discovered_through_its_distribution_metadata(example_installed):
    found = [ep for ep in md.entry_points(group="zobench") if ep.name == "example"]
    assert {ep.dist.name for ep in found} == {"zobench-example"}
    host = get_host()
    record = next(p for p in host.plugins if p.name == "example")
    assert (record.distribution, record.version, record.status) == (
        "zobench-example",
        "0.1.0",
        "loaded",
    )
    assert record.hooks == ["zobench_register_algorithms", "zobench_register_preference_models"]
    algorithm = host.get("algorithm", "example-random-search")
    preference = host.get("preference", "example-lapse-logistic")
    for reg in (algorithm, preference):
        assert (reg.distribution, reg.version, reg.plugin) == (
            "zobench-example",
            "0.1.0",
            "example",
        )
    assert algorithm.obj.__module__ == "zobench_example.algorithm"


def test_example_plugin_appears_in_zobench_list(example_installed):
    runner = CliRunner()
    result = runner.invoke(cli, ["list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {(r["kind"], r["name"]): r for r in json.loads(result.stdout)}
    assert rows[("algorithm", "example-random-search")]["distribution"] == "zobench-example"
    assert rows[("preference", "example-lapse-logistic")]["version"] == "0.1.0"

    table = runner.invoke(cli, ["list", "algorithms", "--long"])
    assert table.exit_code == 0, table.output
    line = next(x for x in table.stdout.splitlines() if "example-random-search" in x)
    assert "zobench-example" in line
    assert "0.1.0" in line


def test_example_plugin_appears_in_zobench_plugins(example_installed):
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    record = next(p for p in json.loads(result.stdout) if p["name"] == "example")
    assert record["distribution"] == "zobench-example"
    assert record["status"] == "loaded"
    assert record["errors"] == []


def test_example_plugin_in_the_real_cli(site_dir, run_zobench):
    make_distribution(site_dir, *EXAMPLE_DIST)
    result = run_zobench("list", "--json", path=(site_dir, EXAMPLE_SRC))
    assert result.returncode == 0, result.stderr
    names = {(r["name"], r["distribution"]) for r in json.loads(result.stdout)}
    assert ("example-random-search", "zobench-example") in names
    assert ("example-lapse-logistic", "zobench-example") in names


# ---------------------------------------------------------------------------------------------
# The built-in plugins: loaded through the same entry points, all healthy
# ---------------------------------------------------------------------------------------------


def test_builtin_plugins_load_without_failures():
    host = PluginHost(environ={})
    builtin = [p for p in host.plugins if p.distribution == "zobench"]
    assert builtin, "no entry points of distribution 'zobench' found: is zobench installed?"
    failures = {p.name: p.errors for p in builtin if p.errors}
    assert failures == {}


@pytest.mark.parametrize("kind", api.KINDS)
def test_every_kind_has_a_builtin_component(kind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginLoadWarning)  # reported by the test above
        host = PluginHost(environ={})
    assert [r.name for r in host.components(kind) if r.distribution == "zobench"], (
        f"no built-in {kind} is registered through the 'zobench' entry points"
    )


# ---------------------------------------------------------------------------------------------
# A broken plugin: the real command line survives it
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def broken_site(site_dir: Path) -> tuple[Path, ...]:
    """PYTHONPATH entries with the broken distribution record and its module."""
    make_distribution(site_dir, *BROKEN_DIST)
    return (site_dir, BROKEN_DIR)


def test_broken_plugin_gives_one_warning_and_list_still_works(broken_site, run_zobench):
    result = run_zobench("list", "--json", path=broken_site)
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)  # the listing itself is intact
    assert "Traceback" not in result.stderr
    about_it = [line for line in result.stderr.splitlines() if "zobench-broken-fixture" in line]
    assert len(about_it) == 1, result.stderr
    assert about_it[0].startswith("warning: plugin 'broken' (zobench-broken-fixture 0.1.0)")
    assert "RuntimeError: zobench-broken-fixture fails on import on purpose" in about_it[0]
    # every line on stderr is a one-line warning: no source lines, no stack
    assert all(line.startswith("warning: ") for line in result.stderr.splitlines())


def test_zobench_plugins_names_the_failure_with_its_reason(broken_site, run_zobench):
    result = run_zobench("plugins", "--json", path=broken_site)
    assert result.returncode == 0, result.stderr
    record = next(p for p in json.loads(result.stdout) if p["name"] == "broken")
    assert record["distribution"] == "zobench-broken-fixture"
    assert record["status"] == "failed"
    assert record["errors"] == [
        "import failed: RuntimeError: zobench-broken-fixture fails on import on purpose"
    ]

    table = run_zobench("plugins", path=broken_site)
    assert table.returncode == 0, table.stderr
    row = next(x for x in table.stdout.splitlines() if "zobench-broken-fixture" in x)
    assert "failed" in row
    assert "RuntimeError" in table.stdout


@pytest.mark.parametrize("command", ["list", "plugins"])
def test_strict_mode_exits_2_with_one_line(broken_site, run_zobench, command):
    # Allowlisting the broken plugin makes it the only candidate for the first failure.
    env = {"ZOBENCH_STRICT_PLUGINS": "1", "ZOBENCH_PLUGINS": "zobench-broken-fixture"}
    result = run_zobench(command, path=broken_site, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: plugin 'broken' (zobench-broken-fixture 0.1.0)")
    assert "fails on import on purpose" in lines[0]
    assert "ZOBENCH_STRICT_PLUGINS" in lines[0]


def test_strict_mode_with_every_plugin_installed(broken_site, run_zobench):
    # Whatever else is installed, a broken plugin in strict mode is one line and exit 2.
    result = run_zobench("list", path=broken_site, env={"ZOBENCH_STRICT_PLUGINS": "1"})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1


def test_strict_mode_off_when_zero(broken_site, run_zobench):
    result = run_zobench("list", path=broken_site, env={"ZOBENCH_STRICT_PLUGINS": "0"})
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------------------------
# Failures inside a plugin are isolated and reported
# ---------------------------------------------------------------------------------------------


def test_a_raising_hook_registers_nothing_and_is_reported(plugin_root):
    source = textwrap.dedent(
        """
        import zobench
        from zobench import api

        class Half(api.Algorithm):
            name = "half-registered"
            summary = "Registered just before the hook raises."

        class Fine(api.Algorithm):
            name = "fine-algorithm"
            summary = "Registered by a hook that works."

        @zobench.hookimpl
        def zobench_register_preference_models(register):
            raise RuntimeError("hook blew up")

        @zobench.hookimpl
        def zobench_register_algorithms(register):
            register(Fine)

        @zobench.hookimpl
        def zobench_register_topologies(register):
            register(Half)  # wrong kind AND then a raise: neither must leak in
            raise ValueError("second failure")
        """
    )
    make_distribution(
        plugin_root,
        "zobench-raising",
        {"raising": "zobench_raising"},
        modules={"zobench_raising.py": source},
    )
    with pytest.warns(PluginLoadWarning) as caught:
        host = _host_for(plugin_root)
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 2  # one warning per failing hook, none for the healthy one
    assert "hook raised RuntimeError: hook blew up" in messages[0]
    assert "topology hook raised PluginError" in messages[1]
    assert host.names("algorithm") == ["fine-algorithm"]  # the healthy hook still counts
    assert host.names("preference") == []
    assert host.names("topology") == []
    (record,) = host.plugins
    assert record.status == "partial"
    assert len(record.errors) == 2
    assert any("preference hook raised RuntimeError: hook blew up" in e for e in record.errors)
    assert any("topology" in e for e in record.errors)
    assert host.failures == [record]


def test_a_misspelt_hook_is_reported_with_a_suggestion(plugin_root):
    source = textwrap.dedent(
        """
        import zobench

        @zobench.hookimpl
        def zobench_register_algorithm(register):
            raise AssertionError("a hook without a spec must never be called")
        """
    )
    make_distribution(
        plugin_root, "zobench-typo", {"typo": "zobench_typo"}, modules={"zobench_typo.py": source}
    )
    with pytest.warns(PluginLoadWarning, match="unknown hook"):
        host = _host_for(plugin_root)
    (record,) = host.plugins
    assert record.errors == [
        "implements unknown hook 'zobench_register_algorithm' "
        "(did you mean 'zobench_register_algorithms'?)"
    ]


def test_same_name_from_two_distributions_is_an_error_naming_both(plugin_root):
    make_distribution(
        plugin_root,
        "zobench-left",
        {"left": "zobench_left"},
        modules={"zobench_left.py": _algorithm_module("twin")},
    )
    make_distribution(
        plugin_root,
        "zobench-right",
        {"right": "zobench_right"},
        version="2.0",
        modules={"zobench_right.py": _algorithm_module("twin")},
    )
    with pytest.warns(PluginLoadWarning, match="registered by both"):
        host = _host_for(plugin_root)
    with pytest.raises(PluginError) as info:
        host.get("algorithm", "twin")
    message = str(info.value)
    assert "zobench-left" in message
    assert "zobench-right" in message
    assert "ZOBENCH_DISABLE_PLUGINS" in message  # how to resolve it
    # disabling one side resolves the clash
    host = _host_for(plugin_root, ZOBENCH_DISABLE_PLUGINS="zobench-left")
    assert host.get("algorithm", "twin").distribution == "zobench-right"


def test_same_name_as_a_builtin_names_both(plugin_root):
    """A third party that reuses a built-in's name is told which distribution it clashes with."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginLoadWarning)
        builtins = PluginHost(environ={}).components()
    target = next(
        (r for r in builtins if (r.kind, r.distribution) == ("algorithm", "zobench")), None
    )
    if target is None:
        pytest.fail("no built-in algorithm is registered to clash with")
    make_distribution(
        plugin_root,
        "zobench-copycat",
        {"copycat": "zobench_copycat"},
        modules={"zobench_copycat.py": _algorithm_module(target.name)},
    )
    entry_points = list(md.entry_points(group="zobench"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginLoadWarning)
        host = PluginHost(entry_points, environ={})
    with pytest.raises(PluginError) as info:
        host.get("algorithm", target.name)
    assert f"algorithm '{target.name}' is registered by both zobench and zobench-copycat" in str(
        info.value
    )


# ---------------------------------------------------------------------------------------------
# Allowlist and blocklist
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def two_plugins(plugin_root: Path) -> Path:
    make_distribution(
        plugin_root,
        "zobench-alpha",
        {"alpha-ep": "zobench_alpha"},
        modules={"zobench_alpha.py": _algorithm_module("alpha-algorithm")},
    )
    make_distribution(
        plugin_root,
        "zobench-beta",
        {"beta-ep": "zobench_beta"},
        modules={"zobench_beta.py": _algorithm_module("beta-algorithm")},
    )
    return plugin_root


def _status(host: PluginHost) -> dict[str, str]:
    return {p.name: p.status for p in host.plugins}


@pytest.mark.parametrize(
    ("environ", "loaded"),
    [
        ({}, ["alpha-algorithm", "beta-algorithm"]),
        ({"ZOBENCH_PLUGINS": "alpha-ep"}, ["alpha-algorithm"]),  # by entry-point name
        ({"ZOBENCH_PLUGINS": "zobench-beta"}, ["beta-algorithm"]),  # by distribution
        ({"ZOBENCH_PLUGINS": "zobench_beta"}, ["beta-algorithm"]),  # normalized like pip
        ({"ZOBENCH_PLUGINS": " alpha-ep , zobench-beta "}, ["alpha-algorithm", "beta-algorithm"]),
        ({"ZOBENCH_PLUGINS": ""}, []),  # an empty allowlist loads nothing
        ({"ZOBENCH_DISABLE_PLUGINS": "alpha-ep"}, ["beta-algorithm"]),
        ({"ZOBENCH_DISABLE_PLUGINS": "zobench-alpha,zobench-beta"}, []),
        ({"ZOBENCH_DISABLE_PLUGINS": "Zobench.Alpha"}, ["beta-algorithm"]),
        ({"ZOBENCH_PLUGINS": "alpha-ep", "ZOBENCH_DISABLE_PLUGINS": "zobench-alpha"}, []),
        ({"ZOBENCH_DISABLE_PLUGINS": "no-such-plugin"}, ["alpha-algorithm", "beta-algorithm"]),
    ],
)
def test_allowlist_and_blocklist(two_plugins, environ, loaded):
    host = _host_for(two_plugins, **environ)
    assert host.names("algorithm") == loaded
    expected = {
        "alpha-ep": "loaded" if "alpha-algorithm" in loaded else "disabled",
        "beta-ep": "loaded" if "beta-algorithm" in loaded else "disabled",
    }
    assert _status(host) == expected


def test_disabled_plugin_is_not_even_imported(plugin_root, clean_plugin_env, monkeypatch):
    make_distribution(plugin_root, *BROKEN_DIST)
    monkeypatch.syspath_prepend(str(BROKEN_DIR))
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginLoadWarning)  # the broken import would warn
        host = _host_for(plugin_root, ZOBENCH_DISABLE_PLUGINS="broken")
    assert _status(host) == {"broken": "disabled"}


def test_blocklist_in_the_real_cli(broken_site, run_zobench):
    result = run_zobench(
        "plugins", "--json", path=broken_site, env={"ZOBENCH_DISABLE_PLUGINS": "broken"}
    )
    assert result.returncode == 0, result.stderr
    assert "zobench-broken-fixture" not in result.stderr
    record = next(p for p in json.loads(result.stdout) if p["name"] == "broken")
    assert record["status"] == "disabled"


# ---------------------------------------------------------------------------------------------
# What register() refuses
# ---------------------------------------------------------------------------------------------

REGISTRATIONS = {
    "spaces": ("zobench_register_algorithms", "Thing(api.Algorithm):\n    name = 'Bad Name'"),
    "upper-case": ("zobench_register_algorithms", "Thing(api.Algorithm):\n    name = 'Upper'"),
    "empty": ("zobench_register_algorithms", "Thing(api.Algorithm):\n    name = ''"),
    "trailing-dash": ("zobench_register_algorithms", "Thing(api.Algorithm):\n    name = 'x-'"),
    "not-a-subclass": ("zobench_register_algorithms", "Thing:\n    name = 'plain-class'"),
    "wrong-kind": ("zobench_register_algorithms", "Thing(api.Topology):\n    name = 'ring-ish'"),
    "config-not-dataclass": (
        "zobench_register_environments",
        "Thing(api.Environment):\n    name = 'odd-config'\n    class Config:\n        pass",
    ),
    "suite-not-definition": ("zobench_register_suites", "Thing:\n    name = 'not-a-suite'"),
}


@pytest.mark.parametrize("case", sorted(REGISTRATIONS))
def test_invalid_registrations_are_refused(plugin_root, case):
    hook, body = REGISTRATIONS[case]
    source = (
        "import zobench\nfrom zobench import api\n\n"
        f"class {body}\n\n"
        f"@zobench.hookimpl\ndef {hook}(register):\n    register(Thing)\n"
    )
    module = f"zobench_invalid_{case.replace('-', '_')}"
    make_distribution(
        plugin_root, f"zobench-invalid-{case}", {case: module}, modules={f"{module}.py": source}
    )
    with pytest.warns(PluginLoadWarning):
        host = _host_for(plugin_root)
    assert host.components() == []
    (record,) = host.plugins
    assert record.status == "failed"
    (error,) = record.errors
    assert "raised PluginError" in error
    assert any(word in error for word in ("invalid", "must be")), error


def test_strict_mode_raises_in_process(plugin_root):
    make_distribution(
        plugin_root,
        "zobench-typo",
        {"typo": "zobench_typo"},
        modules={
            "zobench_typo.py": "import zobench\n\n@zobench.hookimpl\ndef zobench_register_algorithm(register):\n    pass\n"
        },
    )
    with pytest.raises(PluginError, match=r"unknown hook .*ZOBENCH_STRICT_PLUGINS is set"):
        _host_for(plugin_root, ZOBENCH_STRICT_PLUGINS="1")


def test_lookup_suggests_close_names(example_installed):
    host = get_host()
    with pytest.raises(UnknownComponentError, match="did you mean 'example-random-search'"):
        host.get("algorithm", "example-random-serch")
    with pytest.raises(UnknownComponentError, match="is a preference, not a algorithm"):
        host.get("algorithm", "example-lapse-logistic")
    with pytest.raises(UnknownComponentError, match="did you mean 'algorithm'"):
        host.get("algorithms", "example-random-search")


def test_a_family_resolves_name_suffixes_through_its_class():
    """``family:suffix`` names go to the family's ``resolve``; plain components refuse a suffix."""
    import pytest

    import zobench
    from zobench import api
    from zobench.errors import UnknownComponentError
    from zobench.plugins import PluginHost

    class Family(api.Topology):
        name = "family"
        summary = "A family of topologies addressed as family:<size>."

        @classmethod
        def resolve(cls, suffix: str) -> type[api.Component]:
            return type(f"Family{suffix}", (cls,), {"size": int(suffix)})

    class Plain(api.Topology):
        name = "plain"
        summary = "No suffixes."

    class Plugin:
        @zobench.hookimpl
        def zobench_register_topologies(self, register):
            register(Family)
            register(Plain)

    host = PluginHost(entry_points=[], extra_plugins={"families": Plugin()}, environ={})
    resolved = host.get("topology", "family:7")
    assert resolved.obj.size == 7
    assert resolved.name == "family:7"
    assert host.get("topology", "family:7") is resolved
    with pytest.raises(UnknownComponentError, match="takes no ':x' suffix"):
        host.get("topology", "plain:x")
    with pytest.raises(UnknownComponentError, match="no topology named 'nope'"):
        host.get("topology", "nope:x")
