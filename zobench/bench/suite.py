"""Suites: a TOML file that expands into runs (component tables × parameter grids × seeds).

A suite names its components in tables ``[algorithm]``, ``[environment]``, ``[preference]`` and
the optional ``[topology]``; each may instead be an array of tables (``[[algorithm]]``) and may
carry a ``grid`` sub-table of lists. The runs are the product of every table's variants and the
seeds. Everything is validated before anything runs: a mistake raises :class:`SuiteError` naming
its TOML path, e.g. ``algorithm[1].grid.trajectories[0]``, with a "did you mean" for names.

Example::

    name = "my-comparison"
    seeds = 5                 # or an explicit list, e.g. [0, 1, 2]
    iterations = 500
    eval_every = 25

    [environment]
    name = "gridworld"

    [preference]
    name = "bradley-terry"

    [[algorithm]]
    name = "zpg"
    [algorithm.grid]
    trajectories = [10, 40]
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zobench.api import param
from zobench.bench.spec import COMPONENT_KINDS, ComponentSpec, RunSpec
from zobench.config import as_dict, validate
from zobench.errors import ConfigError, ZobenchError, did_you_mean
from zobench.plugins import PluginHost, get_host


class SuiteError(ZobenchError):
    """A suite that cannot be read or does not validate (one line, with its TOML path).

    Control characters from the suite (a newline inside a name) are shown escaped, so the
    message stays one line.
    """

    def __init__(self, message: str) -> None:
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in str(message)))


@dataclass(frozen=True)
class SuiteSettings:
    """The suite's top-level settings (everything but the component tables)."""

    name: str = param("suite", "Name of the suite; the default results folder is results/<name>.")
    description: str = param("", "One line saying what the suite compares.")
    seeds: int | list[int] = param(  # noqa: RUF009 (param() is a documented dataclass field)
        3, "Number of seeds N (0..N-1) or an explicit list of seeds."
    )
    iterations: int = param(200, "Iterations of every run.")
    eval_every: int = param(10, "Evaluate the policy every this many iterations.")
    eval_episodes: int = param(
        1000, "Monte Carlo evaluation episodes when an environment has no transition tables."
    )
    presets: bool = param(
        True,
        "Fill the algorithms' settings the suite does not write from the matching preset "
        "(zobench list presets); false runs every algorithm at its component defaults.",
    )

    def __post_init__(self) -> None:
        for key in ("iterations", "eval_every", "eval_episodes"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be at least 1, got {getattr(self, key)}")
        if isinstance(self.seeds, int) and self.seeds < 1:
            raise ValueError(f"seeds must be at least 1, got {self.seeds}")
        seeds = self.seeds if isinstance(self.seeds, list) else [0]
        if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct non-negative integers, got {self.seeds}")


COMPONENT_TABLES: tuple[str, ...] = tuple(COMPONENT_KINDS)
"""Suite tables naming components, in expansion order."""
REQUIRED_TABLES: tuple[str, ...] = ("algorithm", "environment", "preference")
RESERVED_KEYS: tuple[str, ...] = ("name", "label", "grid")
MAX_RUNS = 100_000
"""A suite expanding into more runs than this is refused as a mistake (a seed count of 10**9)."""
"""Keys of a component table that are not the component's settings."""


@dataclass(frozen=True)
class Entry:
    """One validated component table: its name, label, fixed settings and grid axes."""

    table: str
    """Which table: ``algorithm``, ``environment``, ``preference`` or ``topology``."""
    path: str
    """TOML path of the table, e.g. ``algorithm[1]``, for messages."""
    name: str
    label: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    """Explicitly given settings, normalized by validation (e.g. ``1`` → ``1.0`` for a float)."""
    grid: dict[str, list[Any]] = field(default_factory=dict)
    """Swept settings: name → the list of values, each normalized."""

    def variants(self) -> list[ComponentSpec]:
        """One ComponentSpec per combination of the grid's values (one when there is no grid)."""
        keys = list(self.grid)
        return [
            ComponentSpec(self.name, {**self.params, **dict(zip(keys, combo, strict=True))})
            for combo in itertools.product(*(self.grid[k] for k in keys))
        ]


@dataclass(frozen=True)
class Suite:
    """A validated suite: settings plus the component entries; :meth:`runs` expands it."""

    settings: SuiteSettings
    entries: dict[str, tuple[Entry, ...]]
    """Table name → its entries; ``topology`` may be empty (each environment's default)."""
    source: str = ""
    """Where the suite came from (a file path or ``built-in suite 'name'``), for messages."""

    @property
    def name(self) -> str:
        """The suite's name."""
        return self.settings.name

    @property
    def seeds(self) -> list[int]:
        """The explicit list of seeds."""
        seeds = self.settings.seeds
        return list(range(seeds)) if isinstance(seeds, int) else list(seeds)

    def count(self) -> int:
        """How many runs the suite expands into (before identical runs are merged)."""
        seeds = self.settings.seeds
        total = seeds if isinstance(seeds, int) else len(seeds)  # never materialize range(10**9)
        for table in COMPONENT_TABLES:
            variants = sum(math.prod(map(len, e.grid.values())) for e in self.entries[table])
            total *= variants or 1  # no topology table: one default topology per environment
        return total

    def checked(self) -> Suite:
        """The suite itself, or a :class:`SuiteError` when it would expand absurdly far."""
        if self.count() > MAX_RUNS:
            raise SuiteError(
                f"the suite expands into {self.count()} runs, more than {MAX_RUNS}; "
                "check seeds and grids"
            )
        return self

    def with_seeds(self, n: int) -> Suite:
        """The same suite with seeds 0..n-1 (the CLI's ``--seeds``)."""
        settings = validate(SuiteSettings, {**as_dict(self.settings), "seeds": n})
        return Suite(settings, self.entries, self.source).checked()

    def runs(self, host: PluginHost | None = None) -> list[RunSpec]:
        """Every run: seeds outermost, so a partly finished suite already compares every cell."""
        host = host or get_host()
        variants = {t: [v for e in self.entries[t] for v in e.variants()] for t in REQUIRED_TABLES}
        algorithms = [(e.label, v) for e in self.entries["algorithm"] for v in e.variants()]
        topologies = [v for e in self.entries.get("topology", ()) for v in e.variants()]
        runs = []
        for seed in self.seeds:
            for env, pref in itertools.product(variants["environment"], variants["preference"]):
                default = host.get("environment", env.name).obj.default_topology
                for topo in topologies or [ComponentSpec(default, {})]:
                    for label, algo in algorithms:
                        runs.append(
                            RunSpec(
                                algorithm=algo,
                                environment=env,
                                preference=pref,
                                topology=topo,
                                seed=seed,
                                iterations=self.settings.iterations,
                                eval_every=self.settings.eval_every,
                                eval_episodes=self.settings.eval_episodes,
                                label=label,
                                suite=self.name,
                                presets=self.settings.presets,
                            )
                        )
        return runs


def _tables(data: Mapping[str, Any], table: str) -> list[tuple[str, Any]]:
    """A table or an array of tables as ``(path, table)`` pairs."""
    value = data.get(table)
    if value is None:
        if table in REQUIRED_TABLES:
            raise SuiteError(f"{table}: required table is missing (add [{table}] with a name)")
        return []
    if isinstance(value, Mapping):
        return [(table, value)]
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return [(f"{table}[{i}]", v) for i, v in enumerate(value)]
    raise SuiteError(f"{table}: expected a table [{table}] or an array of tables [[{table}]]")


def _normalized(config_cls: type, values: Mapping[str, Any], keys: list[str], path: str) -> dict:
    """Validate ``values`` and return the validated values of ``keys`` (types normalized)."""
    config = validate(config_cls, values, path=path)
    return {k: getattr(config, k) for k in keys}


def _entry(table: str, path: str, raw: Mapping[str, Any], host: PluginHost) -> Entry:
    name = raw.get("name")
    if not isinstance(name, str):
        raise SuiteError(f"{path}.name: expected the {table}'s name as a string, got {name!r}")
    try:
        config_cls = host.get(COMPONENT_KINDS[table], name).obj.Config
    except ZobenchError as exc:
        raise SuiteError(f"{path}.name: {exc}") from None
    label = raw.get("label", "")
    if not isinstance(label, str):
        raise SuiteError(f"{path}.label: expected a string, got {label!r}")
    if label and table != "algorithm":
        raise SuiteError(f"{path}.label: only algorithm tables take a label")
    fixed = {k: v for k, v in raw.items() if k not in RESERVED_KEYS}
    grid = raw.get("grid", {})
    if not isinstance(grid, Mapping):
        raise SuiteError(f"{path}.grid: expected a table of lists, got {grid!r}")
    fields = config_cls.__dataclass_fields__
    for key, values in grid.items():
        if key not in fields:
            raise SuiteError(f"{path}.grid.{key}: unknown setting{did_you_mean(key, fields)}")
        if not isinstance(values, list) or not values:
            raise SuiteError(f"{path}.grid.{key}: expected a non-empty list of values")
        if key in fixed:
            raise SuiteError(f"{path}.grid.{key}: also set outside the grid; set it in one place")
    params = _normalized(config_cls, fixed, list(fixed), path)
    axes: dict[str, list[Any]] = {}
    for key, values in grid.items():
        axes[key] = []
        for i, value in enumerate(values):
            try:
                checked = _normalized(config_cls, {**fixed, key: value}, [key], path)
            except ConfigError as exc:
                # Re-point the message from the setting to the grid value that caused it.
                raise SuiteError(
                    str(exc).replace(f"{path}.{key}", f"{path}.grid.{key}[{i}]", 1)
                ) from None
            axes[key].append(checked[key])
    # Cross-field rules (a Config's __post_init__) must hold for every combination.
    entry = Entry(table, path, name, label, params, axes)
    for variant in entry.variants():
        validate(config_cls, variant.params, path=f"{path} (grid {variant.params})")
    return entry


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_suite(text: str, *, source: str = "suite", host: PluginHost | None = None) -> Suite:
    """Parse and validate TOML text into a :class:`Suite`; any mistake raises :class:`SuiteError`."""
    host = host or get_host()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{source}: invalid TOML: {exc}") from None
    allowed = [f.name for f in SuiteSettings.__dataclass_fields__.values()] + list(COMPONENT_TABLES)
    for key in data:
        if key not in allowed:
            raise SuiteError(f"{key}: unknown suite setting{did_you_mean(key, allowed)}")
    seeds = data.get("seeds", 1)
    if not _is_int(seeds) and not (isinstance(seeds, list) and all(map(_is_int, seeds))):
        raise SuiteError(f"seeds: expected a number of seeds or a list of seeds, got {seeds!r}")
    try:
        settings = validate(
            SuiteSettings, {k: v for k, v in data.items() if k not in COMPONENT_TABLES}
        )
        entries = {
            table: tuple(_entry(table, path, raw, host) for path, raw in _tables(data, table))
            for table in COMPONENT_TABLES
        }
    except SuiteError:
        raise
    except ZobenchError as exc:  # ConfigError and friends: the same one line, made a SuiteError
        raise SuiteError(str(exc)) from None
    return Suite(settings, entries, source).checked()


def load_suite(file_or_name: str | Path, *, host: PluginHost | None = None) -> Suite:
    """A suite from a TOML file path, else from a registered suite of that name.

    A directory is never a suite file, so a results folder named like a built-in suite (as
    ``results/zpg-gridworld`` is, seen from ``results/``) does not shadow it.
    """
    host = host or get_host()
    path = Path(file_or_name)
    if path.is_dir() and ("suite", str(file_or_name)) not in host.registry:
        raise SuiteError(f"{path}: is a directory, not a suite file")
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SuiteError(f"{path}: cannot read suite file: {exc}") from None
        return parse_suite(text, source=str(path), host=host)
    name = str(file_or_name)
    if ("suite", name) in host.registry:
        definition = host.get("suite", name).obj
        return parse_suite(definition.toml, source=f"built-in suite '{name}'", host=host)
    if path.suffix == ".toml" or path.parent != Path("."):
        raise SuiteError(f"{name}: no such suite file")
    raise SuiteError(
        f"'{name}' is neither a suite file nor a registered suite"
        f"{did_you_mean(name, host.names('suite'))}; see `zobench list suite`"
    )
