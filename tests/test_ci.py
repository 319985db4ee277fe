"""CI type-checks the code: mypy comes with the ``test`` extra, is configured in pyproject.toml over
``zobench/`` and ``plugins/``, runs in ``.ci/run`` (which stops at the first failing step), and
nothing silences it wholesale."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_mypy_is_installed_by_the_test_extra_and_configured_for_zobench_and_plugins():
    extra = PYPROJECT["project"]["optional-dependencies"]["test"]
    assert any(re.match(r"mypy\b", requirement) for requirement in extra)
    mypy = PYPROJECT["tool"]["mypy"]
    assert mypy["files"] == ["zobench", "plugins"]
    # no blanket switches: errors are fixed, untyped libraries are named one by one
    assert not {"ignore_errors", "ignore_missing_imports", "follow_imports"} & set(mypy)
    for override in mypy.get("overrides", []):
        assert set(override) <= {"module", "ignore_missing_imports"}, override


def _steps(script: str) -> list[str]:
    return [line.strip() for line in script.splitlines() if line.strip() and line[0] != "#"]


def test_ci_runs_mypy_after_lint_and_before_the_tests_and_stops_on_failure():
    steps = _steps((ROOT / ".ci" / "run").read_text(encoding="utf-8"))
    assert "set -euo pipefail" in steps
    lint, types, tests = (
        steps.index("ruff format --check ."),
        steps.index("mypy"),
        steps.index('eval "$TEST"'),
    )
    assert lint < types < tests


def test_every_type_ignore_names_its_error_code():
    bare = re.compile(r"#\s*type:\s*ignore(?!\[)")
    for folder in ("zobench", "plugins"):
        for path in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                assert not bare.search(line), f"{path}:{number}: a type: ignore without a code"
