"""Suites: a TOML file that expands into runs (component tables × parameter grids × seeds).

A suite names its components in tables ``[algorithm]``, ``[environment]``, ``[preference]`` and
the optional ``[topology]``; each may instead be an array of tables (``[[algorithm]]``) and may
carry a ``grid`` sub-table of lists. The runs are the product of every table's variants and the
seeds. Everything is validated before anything runs: a mistake raises :class:`SuiteError` naming
its TOML path, e.g. ``algorithm[1].grid.pairs[0]``, with a "did you mean" for names.

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
    pairs = [200, 800]
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from zobench.api import param
from zobench.bench.spec import COMPONENT_KINDS, ComponentSpec, RunSpec
from zobench.config import as_dict, shown, validate
from zobench.errors import ConfigError, ZobenchError, did_you_mean
from zobench.plugins import PluginHost, get_host


class SuiteError(ZobenchError):
    """A suite that cannot be read or does not validate (one line, with its TOML path).

    Control characters from the suite (a newline inside a name) are shown escaped, so the
    message stays one line.
    """

    def __init__(self, message: str) -> None:
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in str(message)))


SUITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
"""What a suite name may be: it becomes a folder name (``results/<name>``), so no separators,
no leading dot, no control characters, at most 100 characters."""
MAX_SEED = 2**63 - 1
"""The largest seed: seeds are stored in an Int64 column."""
MAX_COUNT = 10**9
"""Upper bound of ``iterations``, ``eval_every`` and ``eval_episodes`` (more is a typo, not a plan)."""


@dataclass(frozen=True)
class SuiteSettings:
    """The suite's top-level settings (everything but the component tables)."""

    name: str = param(
        "suite",
        "Name of the suite (letters, digits, '.', '_', '-'; at most 100); the default results "
        "folder is results/<name>.",
    )
    description: str = param("", "One line saying what the suite compares.")
    seeds: int | list[int] = param(  # noqa: RUF009 (param() is a documented dataclass field)
        3, "Number of seeds N (0..N-1) or an explicit list of seeds."
    )
    iterations: int = param(
        500,
        "Iterations of every run. With their defaults, the preference learners reach 0.8 of the "
        "way from the uniform to the optimal policy on their home instances within it "
        "(docs/tuning.md).",
    )
    eval_every: int = param(25, "Evaluate the policy every this many iterations.")
    eval_episodes: int = param(
        1000, "Monte Carlo evaluation episodes when an environment has no transition tables."
    )
    presets: bool = param(
        True,
        "Fill the algorithms' settings the suite does not write from the matching preset "
        "(zobench list presets); false runs every algorithm at its component defaults.",
    )
    timeout: float = param(
        0.0,
        "Wall-clock seconds a run may take; a run past it is stopped and recorded as failed and "
        "the suite goes on. 0: no limit. Not part of a run's identity (`--timeout` overrides).",
    )

    def __post_init__(self) -> None:
        if not SUITE_NAME.fullmatch(self.name):
            raise ValueError(
                f"name: {shown(self.name)} is not a suite name: 1 to 100 letters, digits, '.', "
                "'_' or '-', starting with a letter or digit (it names the results folder)"
            )
        for key in ("iterations", "eval_every", "eval_episodes"):
            if not 1 <= getattr(self, key) <= MAX_COUNT:
                raise ValueError(
                    f"{key}: must be between 1 and {MAX_COUNT:,}, got {getattr(self, key)}"
                )
        if isinstance(self.seeds, int) and not 1 <= self.seeds <= MAX_SEED:
            raise ValueError(f"seeds: must be at least 1, got {self.seeds}")
        for i, seed in enumerate(self.seeds if isinstance(self.seeds, list) else []):
            if not 0 <= seed <= MAX_SEED:
                raise ValueError(f"seeds[{i}]: must be between 0 and 2**63 - 1, got {seed}")
        if isinstance(self.seeds, list) and (
            not self.seeds or len(set(self.seeds)) != len(self.seeds)
        ):
            raise ValueError(
                f"seeds: must be distinct non-negative integers, got {shown(self.seeds)}"
            )
        if not 0 <= self.timeout <= MAX_COUNT:
            raise ValueError(
                f"timeout: must be 0 (no limit) or at most {MAX_COUNT:,} seconds, got {self.timeout}"
            )


