"""Run identity: the configuration a run will really use, and a fingerprint of the code that runs it.

:func:`resolve` validates every component's settings exactly as the runner does (``validate`` →
Config dataclass) and writes the result out in plain JSON form, defaults included (tuples as
lists), with the environment's default topology filled in. So ``zpg`` and ``zpg`` with
``step_size`` set to its default resolve alike, and changing a default changes the resolution.

:func:`fingerprint` describes the code, as asv hashes a benchmark's source: for each component its
distribution and version, the sha256 of the source of the modules that implement it (its class's
module, the modules of its base classes, and the modules of its own package that those import,
transitively — zbcpg's hash covers zpg, which it builds on), the outside-library versions it
declares (:meth:`zobench.api.Component.dependency_versions`) and the content of the files it
reads (:meth:`zobench.api.Component.input_files`); plus the kernel that turns them into numbers
(``zobench.sim``, the runner and config validation). Source hashes are cached per process, so
planning a suite of thousands of runs costs little more than validating it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zobench.__about__ import __version__
from zobench.bench.records import canonical_json, config_hash, run_id_of
from zobench.bench.spec import COMPONENT_KINDS, SPEC_VERSION, ComponentSpec, RunSpec
from zobench.config import validate
from zobench.errors import ConfigError
from zobench.plugins import PluginHost, Registration, get_host
from zobench.presets import Preset, PresetError, best_match

KERNEL_MODULES: tuple[str, ...] = ("zobench.bench.runner", "zobench.config")
"""Core modules outside ``zobench.sim`` whose source is part of every run's fingerprint."""


@dataclass(frozen=True)
class Identity:
    """Who a run is: its id, the resolved configuration and its hash, the code fingerprint."""

    run_id: str
    config_hash: str
    resolved: dict[str, Any]
    fingerprint: dict[str, Any]
    components: dict[str, dict[str, str]]
    """Spec field → ``{"name", "distribution", "version"}`` of the component's plugin."""


def plain(value: Any) -> Any:
    """A validated setting as plain JSON data: dataclasses as tables, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a setting of type {type(value).__name__} has no JSON form")


@functools.lru_cache(maxsize=65536)
def _validated(cls: Any, params_json: str, path: str) -> tuple[Any, str]:
    """The validated config of a component class and its plain JSON text (cached per process)."""
    config = validate(cls.Config, json.loads(params_json), path=path)
    return config, canonical_json(plain(config))


def _resolve_one(
    field_name: str, component: ComponentSpec, host: PluginHost
) -> tuple[Registration, Any, dict[str, Any]]:
    registration = host.get(COMPONENT_KINDS[field_name], component.name)
    written = canonical_json(component.canonical()["params"])
    config, text = _validated(registration.obj, written, field_name)
    return registration, config, {"name": component.name, "params": json.loads(text)}


def _with_topology(spec: RunSpec, host: PluginHost) -> dict[str, ComponentSpec]:
    """The spec's components, the environment's default topology filled in when none is set."""
    components = dict(spec.components())
    if "topology" not in components:
        default = host.environment(spec.environment.name).default_topology
        components["topology"] = ComponentSpec(default, {})
    return components


def with_preset(spec: RunSpec, host: PluginHost | None = None) -> tuple[RunSpec, Preset | None]:
    """``spec`` with the matching preset's settings under what it writes, and that preset.

    Settings resolve as: what the spec (the suite) writes > the preset > the component default.
    The preset is matched on the environment's and preference model's *resolved* settings, so
    writing a default out matches as leaving it implicit does. Without presets (``spec.presets``
    false, or none matching) the spec comes back unchanged.
    """
    host = host or get_host()
    presets = [p for p in host.presets() if p.algorithm == spec.algorithm.name]
    if not spec.presets or not presets:
        return spec, None
    env = _resolve_one("environment", spec.environment, host)[2]
    pref = _resolve_one("preference", spec.preference, host)[2]
    preset = best_match(
        presets,
        spec.algorithm.name,
        spec.environment.name,
        env["params"],
        spec.preference.name,
        pref["params"],
    )
    if preset is None:
        return spec, None
    params = {**preset.settings, **spec.algorithm.params}
    algorithm = host.algorithm(spec.algorithm.name)
    try:
        validate(algorithm.Config, params, path="algorithm")
    except ConfigError as exc:
        validate(algorithm.Config, spec.algorithm.params, path="algorithm")  # the user's own?
        raise PresetError(f"preset '{preset.name}' ({preset.source}): {exc}") from None
    return dataclasses.replace(spec, algorithm=ComponentSpec(spec.algorithm.name, params)), preset


def identify(spec: RunSpec, host: PluginHost | None = None) -> Identity:
    """Resolve ``spec`` and fingerprint its code; raises the usual ZobenchErrors for bad specs."""
    host = host or get_host()
    spec, preset = with_preset(spec, host)
    resolved: dict[str, Any] = {"spec_version": SPEC_VERSION}
    code: dict[str, Any] = {"kernel": kernel_fingerprint()}
    components: dict[str, dict[str, str]] = {}
    for field_name, component in _with_topology(spec, host).items():
        registration, config, entry = _resolve_one(field_name, component, host)
        resolved[field_name] = entry
        code[field_name] = component_fingerprint(registration, config)
        components[field_name] = {
            "name": component.name,
            "distribution": registration.distribution,
            "version": registration.version,
        }
    resolved.update({key: getattr(spec, key) for key in ("seed", "iterations")})
    resolved.update({key: getattr(spec, key) for key in ("eval_every", "eval_episodes")})
    if preset is not None:  # where the algorithm's settings came from, recorded with them
        resolved["preset"] = {"name": preset.name, "source": preset.source}
    digest = config_hash(resolved)
    return Identity(run_id_of(digest, code), digest, resolved, code, components)


def resolve(spec: RunSpec, host: PluginHost | None = None) -> dict[str, Any]:
    """The resolved configuration of ``spec`` (see the module docstring)."""
    return identify(spec, host).resolved


def component_fingerprint(registration: Registration, config: Any) -> dict[str, Any]:
    """The code fingerprint of one component with its validated config."""
    cls = registration.obj
    return {
        "distribution": registration.distribution,
        "version": registration.version,
        "source": class_source_hash(cls),
        "dependencies": dict(sorted(cls.dependency_versions().items())),
        "inputs": {str(path): file_hash(Path(path)) for path in cls.input_files(config)},
    }


def kernel_fingerprint() -> dict[str, str]:
    """The zobench version and the source hash of the simulation kernel and the runner."""
    return {"zobench": __version__, "source": _kernel_hash()}


@functools.cache
def _kernel_hash() -> str:
    """Hash of every source file of the kernel, found on disk (not by what happens to be
    imported, which differs between processes)."""
    package = Path(__file__).resolve().parents[1]  # the zobench package folder
    files = sorted((package / "sim").rglob("*.py"))
    files += [
        package / (name.split(".", 1)[1].replace(".", "/") + ".py") for name in KERNEL_MODULES
    ]
    hashes = {}
    for path in files:
        try:
            hashes[path.relative_to(package).as_posix()] = hashlib.sha256(
                path.read_bytes()
            ).hexdigest()
        except OSError:
            hashes[path.relative_to(package).as_posix()] = "unreadable"
    return _combined(hashes)


def _combined(hashes: Mapping[str, str]) -> str:
    return hashlib.sha256(canonical_json(dict(hashes)).encode()).hexdigest()


@functools.cache
def module_source_hash(name: str) -> str:
    """sha256 of a loaded module's source file (its source text when it has no file)."""
    module = sys.modules.get(name)
    if module is None:
        return "not loaded"
    path = getattr(module, "__file__", None)
    if path and path.endswith(".py"):
        try:
            return hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            pass
    try:
        return hashlib.sha256(inspect.getsource(module).encode()).hexdigest()
    except (OSError, TypeError):
        return "no source"


