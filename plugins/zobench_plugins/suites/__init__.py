"""Built-in suites: every ``*.toml`` file in this package, registered as a SuiteDefinition.

A suite's registered name is its TOML ``name`` and its summary the ``description``; the full
text is checked (components, settings) only when the suite is run or validated, so a suite that
names a missing plugin does not break ``zobench list``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from importlib import resources

import zobench
from zobench.api import SuiteDefinition


def definitions() -> list[SuiteDefinition]:
    """The suites shipped in this package, sorted by file name."""
    files = sorted(
        (f for f in resources.files(__package__).iterdir() if f.name.endswith(".toml")),
        key=lambda f: f.name,
    )
    suites = []
    for file in files:
        text = file.read_text(encoding="utf-8")
        header = tomllib.loads(text)
        suites.append(SuiteDefinition(header["name"], header.get("description", ""), text))
    return suites


@zobench.hookimpl
def zobench_register_suites(register: Callable[[SuiteDefinition], None]) -> None:
    """Register the built-in suites."""
    for definition in definitions():
        register(definition)
