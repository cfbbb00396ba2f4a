//! Fuzzing entry points: each takes arbitrary bytes, drives one hostile-input surface of the
//! crate and checks what must hold whatever the input.
//!
//! The cargo-fuzz targets in `fuzz/` are one-line wrappers around these functions, and
//! `rust/tests/fuzz_regressions.rs` replays the seed corpus and every saved crasher through
//! them, so a bug found once stays fixed. A panic anywhere below is a bug of the crate; a
//! returned [`Violation`] is a broken invariant (the fuzz target turns it into a crash).
//!
//! Invariants checked for every input:
//! - no panic, no hang, memory bounded by the sizes the input declares;
//! - no [`Kind::Internal`](crate::error::Kind::Internal) error (those mean "a bug of ours");
//! - decoders: decoding fewer rows gives a prefix of decoding all rows, and the deferred
//!   predictor path gives the same samples as the plain one;
//! - header parser: parsing through range requests gives the same header as parsing the
//!   whole file;
//! - planner: every placement of a valid plan lies inside its decoded tile and inside the
//!   output size the plan reports.

mod decode;
mod header;
mod plan;
mod plan_import;

use std::fmt;

use crate::error::{Error, Kind};

pub use decode::{decode_seed, decode_tile};
pub use header::{geo_tags, parse_header};
pub use plan::plan_windows;
pub use plan_import::plan_import;

/// A broken invariant: what was expected and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Violation {}

/// Outcome of one fuzz input.
pub type Checked = std::result::Result<(), Violation>;

/// A fuzz entry point.
pub type Target = fn(&[u8]) -> Checked;

/// Every entry point by the name of its fuzz target (and of its corpus directories).
pub const TARGETS: [(&str, Target); 5] = [
    ("decode_tile", decode_tile),
    ("parse_header", parse_header),
    ("geo_tags", geo_tags),
    ("plan_windows", plan_windows),
    ("plan_import", plan_import),
];

/// A [`Violation`] when `e` is an internal error (a bug, whatever the input).
fn not_internal(e: &Error, what: &str) -> Checked {
    if e.kind() == Kind::Internal {
        return Err(Violation(format!("{what}: internal error: {e}")));
    }
    Ok(())
}

/// Reads fuzz bytes as a stream of small values; past the end every value is zero.
struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for (o, b) in out.iter_mut().zip(self.bytes(N)) {
            *o = *b;
        }
        out
    }

    fn u8(&mut self) -> u8 {
        u8::from_le_bytes(self.array())
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.array())
    }

    fn f64(&mut self) -> f64 {
        f64::from_le_bytes(self.array())
    }

    /// A value in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        usize::from(self.u8()).checked_rem(n).unwrap_or(0)
    }

    /// The bytes not read yet.
    fn rest(&mut self) -> &'a [u8] {
        self.bytes(self.data.len())
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}
