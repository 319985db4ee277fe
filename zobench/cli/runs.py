"""``zobench run``, ``zobench validate``, ``zobench runs`` and ``zobench export``: the main job."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from zobench.bench import scheduler
from zobench.bench.identity import identify
from zobench.bench.records import RunRecord
from zobench.bench.store import Scan, Store, load, swept_parameters
from zobench.bench.suite import Suite, SuiteMistakesError, load_suite
from zobench.cli.display import add_prose_column, add_whole_column, fitted_table
from zobench.errors import ZobenchError
from zobench.plugins import PluginHost, get_host

DEFAULT_SUITE = "quickstart"


def default_out(suite: Suite) -> Path:
    """Where a suite's results go unless ``--out`` says otherwise: ``results/<suite name>``.

    Safe by construction: a suite name is a single folder name (no separator, no leading dot,
    no control character; :data:`~zobench.bench.suite.SUITE_NAME`).
    """
    return Path("results") / suite.name


def writable_folder(out: Path) -> Path:
    """``out``, created if needed, or a :class:`ZobenchError` when results cannot be written there.

    Checked before any run starts, so a bad ``--out`` (a file, a read-only folder, somewhere
    under /proc) is one line rather than a traceback after the first run.
    """
    if out.exists() and not out.is_dir():
        raise ZobenchError(f"cannot write results to {out}: it exists and is not a folder")
    probe = out / f".write-probe-{os.getpid()}"
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ZobenchError(f"cannot write results to {out}: {exc.strerror or exc}") from None
    return out


def print_summary(console: Console, outcome: scheduler.SuiteOutcome) -> None:
    """The suite's runs ranked as ``zobench report`` ranks them (see :mod:`zobench.report.summary`)."""
    from zobench.cli.report import print_rankings
    from zobench.report.summary import run_summary

    finished = [p.run_id for p in outcome.planned if p.run_id not in outcome.failed]
    if not finished:
        return
    print_rankings(console, run_summary(outcome.out, finished))


@click.command("run")
@click.argument("suites", nargs=-1, metavar="[SUITE_NAME_OR_FILE]...")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Results folder (with several suites: the folder holding one per suite).",
)
@click.option("--seeds", type=click.IntRange(min=1), help="Override the suites' seeds: 0..N-1.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, max=10**9),
    help="Stop a run after this many seconds and record it as failed (0: no limit; "
    "default: the suite's timeout).",
)
@click.option("--jobs", type=click.IntRange(min=1), help="Parallel workers (default: cores).")
@click.option("--executor", default="process", show_default=True, help="serial, process, dask.")
@click.option("--address", help="Dask scheduler address (implies --executor dask).")
@click.option("--fresh", is_flag=True, help="Recompute runs that are already done in the store.")
@click.option(
    "--report", "with_report", is_flag=True, help="Then write plots and markdown to OUT/report/."
)
@click.pass_context
def run_command(
    ctx: click.Context,
    suites: tuple[str, ...],
    out: Path | None,
    seeds: int | None,
    timeout: float | None,
    jobs: int | None,
    executor: str,
    address: str | None,
    fresh: bool,
    with_report: bool,
) -> None:
    """Run a suite (default: the built-in 'quickstart'), or several, into resumable results
    folders.

    Runs already done in the folder are skipped, so an interrupted suite resumes where it
    stopped. Failing runs are recorded with their error and the others go on; the exit code is
    1 when any run failed. The results folder defaults to results/<suite name>/. With a
    timeout (--timeout or the suite's `timeout`), a run past it is stopped and recorded as
    failed; the timeout does not change run ids.

    Several suites run as one pool of runs, in the order given, each into
    OUT/<suite name>/ (OUT defaults to results/): the workers never wait for one suite's last
    run before starting the next, and a run that several suites share (same configuration,
    seed and code: the same run id) is computed once and stored in each of their folders.

    \b
    Examples:
      zobench run
      zobench run my-suite.toml --out results/mine --jobs 4
      zobench run quickstart --seeds 10 --address tcp://10.0.0.5:8786
      zobench run quickstart --report
      zobench run my-suite.toml --timeout 600
      zobench run dzopg-scaling dzopg-scaling-normalization --jobs 2
    """
    host = get_host()
    parsed = [load_suite(name, host=host) for name in suites or (DEFAULT_SUITE,)]
    if seeds is not None:
        parsed = [suite.with_seeds(seeds) for suite in parsed]
    names = [suite.name for suite in parsed]
    if len(set(names)) < len(names):
        repeated = sorted({name for name in names if names.count(name) > 1})
        raise ZobenchError(f"suite {repeated[0]!r} is named twice: each suite runs once")
    if address and ctx.get_parameter_source("executor") is click.core.ParameterSource.DEFAULT:
        executor = "dask"  # an address only means something to a cluster
    pool = scheduler.make_executor(executor, jobs=jobs, address=address, host=host)
    if len(parsed) == 1:
        folders = [writable_folder(out or default_out(parsed[0]))]
    else:
        folders = [writable_folder((out or Path("results")) / suite.name) for suite in parsed]
    console = Console(stderr=True)
    for suite, folder in zip(parsed, folders, strict=True):
        console.print(f"suite [bold]{escape(suite.name)}[/bold] → {escape(str(folder))}")
    try:
        outcomes = scheduler.schedule_suites(
            list(zip(parsed, folders, strict=True)),
            executor=pool,
            fresh=fresh,
            timeout=timeout,
            console=console,
            host=host,
        )
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]: finished runs are stored; run again to resume")
        ctx.exit(130)
    if len(outcomes) == 1:
        print_summary(Console(), outcomes[0])
    for suite, outcome in zip(parsed, outcomes, strict=True):
        _print_outcome(console, suite.name if len(outcomes) > 1 else None, outcome, with_report)
    if any(outcome.failed for outcome in outcomes):
        ctx.exit(1)


