//! The loom model test of larchdb's version publication and page-reuse gating.
//!
//! The library's `src/txn/versions.rs` is compiled here as it stands, with `cfg(loom)` (set by
//! `build.rs`), which swaps its arc-swap cell and parking_lot mutex for loom's primitives; its
//! `model` test module then runs (`cargo test -p larch-loom`, as `.ci/run` does). A package of
//! its own keeps loom out of the library's dependency graph and keeps the build small (loom and
//! this one file, about 30 s on two cores), where `RUSTFLAGS="--cfg loom"` would rebuild every
//! dependency and dev-dependency of the library in a separate target directory (2.5 minutes).

#[cfg(test)]
#[path = "../../src/txn/versions.rs"]
mod versions;
