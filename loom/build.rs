//! Compiles this package with `cfg(loom)`, which makes src/txn/versions.rs and
//! src/txn/group_sync.rs use loom's primitives.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
    println!("cargo::rustc-cfg=loom");
}
