//! Read planner: windows per (record, band) -> tiles -> fetch -> decode -> place.

pub mod arrow;
pub mod execute;
pub mod plan;
pub mod tile_cache;
pub mod zonal;

pub use execute::{execute, execute_with_progress, tiles_to_fetch, ReadOptions, WindowFailure};
pub use plan::{plan_reads, ReadPlan, Window, WindowRequest};
pub use tile_cache::{read_cached, TileCache};