def _print_outcome(
    console: Console, name: str | None, outcome: scheduler.SuiteOutcome, with_report: bool
) -> None:
    """What became of one suite's runs, its report if asked for, and what to do next."""
    out = outcome.out
    shared = f", {len(outcome.shared)} shared with another suite" if outcome.shared else ""
    console.print(
        f"{f'{escape(name)}: ' if name else ''}{len(outcome.planned)} runs: "
        f"{len(outcome.done)} done, {len(outcome.skipped)} already done (skipped)"
        f"{shared}, {len(outcome.failed)} failed"
    )
    if outcome.stale:
        console.print(
            f"{len(outcome.stale)} stale runs recomputed: stored under the same configuration "
            "by other code (a plugin, zobench or an input file changed); the new numbers replace "
            "the old"
        )
    if outcome.repaired:
        console.print(f"{len(outcome.repaired)} damaged runs recomputed")
    for run_id, error in outcome.failed.items():
        console.print(f"[red]failed[/red] {run_id}: {escape(error.splitlines()[0])}")
    if with_report and len(outcome.failed) < len(outcome.planned):
        from zobench.cli.display import phases
        from zobench.report import make_report

        with phases("report", console) as steps:
            path = make_report(out, phases=steps)
        console.print(f"report: {escape(str(path))}")
    elif not with_report:
        console.print(f"next: zobench report {escape(str(out))}  (statistics, plots, markdown)")
    if outcome.failed:
        console.print(f"details: zobench runs {escape(str(out))}")


@click.command("validate")
@click.argument("suite", metavar="FILE_OR_NAME")
def validate_command(suite: str) -> None:
    """Check a suite without running it, and print how many runs it expands into.

    An unknown component gets a "did you mean"; a wrong type or unknown key names its TOML
    path (e.g. algorithm[1].grid.pairs[0]).

    \b
    Examples:
      zobench validate my-suite.toml
      zobench validate quickstart
    """
    host = get_host()
    try:
        parsed = load_suite(suite, host=host)
    except SuiteMistakesError as exc:  # every mistake on its own line, then exit 2
        for message in exc.messages:
            click.echo(f"Error: {message}", err=True)
        raise click.exceptions.Exit(2) from None
    runs = parsed.runs(host)
    planned = scheduler.plan(runs, host)
    seeds = len(parsed.seeds)
    configurations = len(planned) // seeds
    click.echo(
        f"suite '{parsed.name}' is valid: {len(planned)} runs ({configurations} "
        f"configuration{'s' if configurations != 1 else ''} × {seeds} "
        f"seed{'s' if seeds != 1 else ''})"
    )


def run_states(scan: Scan) -> dict[str, tuple[str, str]]:
    """Manifest entry → (state, detail) for ``zobench runs``.

    States: ``done``; ``failed``; ``started`` (its process ended during the run); ``stale`` (done, but the installed code or defaults would
    compute this configuration under another run id, so the next ``zobench run`` of its suite
    recomputes it); ``superseded`` (a later run of the same configuration counts instead);
    ``damaged`` (the reason; left out of every table, recomputed by the next run).
    """
    host = get_host()
    states: dict[str, tuple[str, str]] = {}
    for run_id, record in scan.records.items():
        if run_id in scan.superseded:
            states[run_id] = ("superseded", f"by {scan.superseded[run_id]}")
        elif record.status == "started":  # its process ended mid-run; a rerun computes it
            states[run_id] = ("started", "never finished: its process ended during the run")
        elif record.status != "done":
            states[run_id] = ("failed", ((record.error or "").splitlines() or [""])[0])
        else:
            states[run_id] = _freshness(record, host)
    for name, reason in scan.damaged.items():
        states[name] = ("damaged", reason)
    return states


