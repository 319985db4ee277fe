"""Every built-in algorithm gives the numbers it gave before the capability layer existed.

The golden curves (``tests/golden_curves/frames.parquet``) were captured from the code before the
problem facade, the core-owned ledger and the channels were introduced; refactoring the routes
by which algorithms see the world must not change a single bit of any score, diagnostic or
ledger counter.
"""

from __future__ import annotations

import polars as pl
import pytest
from golden_curves.frames import CASES, GOLDEN, compared_columns, run_case
from threadpoolctl import threadpool_limits


@pytest.mark.parametrize("case", list(CASES))
def test_curves_are_bit_identical_to_the_golden_frames(case):
    golden = pl.read_parquet(GOLDEN).filter(pl.col("case") == case).drop("case")
    golden = golden.select(c for c in golden.columns if golden[c].null_count() < golden.height)
    frame = run_case(case)
    now = frame.select(compared_columns(frame))
    assert sorted(now.columns) == sorted(golden.columns)
    for column in golden.columns:
        assert now[column].to_list() == golden[column].to_list(), column


def test_numbers_do_not_depend_on_the_callers_blas_threads():
    """ppo-rm's BLAS sums gave other last digits with two BLAS threads than with one (a serial
    run against a process worker); every run now steps with one, whatever its caller set."""
    with threadpool_limits(limits=2, user_api="blas"):
        two = run_case("ppo-rm")
    with threadpool_limits(limits=1, user_api="blas"):
        one = run_case("ppo-rm")
    assert two.select(compared_columns(two)).equals(one.select(compared_columns(one)))
