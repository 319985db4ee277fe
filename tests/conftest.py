"""Shared fixtures: plugin distributions installed at test time, and the real CLI in a subprocess.

Plugins are made discoverable the way pip makes them: a ``*.dist-info`` directory with
``METADATA`` and ``entry_points.txt`` on ``sys.path`` (written by
:func:`zobench.testing.make_distribution`), never by calling ``register`` by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import zobench.testing
from zobench.bench.reference_cache import CACHE_VARIABLE
from zobench.plugins import reset_host
from zobench_plugins.environments import net_exact

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_SRC = REPO / "plugins" / "zobench-example" / "src"
"""Source of the example third-party plugin (flat ``src`` layout, importable as is)."""

# Variables that change which plugins load; cleared so the developer's shell cannot change results.
PLUGIN_VARIABLES = ("ZOBENCH_PLUGINS", "ZOBENCH_DISABLE_PLUGINS", "ZOBENCH_STRICT_PLUGINS")


TEST_DP_LIMIT = 2_000_000_000
"""Most multiply-adds of an exact dynamic program a test may run (about 2 s): the default
4-agent net-gridworld (2·10¹⁰, ~25 s) is for users, once per machine, not for every CI run."""


@pytest.fixture(autouse=True, scope="session")
def _session_reference_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Exact optima and bounds cached in this session's own folder, never the user's cache.

    Set in the environment, so subprocesses and executor workers use it too.
    """
    patch = pytest.MonkeyPatch()
    patch.setenv(CACHE_VARIABLE, str(tmp_path_factory.mktemp("zobench-cache")))
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def _no_costly_exact_optimum(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail a test that would run net-gridworld's exact dynamic program on a large instance.

    Such a test should use a smaller instance or ``reference = "greedy"``. (This process only:
    executor workers and subprocesses are not guarded.)
    """
    exact = net_exact.optimal_value

    def guarded(env: object) -> float:
        cost = net_exact.exact_cost(env.n_agents, env.n_states, env.n_actions, env.horizon)  # type: ignore[attr-defined]
        if TEST_DP_LIMIT < cost <= net_exact.EXACT_LIMIT:  # past the limit it refuses itself
            raise RuntimeError(
                f"a test ran the exact dynamic program of a large net-gridworld ({cost:.2g} "
                "multiply-adds): use a smaller instance or reference = 'greedy'"
            )
        return exact(env)

    monkeypatch.setattr(net_exact, "optimal_value", guarded)


def pytest_configure(config: pytest.Config) -> None:
    """Load the conformance kit's fixtures even when plugin autoloading is switched off.

    Normally the ``pytest11`` entry point has loaded it already; registering twice is an error.
    """
    if not config.pluginmanager.is_registered(zobench.testing):
        config.pluginmanager.register(zobench.testing, "zobench-testing")


@pytest.fixture
def clean_plugin_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No plugin-selection variables, a wide terminal for rich tables, a fresh host before/after."""
    for name in PLUGIN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # rich folds table cells to the terminal width; wide enough that names stay whole
    monkeypatch.setenv("COLUMNS", "250")
    reset_host()
    yield
    reset_host()


@pytest.fixture
def example_installed(
    clean_plugin_env: None,
    zobench_distribution: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """The example plugin installed through a dist-info record; returns the record's path."""
    monkeypatch.syspath_prepend(str(EXAMPLE_SRC))
    return zobench_distribution("zobench-example", {"example": "zobench_example"})


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    """An empty directory to write distribution records into (for subprocesses)."""
    path = tmp_path / "site"
    path.mkdir()
    return path


@pytest.fixture
def run_zobench() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real command line, ``python -m zobench ARGS``, in a subprocess.

    ``path`` entries are prepended to PYTHONPATH (where the dist-info records and plugin
    modules live); ``env`` adds variables. Plugin-selection variables of the developer's shell
    are removed so the outcome depends only on the test.
    """

    def run(
        *args: str, path: tuple[Path, ...] = (), env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if k not in PLUGIN_VARIABLES}
        environ.pop("PYTHONWARNINGS", None)  # our own filters would change what is printed
        environ["COLUMNS"] = "250"
        pythonpath = [str(p) for p in path]
        if environ.get("PYTHONPATH"):
            pythonpath.append(environ["PYTHONPATH"])
        environ["PYTHONPATH"] = os.pathsep.join(pythonpath)
        environ.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "zobench", *args],
            capture_output=True,
            text=True,
            env=environ,
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )

    return run
