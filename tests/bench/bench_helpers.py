"""Shared test data of the store tests: a tiny four-run suite (2 seeds × 2 values of mu)."""

from __future__ import annotations


def four_run_suite(
    name: str, *, iterations: int = 4, eval_every: int = 2, mus: tuple[float, float] = (0.25, 0.5)
) -> str:
    """The TOML text of a four-run zpg suite on a 3×3 gridworld (two seeds, two values of mu),
    a few ms per run at 4 steps."""
    return f"""
name = "{name}"
seeds = 2
iterations = {iterations}
eval_every = {eval_every}
eval_episodes = 16

[environment]
name = "gridworld"
size = 3
goal = [2, 2]
horizon = 6

[preference]
name = "bradley-terry"

[algorithm]
name = "zpg"
pairs = 4
grid = {{ mu = [{mus[0]}, {mus[1]}] }}
"""