def _top(name: str) -> str:
    return name.split(".", 1)[0]


@functools.cache
def _package_closure(name: str) -> frozenset[str]:
    """``name`` and the modules of its own top-level package it imports, transitively.

    A package's submodules appear among its attributes once anything imports them, so they are
    not followed from the package (that would depend on what else this process imported).
    """
    top, seen, todo = _top(name), {name}, [name]
    while todo:
        current = todo.pop()
        module = sys.modules.get(current)
        for value in list(vars(module).values()) if module is not None else ():
            try:
                other = value.__name__ if isinstance(value, types.ModuleType) else None
                other = other or getattr(value, "__module__", None)
            except Exception:  # an exotic object (a lazy proxy): not a module of ours
                continue
            if (
                isinstance(other, str)
                and other not in seen
                and _top(other) == top
                and not other.startswith(current + ".")
            ):
                seen.add(other)
                todo.append(other)
    return frozenset(seen)


@functools.cache
def class_source_hash(cls: type) -> str:
    """Hash of the source that implements a component class (see the module docstring).

    Base classes from zobench's own core (``zobench.api``) count by their own module only: the
    rest of the core is the kernel, fingerprinted once for every run.
    """
    modules: set[str] = set()
    for klass in cls.__mro__:
        if klass is object:
            continue
        module = klass.__module__
        modules |= {module} if _top(module) == "zobench" else _package_closure(module)
    return _combined({name: module_source_hash(name) for name in sorted(modules)})


def file_hash(path: Path) -> str:
    """sha256 of a file a component reads (``"missing"`` when it cannot be read)."""
    try:
        stat = path.stat()
    except OSError:
        return "missing"
    return _file_hash(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4096)
def _file_hash(path: str, mtime_ns: int, size: int) -> str:
    """Cached by modification time and size, so a suite reading one file hashes it once."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "missing"


def code_differs(record: Mapping[str, Any], host: PluginHost | None = None) -> bool | None:
    """Whether the installed code would compute a (published) record's run differently.

    ``True`` when its fingerprint differs from the installed code's, or it has none (published
    before fingerprints were recorded); ``None`` when its components are not installed.
    """
    from zobench.errors import ZobenchError

    try:
        now = identify(RunSpec.from_record(record["spec"]), host)
    except (ZobenchError, KeyError, TypeError, ValueError):
        return None
    return record.get("fingerprint") != now.fingerprint


def with_config_hash(record: Mapping[str, Any], host: PluginHost | None = None) -> dict[str, Any]:
    """A published record with the hash of its configuration resolved by the installed plugins.

    Records published before configurations were resolved keep their settings only as written;
    resolving them now lets them be matched with new runs of the same configuration. A record
    that cannot be resolved (its plugins are not installed) is returned unchanged.
    """
    from zobench.errors import ZobenchError

    if record.get("config_hash"):
        return dict(record)
    try:
        digest = identify(RunSpec.from_record(record["spec"]), host).config_hash
    except (ZobenchError, KeyError, TypeError, ValueError):
        return dict(record)
    return {**record, "config_hash": digest}
