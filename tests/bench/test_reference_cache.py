"""Exact optima and certified bounds: computed once per instance, kept on disk, labelled on boards."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import zobench
from zobench.bench import reference_cache, runner
from zobench.plugins import get_host
from zobench.report import analysis, leaderboard
from zobench_plugins.environments import net_exact

SMALL_NET = {"n_agents": 3, "size": 3, "collision_penalty": 2.0, "horizon": 8}
"""Three agents on 3 × 3: too large for joint tables (729² · 125 entries), a 3 ms exact DP."""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder of this test, and no instance kept in the runner's process cache."""
    monkeypatch.setenv(reference_cache.CACHE_VARIABLE, str(tmp_path / "cache"))
    monkeypatch.setattr(runner, "_instances", type(runner._instances)())
    monkeypatch.setattr(reference_cache, "COMPUTATIONS", {})
    return tmp_path / "cache" / "references"


def _run(environment: str = "net-gridworld", topology: str = "chain", **params: object):
    frame = zobench.run_one(
        algorithm="uniform",
        environment=environment,
        environment_params={**SMALL_NET, **params} if environment == "net-gridworld" else params,
        topology=topology,
        seed=0,
        iterations=1,
        eval_every=1,
        eval_episodes=16,
    )
    runner._instances.clear()  # the next run must go to the disk cache, as a new process does
    return frame


def _computed() -> int:
    return reference_cache.COMPUTATIONS.get("exact optimum", 0)


def test_the_exact_optimum_is_computed_once_then_read_from_disk(cache: Path) -> None:
    first = _run()
    assert _computed() == 1
    assert len(list(cache.glob("*.exact-optimum.json"))) == 1
    second = _run()
    assert _computed() == 1  # the second run read it
    assert first["ref_optimal"].to_list() == second["ref_optimal"].to_list()
    assert first["ref_kind"].to_list() == ["exact"] * first.height
    env = zobench.make("environment", "net-gridworld", **SMALL_NET)
    env.connect(zobench.make("topology", "chain").build(3, np.random.default_rng(0)))
    assert first["ref_optimal"][0] == pytest.approx(net_exact.optimal_value(env), abs=1e-12)
    # the run's normalized score is against that optimum
    refs = first.row(0, named=True)
    expected = (refs["score"] - refs["ref_uniform"]) / (refs["ref_optimal"] - refs["ref_uniform"])
    assert refs["score_normalized"] == pytest.approx(expected)


def test_another_network_or_setting_is_another_instance(cache: Path) -> None:
    _run()
    _run(topology="ring")  # 3 agents on a ring: every agent sees both others, not so on a chain
    _run(collision_penalty=1.0)
    _run(collision_penalty=2.0)  # written out as before: the same instance as the first run
    assert _computed() == 3


def test_a_damaged_entry_is_computed_again_and_replaced(cache: Path) -> None:
    good = _run()["ref_optimal"][0]
    (entry,) = cache.glob("*.exact-optimum.json")
    for damage in ('{"key": "another", "value": 1.0}', "not json", '{"value": NaN}'):
        entry.write_text(damage)
        assert _run()["ref_optimal"][0] == good
        assert json.loads(entry.read_text())["value"] == good
    assert _computed() == 4


def test_an_unwritable_cache_costs_the_caching_not_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(reference_cache.CACHE_VARIABLE, str(blocker))
    monkeypatch.setattr(reference_cache, "COMPUTATIONS", {})
    assert _run()["ref_kind"][0] == "exact"
    assert _run()["ref_kind"][0] == "exact"
    assert _computed() == 2


def test_concurrent_askers_compute_once(tmp_path: Path) -> None:
    calls = []

    def slow() -> float:
        calls.append(1)
        time.sleep(0.3)
        return 1.5

    results: list[float] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                reference_cache.remember("k" * 64, "exact optimum", slow, folder=tmp_path)
            )
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [1.5, 1.5, 1.5]
    assert len(calls) == 1
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically: no temporary file left


def test_the_cache_folder_follows_the_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(reference_cache.CACHE_VARIABLE, str(tmp_path / "mine"))
    assert reference_cache.cache_folder() == tmp_path / "mine" / "references"
    monkeypatch.delenv(reference_cache.CACHE_VARIABLE)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert reference_cache.cache_folder() == tmp_path / "xdg" / "zobench" / "references"


def test_the_key_holds_the_code_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    registration = get_host().get("environment", "net-gridworld")
    config = registration.obj.Config(**SMALL_NET)
    network = zobench.make("topology", "chain").build(3, np.random.default_rng(0))
    key = reference_cache.instance_key(registration, config, network)
    assert key == reference_cache.instance_key(
        registration, registration.obj.Config(**SMALL_NET), network
    )
    monkeypatch.setattr(
        reference_cache, "component_fingerprint", lambda *_: {"source": "edited code"}
    )
    assert reference_cache.instance_key(registration, config, network) != key


SMALL_NET_TABLE = "\n".join(f"{k} = {v}" for k, v in SMALL_NET.items())
SUITE = f"""
name = "references"
seeds = 2
iterations = 2
eval_every = 1
eval_episodes = 32

[[environment]]
name = "net-gridworld"
{SMALL_NET_TABLE}

[[environment]]
name = "net-gridworld"
{SMALL_NET_TABLE}
reference = "greedy"

[[environment]]
name = "predator-prey"
n_agents = 2
size = 5
n_prey = 2
n_obstacles = 2
horizon = 12

[preference]
name = "bradley-terry"

[[algorithm]]
name = "uniform"

[[algorithm]]
name = "oracle-pg"
"""


def test_every_group_of_a_board_says_its_reference(cache: Path, tmp_path: Path) -> None:
    suite = tmp_path / "references.toml"
    suite.write_text(SUITE, encoding="utf-8")
    zobench.run_suite(suite, tmp_path / "out", executor="serial")
    runs = analysis.from_store(tmp_path / "out")
    board = leaderboard.build(runs, name="references")
    references = [(section.title, section.reference) for section in board.sections]
    text = leaderboard.markdown(board)
    (bound,) = [r for title, r in references if title.startswith("predator-prey")]
    assert bound.startswith("certified bound [")
    assert f"Reference: {bound}." in text
    net = {title: r for title, r in references if title.startswith("net-gridworld")}
    assert sorted(net.values()) == ["approximate", "exact"]
    assert next(r for t, r in net.items() if "reference=greedy" in t) == "approximate"
    assert "Reference: exact." in text
    assert "Reference: approximate." in text
    # under the bound, nobody scores above 1; the bracket's lower end is the greedy policy's value
    curves = runs.curves.filter(runs.curves["ref_kind"] == "certified bound")
    assert (curves["score_normalized"] <= 1.0).all()
    assert (curves["ref_lower"] <= curves["ref_optimal"]).all()
