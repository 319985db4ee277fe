"""Run specifications: the plain, canonical description of one run, and its content-hashed id."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

SPEC_VERSION = 1
"""Bumped when the meaning of a spec changes, so old run ids stop matching."""

COMPONENT_KINDS: dict[str, str] = {
    "algorithm": "algorithm",
    "environment": "environment",
    "preference": "preference-model",
    "topology": "topology",
}
"""Spec field (and suite table) name → the plugin kind the host registers it under."""


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
    iterations: int = 200
    eval_every: int = 10
    eval_episodes: int = 1000
    """Episodes of Monte Carlo evaluation when the environment has no transition tables."""
    label: str = ""
    """Display name of the algorithm entry (defaults to the algorithm's name)."""
    suite: str = ""
    """Name of the suite the run belongs to (recorded, not hashed)."""

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
        """Everything that determines the run's numbers, in a stable JSON-ready form.

        The label and suite name are left out: renaming does not change results.
        """
        return {
            "spec_version": SPEC_VERSION,
            "algorithm": self.algorithm.canonical(),
            "environment": self.environment.canonical(),
            "preference": self.preference.canonical(),
            "topology": self.topology.canonical() if self.topology else None,
            "seed": self.seed,
            "iterations": self.iterations,
            "eval_every": self.eval_every,
            "eval_episodes": self.eval_episodes,
        }

    def run_id(self, versions: dict[str, str] | None = None) -> str:
        """Content hash of :meth:`canonical` plus the plugin distributions' versions (16 hex)."""
        payload = {"spec": self.canonical(), "versions": dict(sorted((versions or {}).items()))}
        return hashlib.sha256(_dumps(payload).encode()).hexdigest()[:16]

    def to_record(self) -> dict[str, Any]:
        """The spec as stored in the manifest (canonical form plus label and suite)."""
        return {**self.canonical(), "label": self.display_label, "suite": self.suite}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> RunSpec:
        """Inverse of :meth:`to_record`."""

        def component(entry: dict[str, Any] | None) -> ComponentSpec | None:
            return ComponentSpec(entry["name"], dict(entry["params"])) if entry else None

        return cls(
            algorithm=component(record["algorithm"]),
            environment=component(record["environment"]),
            preference=component(record["preference"]),
            topology=component(record["topology"]),
            seed=record["seed"],
            iterations=record["iterations"],
            eval_every=record["eval_every"],
            eval_episodes=record["eval_episodes"],
            label=record.get("label", ""),
            suite=record.get("suite", ""),
        )


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
