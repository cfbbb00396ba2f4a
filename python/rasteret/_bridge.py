"""What the Rust core calls back into: Python ``StorageBackend`` coroutines and credential
providers, run on one private asyncio event loop.

The Rust I/O layer calls :func:`get_range` (one call per merged byte range) and
:func:`fetch_credentials` (only when its cached credential is missing or due for refresh) from
its blocking-thread pool. Each call submits the coroutine to a private event loop running in a
daemon thread (``asyncio.run_coroutine_threadsafe``) and waits for it with the GIL released, so
any number of ranges are in flight at once on that loop.

Cost: every range of a custom backend crosses into Python (a thread hand-off, the GIL, the
event loop and a copy of the returned buffer into Rust). Measured with an instant in-memory
backend (``python benches/cloud_auth.py --server bridge``, 2-core machine under load): about
0.1-0.3 ms of throughput per range when thousands are in flight, and about 0.25 ms of extra
latency for an isolated range. Rust merges nearby tile ranges first, so a read costs one call
per merged range, not one per tile. The loop belongs to rasteret: coroutines bound to another
event loop (e.g. an ``aiohttp`` session created on the caller's loop) cannot run on it.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import os
import threading
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

__all__ = ["fetch_credentials", "get_range", "run"]

#: Longest wait for one coroutine; after it the coroutine is cancelled (a hung backend must not
#: pin a Rust blocking thread forever). The Rust side gives up earlier (its request timeout).
RESULT_TIMEOUT_S = 600.0

_lock = threading.Lock()
_state: tuple[int, asyncio.AbstractEventLoop] | None = None


def _loop() -> asyncio.AbstractEventLoop:
    """The bridge's event loop (one per process; a forked child starts its own)."""
    global _state
    with _lock:
        if _state is not None and _state[0] == os.getpid():
            return _state[1]
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=loop.run_forever, name="rasteret-backend-loop", daemon=True
        )
        thread.start()
        _state = (os.getpid(), loop)
        return loop


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def run(value: Any) -> Any:
    """``value`` itself, or its result when it is awaitable (run on the bridge loop)."""
    if not inspect.isawaitable(value):
        return value
    future = asyncio.run_coroutine_threadsafe(_await(value), _loop())
    try:
        return future.result(timeout=RESULT_TIMEOUT_S)
    except TimeoutError:
        future.cancel()
        raise


def get_range(backend: Any, url: str, start: int, length: int) -> bytes:
    """``backend.get_range(url, start, length)`` awaited, as ``bytes``."""
    out = run(backend.get_range(url, start, length))
    return out if isinstance(out, bytes) else bytes(memoryview(out))


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    seconds = float(value)
    return seconds if math.isfinite(seconds) else None


def _text(key: str, value: Any) -> str:
    if key == "sas_token" and not isinstance(value, str):
        return urlencode(list(value))  # obstore also accepts [(key, value), ...]
    return str(value)


def fetch_credentials(provider: Any) -> tuple[dict[str, str], float | None]:
    """Call ``provider`` (sync or async) and normalise its credential dict.

    Returns the string fields (``access_key_id``/``secret_access_key``/``token``,
    ``sas_token``, ``access_key``...) and ``expires_at`` as POSIX seconds (None: never expires).
    """
    credential = run(provider())
    if not isinstance(credential, Mapping):
        raise TypeError(
            "credential_provider must return a dict (e.g. {'access_key_id': ..., "
            "'secret_access_key': ..., 'token': ..., 'expires_at': datetime | None} or "
            f"{{'sas_token': ..., 'expires_at': ...}}), got {type(credential).__name__}"
        )
    values = {
        str(k): _text(str(k), v)
        for k, v in credential.items()
        if k != "expires_at" and v is not None
    }
    return values, _epoch(credential.get("expires_at"))
