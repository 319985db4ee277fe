"""Runs that misbehave: hang, exit or interrupt themselves; each is one failed run, the rest go on."""

from __future__ import annotations

import time
from pathlib import Path



def test_a_ctrl_c_during_an_atomic_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    # The cause of the flaky Ctrl-C test: polars notices a SIGINT inside write_parquet and raises
    # KeyboardInterrupt itself, then Python's handler raises a second one for the same signal,
    # which landed in write_atomic's clean-up and left the temporary file behind.
    import os
    import signal
    import threading

    import numpy as np
    import polars as pl

    from zobench.bench.store import write_atomic

    frame = pl.DataFrame({f"c{i}": np.arange(1_000_000, dtype=float) for i in range(4)})

    def write(path: Path) -> None:
        threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGINT)).start()
        frame.write_parquet(path)  # takes far longer than 0.01 s
        time.sleep(1)  # where a late timer's signal lands, still inside the write

    interrupts = 0
    try:
        try:
            write_atomic(tmp_path / "run.parquet", write)
        except KeyboardInterrupt:
            interrupts += 1
            time.sleep(0.2)  # a second KeyboardInterrupt for the same Ctrl-C would come here
    except KeyboardInterrupt:
        interrupts += 1
    assert interrupts == 1
    assert [p.name for p in tmp_path.iterdir()] == ["run.parquet"]  # the write completed
    assert pl.read_parquet(tmp_path / "run.parquet").equals(frame)