COMPONENT_TABLES: tuple[str, ...] = tuple(COMPONENT_KINDS)
"""Suite tables naming components, in expansion order."""
REQUIRED_TABLES: tuple[str, ...] = ("algorithm", "environment", "preference")
RESERVED_KEYS: tuple[str, ...] = ("name", "label", "grid")
"""Keys of a component table that are not the component's settings."""
MAX_RUNS = 100_000
"""A suite expanding into more runs than this is refused as a mistake (a seed count of 10**9)."""
MAX_DEPTH = 16
"""Deepest nesting of tables and arrays a suite may have (its real ones need four)."""
MAX_SUITE_BYTES = 16 * 2**20
"""Largest suite file read (a suite is a page of TOML; a bigger file is a mistake)."""


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
        _refuse_too_many(self.count())
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
                default = host.environment(env.name).default_topology
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
    if hasattr(config_cls, "__post_init__"):  # only such rules can reject a combination
        for variant in entry.variants():
            validate(config_cls, variant.params, path=f"{path} (grid {shown(variant.params)})")
    return entry


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_COUNT_CAP = 10**15
"""Counting stops here: a count this large is refused anyway, and never becomes a huge integer."""


def _refuse_too_many(count: int) -> None:
    """A :class:`SuiteError` when ``count`` runs is beyond :data:`MAX_RUNS`."""
    if count > MAX_RUNS:
        text = f"{count:,}" if count < _COUNT_CAP else f"more than {_COUNT_CAP:,}"
        raise SuiteError(
            f"the suite expands into {text} runs, more than the limit of {MAX_RUNS:,}; "
            "check seeds and grids"
        )


def _tables_of(data: Mapping[str, Any], table: str) -> list[Mapping[str, Any]]:
    value = data.get(table)
    if isinstance(value, Mapping):
        return [value]
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _refuse_huge_expansion(data: Mapping[str, Any]) -> None:
    """Count the runs from the seeds and the grids' lengths alone, before validating any value.

    Validation looks at every grid value and every combination, so a 1000×1000 grid must be
    refused here, in microseconds, rather than after seconds and hundreds of megabytes. Shapes
    that are wrong count as one (validation reports them next); the count is capped at
    :data:`_COUNT_CAP`, so it never becomes a huge number.
    """
    seeds = data.get("seeds", SuiteSettings.seeds)
    total = seeds if _is_int(seeds) else len(seeds) if isinstance(seeds, list) else 1
    total = min(max(total, 1), _COUNT_CAP)  # a negative count is refused by validation next
    for table in COMPONENT_TABLES:
        variants = 0
        for raw in _tables_of(data, table):
            grid = raw.get("grid")
            combinations = 1
            for values in grid.values() if isinstance(grid, Mapping) else ():
                if isinstance(values, list) and values:
                    combinations = min(combinations * len(values), _COUNT_CAP)
            variants = min(variants + combinations, _COUNT_CAP)
        total = min(total * max(variants, 1), _COUNT_CAP)
    _refuse_too_many(total)


