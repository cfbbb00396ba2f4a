"""``rasteret demo``: an offline end-to-end run on a synthetic Sentinel-2-like archive.

:mod:`~rasteret._demo.archive` writes the COGs and a static STAC catalog,
:mod:`~rasteret._demo.run` serves them on 127.0.0.1 and drives the public API, and
:mod:`~rasteret._demo.quicklook` writes the PNG quick-look.
"""

from rasteret._demo.run import DemoResult, format_result, run

__all__ = ["DemoResult", "format_result", "run"]
