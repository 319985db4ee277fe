"""Every built-in suite validates, and a smoke variant of it runs end to end.

The smoke variant is the registered suite itself, parsed through the registry, with only its
budget shrunk (:func:`smoke`): 2 seeds, a few iterations, few evaluation episodes, at most
:data:`MAX_PAIRS` pairs/comparisons and :data:`MAX_AGENTS` agents, and cheap references
(:data:`CHEAP_REFERENCES`). Components, links,
topologies, grids and every other setting are the suite's own, so a suite that names a missing
plugin, sets an invalid value or breaks a component at run time fails here.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from importlib import resources
from typing import Any

import pytest
from click.testing import CliRunner

from zobench.bench.identity import identify
from zobench.bench.runner import COLUMNS, run
from zobench.bench.scheduler import make_executor, schedule
from zobench.bench.spec import ComponentSpec
from zobench.bench.suite import Entry, Suite, SuiteSettings, load_suite
from zobench.cli import cli
from zobench.config import as_dict, validate
from zobench.plugins import get_host

PAPER_SUITES = (
    "zpg-gridworld",
    "zpg-gridworld-slip",
    "zbcpg-cost",
    "dzopg-gridworld",
    "dzopg-safety",
    "dzopg-predator-prey",
    "dzopg-ablation-horizon",
    "dzopg-ablation-evaluators",
    "dzopg-ablation-trials",
    "dzopg-pp-trials",
    "dzopg-pp-kappa",
    "dzopg-scaling",
    "dzopg-scaling-normalization",
)
"""The suites of issue 9: one per claim group of the ZPG and DZOPG papers (plus Z1 under more
transition noise, where the paper's argument against DPO should bite, Z3's cost half on a larger
grid, where a block-coordinate saving can show, and issue 20's companion of the scaling suite
under both of dzopg's normalizations)."""

TUNING_SEEDS = {0, 1, 2}
SMOKE = {"seeds": 2, "iterations": 4, "eval_every": 2, "eval_episodes": 8}
MAX_PAIRS = 32
"""Cap on any count of pairs or comparisons (offline dpo's 400,000 pairs would take seconds)."""
MAX_AGENTS = 6
"""Cap on n_agents (the scaling suite's 1,024 agents); sizes and goals stay the suite's."""
SHRUNK_KEYS = {"pairs": MAX_PAIRS, "comparisons": MAX_PAIRS, "n_agents": MAX_AGENTS}

OFFLINE = ("dpo", "ppo-rm")
"""Algorithms that spend their whole query budget (``pairs`` × M votes) before iteration 1."""
COMPARISONS = (
    "zpg-gridworld",
    "zpg-gridworld-slip",
    "dzopg-gridworld",
    "dzopg-safety",
    "dzopg-predator-prey",
)
"""Suites that compare preference learners and promise them equal query budgets."""


def builtin_suites() -> list[str]:
    """Names of every suite shipped in ``zobench_plugins.suites`` (read from the TOML files)."""
    folder = resources.files("zobench_plugins.suites")
    names = [
        tomllib.loads(f.read_text(encoding="utf-8"))["name"]
        for f in folder.iterdir()
        if f.name.endswith(".toml")
    ]
    return sorted(names)


def _shrink(value: Any, key: str) -> Any:
    return min(value, SHRUNK_KEYS[key]) if key in SHRUNK_KEYS else value


CHEAP_REFERENCES = {"net-gridworld": {"reference": "greedy"}}
"""Environment settings a smoke run adds: net-gridworld's exact optimum is a 25 s dynamic program
at 4 agents, once per instance and network (tests/networked/test_net_exact.py tests it)."""


def _small_entry(entry: Entry) -> Entry:
    params = {k: _shrink(v, k) for k, v in entry.params.items()}
    if entry.table == "environment":
        params = {**CHEAP_REFERENCES.get(entry.name, {}), **params}
    if entry.table == "algorithm":
        # the paper suites leave pairs to the presets (800,000 offline pairs for dpo on
        # predator-prey): cap what the suite does not write as well
        fields = {f.name for f in dataclasses.fields(get_host().algorithm(entry.name).Config)}
        for key, cap in SHRUNK_KEYS.items():
            if key in fields and key not in params and key not in entry.grid:
                params[key] = cap
    # dict.fromkeys keeps the grid's order and drops values the cap made equal.
    grid = {k: list(dict.fromkeys(_shrink(v, k) for v in vs)) for k, vs in entry.grid.items()}
    return dataclasses.replace(entry, params=params, grid=grid)


def smoke(suite: Suite) -> Suite:
    """The suite with a tiny budget and everything else unchanged."""
    settings = validate(SuiteSettings, {**as_dict(suite.settings), **SMOKE})
    entries = {t: tuple(map(_small_entry, es)) for t, es in suite.entries.items()}
    return Suite(settings, entries, f"smoke of {suite.source}").checked()


def test_every_paper_suite_is_registered() -> None:
    registered = set(get_host().names("suite"))
    assert set(PAPER_SUITES) <= registered
    assert set(builtin_suites()) <= registered
    assert {"quickstart", *PAPER_SUITES} == set(builtin_suites())


@pytest.mark.parametrize("name", builtin_suites())
def test_suite_validates(name: str) -> None:
    result = CliRunner().invoke(cli, ["validate", name])
    assert result.exit_code == 0, result.output
    assert f"suite '{name}' is valid" in result.output
    suite = load_suite(name)
    assert f"{suite.count()} runs" in " ".join(result.output.split())


@pytest.mark.parametrize("name", PAPER_SUITES)
def test_suite_meets_the_issue(name: str) -> None:
    """At least 5 seeds, none of them a tuning seed, and a description naming claims and budget."""
    suite = load_suite(name)
    assert len(suite.seeds) >= 5
    # The step sizes were picked on seeds 0-2 (docs/tuning.md); reporting on those seeds
    # would score the tuning runs themselves.
    assert not set(suite.seeds) & TUNING_SEEDS
    description = suite.settings.description
    assert "Budget:" in description
    if sum(e.name not in ("uniform",) for e in suite.entries["algorithm"]) > 1:
        assert "preference-query budget" in description
    assert "laim" in description or "calab" in description  # "Claim(s) …" / "Scalability"
    assert "\n" not in description  # one line in `zobench list`


@pytest.mark.slow
@pytest.mark.parametrize("name", builtin_suites())
def test_smoke_variant_runs(name: str, tmp_path: Any) -> None:
    suite = smoke(load_suite(name))
    specs = suite.runs()
    assert len(specs) == suite.count() == len({identify(s).run_id for s in specs})
    outcome = schedule(suite, tmp_path / name, executor=make_executor("serial"))
    assert outcome.failed == {}
    assert len(outcome.done) == suite.count()
    frame = outcome.frame()
    assert set(COLUMNS) <= set(frame.columns)
    # Evaluations at iterations 0, 2 and 4 of every run; every score finite.
    assert frame.height == 3 * suite.count()
    assert sorted(set(frame["iteration"].to_list())) == [0, 2, 4]
    assert all(math.isfinite(s) for s in frame["score"].to_list())
    normalized = frame["score_normalized"].drop_nulls().to_list()
    assert len(normalized) == frame.height  # every built-in environment has a reference
    assert all(math.isfinite(s) for s in normalized)
    assert set(frame["seed"].to_list()) == {0, 1}
    # Every labelled configuration of the suite appears, each with both seeds.
    per_label = frame.filter(frame["iteration"] == 4).group_by("label").len()
    labels = {e.label or e.name for e in suite.entries["algorithm"]}
    assert set(per_label["label"].to_list()) == labels


def votes_per_iteration(suite: Suite, spec: Any) -> float:
    """Votes per iteration the algorithm of ``spec`` spends over the suite's budget (measured).

    Online learners run 2 iterations at the suite's settings and the ledger is read. An offline
    learner charges its whole budget at once, so it runs with ``pairs`` divided by the suite's
    iterations: what it spends then is its average spend per iteration of the full run.
    """
    algorithm = spec.algorithm
    if algorithm.name in OFFLINE:
        pairs = algorithm.params["pairs"]
        assert pairs % suite.settings.iterations == 0
        params = {**algorithm.params, "pairs": pairs // suite.settings.iterations}
        algorithm = dataclasses.replace(algorithm, params=params)
    environment = spec.environment
    cheap = {**CHEAP_REFERENCES.get(environment.name, {}), **environment.params}
    small = dataclasses.replace(
        spec,
        algorithm=algorithm,
        environment=dataclasses.replace(environment, params=cheap),
        iterations=2,
        eval_every=2,
        eval_episodes=8,
        seed=0,
    )
    queries = run(small)["queries"][-1]
    return queries if spec.algorithm.name in OFFLINE else queries / 2


@pytest.mark.parametrize("name", COMPARISONS)
def test_preference_learners_get_equal_query_budgets(name: str) -> None:
    """Every learner without reward access spends the same votes per iteration as the others,
    on every instance of the suite (each link, each slip): the presets resolve per instance, and
    a tuning suite that left a budget setting to a tuned default would give one learner more."""
    suite = load_suite(name)
    first_seed = suite.runs()[0].seed
    host = get_host()
    instances: dict[str, dict[str, float]] = {}
    for spec in suite.runs():
        reads_rewards = host.get("algorithm", spec.algorithm.name).obj.uses_rewards
        if spec.seed != first_seed or reads_rewards or spec.algorithm.name == "uniform":
            continue
        instance = repr((spec.environment, spec.preference, spec.topology))
        resolved = identify(spec).resolved["algorithm"]
        resolved_spec = dataclasses.replace(
            spec, algorithm=ComponentSpec(resolved["name"], resolved["params"]), presets=False
        )
        budgets = instances.setdefault(instance, {})
        budgets[spec.display_label] = votes_per_iteration(suite, resolved_spec)
    for budgets in instances.values():
        assert len(budgets) >= 3, budgets
        assert len(set(budgets.values())) == 1, budgets
        assert next(iter(budgets.values())) > 0
