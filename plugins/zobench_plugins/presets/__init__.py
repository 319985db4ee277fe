"""Built-in presets: every ``*.toml`` file in this package, registered as :class:`Preset` objects.

Each file is what ``zobench tune`` wrote (its ``presets.toml``), with the protocol that found the
values; docs/tuning.md lists them. A third-party distribution ships its own presets the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

import zobench
from zobench.presets import Preset, load_presets


def presets() -> list[Preset]:
    """The presets shipped in this package, file by file in name order."""
    files = sorted(
        (f for f in resources.files(__package__).iterdir() if f.name.endswith(".toml")),
        key=lambda f: f.name,
    )
    found: list[Preset] = []
    for file in files:
        found.extend(load_presets(file.read_text(encoding="utf-8"), source=f"zobench:{file.name}"))
    return found


@zobench.hookimpl
def zobench_register_presets(register: Callable[[Preset], None]) -> None:
    """Register the built-in presets."""
    for preset in presets():
        register(preset)
