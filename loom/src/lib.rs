//! The loom model tests of larchdb's concurrency cores: version publication and page-reuse
//! gating (`src/txn/versions.rs`), and group commit's handoff between committers and the thread
//! that syncs the log for them (`src/txn/group_sync.rs`).
//!
//! Each library file is compiled here as it stands, with `cfg(loom)` (set by `build.rs`), which
//! swaps its primitives for loom's through the file's `sync` module; its `model` test module then
//! runs (`cargo test -p larch-loom`, as `.ci/run` does). The files depend on nothing else of the
//! library: `versions.rs` is generic over the version it publishes, `group_sync.rs` over what is
//! synced and what is published. A package of its own keeps loom out of the library's dependency
//! graph and keeps the build small (loom and these files, about 30 s on two cores), where
//! `RUSTFLAGS="--cfg loom"` would rebuild every dependency and dev-dependency of the library in a
//! separate target directory (2.5 minutes).
//!
//! What each model covers, checks and assumes is in the doc comments of the file's `sync` module
//! and `model` test module. In short:
//! - `versions`: readers taking and dropping snapshots while the writer computes reuse gates,
//!   reuses pages and publishes versions; checked: no page a live snapshot reaches is overwritten.
//!   Assumes arc-swap's contract (its cell is stood in for by a lock) and std `Arc` counts.
//!   Explored exhaustively.
//! - `group_sync`: two or three threads committing (`Immediate`, `Eventual`), checkpointing or
//!   syncing in the background, any of them leading a sync, one sync failing or none; checked: a
//!   wait returns `Ok` only once a sync that started after the append (or a checkpoint) made the
//!   commit durable, one leader at a time, no hang, a failed sync fails every waiter and nothing
//!   after it becomes durable, publication in commit order and only once durable; six deliberate
//!   bugs in the core are each caught. Assumes the file behaves like the model's stand-in (a set
//!   of durable commits). Explored up to a preemption bound of 5 per execution (89,000
//!   executions, 5-10 s); it passes unbounded too (780,000 executions, about a minute).

#[cfg(test)]
#[path = "../../src/txn/versions.rs"]
mod versions;

#[cfg(test)]
#[path = "../../src/txn/group_sync.rs"]
mod group_sync;
