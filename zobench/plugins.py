"""The plugin host: discovers entry points in group ``zobench`` and keeps the component registry.

Every entry point is loaded on its own, and each of its hooks is called on its own: an import
error, a raising hook or an invalid registration becomes a recorded failure and one warning,
and the host keeps working. Environment variables, read when the host loads:

``ZOBENCH_STRICT_PLUGINS=1``
    any plugin failure raises :class:`~zobench.errors.PluginError` (the CLI exits 2).
``ZOBENCH_PLUGINS=a,b``
    allowlist: load only these entry-point or distribution names (empty: load none).
``ZOBENCH_DISABLE_PLUGINS=a,b``
    blocklist: skip these entry-point or distribution names.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import importlib.metadata as md
import os
import re
import sys
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pluggy

from zobench import api, hookspecs, kinds
from zobench.errors import PluginError, UnknownComponentError, did_you_mean
from zobench.kinds import Kind
from zobench.presets import Preset

ENTRY_POINT_GROUP = "zobench"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:[-_.][a-z0-9]+)*$")

C = TypeVar("C", bound=api.Component[Any])
D = TypeVar("D")


class PluginLoadWarning(UserWarning):
    """A plugin failed to load or register; the host carried on without it."""


@dataclass(frozen=True)
class Registration:
    """One registered component and where it came from."""

    kind: str
    name: str
    obj: Any
    distribution: str
    version: str
    plugin: str

    @property
    def summary(self) -> str:
        """The component's one-line summary."""
        return getattr(self.obj, "summary", "")


