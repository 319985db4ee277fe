"""Text of a leaderboard: plugin names made inert, file-name stems, numbers and titles.

Pure functions of their arguments, shared by the markdown, the plots' file names, the claims
report and the command line.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections import Counter
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


def scale_text(kind: str, *, reference: str = "exact") -> str:
    """What a group's scores are: normalized (to what, by the group's reference kind), or raw.

    ``reference`` is the group's :func:`reference_text` (or a bare kind).
    """
    if kind != "normalized":
        return "raw score (no reference to normalize by in this group)"
    if reference.startswith("certified bound"):
        return (
            "normalized score (0 = uniform policy, 1 = a certified upper bound on the optimal "
            "value, which no policy exceeds; the optimum lies within the bound's bracket)"
        )
    if reference == "exact":
        return "normalized score (0 = uniform policy, 1 = the exact optimum)"
    if reference == "approximate":
        return (
            "normalized score (0 = uniform policy, 1 = the Monte Carlo value of the "
            "environment's reference policy: an approximate optimum, which a learner can exceed)"
        )
    if reference == "not recorded":
        return (
            "normalized score (0 = uniform policy, 1 = an optimum of a kind the runs do not record)"
        )
    return f"normalized score (0 = uniform policy, 1 = each run's own reference: {reference})"


def reference_text(finals: Any) -> str:
    """The reference of a group of runs (a final-scores frame): what boards say for it.

    ``"exact"``, ``"certified bound [lower, upper]"`` (raw values of J: the mean lower end over
    the runs — the reference policy's Monte Carlo value — and the largest upper bound),
    ``"approximate"``, or, for runs of different kinds, each kind with its count of runs
    (``"mixed: exact (10 runs), approximate (10 runs)"``). ``"not recorded"`` for runs whose
    records say nothing.
    """
    kinds = finals.get_column("ref_kind").fill_null("not recorded")
    counts = {str(k): n for k, n in Counter(kinds.to_list()).items()}
    texts = {}
    for kind in counts:
        text = kind
        if kind == "certified bound" and "ref_optimal" in finals.columns:
            rows = finals.filter(kinds == kind)
            upper = float(rows.get_column("ref_optimal").max())
            lower: list[float] = []
            if "ref_lower" in rows.columns:
                lower = rows.get_column("ref_lower").drop_nulls().to_list()
            low = number(float(np.mean(lower)), 3) if lower else "?"
            text = f"certified bound [{low}, {number(upper, 3)}]"
        texts[kind] = text
    if len(texts) == 1:
        return next(iter(texts.values()))
    order = ["exact", "certified bound", "approximate", "not recorded"]
    parts = sorted(texts, key=lambda k: order.index(k) if k in order else len(order))
    return "mixed: " + ", ".join(f"{texts[k]} ({counts[k]} runs)" for k in parts)


def natural_key(text: str) -> list[tuple[int, float, str]]:
    """Sort key reading numbers as numbers: ``pairs=5`` before ``pairs=40``."""
    parts = re.split(r"(-?\d+(?:\.\d+)?)", text)
    return [(0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts) if p]
