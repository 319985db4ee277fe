"""Pieces under the leaderboard: curve bands, pairing, polars → pandas, what report/ imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from report_helpers import write_run

from zobench.bench.store import Store
from zobench.report import analysis, leaderboard, plots, stats


def test_curve_band_is_the_mean_with_a_band_around_it() -> None:
    curves = np.array([[0.0, 1.0, 2.0], [0.0, 3.0, 4.0], [0.0, 2.0, 9.0]])
    mean, low, high = analysis.curve_band(curves)
    np.testing.assert_allclose(mean, [0.0, 2.0, 5.0])
    assert np.all(low <= mean)
    assert np.all(mean <= high)
    # identical seeds leave no uncertainty; different ones do, bounded by the seeds' range
    assert low[0] == high[0] == 0.0
    assert 1.0 <= low[1] < high[1] <= 3.0
    np.testing.assert_array_equal(analysis.curve_band(curves)[1], low)  # seeded: reproducible


def _entry(seeds: tuple[int, ...], values: list[float]) -> analysis.EntryStats:
    array = np.array(values)
    return analysis.EntryStats("x", seeds, array, stats.aggregate(array, reps=10), 0, 0, 0)


def test_improvement_is_unpaired_by_default_and_paired_only_on_request() -> None:
    x = _entry((0, 1, 2), [1.0, 5.0, 3.0])
    y = _entry((0, 1, 2), [1.0, 4.0, 4.5])
    # unpaired (rliable): all 9 pairs; x's 1 ties y's 1 (½), 5 beats all three, 3 beats 1
    assert analysis.improvement(x, y) == (pytest.approx((0.5 + 3 + 1) / 9), False)
    # paired on request: seed 0 ties (½), seed 1 wins, seed 2 loses
    assert analysis.improvement(x, y, paired=True) == (pytest.approx(1.5 / 3), True)
    z = _entry((0, 1, 3), [2.0, 4.0, 0.0])
    p, paired = analysis.improvement(x, z, paired=True)
    assert not paired  # different seeds: pairing is impossible, the unpaired share is used
    assert p == pytest.approx(stats.probability_of_improvement(x.values, z.values))
    matrix = analysis.improvement_matrix([x, y])
    assert np.isnan(matrix[0, 0])
    assert matrix[0, 1] + matrix[1, 0] == pytest.approx(1.0)


def test_to_pandas_works_without_pyarrow(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pl.DataFrame({"entry": ["a", "b"], "x": [1, None], "iqm": [0.5, 0.25]})
    real_find_spec = plots.importlib.util.find_spec
    monkeypatch.setattr(
        plots.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pyarrow" else real_find_spec(name, *a),
    )
    converted = plots.to_pandas(frame)
    assert list(converted.columns) == ["entry", "x", "iqm"]
    assert converted["iqm"].tolist() == [0.5, 0.25]
    assert converted["entry"].tolist() == ["a", "b"]


def test_report_reads_only_the_store() -> None:
    code = (
        "import sys, zobench.report.publish, zobench.report.plots, zobench.report.compare; "
        "bad = [m for m in sys.modules if m.startswith('zobench.sim') "
        "or m in ('zobench.bench.runner', 'zobench_plugins')]; print(bad)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_entries_are_named_by_the_settings_that_vary_within_their_label(tmp_path: Path) -> None:
    # zpg and zbcpg each run at their own step size (as tuned), and zpg sweeps its pairs:
    # only pairs tells entries apart, and only pairs is an ablation.
    store = Store(tmp_path / "store", create=True)
    for seed in range(2):
        for pairs in (10, 20):
            write_run(
                store,
                label="zpg",
                seed=seed,
                target=8.0,
                params={"step_size": 0.03, "pairs": pairs},
            )
        write_run(store, label="zbcpg", seed=seed, target=7.0, params={"step_size": 0.025})
    run_set = analysis.from_store(tmp_path / "store")
    final = analysis.final_scores(analysis.long_frame(run_set))
    assert sorted(set(final.get_column("entry").to_list())) == [
        "zbcpg",
        "zpg (pairs=10)",
        "zpg (pairs=20)",
    ]
    board = leaderboard.build(run_set, name="naming")
    assert [p.text for p in board.ablations] == [
        "algorithm.pairs (gridworld · bradley-terry · isolated)"
    ]