def _freshness(record: RunRecord, host: PluginHost) -> tuple[str, str]:
    """``done``, or ``stale`` with why, comparing the record with the installed plugins."""
    try:
        now = identify(record.spec, host)
    except ZobenchError as exc:
        return ("stale", f"cannot be resolved any more: {exc}")
    if now.run_id == record.run_id:
        return ("done", "")
    if now.config_hash != record.config_hash:
        return ("stale", "the configuration resolves differently now (a default changed)")
    changed = sorted(k for k, v in now.fingerprint.items() if record.fingerprint.get(k) != v)
    return ("stale", f"other code now: {', '.join(changed)}")


@click.command("runs")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the manifest records as JSON lines.")
@click.option("--verify", is_flag=True, help="Also parse every parquet file (rows and columns).")
def runs_command(out: Path, as_json: bool, verify: bool) -> None:
    """Show the state of every run in a results folder: done, failed, stale, damaged.

    A stale run was computed by other code or defaults than are installed now (the next
    `zobench run` of its suite recomputes it); a damaged run's files cannot be trusted (the
    reason is shown; it is left out of every table and recomputed by the next run).
    Every parquet file is checked against the sha256 its manifest records; --verify also
    parses each one and checks its row count and columns.

    \b
    Examples:
      zobench runs results/quickstart
      zobench runs results/quickstart --verify
      zobench runs results/quickstart --json | jq .error
    """
    store = Store(out)
    scan = store.scan(frames="read" if verify else "hash")
    states = run_states(scan)
    records = sorted(
        scan.records.values(), key=lambda r: (r.spec.display_label, r.spec.seed, r.run_id)
    )
    if as_json:
        for record in records:
            state, detail = states[record.run_id]
            click.echo(json.dumps({**record.to_json(), "state": state, "detail": detail}))
        for name in sorted(scan.damaged):
            if name not in scan.records:
                click.echo(
                    json.dumps({"run_id": name, "state": "damaged", "detail": states[name][1]})
                )
        return
    swept = swept_parameters([r.to_json() for r in records])
    rows = []
    for record in records:
        state, detail = states[record.run_id]
        spec = record.spec
        settings = ", ".join(
            f"{k.split('.', 1)[1]}={v}"
            for k, v in swept.get(record.run_id, {}).items()
            if v is not None
        )
        rows.append(
            (
                record.run_id,
                spec.display_label,
                f"{spec.environment.name}/{spec.preference.name}",
                str(spec.seed),
                state,
                f"{record.timings.wall_s:.2f}",
                settings,
                detail,
            )
        )
    for name in sorted(set(scan.damaged) - {r.run_id for r in records}):
        rows.append((name, "", "", "", "damaged", "", "", states[name][1]))
    table = fitted_table(f"{out}: {len(states)} runs")
    # ids, seeds, states and times stay whole on one line; the description of the run wraps
    for index, header in ((0, "run id"), (3, "seed"), (4, "state"), (5, "wall s")):
        justify = "right" if header in ("seed", "wall s") else "left"
        add_whole_column(table, header, [row[index] for row in rows], justify=justify)
    add_prose_column(table, "run: label · instance · swept settings · detail")
    colours = {"done": "green", "stale": "yellow", "superseded": "dim"}
    for row in rows:
        state = f"[{colours.get(row[4], 'red')}]{escape(row[4])}[/]"
        about = " · ".join(part for part in (row[1], row[2], row[6], row[7]) if part)
        table.add_row(escape(row[0]), row[3], state, row[5], escape(about))
    Console().print(table)
    counts = {
        s: sum(v[0] == s for v in states.values()) for s in ("done", "stale", "failed", "started")
    }
    counts["damaged"] = len(scan.damaged)
    counts["superseded"] = len(scan.superseded)
    click.echo(", ".join(f"{n} {s}" for s, n in counts.items() if n or s in ("done", "failed")))


@click.command("export")
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
def export_command(out: Path, fmt: str, output: Path | None) -> None:
    """Write every finished run of a results folder as one long table.

    Columns: suite, run_id, algorithm, label, environment, preference, topology, seed, one
    '<table>.<setting>' column per swept setting (e.g. algorithm.pairs), then the
    runner's columns (iteration, ..., score, score_normalized, diag_*). The default output is
    OUT/results.<format>.

    \b
    Examples:
      zobench export results/quickstart
      zobench export results/quickstart --format parquet --output quickstart.parquet
    """
    Store(out)  # a clear error when OUT is not a results folder
    frame = load(out)  # damaged runs are left out with one warning line
    output = output or out / f"results.{fmt}"
    try:
        if fmt == "csv":
            frame.write_csv(output)
        else:
            frame.write_parquet(output)
    except OSError as exc:
        raise ZobenchError(f"cannot write {output}: {exc}") from None
    click.echo(
        f"wrote {frame.height} rows of {frame.get_column('run_id').n_unique()} runs to {output}"
    )


def register(group: click.Group) -> None:
    """Add this module's commands to the ``zobench`` group."""
    for command in (run_command, validate_command, runs_command, export_command):
        group.add_command(command)
