//! Concurrent header parsing of many URLs into an Arrow batch of `{band}_metadata` structs.

#[cfg(feature = "runtime")]
pub mod parse_many;
pub mod schema;

#[cfg(feature = "runtime")]
pub use parse_many::{parse_many, parse_one, DEFAULT_READAHEAD_BYTES};
pub use schema::{bits_of_dtype, dtype_name, metadata_array};
