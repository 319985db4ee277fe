"""The hook specifications of the ``zobench`` pluggy project (registrar style, as llm does).

A plugin module implements any of these with ``@zobench.hookimpl`` and calls ``register`` once
per component class. The host validates every registration in one place: names must be
lower-case words joined by dashes, and a name registered twice is an error naming both
distributions.

Example, in a module declared under ``[project.entry-points.zobench]``::

    import zobench

    @zobench.hookimpl
    def zobench_register_algorithms(register):
        register(MyAlgorithm)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

from zobench.kinds import BY_HOOK

PROJECT = "zobench"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[[Any], None]


@hookspec
def zobench_register_algorithms(register: Register) -> None:
    """Register :class:`zobench.api.Algorithm` subclasses: ``register(MyAlgorithm)``."""


@hookspec
def zobench_register_environments(register: Register) -> None:
    """Register :class:`zobench.api.Environment` subclasses: ``register(MyEnvironment)``."""


@hookspec
def zobench_register_preference_models(register: Register) -> None:
    """Register :class:`zobench.api.PreferenceModel` subclasses: ``register(MyLink)``."""


@hookspec
def zobench_register_topologies(register: Register) -> None:
    """Register :class:`zobench.api.Topology` subclasses: ``register(MyTopology)``."""


@hookspec
def zobench_register_executors(register: Register) -> None:
    """Register :class:`zobench.api.Executor` subclasses: ``register(MyExecutor)``."""


@hookspec
def zobench_register_suites(register: Register) -> None:
    """Register :class:`zobench.api.SuiteDefinition` objects: ``register(SuiteDefinition(...))``."""


@hookspec
def zobench_register_presets(register: Register) -> None:
    """Register :class:`zobench.presets.Preset` objects (tuned settings per algorithm and
    environment instance), one call per preset: ``for p in load_presets(text, source=...):
    register(p)`` registers a file."""


HOOK_KINDS: dict[str, str] = {hook: kind.name for hook, kind in BY_HOOK.items()}
"""Which kind of component each hook registers (from :mod:`zobench.kinds`)."""
