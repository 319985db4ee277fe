"""How the command line shows things: terminal-width tables that never split a word or a number.

Rich wraps every table to the terminal (80 columns when output is piped). Left alone, it splits
names, run ids and numbers across lines; the helpers here keep identifiers and numbers whole
(``no_wrap``) and let only prose shrink, by wrapping at spaces or ending in an ellipsis.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Collection, Iterable, Iterator
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from zobench.progress import Advance, Phases

_REST_ROLE = re.compile(r":[a-z]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`")
_REST_LITERAL = re.compile(r"``([^`]+)``")


def plain(text: str) -> str:
    """Docstring text without reStructuredText markup: ``:class:`~a.B``` → ``B``, ````x```` → ``x``."""
    text = _REST_ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1], text)
    return _REST_LITERAL.sub(r"\1", text)


def format_value(value: Any) -> str:
    """A setting's value as TOML-like text, floats shortened to six significant digits.

    ``1/3`` shows as ``0.333333`` rather than ``0.3333333333333333``; a float stays recognisable
    as a float (``1.0``, not ``1``).
    """
    if isinstance(value, float):
        text = repr(value)
        if len(text) > 9:
            text = f"{value:.6g}"
        return text if any(c in text for c in ".enai") else f"{text}.0"
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return json.dumps(value)


def fitted_table(title: str | None = None, *, show_header: bool = True) -> Table:
    """A compact table (no outer box) whose width follows the terminal's."""
    return Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_header=show_header,
        pad_edge=False,
        expand=False,
    )


def add_whole_column(table: Table, header: str, cells: Iterable[str], **options: Any) -> None:
    """A column whose cells are never split nor cut: names, ids, numbers.

    Its minimum width is its widest cell, so rich takes the room from prose columns instead.
    """
    width = max([cell_len(header), *(cell_len(c) for c in cells)])
    table.add_column(header, no_wrap=True, min_width=width, **options)


def add_prose_column(table: Table, header: str, *, one_line: bool = False) -> None:
    """A column of prose that takes the remaining width: wrapped at spaces, or one line ending
    in an ellipsis when ``one_line``."""
    table.add_column(header, ratio=1, no_wrap=one_line, overflow="ellipsis")


def print_fitted(
    console: Console,
    title: str,
    columns: list[str],
    rows: list[list[str]],
    *,
    required: int,
    numeric: Collection[str] = (),
) -> None:
    """A table of names and numbers that never splits one, whatever the terminal's width.

    Columns after the first ``required`` are dropped from the right until the table fits (the
    markdown report keeps them all); when even the required ones do not fit, each row becomes
    a short block of ``column: value`` lines instead.
    """
    console.print(Text(title, style="bold"))

    def table_of(shown: list[int]) -> Table:
        table = fitted_table()
        for i in shown:
            justify = "right" if columns[i] in numeric else "left"
            add_whole_column(table, columns[i], [row[i] for row in rows], justify=justify)
        for row in rows:
            table.add_row(*(escape(row[i]) for i in shown))
        return table

    def fits(shown: list[int]) -> bool:
        # measured unconstrained: console.measure would clamp the width to the terminal's
        unbounded = console.options.update_width(10**6)
        return Measurement.get(console, unbounded, table_of(shown)).maximum <= console.width

    shown = list(range(len(columns)))
    while len(shown) > required and not fits(shown):
        shown.pop()
    if fits(shown):
        console.print(table_of(shown))
        return
    for row in rows:  # too narrow for a table: one block per row
        console.print(Text(" ".join(row[:2]) if columns[0] == "rank" else row[0], style="bold"))
        first = 2 if columns[0] == "rank" else 1
        for header, cell in zip(columns[first:], row[first:], strict=True):
            console.print(Text(f"    {header}: {cell}"))
    console.print()


SLOW_PHASE_S = 1.0
"""A phase shorter than this is not worth a line in a log."""


@contextlib.contextmanager
def phases(command: str, console: Console | None = None) -> Iterator[Phases]:
    """The steps of a long command shown on stderr: live bars on a terminal, else lines.

    On a terminal a counted phase (plots, boards, claims) shows ``done/total``, the others a
    pulsing bar, each with its time; nothing ever shows ``0/0``. Elsewhere (a log, a pipe)
    each phase that took at least :data:`SLOW_PHASE_S` is one line when it ends, so a quick
    command, or one stopped by a mistake, prints only its result or its one ``Error:`` line.
    """
    console = console or Console(stderr=True)
    if not console.is_terminal:

        @contextlib.contextmanager
        def line(name: str, total: int = 0) -> Iterator[Advance]:
            start = time.perf_counter()
            yield lambda: None
            seconds = time.perf_counter() - start
            if seconds >= SLOW_PHASE_S:
                count = f" ({total})" if total else ""
                console.print(f"{command}: {name}{count} {seconds:.1f} s", highlight=False)

        yield line
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    display = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[count]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,  # the command's own output follows; the steps need not stay
    )

    @contextlib.contextmanager
    def bar(name: str, total: int = 0) -> Iterator[Advance]:
        task = display.add_task(
            f"{command}: {escape(name)}", total=total or None, count=f"0/{total}" if total else ""
        )
        done = 0

        def advance() -> None:
            nonlocal done
            done += 1
            display.update(task, advance=1, count=f"{done}/{total}")

        try:
            yield advance
        finally:
            display.update(task, total=total or 1, completed=total or 1)
            display.stop_task(task)

    with display:
        yield bar
