"""docs/algorithms.md stays the true reference of every built-in component.

Every built-in algorithm, environment, preference model and topology has a section whose anchor
is its name; every Config field appears in that section's table with the default and the
provenance (``param(..., source=...)``) the code declares, and the table names no field the
code lacks. Every anchor of the reference cited anywhere in the repository resolves, and
nothing cites sections of the founders' planning document (:data:`PLANNING_CITATION`), which
the repository does not hold.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import subprocess
from pathlib import Path

import pytest

from zobench import api
from zobench.plugins import get_host

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "algorithms.md"
DOCUMENTED_KINDS = ("algorithm", "environment", "preference", "topology")
SHARED_PREFERENCE_SECTION = "preference-models"
"""The section whose table documents the settings every preference model shares."""
PLANNING_CITATION = "spec \u00a7"
"""How the code once cited the founders' planning document (written escaped so this file does not
match a search for it)."""


def _anchor(heading: str) -> str:
    """GitHub's anchor of a markdown heading: lower case, punctuation dropped, spaces → dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _sections() -> dict[str, str]:
    """Anchor → the text under that heading, up to the next heading of any level."""
    sections: dict[str, str] = {}
    current: str | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            current = _anchor(line.lstrip("#"))
            sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
    return sections


def _table(text: str) -> dict[str, tuple[str, str]]:
    """The settings table of a section: field → (default cell, source cell)."""
    rows: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`") and cells[0].endswith("`"):
            rows[cells[0].strip("`")] = (cells[1], cells[2])
    return rows


def _builtins() -> list[tuple[str, str, type]]:
    """(kind, name, class) of every component the built-in plugins register, in a stable order."""
    return sorted(
        (r.kind, r.name, r.obj)
        for r in get_host().components()
        if r.kind in DOCUMENTED_KINDS
        and r.obj.__module__.startswith("zobench_plugins.")
        and ":" not in r.name  # a family member (gym:<EnvId>) is documented by its family
    )


def _shown(default: object) -> str:
    """A default as the tables write it: ``str`` of the value (strings without quotes)."""
    return str(default)


def _cell_value(cell: str) -> str:
    return cell.strip().strip("`").strip('"')


def test_every_builtin_component_is_documented_under_its_own_anchor():
    sections = _sections()
    missing = [f"{kind} {name}" for kind, name, _ in _builtins() if name not in sections]
    assert not missing, f"docs/algorithms.md has no '### name' section for: {missing}"
    assert len(_builtins()) >= 25  # 10 algorithms, 4 environments, 6 links, 9 topologies


@pytest.mark.parametrize(
    ("kind", "name", "cls"), _builtins(), ids=[f"{k}:{n}" for k, n, _ in _builtins()]
)
def test_every_setting_has_the_documented_default_and_source(kind, name, cls):
    sections = _sections()
    own = _table(sections.get(name, ""))
    shared = _table(sections[SHARED_PREFERENCE_SECTION]) if kind == "preference" else {}
    fields = dataclasses.fields(cls.Config)
    for field in fields:
        table = shared if field.name in shared and field.name not in own else own
        assert field.name in table, f"{name}: setting `{field.name}` is missing from its table"
        default_cell, source_cell = table[field.name]
        default = field.default if field.default is not dataclasses.MISSING else None
        assert _cell_value(default_cell) == _shown(default), (
            f"{name}.{field.name}: the doc says {default_cell}, the code's default is {default!r}"
        )
        assert source_cell == field.metadata["source"], (
            f"{name}.{field.name}: the doc says source {source_cell}, the code says "
            f"{field.metadata['source']}"
        )
    stale = set(own) - {f.name for f in fields}
    assert not stale, f"{name}: the doc's table lists settings the code lacks: {sorted(stale)}"


def test_the_shared_preference_table_matches_the_preference_config():
    table = _table(_sections()[SHARED_PREFERENCE_SECTION])
    assert set(table) == {f.name for f in dataclasses.fields(api.PreferenceConfig)}


def test_gymnasium_defaults_are_labelled_as_the_librarys():
    pytest.importorskip("gymnasium")
    from zobench_plugins.environments.gym_adapter import resolve_env

    fields = {f.name: f for f in dataclasses.fields(resolve_env("FrozenLake-v1").Config)}
    assert fields["is_slippery"].metadata["source"] == "library"
    assert fields["horizon"].metadata["source"] == "library"  # TimeLimit's max_episode_steps
    assert fields["horizon"].default == 100


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    suffixes = {".py", ".md", ".toml", ".tmpl", ".txt", ".cfg", ".ini", ".yml", ".yaml"}
    return [ROOT / p for p in listed if Path(p).suffix in suffixes and (ROOT / p).is_file()]


def test_every_citation_of_the_reference_resolves_and_no_spec_section_is_cited():
    anchors = set(_sections())
    cited: set[tuple[str, str]] = set()
    planning = []
    for path in _tracked_text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for anchor in re.findall(r"algorithms\.md#([\w\-]+)", text):
            cited.add((str(path.relative_to(ROOT)), anchor))
        if PLANNING_CITATION in text:
            planning.append(str(path.relative_to(ROOT)))
    assert len(cited) > 20, "the code should cite the reference by anchor"
    unresolved = sorted((p, a) for p, a in cited if a not in anchors)
    assert not unresolved, f"citations of docs/algorithms.md with no such anchor: {unresolved}"
    assert not planning, (
        f"'{PLANNING_CITATION}N' cites a document the repository does not hold: {planning}"
    )


def test_every_builtin_algorithm_marks_its_method_as_the_scaffold_template_does():
    template = (ROOT / "zobench" / "scaffold" / "templates" / "algorithm.py.tmpl").read_text()
    assert "# ALGO LOGIC:" in template
    assert "# END ALGO LOGIC" in template
    for kind, name, cls in _builtins():
        if kind != "algorithm":
            continue
        source = Path(inspect.getsourcefile(cls) or "").read_text(encoding="utf-8")
        start, end = source.find("# ALGO LOGIC:"), source.find("# END ALGO LOGIC")
        where = source.find(f"\nclass {cls.__name__}(")
        assert 0 <= start < where < end, f"{name}: its class is not inside an ALGO LOGIC block"
