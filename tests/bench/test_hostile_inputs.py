"""Hostile inputs: names that are paths, grids that explode, integers beyond 64 bits, deep nesting,
results folders that cannot be written. Each ends as one ``Error:`` line with exit code 2, fast,
without large memory, and without touching anything outside the results folder."""

from __future__ import annotations

import json
import math
import os
import time
import tracemalloc
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zobench.bench.suite import MAX_DEPTH, MAX_RUNS, SUITE_NAME
from zobench.cli import cli
from zobench.plugins import PluginLoadWarning

SUITE = """
name = {name}
seeds = {seeds}
iterations = {iterations}
eval_every = 2
eval_episodes = 16
environment = {{ name = "gridworld", size = 3, goal = [2, 2], horizon = 6 }}
preference = {{ name = "bradley-terry" }}

[[algorithm]]
name = "zpg"
pairs = {pairs}
{grid}
"""

FAST_S = 3.0
"""A refusal takes milliseconds; before counting came first, a 1000×1000 grid took 13 s."""
SMALL_BYTES = 30 * 2**20
"""Peak Python memory a refusal may take (the 1000×1000 grid took 369 MB)."""

hypothesis_settings = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def suite_text(
    *,
    name: str = "hostile",
    seeds: object = 1,
    iterations: object = 4,
    pairs: object = 4,
    grid: dict[str, list] | None = None,
) -> str:
    """A small valid suite with the given pieces swapped in (values written as TOML literals)."""
    lines = "\n".join(f"{key} = {json.dumps(values)}" for key, values in (grid or {}).items())
    return SUITE.format(
        name=json.dumps(name),
        seeds=json.dumps(seeds),
        iterations=json.dumps(iterations),
        pairs=json.dumps(pairs),
        grid=f"[algorithm.grid]\n{lines}" if grid else "",
    )


@pytest.fixture
def refuse(clean_plugin_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    """Run ``zobench ARGS`` on a suite text in a scratch folder; assert one line, exit 2, fast."""
    monkeypatch.chdir(tmp_path)

    def run(text: str, *args: str, command: str = "run") -> str:
        path = tmp_path / "suite.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        before = set(tmp_path.rglob("*"))
        tracemalloc.start()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PluginLoadWarning)
            result = CliRunner().invoke(cli, [command, str(path), *args], catch_exceptions=True)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        lines = result.output.splitlines()
        assert result.exit_code == 2, result.output + repr(result.exception)
        assert len(lines) == 1, result.output
        assert lines[0].startswith("Error: ")
        assert elapsed < FAST_S, f"{elapsed:.1f} s"
        assert peak < SMALL_BYTES, f"{peak / 2**20:.0f} MB"
        assert set(tmp_path.rglob("*")) == before, "a refused suite created files"
        return lines[0]

    return run


hostile_names = st.one_of(
    st.sampled_from(["../../x", "/tmp/abs", "a/b", "a\\b", ".hidden", "", "a\x00b", "x" * 300]),
    st.text(max_size=120).filter(lambda name: not SUITE_NAME.fullmatch(name)),
)


@settings(hypothesis_settings, max_examples=20)
@given(name=hostile_names)
def test_hostile_suite_names_are_refused_before_anything_is_written(
    refuse: object, name: str
) -> None:
    line = refuse(suite_text(name=name))
    assert "is not a suite name" in line or "invalid TOML" in line  # lone surrogates: not TOML


@pytest.mark.parametrize("name", ["a", "quickstart", "zpg-gridworld.v2", "A_1", "x" * 100])
def test_ordinary_names_are_accepted(clean_plugin_env: None, name: str) -> None:
    from zobench.bench.suite import parse_suite

    assert parse_suite(suite_text(name=name)).name == name


@st.composite
def huge_grids(draw: st.DrawFn) -> tuple[int, dict[str, list]]:
    """Seeds and two or three grid axes whose product passes the run limit (each at most 2,000)."""
    seeds = draw(st.integers(1, 50))
    lengths = draw(
        st.lists(st.integers(317, 2000), min_size=2, max_size=2)  # 317² > MAX_RUNS
        | st.lists(st.integers(47, 300), min_size=3, max_size=3)  # 47³ > MAX_RUNS
    )
    assert math.prod(lengths) > MAX_RUNS
    axes = ["pairs", "evaluators", "mu"][: len(lengths)]
    grid = {
        axis: [i + 1 if axis != "mu" else 0.001 * (i + 1) for i in range(n)]
        for axis, n in zip(axes, lengths, strict=True)
    }
    return seeds, grid


