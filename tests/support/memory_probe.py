"""Run one piece of rasteret work in a fresh Python process and report its peak memory.

The child runs ``setup`` (imports, inputs, and a warm-up read so the engine's runtime,
thread pools and clients exist), resets the kernel's high-water mark of its resident set to
the current RSS (``/proc/self/clear_refs``), takes that as the baseline, runs ``case``, and
reports the outcome (a JSON-able result, or the exception class, message and causes) with
the growth of the high-water mark (``VmHWM``) over the baseline. ``VmHWM`` rather than
``getrusage().ru_maxrss``: in a child started by fork + exec the latter also counts the
parent's resident set at the fork. A fresh process per case keeps one case's allocations
out of another's peak; a crash (abort, signal) shows as a non-zero exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Measured", "run_measured"]

_HARNESS = """
import json, sys

def _status_mib(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(key + " is not in /proc/self/status")

def _peak_mib():
    return _status_mib("VmHWM")

def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass  # then the baseline is the peak so far, which is higher: a stricter test

ARGS = json.loads(sys.stdin.read())
{body}

_inputs = setup(ARGS)
_reset_peak()
_baseline = _peak_mib()
_report = {{}}
try:
    _report["result"] = case(ARGS, _inputs)
except BaseException as exc:
    chain, seen = [], exc
    while seen is not None and len(chain) < 8:
        chain.append(type(seen).__module__ + "." + type(seen).__qualname__)
        seen = seen.__cause__ or seen.__context__
    _report["error_type"] = chain[0]
    _report["error_chain"] = chain
    _report["error"] = str(exc)
_peak = _peak_mib()
_report.update(baseline_mib=_baseline, peak_mib=_peak, growth_mib=_peak - _baseline)
print("MEASURED " + json.dumps(_report))
"""


@dataclass
class Measured:
    """What a child reported: ``result`` (the case's return value) or the error it raised,
    and its peak RSS before (``baseline_mib``) and after (``peak_mib``) the case."""

    baseline_mib: float
    peak_mib: float
    growth_mib: float
    result: Any = None
    error_type: str | None = None
    error_chain: list[str] = field(default_factory=list)
    error: str | None = None


def run_measured(
    body: str | Sequence[str], args: dict[str, Any], *, timeout: float = 600
) -> Measured:
    """Run ``body`` (source, or pieces of source each dedented on its own, defining
    ``setup(args)`` and ``case(args, inputs)``) in a fresh interpreter with ``args`` and
    return what it measured; fails the test on a crash."""
    parts = [body] if isinstance(body, str) else list(body)
    script = _HARNESS.format(body="\n".join(textwrap.dedent(p) for p in parts))
    tests_dir = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), tests_dir) if p)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": path},
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("MEASURED ")]
    assert proc.returncode == 0 and lines, (
        f"the child exited with {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return Measured(**json.loads(lines[-1].removeprefix("MEASURED ")))
