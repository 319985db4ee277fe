"""zobench: a plugin-based benchmark for reward-free RLHF.

The small public API::

    import zobench
    env = zobench.make("environment", "gridworld", size=5)
    frame = zobench.run_one(algorithm="zpg", environment="gridworld", seed=0, iterations=50)
    table = zobench.run_suite("quickstart", out="results/quickstart")   # resumable
    table = zobench.load("results/quickstart")                          # read a store

Plugin authors implement hooks with :data:`zobench.hookimpl`; see ``docs/writing-plugins.md``.
"""

from __future__ import annotations

from typing import Any

from zobench.__about__ import __version__
from zobench.hookspecs import hookimpl

__all__ = ["__version__", "hookimpl", "load", "make", "run_one", "run_suite"]


def make(kind: str, name: str, /, problem: Any = None, **params: Any) -> Any:
    """Build the component ``name`` of ``kind`` with validated ``params``.

    Algorithms also need the ``problem`` they learn on (see :func:`zobench.sim.problem.build_problem`).
    Unknown names and bad parameters raise :class:`zobench.errors.ZobenchError` subclasses.
    """
    from zobench.config import validate
    from zobench.plugins import get_host

    registration = get_host().get(kind, name)
    if kind == "suite":
        return registration.obj
    config = validate(registration.obj.Config, params, path=f"{kind} '{name}'")
    if kind == "algorithm":
        if problem is None:
            raise TypeError("make('algorithm', ...) needs problem=")
        return registration.obj(config, problem)
    return registration.obj(config)


def run_one(**spec: Any) -> Any:
    """Run one run and return its learning curve as a polars DataFrame.

    Keyword arguments are those of :class:`zobench.bench.spec.RunSpec`, e.g.
    ``run_one(algorithm="zpg", environment="gridworld", seed=0, iterations=100)``; component
    parameters go in ``algorithm_params``, ``environment_params`` and so on.
    """
    from zobench.bench.runner import run
    from zobench.bench.spec import RunSpec

    return run(RunSpec.create(**spec))


def run_suite(
    suite: Any = "quickstart",
    out: Any = None,
    *,
    seeds: int | None = None,
    executor: str = "process",
    jobs: int | None = None,
    address: str | None = None,
    fresh: bool = False,
    timeout: float | None = None,
    progress: bool = False,
) -> Any:
    """Run a suite into a results folder and return its long polars DataFrame.

    ``suite`` is a suite file path, a registered suite name, or a parsed
    :class:`zobench.bench.suite.Suite`; ``out`` defaults to ``results/<suite name>``. Runs
    already done in ``out`` are reused (``fresh=True`` recomputes them). Failed runs are left out
    of the table and reported with a warning; ``zobench runs OUT`` shows their errors. The
    columns are those of :func:`load`. ``timeout`` (seconds, 0 for none) overrides the suite's
    per-run time limit; a run past it is recorded as failed.

    The ``process`` and ``dask`` executors start worker interpreters that import the calling
    script's main module, so a script calling this needs the usual
    ``if __name__ == "__main__":`` guard (notebooks and ``executor="serial"`` do not).
    """
    import warnings
    from pathlib import Path

    from rich.console import Console

    from zobench.bench import scheduler
    from zobench.bench.suite import Suite, load_suite

    parsed = suite if isinstance(suite, Suite) else load_suite(suite)
    if seeds is not None:
        parsed = parsed.with_seeds(seeds)
    target = Path(out) if out is not None else Path("results") / parsed.name
    pool = scheduler.make_executor(executor, jobs=jobs, address=address)
    outcome = scheduler.schedule(
        parsed,
        target,
        executor=pool,
        fresh=fresh,
        timeout=timeout,
        console=Console(stderr=True) if progress else None,
    )
    if outcome.failed:
        warnings.warn(
            f"{len(outcome.failed)} of {len(outcome.planned)} runs failed; "
            f"see `zobench runs {target}`",
            RuntimeWarning,
            stacklevel=2,
        )
    return outcome.frame()


def load(out: Any) -> Any:
    """Read a results folder into one long polars DataFrame.

    Columns: ``suite, run_id, algorithm, label, environment, preference, topology, seed``, one
    ``<table>.<setting>`` column per swept setting (e.g. ``algorithm.pairs``), then the
    runner's columns (``iteration, episodes, ..., score, score_normalized, diag_*``). Only
    finished runs are included.
    """
    from zobench.bench.store import load as load_store

    return load_store(out)
