"""Any Arrow-producing object (pyarrow, Polars, DuckDB, GeoPandas...) as pyarrow
(``rasteret.core.arrow_interop``; implemented in :mod:`rasteret.geo.arrow_input`)."""

from rasteret.geo.arrow_input import as_dataset, as_reader, as_table, as_table_or_none

__all__ = ["as_dataset", "as_reader", "as_table", "as_table_or_none"]
