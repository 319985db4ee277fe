"""``zobench report``, ``zobench leaderboard`` and ``zobench compare``: from a store to findings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from zobench.bench import identity
from zobench.cli import display
from zobench.cli.display import add_prose_column, add_whole_column, fitted_table
from zobench.errors import ZobenchError
from zobench.progress import Phases
from zobench.report import analysis, claims, leaderboard, publish, summary
from zobench.report.compare import compare

_LAST = click.option(
    "--last",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Final score of a run: mean of its last K evaluations.",
)
_SVG = click.option("--svg", is_flag=True, help="Write SVG plots instead of PNG.")
_RANK_BY = click.option(
    "--rank-by",
    default="auc",
    show_default=True,
    help="Headline ranking of preference learners: 'auc' (area under the curve against "
    "votes), 'final' (final score) or 'budget:<n>' (score at n votes).",
)


def print_rankings(console: Console, groups: Sequence[summary.Ranked]) -> None:
    """Each group's rankings (learners, reward readers, references), fitted to the terminal."""
    for group in groups:
        for table in summary.tables(group):
            display.print_fitted(
                console,
                table.title,
                table.columns,
                table.rows,
                required=table.required,
                numeric=table.numeric,
            )


@click.command("report")
@click.argument("out", type=click.Path(path_type=Path))
@_LAST
@_SVG
@_RANK_BY
def report_command(out: Path, last: int, svg: bool, rank_by: str) -> None:
    """Summarize a results folder: ranked tables here, markdown and plots in OUT/report/.

    In each (environment, preference model, topology) group the preference learners are
    ranked by the interquartile mean (IQM) of --rank-by (default: the area under the learning
    curve against votes), with 95% bootstrap confidence intervals and the probability of
    beating the next entry; scores at equal vote budgets and the budget to reach 0.5 and 0.9
    follow. Plots: learning curves against iterations, episodes, preference queries, env steps
    and messages; final scores; P(X > Y); performance profiles.

    \b
    Examples:
      zobench report results/quickstart
      zobench report results/quickstart --last 3 --svg
    """
    with display.phases("report") as steps:
        fmt = "svg" if svg else "png"
        board = publish.report_board(out, last=last, fmt=fmt, rank_by=rank_by, phases=steps)
        path = publish.write_report(out, board, phases=steps)
    console = Console()
    print_rankings(console, board.sections)
    console.print(f"report: {escape(str(path))}", soft_wrap=True)


@click.command("leaderboard")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "target",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("leaderboards"),
    show_default=True,
    help="Folder of published leaderboards.",
)
@click.option("--name", help="Leaderboard folder name (default: the suite's name).")
@click.option(
    "--check",
    is_flag=True,
    help="Check that published markdown matches its raw runs (PATH: default 'leaderboards').",
)
@click.option(
    "--republish",
    is_flag=True,
    help="Re-render published boards from their raw runs and options (PATH: default "
    "'leaderboards'), after a change of the board format.",
)
@_LAST
@_SVG
@_RANK_BY
@click.pass_context
def leaderboard_command(
    ctx: click.Context,
    path: Path | None,
    target: Path,
    name: str | None,
    check: bool,
    republish: bool,
    last: int,
    svg: bool,
    rank_by: str,
) -> None:
    """Publish a results folder as a leaderboard, or check published ones.

    Publishing writes <--out>/<name>/leaderboard.md with its plots and a compact copy of the
    raw runs (raw/runs.json, raw/curves.parquet), and rewrites <--out>/README.md, the index,
    and <--out>/REPRODUCTION.md when <--out> holds a claims.toml (see zobench claims).
    --check re-derives each markdown (and the index, and REPRODUCTION.md when the folder holds
    a claims.toml) from the raw runs alone, compares every plot with its recorded sha256, and
    exits 1 with one line per file that differs. --republish re-renders published boards from
    their raw runs (each keeps its options: name, --last, format, --rank-by).

    \b
    Examples:
      zobench leaderboard results/quickstart --out leaderboards/
      zobench leaderboard results/quickstart --rank-by budget:1e6
      zobench leaderboard --check leaderboards/
      zobench leaderboard --republish leaderboards/
    """
    with display.phases("leaderboard") as steps:
        if check:
            folder = path or Path("leaderboards")
            problems = publish.check(folder, phases=steps) + claims.check(folder, phases=steps)
            for problem in problems:
                click.echo(problem.summary(), err=True)
            if problems:
                ctx.exit(1)
            click.echo(f"{folder}: published markdown matches its raw runs")
            return
        if republish:
            target = _republish(path or Path("leaderboards"), steps)
        elif path is None:
            raise click.UsageError("give the results folder to publish (or --check)")
        else:
            fmt = "svg" if svg else "png"
            markdown = publish.publish(
                path, target, name=name, last=last, fmt=fmt, rank_by=rank_by, phases=steps
            )
            click.echo(f"published {markdown} (index: {target / publish.INDEX})")
        _update_claims(target, steps)


def _republish(folder: Path, steps: Phases) -> Path:
    """Re-render the published boards in (or at) ``folder``; the folder of leaderboards."""
    single = analysis.is_published(folder)
    boards = [folder] if single else publish.published_folders(folder)
    if not boards:
        raise ZobenchError(f"{folder}: no published leaderboard (no */raw/runs.json) inside")
    for board in boards:
        click.echo(f"republished {publish.render(board, phases=steps)}")
    return folder.parent if single else folder


