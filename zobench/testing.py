"""The conformance kit: checks any zobench component class, in your tests or in ours.

Plugin authors call the checks from their own test suite::

    from zobench.testing import check_component
    from my_plugin import MyAlgorithm

    def test_my_algorithm_conforms():
        check_component(MyAlgorithm)

or use the ``zobench_conformance`` fixture, which this module provides as a pytest plugin
(declared under the ``pytest11`` entry point, so it is active wherever zobench is installed)::

    def test_my_link(zobench_conformance):
        zobench_conformance.check_component(MyLink)

Every check raises :class:`AssertionError` with a message that names the component and the
failing field, so a red test says what to fix. The checks:

``check_config(cls)``
    ``Config`` is a dataclass; every field has a default, a non-empty ``doc`` and a valid
    ``source`` (declare fields with :func:`zobench.api.param`); the defaults survive a round
    trip through :func:`zobench.config.validate` as TOML would give them; ``name`` and
    ``summary`` are set.
``check_constructs(cls)``
    the class builds from its default Config (algorithms: on a tiny gridworld problem).
``check_deterministic(cls)``
    environments: the same noise gives the same states and rewards; preference models:
    ``inverse(link(x)) ≈ x`` and the link increases; topologies: the same seed gives the same
    network; executors: every task's result comes back once; algorithms: two tiny runs with the
    same seed give identical learning curves (wall-clock columns excluded).
``check_tiny_run(cls)``
    algorithms: a few iterations of :func:`zobench.run_one` on a tiny gridworld finish with
    finite scores, and a preference-only algorithm reads no rewards.
``check_honest(cls)``
    algorithms: a tiny run with trip-wires on every undeclared channel and every private route
    around the problem's facade, and NaN-poisoned rewards where the facade does not look, fails
    with one message naming the channel; the ledger columns never decrease; every declared
    channel shows its spending.
``check_component(cls)``
    every check that applies to the component's kind.

Discovery can be tested too: :func:`make_distribution` writes a real ``*.dist-info`` directory
(``METADATA`` and ``entry_points.txt``) so :mod:`importlib.metadata` finds a plugin exactly as it
finds an installed one; the ``zobench_distribution`` fixture does so in ``tmp_path`` and puts it
on ``sys.path``.

This module is imported by every pytest session in an environment where zobench is installed,
so it imports nothing heavy at module level: the simulation kernel, the runner and polars are
imported inside the checks that need them.
"""

from __future__ import annotations

import dataclasses
import sys
import tomllib
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from zobench import api, kinds
from zobench.conformance import (
    TIME_COLUMNS,
    TINY_GRIDWORLD,
    _as_toml,
    _fail,
    _kind_of,
    _same,
    check_constructs,
    check_deterministic,
    check_honest,
    check_tiny_run,
    registered,
    tiny_problem,
)

if TYPE_CHECKING:
    from zobench.kinds import Kind
    from zobench.plugins import PluginHost

__all__ = [
    "TIME_COLUMNS",
    "TINY_GRIDWORLD",
    "check_component",
    "check_config",
    "check_constructs",
    "check_deterministic",
    "check_honest",
    "check_tiny_run",
    "checks_for",
    "make_distribution",
    "registered",
    "tiny_problem",
]

# ---------------------------------------------------------------------------------------------
# Config and metadata
# ---------------------------------------------------------------------------------------------


def check_preset(preset: Any, *, host: PluginHost | None = None) -> None:
    """A preset names installed components, an instance they accept, and settings its algorithm
    has, with values of the right types (so it can never fail a run that matches it).

    The components come from ``host`` (default: the process-wide plugin host)."""
    from zobench.config import validate
    from zobench.errors import ZobenchError
    from zobench.plugins import get_host

    host = host or get_host()
    parts: list[tuple[Kind[Any], str, dict[str, Any]]] = [
        (kinds.ALGORITHM, preset.algorithm, dict(preset.settings)),
        (kinds.ENVIRONMENT, preset.environment, dict(preset.environment_params)),
    ]
    if preset.preference is not None:
        parts.append((kinds.PREFERENCE, preset.preference, dict(preset.preference_params)))
    for kind, name, values in parts:
        try:
            cls = host.component(kind, name)
            validate(cls.Config, values, path=f"preset '{preset.name}' {kind.name}")
        except ZobenchError as exc:
            _fail(preset, str(exc))


