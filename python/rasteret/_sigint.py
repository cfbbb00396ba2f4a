"""Ctrl-C during a Rust call made from inside ``asyncio.run``.

The Rust core checks for Ctrl-C every 100 ms while it waits (``PyErr_CheckSignals``).
``asyncio.run`` replaces Python's SIGINT handler with one that only *cancels* the main task,
and a task is only cancelled when it next yields to the event loop; a coroutine that calls
the core synchronously (the header parse of a build) does not yield until the core is done,
so Ctrl-C would wait for every header. Inside :func:`interruptible`, that handler is
swapped for Python's default one, so Ctrl-C raises ``KeyboardInterrupt`` at the next check
and the core's requests are cancelled; ``asyncio.run`` then propagates it as usual.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def _asyncio_handler(handler: object) -> bool:
    # asyncio.Runner installs functools.partial(runner._on_sigint, main_task=...)
    method = getattr(handler, "func", handler)
    return isinstance(getattr(method, "__self__", None), asyncio.Runner)


@contextmanager
def interruptible() -> Iterator[None]:
    """Let Ctrl-C raise ``KeyboardInterrupt`` here even under ``asyncio.run`` (main thread
    only; any other SIGINT handler is left alone)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if not _asyncio_handler(previous):
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
