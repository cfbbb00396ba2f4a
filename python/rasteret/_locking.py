"""Writers of the same file or collection take turns: an exclusive lock file beside the target,
and whole-file replacement for small JSON files.

:func:`exclusive_lock` holds ``fcntl.flock`` on a lock file (``.<name>.lock`` next to a
collection, ``<file>.lock`` next to a registry file). A second process (or thread) asking for
the same lock waits until the first releases it; the kernel releases it when its holder exits
or dies, so a crashed writer never leaves the lock taken. The holder deletes the lock file
before releasing it, and a waiter that then gets the lock of a deleted file opens the new one,
so no lock file stays behind. The lock is re-entrant within one thread of one process. Where
``fcntl`` does not exist (Windows) the lock does nothing: concurrent writers there are not
serialised.

:func:`atomic_write_text` writes a uniquely named temporary file in the target's directory,
flushes it to disk and renames it over the target (``os.replace``): readers see the old or the
new content, never a mix or a truncated file.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rasteret._sigint import interruptible

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["atomic_write_text", "exclusive_lock", "lock_path_for"]

logger = logging.getLogger(__name__)

#: Seconds between two attempts at a lock another writer holds.
POLL_SECONDS = 0.05

_local = threading.local()


def lock_path_for(target: str | os.PathLike[str]) -> Path:
    """The lock file guarding ``target``: ``.<name>.lock`` in the same directory."""
    path = Path(os.path.abspath(Path(target).expanduser()))
    return path.with_name(f".{path.name}.lock")


def _held() -> set[tuple[int, Path]]:
    held: set[tuple[int, Path]] | None = getattr(_local, "held", None)
    if held is None:
        held = set()
        _local.held = held
    return held


def _acquire(lock_file: Path, what: str) -> int:
    """An open descriptor of ``lock_file`` holding its exclusive lock (waits for it)."""
    assert fcntl is not None
    announced = False
    while True:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not announced:
                        logger.info("waiting for another writer of %s (%s)", what, lock_file)
                        announced = True
                    time.sleep(POLL_SECONDS)
            # The previous holder deletes the file before releasing it: a lock on a deleted
            # file guards nothing, so start again on the current one.
            try:
                current = os.stat(lock_file)
            except FileNotFoundError:
                os.close(fd)
                continue
            mine = os.fstat(fd)
            if (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino):
                return fd
            os.close(fd)
        except BaseException:
            os.close(fd)
            raise


@contextmanager
def exclusive_lock(lock_file: str | os.PathLike[str], what: str = "") -> Iterator[None]:
    """Hold the exclusive lock ``lock_file`` for the block (waiting while another holds it).

    ``what`` names the guarded thing in the log line written when the call has to wait.
    Ctrl-C while waiting raises ``KeyboardInterrupt``.
    """
    path = Path(os.path.abspath(Path(lock_file).expanduser()))
    key = (os.getpid(), path)
    held = _held()
    if fcntl is None or key in held:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with interruptible():
        fd = _acquire(path, what or str(path))
    held.add(key)
    try:
        yield
    finally:
        held.discard(key)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` by a file holding ``text`` (UTF-8) in one step (temp file + rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = target.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
