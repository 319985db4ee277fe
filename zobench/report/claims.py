"""Papers' claims checked against published leaderboards: ``claims.toml`` → ``REPRODUCTION.md``.

A folder of published leaderboards may hold a ``claims.toml``: a title, a preamble, and one
``[[claim]]`` table per claim of a paper — its statement, the leaderboard that tests it, and the
``[[claim.check]]`` tables that decide it. Each check compares entries of the published raw runs
(final normalized scores, or cost per iteration) with a fixed-seed bootstrap, so the report is
derived from the raw runs alone and ``zobench leaderboard --check`` can re-derive it like any
leaderboard. Only the discussion is prose; every number and verdict is computed.

A check is one of (the rules are printed in the report too):

- ``better``: P(entry beats than) with a 95% bootstrap interval; it holds when the interval lies
  above ½, fails when it lies below ½, and is unclear otherwise;
- ``similar``: IQM(entry) − IQM(than) with a 95% bootstrap interval; it holds when the interval
  lies within ±tolerance, fails when it lies wholly outside, and is unclear otherwise;
- ``at-least``: IQM(entry) against a threshold; it holds when the IQM's 95% interval lies at or
  above it, fails when the interval lies below it, and is unclear otherwise;
- ``cheaper``: ``better`` on wall-clock seconds per iteration, lower being better.

A claim is *reproduced* when every check holds, *partly* when some do, *not reproduced* when none.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from zobench.config import validate
from zobench.errors import ConfigError, ZobenchError, did_you_mean
from zobench.progress import Phases, quiet
from zobench.report import analysis, budgets, leaderboard, publish, stats

CLAIMS, REPRODUCTION = publish.CLAIMS, publish.REPRODUCTION
CONFIDENCE = 0.95
REPS = stats.REPS

COSTS = {"final": "wall_s", "wall": "wall_s", "update": "update_s"}
"""A ``cheaper`` check's quantity → the run column whose per-iteration value it compares."""


@dataclass(frozen=True)
class CheckSpec:
    """One ``[[claim.check]]`` table: a comparison that holds, fails or is unclear."""

    test: Literal["better", "similar", "at-least", "cheaper"]
    """What is checked (module docstring)."""
    entry: str
    """The entry (as its leaderboard names it, e.g. ``zpg`` or ``dzopg (pairs=40)``)."""
    than: str = ""
    """The entry compared with (every test but ``at-least``)."""
    leaderboard: str = ""
    """The entry's leaderboard folder; default: the claim's."""
    than_leaderboard: str = ""
    """``than``'s leaderboard folder; default: the entry's."""
    where: dict[str, Any] = field(default_factory=dict)
    """Group columns (``preference``, ``environment.collision_penalty``, …) picking the entry's
    leaderboard group; default: the claim's."""
    than_where: dict[str, Any] = field(default_factory=dict)
    """The same for ``than``; default: the entry's."""
    tolerance: float = 0.05
    """``similar``: the largest IQM difference that still counts as equal."""
    threshold: float = 0.9
    """``at-least``: the IQM to reach."""
    quantity: str = "final"
    """What is compared: ``final`` (final normalized score), ``auc`` (average score over the
    group's vote budget), ``auc-iterations`` (average score over the board's iterations: for
    ablations that vary the votes per iteration and plot against iterations), ``budget:<n>`` (score at n votes), ``iteration:<n>`` (score at
    iteration n) or ``votes-to:<t>`` (votes to reach normalized score t; fewer is better).
    ``cheaper`` compares a cost per iteration instead: ``wall`` (wall-clock time, everything
    included; also ``final``) or ``update`` (the algorithm's own estimator and update, outside
    rollouts and votes: the runs' ``update_s``)."""

    def __post_init__(self) -> None:
        if self.test != "at-least" and not self.than:
            raise ValueError(f"test '{self.test}' compares two entries: give 'than'")
        if self.test == "at-least" and self.than:
            raise ValueError("test 'at-least' compares one entry with 'threshold': drop 'than'")
        if self.tolerance < 0:
            raise ValueError(f"tolerance must be non-negative, got {self.tolerance}")
        if self.test == "cheaper":
            if self.quantity not in COSTS:
                raise ValueError(
                    f"test 'cheaper' compares a cost per iteration: quantity must be one of "
                    f"{', '.join(sorted(COSTS))}, not {self.quantity!r}"
                )
        else:
            parse_quantity(self.quantity)


