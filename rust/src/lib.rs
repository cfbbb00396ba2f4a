//! rasteret's Rust core: COG header parsing, range I/O, tile decoding, read planning and
//! polygon masks.

pub mod codec;
pub mod enrich;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod geom;
#[cfg(feature = "runtime")]
pub mod io;
#[cfg(feature = "runtime")]
pub mod python;
pub mod read;
pub mod tiff;

/// mimalloc instead of the system allocator: the read path allocates and frees many
/// tile-sized (hundreds of KiB) buffers, which glibc serves with mmap/munmap and fresh page
/// faults each time in a new process.
#[cfg(feature = "runtime")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
