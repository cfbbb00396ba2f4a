//! Concurrent header parsing of many URLs into an Arrow batch of `{band}_metadata` structs.

pub mod parse_many;
pub mod schema;

pub use parse_many::{parse_many, parse_one, DEFAULT_READAHEAD_BYTES};
pub use schema::{bits_of_dtype, dtype_name, metadata_array};
