"""Run identity: a run id is what ran — the resolved configuration and the code that computed it."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from zobench.bench import identity
from zobench.bench.identity import identify
from zobench.bench.records import RunRecord, config_hash, run_id_of
from zobench.bench.scheduler import make_executor, plan, schedule
from zobench.bench.spec import RunSpec
from zobench.bench.store import Store
from zobench.bench.suite import parse_suite
from zobench.testing import make_distribution
from zobench_plugins.algorithms.zpg import ZPGConfig

TINY = {
    "seeds": 2,
    "iterations": 4,
    "eval_every": 2,
    "eval_episodes": 16,
    "environment": '{ name = "gridworld", size = 3, goal = [2, 2], horizon = 6 }',
    "preference": '{ name = "bradley-terry" }',
}


def _suite_text(name: str, algorithms: list[str], topology: str = "") -> str:
    head = [f'name = "{name}"'] + [f"{k} = {v}" for k, v in TINY.items()]
    if topology:
        head.append(f"topology = {topology}")
    return "\n".join([*head, "algorithm = [" + ", ".join(algorithms) + "]", ""])


STEP = ZPGConfig().step_size
"""zpg's default step size."""


def _zpg(**params: object) -> RunSpec:
    return RunSpec.create(algorithm="zpg", algorithm_params=params, seed=3)


@pytest.mark.usefixtures("clean_plugin_env")
def test_a_default_written_out_is_the_same_run_and_another_value_is_not() -> None:
    implicit = identify(_zpg())
    assert implicit.resolved["algorithm"]["params"]["step_size"] == STEP
    assert identify(_zpg(step_size=STEP)).run_id == implicit.run_id
    assert identify(_zpg(step_size=STEP, trim="bound")).config_hash == implicit.config_hash
    assert identify(_zpg(step_size=STEP * 2)).run_id != implicit.run_id
    # No topology given: the environment's default is the one that runs, so it is the same run.
    explicit_topology = RunSpec.create(algorithm="zpg", topology="isolated", seed=3)
    assert identify(explicit_topology).run_id == implicit.run_id
    # The seed and the run settings are part of the configuration.
    assert identify(RunSpec.create(algorithm="zpg", seed=4)).run_id != implicit.run_id
    assert identify(RunSpec.create(algorithm="zpg", seed=3, iterations=5)).run_id != (
        implicit.run_id
    )


@pytest.mark.usefixtures("clean_plugin_env")
def test_the_run_id_is_recomputable_from_the_record_alone() -> None:
    ident = identify(_zpg(pairs=8))
    assert config_hash(ident.resolved) == ident.config_hash
    assert run_id_of(ident.config_hash, ident.fingerprint) == ident.run_id
    code = ident.fingerprint
    assert set(code) == {"kernel", "algorithm", "environment", "preference", "topology"}
    assert code["algorithm"]["distribution"] == "zobench"
    assert len(code["algorithm"]["source"]) == 64
    assert code["kernel"]["source"] != code["algorithm"]["source"]
    # Another line of code in the algorithm: another id, the same configuration hash.
    other = {**code, "algorithm": {**code["algorithm"], "source": "0" * 64}}
    assert run_id_of(ident.config_hash, other) != ident.run_id


@pytest.mark.usefixtures("clean_plugin_env")
def test_a_subclass_fingerprint_covers_the_module_it_builds_on() -> None:
    from zobench.plugins import get_host

    zbcpg = get_host().get("algorithm", "zbcpg").obj
    closure = identity._package_closure(zbcpg.__module__)
    assert "zobench_plugins.algorithms.zpg" in closure
    assert all(name.startswith("zobench_plugins.") for name in closure)


@pytest.mark.usefixtures("clean_plugin_env")
def test_a_suite_writing_a_default_out_runs_once_and_the_second_run_skips(tmp_path: Path) -> None:
    text = _suite_text(
        "defaults",
        [
            '{ name = "zpg", pairs = 4 }',
            f'{{ name = "zpg", pairs = 4, step_size = {STEP}, label = "explicit" }}',
        ],
    )
    suite = parse_suite(text)
    assert len(plan(suite.runs())) == 2  # 2 seeds × one configuration written two ways
    out = tmp_path / "out"
    first = schedule(suite, out, executor=make_executor("serial"))
    assert len(first.done) == 2
    again = schedule(parse_suite(text), out, executor=make_executor("serial"))
    assert (again.done, len(again.skipped)) == ([], 2)


