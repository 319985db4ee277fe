"""A disk cache of environments' costly references: exact optima and certified bounds.

An environment's :meth:`~zobench.api.Environment.exact_optimum` may run a dynamic program for
minutes (the networked GridWorld's 4 agents: about 25 s of CPU), and every run of a suite on the
same instance needs the same number. So the runner asks through :func:`memo`, which keeps each
result in a JSON file named by the instance's content hash (:func:`instance_key`):

* the environment's name and *resolved* configuration (defaults written out),
* the network it is connected to (its neighbour lists: a random topology gives one instance per
  network, a fixed one a single instance for every seed),
* the code fingerprint of the environment's component (its distribution, version and the
  source hash of the modules implementing it, as for run ids: :mod:`zobench.bench.identity`),

so a suite pays each computation once per machine, and a change of code or setting computes
anew. The folder is ``$ZOBENCH_CACHE_DIR/references`` when the variable is set, else
``$XDG_CACHE_HOME/zobench/references`` (``~/.cache/zobench/references``).

Concurrent runs (the process executor's workers start the same instance together) never corrupt
it: each key has a lock file (``flock``) under which one process computes while the others
wait and then read its result, and results are written atomically (temporary file, fsync,
rename). Nothing read back is trusted: an entry that does not parse, names another key or holds
a value of the wrong shape is computed again and replaced. ``None`` results are not kept (an
environment returns ``None`` quickly when it cannot compute).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zobench.bench.files import DamagedRun, locked, read_regular, write_atomic
from zobench.bench.identity import component_fingerprint, plain
from zobench.bench.records import canonical_json
from zobench.plugins import Registration
from zobench.sim.network import Network

CACHE_VARIABLE = "ZOBENCH_CACHE_DIR"
"""Environment variable naming zobench's cache folder (tests point it at a temporary folder)."""

FORMAT = 1
"""Version of the entries' layout; part of every key."""

COMPUTATIONS: dict[str, int] = {}
"""How many times this process computed each kind of reference (``"exact optimum"``, ...)
instead of reading it: the tests count cache hits with it."""


def cache_folder() -> Path:
    """Where references are cached (see the module docstring); not created here."""
    root = os.environ.get(CACHE_VARIABLE, "").strip()
    if root:
        return Path(root) / "references"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "zobench" / "references"


def network_hash(network: Network | None) -> str:
    """sha256 of a network's agents and neighbour lists (``"none"`` without a network)."""
    if network is None:
        return "none"
    hasher = hashlib.sha256(str(network.n_agents).encode())
    hasher.update(network.indptr.astype("<i8").tobytes())
    hasher.update(network.indices.astype("<i8").tobytes())
    return hasher.hexdigest()


def instance_key(registration: Registration, config: Any, network: Network | None) -> str:
    """The content hash of an environment instance: resolved config, network, code fingerprint."""
    description = {
        "format": FORMAT,
        "environment": {"name": registration.obj.name, "params": plain(config)},
        "network": network_hash(network),
        "code": component_fingerprint(registration, config),
    }
    return hashlib.sha256(canonical_json(description).encode()).hexdigest()


def _valid(what: str, value: Any) -> bool:
    """Whether a value read back has the shape of a ``what`` (a number, or a bracket)."""

    def number(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

    if what == "optimum bounds":
        return (
            isinstance(value, list)
            and len(value) == 2
            and (value[0] is None or number(value[0]))
            and number(value[1])
        )
    return number(value)


def _slug(what: str) -> str:
    return what.replace(" ", "-")


def _read(path: Path, key: str, what: str) -> tuple[bool, Any]:
    """``(True, value)`` for a trustworthy entry at ``path``, else ``(False, None)``."""
    try:
        entry = json.loads(read_regular(path))
    except (DamagedRun, ValueError, RecursionError):
        return False, None
    if not isinstance(entry, dict) or entry.get("key") != key or entry.get("what") != what:
        return False, None
    value = entry.get("value")
    return (True, value) if _valid(what, value) else (False, None)


def _as_json(what: str, value: Any) -> Any:
    if what == "optimum bounds":
        lower, upper = value
        return [None if lower is None else float(lower), float(upper)]
    return float(value)


def _from_json(what: str, value: Any) -> Any:
    return (value[0], value[1]) if what == "optimum bounds" else value


ANNOUNCE_AFTER = 2.0
"""Seconds a computation runs before it is announced on stderr (quick ones stay silent)."""


def remember(
    key: str,
    what: str,
    compute: Callable[[], Any],
    *,
    environment: str = "",
    folder: Path | None = None,
) -> Any:
    """``compute()``'s result for instance ``key``, computed at most once per cache folder.

    ``what`` names the quantity (``"exact optimum"``, ``"optimum bounds"``). A computation that
    outlasts :data:`ANNOUNCE_AFTER` is announced on stderr, and its end too. A folder that
    cannot be written costs only the caching, never the run.
    """
    folder = cache_folder() if folder is None else folder
    path = folder / f"{key}.{_slug(what)}.json"
    found, value = _read(path, key, what)
    if found:
        return _from_json(what, value)
    with contextlib.ExitStack() as stack:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            stack.enter_context(locked(folder / f".{key}.{_slug(what)}.lock"))
        except OSError:
            return _compute(what, compute, environment, None)
        found, value = _read(path, key, what)  # another process computed it while we waited
        if found:
            return _from_json(what, value)
        return _compute(what, compute, environment, path, key)


def _compute(
    what: str, compute: Callable[[], Any], environment: str, path: Path | None, key: str = ""
) -> Any:
    """Compute (announced when slow), count and, given a path, store one reference."""
    subject = f"the {what} of {environment or 'the environment'}"
    where = f" (once for this instance; cached in {path.parent})" if path is not None else ""
    announcement = threading.Timer(
        ANNOUNCE_AFTER, lambda: print(f"zobench: computing {subject}{where} ...", file=sys.stderr)
    )
    announcement.daemon = True
    start = time.perf_counter()
    announcement.start()
    try:
        value = compute()
    finally:
        announcement.cancel()
    seconds = time.perf_counter() - start
    COMPUTATIONS[what] = COMPUTATIONS.get(what, 0) + 1
    if seconds >= ANNOUNCE_AFTER:
        print(f"zobench: {subject}: done in {seconds:.0f} s", file=sys.stderr)
    if value is None or path is None:
        return value
    entry = {
        "key": key,
        "what": what,
        "environment": environment,
        "value": _as_json(what, value),
        "seconds": round(seconds, 3),
        "computed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with contextlib.suppress(OSError):  # unwritable: the next run computes it again, that is all
        write_atomic(path, lambda tmp: Path(tmp).write_text(json.dumps(entry, indent=1) + "\n"))
    return value


def memo(
    registration: Registration, config: Any, network: Network | None
) -> Callable[[str, Callable[[], Any]], Any]:
    """A :data:`zobench.sim.evaluate.Memo` caching one instance's references on disk.

    The instance's key is hashed on first use only (most runs find their references in the
    runner's per-process cache and never ask).
    """
    key = functools.cache(lambda: instance_key(registration, config, network))

    def cached(what: str, compute: Callable[[], Any]) -> Any:
        return remember(key(), what, compute, environment=registration.obj.name)

    return cached
