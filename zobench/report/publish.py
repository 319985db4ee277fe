"""Reports, published leaderboards, their index, and the check that they match their raw runs.

A published leaderboard is a folder ``<leaderboards>/<name>/``::

    leaderboard.md          the markdown (see :mod:`zobench.report.leaderboard`)
    plots/*.png             the figures it links to
    raw/runs.json           the runs' manifest records (spec, timings, provenance; no tracebacks)
    raw/curves.parquet      their learning curves (the runner's rows, keyed by run_id)
    raw/options.json        how the markdown was made (name, last k, plot format, rank_by)
    plots/SHA256SUMS        the sha256 of every plot (``sha256sum -c`` reads it)

``<leaderboards>/README.md`` indexes every published folder. ``check`` re-derives each markdown
(and the index) from the raw files alone and reports the first difference. The markdown states
a digest of the raw runs (every curve point and every record), so an edit to the raw files that
changes no number shown still fails the check; plots are compared by hash, since publishing is
byte-identical. A hostile folder (options or records of the wrong shape) is refused in one line.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zobench.bench.store import write_atomic
from zobench.errors import ZobenchError
from zobench.progress import Phases, quiet
from zobench.report import analysis, budgets, leaderboard
from zobench.report.analysis import RunSet

MARKDOWN = "leaderboard.md"
INDEX = "README.md"
CLAIMS, REPRODUCTION = "claims.toml", "REPRODUCTION.md"
"""A leaderboards folder's papers' claims and the report derived from them (:mod:`.claims`)."""
OPTIONS = "options.json"
REPORT = "report"
"""The report folder inside a results store."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
CHECKSUMS = "SHA256SUMS"
"""The plots' checksums, in ``plots/``, in the format of ``sha256sum``."""
FORMATS = ("png", "svg")


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (a reader never sees half a file)."""
    write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def _clear_plots(folder: Path) -> None:
    """Remove figures of an earlier report: a plot no longer linked must not linger."""
    for old in (folder / leaderboard.PLOTS).glob("*"):
        if old.suffix in (".png", ".svg"):
            with contextlib.suppress(FileNotFoundError):  # a concurrent report removed it first
                old.unlink()


def report_board(
    out_dir: str | Path,
    *,
    last: int = 1,
    fmt: str = "png",
    rank_by: str = "auc",
    phases: Phases = quiet,
) -> leaderboard.Leaderboard:
    """The leaderboard of a results store, named after its folder."""
    out_dir = Path(out_dir)
    with phases("loading runs"):
        run_set = analysis.from_store(out_dir)
    with phases("statistics"):
        return leaderboard.build(run_set, name=out_dir.name, last=last, fmt=fmt, rank_by=rank_by)


def _draw(board: leaderboard.Leaderboard, folder: Path, phases: Phases) -> list[Path]:
    """Draw a board's plots under ``folder`` as one counted phase."""
    with phases("plots", leaderboard.plot_count(board)) as advance:
        return leaderboard.draw(board, folder, advance)


def write_report(
    out_dir: str | Path, board: leaderboard.Leaderboard, *, phases: Phases = quiet
) -> Path:
    """Write ``OUT/report/leaderboard.md`` and its plots; returns the markdown's path."""
    folder = Path(out_dir) / REPORT
    folder.mkdir(exist_ok=True)
    _clear_plots(folder)
    _draw(board, folder, phases)
    path = folder / MARKDOWN
    with phases("writing"):
        write_text(path, leaderboard.markdown(board, raw_links=False))
    return path


def make_report(
    out_dir: str | Path,
    *,
    last: int = 1,
    fmt: str = "png",
    rank_by: str = "auc",
    phases: Phases = quiet,
) -> Path:
    """Report on a results store into ``OUT/report/`` (markdown + plots); returns the markdown."""
    board = report_board(out_dir, last=last, fmt=fmt, rank_by=rank_by, phases=phases)
    return write_report(out_dir, board, phases=phases)


def default_name(run_set: RunSet, out: Path) -> str:
    """The suite's name when the store holds one suite, else the store folder's name."""
    suites = {str(r["spec"].get("suite") or "") for r in run_set.records}
    return suites.pop() if len(suites) == 1 and "" not in suites else out.resolve().name


