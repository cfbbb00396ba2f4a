"""Decoded tiles shared by the DataLoader workers of one TorchGeo dataset.

Each process keeps its own LRU of decoded tiles (:class:`rasteret.read.engine.TileCache`). With
``num_workers > 0`` every worker would otherwise fetch and decode the tiles another worker
already has: GDAL's block cache, which TorchGeo's own reader relies on, has the same limit.
Workers of one dataset therefore also share a directory of decoded tiles on a RAM-backed
file system (``/dev/shm`` where there is one): a tile one worker read is a file read for the
others, not a round trip.

Lifetime: the directory name is chosen when the dataset is created, in the process that
creates it (the owner, whose pid is in the name); it is created on first write and removed
when the owner's dataset is garbage-collected or the owner exits. Directories whose owner
died without cleaning up are removed the next time a dataset is created. The tiles in it are
written and read by the Rust cache (``TileCache.share``): every file is written under a
temporary name and renamed, so a reader sees a whole tile or none; a tile that vanishes
(evicted by another worker) is a miss, never an error; the oldest files go first when the
directory outgrows its budget.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
import weakref
from pathlib import Path
from typing import Any

_PREFIX = "rasteret-tiles-"


def _base_dir() -> Path:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return Path(tempfile.gettempdir())


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there: assume alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _owner_pid(path: Path) -> int | None:
    try:
        return int(path.name[len(_PREFIX) :].split("-", 1)[0])
    except ValueError:
        return None


def remove_stale(base: Path | None = None) -> int:
    """Remove shared-tile directories whose owner process is gone; returns how many."""
    removed = 0
    for path in (base or _base_dir()).glob(_PREFIX + "*"):
        pid = _owner_pid(path)
        if pid is not None and not _alive(pid):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def remove_if_owned(path: str | None) -> None:
    """Remove ``path`` now if this process owns it (``close()`` of the owner's dataset)."""
    if path is not None and _owner_pid(Path(path)) == os.getpid():
        shutil.rmtree(path, ignore_errors=True)


def new_shared_dir(owner: Any) -> str:
    """A fresh directory name for ``owner``'s shared tiles (created on first write), removed
    when ``owner`` is garbage-collected or this process exits."""
    base = _base_dir()
    with contextlib.suppress(OSError):
        remove_stale(base)
    path = str(base / f"{_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}")
    # Forked workers inherit the finalizer with the dataset: only the owner removes.
    weakref.finalize(owner, remove_if_owned, path)
    return path


def owner_alive(path: str | None) -> bool:
    """Whether the process that owns ``path`` still runs (the parent of a spawned DataLoader
    worker, say): then this process shares its tiles."""
    if path is None:
        return False
    pid = _owner_pid(Path(path))
    return pid is not None and _alive(pid)