def _too_deep(data: Any) -> str | None:
    """The TOML path of the first value nested deeper than :data:`MAX_DEPTH` (None if none)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            return path
        if isinstance(value, Mapping):
            stack.extend(
                (v, f"{path}.{k}" if path else str(k), depth + 1) for k, v in value.items()
            )
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
    return None


def parse_suite(text: str, *, source: str = "suite", host: PluginHost | None = None) -> Suite:
    """Parse and validate TOML text into a :class:`Suite`; any mistake raises :class:`SuiteError`.

    Cheap refusals come first: nesting deeper than :data:`MAX_DEPTH`, then more runs than
    :data:`MAX_RUNS` counted from the grids' sizes, then validation of every value.
    """
    host = host or get_host()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{source}: invalid TOML: {exc}") from None
    except RecursionError:
        raise SuiteError(f"{source}: invalid TOML: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal of more than 4300 digits
        raise SuiteError(f"{source}: invalid TOML: {exc}") from None
    deep = _too_deep(data)
    if deep is not None:
        raise SuiteError(f"{deep}: nested more than {MAX_DEPTH} levels deep")
    allowed = [f.name for f in SuiteSettings.__dataclass_fields__.values()] + list(COMPONENT_TABLES)
    mistakes = [
        f"{key}: unknown suite setting{did_you_mean(key, allowed)}"
        for key in data
        if key not in allowed
    ]
    seeds = data.get("seeds", 1)
    if not _is_int(seeds) and not (isinstance(seeds, list) and all(map(_is_int, seeds))):
        mistakes.append(f"seeds: expected a number of seeds or a list of seeds, got {shown(seeds)}")
        raise SuiteMistakesError(mistakes)  # the expansion cannot be counted without seeds
    _refuse_huge_expansion(data)
    # Every independent mistake is collected (the settings, each component table), so a suite
    # with four mistakes is fixed in one round, not four.
    settings = _collect(
        mistakes,
        lambda: validate(
            SuiteSettings,
            {k: v for k, v in data.items() if k in allowed and k not in COMPONENT_TABLES},
        ),
    )
    entries: dict[str, tuple[Entry, ...]] = {}
    for table in COMPONENT_TABLES:
        tables = _collect(mistakes, functools.partial(_tables, data, table)) or []
        found = [
            _collect(mistakes, functools.partial(_entry, table, path, raw, host))
            for path, raw in tables
        ]
        entries[table] = tuple(e for e in found if e is not None)
    if mistakes or settings is None:
        raise SuiteMistakesError(mistakes)
    return Suite(settings, entries, source).checked()


T = TypeVar("T")


class SuiteMistakesError(SuiteError):
    """Several independent mistakes in one suite, each one line with its TOML path.

    ``str()`` joins them on one line (the CLI's one-line rule); ``messages`` holds each, for
    ``zobench validate`` to print one per line.
    """

    def __init__(self, messages: list[str]) -> None:
        self.messages = [SuiteError(m).args[0] for m in messages]
        count = f"{len(self.messages)} mistakes: " if len(self.messages) > 1 else ""
        super().__init__(count + "; ".join(self.messages))


def _collect(mistakes: list[str], attempt: Callable[[], T]) -> T | None:
    """``attempt()``, or ``None`` with its one-line mistake appended to ``mistakes``."""
    try:
        return attempt()
    except SuiteMistakesError as exc:
        mistakes.extend(exc.messages)
    except ZobenchError as exc:  # SuiteError, ConfigError and friends: one line each
        mistakes.append(str(exc))
    return None


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
            if path.stat().st_size > MAX_SUITE_BYTES:
                raise SuiteError(f"{path}: larger than {MAX_SUITE_BYTES // 2**20} MiB: not a suite")
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SuiteError(f"{path}: cannot read suite file: {exc}") from None
        return parse_suite(text, source=str(path), host=host)
    name = str(file_or_name)
    if ("suite", name) in host.registry:
        definition = host.suite(name)
        return parse_suite(definition.toml, source=f"built-in suite '{name}'", host=host)
    if path.suffix == ".toml" or path.parent != Path("."):
        raise SuiteError(f"{name}: no such suite file")
    raise SuiteError(
        f"'{name}' is neither a suite file nor a registered suite"
        f"{did_you_mean(name, host.names('suite'))}; see `zobench list suite`"
    )
