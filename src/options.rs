//! Options chosen when opening a database: [`Durability`], [`Backend`] and the builder's fields.

use crate::error::{Error, Result};
use crate::page::{is_page_size, MAX_PAGE_SIZE, MIN_PAGE_SIZE};

/// Default number of reader slots in the lock file (`Builder::max_readers`), as LMDB's default.
pub(crate) const DEFAULT_MAX_READERS: u32 = 126;
/// The most reader slots a lock file may have (`docs/FORMAT.md` section 18).
pub(crate) const MAX_READERS: u32 = 65_536;

/// How durable a write transaction's commit is when `commit` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `commit` returns after the transaction is on stable storage: its commit log record is
    /// synced (one sync, shared with the commits other threads make meanwhile).
    #[default]
    Immediate,
    /// `commit` does not wait for the disk. A process crash loses nothing; a power loss may lose
    /// the latest Eventual commits, and the database reopens to a consistent committed state.
    /// A background thread syncs the log every [`crate::Builder::sync_interval`] (100 ms by
    /// default), which bounds what a power loss can take; [`crate::Database::sync`] makes them
    /// durable at once. larchdb also syncs by itself every 4096 unsynced commits.
    Eventual,
}

/// Where page reads come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// A read-only memory map of the file (default): reads are slices of the map.
    #[default]
    Mmap,
    /// `pread` into a page cache of `capacity` bytes (ARC replacement), for when a memory map
    /// is not wanted: a database larger than the memory it may use, a container that counts
    /// mapped pages against its limit, a remote filesystem, or a file another process might
    /// truncate (an error here, SIGBUS under a map). Reads are still zero-copy slices of cache
    /// frames. A page evicted while read transactions are reading stays allocated until they
    /// end, so memory is the capacity plus what was evicted during the oldest live read
    /// transaction; values larger than a page bypass the cache and are read once per
    /// transaction. The capacity must hold at least 4 pages, or opening fails with
    /// [`crate::Error::InvalidOption`].
    Cached {
        /// Cache size in bytes.
        capacity: usize,
    },
}

/// Default largest commit log region: 64 MiB.
pub const DEFAULT_LOG_CAPACITY: u64 = 64 << 20;
/// Default interval of the background sync of `Eventual` commits.
pub const DEFAULT_SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// The settings a [`crate::Builder`] collects.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub page_size: usize,
    pub durability: Durability,
    pub backend: Backend,
    pub read_only: bool,
    pub log_capacity: u64,
    pub sync_interval: Option<std::time::Duration>,
    /// A thread of the handle keeps a processor awake while a commit waits for the disk.
    pub keep_awake: bool,
    pub verify_checksums: bool,
    pub max_readers: u32,
    /// The most bytes a write window holds, if not the default (`testing` builds only).
    pub window_bytes: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            page_size: 4096,
            durability: Durability::Immediate,
            backend: default_backend(),
            read_only: false,
            log_capacity: DEFAULT_LOG_CAPACITY,
            sync_interval: Some(DEFAULT_SYNC_INTERVAL),
            keep_awake: true,
            verify_checksums: true,
            max_readers: DEFAULT_MAX_READERS,
            window_bytes: None,
        }
    }
}

#[cfg(feature = "testing")]
thread_local! {
    /// The backend builders on this thread start with (`testing` feature only).
    static DEFAULT_BACKEND: std::cell::Cell<Backend> = const { std::cell::Cell::new(Backend::Mmap) };
}

/// The backend a builder starts with: [`Backend::Mmap`], unless a test on this thread chose
/// another with [`with_default_backend`].
fn default_backend() -> Backend {
    #[cfg(feature = "testing")]
    return DEFAULT_BACKEND.with(|b| b.get());
    #[cfg(not(feature = "testing"))]
    Backend::Mmap
}

/// Runs `f` with builders on this thread starting with `backend` instead of [`Backend::Mmap`]
/// (`testing` feature only): how the test suites run every test on both backends without
/// changing each open.
#[cfg(feature = "testing")]
pub fn with_default_backend<R>(backend: Backend, f: impl FnOnce() -> R) -> R {
    struct Restore(Backend);
    impl Drop for Restore {
        fn drop(&mut self) {
            DEFAULT_BACKEND.with(|b| b.set(self.0));
        }
    }
    let _restore = Restore(DEFAULT_BACKEND.with(|b| b.replace(backend)));
    f()
}

impl Options {
    /// Rejects an out-of-range page size with `InvalidOption`. (The cache's capacity is
    /// checked by the caller, against the storage layer's minimum.)
    pub fn validate(&self) -> Result<()> {
        let ps = self.page_size;
        if !is_page_size(ps) {
            return Err(Error::InvalidOption(format!(
                "page size {ps} is not a power of two in {MIN_PAGE_SIZE}..={MAX_PAGE_SIZE}"
            )));
        }
        let max = MAX_READERS;
        if !(1..=max).contains(&self.max_readers) {
            return Err(crate::Error::InvalidOption(format!(
                "max_readers {} is not in 1..={max}",
                self.max_readers
            )));
        }
        Ok(())
    }
}
