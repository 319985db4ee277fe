"""Synthetic results stores for the report tests, written with the store module's own writer.

Nothing here runs an algorithm: the learning curves are made up (seeded), the components need not
be installed (the report reads only the store), and every timestamp and version is fixed, so the
markdown made from these stores can be compared byte for byte with a golden file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from zobench.bench.records import RunRecord, Timings, config_hash, run_id_of
from zobench.bench.spec import SPEC_VERSION, RunSpec
from zobench.bench.store import Store

ITERATIONS = (0, 10, 20, 30, 40)


def curve(
    target: float,
    seed: int,
    *,
    queries_per_iteration: int,
    normalized: bool,
    update_per_iteration: float | None = None,
) -> pl.DataFrame:
    """A seeded learning curve rising towards ``target`` with the runner's columns.

    ``update_s`` (the algorithm's own time) is written only when ``update_per_iteration`` is
    given, as in runs stored before the runner recorded it.
    """
    rng = np.random.default_rng(1000 * seed + int(100 * target))
    it = np.array(ITERATIONS)
    score = target * (1 - np.exp(-it / 15)) + rng.normal(0, 0.05, it.size) * (it > 0)
    frame = pl.DataFrame(
        {
            "iteration": it,
            "episodes": it * 10,
            "env_steps": it * 200,
            "queries": it * queries_per_iteration,
            "reward_obs": np.zeros_like(it),
            "messages": np.zeros_like(it),
            "wall_s": it * 0.01 + 0.001 * seed,
            "score": score,
            "score_normalized": score / 10 if normalized else [None] * it.size,
            # the gridworld's reference is its exact optimum (tables); "chain" has none
            "ref_kind": ["exact" if normalized else None] * it.size,
        },
        schema_overrides={"score_normalized": pl.Float64, "ref_kind": pl.String},
    )
    if update_per_iteration is None:
        return frame
    return frame.insert_column(7, pl.Series("update_s", it * update_per_iteration))


def write_run(
    store: Store,
    *,
    label: str,
    seed: int,
    target: float,
    environment: str = "gridworld",
    params: dict[str, Any] | None = None,
    environment_params: dict[str, Any] | None = None,
    queries_per_iteration: int = 100,
    distribution: tuple[str, str] = ("zobench", "0.1.0"),
    update_per_iteration: float | None = None,
) -> str:
    """Write one finished run (manifest record + frame) and return its run id."""
    spec = RunSpec.create(
        algorithm=label.split(" ")[0].lower() if label.isascii() else "hostile",
        algorithm_params=params or {},
        environment=environment,
        environment_params=environment_params or {},
        topology="isolated",
        seed=seed,
        iterations=40,
        eval_every=10,
        label=label,
        suite="synthetic",
    )
    component = {"distribution": distribution[0], "version": distribution[1]}
    record = synthetic_record(
        spec,
        fingerprint={"algorithm": component},
        timings=Timings(
            f"2026-01-0{seed + 1}T10:00:00.000+00:00",
            f"2026-01-0{seed + 1}T10:00:01.000+00:00",
            1.0,
        ),
        provenance={
            "zobench": "0.1.0",
            "python": "3.11.7",
            "numpy": "2.4.6",
            "host": "secret-host-name",
            "git_commit": "0123456789abcdef0123",
            "components": {"algorithm": {"name": spec.algorithm.name, **component}},
        },
    )
    normalized = environment == "gridworld"  # "chain" has no reference: raw scores
    store.write(
        record,
        curve(
            target,
            seed,
            queries_per_iteration=queries_per_iteration,
            normalized=normalized,
            update_per_iteration=update_per_iteration,
        ),
    )
    return record.run_id


def synthetic_record(
    spec: RunSpec,
    *,
    fingerprint: dict[str, Any],
    timings: Timings,
    provenance: dict[str, Any] | None = None,
    status: str = "done",
) -> RunRecord:
    """A record whose components need not be installed: the settings as written count as resolved."""
    resolved = {"spec_version": SPEC_VERSION, **spec.canonical()}
    digest = config_hash(resolved)
    return RunRecord(
        run_id=run_id_of(digest, fingerprint),
        status=status,
        spec=spec,
        resolved=resolved,
        config_hash=digest,
        fingerprint=fingerprint,
        timings=timings,
        provenance=provenance or {},
    )


def write_synthetic(root: Path) -> Path:
    """Two groups: gridworld (normalized, paired seeds, a swept setting) and chain (raw, unpaired).

    gridworld: alpha (target 9), beta with trajectories 10 and 20 (targets 6 and 7), gamma from a
    third-party distribution (target 3), 4 seeds each. chain: alpha on 3 seeds and gamma on 4
    (so their comparison cannot be paired).
    """
    store = Store(root, create=True)
    for seed in range(4):
        write_run(store, label="alpha", seed=seed, target=9.0)
        for trajectories, target in ((10, 6.0), (20, 7.0)):
            write_run(
                store,
                label="beta",
                seed=seed,
                target=target,
                params={"trajectories": trajectories},
                queries_per_iteration=40,
            )
        write_run(
            store, label="gamma", seed=seed, target=3.0, distribution=("zobench-example", "0.2.0")
        )
        write_run(store, label="gamma", seed=seed, target=2.0, environment="chain")
        if seed < 3:
            write_run(store, label="alpha", seed=seed, target=4.0, environment="chain")
    return root