def publish(
    out: str | Path,
    target: str | Path,
    *,
    name: str | None = None,
    last: int = 1,
    fmt: str = "png",
    rank_by: str = "auc",
    phases: Phases = quiet,
) -> Path:
    """Publish a store as ``target/<name>/`` (markdown, plots, raw runs) and re-index ``target``."""
    out, target = Path(out), Path(target)
    with phases("loading runs"):
        run_set = analysis.from_store(out)
    name = name or default_name(run_set, out)
    if not _NAME.match(name):
        raise ZobenchError(
            f"leaderboard name {name!r}: use letters, digits, '.', '_' and '-' (pass --name)"
        )
    made_with = _valid_options({"name": name, "last": last, "format": fmt, "rank_by": rank_by})
    folder = target / name
    raw = folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    with phases("writing raw runs"):
        records, curves = analysis.compact(run_set)
        write_text(raw / analysis.RAW_RUNS, json.dumps(records, indent=1, sort_keys=True) + "\n")
        write_atomic(raw / analysis.RAW_CURVES, curves.write_parquet)
        write_text(raw / OPTIONS, json.dumps(made_with, sort_keys=True) + "\n")
    return render(folder, phases=phases)


def render(folder: Path, *, phases: Phases = quiet) -> Path:
    """(Re-)render a published folder from its raw runs and options; re-index its parent.

    Publishing ends here, and ``zobench leaderboard --republish`` calls it alone, so a change
    of the board's format reaches every published board without re-running anything.
    """
    with phases("statistics"):
        board = _board(folder)  # rendered from the published copy, as `--check` re-derives it
    _clear_plots(folder)
    written = _draw(board, folder, phases)
    with phases("writing"):
        sums = "".join(f"{_sha256(p)}  {p.name}\n" for p in sorted(written))
        write_text(folder / leaderboard.PLOTS / CHECKSUMS, sums)
        write_text(folder / MARKDOWN, leaderboard.markdown(board))
        write_text(folder.parent / INDEX, index(folder.parent))
    return folder / MARKDOWN


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _valid_options(made_with: Any) -> dict[str, Any]:
    """Options of a published board checked field by field; one clear line when they are bad."""
    if not isinstance(made_with, dict):
        raise ValueError("not a JSON object")
    unknown = sorted(set(made_with) - {"name", "last", "format", "rank_by"})
    if unknown:
        raise ValueError(f"unknown option '{unknown[0]}'")
    name, last = made_with.get("name"), made_with.get("last", 1)
    fmt, rank_by = made_with.get("format", "png"), made_with.get("rank_by", "auc")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name {name!r} is not a leaderboard name")
    if not isinstance(last, int) or isinstance(last, bool) or not 1 <= last <= 10**6:
        raise ValueError(f"last {last!r} is not a whole number from 1")
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    if not isinstance(rank_by, str):
        raise ValueError(f"rank_by {rank_by!r} is not text")
    budgets.parse_rank_by(rank_by)
    return {"name": name, "last": last, "format": fmt, "rank_by": rank_by}


def options(folder: Path) -> dict[str, Any]:
    """How a published leaderboard was made (name, last k, plot format, rank_by).

    Defaults when ``raw/options.json`` is absent; a :class:`ZobenchError` naming the file when
    it is unreadable or malformed (a hostile folder must not crash the check).
    """
    path = folder / "raw" / OPTIONS
    if not path.exists():
        return {"name": folder.name, "last": 1, "format": "png", "rank_by": "auc"}
    try:
        return _valid_options(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, RecursionError) as exc:
        raise ZobenchError(f"{path}: bad leaderboard options ({exc})") from None


def _board(folder: Path) -> leaderboard.Leaderboard:
    made_with = options(folder)
    return leaderboard.build(
        analysis.from_published(folder),
        name=made_with["name"],
        last=made_with["last"],
        fmt=made_with["format"],
        rank_by=made_with["rank_by"],
    )


def published_folders(target: Path) -> list[Path]:
    """The published leaderboards directly under ``target``, sorted by name."""
    if not target.is_dir():
        return []
    return sorted(p for p in target.iterdir() if p.is_dir() and analysis.is_published(p))


