"""Text of a leaderboard: plugin names made inert, file-name stems, numbers and titles.

Pure functions of their arguments, shared by the markdown, the plots' file names, the claims
report and the command line.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from typing import Any

import numpy as np

from zobench.report import analysis
from zobench.report.analysis import EntryStats


def escape(text: Any) -> str:
    """Plugin-provided text made inert in markdown: no tables broken, links, code or HTML.

    HTML metacharacters become entities first; then every markdown metacharacter gets a
    backslash (``&`` of the entities excepted); line breaks become spaces. Parentheses and
    dashes stay: without an unescaped ``]`` before them they link nothing, and no escaped
    text starts a line.
    """
    text = " ".join(str(text).split())
    text = html.escape(text, quote=False)  # & < > → entities
    return re.sub(r"([\\`*_{}\[\]#!|~])", r"\\\1", text)


def slug(text: str, key: str | None = None) -> str:
    """A safe file-name stem: lowercase words of ``text`` plus a short hash of ``key`` (or text).

    The hash keeps stems unique when two names differ only in characters the words drop.
    """
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:120].strip("-")
    digest = hashlib.sha256((text if key is None else key).encode()).hexdigest()[:6]
    return f"{words}-{digest}" if words else digest


def decimals(kind: str, entries: list[EntryStats]) -> int:
    """Decimals for a group's scores: 3 when normalized, else 4 significant digits of the largest.

    One count per group keeps a column aligned and comparable (``3.660``, not ``3.66``).
    """
    largest = max((float(np.max(np.abs(e.values))) for e in entries), default=0.0)
    if kind == "normalized" or largest == 0 or not math.isfinite(largest):
        return 3
    return min(6, max(0, 3 - math.floor(math.log10(largest))))


def number(value: float, places: int) -> str:
    """A score with ``places`` decimals (never ``-0.000``)."""
    text = f"{value:.{places}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def group_title(task: dict[str, Any]) -> str:
    """A group's plain-text title: component names joined by ``·``, then its task settings.

    A setting the group's runs do not have (``None``: another environment's size, in a board
    of several) does not apply to the group and is left out.
    """
    names = [str(task[c]) for c in analysis.GROUP_NAMES if task.get(c) is not None]
    settings = [
        f"{k}={analysis.setting_text(v)}" for k, v in task.items() if "." in k and v is not None
    ]
    return " · ".join(names) + (f" ({', '.join(settings)})" if settings else "")


def scale_text(kind: str, *, approximate: bool = False) -> str:
    """What a group's scores are: normalized (against an exact or approximate optimum), or raw."""
    if kind == "normalized" and approximate:
        return (
            "normalized score (0 = uniform policy, 1 = the Monte Carlo value of the "
            "environment's reference policy: an approximate optimum, which a learner can exceed)"
        )
    if kind == "normalized":
        return "normalized score (0 = uniform policy, 1 = optimal policy)"
    return "raw score (no reference to normalize by in this group)"


def natural_key(text: str) -> list[tuple[int, float, str]]:
    """Sort key reading numbers as numbers: ``pairs=5`` before ``pairs=40``."""
    parts = re.split(r"(-?\d+(?:\.\d+)?)", text)
    return [(0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts) if p]
