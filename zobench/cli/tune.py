"""``zobench tune``: tune every algorithm of a suite by one protocol, and write presets."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from zobench.bench import scheduler
from zobench.bench.suite import load_suite
from zobench.bench.tune import (
    DEFAULT_TUNING_SEEDS,
    OBJECTIVES,
    Protocol,
    seeds_list,
    tune,
    write_outcome,
)
from zobench.cli.display import add_prose_column, add_whole_column, fitted_table
from zobench.plugins import get_host


@click.command("tune")
@click.argument("suite", metavar="SUITE_NAME_OR_FILE")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Results folder of the trials' runs (default: results/<suite>-tune).",
)
@click.option(
    "--trials",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Trials per algorithm and instance.",
)
@click.option(
    "--seeds",
    "seeds_text",
    metavar="S1,S2,...",
    help=f"Tuning seeds, disjoint from the suite's (default: {','.join(map(str, DEFAULT_TUNING_SEEDS))}).",
)
@click.option(
    "--objective",
    type=click.Choice(OBJECTIVES),
    default="auc",
    show_default=True,
    help="auc: average normalized score over the budget; final: the last score.",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Trials asked at once per algorithm (parallelism per round).",
)
@click.option(
    "--sampler-seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the samplers.",
)
@click.option("--jobs", type=click.IntRange(min=1), help="Parallel workers (default: cores).")
@click.option("--executor", default="process", show_default=True, help="serial, process, dask.")
@click.option("--address", help="Dask scheduler address (implies --executor dask).")
@click.pass_context
def tune_command(
    ctx: click.Context,
    suite: str,
    out: Path | None,
    trials: int,
    seeds_text: str | None,
    objective: str,
    batch: int,
    sampler_seed: int,
    jobs: int | None,
    executor: str,
    address: str | None,
) -> None:
    """Tune every algorithm of a suite by the same protocol; write the winners as presets.

    Each algorithm (per instance of the suite) gets the same number of trials on the same
    tuning seeds and budget, scored by one objective. Trials are ordinary runs in a results
    folder: interrupted tuning resumes, and tuning again gives the same trials and winners.
    Settings the suite writes are not tuned. Writes OUT/tune/trials.parquet, presets.toml
    (ship it in a plugin, or copy it into a preset file) and tuning.md.

    \b
    Examples:
      zobench tune quickstart --trials 20
      zobench tune my-suite.toml --seeds 1000,1001,1002 --objective final --jobs 2
    """
    host = get_host()
    parsed = load_suite(suite, host=host)
    seeds = seeds_list(seeds_text)
    protocol = Protocol(
        trials=trials,
        seeds=tuple(seeds) if seeds else DEFAULT_TUNING_SEEDS,
        objective=objective,  # type: ignore[arg-type]
        batch=batch,
        sampler_seed=sampler_seed,
    )
    out = out or Path("results") / f"{parsed.name}-tune"
    if address and ctx.get_parameter_source("executor") is click.core.ParameterSource.DEFAULT:
        executor = "dask"
    pool = scheduler.make_executor(executor, jobs=jobs, address=address, host=host)
    console = Console(stderr=True)
    console.print(
        f"tuning [bold]{escape(parsed.name)}[/bold]: {trials} trials × "
        f"{len(protocol.seeds)} seeds per algorithm → {escape(str(out))}"
    )

    def progress(done: int, total: int) -> None:
        console.print(f"round {done}/{total} told")

    try:
        outcome = tune(
            parsed,
            out,
            protocol=protocol,
            executor=pool,
            host=host,
            console=console,
            on_round=progress,
        )
    except KeyboardInterrupt:
        console.print(
            "[yellow]interrupted[/yellow]: finished trials are stored; run again to resume"
        )
        ctx.exit(130)
    paths = write_outcome(outcome, parsed.name)
    table = fitted_table("winners")
    winners = outcome.winners()
    rows = []
    for study in outcome.studies:
        winner = winners.get(study.key)
        value = f"{winner.value:.3f}" if winner and winner.value is not None else "failed"
        settings = (
            ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in sorted(winner.params.items())
            )
            if winner
            else ""
        )
        rows.append((study.label, study.instance_text(), value, settings))
    add_whole_column(table, "algorithm", [r[0] for r in rows])
    add_prose_column(table, "instance")
    add_whole_column(table, "objective", [r[2] for r in rows], justify="right")
    add_prose_column(table, "settings")
    for row in rows:
        table.add_row(*(escape(c) for c in row))
    Console().print(table)
    for kind, path in paths.items():
        console.print(f"{kind}: {escape(str(path))}")
    if outcome.failed_runs:
        console.print(
            f"[yellow]{outcome.failed_runs} trial runs failed[/yellow]: zobench runs {escape(str(out))}"
        )


def register(group: click.Group) -> None:
    """Add ``zobench tune`` to the group."""
    group.add_command(tune_command)
