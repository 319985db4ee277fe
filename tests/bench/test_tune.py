"""``zobench tune``: one protocol for every algorithm, trials as resumable runs, same winners."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from zobench.bench import scheduler
from zobench.bench.store import Store, load
from zobench.bench.suite import parse_suite
from zobench.bench.tune import Protocol, TuneError, objective_value, studies, tune
from zobench.cli import cli
from zobench.presets import load_presets

pytestmark = pytest.mark.usefixtures("clean_plugin_env")

TINY = """
name = "tiny"
seeds = 2
iterations = 12
eval_every = 4

[environment]
name = "gridworld"
size = 3
goal = [2, 2]
horizon = 6

[preference]
name = "bradley-terry"

[[algorithm]]
name = "zpg"
pairs = 8
evaluators = 5

[[algorithm]]
name = "zbcpg"
pairs = 8
evaluators = 5
step_size = 0.05
"""

PROTOCOL = Protocol(trials=4, seeds=(1000, 1001), batch=2)


def serial() -> object:
    return scheduler.make_executor("serial")


def test_every_algorithm_gets_the_same_trials_and_seeds(tmp_path: Path) -> None:
    suite = parse_suite(TINY)
    outcome = tune(suite, tmp_path, protocol=PROTOCOL, executor=serial())
    frame = load(tmp_path)
    per_label = frame.group_by("label").agg(
        pl.col("run_id").n_unique().alias("runs"), pl.col("seed").unique().sort().alias("seeds")
    )
    assert sorted(per_label["label"].to_list()) == ["zbcpg", "zpg"]
    assert per_label["runs"].to_list() == [PROTOCOL.trials * len(PROTOCOL.seeds)] * 2
    assert all(s.to_list() == [1000, 1001] for s in per_label["seeds"])
    assert len(outcome.trials) == 2 * PROTOCOL.trials
    assert all(len(t.values) == len(PROTOCOL.seeds) for t in outcome.trials)


def test_settings_the_suite_writes_are_not_tuned_and_the_vote_budget_is_kept() -> None:
    found = {s.label: s for s in studies(parse_suite(TINY))}
    assert set(found["zpg"].space) == {"mu", "evaluators", "step_size"}
    assert "step_size" not in found["zbcpg"].space  # the suite writes it
    outcome_params = found["zpg"]
    from zobench.bench.tune import _completed

    for m in (1, 5, 10, 40):
        params = _completed(outcome_params, {"evaluators": m})
        assert params["pairs"] * m <= 8 * 5 < (params["pairs"] + 1) * m


def test_tuning_again_computes_nothing_and_gives_the_same_winners(tmp_path: Path) -> None:
    suite = parse_suite(TINY)
    first = tune(suite, tmp_path, protocol=PROTOCOL, executor=serial())
    stored = len(list(Store(tmp_path).records()))
    second = tune(suite, tmp_path, protocol=PROTOCOL, executor=serial())
    assert len(list(Store(tmp_path).records())) == stored
    assert first.table().drop("run_ids").equals(second.table().drop("run_ids"))
    assert {k: t.params for k, t in first.winners().items()} == {
        k: t.params for k, t in second.winners().items()
    }


def test_tuning_seeds_must_differ_from_evaluation_seeds(tmp_path: Path) -> None:
    with pytest.raises(TuneError, match="evaluation seeds"):
        tune(
            parse_suite(TINY),
            tmp_path,
            protocol=Protocol(trials=1, seeds=(0, 7)),
            executor=serial(),
        )


def test_step_area_objective_by_hand() -> None:
    curve = pl.DataFrame(
        {
            "queries": [0, 100, 400],
            "episodes": [0, 10, 20],
            "score": [0.0, 5.0, 9.0],
            "score_normalized": [0.0, 0.5, 1.0],
        }
    )
    # 0 on [0, 100), 0.5 on [100, 400): (0·100 + 0.5·300) / 400
    assert objective_value(curve, "queries", "auc") == pytest.approx(0.375)
    assert objective_value(curve, "episodes", "auc") == pytest.approx(0.25)
    assert objective_value(curve, "queries", "final") == 1.0


def test_cli_writes_trials_winners_and_a_preset_file(tmp_path: Path) -> None:
    suite_file = tmp_path / "tiny.toml"
    suite_file.write_text(TINY, encoding="utf-8")
    out = tmp_path / "out"
    args = ["tune", str(suite_file), "--out", str(out), "--trials", "2", "--batch", "2"]
    result = CliRunner().invoke(cli, [*args, "--seeds", "1000", "--executor", "serial"])
    assert result.exit_code == 0, result.output
    presets = load_presets((out / "tune" / "presets.toml").read_text(), source="test")
    assert sorted(p.algorithm for p in presets) == ["zbcpg", "zpg"]
    assert all(p.protocol["seeds"] == [1000] and p.protocol["trials"] == 2 for p in presets)
    trials = pl.read_parquet(out / "tune" / "trials.parquet")
    assert trials.height == 4
    assert "zpg" in (out / "tune" / "tuning.md").read_text()
    bad = CliRunner().invoke(cli, [*args, "--seeds", "0,1"])
    assert bad.exit_code == 2
    assert "evaluation seeds" in bad.output


@pytest.mark.slow
def test_a_killed_tuning_resumes_to_the_same_winners(tmp_path: Path) -> None:
    suite_file = tmp_path / "tiny.toml"
    suite_file.write_text(TINY.replace("iterations = 12", "iterations = 400"), encoding="utf-8")
    common = ["--trials", "4", "--batch", "2", "--seeds", "1000,1001", "--jobs", "1"]
    env = {**os.environ, "COLUMNS": "200"}

    def tune_into(out: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "zobench", "tune", str(suite_file), "--out", str(out), *common],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    killed = tmp_path / "killed"
    process = tune_into(killed)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((killed / "runs").glob("*.parquet"))) < 3:
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert 3 <= len(list((killed / "runs").glob("*.parquet"))) < 16
    assert tune_into(killed).wait(timeout=300) == 0
    whole = tmp_path / "whole"
    assert tune_into(whole).wait(timeout=300) == 0
    first = pl.read_parquet(killed / "tune" / "trials.parquet").drop("run_ids")
    second = pl.read_parquet(whole / "tune" / "trials.parquet").drop("run_ids")
    assert first.equals(second)
    assert np.all(np.isfinite(first["objective"].to_numpy()))


def test_an_offline_learner_is_scored_on_its_learning_not_on_a_tie() -> None:
    spent_at_once = pl.DataFrame(
        {
            "iteration": [0, 10, 20, 30],
            "queries": [0, 1000, 1000, 1000],
            "score": [0.0, 0.2, 0.6, 1.0],
            "score_normalized": [0.0, 0.2, 0.6, 1.0],
        }
    )
    # (0·10 + 0.2·10 + 0.6·10) / 30 against iterations, not 0 against queries
    assert objective_value(spent_at_once, "queries", "auc") == pytest.approx(8 / 30)