@dataclass
class PluginRecord:
    """One entry point: its distribution, what it implements, and how loading went."""

    name: str
    distribution: str
    version: str
    module: str
    status: str = "pending"
    """``loaded``, ``failed``, ``partial`` (some hooks failed) or ``disabled``."""
    hooks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _env_names(environ: Mapping[str, str], key: str) -> set[str] | None:
    if key not in environ:
        return None
    return {_normalize(n.strip()) for n in environ[key].split(",") if n.strip()}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class PluginHost:
    """Loads plugins from entry points and answers "which component is called X?".

    ``entry_points`` defaults to the installed distributions' entry points in group ``zobench``;
    ``extra_plugins`` maps a name to an already imported plugin object (tests, notebooks).
    """

    def __init__(
        self,
        entry_points: Iterable[md.EntryPoint] | None = None,
        *,
        extra_plugins: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.environ = os.environ if environ is None else environ
        self.strict = self.environ.get("ZOBENCH_STRICT_PLUGINS", "") not in ("", "0")
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginRecord] = []
        self.registry: dict[tuple[str, str], Registration] = {}
        self.conflicts: dict[tuple[str, str], list[Registration]] = {}
        self._load(entry_points, extra_plugins or {})

    # -- loading -------------------------------------------------------------------------------

    def _selected(self, record: PluginRecord) -> bool:
        names = {_normalize(record.name), _normalize(record.distribution)}
        allow = _env_names(self.environ, "ZOBENCH_PLUGINS")
        block = _env_names(self.environ, "ZOBENCH_DISABLE_PLUGINS") or set()
        return (allow is None or bool(names & allow)) and not names & block

    def _load(self, entry_points: Iterable[md.EntryPoint] | None, extra: Mapping[str, Any]) -> None:
        if entry_points is None:
            entry_points = md.entry_points(group=ENTRY_POINT_GROUP)
        seen: set[tuple[str, str]] = set()
        candidates = []
        for ep in entry_points:
            dist = ep.dist.name if ep.dist is not None else "unknown"
            version = ep.dist.version if ep.dist is not None else "unknown"
            if (_normalize(dist), ep.name) in seen:
                continue  # the same distribution found twice on sys.path
            seen.add((_normalize(dist), ep.name))
            candidates.append((ep, PluginRecord(ep.name, dist, version, ep.value)))
        candidates.sort(key=lambda c: (_normalize(c[1].distribution), c[1].name))
        # Whatever a plugin prints while it imports or registers goes to stderr: stdout carries
        # the command's own output (``--json``), which a chatty plugin must not corrupt.
        with contextlib.redirect_stdout(sys.stderr):
            self._load_candidates(candidates, extra)

    def _load_candidates(
        self, candidates: list[tuple[md.EntryPoint, PluginRecord]], extra: Mapping[str, Any]
    ) -> None:
        for ep, record in candidates:
            self.plugins.append(record)
            if not self._selected(record):
                record.status = "disabled"
                continue
            try:
                module = ep.load()
            except Exception as exc:  # an import error must not take the host down
                self._fail(record, f"import failed: {_one_line(exc)}")
                record.status = "failed"
                continue
            self._register_plugin(module, record)
        for name, plugin in extra.items():
            record = PluginRecord(name, name, "local", getattr(plugin, "__name__", repr(plugin)))
            self.plugins.append(record)
            self._register_plugin(plugin, record)

    def _fail(self, record: PluginRecord, message: str) -> None:
        record.errors.append(message)
        text = f"plugin '{record.name}' ({record.distribution} {record.version}): {message}"
        if self.strict:
            raise PluginError(text + " [ZOBENCH_STRICT_PLUGINS is set]")
        warnings.warn(text, PluginLoadWarning, stacklevel=5)

    def _register_plugin(self, plugin: Any, record: PluginRecord) -> None:
        try:
            self.pm.register(plugin, name=f"{record.distribution}:{record.name}")
        except Exception as exc:  # pluggy's validation of hook signatures
            self._fail(record, f"invalid hook implementation: {_one_line(exc)}")
            record.status = "failed"
            return
        for caller in self.pm.get_hookcallers(plugin) or []:
            if caller.spec is None:  # what pluggy's check_pending reports: a misspelt hook
                hint = did_you_mean(caller.name, kinds.BY_HOOK)
                self._fail(record, f"implements unknown hook '{caller.name}'{hint}")
        for kind in kinds.KINDS:
            caller = getattr(self.pm.hook, kind.hook)
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    record.hooks.append(kind.hook)
                    self._call_hook(impl.function, kind, record)
        registered = any(
            r.plugin == record.name and r.distribution == record.distribution
            for r in [*self.registry.values(), *(r for c in self.conflicts.values() for r in c)]
        )
        if not record.errors:
            record.status = "loaded"
        else:
            record.status = "partial" if registered else "failed"

    def _call_hook(self, function: Any, kind: Kind[Any], record: PluginRecord) -> None:
        staged: list[Registration] = []

        def register(obj: Any, name: str | None = None) -> None:
            staged.append(self._check(kind, obj, name, record))

        try:
            function(register=register)
        except Exception as exc:  # a raising hook registers nothing
            self._fail(record, f"{kind.name} hook raised {_one_line(exc)}")
            return
        for registration in staged:
            key = (kind.name, registration.name)
            if key in self.registry or key in self.conflicts:
                first = self.registry.pop(key, None)
                clash = self.conflicts.setdefault(key, [first] if first else [])
                clash.append(registration)
                owners = " and ".join(f"{r.distribution} {r.version}" for r in clash)
                self._fail(
                    record, f"{kind.name} '{registration.name}' is registered by both {owners}"
                )
            else:
                self.registry[key] = registration

    @staticmethod
    def _check(kind: Kind[Any], obj: Any, name: str | None, record: PluginRecord) -> Registration:
        name = name or getattr(obj, "name", "")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise PluginError(f"invalid {kind.name} name {name!r}: use lower-case words and dashes")
        where = f"{kind.base.__module__}.{kind.base.__qualname__}"
        if kind.is_data:
            if not isinstance(obj, kind.base):
                raise PluginError(f"{kind.name} '{name}' must be a {where}")
        else:
            if not (isinstance(obj, type) and issubclass(obj, kind.base)):
                raise PluginError(f"{kind.name} '{name}' must be a subclass of {where}")
            if not dataclasses.is_dataclass(getattr(obj, "Config", None)):
                raise PluginError(f"{kind.name} '{name}': Config must be a dataclass")
        return Registration(kind.name, name, obj, record.distribution, record.version, record.name)

    # -- queries ---------------------------------------------------------------------------------

    @property
    def failures(self) -> list[PluginRecord]:
        """Plugins that failed to load, or loaded with some failed hooks."""
        return [p for p in self.plugins if p.errors]

    def names(self, kind: str) -> list[str]:
        """Sorted names registered for ``kind``."""
        kind = kinds.canonical(kind)
        return sorted(name for k, name in self.registry if k == kind)

    def components(self, kind: str | None = None) -> list[Registration]:
        """Registrations, sorted by kind (in :data:`zobench.kinds.KINDS` order) then name."""
        kind = None if kind is None else kinds.canonical(kind)
        order = {k: i for i, k in enumerate(kinds.NAMES)}
        regs = [r for r in self.registry.values() if kind is None or r.kind == kind]
        return sorted(regs, key=lambda r: (order[r.kind], r.name))

    def get(self, kind: str, name: str) -> Registration:
        """The registration of ``name`` for ``kind``; a clear error with a suggestion otherwise.

        ``kind`` is a kind's name (:data:`zobench.kinds.NAMES`); its old spelling
        ``preference-model`` still works, with a deprecation warning.
        """
        record = kinds.kind(kind)
        kind = record.name
        if (kind, name) in self.registry:
            return self.registry[(kind, name)]
        if ":" in name and not record.is_data:
            family, _, suffix = name.partition(":")
            base = self.get(kind, family)
            registration = dataclasses.replace(base, name=name, obj=base.obj.resolve(suffix))
            self.registry[(kind, name)] = registration  # resolve once per process
            return registration
        if (kind, name) in self.conflicts:
            owners = " and ".join(f"{r.distribution}" for r in self.conflicts[(kind, name)])
            raise PluginError(
                f"{kind} '{name}' is registered by both {owners}; "
                f"disable one with ZOBENCH_DISABLE_PLUGINS"
            )
        elsewhere = [k for k in kinds.NAMES if (k, name) in self.registry]
        if elsewhere:
            raise UnknownComponentError(f"'{name}' is a {elsewhere[0]}, not a {kind}")
        raise UnknownComponentError(
            f"no {kind} named '{name}'{did_you_mean(name, self.names(kind))}; "
            f"see `zobench list {kind}`"
        )

    # -- the typed facade: one method per kind ---------------------------------------------------

    def component(self, kind: Kind[C], name: str) -> type[C]:
        """The class registered as ``name`` for the component ``kind`` (a :class:`Kind` record)."""
        obj = self.get(kind.name, name).obj
        if not (isinstance(obj, type) and issubclass(obj, kind.base)):  # checked at registration
            raise PluginError(f"{kind.name} '{name}' is not a {kind.base.__qualname__} subclass")
        return obj

    def data(self, kind: Kind[D], name: str) -> D:
        """The object registered as ``name`` for the data ``kind`` (suites, presets)."""
        obj = self.get(kind.name, name).obj
        if not isinstance(obj, kind.base):  # checked at registration
            raise PluginError(f"{kind.name} '{name}' is not a {kind.base.__qualname__}")
        return obj

    def algorithm(self, name: str) -> type[api.Algorithm[Any]]:
        """The algorithm class called ``name``."""
        return self.component(kinds.ALGORITHM, name)

    def environment(self, name: str) -> type[api.Environment[Any]]:
        """The environment class called ``name`` (``gym:<EnvId>`` resolves a family member)."""
        return self.component(kinds.ENVIRONMENT, name)

    def preference(self, name: str) -> type[api.PreferenceModel[Any]]:
        """The preference model class called ``name``."""
        return self.component(kinds.PREFERENCE, name)

    def topology(self, name: str) -> type[api.Topology[Any]]:
        """The topology class called ``name``."""
        return self.component(kinds.TOPOLOGY, name)

    def executor(self, name: str) -> type[api.Executor[Any]]:
        """The executor class called ``name``."""
        return self.component(kinds.EXECUTOR, name)

    def suite(self, name: str) -> api.SuiteDefinition:
        """The suite definition called ``name``."""
        return self.data(kinds.SUITE, name)

    def preset(self, name: str) -> Preset:
        """The preset called ``name``."""
        return self.data(kinds.PRESET, name)

    @contextlib.contextmanager
    def registered(self, cls: type[api.Component[Any]]) -> Iterator[None]:
        """Make ``cls`` resolvable by its kind and name for the duration (the conformance kit's
        classes under test, which may not be installed, or may be shadowed by an installed one).

        An already registered identical class is left alone; a shadowed one comes back after.
        """
        key = (kinds.canonical(cls.kind), cls.name)
        previous = self.registry.get(key)
        if previous is not None and previous.obj is cls:
            yield
            return
        self.registry[key] = Registration(
            key[0], cls.name, cls, "zobench-conformance", "local", "zobench.testing"
        )
        try:
            yield
        finally:
            if previous is None:
                self.registry.pop(key, None)
            else:
                self.registry[key] = previous

    def find(self, name: str) -> Registration:
        """Look ``name`` up across every kind (for ``zobench info``)."""
        matches = self.components_named(name)
        if matches:
            return matches[0]
        if ":" in name:  # a family member, e.g. gym:FrozenLake-v1
            family = name.partition(":")[0]
            for registration in self.components_named(family):
                return self.get(registration.kind, name)
        every = sorted({n for _, n in self.registry})
        hint = did_you_mean(name, every)
        if not hint and every:
            closest = difflib.get_close_matches(name, every, n=1, cutoff=0.0)
            hint = f" (did you mean '{closest[0]}'?)" if closest else ""
        raise UnknownComponentError(f"no component named '{name}'{hint}; see `zobench list`")

    def presets(self) -> list[Preset]:
        """Every registered preset, in name order."""
        return [r.obj for r in self.components(kinds.PRESET.name)]

    def components_named(self, name: str) -> list[Registration]:
        """Every registration called ``name``, in kind order."""
        return [r for r in self.components() if r.name == name]


_HOST: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide plugin host, loaded on first use."""
    global _HOST
    if _HOST is None:
        _HOST = PluginHost()
    return _HOST


def reset_host() -> None:
    """Forget the loaded plugins; the next :func:`get_host` discovers them again."""
    global _HOST
    _HOST = None
