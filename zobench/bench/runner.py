"""Run one run: build the problem from plugins, loop the algorithm, record the learning curve.

A run is deterministic: the same :class:`~zobench.bench.spec.RunSpec` gives the same numbers
(only ``wall_s`` differs). All randomness flows from ``spec.seed``: the network's generator, the
problem's streams (algorithm, episodes, panel; see :func:`~zobench.sim.problem.build_problem`)
and the Monte Carlo evaluation seed, which depends on ``spec.seed`` only, so every algorithm of a
seed is scored on the same evaluation episodes.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from zobench import api
from zobench.bench import reference_cache
from zobench.bench.identity import with_preset
from zobench.bench.spec import ComponentSpec, RunSpec
from zobench.config import validate
from zobench.errors import ConfigError, ZobenchError
from zobench.plugins import PluginHost, get_host
from zobench.sim import evaluate, kernel
from zobench.sim.ledger import COUNTERS
from zobench.sim.problem import build_simulation

COLUMNS: dict[str, pl.DataType] = {
    "iteration": pl.Int64(),
    "episodes": pl.Int64(),
    "env_steps": pl.Int64(),
    "queries": pl.Int64(),
    "reward_obs": pl.Int64(),
    "messages": pl.Int64(),
    "values_moved": pl.Int64(),
    "model_reads": pl.Int64(),
    "wall_s": pl.Float64(),
    "update_s": pl.Float64(),
    "score": pl.Float64(),
    "score_normalized": pl.Float64(),
}
"""The fixed leading columns of a learning curve and their dtypes; ``diag_*`` columns follow."""

REFERENCE_COLUMNS: dict[str, pl.DataType] = {
    "ref_uniform": pl.Float64(),
    "ref_optimal": pl.Float64(),
    "ref_optimal_exact": pl.Boolean(),
    "ref_kind": pl.String(),
    "ref_lower": pl.Float64(),
    "reward_span": pl.Float64(),
    "reward_span_source": pl.String(),
}
"""What ``score_normalized`` was normalized by: the uniform policy's J; the J that scores 1
(null when unknown); whether that is the exact optimum; its kind, ``ref_kind``: ``"exact"``
(dynamic programming over the tables, or the environment's exact optimum), ``"certified bound"``
(a proven upper bound on the optimum, which the optimum lies below and ``ref_lower``, the best
known policy's value, lies above) or ``"approximate"`` (the Monte Carlo value of the
environment's reference policy, which a learner can exceed). Then the environment's
per-step reward span, which bounds preference-only learners' return differences, and where it
came from (``Environment.reward_span_source``: declared, the user's setting, or a build-time
probe charged to no algorithm). Constant within a run."""

_LEDGER_COLUMNS = COUNTERS[1:]
"""The ledger's counters recorded in every row (``iterations`` is the ``iteration`` column)."""

PROGRESS_EVERY = 10
"""Iterations between two calls of the progress callback."""


class RunFailed(ZobenchError):  # noqa: N818 -- the name the run API promises
    """A run diverged: θ or a score became NaN or infinite."""


def _stream_seed(seed: int, purpose: int) -> np.random.SeedSequence:
    """A stream of the run's seed kept apart from the problem's own (network, evaluation)."""
    return np.random.SeedSequence([seed, purpose])


_NETWORK_STREAM = 1
_EVALUATION_STREAM = 2


def _config(cls: type[api.Component[Any]], component: ComponentSpec, path: str) -> Any:
    """``component``'s settings validated against ``cls.Config``."""
    return validate(cls.Config, component.params, path=path)


def evaluation_seed(seed: int) -> int:
    """The Monte Carlo evaluation seed of a run: a function of ``spec.seed`` only."""
    return int(_stream_seed(seed, _EVALUATION_STREAM).generate_state(1)[0])


def _check_theta(theta: np.ndarray, iteration: int) -> None:
    if not np.all(np.isfinite(theta)):
        raise RunFailed(f"θ became NaN or infinite at iteration {iteration}")


INSTANCE_CACHE_SIZE = 8
"""Problem instances whose tables and references a process keeps (the runs of a suite share
them: every algorithm of a seed is scored on the same instance)."""

_instances: OrderedDict[tuple[Any, ...], tuple[Any, evaluate.References]] = OrderedDict()


def _instance_references(
    instance: tuple[Any, ...],
    env: api.Environment,
    episodes: int,
    seed: int,
    memo: evaluate.Memo | None = None,
) -> tuple[api.TransitionTables | None, evaluate.References]:
    """``env``'s tables and references, computed once per process for each problem instance.

    ``instance`` identifies what they depend on: the environment's and topology's classes and
    resolved configs, and the run's seed (which seeds the network and the evaluation). ``memo``
    keeps the environment's exact optimum or bounds across processes (on disk).
    """
    key = (*instance, episodes)
    if key in _instances:
        _instances.move_to_end(key)
        return _instances[key]
    tables = env.tables()
    refs = evaluate.references(env, episodes=episodes, seed=seed, tables=tables, memo=memo)
    _instances[key] = (tables, refs)
    if len(_instances) > INSTANCE_CACHE_SIZE:
        _instances.popitem(last=False)
    return tables, refs


def run(
    spec: RunSpec,
    *,
    progress: Callable[[int, int], None] | None = None,
    host: PluginHost | None = None,
) -> pl.DataFrame:
    """Run ``spec`` and return its learning curve, one row per evaluation.

    Evaluations happen at iteration 0, every ``spec.eval_every`` iterations and after the last
    one: exact J(θ) where the environment has transition tables, else Monte Carlo over
    ``spec.eval_episodes`` episodes with :func:`evaluation_seed`. Columns are :data:`COLUMNS`
    (ledger counters after the iteration; ``wall_s`` is wall time since the run started,
    counting everything: building, references, steps and evaluations; ``update_s`` the part of
    the steps the algorithm spent on its own estimator and update, outside rollouts, votes and
    revealed rewards — the cost a cheaper estimator can save), then the last step's
    diagnostics as ``diag_<key>`` (null at iteration 0). ``score_normalized`` is
    (J − J_uniform) / (J_optimal − J_uniform), null when no optimum is known; the
    :data:`REFERENCE_COLUMNS` after it say what it was normalized by. An environment's exact
    optimum or certified bounds are computed once per instance and kept on disk
    (:mod:`zobench.bench.reference_cache`).

    Every run uses one BLAS thread (threadpoolctl), whatever the executor: a BLAS split over
    threads adds partial sums in another order, so a serial run in a process with BLAS threads
    and a run in a single-threaded worker could differ in the last bits, and the threads spin
    against each other on a busy machine (dzopg at 256 agents: 16 ms per iteration with two
    BLAS threads and a second process busy, 5.4 ms with one, measured).

    Components come from ``host`` (default: the process-wide :func:`~zobench.plugins.get_host`).
    Raises :class:`RunFailed` when θ or a score is NaN or infinite, and the usual
    :class:`~zobench.errors.ZobenchError` subclasses for unknown names or bad parameters.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _run(spec, progress=progress, host=host)


def _run(
    spec: RunSpec,
    *,
    progress: Callable[[int, int], None] | None,
    host: PluginHost | None,
) -> pl.DataFrame:
    """:func:`run`'s work, BLAS already limited to one thread."""
    kernel.warm_up()  # numba's import and cache load (a compile, once per machine): not timed
    start = time.perf_counter()
    if spec.iterations < 0 or spec.eval_every < 1:
        raise ConfigError(
            f"run: iterations must be >= 0 and eval_every >= 1, got {spec.iterations} and "
            f"{spec.eval_every}"
        )
    host = host or get_host()
    spec = with_preset(spec, host)[0]  # the settings its identity resolved
    env_cls = host.environment(spec.environment.name)
    env_config = _config(env_cls, spec.environment, "environment")
    pref_cls = host.preference(spec.preference.name)
    pref_config = _config(pref_cls, spec.preference, "preference")
    algo_cls = host.algorithm(spec.algorithm.name)
    algo_config = _config(algo_cls, spec.algorithm, "algorithm")
    topology = spec.topology or ComponentSpec(env_cls.default_topology)
    topo_cls = host.topology(topology.name)
    topo_config = _config(topo_cls, topology, "topology")

    env: api.Environment = env_cls(env_config)
    network = topo_cls(topo_config).build(
        env.n_agents, np.random.default_rng(_stream_seed(spec.seed, _NETWORK_STREAM))
    )
    simulation = build_simulation(  # connects env to the network
        env,
        pref_cls(pref_config),
        network=network,
        seed=spec.seed,
        consumes=algo_cls.consumes,
        algorithm=algo_cls.name,
    )
    eval_seed = evaluation_seed(spec.seed)
    instance = (env_cls, repr(env_config), topo_cls, repr(topo_config), spec.seed)
    on_disk = reference_cache.memo(
        get_host().get("environment", spec.environment.name), env_config, network
    )
    tables, refs = _instance_references(instance, env, spec.eval_episodes, eval_seed, on_disk)
    # the algorithm sees only the problem's facade; the ledger recorded below is the core's own
    algorithm: api.Algorithm = algo_cls(algo_config, simulation.problem)
    ledger = simulation.ledger
    # the last θ evaluated and its score: an unchanged θ (the uniform θ₀ = 0, whose score is the
    # uniform reference, or an algorithm that never moves) is not evaluated again
    last_theta, last_value = np.zeros(simulation.problem.theta_shape), refs.uniform

    def score(theta: np.ndarray) -> float:
        nonlocal last_theta, last_value
        if not np.array_equal(theta, last_theta):
            last_value = evaluate.evaluate(
                env, theta, tables=tables, episodes=spec.eval_episodes, seed=eval_seed
            ).value
            last_theta = theta.copy()
        return last_value

    rows: list[dict[str, Any]] = []
    diagnostics: Mapping[str, float] = {}
    diag_keys: list[str] = []

    def record(iteration: int) -> None:
        _check_theta(algorithm.theta, iteration)
        value = score(algorithm.theta)
        if not math.isfinite(value):
            raise RunFailed(f"the score became NaN or infinite at iteration {iteration}")
        counters = ledger.snapshot()
        row: dict[str, Any] = {
            "iteration": iteration,
            **{key: counters[key] for key in _LEDGER_COLUMNS},
            "wall_s": time.perf_counter() - start,
            "update_s": update_s,
            "score": value,
            "score_normalized": refs.normalise(value),
            "ref_uniform": refs.uniform,
            "ref_optimal": refs.optimal,
            "ref_optimal_exact": refs.optimal_exact if refs.optimal is not None else None,
            "ref_kind": refs.kind,
            "ref_lower": refs.lower,
            "reward_span": float(env.reward_span),
            "reward_span_source": str(env.reward_span_source),
        }
        for key, diag in diagnostics.items():
            if key not in diag_keys:
                diag_keys.append(key)
            row[f"diag_{key}"] = float(diag)
        rows.append(row)

    update_s = 0.0
    record(0)
    total = spec.iterations
    for iteration in range(1, total + 1):
        step_start, world_before = time.perf_counter(), simulation.world_s
        diagnostics = algorithm.step()
        step_s = time.perf_counter() - step_start
        update_s += step_s - (simulation.world_s - world_before)
        ledger.charge(iterations=1)
        if iteration % spec.eval_every == 0 or iteration == total:
            record(iteration)
        else:
            _check_theta(algorithm.theta, iteration)
        if progress is not None and (iteration % PROGRESS_EVERY == 0 or iteration == total):
            progress(iteration, total)

    schema = {**COLUMNS, **REFERENCE_COLUMNS, **{f"diag_{key}": pl.Float64() for key in diag_keys}}
    return pl.DataFrame(rows, schema=schema)
