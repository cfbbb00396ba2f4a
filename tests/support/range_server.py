"""Re-export of :class:`rasteret._demo.range_server.RangeServer` for the tests.

Imported from the installed (or source) ``rasteret`` package when possible; otherwise the
module is loaded straight from ``python/rasteret/_demo/range_server.py`` so the fixtures work
without the compiled engine.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

try:
    from rasteret._demo.range_server import FAULT_MODES, RangeServer, RequestLog, parse_range
except ImportError:  # rasteret not importable (engine not built): load the file directly
    _SOURCE = Path(__file__).resolve().parents[2] / "python" / "rasteret"
    _PATH = _SOURCE / "_demo" / "range_server.py"
    _spec = importlib.util.spec_from_file_location("_rasteret_range_server", _PATH)
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = _module
    _spec.loader.exec_module(_module)
    FAULT_MODES = _module.FAULT_MODES
    RangeServer = _module.RangeServer
    RequestLog = _module.RequestLog
    parse_range = _module.parse_range

__all__ = ["FAULT_MODES", "RangeServer", "RequestLog", "parse_range"]
