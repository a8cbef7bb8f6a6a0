//! One adapter per engine behind a small object-safe interface, so the workload code is written
//! once. The adapters only translate calls: every engine is used through its ordinary public API.
//!
//! The cost of the dynamic dispatch (a few nanoseconds per call) is the same for every engine.

use std::path::Path;

#[cfg(feature = "canopydb")]
mod canopy;
#[cfg(feature = "fjall")]
mod fjall_kv;
mod larch;
#[cfg(feature = "lmdb")]
mod lmdb;
#[cfg(feature = "redb")]
mod redb_kv;
#[cfg(feature = "sqlite")]
mod sqlite;

/// Errors from any engine, boxed.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// Result with a boxed error.
pub type Result<T> = std::result::Result<T, Error>;

/// Passes each `(key, value)` of `items` to `f` and returns how many there were: the loop behind
/// every adapter's `range_from` and `scan` whose engine yields pairs of byte-like values.
pub fn feed<K, V, E>(
    items: impl Iterator<Item = std::result::Result<(K, V), E>>,
    f: &mut dyn FnMut(&[u8], &[u8]),
) -> Result<usize>
where
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
    Error: From<E>,
{
    let mut seen = 0;
    for item in items {
        let (k, v) = item?;
        f(k.as_ref(), v.as_ref());
        seen += 1;
    }
    Ok(seen)
}

/// How an engine is opened for one section of the workload.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    /// Commits skip the fsync (the relaxed-durability row); otherwise every commit is durable.
    pub relaxed: bool,
    /// Bytes of data the section will hold at most, for engines sized by it (larchdb's cached
    /// backend gets a cache this large, LMDB a map several times larger).
    pub data_bytes: u64,
}

/// A write transaction's operations.
pub trait WriteTxn {
    /// Inserts or overwrites.
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()>;
    /// Removes; whether the key existed (engines that cannot tell cheaply return true).
    fn remove(&mut self, key: &[u8]) -> Result<bool>;
    /// Runs a bulk removal through the engine's own operation for it; the number of entries it
    /// handed to an `ExtractIf` callback (0 for the others).
    fn bulk(&mut self, op: Bulk<'_>) -> Result<u64> {
        Err(unsupported(op.name()))
    }
}

/// A predicate over an entry.
pub type Pick<'a> = &'a mut dyn FnMut(&[u8], &[u8]) -> bool;
/// A callback given an entry.
pub type Visit<'a> = &'a mut dyn FnMut(&[u8], &[u8]);

/// A bulk removal, each through the engine's own operation.
pub enum Bulk<'a> {
    /// Keeps only the entries the predicate accepts.
    Retain(Pick<'a>),
    /// Removes the entries the predicate accepts, handing each to the callback.
    ExtractIf(Pick<'a>, Visit<'a>),
    /// Removes the first (true) or last entry.
    Pop(bool),
    /// Removes the keys in `lo..hi`, the engine's cheapest way.
    RemoveRange(&'a [u8], &'a [u8]),
}

impl Bulk<'_> {
    /// The operation's name.
    pub fn name(&self) -> &'static str {
        match self {
            Bulk::Retain(_) => "retain",
            Bulk::ExtractIf(..) => "extract_if",
            Bulk::Pop(_) => "pop_first/pop_last",
            Bulk::RemoveRange(..) => "remove_range",
        }
    }
}

/// The error of an operation an engine's adapter does not offer.
pub fn unsupported(what: &str) -> Error {
    format!("{what}: not offered by this engine").into()
}

