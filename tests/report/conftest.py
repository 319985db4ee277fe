"""Fixtures of the report tests: a synthetic store and its published leaderboard, made once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from report_helpers import write_synthetic

from zobench.report import publish


@pytest.fixture(scope="session")
def synthetic_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only synthetic store (copy it before writing into it)."""
    return write_synthetic(tmp_path_factory.mktemp("synthetic") / "store")


@pytest.fixture(scope="session")
def published_once(synthetic_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic store published once (plots drawn): the leaderboards folder, read-only."""
    target = tmp_path_factory.mktemp("published") / "leaderboards"
    publish.publish(synthetic_store, target)
    return target


@pytest.fixture
def published(published_once: Path, tmp_path: Path) -> Path:
    """A private copy of the published leaderboards folder, free to edit."""
    return Path(shutil.copytree(published_once, tmp_path / "leaderboards"))
