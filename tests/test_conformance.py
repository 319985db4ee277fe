"""Every registered component passes the conformance kit; and the kit catches what it should.

The parameters come from the live registry at collection time, so a new built-in is covered
without a new test. The example third-party plugin is loaded through a real dist-info record and
checked the same way. A kind with no component yet still has a (skipped, with its reason) test,
so nothing disappears silently.
"""

from __future__ import annotations

import atexit
import dataclasses
import importlib.metadata as md
import re
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from zobench import api
from zobench.plugins import PluginHost, PluginLoadWarning, Registration, get_host
from zobench.testing import (
    check_config,
    check_constructs,
    check_deterministic,
    check_honest,
    check_tiny_run,
    checks_for,
    make_distribution,
)

EXAMPLE_SRC = Path(__file__).resolve().parents[1] / "plugins" / "zobench-example" / "src"


def _example_registrations() -> list[Registration]:
    """The example plugin's components, discovered from a dist-info record (not imported by hand)."""
    root = Path(tempfile.mkdtemp(prefix="zobench-example-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    dist_info = make_distribution(root, "zobench-example", {"example": "zobench_example"})
    # Collection happens before any fixture exists, so the plugin's source goes on sys.path for
    # the whole session (as `pip install -e` would put it); the record decides what is loaded.
    if str(EXAMPLE_SRC) not in sys.path:
        sys.path.insert(0, str(EXAMPLE_SRC))
    host = PluginHost(md.PathDistribution(dist_info).entry_points, environ={})
    return host.components()


def _registry_params() -> list[Any]:
    with warnings.catch_warnings():
        # load failures are the business of tests/test_plugins.py
        warnings.simplefilter("ignore", PluginLoadWarning)
        builtin = get_host().components()
    example = _example_registrations()
    params = []
    for kind in api.KINDS:
        regs = [r for r in [*builtin, *example] if r.kind == kind]
        for reg in regs:
            for check in checks_for(reg.obj):
                params.append(
                    pytest.param(reg.obj, check, id=f"{kind}:{reg.name}:{check.__name__}")
                )
        if not regs:
            params.append(
                pytest.param(
                    None,
                    None,
                    id=f"{kind}:none",
                    marks=pytest.mark.skip(reason=f"no {kind} is registered yet"),
                )
            )
    return params


@pytest.mark.parametrize(("component", "check"), _registry_params())
def test_registered_component_conforms(component, check):
    check(component)


def test_example_components_are_in_the_parameters():
    ids = {p.id for p in _registry_params()}
    assert "algorithm:example-random-search:check_tiny_run" in ids
    assert "preference:example-lapse-logistic:check_deterministic" in ids


def test_the_kit_is_a_pytest_plugin(zobench_conformance, request):
    # the fixture comes from the pytest11 entry point (or conftest's fallback registration)
    assert zobench_conformance.check_component.__module__ == "zobench.testing"
    assert request.config.pluginmanager.is_registered(sys.modules["zobench.testing"])


# ---------------------------------------------------------------------------------------------
# The kit catches broken components, and says which field is wrong
# ---------------------------------------------------------------------------------------------


class Blank(api.Topology):
    """A topology to derive broken variants from (never registered)."""

    name = "blank"
    summary = "Nothing."

    def build(self, n_agents: int, rng: np.random.Generator) -> Any:
        from zobench.sim.network import Network

        return Network.empty(n_agents)


def _with_config(config: type, **attrs: Any) -> type:
    return type("Variant", (Blank,), {"Config": config, **attrs})


def test_a_well_formed_component_passes():
    check_config(Blank)
    check_constructs(Blank)
    check_deterministic(Blank)


@dataclass(frozen=True)
class Undocumented:
    hops: int = 2


def _bad_source() -> type:
    # param() refuses a bad source, so build the field's metadata by hand, as a careless
    # author might with dataclasses.field
    return dataclasses.make_dataclass(
        "BadSource",
        [("hops", int, dataclasses.field(default=2, metadata={"doc": "Hops.", "source": "folk"}))],
    )


@dataclass(frozen=True)
class NoDefault:
    hops: int = api.param(doc="Hops.")


@dataclass(frozen=True)
class RefusesItsDefault:
    hops: int = api.param(0, "Hops.")

    def __post_init__(self) -> None:
        if self.hops < 1:
            raise ValueError("hops must be positive")


@dataclass(frozen=True)
class WrongTypedDefault:
    hops: int = api.param(2.5, "Hops.")  # type: ignore[assignment]


class NotADataclass:
    hops = 2


def test_param_itself_refuses_a_bad_source():
    with pytest.raises(ValueError, match="source must be one of"):
        api.param(1, "x", source="folklore")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        (_with_config(Undocumented), "Config.hops has no documentation"),
        (_with_config(NoDefault), "Config.hops has no default"),
        (_with_config(RefusesItsDefault), "Config() with defaults fails"),
        (_with_config(WrongTypedDefault), "validating its defaults written out fails"),
        (_with_config(NotADataclass), "Config must be a dataclass"),
        (_with_config(api.EmptyConfig, summary=""), "summary is empty"),
        (_with_config(api.EmptyConfig, summary="two\nlines"), "summary must be one line"),
        (_with_config(api.EmptyConfig, name="Bad Name"), "name 'Bad Name'"),
    ],
)
def test_check_config_names_the_problem(variant, message):
    with pytest.raises(AssertionError, match=re.escape(message)) as info:
        check_config(variant)
    assert "topology '" in str(info.value)  # the component is named
    assert "Variant" in str(info.value)  # and where it lives