def check_config(cls: Any, *, host: PluginHost | None = None) -> None:
    """The class's metadata and ``Config`` dataclass are complete, documented and valid."""
    from zobench.config import validate
    from zobench.errors import ConfigError
    from zobench.plugins import NAME_PATTERN

    kind = _kind_of(cls)
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        _fail(cls, f"name {name!r} must be lower-case words joined by dashes, e.g. 'my-algorithm'")
    summary = getattr(cls, "summary", "")
    if not isinstance(summary, str) or not summary.strip():
        _fail(cls, "summary is empty: set a one-line `summary` (shown by `zobench list`)")
    if "\n" in summary.strip():
        _fail(cls, "summary must be one line (`zobench list` shows it in a table)")
    if kind == kinds.SUITE.name:
        _check_suite_text(cls, host)
        return
    if getattr(cls, "kind", None) != kind:
        _fail(cls, f"kind is {cls.kind!r}, expected {kind!r}: do not override `kind`")
    if not isinstance(getattr(cls, "source", ""), str):
        _fail(cls, "source must be a string (a paper reference, or '')")

    config_cls = cls.Config
    if not (isinstance(config_cls, type) and dataclasses.is_dataclass(config_cls)):
        _fail(cls, "Config must be a dataclass (decorate it with @dataclasses.dataclass)")
    if kind == kinds.PREFERENCE.name and not issubclass(config_cls, api.PreferenceConfig):
        _fail(cls, "Config must extend zobench.api.PreferenceConfig (scale and teacher settings)")
    try:
        hints = typing.get_type_hints(config_cls)
    except Exception as exc:
        _fail(cls, f"Config type hints cannot be resolved: {type(exc).__name__}: {exc}")
    for f in dataclasses.fields(config_cls):
        where = f"Config.{f.name}"
        if f.name not in hints:
            _fail(cls, f"{where} has no type annotation")
        doc = f.metadata.get("doc", "")
        if not isinstance(doc, str) or not doc.strip():
            _fail(
                cls,
                f"{where} has no documentation: declare it with zobench.api.param(default, doc)",
            )
        source = f.metadata.get("source", "ours")
        if source not in api.PROVENANCES:
            _fail(cls, f"{where} has source {source!r}; use one of {', '.join(api.PROVENANCES)}")
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            _fail(cls, f"{where} has no default: every setting needs one so defaults just work")

    try:
        default = config_cls()
    except Exception as exc:
        _fail(cls, f"Config() with defaults fails: {type(exc).__name__}: {exc}")
    # The defaults as a suite's TOML would spell them (None cannot be written in TOML, so such
    # settings are left out and fall back to their default).
    values = {
        f.name: _as_toml(getattr(default, f.name))
        for f in dataclasses.fields(config_cls)
        if getattr(default, f.name) is not None
    }
    for label, mapping in (("{}", {}), ("its defaults written out", values)):
        try:
            rebuilt = validate(config_cls, mapping, path=f"{kind} '{name}'")
        except ConfigError as exc:
            _fail(cls, f"validating {label} fails: {exc}")
        if not _same(rebuilt, default):
            changed = [
                f.name
                for f in dataclasses.fields(config_cls)
                if not _same(getattr(rebuilt, f.name), getattr(default, f.name))
            ]
            _fail(
                cls,
                f"validating {label} does not give the defaults back; differing fields: "
                f"{', '.join('Config.' + c for c in changed) or '(none, but != fails)'}",
            )