@pytest.mark.usefixtures("clean_plugin_env")
def test_planning_a_thousand_runs_is_fast() -> None:
    text = _suite_text("many", ['{ name = "zpg", grid = { pairs = [4, 8, 16, 32, 64] } }'])
    suite = parse_suite(text.replace("seeds = 2", "seeds = 200"))
    specs = suite.runs()
    start = time.perf_counter()
    planned = plan(specs)
    elapsed = time.perf_counter() - start
    assert len(planned) == 1000
    # Generous bound (shared CI machines); measured about 0.1 s. A regression to hashing
    # source files per run would take several seconds.
    assert elapsed < 5, elapsed


TILT_PLUGIN = '''
"""An algorithm whose numbers depend on a default (identity tests)."""
from dataclasses import dataclass

import numpy as np

import zobench
from zobench import api


@dataclass(frozen=True)
class TiltConfig:
    """Settings of test-tilt."""

    tilt: float = api.param(DEFAULT, "How far θ moves each step.")


class Tilt(api.Algorithm):
    """Moves θ by a fixed ramp each step."""

    name = "test-tilt"
    summary = "Moves every parameter by a ramp of size `tilt` each step (identity tests)."
    Config = TiltConfig

    def step(self):
        """One deterministic move."""
        ramp = np.linspace(0.0, self.config.tilt, self.theta.size).reshape(self.theta.shape)
        self.theta = self.theta + ramp
        return {}


@zobench.hookimpl
def zobench_register_algorithms(register):
    """Register test-tilt."""
    register(Tilt)
'''


def _install_tilt(site: Path, default: float) -> None:
    make_distribution(
        site,
        "zobench-tilt",
        {"tilt": "zbtilt"},
        modules={"zbtilt.py": TILT_PLUGIN.replace("DEFAULT", repr(default))},
    )


def _scores(out: Path) -> dict[int, float]:
    frame = pl.read_csv(out / "results.csv")
    final = frame.sort("iteration").group_by("seed").last()
    return dict(zip(final.get_column("seed"), final.get_column("score"), strict=True))


@pytest.mark.slow
def test_a_changed_default_in_an_installed_plugin_recomputes_its_runs(
    tmp_path: Path, site_dir: Path, run_zobench: Callable[..., object]
) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(_suite_text("tilt", ['{ name = "test-tilt" }']), encoding="utf-8")
    out = tmp_path / "out"
    env = {"PYTHONDONTWRITEBYTECODE": "1"}  # the edited module must be read again

    def zobench(*args: str) -> object:
        return run_zobench(*args, path=(site_dir,), env=env)

    _install_tilt(site_dir, 0.5)
    first = zobench("run", str(suite), "--out", str(out), "--executor", "serial")
    assert first.returncode == 0, first.stderr
    assert "2 runs: 2 done" in first.stderr
    assert zobench("export", str(out)).returncode == 0
    before = _scores(out)

    _install_tilt(site_dir, 2.0)  # a new default, same version: the code changed
    listed = zobench("runs", str(out))
    assert listed.stdout.count("stale") >= 2, listed.stdout
    assert "a default changed" in listed.stdout
    second = zobench("run", str(suite), "--out", str(out), "--executor", "serial")
    assert second.returncode == 0, second.stderr
    assert "2 runs: 2 done, 0 already done" in second.stderr
    assert "2 stale runs recomputed" in second.stderr
    assert zobench("export", str(out)).returncode == 0
    after = _scores(out)
    assert set(after) == set(before) == {0, 1}
    assert all(after[s] != before[s] for s in before)  # the new numbers, not the old ones
    # One run per configuration: the superseded records are gone.
    assert len(list((out / "manifest").glob("*.json"))) == 2
    records = [json.loads(p.read_text()) for p in (out / "manifest").glob("*.json")]
    assert {r["resolved"]["algorithm"]["params"]["tilt"] for r in records} == {2.0}
    third = zobench("run", str(suite), "--out", str(out), "--executor", "serial")
    assert "2 already done (skipped)" in third.stderr


