"""Search spaces: the range over which a component's setting is tuned, declared beside its default.

A Config field declares its space with ``param(..., tune=LogUniform(1e-3, 0.3))``; ``zobench tune``
samples every declared field of every algorithm by the same protocol, and ``zobench info`` shows
the space next to the default. The spaces are plain data; :func:`to_optuna` turns one into the
distribution Optuna's ask-and-tell interface takes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

TUNE_METADATA = "tune"
"""Key of a field's metadata that holds its search space."""


@dataclass(frozen=True)
class LogUniform:
    """A positive real, sampled uniformly in log space over ``[low, high]`` (step sizes, scales)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not 0 < self.low < self.high:
            raise ValueError(f"LogUniform needs 0 < low < high, got [{self.low}, {self.high}]")

    def describe(self) -> str:
        """The space as shown by ``zobench info``."""
        return f"log-uniform [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class Uniform:
    """A real sampled uniformly over ``[low, high]``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"Uniform needs low < high, got [{self.low}, {self.high}]")

    def describe(self) -> str:
        """The space as shown by ``zobench info``."""
        return f"uniform [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class IntRange:
    """An integer in ``[low, high]``, sampled uniformly (or in log space with ``log``)."""

    low: int
    high: int
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low < self.high or (self.log and self.low < 1):
            raise ValueError(f"IntRange needs low < high (and low >= 1 with log), got {self}")

    def describe(self) -> str:
        """The space as shown by ``zobench info``."""
        return f"{'log-' if self.log else ''}integer [{self.low}, {self.high}]"


@dataclass(frozen=True)
class Choice:
    """One of a few values (a label rule, an optimizer, a flag)."""

    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if len(self.values) < 2:
            raise ValueError("Choice needs at least two values")

    def describe(self) -> str:
        """The space as shown by ``zobench info``."""
        return "one of " + ", ".join(map(str, self.values))


@dataclass(frozen=True)
class BudgetSplit:
    """This integer setting picks from ``values``; ``partner`` absorbs the rest of a fixed budget.

    Declared on evaluators M with ``partner="pairs"``: a trial takes M from ``values`` and sets
    N = ⌊N₀·M₀ / M⌋, where N₀ and M₀ are the trial's untuned values (suite or default), so every
    trial spends the same votes per iteration and tuning decides only how to split them.
    """

    partner: str
    values: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.values) < 2 or min(self.values) < 1:
            raise ValueError("BudgetSplit needs at least two positive values")

    def describe(self) -> str:
        """The space as shown by ``zobench info``."""
        return f"one of {', '.join(map(str, self.values))}, with {self.partner} keeping the budget"


SearchSpace = LogUniform | Uniform | IntRange | Choice | BudgetSplit
"""Every kind of search space a field can declare."""


def search_space(config_cls: type) -> dict[str, SearchSpace]:
    """The declared search space of every tunable field of a Config dataclass, in field order."""
    return {
        f.name: f.metadata[TUNE_METADATA]
        for f in dataclasses.fields(config_cls)
        if f.metadata.get(TUNE_METADATA) is not None
    }


def to_optuna(name: str, space: SearchSpace) -> Any:
    """The Optuna distribution of ``space`` (imported here: Optuna is the ``tune`` extra)."""
    from optuna import distributions as d

    if isinstance(space, LogUniform):
        return d.FloatDistribution(space.low, space.high, log=True)
    if isinstance(space, Uniform):
        return d.FloatDistribution(space.low, space.high)
    if isinstance(space, IntRange):
        return d.IntDistribution(space.low, space.high, log=space.log)
    if isinstance(space, (Choice, BudgetSplit)):
        return d.CategoricalDistribution(list(space.values))
    raise TypeError(f"{name}: unknown search space {space!r}")
