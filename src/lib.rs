//! larchdb: an embedded, transactional, ordered key-value store in one file.
//!
//! A page-oriented copy-on-write B+tree read through a memory map with zero copies, with MVCC
//! snapshots for any number of readers and one writer. See `docs/FORMAT.md` for the on-disk
//! format and the commit protocol, and `docs/ARCHITECTURE.md` for the layers, the life of a read
//! and of a commit, and where each invariant is enforced.
//!
//! ```
//! use std::ops::Bound;
//! use larchdb::{Database, Durability};
//!
//! # fn main() -> larchdb::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("app.larch");
//! let db = Database::open(&path)?;
//! let mut wtx = db.begin_write()?;
//! {
//!     let mut users = wtx.open_table("users")?;
//!     users.insert(b"alice", b"admin")?;
//!     users.insert(b"bob", b"reader")?;
//! }
//! wtx.set_durability(Durability::Immediate);
//! wtx.commit()?;
//!
//! let rtx = db.begin_read()?;
//! let users = rtx.open_table("users")?;
//! assert_eq!(users.get(b"alice")?, Some(&b"admin"[..]));
//! let names: Vec<&[u8]> = users
//!     .range((Bound::Included(&b"a"[..]), Bound::Excluded(&b"c"[..])))?
//!     .map(|e| e.map(|(k, _)| k))
//!     .collect::<larchdb::Result<_>>()?;
//! assert_eq!(names, [&b"alice"[..], &b"bob"[..]]);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod alloc;
mod backup;
mod btree;
mod catalog;
mod compact;
mod db;
mod error;
#[cfg(feature = "testing")]
mod fuzz_api;
mod integrity;
mod options;
mod page;
mod recovery;
mod replay;
#[cfg(any(test, feature = "testing"))]
mod rng;
mod store;
mod table;
mod txn;

/// The README's example is compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Test support (cargo feature `testing`): the simulated disk for crash and fault injection, the
/// fuzzing entry points, and a per-thread default backend.
#[cfg(feature = "testing")]
pub mod testing {
    pub use crate::db::{bound_syncs, deferred_roots};
    pub use crate::fuzz_api::*;
    pub use crate::options::with_default_backend;
    pub use crate::rng::Rng;
    pub use crate::store::arc::{ArcLens, ArcList, ArcPolicy};
    pub use crate::store::lru::LruPolicy;
    pub use crate::store::policy::trace::{hit_rate, Workload, Zipf};
    pub use crate::store::policy::ReplacementPolicy;
    pub use crate::store::sim::SimDisk;
    /// The checksum the format uses (xxh3-64), for tests that forge or patch structures.
    pub use xxhash_rust::xxh3::xxh3_64;
}

pub use backup::Backup;
pub use catalog::MAX_TABLE_NAME_LEN;
pub use compact::Compaction;
pub use db::{Builder, Database};
pub use error::{Error, Result};
pub use integrity::{Stats, TableStats};
pub use options::{Backend, Durability};
pub use recovery::Recovery;
pub use store::cache::CacheStats;
#[cfg(feature = "serde")]
pub use table::Serde;
pub use table::{
    BytesRef, ExtractIf, Key, KeyBytes, KeyRange, Multimap, MultimapDef, MultimapMut, MultimapOf,
    Nested, Range, RangeMut, ReadableTable, Savepoint, Table, TableDef, TableMut, Typed,
    TypedMultimap, TypedMultimapMut, TypedOver, TypedRange, TypedRangeMut, TypedTable,
    TypedTableMut, TypedValues, Value, ValueMut, Values, WriteTxn,
};
pub use txn::metrics::Metrics;
pub use txn::read::ReadTxn;
pub use txn::write::MAX_VALUE_LEN;
