"""Presets: tuned settings shipped as data, per (algorithm, environment instance[, preference]).

A preset file is TOML with one ``[[preset]]`` table per preset::

    [[preset]]
    algorithm = "zpg"
    environment = { name = "gridworld" }            # the instance: a name and any settings
    preference = { name = "bradley-terry" }          # optional: a preference-specific preset
    settings = { step_size = 0.03, mu = 4.0 }
    [preset.protocol]                                # how the values were found (shown, recorded)
    trials = 24
    seeds = [1000, 1001, 1002]
    objective = "auc"

Plugins register presets through the ``zobench_register_presets`` hook, e.g.
``register(*load_presets(text, source="..."))``. A run's algorithm settings resolve as: what the
suite writes, else the matching preset's, else the component's default. A preset matches a run
when its algorithm and environment names agree and every environment (and preference) setting
it names equals the run's; among matching presets the most specific wins (a preference named,
then more settings named), and two equally specific ones are an error.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from zobench import kinds
from zobench.errors import ZobenchError


class PresetError(ZobenchError):
    """A preset file that does not parse, or two presets that match a run equally well."""


@dataclass(frozen=True)
class Preset:
    """Tuned settings of one algorithm on one environment instance (optionally one preference)."""

    algorithm: str
    environment: str
    settings: Mapping[str, Any]
    environment_params: Mapping[str, Any] = field(default_factory=dict)
    preference: str | None = None
    preference_params: Mapping[str, Any] = field(default_factory=dict)
    protocol: Mapping[str, Any] = field(default_factory=dict)
    """How the settings were found: trials, seeds, objective, date, zobench version, suite."""
    source: str = ""
    """The file or plugin the preset came from, for messages."""
    kind: ClassVar[str] = kinds.PRESET.name

    @property
    def name(self) -> str:
        """Registry name: ``algorithm.environment[.preference]``, then the instance's settings
        when it names one or two, else a six-digit digest of them."""
        parts = [self.algorithm, self.environment, *([self.preference] if self.preference else [])]
        name = ".".join(_slug(p) for p in parts)
        instance = {
            **self.environment_params,
            **{f"pref.{k}": v for k, v in self.preference_params.items()},
        }
        if 0 < len(instance) <= 2:
            name += "." + "-".join(
                f"{_slug(k)}-{_slug(str(v))}" for k, v in sorted(instance.items())
            )
        elif instance:
            text = json.dumps(instance, sort_keys=True, default=str)
            name += "." + hashlib.sha256(text.encode()).hexdigest()[:6]
        return name

    @property
    def summary(self) -> str:
        """One line for ``zobench list``."""
        settings = ", ".join(f"{k} = {v!r}" for k, v in self.settings.items())
        where = self.environment + (f" / {self.preference}" if self.preference else "")
        return f"{settings} ({self.algorithm} on {where})"

    def instance_text(self) -> str:
        """The instance the preset is for, as a reader would write it."""
        text = _component_text(self.environment, self.environment_params)
        if self.preference:
            text += " / " + _component_text(self.preference, self.preference_params)
        return text

    def matches(
        self,
        algorithm: str,
        environment: str,
        environment_params: Mapping[str, Any],
        preference: str,
        preference_params: Mapping[str, Any],
    ) -> bool:
        """True when this preset is for that algorithm on that (resolved) instance."""
        if (self.algorithm, self.environment) != (algorithm, environment):
            return False
        if any(environment_params.get(k) != v for k, v in self.environment_params.items()):
            return False
        if self.preference is None:
            return True
        return self.preference == preference and all(
            preference_params.get(k) == v for k, v in self.preference_params.items()
        )

    def specificity(self) -> tuple[int, int]:
        """How much of the instance the preset names; the most specific match wins."""
        named = len(self.environment_params) + len(self.preference_params)
        return (self.preference is not None, named)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _component_text(name: str, params: Mapping[str, Any]) -> str:
    if not params:
        return name
    return f"{name} ({', '.join(f'{k} = {v!r}' for k, v in sorted(params.items()))})"


def _component(value: Any, where: str) -> tuple[str, dict[str, Any]]:
    if isinstance(value, str):
        return value, {}
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        return value["name"], {k: v for k, v in value.items() if k != "name"}
    raise PresetError(f"{where}: expected a name or a table with a name, got {value!r}")


def load_presets(text: str, *, source: str) -> list[Preset]:
    """Parse a preset file; any mistake raises :class:`PresetError` with its TOML path."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(f"{source}: invalid TOML: {exc}") from None
    unknown = set(data) - {"preset"}
    if unknown:
        raise PresetError(f"{source}: {sorted(unknown)[0]}: unknown key (expected [[preset]])")
    tables = data.get("preset", [])
    if not isinstance(tables, list):
        raise PresetError(f"{source}: preset: expected an array of tables [[preset]]")
    presets = []
    allowed = {"algorithm", "environment", "preference", "settings", "protocol"}
    for i, table in enumerate(tables):
        where = f"{source}: preset[{i}]"
        extra = set(table) - allowed
        if extra:
            raise PresetError(f"{where}.{sorted(extra)[0]}: unknown key")
        algorithm = table.get("algorithm")
        if not isinstance(algorithm, str):
            raise PresetError(f"{where}.algorithm: expected the algorithm's name")
        if "environment" not in table:
            raise PresetError(f"{where}.environment: required")
        environment, environment_params = _component(table["environment"], f"{where}.environment")
        preference, preference_params = (
            _component(table["preference"], f"{where}.preference")
            if "preference" in table
            else (None, {})
        )
        settings = table.get("settings")
        if not isinstance(settings, Mapping) or not settings:
            raise PresetError(f"{where}.settings: expected a table of at least one setting")
        protocol = table.get("protocol", {})
        if not isinstance(protocol, Mapping):
            raise PresetError(f"{where}.protocol: expected a table")
        presets.append(
            Preset(
                algorithm,
                environment,
                dict(settings),
                environment_params,
                preference,
                preference_params,
                dict(protocol),
                source,
            )
        )
    return presets


