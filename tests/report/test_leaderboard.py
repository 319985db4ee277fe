"""Leaderboard markdown: the golden file, byte-identical publishing, --check, plots, escaping."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import matplotlib.image
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from report_helpers import write_run

from zobench.bench.store import Store
from zobench.cli import cli
from zobench.errors import ZobenchError
from zobench.report import analysis, leaderboard, publish

GOLDEN = Path(__file__).parent / "golden" / "leaderboard.md"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _markdown(store: Path, **options) -> str:
    board = leaderboard.build(analysis.from_store(store), name="synthetic", **options)
    return leaderboard.markdown(board)


def test_the_synthetic_store_gives_the_golden_leaderboard(synthetic_store: Path) -> None:
    text = _markdown(synthetic_store)
    if os.environ.get("ZOBENCH_REGEN_GOLDEN"):  # after an intended change: review the diff
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_published_markdown_is_the_golden_one(published_once: Path) -> None:
    # published from its raw copy, the markdown is the one made from the store
    assert (published_once / "synthetic" / "leaderboard.md").read_text() == GOLDEN.read_text()


def test_ranking_pairing_and_scales_follow_the_runs(synthetic_store: Path) -> None:
    text = _markdown(synthetic_store, rank_by="final")
    chain, gridworld = text.split("## chain")[1].split("## gridworld")
    rows = re.findall(r"^\| (\d) \| ([^|]+) \|", gridworld, re.M)
    # targets 9, 7, 6, 3: ranked by IQM, the swept setting named in the entry
    assert rows == [
        ("1", "alpha"),
        ("2", "beta (trajectories=20)"),
        ("3", "beta (trajectories=10)"),
        ("4", "gamma"),
    ]
    assert "normalized score (0 = uniform" in gridworld
    assert re.search(r"^\| 1 \| alpha \|.*\| 4 \| 1\.00 \|$", gridworld, re.M)
    # chain has no reference (raw scores); alpha ran 3 seeds, gamma 4
    assert "raw score (no reference" in chain
    assert re.search(r"^\| 1 \| alpha \|.*\| 3 \| 1\.00 \|$", chain, re.M)
    assert "(paired)" not in text  # rliable's unpaired estimator is the default


def test_final_score_is_the_mean_of_the_last_k_evaluations(synthetic_store: Path) -> None:
    run_set = analysis.from_store(synthetic_store)
    frame = analysis.long_frame(run_set)
    final = analysis.final_scores(frame, last=3)
    run_id = run_set.records[0]["run_id"]
    curve = run_set.curves.filter(run_set.curves["run_id"] == run_id).sort("iteration")
    row = final.filter(final["run_id"] == run_id).row(0, named=True)
    assert row["score"] == pytest.approx(np.mean(curve["score"].to_numpy()[-3:]))
    assert row["queries"] == curve["queries"][-1]  # the ledger's final value, not a mean
    assert "last 3 evaluations" in _markdown(synthetic_store, last=3)


@pytest.mark.slow
def test_two_publishes_are_byte_identical(synthetic_store: Path, tmp_path: Path) -> None:
    publish.publish(synthetic_store, tmp_path / "a")
    publish.publish(synthetic_store, tmp_path / "b")
    files_a = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    files_b = sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()
    )
    assert files_a == files_b
    assert any(name.name == "SHA256SUMS" for name in files_a)
    for name in files_a:  # markdown, index, raw runs, the plots and their checksums
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_svg_plots_are_reproducible(synthetic_store: Path, tmp_path: Path) -> None:
    board = leaderboard.build(analysis.from_store(synthetic_store), name="s", fmt="svg")
    board.sections = board.sections[:1]
    board.sections[0].plots = board.sections[0].plots[:2]
    board.ablations = []
    first = leaderboard.draw(board, tmp_path / "a")
    second = leaderboard.draw(board, tmp_path / "b")
    assert [p.suffix for p in first] == [".svg", ".svg"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
        assert b"<svg" in a.read_bytes()


def test_check_passes_on_a_fresh_publish_and_fails_after_a_one_number_edit(
    published: Path,
) -> None:
    assert publish.check(published) == []
    assert publish.check(published / "synthetic") == []
    markdown = published / "synthetic" / "leaderboard.md"
    text = markdown.read_text()
    edited = text.replace("0.836 [0.833", "0.837 [0.833", 1)
    assert edited != text
    markdown.write_text(edited)
    problems = publish.check(published)
    assert len(problems) == 1
    summary = problems[0].summary()
    assert "\n" not in summary
    assert "leaderboard.md: line" in summary
    assert "0.837" in summary


def test_check_notices_a_stale_index_and_a_missing_plot(published: Path) -> None:
    (published / "README.md").write_text("# zobench leaderboards\n")
    plot = next((published / "synthetic" / "plots").glob("*-final.png"))
    plot.unlink()
    problems = [p.summary() for p in publish.check(published)]
    assert any("README.md" in p for p in problems)
    assert any(plot.name in p for p in problems)


def test_plots_are_valid_pngs_and_every_link_resolves(published_once: Path) -> None:
    folder = published_once / "synthetic"
    links = publish.links((folder / "leaderboard.md").read_text())
    pngs = [link for link in links if link.endswith(".png")]
    # 2 groups x (final, P(X>Y), curves against iterations, episodes, queries, env steps),
    # a performance profile where scores are normalized (gridworld), and an ablation
    assert len(set(pngs)) == 14
    for link in links:
        assert (folder / link).is_file(), link
    for link in set(pngs):
        data = (folder / link).read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        assert len(data) > 5000
        image = matplotlib.image.imread(folder / link)
        assert image.ndim == 3
        assert image.shape[0] > 100
        assert image.shape[1] > 100
    index = (published_once / "README.md").read_text()
    for link in publish.links(index):
        assert (published_once / link).is_file()
    # 4 entries: alpha, gamma and beta at two trajectory counts, as the leaderboard ranks them
    assert "[synthetic](synthetic/leaderboard.md) | 2 | 4 | 23 | 2026-01-01 to 2026-01-04" in index


def test_the_published_raw_copy_is_compact_and_private(published_once: Path) -> None:
    raw = published_once / "synthetic" / "raw"
    records = json.loads((raw / "runs.json").read_text())
    assert len(records) == 23
    assert all("traceback" not in r and "host" not in r["provenance"] for r in records)
    assert "secret-host-name" not in (raw / "runs.json").read_text()
    assert sum(p.stat().st_size for p in raw.iterdir()) < 100_000


HOSTILE = "evil|name `code` [link](http://x) *bold* _it_ <script>alert(1)</script> #h"


def test_hostile_names_are_escaped(tmp_path: Path) -> None:
    store = Store(tmp_path / "store", create=True)
    for seed in range(2):
        write_run(store, label=HOSTILE, seed=seed, target=5.0)
        write_run(store, label="plain", seed=seed, target=4.0)
    board = leaderboard.build(analysis.from_store(tmp_path / "store"), name="synthetic")
    text = leaderboard.markdown(board)
    row = next(line for line in text.splitlines() if line.startswith("| 1 |"))
    # exactly the table's column separators: the name's pipe is escaped
    columns = len(leaderboard.table_columns(board.sections[0]))
    assert len(re.findall(r"(?<!\\)\|", row)) == columns + 1
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert "\\[link\\]" in text
    assert "\\`code\\`" in text
    assert "\\*bold\\*" in text
    assert "\\_it\\_" in text
    assert "\\#h" in text
    # the only links are ours (plots, raw runs), none from the name
    assert all(link.startswith(("plots/", "raw/")) for link in publish.links(text))


def test_escape_is_inert_on_plain_names() -> None:
    assert leaderboard.escape("zpg-v2 (fast)") == "zpg-v2 (fast)"
    assert leaderboard.escape("a\nb") == "a b"


@pytest.mark.slow
def test_a_report_goes_into_the_store(synthetic_store: Path, tmp_path: Path) -> None:
    store = Path(shutil.copytree(synthetic_store, tmp_path / "store"))
    path = publish.make_report(store)
    assert path == store / "report" / "leaderboard.md"
    text = path.read_text()
    assert "raw/runs.json" not in text  # the store itself is the raw data
    assert all((path.parent / link).is_file() for link in publish.links(text))


@pytest.mark.slow
def test_a_swept_environment_setting_splits_groups_and_gets_an_ablation(tmp_path: Path) -> None:
    store = Store(tmp_path / "store", create=True)
    for seed in range(2):
        for size, target in ((4, 8.0), (16, 6.0)):
            for label, shift in (("alpha", 0.0), ("beta", -1.0)):
                write_run(
                    store,
                    label=label,
                    seed=seed,
                    target=target + shift,
                    environment_params={"size": size},
                )
    board = leaderboard.build(analysis.from_store(tmp_path / "store"), name="sizes")
    # Groups in numeric order of the setting (4 before 16, which text order would reverse).
    assert [s.title for s in board.sections] == [
        "gridworld · bradley-terry · isolated (environment.size=4)",
        "gridworld · bradley-terry · isolated (environment.size=16)",
    ]
    assert [[e.entry for e in s.entries] for s in board.sections] == [["alpha", "beta"]] * 2
    assert [p.text for p in board.ablations] == [
        "environment.size (gridworld · bradley-terry · isolated)"
    ]
    written = leaderboard.draw(board, tmp_path / "out")
    assert all(p.read_bytes().startswith(PNG_SIGNATURE) for p in written)


def _tamper_curves(folder: Path, edit) -> None:
    path = folder / "raw" / "curves.parquet"
    pl.read_parquet(path).pipe(edit).write_parquet(path)


def _tamper_runs(folder: Path, edit) -> None:
    path = folder / "raw" / "runs.json"
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))


def _earlier_point(frame: pl.DataFrame) -> pl.DataFrame:
    # an evaluation before the last, which `compare --last 2` would read but the board hides
    target = (pl.col("run_id") == frame["run_id"][0]) & (pl.col("iteration") == 30)
    return frame.with_columns(pl.when(target).then(0.5).otherwise(pl.col("score")).alias("score"))


def _extra_parameter(records: list) -> list:
    records[0]["spec"]["algorithm"]["params"]["secret"] = 1
    return records


TAMPERINGS = {
    "an earlier curve point": lambda f: _tamper_curves(f, _earlier_point),
    "the raw score doubled": lambda f: _tamper_curves(
        f, lambda c: c.with_columns(pl.col("score") * 2)
    ),
    "an extra spec parameter": lambda f: _tamper_runs(f, _extra_parameter),
}


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_check_fails_on_raw_data_the_markdown_does_not_show(published: Path, tampering) -> None:
    TAMPERINGS[tampering](published / "synthetic")
    try:
        problems = [p.summary() for p in publish.check(published)]
    except ZobenchError as exc:  # a record that no longer checks out is refused outright
        problems = [str(exc)]
    # the board's raw-data digest (or a number it shows) no longer matches, or a record's
    # spec no longer matches its resolved configuration
    assert any(
        "synthetic/leaderboard.md: line" in p or "synthetic: unreadable published raw runs" in p
        for p in problems
    ), problems


def test_check_fails_on_a_swapped_plot(published: Path) -> None:
    plots = published / "synthetic" / "plots"
    final, poi = next(plots.glob("gridworld-*-final.png")), next(plots.glob("gridworld-*-poi.png"))
    final_bytes = final.read_bytes()
    final.write_bytes(poi.read_bytes())
    poi.write_bytes(final_bytes)
    problems = [p.summary() for p in publish.check(published)]
    assert len(problems) == 1
    assert "SHA256SUMS" in problems[0]
    assert final.name in problems[0] or poi.name in problems[0]


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("options.json", "[1, 2]", "bad leaderboard options (not a JSON object)"),
        ("options.json", '{"name": "x", "last": "2"}', "last '2' is not a whole number"),
        ("options.json", '{"name": "x", "format": "gif"}', "format 'gif'"),
        ("options.json", '{"name": "x", "rank_by": "best"}', "rank_by 'best'"),
        ("options.json", "{", "bad leaderboard options"),
        ("runs.json", '[{"run_id": "abc"}]', "run_id 'abc' is invalid"),
        ("runs.json", '[{"run_id": "0123456789abcdef", "status": "done"}]', "malformed spec"),
        ("runs.json", '{"a": 1}', "not a list of records"),
        ("runs.json", "[]", "not a non-empty list of run records"),
        ("runs.json", "[3]", "a published record is a JSON int"),
    ],
)
def test_check_refuses_a_hostile_folder_in_one_line(
    published: Path, file: str, content: str, message: str
) -> None:
    (published / "synthetic" / "raw" / file).write_text(content)
    result = CliRunner().invoke(cli, ["leaderboard", "--check", str(published)])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.output.count("\n") == 1
    assert result.output.startswith("Error:")
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_a_label_with_a_link_or_mathtext_publishes_and_checks(tmp_path: Path) -> None:
    store = Store(tmp_path / "store", create=True)
    for seed in range(2):
        write_run(store, label="x](javascript:alert(1))", seed=seed, target=5.0)
        write_run(store, label="$x^{$", seed=seed, target=4.0)
    publish.publish(tmp_path / "store", tmp_path / "boards", name="hostile")
    assert publish.check(tmp_path / "boards") == []
    text = (tmp_path / "boards" / "hostile" / "leaderboard.md").read_text()
    assert "javascript" not in "".join(publish.links(text))


def test_fixed_settings_written_in_the_suite_are_stated(tmp_path: Path) -> None:
    store = Store(tmp_path / "store", create=True)
    for seed in range(2):
        write_run(store, label="alpha", seed=seed, target=5.0, params={"evaluators": 5})
        for pairs in (10, 20):  # swept: part of beta's entry names, not repeated as fixed
            write_run(store, label="beta", seed=seed, target=4.0, params={"pairs": pairs})
    text = _markdown(tmp_path / "store")
    line = next(x for x in text.splitlines() if x.startswith("Fixed settings"))
    assert line.endswith("preset): alpha: evaluators=5.")


def test_the_digest_catches_an_edit_the_markdown_does_not_show(published: Path) -> None:
    # env_steps appear in no table: only the raw-data digest can notice the edit
    _tamper_curves(published / "synthetic", lambda c: c.with_columns(pl.col("env_steps") + 1))
    problems = [p.summary() for p in publish.check(published)]
    assert len(problems) == 1
    assert "raw data: sha256" in problems[0]
