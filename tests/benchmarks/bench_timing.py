"""Timing helpers shared by the benchmarks that compare zobench with a reference in the same run."""

from __future__ import annotations

import time
from collections.abc import Callable


def interleaved_best(
    fast: Callable[[], object], reference: Callable[[], object], rounds: int
) -> tuple[float, float]:
    """Best times of two functions timed alternately, so both see the same machine load."""
    best_fast = best_reference = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fast()
        middle = time.perf_counter()
        reference()
        end = time.perf_counter()
        best_fast = min(best_fast, middle - start)
        best_reference = min(best_reference, end - middle)
    return best_fast, best_reference
