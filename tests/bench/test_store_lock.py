"""Concurrency: one ``zobench run`` writes a store at a time; concurrent reports never crash."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bench_helpers import four_run_suite

import zobench
from zobench.bench.store import LOCK, Store

SUITE = four_run_suite("locked", iterations=1000, eval_every=500)
"""Runs long enough that the second process arrives while the first holds the lock."""


def _environ() -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ZOBENCH_")}
    environ["COLUMNS"] = "250"
    return environ


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "zobench", *args],
        env=_environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _done_count(stderr: str) -> int:
    line = next(li for li in stderr.splitlines() if li.startswith("4 runs:"))
    return int(line.split(":")[1].split("done")[0])


@pytest.mark.slow
@pytest.mark.usefixtures("clean_plugin_env")
def test_two_runs_on_one_store_compute_every_run_once(tmp_path: Path) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE, encoding="utf-8")
    out = tmp_path / "shared"
    args = ("run", str(suite), "--out", str(out), "--executor", "serial")
    processes = [_start(*args), _start(*args)]
    outputs = [p.communicate(timeout=300) for p in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr
    errors = [stderr for _, stderr in outputs]
    assert sorted(_done_count(e) for e in errors) == [0, 4]  # each run computed exactly once
    assert sum("waiting" in e and "another zobench run" in e for e in errors) == 1
    assert sum("4 already done (skipped)" in e for e in errors) == 1
    assert len(list((out / "manifest").glob("*.json"))) == 4

    reference = zobench.run_suite(suite, tmp_path / "serial", executor="serial")
    shared = zobench.load(out)
    key = ["run_id", "iteration"]
    assert (
        shared.drop("wall_s", "update_s", strict=False)
        .sort(key)
        .equals(reference.drop("wall_s", "update_s", strict=False).sort(key))
    )


def test_the_lock_is_held_while_writing_and_released_on_exit(tmp_path: Path) -> None:
    store = Store(tmp_path, create=True)
    waited: list[str] = []
    with store.lock(on_wait=waited.append):
        fd = os.open(tmp_path / LOCK, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        assert (tmp_path / LOCK).read_text().strip() == f"pid {os.getpid()}"
    # Released: a process that dies holding it releases it too (the kernel drops flocks).
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl,os,sys,time; fd=os.open(sys.argv[1], os.O_RDWR);"
            "fcntl.flock(fd, fcntl.LOCK_EX); os.pwrite(fd, b'pid holder', 0); print(flush=True);"
            "time.sleep(0.5)",
            str(tmp_path / LOCK),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    holder.stdout.readline()  # the holder has the lock now
    start = time.monotonic()
    with store.lock(on_wait=waited.append):
        pass
    holder.wait()
    assert waited == ["pid holder"]
    assert time.monotonic() - start < 10


@pytest.mark.slow
@pytest.mark.usefixtures("clean_plugin_env")
def test_concurrent_reports_on_one_store_never_crash(tmp_path: Path) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(four_run_suite("locked", iterations=20, eval_every=10), encoding="utf-8")
    out = tmp_path / "store"
    zobench.run_suite(suite, out, executor="serial")
    reports = [_start("report", str(out)) for _ in range(2)]
    for process in reports:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr
    assert (out / "report" / "leaderboard.md").is_file()