@pytest.mark.usefixtures("clean_plugin_env")
def test_an_edited_edge_list_file_recomputes_the_runs_that_read_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # relative edge-list paths are read from the working directory
    Path("links.txt").write_text("0 1\n", encoding="utf-8")
    text = _suite_text("edges", ['{ name = "uniform" }'], '{ name = "edges", path = "links.txt" }')
    text = text.replace(
        TINY["environment"], '{ name = "net-gridworld", n_agents = 2, size = 3, horizon = 4 }'
    )
    suite = parse_suite(text.replace("seeds = 2", "seeds = 1"))
    first = schedule(suite, "out", executor=make_executor("serial"))
    assert len(first.done) == 1
    record = RunRecord.from_json(json.loads(Store("out").record_path(first.done[0]).read_text()))
    assert list(record.fingerprint["topology"]["inputs"]) == ["links.txt"]

    unchanged = schedule(suite, "out", executor=make_executor("serial"))
    assert unchanged.skipped == first.done

    Path("links.txt").write_text("# the agents are strangers now\n", encoding="utf-8")
    edited = schedule(suite, "out", executor=make_executor("serial"))
    assert len(edited.done) == 1
    assert edited.done != first.done
    assert edited.stale == edited.done
    assert [r.run_id for r in Store("out").scan().current()] == edited.done


LEADERBOARDS = Path(__file__).resolve().parents[2] / "leaderboards"


@pytest.mark.usefixtures("clean_plugin_env")
def test_a_new_run_matches_an_older_published_record_of_the_same_configuration() -> None:
    from zobench.cli.report import _resolved
    from zobench.report import analysis

    published = analysis.from_published(LEADERBOARDS / "zpg-gridworld")
    # a record as published before configurations were resolved and code fingerprinted (the
    # boards' records now carry both): without its resolution, it is matched by resolving its
    # spec as written
    dropped = ("config_hash", "resolved", "fingerprint")
    legacy = {k: v for k, v in published.records[0].items() if k not in dropped}
    assert identity.code_differs(legacy) is True  # no fingerprint recorded: noted by compare
    computed = identify(RunSpec.from_record(legacy["spec"]))
    new_id = "f" * 16
    mine = {**legacy, "run_id": new_id, "config_hash": computed.config_hash}
    curves = published.curves.filter(pl.col("run_id") == legacy["run_id"])
    curves = curves.with_columns(pl.lit(new_id).alias("run_id"))
    combined = analysis.combine(analysis.RunSet((mine,), curves), _resolved(published))
    assert len(combined) == len(published)  # the same configuration counts once
    assert new_id in {r["run_id"] for r in combined.records}  # the first source's copy


@pytest.mark.usefixtures("clean_plugin_env")
def test_compare_notes_published_runs_computed_by_other_code(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from zobench.cli import cli

    def compare() -> str:
        result = CliRunner().invoke(
            cli,
            [
                "compare",
                str(LEADERBOARDS / "zpg-gridworld-slip"),
                str(tmp_path / "zpg-gridworld"),  # the other source: the one noted
                "--baseline",
                "zpg",
            ],
            env={"COLUMNS": "200"},
        )
        assert result.exit_code == 0, result.output
        return result.output

    note = "were computed by other code than is installed now"
    shutil.copytree(LEADERBOARDS / "zpg-gridworld", tmp_path / "zpg-gridworld")
    assert note not in compare()  # published by the code installed here
    raw = tmp_path / "zpg-gridworld" / "raw"
    records = json.loads((raw / "runs.json").read_text(encoding="utf-8"))
    renamed = {}
    for record in records:  # as if an older zpg had computed them: other source, other run id
        record["fingerprint"]["algorithm"]["source"] = "0" * 64
        new_id = run_id_of(record["config_hash"], record["fingerprint"])
        renamed[record["run_id"]] = record["run_id"] = new_id
    (raw / "runs.json").write_text(json.dumps(records), encoding="utf-8")
    curves = pl.read_parquet(raw / "curves.parquet")
    curves.with_columns(pl.col("run_id").replace_strict(renamed)).write_parquet(
        raw / "curves.parquet"
    )
    assert note in compare()


@pytest.mark.slow
def test_run_ids_do_not_depend_on_what_else_a_process_imported_or_loaded() -> None:
    import os
    import subprocess
    import sys

    code = (
        "import sys, importlib\n"
        "for name in sys.argv[1:]: importlib.import_module(name)\n"
        "from zobench.bench.identity import identify\n"
        "from zobench.bench.spec import RunSpec\n"
        "print(identify(RunSpec.create(algorithm='zbcpg', environment='gridworld')).run_id)\n"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ZOBENCH_")}

    def run_id(*imports: str, **extra: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", code, *imports],
            env={**environ, **extra},
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    plain = run_id()
    assert len(plain) == 16
    busy = run_id("zobench.report.plots", "zobench.sim.evaluate", "zobench_plugins.algorithms.dpo")
    assert busy == plain
    # Another plugin switched off changes nothing for a run that does not use it.
    assert run_id(ZOBENCH_DISABLE_PLUGINS="net-gridworld") == plain
