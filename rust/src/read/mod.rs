//! Read planner: windows per (record, band) -> tiles -> fetch -> decode -> place.

pub mod arrow;
#[cfg(feature = "runtime")]
pub mod execute;
pub mod plan;
#[cfg(feature = "runtime")]
pub mod tile_cache;
#[cfg(feature = "runtime")]
pub mod zonal;

#[cfg(feature = "runtime")]
pub use execute::{execute, execute_with_progress, tiles_to_fetch, ReadOptions, WindowFailure};
pub use plan::{plan_reads, ReadPlan, Window, WindowRequest};
#[cfg(feature = "runtime")]
pub use tile_cache::{read_cached, TileCache};