def _update_claims(target: Path, steps: Phases) -> None:
    """Rewrite the folder's REPRODUCTION.md when it holds a claims.toml."""
    if not (target / claims.CLAIMS).is_file():
        return
    # Its numbers may come from the leaderboard just replaced: keep the report in step.
    path = target / claims.REPRODUCTION
    before = path.read_text(encoding="utf-8") if path.is_file() else None
    try:
        claims.write(target, phases=steps)
    except ZobenchError as exc:
        click.echo(f"warning: {path} not updated: {exc}", err=True)
    else:
        changed = path.read_text(encoding="utf-8") != before
        click.echo(f"{'updated' if changed else 'unchanged:'} {path}")


@click.command("compare")
@click.argument("out", type=click.Path(path_type=Path))
@click.argument("other", required=False, type=click.Path(path_type=Path))
@click.option("--baseline", required=True, help="The entry (algorithm label) to compare with.")
@_LAST
def compare_command(out: Path, other: Path | None, baseline: str, last: int) -> None:
    """Compare every algorithm with a baseline: IQM with 95% CI and P(beats the baseline).

    OUT is a results folder; OTHER (optional) is another results folder, a published
    leaderboard folder, or a folder of them, whose raw runs join OUT's — so a new algorithm's
    runs are compared with published baselines without re-running them. Where both hold the
    same run, OUT's copy counts.

    \b
    Examples:
      zobench compare results/mine leaderboards/zpg-gridworld --baseline zpg
      zobench compare results/quickstart --baseline uniform
    """
    named = [(str(out), _resolved(analysis.read_any(out)))]
    if other is not None:
        named.append((str(other), _resolved(analysis.read_any(other))))
    groups, missing = compare(named, baseline, last=last)
    console = Console()
    for name, run_set in named[1:]:
        differs = [identity.code_differs(r) for r in run_set.records]
        if any(differs):
            console.print(
                f"note: {differs.count(True)} of {len(differs)} runs from {escape(name)} were "
                "computed by other code than is installed now (or recorded no fingerprint); "
                "they are compared as they were stored"
            )
    for group in groups:
        places = leaderboard.decimals(group.kind, [group.baseline, *(r.entry for r in group.rows)])
        base = group.baseline.summary
        title = (
            f"{leaderboard.group_title(group.task)} — against {baseline} "
            f"(IQM {leaderboard.number(base.iqm, places)}, {base.runs} seeds, "
            f"from {group.baseline_source})"
        )
        columns = ["algorithm", "IQM [95% CI]", "Δ IQM", "P(beats baseline)", "seeds", "from"]
        rows = []
        for row in group.rows:
            s = row.entry.summary
            rows.append(
                [
                    row.entry.entry,
                    f"{leaderboard.number(s.iqm, places)} [{leaderboard.number(s.ci_low, places)}, "
                    f"{leaderboard.number(s.ci_high, places)}]",
                    f"{s.iqm - base.iqm:+.{places}f}",
                    f"{row.p_improvement:.2f}" + (" (paired)" if row.paired else ""),
                    str(s.runs),
                    row.source,
                ]
            )
        numeric = {"IQM [95% CI]", "Δ IQM", "seeds"}
        display.print_fitted(console, title, columns, rows, required=4, numeric=numeric)
    if missing:  # one line, however many groups lack the baseline: how many, from which suites
        suites = sorted({suite for skipped in missing for suite in skipped.suites})
        console.print(
            f"[yellow]skipped {len(missing)} group{'s' if len(missing) != 1 else ''}[/yellow] "
            f"without {escape(baseline)} runs, from {len(suites)} suite"
            f"{'s' if len(suites) != 1 else ''}: {escape(', '.join(suites) or 'unnamed')}"
        )


def _resolved(run_set: analysis.RunSet) -> analysis.RunSet:
    """Older published records get their configuration hash, to match runs by configuration."""
    records = tuple(identity.with_config_hash(r) for r in run_set.records)
    return analysis.RunSet(records, run_set.curves)


@click.command("claims")
@click.argument(
    "folder",
    required=False,
    default=Path("leaderboards"),
    type=click.Path(file_okay=False, path_type=Path),
)
def claims_command(folder: Path) -> None:
    """Decide papers' claims from published leaderboards: FOLDER/claims.toml → REPRODUCTION.md.

    Each [[claim]] of FOLDER/claims.toml (default folder: leaderboards) names a paper's
    statement, the leaderboard that tests it and its checks (better, similar, at-least,
    cheaper), which are decided with 95% bootstrap intervals from the published raw runs. A
    claim is reproduced when every check holds, partly when some do, and not reproduced when
    none does. `zobench leaderboard --check` re-derives the report.

    \b
    Examples:
      zobench claims
      zobench claims leaderboards/
    """
    with display.phases("claims") as steps:
        path, results = claims.write(folder, phases=steps)
    console = Console()
    rows = []
    for result in results:
        marks = [o.holds for o in result.outcomes]
        counts = f"{marks.count(True)}/{marks.count(False)}/{marks.count(None)}"
        rows.append((result.claim.id, result.verdict, counts, result.claim.claim))
    table = fitted_table(str(path))
    add_whole_column(table, "claim", [r[0] for r in rows])
    add_whole_column(table, "verdict", [r[1] for r in rows])
    add_whole_column(table, "holds/fails/unclear", [r[2] for r in rows], justify="center")
    add_prose_column(table, "the paper says")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)


def register(group: click.Group) -> None:
    """Add this module's commands to the ``zobench`` group."""
    for command in (report_command, leaderboard_command, compare_command, claims_command):
        group.add_command(command)
