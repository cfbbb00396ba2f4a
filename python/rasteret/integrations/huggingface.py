"""Hugging Face datasets as collections: ``hf://datasets/<repo>[@rev]/<path>`` URIs.

The public helpers of ``rasteret.integrations.huggingface``. They live in
:mod:`rasteret.records.hf`, the record source that streams a dataset's Parquet files
through ``huggingface_hub``'s filesystem (row groups pruned by their statistics); a
``Collection`` loaded from an ``hf://`` URI reads through it.
"""

from rasteret.records.hf import (
    HF_DATASETS_URI_PREFIX,
    HFStreamingSource,
    head_hf_streaming_source,
    is_hf_dataset_uri,
    iter_hf_arrow_tables,
    load_hf_parquet_table,
    open_hf_parquet_dataset,
    open_hf_streaming_source,
    parse_hf_dataset_uri,
    resolve_hf_parquet_paths,
    subset_hf_streaming_source,
)

__all__ = [
    "HF_DATASETS_URI_PREFIX",
    "HFStreamingSource",
    "head_hf_streaming_source",
    "is_hf_dataset_uri",
    "iter_hf_arrow_tables",
    "load_hf_parquet_table",
    "open_hf_parquet_dataset",
    "open_hf_streaming_source",
    "parse_hf_dataset_uri",
    "resolve_hf_parquet_paths",
    "subset_hf_streaming_source",
]
