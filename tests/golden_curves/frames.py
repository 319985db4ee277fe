"""Golden learning curves of every built-in algorithm, captured before the capability layer.

``python tests/golden_curves/frames.py`` (re)writes ``frames.parquet`` beside this file from the
installed code; ``tests/test_golden_frames.py`` reruns the same cases and asserts every score,
diagnostic and ledger counter is bit-identical. The cases are small (a few iterations each) but
touch every channel: votes (global, κ-hop, H-step, batch means), rewards, the model, messages.

The ``ppo-rm`` case was captured again when every run came to step with one BLAS thread (issue
19): it had been captured in a process with two, whose split dot products moved its scores in
the 16th digit. Every other case was unchanged by that re-capture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).with_name("frames.parquet")

NET_CHAIN: dict[str, Any] = {
    "environment": "net-gridworld",
    "topology": "chain",
    "environment_params": {"reference": "greedy"},
}
"""Four agents on a chain (net-gridworld's default n = 4), normalized as captured: by the greedy
policy's Monte Carlo value (the exact optimum, the default since, costs a 25 s dynamic program)."""

CASES: dict[str, dict[str, Any]] = {
    "zpg": {"algorithm": "zpg"},
    "zpg-weibull-myopic": {
        "algorithm": "zpg",
        "algorithm_params": {"common_noise": True},
        "preference": "weibull",
        "preference_params": {"myopia": 0.9, "mistake": 0.1},
    },
    "zbcpg": {"algorithm": "zbcpg", "algorithm_params": {"parallel_blocks": 2}},
    "zspo": {"algorithm": "zspo"},
    "zspo-batches": {"algorithm": "zspo", "algorithm_params": {"batch": 3, "comparisons": 20}},
    "dzopg": {**NET_CHAIN, "algorithm": "dzopg"},
    "dzopg-bound": {
        **NET_CHAIN,
        "algorithm": "dzopg",
        "algorithm_params": {"trim": "bound", "horizon": 6, "kappa": 2},
    },
    "sac": {**NET_CHAIN, "algorithm": "sac"},
    "oracle-pg": {"algorithm": "oracle-pg"},
    "oracle-pg-reinforce": {
        "algorithm": "oracle-pg",
        "algorithm_params": {"exact": False, "episodes": 20},
    },
    "uniform": {"algorithm": "uniform"},
    "dpo": {"algorithm": "dpo", "algorithm_params": {"pairs": 300}},
    "online-dpo": {"algorithm": "online-dpo", "algorithm_params": {"pairs": 30}},
    "ppo-rm": {"algorithm": "ppo-rm", "algorithm_params": {"pairs": 300, "episodes": 20}},
    "zpg-predator-prey": {
        "algorithm": "zpg",
        "environment": "predator-prey",
        "environment_params": {"reference": "greedy"},  # normalized as captured (not by the bound)
        "algorithm_params": {"pairs": 20},
    },
}
"""Case name → :func:`zobench.run_one` keywords (merged over :data:`RUN`)."""

RUN: dict[str, Any] = {
    "environment": "gridworld",
    "seed": 11,
    "iterations": 4,
    "eval_every": 2,
    "eval_episodes": 64,
}

PINNED: dict[str, dict[str, Any]] = {
    "zpg": {"mu": 4.0, "pairs": 200, "evaluators": 20, "step_size": 0.015},
    "zbcpg": {"mu": 4.0, "pairs": 200, "evaluators": 20, "step_size": 0.05},
    "zspo": {"mu": 4.0, "step_size": 0.5, "comparisons": 100, "evaluators": 1, "step_decay": 0.0},
    "online-dpo": {"beta": 0.01, "evaluators": 20, "learning_rate": 0.05, "pairs": 200},
    "dpo": {"beta": 0.01, "evaluators": 20, "learning_rate": 0.05, "pairs": 40000},
    "ppo-rm": {
        "pairs": 40000,
        "evaluators": 20,
        "newton_steps": 30,
        "clip": 0.2,
        "epochs": 4,
        "learning_rate": 0.05,
        "value_rate": 0.5,
    },
    "dzopg": {"pairs": 20, "evaluators": 10, "mu": 0.2, "step_size": 0.05},
    "sac": {"h": 1.0, "eta": 50.0, "critic_sweeps": 1, "reset_critic": True},
}
"""The defaults the golden curves were captured with (before the tuned defaults of
docs/tuning.md), written out so the cases keep computing exactly what they captured."""


COMPARED = ("iteration", "episodes", "env_steps", "queries", "reward_obs", "messages")
"""Ledger columns compared besides ``score``, ``score_normalized`` and every ``diag_*``."""


def run_case(name: str) -> Any:
    """The learning curve of one case, without its wall-clock column."""
    import zobench

    case = CASES[name]
    params = {**PINNED.get(case["algorithm"], {}), **case.get("algorithm_params", {})}
    frame = zobench.run_one(**{**RUN, **case, "algorithm_params": params, "presets": False})
    return frame.drop("wall_s", "update_s", strict=False)


def compared_columns(frame: Any) -> list[str]:
    """The columns that must not change: ledger, scores and diagnostics."""
    keep = [*COMPARED, "score", "score_normalized"]
    return keep + sorted(c for c in frame.columns if c.startswith("diag_"))


def main() -> None:
    """Write every case's curve into :data:`GOLDEN`, one ``case`` column apart."""
    import polars as pl

    frames = []
    for name in CASES:
        frame = run_case(name)
        frames.append(frame.select(compared_columns(frame)).with_columns(case=pl.lit(name)))
        print(name, frame["score"].to_list())
    pl.concat(frames, how="diagonal_relaxed").write_parquet(GOLDEN)


if __name__ == "__main__":
    main()
