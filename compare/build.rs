//! Reads the resolved versions of the peers from the workspace's Cargo.lock so the report names
//! exactly what was built.

use std::fs;
use std::path::Path;

fn main() {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = fs::read_to_string(&lock).unwrap_or_default();
    let crates = [
        ("heed", "LARCH_CMP_HEED"),
        ("lmdb-master-sys", "LARCH_CMP_LMDB_SYS"),
        ("redb", "LARCH_CMP_REDB"),
        ("canopydb", "LARCH_CMP_CANOPYDB"),
        ("fjall", "LARCH_CMP_FJALL"),
        ("lsm-tree", "LARCH_CMP_LSM_TREE"),
        ("rusqlite", "LARCH_CMP_RUSQLITE"),
        ("libsqlite3-sys", "LARCH_CMP_LIBSQLITE3_SYS"),
        ("larchdb", "LARCH_CMP_LARCHDB"),
    ];
    for (name, var) in crates {
        println!("cargo:rustc-env={var}={}", version_of(&text, name));
    }
}

/// The version of the first `[[package]]` named `name` in a Cargo.lock, or "?".
fn version_of(lock: &str, name: &str) -> String {
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{name}\"") {
            if let Some(v) = lines.next() {
                if let Some(rest) = v.trim().strip_prefix("version = \"") {
                    return rest.trim_end_matches('"').to_string();
                }
            }
        }
    }
    "?".to_string()
}
