"""The kinds of component a plugin registers: one record per kind, every kind table derived from it.

A kind's record says everything zobench knows about it: its name (what ``zobench list KIND``,
``host.get(KIND, ...)`` and ``zobench.make(KIND, ...)`` take), the hook that registers it, what
a registration must be (a subclass of a base class, or an instance of a data type), the suite
table that names it, and how the command line spells it. The host, the suite parser, run specs,
the CLI, the scaffold and the conformance kit read their tables from here, so a kind added or
renamed here is added or renamed everywhere (``tests/test_kinds.py`` checks that).

One vocabulary: a kind's name is also its suite table and run-spec field (``[preference]``,
``RunSpec.preference``). The preference kind was once called ``preference-model``; that spelling
still works wherever a user could have written it, with one deprecation line
(:class:`KindSpellingWarning`).
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from zobench.errors import UnknownComponentError, did_you_mean

if TYPE_CHECKING:
    from zobench import api
    from zobench.presets import Preset

T = TypeVar("T")


class KindSpellingWarning(FutureWarning):
    """A kind was spelled the old way (``preference-model``); the new spelling is given."""


@dataclass(frozen=True)
class Kind(Generic[T]):
    """One kind of component: how it is named, registered, checked and written in suites."""

    name: str
    """The kind's name: ``zobench list NAME``, ``host.get(NAME, ...)``, ``zobench.make(NAME, ...)``."""
    plural: str
    """How listings title it (``preference models``)."""
    hook: str
    """The registrar hook of :mod:`zobench.hookspecs` that registers it."""
    base_path: str
    """Where :attr:`base` lives, ``module:attribute``. A path, not the class: this module is
    imported by the contracts themselves and by layers that must not load the kernel
    (``report/`` reads run specs), so it imports nothing heavy."""
    is_data: bool = False
    """True when plugins register objects (suites, presets) rather than component classes."""
    suite_table: str | None = None
    """The suite table (and :class:`~zobench.bench.spec.RunSpec` field) naming it, if any."""
    aliases: tuple[str, ...] = ()
    """Other spellings the command line accepts (the plural is always accepted)."""
    deprecated: tuple[str, ...] = ()
    """Old spellings still accepted, each with a :class:`KindSpellingWarning`."""

    @property
    def base(self) -> type[T]:
        """What a registration must be: a subclass of ``base`` (component kinds) or an instance
        of it (data kinds, see :attr:`is_data`)."""
        module, _, attribute = self.base_path.partition(":")
        # the annotation of each record below says which class its path names (test_kinds)
        return cast("type[T]", getattr(importlib.import_module(module), attribute))

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every current spelling: the name, the plural (dashed) and the aliases."""
        current = (self.name, self.plural.replace(" ", "-"), *self.aliases)
        return tuple(s for s in current if s not in self.deprecated)


ALGORITHM: Kind[api.Algorithm[Any]] = Kind(
    "algorithm",
    "algorithms",
    "zobench_register_algorithms",
    "zobench.api:Algorithm",
    suite_table="algorithm",
)
ENVIRONMENT: Kind[api.Environment[Any]] = Kind(
    "environment",
    "environments",
    "zobench_register_environments",
    "zobench.api:Environment",
    suite_table="environment",
)
PREFERENCE: Kind[api.PreferenceModel[Any]] = Kind(
    "preference",
    "preference models",
    "zobench_register_preference_models",
    "zobench.api:PreferenceModel",
    suite_table="preference",
    aliases=("preferences",),
    deprecated=("preference-model", "preference-models"),
)
TOPOLOGY: Kind[api.Topology[Any]] = Kind(
    "topology",
    "topologies",
    "zobench_register_topologies",
    "zobench.api:Topology",
    suite_table="topology",
)
EXECUTOR: Kind[api.Executor[Any]] = Kind(
    "executor", "executors", "zobench_register_executors", "zobench.api:Executor"
)
SUITE: Kind[api.SuiteDefinition] = Kind(
    "suite", "suites", "zobench_register_suites", "zobench.api:SuiteDefinition", is_data=True
)
PRESET: Kind[Preset] = Kind(
    "preset", "presets", "zobench_register_presets", "zobench.presets:Preset", is_data=True
)

KINDS: tuple[Kind[Any], ...] = (
    ALGORITHM,
    ENVIRONMENT,
    PREFERENCE,
    TOPOLOGY,
    EXECUTOR,
    SUITE,
    PRESET,
)
"""Every kind, in the order listings show them."""

BY_NAME: dict[str, Kind[Any]] = {kind.name: kind for kind in KINDS}
NAMES: tuple[str, ...] = tuple(BY_NAME)
"""Every kind's name, in listing order."""
BY_HOOK: dict[str, Kind[Any]] = {kind.hook: kind for kind in KINDS}
"""The kind each registrar hook registers."""
COMPONENT_KINDS: tuple[Kind[Any], ...] = tuple(kind for kind in KINDS if not kind.is_data)
"""Kinds registered as classes (with a ``Config``), as opposed to data objects."""
SUITE_TABLES: dict[str, Kind[Any]] = {k.suite_table: k for k in KINDS if k.suite_table}
"""Suite table (and run-spec field) → its kind, in listing order."""

_SPELLINGS: dict[str, Kind[Any]] = {s: kind for kind in KINDS for s in kind.spellings}
_OLD_SPELLINGS: dict[str, Kind[Any]] = {s: kind for kind in KINDS for s in kind.deprecated}


def _caller_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside zobench, so a warning names the user's line."""
    package = os.path.dirname(__file__) + os.sep
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def deprecated_spelling(old: str, new: str) -> None:
    """Warn that the kind ``old`` is now spelled ``new`` (a :class:`KindSpellingWarning`)."""
    warnings.warn(
        f"the kind '{old}' is now spelled '{new}'; '{old}' will stop working in a future release",
        KindSpellingWarning,
        stacklevel=_caller_stacklevel(),
    )


def kind(spelling: str, *, loose: bool = False) -> Kind[Any]:
    """The kind called ``spelling``; an old spelling warns, an unknown one is a clear error.

    ``loose`` (the command line) also takes plurals, aliases and any letter case.
    """
    if spelling in BY_NAME:
        return BY_NAME[spelling]
    key = spelling.lower() if loose else spelling
    if key in _OLD_SPELLINGS:
        found = _OLD_SPELLINGS[key]
        deprecated_spelling(spelling, found.name)
        return found
    if loose and key in _SPELLINGS:
        return _SPELLINGS[key]
    raise UnknownComponentError(
        f"unknown kind '{spelling}'{did_you_mean(spelling, NAMES)}; kinds: {', '.join(NAMES)}"
    )


def canonical(spelling: str, *, loose: bool = False) -> str:
    """The name of the kind called ``spelling`` (see :func:`kind`)."""
    return kind(spelling, loose=loose).name