def parse_quantity(text: str) -> tuple[str, float | None]:
    """``final``, ``auc``, ``auc-iterations``, ``budget:<n>``, ``iteration:<n>`` or
    ``votes-to:<t>`` → (kind, n)."""
    if text in ("final", "auc", "auc-iterations"):
        return text, None
    kind, _, amount = text.partition(":")
    try:
        value = float(amount)
    except ValueError:
        value = float("nan")
    if kind in ("budget", "iteration", "votes-to") and np.isfinite(value) and value >= 0:
        return kind, value
    raise ValueError(
        f"quantity {text!r}: use final, auc, budget:<votes>, iteration:<n> or votes-to:<score>"
    )


@dataclass(frozen=True)
class ClaimSpec:
    """One ``[[claim]]`` table (its checks are validated separately, each with its TOML path)."""

    id: str
    """A short label, e.g. ``Z1``."""
    claim: str
    """The paper's statement, in one sentence."""
    leaderboard: str
    """The leaderboard folder that tests it."""
    check: list[dict[str, Any]]
    """The ``[[claim.check]]`` tables."""
    where: dict[str, Any] = field(default_factory=dict)
    """Default group columns of its checks."""
    discussion: str = ""
    """Markdown: why it is not (or only partly) reproduced, or anything else worth saying."""


@dataclass(frozen=True)
class ClaimsFile:
    """A whole ``claims.toml``."""

    title: str
    """The report's heading."""
    claim: list[dict[str, Any]]
    """The ``[[claim]]`` tables."""
    preamble: str = ""
    """Markdown shown under the heading."""


@dataclass(frozen=True)
class Side:
    """The runs of one entry in one leaderboard group: what a check compares."""

    leaderboard: str
    entry: str
    seeds: tuple[int, ...]
    values: np.ndarray
    approximate: bool
    """True when the group's normalization reference is not an exact optimum."""


@dataclass(frozen=True)
class Outcome:
    """A check's result: ``holds`` is True, False, or None (unclear), with its numbers."""

    check: CheckSpec
    holds: bool | None
    text: str
    """The numbers, as markdown (entry names escaped)."""
    approximate: bool
    """True when a score compared is normalized to an approximate reference."""


@dataclass(frozen=True)
class Result:
    """A claim with its checks' outcomes and its verdict."""

    claim: ClaimSpec
    outcomes: tuple[Outcome, ...]

    @property
    def verdict(self) -> str:
        """``reproduced`` / ``partly`` / ``not reproduced`` (module docstring)."""
        held = [o.holds is True for o in self.outcomes]
        if all(held):
            return "reproduced"
        return "partly" if any(held) else "not reproduced"


def load(folder: Path) -> tuple[ClaimsFile, list[tuple[ClaimSpec, list[CheckSpec]]]]:
    """Read and validate ``folder/claims.toml``; a mistake raises one line naming its TOML path."""
    path = folder / CLAIMS
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ZobenchError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ZobenchError(f"{path}: invalid TOML: {exc}") from None
    try:
        top = validate(ClaimsFile, data)
        claims = []
        for i, raw in enumerate(top.claim):
            spec = validate(ClaimSpec, raw, path=f"claim[{i}]")
            checks = [
                validate(CheckSpec, c, path=f"claim[{i}].check[{j}]")
                for j, c in enumerate(spec.check)
            ]
            if not checks:
                raise ConfigError(f"claim[{i}].check: a claim needs at least one check")
            claims.append((spec, checks))
    except ConfigError as exc:
        raise ZobenchError(f"{path}: {exc}") from None
    ids = [spec.id for spec, _ in claims]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ZobenchError(f"{path}: claim id '{repeated[0]}' is used twice")
    return top, claims


