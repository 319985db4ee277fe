"""zobench: a plugin-based benchmark for reward-free RLHF.

The small public API::

    import zobench
    env = zobench.make("environment", "gridworld", size=5)
    frame = zobench.run_one(algorithm="zpg", environment="gridworld", seed=0, iterations=50)

Plugin authors implement hooks with :data:`zobench.hookimpl`; see ``docs/writing-plugins.md``.
"""

from __future__ import annotations

from typing import Any

from zobench.__about__ import __version__
from zobench.hookspecs import hookimpl

__all__ = ["__version__", "hookimpl", "make", "run_one"]


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
