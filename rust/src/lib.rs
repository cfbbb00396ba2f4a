//! rasteret's Rust core: COG header parsing, range I/O, tile decoding and read planning.

pub mod codec;
pub mod enrich;
pub mod error;
pub mod io;
pub mod python;
pub mod read;
pub mod tiff;
