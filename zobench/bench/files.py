"""Files a store can trust: atomic durable writes, reads that refuse anything but a regular file,
and the advisory lock that lets one writer at a time into a store.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from zobench.bench import guard


class LockError(OSError):
    """The lock file cannot be opened (a read-only folder, a path that is no folder)."""


class DamagedRun(Exception):  # noqa: N818 -- a state of a run, not only an error
    """A run whose files cannot be trusted; the message is the reason."""


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename) to disk; some file systems cannot, which is fine."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` on a temporary file next to ``path``, then rename it to ``path``.

    The temporary name is unique per process and call (so concurrent writers never collide),
    carries the writer's pid (so a clean-up can tell a dead writer's leftovers from a live
    one's), starts with a dot and ends in ``.tmp``. The file is fsynced before the rename and
    the folder after it: after a power cut the name holds the old file or the whole new one.
    A Ctrl-C during the write is delivered after it, so it never leaves the temporary file
    behind (polars and Python each raise one for the same signal; see
    :func:`zobench.bench.guard.interrupts_deferred`).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    with guard.interrupts_deferred():
        try:
            write(tmp)
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    fsync_folder(path.parent)


def writer_alive(tmp_name: str) -> bool:
    """Whether the process named in a temporary file's name still runs (unknown: assume so)."""
    parts = tmp_name.split(".")
    try:
        pid = int(parts[-3])
    except (IndexError, ValueError):
        return False  # not one of ours: an old or foreign leftover
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True


def read_regular(path: Path) -> bytes:
    """The bytes of a regular file, refusing symlinks, folders, FIFOs and devices.

    Raises :class:`DamagedRun` with the reason; never blocks on a FIFO (opened non-blocking).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise DamagedRun(f"{path.name} is missing") from None
    except OSError as exc:
        if path.is_symlink():
            raise DamagedRun(f"{path.name} is a symbolic link") from None
        raise DamagedRun(f"{path.name} is unreadable ({exc.strerror})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
            raise DamagedRun(f"{path.name} is {kind}")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    except OSError as exc:
        raise DamagedRun(f"{path.name} is unreadable ({exc.strerror})") from None
    finally:
        os.close(fd)


def check_regular(path: Path) -> None:
    """Raise :class:`DamagedRun` unless ``path`` is a regular file (no symlink, folder, FIFO)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise DamagedRun(f"{path.name} is missing") from None
    if stat.S_ISLNK(mode):
        raise DamagedRun(f"{path.name} is a symbolic link")
    if not stat.S_ISREG(mode):
        raise DamagedRun(f"{path.name} is {'a folder' if stat.S_ISDIR(mode) else 'not a file'}")


@contextlib.contextmanager
def locked(path: Path, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if needed), waiting for it if taken.

    ``on_wait(holder)`` is called once before waiting, with what the lock file says of its
    holder (its pid). The lock is released on any exit, even a kill (the kernel drops it); the
    descriptor is not inherited by child processes (Python opens files close-on-exec).
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise LockError(f"{path}: cannot open the lock file ({exc.strerror})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait(os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
