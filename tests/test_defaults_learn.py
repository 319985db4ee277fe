"""Defaults that learn: with its component defaults and the default suite length, every preference
learner reaches 0.8 normalized on its home instance (mean of 3 evaluation seeds, which are not
the tuning seeds 1000-1002)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import zobench

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("clean_plugin_env")]

THRESHOLD = 0.8
SUITE = """
name = "{name}"
seeds = 3
presets = false                 # the component defaults alone

[environment]
name = "{environment}"
{environment_settings}

[preference]
name = "bradley-terry"

{algorithms}
"""
GRIDWORLD_LEARNERS = ["zpg", "zbcpg", "online-dpo", "dpo", "ppo-rm"]


def final_scores(tmp_path: Path, name: str, environment: str, algorithms: list[str], **settings):
    text = SUITE.format(
        name=name,
        environment=environment,
        environment_settings="\n".join(f"{k} = {v}" for k, v in settings.items()),
        algorithms="\n".join(f'[[algorithm]]\nname = "{a}"' for a in algorithms),
    )
    suite = tmp_path / f"{name}.toml"
    suite.write_text(text, encoding="utf-8")
    table = zobench.run_suite(suite, tmp_path / name, jobs=2)
    final = table.sort("iteration").group_by("run_id").agg(pl.all().last())
    assert final["iteration"].unique().to_list() == [500]  # the default suite length
    means = final.group_by("algorithm").agg(pl.col("score_normalized").mean())
    return dict(zip(means["algorithm"], means["score_normalized"], strict=True))


def test_the_gridworld_learners_learn_with_their_defaults(tmp_path: Path) -> None:
    scores = final_scores(tmp_path, "home-gridworld", "gridworld", GRIDWORLD_LEARNERS)
    assert {a: s >= THRESHOLD for a, s in scores.items()} == dict.fromkeys(
        GRIDWORLD_LEARNERS, True
    ), scores


def test_the_networked_learners_learn_with_their_defaults(tmp_path: Path) -> None:
    # the greedy reference, which is optimal on this instance (the exact optimum agrees to MC
    # noise) and spares CI the exact optimum's 25 s dynamic program
    scores = final_scores(
        tmp_path, "home-net", "net-gridworld", ["dzopg", "sac"], reference='"greedy"'
    )
    assert min(scores.values()) >= THRESHOLD, scores


def test_sac_learns_gridworld_through_its_preset(tmp_path: Path) -> None:
    text = (
        'name = "sac-preset"\nseeds = 3\n[environment]\nname = "gridworld"\n'
        '[preference]\nname = "bradley-terry"\n[[algorithm]]\nname = "sac"\n'
    )
    (tmp_path / "sac.toml").write_text(text, encoding="utf-8")
    table = zobench.run_suite(tmp_path / "sac.toml", tmp_path / "sac", jobs=2)
    final = table.sort("iteration").group_by("run_id").agg(pl.all().last())
    assert final["score_normalized"].mean() >= THRESHOLD


def test_zpg_learns_frozenlake_with_the_same_defaults(tmp_path: Path) -> None:
    pytest.importorskip("gymnasium")
    scores = final_scores(tmp_path, "frozenlake", "gym:FrozenLake-v1", ["zpg"], is_slippery="false")
    assert scores["zpg"] >= THRESHOLD, scores


def test_zspo_learns_with_its_defaults(tmp_path: Path) -> None:
    scores = final_scores(tmp_path, "zspo", "gridworld", ["zspo"])
    assert scores["zspo"] >= THRESHOLD, scores