def index(target: Path) -> str:
    """The index page of a leaderboards folder: one line per published leaderboard."""
    lines = [
        "# zobench leaderboards",
        "",
        "Published with `zobench leaderboard OUT --out leaderboards/`; check that each still "
        "matches its raw runs with `zobench leaderboard --check leaderboards/`.",
        "",
    ]
    if (target / CLAIMS).is_file():
        lines += [
            f"Claim by claim, what the leaderboards below say of the papers: [{REPRODUCTION}]"
            f"({REPRODUCTION}) (written by `zobench claims` from [{CLAIMS}]({CLAIMS})).",
            "",
        ]
    folders = published_folders(target)
    if not folders:
        return "\n".join([*lines, "No leaderboard is published yet."]) + "\n"
    lines += ["| leaderboard | groups | entries | runs | computed |", "|---|---:|---:|---:|---|"]
    for folder in folders:
        records = json.loads((folder / "raw" / analysis.RAW_RUNS).read_text(encoding="utf-8"))
        groups = {
            json.dumps(
                [r["spec"].get(k) for k in ("environment", "preference", "topology")],
                sort_keys=True,
            )
            for r in records
        }
        entries = analysis.entry_names(tuple(records))
        dates = sorted(r.get("timings", {}).get("started_at", "")[:10] for r in records)
        dates = [d for d in dates if d]
        span = (
            "" if not dates else dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
        )
        name = leaderboard.escape(options(folder)["name"])
        lines.append(
            f"| [{name}]({folder.name}/{MARKDOWN}) | {len(groups)} | {len(entries)} "
            f"| {len(records)} | {span} |"
        )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Mismatch:
    """A published file that differs from what its raw runs give, and where."""

    path: Path
    line: int
    expected: str
    found: str

    def summary(self) -> str:
        """One line: file, line number, and both versions of the line (shortened)."""

        def cut(text: str) -> str:
            return text if len(text) <= 70 else text[:67] + "..."

        return (
            f"{self.path}: line {self.line} differs from its raw runs: "
            f"expected {cut(self.expected)!r}, found {cut(self.found)!r}"
        )


def compare_text(path: Path, expected: str) -> Mismatch | None:
    """The first line where ``path`` differs from ``expected``, or None when they are equal."""
    try:
        found = path.read_text(encoding="utf-8")
    except OSError:
        return Mismatch(path, 0, "the file", "nothing")
    if found == expected:
        return None
    ours, theirs = expected.splitlines(), found.splitlines()
    for number, (a, b) in enumerate(zip(ours, theirs, strict=False), 1):
        if a != b:
            return Mismatch(path, number, a, b)
    line = min(len(ours), len(theirs)) + 1
    longer = ours if len(ours) > len(theirs) else theirs
    missing = longer[line - 1] if line <= len(longer) else ""
    if len(ours) > len(theirs):
        return Mismatch(path, line, missing, "end of file")
    return Mismatch(path, line, "end of file", missing)


def check(target: str | Path, *, phases: Phases = quiet) -> list[Mismatch]:
    """Re-derive the markdown of a published folder (or of every one under it) and compare.

    Also checks the index of a folder of leaderboards, that every local link resolves and
    that every plot has the hash recorded when it was published.
    """
    target = Path(target)
    if not target.is_dir():
        raise ZobenchError(f"{target}: no such folder")
    single = analysis.is_published(target)
    folders = [target] if single else published_folders(target)
    if not folders:
        raise ZobenchError(f"{target}: no published leaderboard (no */raw/runs.json) inside")
    problems = []
    with phases("re-deriving boards", len(folders)) as advance:
        for folder in folders:
            mismatch = _check_board(folder)
            if mismatch is not None:
                problems.append(mismatch)
            advance()
    if not single:
        mismatch = compare_text(target / INDEX, index(target))
        if mismatch is not None:
            problems.append(mismatch)
    return problems


def _check_board(folder: Path) -> Mismatch | None:
    """The first difference between a published board and what its raw runs give, if any."""
    text = leaderboard.markdown(_board(folder))
    mismatch = compare_text(folder / MARKDOWN, text)
    if mismatch is None:
        missing = [link for link in links(text) if not (folder / link).exists()]
        if missing:
            mismatch = Mismatch(folder / MARKDOWN, 0, f"a file at {missing[0]}", "none")
    if mismatch is None:
        mismatch = _check_plots(folder, text)
    return mismatch


def _check_plots(folder: Path, text: str) -> Mismatch | None:
    """The first plot whose bytes differ from its recorded sha256, or that is not recorded."""
    sums_path = folder / leaderboard.PLOTS / CHECKSUMS
    try:
        lines = sums_path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return Mismatch(sums_path, 0, "the plots' checksums", "nothing")
    recorded = {}
    for line in lines:
        digest, _, name = line.partition("  ")
        recorded[name] = digest
    linked = sorted({link for link in links(text) if link.startswith(f"{leaderboard.PLOTS}/")})
    for number, link in enumerate(linked, 1):
        name = link.split("/", 1)[1]
        digest = _sha256(folder / link)
        if recorded.get(name) != digest:
            expected = f"{name} with sha256 {(recorded.get(name) or 'unrecorded')[:12]}"
            return Mismatch(sums_path, number, expected, f"sha256 {digest[:12]}")
    return None


def links(text: str) -> list[str]:
    """The relative link targets of a markdown text (images included), in order.

    A bracket escaped by :func:`leaderboard.escape` (``\\]``) closes no link text: a label
    like ``](javascript:x)`` is text, not a link to check.
    """
    return [t for t in re.findall(r"(?<!\\)\]\(([^)\s]+)\)", text) if "://" not in t]