/// A read transaction's operations (a stable snapshot).
pub trait ReadTxn {
    /// Looks `key` up and hands the value to `f`; whether it was found.
    fn get(&self, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<bool>;
    /// The number of entries (through the engine's own count).
    fn len(&self) -> Result<u64>;
    /// Visits up to `n` entries from `start` (inclusive) upwards; the number visited.
    fn range_from(&self, start: &[u8], n: usize, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize>;
    /// Visits every entry in key order; the number visited.
    fn scan(&self, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize>;
    /// Visits every entry in descending key order (the engine's reverse iterator); the number
    /// visited.
    fn scan_back(&self, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize>;
}

/// One open database with one table.
pub trait Engine: Sync {
    /// Runs `f` in one write transaction on the benchmark table, then commits it (durably,
    /// unless opened relaxed).
    fn write(&self, f: &mut dyn FnMut(&mut dyn WriteTxn) -> Result<()>) -> Result<()>;
    /// Runs `f` in one read transaction on the benchmark table.
    fn read(&self, f: &mut dyn FnMut(&dyn ReadTxn) -> Result<()>) -> Result<()>;
    /// Compacts the file if the engine can. `dir` is the engine's directory (LMDB writes its
    /// compacted copy there).
    fn compact(&mut self, dir: &Path) -> Result<Compacted>;
}

/// What `Engine::compact` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    not(any(
        feature = "lmdb",
        feature = "redb",
        feature = "canopydb",
        feature = "fjall",
        feature = "sqlite"
    )),
    allow(dead_code)
)]
pub enum Compacted {
    /// The engine has no compaction (every engine compared now has one; kept for those added
    /// later).
    #[allow(dead_code)]
    Unsupported,
    /// The engine's files were compacted in place: measure the directory.
    InPlace,
    /// A compacted copy was written (and removed again): its length and its allocated bytes.
    Copy { len: u64, allocated: u64 },
}

/// What the report says about an engine: name, versions, and the configuration used.
pub struct Describe {
    /// Version string.
    pub version: String,
    /// Configuration (durability, journal mode, ...).
    pub config: String,
}

/// Every engine this binary was built with, in report order.
pub fn compiled() -> Vec<&'static str> {
    let mut v = vec!["larchdb", "larchdb-cached"];
    if cfg!(feature = "lmdb") {
        v.push("lmdb");
    }
    if cfg!(feature = "redb") {
        v.push("redb");
    }
    if cfg!(feature = "canopydb") {
        v.push("canopydb");
    }
    if cfg!(feature = "fjall") {
        v.push("fjall");
    }
    if cfg!(feature = "sqlite") {
        v.push("sqlite");
    }
    v
}

/// Whether `name` is one of larchdb's own variants (left out of "best peer").
pub fn is_larch(name: &str) -> bool {
    name.starts_with("larchdb")
}

/// Opens engine `name` in the empty directory `dir`.
pub fn open(name: &str, dir: &Path, opts: OpenOptions) -> Result<Box<dyn Engine>> {
    match name {
        "larchdb" => larch::open(dir, opts, false),
        "larchdb-cached" => larch::open(dir, opts, true),
        #[cfg(feature = "lmdb")]
        "lmdb" => lmdb::open(dir, opts),
        #[cfg(feature = "redb")]
        "redb" => redb_kv::open(dir, opts),
        #[cfg(feature = "canopydb")]
        "canopydb" => canopy::open(dir, opts),
        #[cfg(feature = "fjall")]
        "fjall" => fjall_kv::open(dir, opts),
        #[cfg(feature = "sqlite")]
        "sqlite" => sqlite::open(dir, opts),
        other => Err(format!("engine {other:?} is not compiled in (see --help)").into()),
    }
}

/// Version and configuration of engine `name`, for the report and the methodology doc.
pub fn describe(name: &str) -> Describe {
    match name {
        "larchdb" => larch::describe(false),
        "larchdb-cached" => larch::describe(true),
        #[cfg(feature = "lmdb")]
        "lmdb" => lmdb::describe(),
        #[cfg(feature = "redb")]
        "redb" => redb_kv::describe(),
        #[cfg(feature = "canopydb")]
        "canopydb" => canopy::describe(),
        #[cfg(feature = "fjall")]
        "fjall" => fjall_kv::describe(),
        #[cfg(feature = "sqlite")]
        "sqlite" => sqlite::describe(),
        _ => Describe {
            version: "?".into(),
            config: "not compiled in".into(),
        },
    }
}
