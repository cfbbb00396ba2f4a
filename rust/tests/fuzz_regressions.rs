//! Replays every fuzz input kept in the repository through the entry point its fuzz target
//! runs (`_core::fuzzing`): the seed corpus (`fuzz/corpus/<target>/`) and every crasher ever
//! found (`fuzz/regressions/<target>/`). Each must finish without a panic and without a
//! broken invariant, so a bug the fuzzers found once stays fixed.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use _core::fuzzing::{Checked, TARGETS};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `dir` (none when it does not exist), sorted.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Run each input of `kind` ("corpus" or "regressions") through its target; returns how many
/// ran, per target, and fails listing every input that panicked or broke an invariant.
fn replay(kind: &str) -> Vec<(&'static str, usize)> {
    let mut failures = Vec::new();
    let mut counts = Vec::new();
    for (name, check) in TARGETS {
        let files = inputs(&fuzz_dir().join(kind).join(name));
        for path in &files {
            let data = std::fs::read(path).expect("read fuzz input");
            let outcome: std::thread::Result<Checked> = std::panic::catch_unwind(|| check(&data));
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(violation)) => failures.push(format!("{}: {violation}", path.display())),
                Err(_) => failures.push(format!("{}: panicked", path.display())),
            }
        }
        counts.push((name, files.len()));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    counts
}

/// Crashers are added by `scripts/fuzz-ci.sh` when a fuzz run fails (none so far: see
/// `fuzz/regressions/README.md`); each must pass once its bug is fixed.
#[test]
fn every_saved_crasher_is_handled() {
    replay("regressions");
}

#[test]
fn every_seed_is_handled_and_each_target_has_seeds() {
    for (name, n) in replay("corpus") {
        assert!(n > 0, "fuzz/corpus/{name}/ holds no seed");
    }
}