class _Finals:
    """Final-score frames (and curves) of the published leaderboards under a folder, read once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names = [p.name for p in publish.published_folders(folder)]
        self._frames: dict[str, pl.DataFrame] = {}
        self._curves: dict[str, pl.DataFrame] = {}

    def curves(self, name: str) -> pl.DataFrame:
        """The board's curve rows with each run's entry and score scale."""
        if name not in self._curves:
            board = self.folder / name
            frame = analysis.long_frame(analysis.from_published(board))
            self._curves[name] = analysis.curve_rows(frame, self(name))
        return self._curves[name]

    def query_budget(self, name: str) -> float:
        """The most votes any run of the board spent: the end of its AUC."""
        return float(np.nanmax(self.curves(name).get_column("queries").to_numpy(), initial=0.0))

    def iterations(self, name: str) -> float:
        """The most iterations any run of the board ran: the end of its AUC over iterations."""
        return float(np.nanmax(self.curves(name).get_column("iteration").to_numpy(), initial=0.0))

    def __call__(self, name: str) -> pl.DataFrame:
        if name not in self.names:
            raise ZobenchError(
                f"no published leaderboard '{name}' in {self.folder}"
                f"{did_you_mean(name, self.names)}"
            )
        if name not in self._frames:
            board = self.folder / name
            last = int(publish.options(board)["last"])
            frame = analysis.long_frame(analysis.from_published(board))
            self._frames[name] = analysis.final_scores(frame, last)
        return self._frames[name]


def _select(
    finals: _Finals, board: str, entry: str, where: dict[str, Any], place: str
) -> pl.DataFrame:
    """The final rows of ``entry`` in the one group of ``board`` that ``where`` picks."""
    frame = finals(board)
    tasks = analysis.task_columns(frame)
    for key, value in where.items():
        if key not in tasks:
            raise ZobenchError(
                f"{place}: '{key}' is not a group column of {board}{did_you_mean(key, tasks)}"
            )
        frame = frame.filter(pl.col(key) == value)
    names = sorted(set(frame.get_column("entry").to_list()))
    if entry not in names:
        raise ZobenchError(
            f"{place}: no entry '{entry}' in {board} where {where or 'anywhere'}"
            f"{did_you_mean(entry, names)}"
        )
    rows = frame.filter(pl.col("entry") == entry)
    groups = rows.select(tasks).unique()
    if groups.height > 1:
        varying = [c for c in tasks if rows.get_column(c).n_unique() > 1]
        raise ZobenchError(
            f"{place}: '{entry}' is in {groups.height} groups of {board}; "
            f"pick one with where = {{...}} over {', '.join(varying)}"
        )
    return rows.sort(["seed", "run_id"])


def _quantity_values(finals: _Finals, board: str, rows: pl.DataFrame, quantity: str) -> np.ndarray:
    """Per run (in ``rows``' order) the quantity a check compares, from the runs' curves."""
    kind, amount = parse_quantity(quantity)
    if kind == "final":
        return rows.get_column("value").to_numpy()
    curves = finals.curves(board).filter(
        pl.col("run_id").is_in(rows.get_column("run_id").implode())
    )
    values = []
    for run_id in rows.get_column("run_id").to_list():
        run = curves.filter(pl.col("run_id") == run_id).sort("iteration")
        spent, score = run.get_column("queries").to_numpy(), run.get_column("value").to_numpy()
        if kind == "auc":
            values.append(stats.area_under_curve(spent, score, finals.query_budget(board)))
        elif kind == "auc-iterations":
            at = run.get_column("iteration").to_numpy()
            values.append(stats.area_under_curve(at, score, finals.iterations(board)))
        elif kind == "budget":
            trained = run.get_column("iteration").to_numpy() > 0
            values.append(stats.score_at_budget(spent[trained], score[trained], amount or 0))
        elif kind == "iteration":
            at = run.get_column("iteration").to_numpy()
            values.append(stats.score_at_budget(at, score, amount or 0))
        else:
            values.append(stats.budget_to_threshold(spent, score, amount or 0))
    return np.array(values, dtype=float)


def _side(
    finals: _Finals, rows: pl.DataFrame, board: str, entry: str, cost: bool, quantity: str
) -> Side:
    if cost:
        column = COSTS[quantity]
        if column not in rows.columns or rows.get_column(column).is_null().any():
            raise ZobenchError(f"{board}: '{entry}' has runs without '{column}' (older runs)")
        values = (rows.get_column(column) / rows.get_column("iteration")).to_numpy()
    else:
        if rows.get_column("value_kind")[0] != "normalized":
            raise ZobenchError(f"{board}: '{entry}' has no normalized scores to compare")
        values = _quantity_values(finals, board, rows, quantity)
        if np.isnan(values).any():
            raise ZobenchError(f"{board}: '{entry}' has no score at {quantity}")
    # a certified bound is no approximation (a score cannot exceed it); runs recording no
    # reference at all are not flagged, as before reference kinds existed
    kinds = rows.get_column("ref_kind") if "ref_kind" in rows.columns else None
    approximate = kinds is not None and bool((kinds == "approximate").any())
    seeds = tuple(int(s) for s in rows.get_column("seed").to_list())
    return Side(board, entry, seeds, values.astype(float), approximate and not cost)


def _interval(low: float, high: float, fmt: Callable[[float], str]) -> str:
    return f"[{fmt(low)}, {fmt(high)}]"


def _score(value: float) -> str:
    # votes to a threshold are large (or infinite: never reached); scores are within ±10
    if not np.isfinite(value) or abs(value) >= 1000:
        return budgets.budget_text(value)
    return leaderboard.number(value, 3)


def _millis(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def _signed(value: float) -> str:
    text = f"{value:+.3f}"
    return "0.000" if float(text) == 0 else text


def _name(side: Side) -> str:
    """An entry's name made inert in markdown (labels come from plugins and suites)."""
    return leaderboard.escape(side.entry)


def _summary(side: Side, fmt: Callable[[float], str], unit: str = "") -> str:
    agg = stats.aggregate(side.values, confidence=CONFIDENCE, reps=REPS)
    return f"{_name(side)} {fmt(agg.iqm)}{unit} {_interval(agg.ci_low, agg.ci_high, fmt)}"


def _decide(inside: bool, outside: bool) -> bool | None:
    """An interval's outcome: True when it lies inside the region, False when wholly outside."""
    return True if inside else False if outside else None


def _better(a: Side, b: Side, *, lower: bool, cost: bool) -> tuple[bool | None, str]:
    # Time and votes to a threshold: lower is better, so compare negated values.
    x, y = (-a.values, -b.values) if lower else (a.values, b.values)
    p, paired = analysis.seeded_improvement(x, a.seeds, y, b.seeds)
    low, high = stats.improvement_ci(x, y, paired=paired, confidence=CONFIDENCE, reps=REPS)
    fmt, unit = (_millis, " ms/it") if cost else (_score, "")
    relation = "cheaper than" if cost else "beats"
    text = (
        f"{_summary(a, fmt, unit)} vs {_summary(b, fmt, unit)}; "
        f"P({_name(a)} {relation} {_name(b)}) = {p:.2f} {_interval(low, high, '{:.2f}'.format)}"
        + (" (paired by seed)" if paired else "")
    )
    return _decide(low > 0.5, high < 0.5), text


def _similar(a: Side, b: Side, tolerance: float) -> tuple[bool | None, str]:
    low, high = stats.iqm_difference_ci(
        a.values, b.values, paired=False, confidence=CONFIDENCE, reps=REPS
    )
    difference = stats.iqm(a.values) - stats.iqm(b.values)
    text = (
        f"{_summary(a, _score)} vs {_summary(b, _score)}; "
        f"IQM difference {_signed(difference)} [{_signed(low)}, {_signed(high)}], "
        f"equal within ±{tolerance:g}"
    )
    inside = -tolerance <= low and high <= tolerance
    return _decide(inside, high < -tolerance or low > tolerance), text


def _at_least(a: Side, threshold: float) -> tuple[bool | None, str]:
    agg = stats.aggregate(a.values, confidence=CONFIDENCE, reps=REPS)
    text = f"{_summary(a, _score)}; threshold {threshold:g}"
    return _decide(agg.ci_low >= threshold, agg.ci_high < threshold), text


def _evaluate(finals: _Finals, spec: ClaimSpec, check: CheckSpec, place: str) -> Outcome:
    board = check.leaderboard or spec.leaderboard
    where = check.where or spec.where
    cost = check.test == "cheaper"
    a = _side(
        finals,
        _select(finals, board, check.entry, where, place),
        board,
        check.entry,
        cost,
        check.quantity,
    )
    if check.test == "at-least":
        holds, text = _at_least(a, check.threshold)
        return Outcome(check, holds, _labelled(check, text), a.approximate)
    than_board = check.than_leaderboard or board
    than_where = check.than_where or where
    rows = _select(finals, than_board, check.than, than_where, place)
    b = _side(finals, rows, than_board, check.than, cost, check.quantity)
    if check.test == "similar":
        holds, text = _similar(a, b, check.tolerance)
    else:
        lower = cost or check.quantity.startswith("votes-to")
        holds, text = _better(a, b, lower=lower, cost=cost)
    return Outcome(check, holds, _labelled(check, text), a.approximate or b.approximate)


def _labelled(check: CheckSpec, text: str) -> str:
    """A check's numbers, prefixed with the quantity compared unless it is the final score."""
    return text if check.quantity == "final" else f"({check.quantity}) {text}"


def evaluate(folder: str | Path, *, phases: Phases = quiet) -> tuple[ClaimsFile, list[Result]]:
    """Every claim of ``folder/claims.toml`` decided from the leaderboards published there."""
    folder = Path(folder)
    top, claims = load(folder)
    finals = _Finals(folder)
    results = []
    with phases("deciding claims", len(claims)) as advance:  # boards load on first use
        for i, (spec, checks) in enumerate(claims):
            outcomes = tuple(
                _evaluate(finals, spec, check, f"claim[{i}].check[{j}] ({spec.id})")
                for j, check in enumerate(checks)
            )
            results.append(Result(spec, outcomes))
            advance()
    return top, results


_MARK = {True: "holds", False: "fails", None: "unclear"}

RULES = """\
Every number is computed from the raw runs published beside each leaderboard. A run's score is
its final normalized score (0 = the uniform policy, 1 = the environment's reference policy)
unless the check names another quantity: `auc` (average score over the group's vote budget),
`auc-iterations` (average score over the iterations), `budget:<n>` (score at n votes), `iteration:<n>` or `votes-to:<t>` (votes to reach t, fewer
being better). An entry's score is the interquartile mean (IQM) over its seeds with a 95%
percentile-bootstrap interval (10,000 resamples, fixed seed). A check

- **beats** (`better`): P(X beats Y), the probability that a run of X scores above a run of Y
  (rliable's unpaired estimator over all pairs of runs), with a 95% bootstrap interval. It *holds* when
  the interval lies above ½, *fails* when it lies below ½, and is *unclear* otherwise;
- **equal within ±t** (`similar`): IQM(X) − IQM(Y) with a 95% bootstrap interval; it holds when
  the interval lies within ±t, fails when it lies wholly outside, and is unclear otherwise;
- **threshold** (`at-least`): it holds when the IQM's interval lies at or above the threshold,
  fails when the interval lies below it, and is unclear otherwise;
- **cheaper than** (`cheaper`): *beats* on milliseconds per iteration, lower being better:
  wall-clock time (evaluations included), or with `update` the algorithm's own estimator and
  update, outside rollouts and votes.

A claim is **reproduced** when all its checks hold, **partly** when some do, and **not
reproduced** when none does (an unclear check counts as not holding)."""


def markdown(top: ClaimsFile, results: list[Result]) -> str:
    """The reproduction report: a table of claims and verdicts, then discussion and rules."""
    counts = {v: sum(r.verdict == v for r in results) for v in _VERDICTS}
    lines = [f"# {top.title}", ""]
    if top.preamble:
        lines += [top.preamble.strip(), ""]
    lines += [
        f"Of {len(results)} claims: **{counts['reproduced']} reproduced**, "
        f"**{counts['partly']} partly**, **{counts['not reproduced']} not reproduced** "
        "(rules at the end).",
        "",
        "| claim | what the paper says (our wording) | leaderboard | our numbers | verdict |",
        "|---|---|---|---|---|",
    ]
    for result in results:
        spec = result.claim
        where = ", ".join(f"{k} = {leaderboard.escape(v)}" for k, v in spec.where.items())
        board = f"[{spec.leaderboard}]({spec.leaderboard}/{publish.MARKDOWN})" + (
            f" ({where})" if where else ""
        )
        numbers = "<br>".join(f"{o.text}: **{_MARK[o.holds]}**" for o in result.outcomes)
        if any(o.approximate for o in result.outcomes):
            numbers += "<br>(scores normalized to an approximate reference policy)"
        lines.append(
            f"| {leaderboard.escape(spec.id)} | {leaderboard.escape(spec.claim)} | {board} "
            f"| {numbers} | **{result.verdict}** |"
        )
    discussed = [r for r in results if r.claim.discussion.strip()]
    if discussed:
        lines += ["", "## Discussion", ""]
        for result in discussed:
            spec = result.claim
            lines += [
                f"### {leaderboard.escape(spec.id)}: {result.verdict}",
                "",
                spec.discussion.strip(),
                "",
            ]
        lines.pop()
    lines += [
        "",
        "## How the verdicts are decided",
        "",
        RULES,
        "",
        f"Generated by `zobench claims` from [{CLAIMS}]({CLAIMS}) and the published raw runs; "
        "`zobench leaderboard --check` re-derives this file.",
    ]
    return "\n".join(lines) + "\n"


_VERDICTS = ("reproduced", "partly", "not reproduced")


def write(folder: str | Path, *, phases: Phases = quiet) -> tuple[Path, list[Result]]:
    """Evaluate ``folder/claims.toml`` and write ``folder/REPRODUCTION.md``."""
    folder = Path(folder)
    top, results = evaluate(folder, phases=phases)
    path = folder / REPRODUCTION
    with phases("writing"):
        publish.write_text(path, markdown(top, results))
    return path, results


def check(folder: str | Path, *, phases: Phases = quiet) -> list[publish.Mismatch]:
    """The difference between ``REPRODUCTION.md`` and what its claims and raw runs give."""
    folder = Path(folder)
    if not (folder / CLAIMS).is_file():
        return []
    text = markdown(*evaluate(folder, phases=phases))
    mismatch = publish.compare_text(folder / REPRODUCTION, text)
    return [] if mismatch is None else [mismatch]