def _check_suite_text(suite: api.SuiteDefinition, host: PluginHost | None) -> None:
    """A shipped suite's TOML parses and validates against the installed components."""
    from zobench.bench.suite import parse_suite
    from zobench.errors import ZobenchError

    try:
        tomllib.loads(suite.toml)
    except tomllib.TOMLDecodeError as exc:
        _fail(suite, f"toml does not parse: {exc}")
    try:
        parse_suite(suite.toml, source=f"suite '{suite.name}'", host=host)
    except ZobenchError as exc:
        _fail(suite, f"does not validate: {exc}")


def checks_for(obj: Any) -> list[Callable[..., None]]:
    """The checks that apply to ``obj``'s kind, in the order :func:`check_component` runs them.

    Each takes ``obj`` and, for the components it needs besides, ``host=``."""
    kind = _kind_of(obj)
    if kind == kinds.SUITE.name:
        return [check_config]
    if kind == kinds.PRESET.name:
        return [check_preset]
    checks: list[Callable[..., None]] = [check_config, check_constructs, check_deterministic]
    if kind == kinds.ALGORITHM.name:
        checks += [check_tiny_run, check_honest]
    return checks


def check_component(obj: Any, *, host: PluginHost | None = None) -> None:
    """Run every check that applies to ``obj`` (a component class, a SuiteDefinition or a
    Preset); components the checks need besides ``obj`` come from ``host`` (default: the
    process-wide plugin host)."""
    for check in checks_for(obj):
        check(obj, host=host)


# ---------------------------------------------------------------------------------------------
# Discovery through real distribution metadata
# ---------------------------------------------------------------------------------------------


def make_distribution(
    root: Path | str,
    name: str,
    entry_points: Mapping[str, str],
    *,
    version: str = "0.1.0",
    group: str = "zobench",
    modules: Mapping[str, str] | None = None,
) -> Path:
    """Write an installed-distribution record ``<name>-<version>.dist-info`` under ``root``.

    With ``root`` on ``sys.path``, :func:`importlib.metadata.entry_points` reports
    ``entry_points`` (entry-point name → ``module`` or ``module:attr``) in ``group`` as coming
    from distribution ``name``: exactly what ``pip install`` leaves behind, minus the files.
    ``modules`` maps paths relative to ``root`` (``"my_plugin/__init__.py"``) to source text,
    for plugins that live only in the test. Returns the dist-info directory.
    """
    root = Path(root)
    dist_info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = [f"[{group}]", *(f"{ep} = {target}" for ep, target in entry_points.items())]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for relative, source in (modules or {}).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return dist_info


# ---------------------------------------------------------------------------------------------
# The pytest plugin
# ---------------------------------------------------------------------------------------------

# Fixtures only matter inside a pytest session, where pytest is imported already; outside one,
# importing the kit should not pay for importing pytest.
if "pytest" in sys.modules:
    import pytest

    @pytest.fixture
    def zobench_conformance() -> SimpleNamespace:
        """The conformance checks, as ``zobench_conformance.check_component(cls)`` and so on."""
        return SimpleNamespace(
            check_config=check_config,
            check_constructs=check_constructs,
            check_deterministic=check_deterministic,
            check_tiny_run=check_tiny_run,
            check_honest=check_honest,
            check_component=check_component,
            checks_for=checks_for,
        )

    @pytest.fixture
    def zobench_distribution(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[Callable[..., Path]]:
        """Factory: ``zobench_distribution(name, {"ep": "module"}, modules=...)`` installs a
        distribution record in ``tmp_path``, puts ``tmp_path`` on ``sys.path`` and resets the
        process-wide plugin host, so the next lookup discovers it. The host is reset again after
        the test."""
        from zobench.plugins import reset_host

        root = tmp_path / "site-packages"
        root.mkdir()
        monkeypatch.syspath_prepend(str(root))

        def make(name: str, entry_points: Mapping[str, str], **kwargs: Any) -> Path:
            path = make_distribution(root, name, entry_points, **kwargs)
            reset_host()
            return path

        yield make
        reset_host()
