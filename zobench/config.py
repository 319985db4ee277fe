"""Validate plain mappings (from TOML or keyword arguments) against a component's Config dataclass.

Errors name the field's path (``algorithm[0].mu``) and suggest close names for unknown keys. Types
are checked strictly by pydantic (no ``"0.5"`` for a float, no ``true`` for an int); NaN and
infinity are refused everywhere, and so are integers outside the signed 64-bit range (TOML allows
any size, but the store's columns and numpy's arrays do not). Values are shown shortened in
messages, so a huge one still gives one short line.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import reprlib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from zobench.errors import ConfigError, did_you_mean
from zobench.space import TUNE_METADATA


@dataclass(frozen=True)
class FieldInfo:
    """One documented Config field, as ``zobench info`` shows it."""

    name: str
    type: str
    default: Any
    doc: str
    source: str
    tune: str = ""
    """The search space ``zobench tune`` samples, described (empty when not tuned)."""


def _type_name(hint: Any) -> str:
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")


@functools.cache
def _hints(config_cls: type) -> dict[str, Any]:
    return typing.get_type_hints(config_cls)


@functools.cache
def _adapter(hint: Any) -> TypeAdapter:
    return TypeAdapter(hint)


def describe(config_cls: type) -> list[FieldInfo]:
    """The fields of a Config dataclass with type, default, documentation and provenance."""
    hints = _hints(config_cls)
    infos = []
    for f in dataclasses.fields(config_cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = dataclasses.MISSING
        infos.append(
            FieldInfo(
                name=f.name,
                type=_type_name(hints.get(f.name, f.type)),
                default=default,
                doc=f.metadata.get("doc", ""),
                source=f.metadata.get("source", "ours"),
                tune=space.describe() if (space := f.metadata.get(TUNE_METADATA)) else "",
            )
        )
    return infos


def _tuplify(value: Any, hint: Any) -> Any:
    """TOML has arrays, not tuples: turn lists into tuples wherever the type asks for a tuple."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is not type(None) and typing.get_origin(arg) in (tuple, list):
                return _tuplify(value, arg)
        return value
    if isinstance(value, list) and origin in (tuple, list):
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            items = [_tuplify(v, args[0]) for v in value]
        elif origin is tuple and args and len(args) == len(value):
            items = [_tuplify(v, a) for v, a in zip(value, args, strict=True)]
        else:
            items = [_tuplify(v, args[0] if args else Any) for v in value]
        return tuple(items) if origin is tuple else items
    return value


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""The integers a setting may hold: what a parquet ``Int64`` column and numpy's int64 take."""

_SHORT = reprlib.Repr()
_SHORT.maxlong = _SHORT.maxstring = _SHORT.maxother = 40


def shown(value: Any) -> str:
    """``repr(value)`` cut short for messages (a 4000-digit integer or a long list stays short)."""
    return _SHORT.repr(value)


def out_of_int64(value: Any, where: str = "") -> str | None:
    """The path below ``value`` of the first integer outside the int64 range (None when none)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return where if not INT64_MIN <= value <= INT64_MAX else None
    items: Any = ()
    if isinstance(value, (list, tuple)):
        items = ((f"[{i}]", v) for i, v in enumerate(value))
    elif isinstance(value, Mapping):
        items = ((f".{k}", v) for k, v in value.items())
    for step, item in items:
        found = out_of_int64(item, where + step)
        if found is not None:
            return found
    return None


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return any(_non_finite(v) for v in value)
    if isinstance(value, Mapping):
        return any(_non_finite(v) for v in value.values())
    return False


def validate(config_cls: type, values: Mapping[str, Any], *, path: str = "") -> Any:
    """Build ``config_cls`` from ``values``, or raise :class:`ConfigError` naming the bad path.

    ``path`` prefixes field names in messages, e.g. ``"algorithm[0]"`` gives ``algorithm[0].mu``.
    The dataclass's own ``__post_init__`` may raise ``ValueError`` for cross-field rules; that
    becomes a ConfigError too.
    """
    prefix = f"{path}." if path else ""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{path or 'config'}: expected a table, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    hints = _hints(config_cls)
    checked: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            shown_key = key if isinstance(key, str) and key.isprintable() else repr(key)
            raise ConfigError(
                f"{prefix}{shown_key}: unknown setting{did_you_mean(str(key), fields)}"
            )
        hint = hints[key]
        try:
            checked[key] = _adapter(hint).validate_python(_tuplify(value, hint), strict=True)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
            raise ConfigError(
                f"{prefix}{key}{where}: {first['msg']} "
                f"(expected {_type_name(hint)}, got {shown(value)})"
            ) from None
        if _non_finite(checked[key]):
            raise ConfigError(f"{prefix}{key}: must be a finite number, got {shown(value)}")
        beyond = out_of_int64(checked[key])
        if beyond is not None:
            raise ConfigError(
                f"{prefix}{key}{beyond}: integers must lie within the 64-bit range "
                f"(-2**63 to 2**63 - 1), got {shown(value)}"
            )
    missing = [
        name
        for name, f in fields.items()
        if name not in checked
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{prefix}{missing[0]}: required setting is missing")
    try:
        return config_cls(**checked)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        # A rule that names its field first ("seeds[2]: ...") gets the field's full path.
        named = re.match(r"([A-Za-z_]\w*)[\[:]", message)
        if named and named.group(1) in fields:
            raise ConfigError(f"{prefix}{message}") from None
        raise ConfigError(f"{path or config_cls.__qualname__}: {message}") from None


def as_dict(config: Any) -> dict[str, Any]:
    """A Config instance as a plain dict (tuples kept), for hashing and records."""
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
