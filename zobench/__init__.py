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

from typing import TYPE_CHECKING, Any, Literal, overload

from zobench.__about__ import __version__
from zobench.hookspecs import hookimpl

if TYPE_CHECKING:  # the contracts pull in numpy; `import zobench` stays light
    from zobench import api
    from zobench.plugins import PluginHost
    from zobench.presets import Preset
    from zobench.sim.problem import Problem

__all__ = ["__version__", "hookimpl", "load", "make", "run_one", "run_suite"]


@overload
def make(
    kind: Literal["algorithm"],
    name: str,
    /,
    problem: Problem,
    *,
    host: PluginHost | None = None,
    **params: Any,
) -> api.Algorithm[Any]: ...
@overload
def make(
    kind: Literal["environment"], name: str, /, *, host: PluginHost | None = None, **params: Any
) -> api.Environment[Any]: ...
@overload
def make(
    kind: Literal["preference"],
    name: str,
    /,
    *,
    host: PluginHost | None = None,
    **params: Any,
) -> api.PreferenceModel[Any]: ...
@overload
def make(
    kind: Literal["topology"], name: str, /, *, host: PluginHost | None = None, **params: Any
) -> api.Topology[Any]: ...
@overload
def make(
    kind: Literal["executor"], name: str, /, *, host: PluginHost | None = None, **params: Any
) -> api.Executor[Any]: ...
@overload
def make(
    kind: Literal["suite"], name: str, /, *, host: PluginHost | None = None
) -> api.SuiteDefinition: ...
@overload
def make(kind: Literal["preset"], name: str, /, *, host: PluginHost | None = None) -> Preset: ...
@overload
def make(
    kind: str, name: str, /, problem: Any = None, *, host: PluginHost | None = None, **params: Any
) -> Any: ...
def make(
    kind: str, name: str, /, problem: Any = None, *, host: PluginHost | None = None, **params: Any
) -> Any:
    """Build the component ``name`` of ``kind`` with validated ``params``.

    ``kind`` is one of :data:`zobench.kinds.NAMES`. Algorithms also need the ``problem`` they
    learn on (see :func:`zobench.sim.problem.build_problem`); suites and presets are data and
    come back as registered. Components come from ``host`` (default: the process-wide
    :func:`~zobench.plugins.get_host`). Unknown names and bad parameters raise
    :class:`zobench.errors.ZobenchError` subclasses.
    """
    from zobench import kinds
    from zobench.config import validate
    from zobench.plugins import get_host

    host = host or get_host()
    record = kinds.kind(kind)
    if record.is_data:
        return host.data(record, name)
    cls = host.component(record, name)
    config = validate(cls.Config, params, path=f"{record.name} '{name}'")
    if record is kinds.ALGORITHM:
        if problem is None:
            raise TypeError("make('algorithm', ...) needs problem=")
        return cls(config, problem)
    return cls(config)


def run_one(*, host: PluginHost | None = None, **spec: Any) -> Any:
    """Run one run and return its learning curve as a polars DataFrame.

    Keyword arguments are those of :class:`zobench.bench.spec.RunSpec`, e.g.
    ``run_one(algorithm="zpg", environment="gridworld", seed=0, iterations=100)``; component
    parameters go in ``algorithm_params``, ``environment_params`` and so on. Components come
    from ``host`` (default: the process-wide plugin host).
    """
    from zobench.bench.runner import run
    from zobench.bench.spec import RunSpec

    return run(RunSpec.create(**spec), host=host)


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
    host: PluginHost | None = None,
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
    Components come from ``host`` (default: the process-wide plugin host).
    """
    import multiprocessing
    import warnings
    from pathlib import Path

    from rich.console import Console

    from zobench.bench import scheduler
    from zobench.bench.suite import Suite, load_suite
    from zobench.errors import ZobenchError
    from zobench.plugins import get_host

    # A worker interpreter re-imports the main module; without the guard that import lands here,
    # and would wait forever for the store the parent holds. Python's own check, said plainly.
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise ZobenchError(
            "zobench.run_suite was called while a worker process was importing your script: "
            'put the call under `if __name__ == "__main__":`'
        )
    host = host or get_host()
    parsed = suite if isinstance(suite, Suite) else load_suite(suite, host=host)
    if seeds is not None:
        parsed = parsed.with_seeds(seeds)
    target = Path(out) if out is not None else Path("results") / parsed.name
    pool = scheduler.make_executor(executor, jobs=jobs, address=address, host=host)
    outcome = scheduler.schedule(
        parsed,
        target,
        executor=pool,
        fresh=fresh,
        timeout=timeout,
        console=Console(stderr=True) if progress else None,
        host=host,
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