@pytest.mark.slow
@settings(hypothesis_settings, max_examples=12)
@given(case=huge_grids())
def test_huge_grids_are_refused_at_once_by_counting(refuse: object, case: tuple) -> None:
    seeds, grid = case
    text = suite_text(seeds=seeds, grid=grid).replace("pairs = 4\n", "")
    line = refuse(text, command="validate")
    assert "runs, more than the limit of 100,000" in line


huge_integers = st.one_of(st.integers(min_value=2**63), st.integers(max_value=-(2**63) - 1)).map(
    int
)


@hypothesis_settings
@given(value=huge_integers, where=st.sampled_from(["seeds", "seed-list", "pairs", "grid"]))
def test_integers_beyond_64_bits_are_refused_with_their_path(
    refuse: object, value: int, where: str
) -> None:
    text = {
        "seeds": suite_text(seeds=value),
        "seed-list": suite_text(seeds=[0, value]),
        "pairs": suite_text(pairs=value),
        "grid": suite_text(grid={"evaluators": [3, value]}),
    }[where]
    line = refuse(text, command="validate")
    path = {
        "seeds": "seeds",
        "seed-list": "seeds[1]",
        "pairs": "algorithm[0].pairs",
        "grid": "algorithm[0].grid.evaluators[1]",
    }[where]
    if where == "seeds" and value > 0:
        assert "runs, more than the limit" in line  # counted before anything else
    elif where == "seeds":
        assert line.startswith("Error: seeds:")
    else:
        assert line.startswith(f"Error: {path}: ")
        assert "64-bit" in line or "must be between" in line


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seeds": [0, -1]}, "seeds[1]: must be between 0 and 2**63 - 1"),
        ({"iterations": 10**10}, "iterations: must be between 1 and 1,000,000,000"),
        ({"iterations": 0}, "iterations: must be between 1"),
        ({"seeds": 0}, "seeds: must be at least 1"),
    ],
)
def test_out_of_range_settings_name_their_path(refuse: object, change: dict, message: str) -> None:
    assert message in refuse(suite_text(**change), command="validate")


@pytest.mark.parametrize("timeout", ["-1", "1e300", "inf"])
def test_out_of_range_timeouts_are_refused(refuse: object, timeout: str) -> None:
    text = suite_text().replace("eval_every = 2\n", f"eval_every = 2\ntimeout = {timeout}\n")
    assert refuse(text, command="validate").startswith("Error: timeout: must be")


def test_integer_literals_too_long_to_convert_are_one_line(refuse: object) -> None:
    text = suite_text().replace("seeds = 1", "seeds = 1" + "0" * 5000)
    assert "invalid TOML" in refuse(text, command="validate")


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100, 5000])
def test_deep_nesting_is_one_line(refuse: object, depth: int) -> None:
    text = suite_text() + "\n[extra]\nx = " + "[" * depth + "]" * depth + "\n"
    line = refuse(text, command="validate")
    assert "nested" in line


def test_a_suite_file_too_large_is_refused_unread(refuse: object, tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    with big.open("wb") as handle:
        handle.truncate(17 * 2**20)  # sparse: no memory, no disk
    result = CliRunner().invoke(cli, ["validate", str(big)])
    assert result.exit_code == 2
    assert result.output.startswith("Error: ")
    assert "MiB" in result.output


def _unwritable_targets(tmp_path: Path) -> list[tuple[Path, str]]:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    targets = [
        (a_file, "exists and is not a folder"),
        (a_file / "below", "cannot write results to"),
        (Path("/proc/zobench-results"), "cannot write results to"),
    ]
    if os.geteuid() != 0:  # root writes into read-only folders regardless
        read_only = tmp_path / "read-only"
        read_only.mkdir(mode=0o500)
        targets.append((read_only, "Permission denied"))
    return targets


def test_results_folders_that_cannot_be_written_are_one_line(
    clean_plugin_env: None, tmp_path: Path
) -> None:
    path = tmp_path / "suite.toml"
    path.write_text(suite_text(), encoding="utf-8")
    for out, message in _unwritable_targets(tmp_path):
        result = CliRunner().invoke(cli, ["run", str(path), "--out", str(out), "--jobs", "1"])
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1
        assert result.output.startswith("Error: ")
        assert message in result.output


def test_the_default_results_folder_is_results_slash_name(
    clean_plugin_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "suite.toml").write_text(suite_text(name="safe.name"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", "suite.toml", "--executor", "serial"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "suite.toml"]
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["safe.name"]
