"""Reports, published leaderboards, their index, and the check that they match their raw runs.

A published leaderboard is a folder ``<leaderboards>/<name>/``::

    leaderboard.md          the markdown (see :mod:`zobench.report.leaderboard`)
    plots/*.png             the figures it links to
    raw/runs.json           the runs' manifest records (spec, timings, provenance; no tracebacks)
    raw/curves.parquet      their learning curves (the runner's rows, keyed by run_id)
    raw/options.json        how the markdown was made (name, last k, plot format)

``<leaderboards>/README.md`` indexes every published folder. ``check`` re-derives each markdown
(and the index) from the raw files alone and reports the first difference.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zobench.bench.store import write_atomic
from zobench.errors import ZobenchError
from zobench.report import analysis, leaderboard
from zobench.report.analysis import RunSet

MARKDOWN = "leaderboard.md"
INDEX = "README.md"
CLAIMS, REPRODUCTION = "claims.toml", "REPRODUCTION.md"
"""A leaderboards folder's papers' claims and the report derived from them (:mod:`.claims`)."""
OPTIONS = "options.json"
REPORT = "report"
"""The report folder inside a results store."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


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
    out_dir: str | Path, *, last: int = 1, fmt: str = "png"
) -> leaderboard.Leaderboard:
    """The leaderboard of a results store, named after its folder."""
    out_dir = Path(out_dir)
    return leaderboard.build(analysis.from_store(out_dir), name=out_dir.name, last=last, fmt=fmt)


def write_report(out_dir: str | Path, board: leaderboard.Leaderboard) -> Path:
    """Write ``OUT/report/leaderboard.md`` and its plots; returns the markdown's path."""
    folder = Path(out_dir) / REPORT
    folder.mkdir(exist_ok=True)
    _clear_plots(folder)
    leaderboard.draw(board, folder)
    path = folder / MARKDOWN
    write_text(path, leaderboard.markdown(board, raw_links=False))
    return path


def make_report(out_dir: str | Path, *, last: int = 1, fmt: str = "png") -> Path:
    """Report on a results store into ``OUT/report/`` (markdown + plots); returns the markdown."""
    return write_report(out_dir, report_board(out_dir, last=last, fmt=fmt))


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
) -> Path:
    """Publish a store as ``target/<name>/`` (markdown, plots, raw runs) and re-index ``target``."""
    out, target = Path(out), Path(target)
    run_set = analysis.from_store(out)
    name = name or default_name(run_set, out)
    if not _NAME.match(name):
        raise ZobenchError(
            f"leaderboard name {name!r}: use letters, digits, '.', '_' and '-' (pass --name)"
        )
    folder = target / name
    raw = folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    records, curves = analysis.compact(run_set)
    write_text(raw / analysis.RAW_RUNS, json.dumps(records, indent=1, sort_keys=True) + "\n")
    write_atomic(raw / analysis.RAW_CURVES, curves.write_parquet)
    made_with = {"name": name, "last": last, "format": fmt}
    write_text(raw / OPTIONS, json.dumps(made_with, sort_keys=True) + "\n")
    # Rendered from the published copy, exactly as `--check` will re-derive it.
    board = _board(folder)
    _clear_plots(folder)
    leaderboard.draw(board, folder)
    write_text(folder / MARKDOWN, leaderboard.markdown(board))
    write_text(target / INDEX, index(target))
    return folder / MARKDOWN


def options(folder: Path) -> dict[str, Any]:
    """How a published leaderboard was made (name, last k, plot format), with defaults."""
    try:
        return json.loads((folder / "raw" / OPTIONS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"name": folder.name, "last": 1, "format": "png"}


def _board(folder: Path) -> leaderboard.Leaderboard:
    made_with = options(folder)
    return leaderboard.build(
        analysis.from_published(folder),
        name=made_with["name"],
        last=int(made_with["last"]),
        fmt=made_with["format"],
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


def check(target: str | Path) -> list[Mismatch]:
    """Re-derive the markdown of a published folder (or of every one under it) and compare.

    Also checks the index of a folder of leaderboards, and that every local link resolves.
    """
    target = Path(target)
    if not target.is_dir():
        raise ZobenchError(f"{target}: no such folder")
    single = analysis.is_published(target)
    folders = [target] if single else published_folders(target)
    if not folders:
        raise ZobenchError(f"{target}: no published leaderboard (no */raw/runs.json) inside")
    problems = []
    for folder in folders:
        text = leaderboard.markdown(_board(folder))
        mismatch = compare_text(folder / MARKDOWN, text)
        if mismatch is None:
            missing = [link for link in links(text) if not (folder / link).exists()]
            if missing:
                mismatch = Mismatch(folder / MARKDOWN, 0, f"a file at {missing[0]}", "none")
        if mismatch is not None:
            problems.append(mismatch)
    if not single:
        mismatch = compare_text(target / INDEX, index(target))
        if mismatch is not None:
            problems.append(mismatch)
    return problems


def links(text: str) -> list[str]:
    """The relative link targets of a markdown text (images included), in order."""
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in t]
