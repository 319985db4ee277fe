"""A damaged store: every reader reports the damage, leaves the run out and the next run repairs it.

Each case damages one run of a real four-run store (or adds a stray file) and then checks, with
the real commands: ``runs`` names it damaged with a reason; ``export``, ``report`` and
``leaderboard`` exit 0 with exactly one warning and the right numbers for the other runs; the
next ``run`` recomputes only that run and the store exports as an undamaged one; nothing
outside the store is ever read (a bait file outside holds scores of 999); no traceback anywhere.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from bench_helpers import four_run_suite
from click.testing import CliRunner

from zobench.bench.store import Store, StoreWarning, load
from zobench.cli import cli
from zobench.plugins import PluginLoadWarning
from zobench.report import analysis

SUITE = four_run_suite("damage")
BAIT_SCORE = 999.0


def _invoke(*args: str) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginLoadWarning)
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pl.DataFrame]:
    """A finished four-run store, the suite file, and its export (the right numbers)."""
    root = tmp_path_factory.mktemp("pristine")
    suite = root / "suite.toml"
    suite.write_text(SUITE, encoding="utf-8")
    result = _invoke("run", str(suite), "--out", str(root / "store"), "--executor", "serial")
    assert result.exit_code == 0, result.output
    return root / "store", suite, _export(root / "store")


def _copy(source: Path, tmp_path: Path) -> tuple[Path, Path, str]:
    """A copy of the pristine store, a folder outside it holding the bait, and a victim run."""
    store, outside = tmp_path / "store", tmp_path / "outside"
    shutil.copytree(source, store)
    _bait(outside)
    return store, outside, sorted(p.stem for p in (store / "manifest").glob("*.json"))[1]


def _export(store: Path) -> pl.DataFrame:
    return load(store).drop("wall_s", "update_s", strict=False).sort(["run_id", "iteration"])


def _bait(outside: Path) -> Path:
    """A parquet file outside the store that looks like a run with absurd scores."""
    outside.mkdir(exist_ok=True)
    path = outside / "bait.parquet"
    pl.DataFrame({"iteration": [0, 4], "score": [BAIT_SCORE] * 2}).write_parquet(path)
    return path


def _manifest(store: Path, run_id: str) -> dict:
    return json.loads((store / "manifest" / f"{run_id}.json").read_text(encoding="utf-8"))


def _write_manifest(store: Path, run_id: str, data: object) -> None:
    (store / "manifest" / f"{run_id}.json").write_text(json.dumps(data), encoding="utf-8")


def _frame(store: Path, run_id: str) -> Path:
    return store / "runs" / f"{run_id}.parquet"


def _scores_times_ten(store: Path, run_id: str, outside: Path) -> None:
    frame = pl.read_parquet(_frame(store, run_id))
    frame.with_columns(pl.col("score") * 10).write_parquet(_frame(store, run_id))


def _wrong_schema_resigned(store: Path, run_id: str, outside: Path) -> None:
    """Another table, its hash and rows written into the manifest: only the schema is off."""
    import hashlib

    pl.DataFrame({"x": [1.0, 2.0, 3.0]}).write_parquet(_frame(store, run_id))
    record = _manifest(store, run_id)
    data = _frame(store, run_id).read_bytes()
    record["frame"] = {"sha256": hashlib.sha256(data).hexdigest(), "rows": 3}
    _write_manifest(store, run_id, record)


def _duplicate(store: Path, run_id: str, outside: Path) -> None:
    """Another run's manifest copied over this one's."""
    other = sorted(p.stem for p in (store / "manifest").glob("*.json") if p.stem != run_id)[0]
    shutil.copy(store / "manifest" / f"{other}.json", store / "manifest" / f"{run_id}.json")


def _run_id_escapes(store: Path, run_id: str, outside: Path) -> None:
    record = _manifest(store, run_id)
    record["run_id"] = f"../../{outside.name}/bait"
    _write_manifest(store, run_id, record)


def _seed_edited(store: Path, run_id: str, outside: Path) -> None:
    record = _manifest(store, run_id)
    record["spec"]["seed"] += 1
    _write_manifest(store, run_id, record)


def _symlink_out(store: Path, run_id: str, outside: Path) -> None:
    _frame(store, run_id).unlink()
    _frame(store, run_id).symlink_to(_bait(outside))


def _directory(store: Path, run_id: str, outside: Path) -> None:
    _frame(store, run_id).unlink()
    _frame(store, run_id).mkdir()


def _fifo(store: Path, run_id: str, outside: Path) -> None:
    (store / "manifest" / f"{run_id}.json").unlink()
    os.mkfifo(store / "manifest" / f"{run_id}.json")


def _truncate(store: Path, run_id: str, outside: Path) -> None:
    data = _frame(store, run_id).read_bytes()
    _frame(store, run_id).write_bytes(data[: len(data) // 2])


def _unreadable(store: Path, run_id: str, outside: Path) -> None:
    _frame(store, run_id).chmod(0)


Damage = Callable[[Path, str, Path], None]
CASES: dict[str, tuple[Damage, str]] = {
    "truncated frame": (_truncate, "sha256"),
    "empty frame": (lambda s, r, o: _frame(s, r).write_bytes(b""), "sha256"),
    "garbage frame": (lambda s, r, o: _frame(s, r).write_bytes(os.urandom(300)), "sha256"),
    "missing frame": (lambda s, r, o: _frame(s, r).unlink(), "missing"),
    "frame is a folder": (_directory, "a folder"),
    "frame unreadable (chmod 000)": (_unreadable, "unreadable"),
    "frame symlinked out of the store": (_symlink_out, "symbolic link"),
    "scores multiplied by 10": (_scores_times_ten, "sha256"),
    "another run's manifest copied over": (_duplicate, "not its file name"),
    "list-shaped manifest": (lambda s, r, o: _write_manifest(s, r, [_manifest(s, r)]), "a JSON"),
    "manifest without spec": (
        lambda s, r, o: _write_manifest(
            s, r, {k: v for k, v in _manifest(s, r).items() if k != "spec"}
        ),
        "spec",
    ),
    "garbage manifest": (
        lambda s, r, o: (s / "manifest" / f"{r}.json").write_bytes(b"\xff{not json"),
        "not valid JSON",
    ),
    "run_id with ..": (_run_id_escapes, "16 hex"),
    "spec.seed edited": (_seed_edited, "seed"),
    "manifest is a FIFO": (_fifo, "not a regular file"),
}


@pytest.mark.slow
@pytest.mark.usefixtures("clean_plugin_env")
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_damaged_run_is_reported_left_out_and_recomputed(
    case: str, pristine: tuple[Path, Path, pl.DataFrame], tmp_path: Path
) -> None:
    if case.startswith("frame unreadable") and os.geteuid() == 0:
        pytest.skip("root reads a file whatever its mode")
    source, suite, expected = pristine
    store, outside, victim = _copy(source, tmp_path)
    damage, reason = CASES[case]
    damage(store, victim, outside)

    listed = _invoke("runs", str(store))
    assert listed.exit_code == 0
    line = next(li for li in listed.output.splitlines() if victim in li and "damaged" in li)
    assert reason in listed.output, (line, listed.output)
    assert "3 done" in listed.output
    assert "1 damaged" in listed.output

    others = expected.filter(pl.col("run_id") != victim)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exported = _invoke("export", str(store), "--output", str(tmp_path / "out.csv"))
        assert exported.exit_code == 0
        assert _export(store).equals(others)
        # What report, leaderboard and compare read (their plots are tested once, below).
        run_set = analysis.from_store(store)
        assert sorted(r["run_id"] for r in run_set.records) == sorted(set(others["run_id"]))
    lines = {str(w.message) for w in caught if issubclass(w.category, StoreWarning)}
    assert len(lines) == 1
    assert victim in lines.pop()
    assert BAIT_SCORE not in pl.read_csv(tmp_path / "out.csv").get_column("score").to_list()

    rerun = _invoke("run", str(suite), "--out", str(store), "--executor", "serial")
    assert rerun.exit_code == 0, rerun.output
    assert "4 runs: 1 done, 3 already done (skipped)" in rerun.output
    assert "1 damaged runs recomputed" in rerun.output
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)  # repaired: nothing left to warn about
        assert _export(store).equals(expected)
    assert Store(store).scan(frames="read").damaged == {}


@pytest.mark.usefixtures("clean_plugin_env")
def test_a_stray_file_in_the_manifest_folder_is_named_and_nothing_else_changes(
    pristine: tuple[Path, Path, pl.DataFrame], tmp_path: Path
) -> None:
    source, suite, expected = pristine
    store, _, _ = _copy(source, tmp_path)
    (store / "manifest" / "notes.json").write_text('{"todo": "rerun"}', encoding="utf-8")
    listed = _invoke("runs", str(store))
    assert "notes.json" in listed.output
    assert "not named by a run id" in listed.output
    with pytest.warns(StoreWarning, match="notes.json"):
        assert _export(store).equals(expected)
    with pytest.warns(StoreWarning, match="notes.json"):  # the ranking table reads the store
        rerun = _invoke("run", str(suite), "--out", str(store), "--executor", "serial")
    assert "4 already done (skipped)" in rerun.output


@pytest.mark.usefixtures("clean_plugin_env")
def test_verify_parses_every_frame(
    pristine: tuple[Path, Path, pl.DataFrame], tmp_path: Path
) -> None:
    store, _, victim = _copy(pristine[0], tmp_path)
    _wrong_schema_resigned(store, victim, tmp_path)
    quick = _invoke("runs", str(store))
    assert "damaged" not in quick.output  # the hash matches: only parsing shows the damage
    verified = _invoke("runs", str(store), "--verify")
    assert verified.exit_code == 0
    assert "1 damaged" in verified.output
    assert "runner's columns" in verified.output


def test_an_old_format_store_gets_one_line_saying_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "manifest").mkdir()
    (tmp_path / "runs").mkdir()
    (tmp_path / "manifest" / "0123456789abcdef.json").write_text(
        '{"format": 1, "run_id": "0123456789abcdef"}', encoding="utf-8"
    )
    for command in (["runs", str(tmp_path)], ["export", str(tmp_path)], ["report", str(tmp_path)]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, result.output
        assert "--fresh into a new folder" in errors[0]
        assert "Traceback" not in result.output


def test_the_cli_prints_the_damage_warning_as_one_line(
    pristine: tuple[Path, Path, pl.DataFrame],
    tmp_path: Path,
    run_zobench: Callable[..., object],
) -> None:
    store, _, victim = _copy(pristine[0], tmp_path)
    _frame(store, victim).write_bytes(b"")
    result = run_zobench("export", str(store))
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1, result.stderr
    assert victim in warned[0]
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.usefixtures("clean_plugin_env")
@pytest.mark.parametrize("case", ["run_id with .."])
def test_report_and_leaderboard_leave_a_damaged_run_out(
    case: str, pristine: tuple[Path, Path, pl.DataFrame], tmp_path: Path
) -> None:
    store, outside, victim = _copy(pristine[0], tmp_path)
    expected = pristine[2]
    CASES[case][0](store, victim, outside)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reported = _invoke("report", str(store))
        published = _invoke("leaderboard", str(store), "--out", str(tmp_path / "boards"))
    damage = [str(w.message) for w in caught if issubclass(w.category, StoreWarning)]
    assert len(damage) == 2  # one line from each command
    assert all(victim in line for line in damage)
    assert reported.exit_code == 0, reported.output
    assert published.exit_code == 0, published.output
    raw = json.loads((tmp_path / "boards" / "damage" / "raw" / "runs.json").read_text())
    assert sorted(r["run_id"] for r in raw) == sorted(set(expected["run_id"]) - {victim})
