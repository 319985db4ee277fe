"""The leaderboards published in this repository: current, complete, and what the suites produce.

``zobench leaderboard --check leaderboards/`` runs here, so CI fails when a published markdown,
the index or ``REPRODUCTION.md`` no longer matches its raw runs (a hand edit, or a change to the
report code without republishing). The other tests tie the published runs to the built-in
suites: a suite changed without re-running and republishing it is caught too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from zobench.bench.identity import identify
from zobench.bench.suite import load_suite
from zobench.cli import cli
from zobench.report import claims

LEADERBOARDS = Path(__file__).resolve().parents[1] / "leaderboards"
UNPUBLISHED: set[str] = set()
"""Paper suites added since the last publication, published with the next re-run (issue 20,
item 3): remove a suite from here when its board is published."""
PAPER_SUITES = sorted(
    p.stem
    for p in (Path(__file__).resolve().parents[1] / "plugins/zobench_plugins/suites").glob("*.toml")
    if p.stem != "quickstart" and p.stem not in UNPUBLISHED
)
CLAIM_IDS = [f"Z{i}" for i in range(1, 4)] + [f"D{i}" for i in range(1, 11)]


@pytest.mark.slow
def test_published_markdown_matches_its_raw_runs() -> None:
    result = CliRunner().invoke(cli, ["leaderboard", "--check", str(LEADERBOARDS)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", PAPER_SUITES)
def test_every_paper_suite_is_published_from_exactly_its_runs(name: str) -> None:
    runs = LEADERBOARDS / name / "raw" / "runs.json"
    assert runs.is_file(), f"{name} is not published: zobench run {name}; zobench leaderboard"
    published = json.loads(runs.read_text(encoding="utf-8"))

    # What a run computed: its resolved configuration (every setting, defaults included), as
    # recorded when it was published. Not the run id: that also fingerprints the code, and a
    # code change must not force republishing every board. A setting added to a component since
    # publication is left out of the comparison: a new setting's default reproduces the
    # behaviour from before it existed, and the pinned suites leave new settings at their default.
    known = {
        (field, r["resolved"][field]["name"]): set(r["resolved"][field]["params"])
        for r in published
        for field in ("algorithm", "environment", "preference", "topology")
    }

    def as_published(resolved: dict) -> str:
        restricted = dict(resolved)
        for field in ("algorithm", "environment", "preference", "topology"):
            entry = resolved[field]
            keys = known.get((field, entry["name"]), set(entry["params"]))
            restricted[field] = {
                "name": entry["name"],
                "params": {k: v for k, v in entry["params"].items() if k in keys},
            }
        return json.dumps(restricted, sort_keys=True)

    suite = load_suite(name)
    expected = {as_published(identify(spec).resolved) for spec in suite.runs()}
    assert {json.dumps(r["resolved"], sort_keys=True) for r in published} == expected
    assert {r["spec"]["suite"] for r in published} == {suite.name}
    assert all(r["status"] == "done" for r in published)


@pytest.mark.parametrize("name", sorted(UNPUBLISHED))
def test_a_suite_waiting_for_publication_is_not_published_yet(name: str) -> None:
    load_suite(name)  # it exists
    assert not (LEADERBOARDS / name).exists(), f"{name} is published: remove it from UNPUBLISHED"


def test_every_claim_of_both_papers_has_a_verdict() -> None:
    _, results = claims.evaluate(LEADERBOARDS)
    assert [r.claim.id for r in results] == CLAIM_IDS
    # A verdict short of "reproduced" must say why (issue: a sentence of discussion).
    for result in results:
        if result.verdict != "reproduced":
            assert result.claim.discussion.strip(), f"{result.claim.id} has no discussion"


def test_readme_links_the_reproduction_report() -> None:
    readme = (LEADERBOARDS.parent / "README.md").read_text(encoding="utf-8")
    assert "leaderboards/REPRODUCTION.md" in readme
    assert (LEADERBOARDS / claims.REPRODUCTION).is_file()