def best_match(
    presets: Iterable[Preset],
    algorithm: str,
    environment: str,
    environment_params: Mapping[str, Any],
    preference: str,
    preference_params: Mapping[str, Any],
) -> Preset | None:
    """The most specific preset for the run's algorithm and (resolved) instance, or ``None``."""
    candidates = [
        p
        for p in presets
        if p.matches(algorithm, environment, environment_params, preference, preference_params)
    ]
    if not candidates:
        return None
    candidates.sort(key=Preset.specificity, reverse=True)
    if len(candidates) > 1 and candidates[0].specificity() == candidates[1].specificity():
        raise PresetError(
            f"presets '{candidates[0].name}' ({candidates[0].source}) and "
            f"'{candidates[1].name}' ({candidates[1].source}) both match {algorithm} on "
            f"{_component_text(environment, environment_params)}; make one more specific"
        )
    return candidates[0]


def dump_presets(presets: Iterable[Preset]) -> str:
    """Preset TOML text (what ``zobench tune`` writes), readable by :func:`load_presets`."""
    lines: list[str] = []
    for preset in presets:
        lines.append("[[preset]]")
        lines.append(f"algorithm = {_toml(preset.algorithm)}")
        lines.append(f"environment = {_inline(preset.environment, preset.environment_params)}")
        if preset.preference:
            lines.append(f"preference = {_inline(preset.preference, preset.preference_params)}")
        lines.append("settings = " + _table(preset.settings))
        if preset.protocol:
            lines.append("[preset.protocol]")
            lines.extend(f"{k} = {_toml(v)}" for k, v in preset.protocol.items())
        lines.append("")
    return "\n".join(lines)


def _inline(name: str, params: Mapping[str, Any]) -> str:
    return _table({"name": name, **params})


def _table(values: Mapping[str, Any]) -> str:
    return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in values.items()) + " }"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return _table(value)
    raise TypeError(f"cannot write {value!r} as TOML")
