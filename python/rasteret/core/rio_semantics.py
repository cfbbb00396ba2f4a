"""Placing a source on a query grid exactly like ``rasterio.merge.merge``.

The public names of ``rasteret.core.rio_semantics``; the rules live in
:mod:`rasteret.read.grid`, shared by ``read_window``, TorchGeo chips and the AOI reads.
"""

from rasteret.read.grid import MergeGrid, merge_semantic_resample_single_source

__all__ = ["MergeGrid", "merge_semantic_resample_single_source"]
