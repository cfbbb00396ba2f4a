//! Compiles Esri's LERC library (C++17) into a static archive; no bindgen, no libclang.

use std::fs;
use std::path::{Path, PathBuf};

fn cpp_sources(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            cpp_sources(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "cpp") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let base = Path::new("lerc/LercLib");
    let mut sources = Vec::new();
    cpp_sources(base, &mut sources)?;
    sources.sort();
    cc::Build::new()
        .cpp(true)
        .std("c++17")
        .include(base.join("include"))
        .include(base)
        .files(&sources)
        .compile("lerc");
    println!("cargo:rerun-if-changed=lerc/LercLib");
    Ok(())
}