def test_check_config_refuses_an_unknown_source():
    with pytest.raises(AssertionError, match=re.escape("Config.hops has source 'folk'")):
        check_config(_with_config(_bad_source()))


def test_check_config_wants_preference_configs_to_extend_the_shared_one():
    class Link(api.PreferenceModel):
        name = "odd-link"
        summary = "A link with its own config."
        Config = api.EmptyConfig

    with pytest.raises(AssertionError, match=re.escape("extend zobench.api.PreferenceConfig")):
        check_config(Link)


def test_check_rejects_what_is_not_a_component():
    with pytest.raises(AssertionError, match="not a zobench component"):
        check_config(int)


class Logistic(api.PreferenceModel):
    """A correct link, to derive broken ones from."""

    name = "test-logistic"
    summary = "Logistic link."

    def sigma(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-x))

    def sigma_inverse(self, p: np.ndarray) -> np.ndarray:
        return np.log(p / (1.0 - p))


def test_a_correct_link_passes():
    check_deterministic(Logistic)


@pytest.mark.parametrize(
    ("methods", "message"),
    [
        ({"sigma_inverse": lambda self, p: 2.0 * np.log(p / (1.0 - p))}, r"inverse\(link\(x\)\)"),
        ({"sigma": lambda self, x: 1.0 / (1.0 + np.exp(x))}, "must be increasing"),
        (
            # the Weibull link, correctly inverted, is increasing but not symmetric
            {
                "sigma": lambda self, x: np.exp(-np.exp(-x)),
                "sigma_inverse": lambda self, p: -np.log(-np.log(p)),
            },
            "declares symmetric",
        ),
        ({"sigma": lambda self, x: 1.0 / (1.0 + np.exp(-x)) + 0.1}, r"probabilities in \[0, 1\]"),
        ({"sigma": lambda self, x: (x > 0).astype(float)}, "saturated"),
    ],
)
def test_check_deterministic_catches_a_wrong_link(methods, message):
    broken = type("BrokenLink", (Logistic,), methods)
    with pytest.raises(AssertionError, match=message):
        check_deterministic(broken)


class Walk(api.Environment):
    """A tiny deterministic walk, to derive broken environments from."""

    name = "test-walk"
    summary = "A walk on a line."

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.n_agents, self.n_states, self.n_actions, self.horizon, self.gamma = 2, 4, 2, 3, 1.0

    def reset(self, noise: np.ndarray) -> np.ndarray:
        return (noise[..., 0] * self.n_states).astype(np.int64)

    def step(self, states, actions, noise):
        moved = np.clip(states + 2 * actions - 1, 0, self.n_states - 1)
        return moved, (moved == self.n_states - 1).astype(float)


def test_a_correct_environment_passes():
    check_constructs(Walk)
    check_deterministic(Walk)


def test_check_deterministic_catches_hidden_randomness():
    def step(self, states, actions, noise):
        # ignores the noise it was given and draws its own: not reproducible
        slip = np.random.default_rng().random(states.shape) < 0.5
        moved = np.clip(states + np.where(slip, 0, 2 * actions - 1), 0, self.n_states - 1)
        return moved, moved.astype(float)

    with pytest.raises(AssertionError, match="different results"):
        check_deterministic(type("Noisy", (Walk,), {"step": step}))


def test_check_deterministic_catches_bad_states():
    def reset(self, noise):
        return noise[..., 0]  # floats, not state indices

    with pytest.raises(AssertionError, match="reset: states must be ints"):
        check_deterministic(type("FloatStates", (Walk,), {"reset": reset}))


def test_check_constructs_catches_missing_sizes():
    def init(self, config=None):
        api.Environment.__init__(self, config)  # forgets to set n_agents and the other sizes

    with pytest.raises(AssertionError, match="n_agents must be a positive int"):
        check_constructs(type("Sizeless", (Walk,), {"__init__": init}))


