"""Run specifications: the plain, canonical description of one run, and its content-hashed id."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from zobench.kinds import SUITE_TABLES

SPEC_VERSION = 2
"""Bumped when the meaning of a spec changes, so old run ids stop matching (2: run ids hash the
resolved configuration and the code fingerprint, see :mod:`zobench.bench.identity`)."""

COMPONENT_KINDS: dict[str, str] = {table: kind.name for table, kind in SUITE_TABLES.items()}
"""Spec field (and suite table) name → the plugin kind the host registers it under (one
vocabulary: the same words, derived from :mod:`zobench.kinds`)."""


@dataclass(frozen=True)
class ComponentSpec:
    """A component by name with its parameters (plain TOML values)."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def canonical(self) -> dict[str, Any]:
        """JSON-ready form with sorted keys and tuples as lists."""
        return {"name": self.name, "params": json.loads(_dumps(self.params))}


@dataclass(frozen=True)
class RunSpec:
    """One run: (algorithm, environment, preference model, topology, parameters, seed)."""

    algorithm: ComponentSpec
    environment: ComponentSpec
    preference: ComponentSpec
    topology: ComponentSpec | None = None
    seed: int = 0
    iterations: int = 500
    eval_every: int = 25
    eval_episodes: int = 1000
    """Episodes of Monte Carlo evaluation when the environment has no transition tables."""
    label: str = ""
    """Display name of the algorithm entry (defaults to the algorithm's name)."""
    suite: str = ""
    """Name of the suite the run belongs to (recorded, not hashed)."""
    presets: bool = True
    """Whether a registered preset fills the algorithm's settings the spec does not write
    (suite > preset > default); its effect is part of the resolved configuration."""

    @classmethod
    def create(
        cls,
        *,
        algorithm: str,
        environment: str = "gridworld",
        preference: str = "bradley-terry",
        topology: str | None = None,
        algorithm_params: dict[str, Any] | None = None,
        environment_params: dict[str, Any] | None = None,
        preference_params: dict[str, Any] | None = None,
        topology_params: dict[str, Any] | None = None,
        **rest: Any,
    ) -> RunSpec:
        """Build a spec from names and parameter dicts (the Python API's convenience)."""
        return cls(
            algorithm=ComponentSpec(algorithm, dict(algorithm_params or {})),
            environment=ComponentSpec(environment, dict(environment_params or {})),
            preference=ComponentSpec(preference, dict(preference_params or {})),
            topology=ComponentSpec(topology, dict(topology_params or {})) if topology else None,
            **rest,
        )

    @property
    def display_label(self) -> str:
        """The label shown in tables: the explicit label, else the algorithm's name."""
        return self.label or self.algorithm.name

    def components(self) -> dict[str, ComponentSpec]:
        """The spec's components by field name (``algorithm``, ``environment``, ...), if set."""
        return {
            field_name: getattr(self, field_name)
            for field_name in COMPONENT_KINDS
            if getattr(self, field_name) is not None
        }

    def canonical(self) -> dict[str, Any]:
        """The spec as written, in a stable JSON-ready form (label and suite left out).

        This is what the user asked for, not what ran: settings left at their defaults are
        absent. The run's identity hashes the resolved configuration instead
        (:func:`zobench.bench.identity.resolve`).
        """
        return {
            "algorithm": self.algorithm.canonical(),
            "environment": self.environment.canonical(),
            "preference": self.preference.canonical(),
            "topology": self.topology.canonical() if self.topology else None,
            "seed": self.seed,
            "iterations": self.iterations,
            "eval_every": self.eval_every,
            "eval_episodes": self.eval_episodes,
        }

    def to_record(self) -> dict[str, Any]:
        """The spec as stored in the manifest (canonical form plus label and suite)."""
        record = {**self.canonical(), "label": self.display_label, "suite": self.suite}
        return record if self.presets else {**record, "presets": False}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> RunSpec:
        """Inverse of :meth:`to_record`."""

        def component(entry: dict[str, Any] | None) -> Any:
            if entry is None:
                return None
            if not isinstance(entry["name"], str) or not isinstance(entry["params"], dict):
                raise TypeError("a component needs a name and a table of params")
            return ComponentSpec(entry["name"], dict(entry["params"]))

        settings = {
            key: record[key] for key in ("seed", "iterations", "eval_every", "eval_episodes")
        }
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in settings.values()):
            raise TypeError("seed, iterations, eval_every and eval_episodes must be integers")

        required = {
            key: component(record[key]) for key in ("algorithm", "environment", "preference")
        }
        if None in required.values():
            raise TypeError("algorithm, environment and preference are required")
        return cls(
            **required,
            topology=component(record.get("topology")),
            **settings,
            label=str(record.get("label", "")),
            suite=str(record.get("suite", "")),
            presets=record.get("presets", True) is not False,
        )


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
