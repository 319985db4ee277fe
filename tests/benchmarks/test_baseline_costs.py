"""What the preference baselines cost against ZPG at equal votes, measured in the same run.

On the default GridWorld under Bradley–Terry votes, with the zpg-gridworld suite's settings:

- **online DPO**: one iteration (200 fresh pairs × 20 votes, the same 4,000 votes as one ZPG
  iteration), timed alternately with one ZPG iteration; the ratio is its cost per vote in ZPG's.
- **PPO-RM's reward model**: the Bradley–Terry fit on K = 40,000 labelled pairs × 20 votes
  (800,000 votes, ZPG's budget over 200 iterations), timed against 200 ZPG iterations: again
  a cost per vote in ZPG's. The suites fit 400,000 pairs, ten times this.
- **PPO-RM's and offline DPO's iterations** (no votes: their data is labelled up front), per
  ZPG iteration.

The ratios go to ``benchmark.extra_info``; no speed is asserted (the machine is shared). With
``--benchmark-disable`` (the default test run) a few small steps run and nothing is timed.
"""

from __future__ import annotations

import time

from bench_timing import interleaved_best

import zobench
from zobench.sim.problem import build_problem
from zobench_plugins.algorithms.dpo import DPO, DPOConfig
from zobench_plugins.algorithms.online_dpo import OnlineDPO, OnlineDPOConfig
from zobench_plugins.algorithms.ppo_rm import PPORM, PPORMConfig
from zobench_plugins.algorithms.zpg import ZPG, ZPGConfig

ZPG_SETTINGS = {"mu": 4.0, "pairs": 200, "evaluators": 20, "step_size": 0.03}
ONLINE_DPO_SETTINGS = {"beta": 0.01, "evaluators": 20, "pairs": 200, "learning_rate": 0.01}
PPO_RM_SETTINGS = {"evaluators": 20, "newton_steps": 30, "clip": 0.2, "epochs": 4}
FIT_PAIRS = 40_000
ZPG_ITERATIONS_PER_FIT = FIT_PAIRS * 20 // (200 * 20)  # 200 iterations: the fit's votes


def _problem(seed: int):
    return build_problem(
        zobench.make("environment", "gridworld"),
        zobench.make("preference", "bradley-terry"),
        seed=seed,
    )


def _zpg() -> ZPG:
    return ZPG(ZPGConfig(**ZPG_SETTINGS), _problem(0))


def test_preference_baselines_cost_per_vote_against_zpg(benchmark):
    if benchmark.disabled:  # smoke test: the code paths run, nothing is timed
        _zpg().step()
        OnlineDPO(OnlineDPOConfig(**{**ONLINE_DPO_SETTINGS, "pairs": 8}), _problem(1)).step()
        PPORM(PPORMConfig(**PPO_RM_SETTINGS, pairs=50, episodes=8), _problem(2)).step()
        benchmark(DPO(DPOConfig(pairs=50), _problem(3)).step)
        return
    zpg, online = _zpg(), OnlineDPO(OnlineDPOConfig(**ONLINE_DPO_SETTINGS), _problem(1))
    ppo_rm = PPORM(PPORMConfig(**PPO_RM_SETTINGS, pairs=FIT_PAIRS), _problem(2))
    dpo = DPO(DPOConfig(pairs=FIT_PAIRS, evaluators=20), _problem(3))
    start = time.perf_counter()
    ppo_rm.step()  # the reward model's fit (with its 800,000 votes' pairs), then one PPO step
    fit_and_step = time.perf_counter() - start
    dpo.step()  # collects its dataset
    start = time.perf_counter()
    for _ in range(ZPG_ITERATIONS_PER_FIT):
        zpg.step()
    zpg_for_fit_votes = time.perf_counter() - start

    benchmark.pedantic(online.step, rounds=5, iterations=1)
    online_s, zpg_s = interleaved_best(online.step, zpg.step, rounds=20)
    ppo_s, zpg_s2 = interleaved_best(ppo_rm.step, zpg.step, rounds=20)
    dpo_s, zpg_s3 = interleaved_best(dpo.step, zpg.step, rounds=20)
    zpg_s = min(zpg_s, zpg_s2, zpg_s3)
    ratios = {
        "online_dpo_per_vote_vs_zpg": online_s / zpg_s,
        "bt_fit_per_vote_vs_zpg": (fit_and_step - ppo_s) / zpg_for_fit_votes,
        "ppo_rm_iteration_vs_zpg": ppo_s / zpg_s,
        "dpo_iteration_vs_zpg": dpo_s / zpg_s,
    }
    benchmark.extra_info.update(
        {
            "zpg_iteration_ms": 1e3 * zpg_s,
            "online_dpo_iteration_ms": 1e3 * online_s,
            "bt_fit_s": fit_and_step - ppo_s,
            "fit_pairs": FIT_PAIRS,
            **ratios,
        }
    )
    print("\n" + ", ".join(f"{name} {value:.2f}" for name, value in ratios.items()))
    assert zpg.problem.ledger.queries == (ZPG_ITERATIONS_PER_FIT + 60) * 4000
    assert ppo_rm.problem.ledger.queries == FIT_PAIRS * 20  # the fit's votes, all up front