def test_check_deterministic_catches_an_unseeded_topology():
    from zobench.sim.network import Network

    def build(self, n_agents, rng):
        edges = np.random.default_rng().integers(0, n_agents, size=(n_agents, 2))
        return Network.from_edges(n_agents, edges)

    with pytest.raises(AssertionError, match="different networks for the same seed"):
        check_deterministic(type("Unseeded", (Blank,), {"build": build}))


class Serial(api.Executor):
    name = "test-serial"
    summary = "In order."

    def map_unordered(self, fn, tasks):
        for i, task in enumerate(tasks):
            yield i, fn(task)


def test_check_deterministic_catches_a_lossy_executor():
    check_deterministic(Serial)

    def map_unordered(self, fn, tasks):
        for i, task in enumerate(tasks[:-1]):
            yield i, fn(task)

    with pytest.raises(AssertionError, match="every task index once"):
        check_deterministic(type("Lossy", (Serial,), {"map_unordered": map_unordered}))


def test_check_tiny_run_applies_to_algorithms_only():
    with pytest.raises(AssertionError, match="algorithms only"):
        check_tiny_run(Walk)


class Peeker(api.Algorithm):
    """Declares itself preference-only but reads rewards: the problem must refuse it."""

    name = "test-peeker"
    summary = "Reads rewards it may not read."

    def step(self):
        traj = self.problem.rollout(self.theta, 2)
        self.problem.rewards(traj)
        return {}


class Drifter(api.Algorithm):
    """Uses unseeded randomness: two runs with the same seed differ."""

    name = "test-drifter"
    summary = "Random walk in θ from an unseeded generator."

    def step(self):
        self.theta = self.theta + np.random.default_rng().normal(size=self.theta.shape)
        return {}


@dataclasses.dataclass(frozen=True)
class HoardConfig:
    """A budget far too large for a tiny run."""

    pairs: int = api.param(10**9, "Pairs collected at the first iteration.", source="ours")


class Hoarder(api.Algorithm[HoardConfig]):
    """Collects ``pairs`` episodes at once: its defaults are a full run's, not a tiny one's."""

    name = "test-hoarder"
    summary = "Spends its whole budget at the first iteration."
    Config = HoardConfig
    tiny_settings: ClassVar[dict[str, int]] = {"pairs": 3}

    def step(self):
        if self.config.pairs > 1000:
            raise MemoryError(f"{self.config.pairs} pairs")
        self.problem.panel.compare(*self.problem.rollout_pair(self.theta, self.theta, 3), 1)
        return {}


def test_tiny_runs_use_the_algorithms_tiny_settings():
    check_tiny_run(Hoarder)
    check_deterministic(Hoarder)
    check_honest(Hoarder)
    with pytest.raises(AssertionError, match="MemoryError: 1000000000 pairs"):
        check_tiny_run(type("Greedy", (Hoarder,), {"name": "test-greedy", "tiny_settings": {}}))


def test_check_tiny_run_catches_a_preference_only_algorithm_reading_rewards():
    with pytest.raises(AssertionError, match="RewardAccessError"):
        check_tiny_run(Peeker)


def test_check_deterministic_catches_an_unseeded_algorithm():
    with pytest.raises(AssertionError, match="two runs with the same seed differ"):
        check_deterministic(Drifter)


def test_a_missing_optional_dependency_is_a_visible_skip():
    class NeedsExtra(Serial):
        name = "test-needs-extra"

        def __init__(self, config=None):
            super().__init__(config)
            try:
                import zobench_no_such_dependency  # noqa: F401
            except ImportError:
                raise RuntimeError('needs an extra: pip install "zobench[extra]"') from None

    with pytest.raises(pytest.skip.Exception, match=r"needs an extra: pip install"):
        check_constructs(NeedsExtra)


def test_other_construction_errors_fail():
    class Broken(Serial):
        name = "test-broken-executor"

        def __init__(self, config=None):
            raise RuntimeError("no")

    with pytest.raises(AssertionError, match="cannot be built with its default Config"):
        check_constructs(Broken)


def test_the_kit_catches_an_understated_reward_span():
    """Rewards wider than the declared span would mislead every preference-only trimming bound."""
    import dataclasses

    import pytest

    from zobench import testing
    from zobench_plugins.environments.gridworld import GridWorld, GridWorldConfig

    @dataclasses.dataclass(frozen=True)
    class TinyConfig(GridWorldConfig):
        """A 2x2 grid, so random actions reach the goal and rewards vary."""

        size: int = 2
        goal: tuple[int, int] = (1, 1)

    class Understated(GridWorld):
        name = "understated-gridworld"
        summary = "A gridworld that claims rewards never vary."
        Config = TinyConfig
        reward_span = 0.0

    with pytest.raises(AssertionError, match="reward_span"):
        testing.check_deterministic(Understated)
