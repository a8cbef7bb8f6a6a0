//! Storage backends: the database file, its lock, its growth, and the two ways pages are read:
//! the read-only memory map, or `pread` into a bounded page cache ([`cache`]). All of larchdb's
//! `unsafe` code lives in this module.
//!
//! Committed pages wait in a write window ([`window`]) that readers consult first, and reach the
//! file when it is flushed. Writes never go through the map: pages are written with
//! `pwrite`/`pwritev`, so a stray pointer cannot corrupt the file. The map reserves address space
//! well beyond the file, so growth rarely needs a new mapping; when it does, the old mapping lives
//! on (behind an `Arc`) until the last snapshot that reads through it is dropped.
//!
//! Pages read from the file are verified before any read relies on them (`verified.rs`): with
//! the map at a page's first touch after the open, with the cache at every miss.
//!
//! The one thing Rust cannot check: another process truncating or rewriting the file under the
//! map. Reading a page past a truncated end raises SIGBUS. Users who cannot rule that out use the
//! cached backend, where a short read is an error.
//!
//! Every change to the file goes through the storage seam ([`storage::Storage`]): the file's
//! own system calls ([`storage::PlainFile`]), or with the `testing` feature the simulated disk
//! (`sim.rs`) in front of them. [`FileStore`] holds one by type ([`Disk`]) and keeps the policy:
//! the lock, when and by how much the file grows or shrinks, the map and the page cache.
//!
//! `unsafe` is allowed only where it is needed (`unsafe_code` is denied crate-wide): on the
//! lock and mapping below, the write system calls in `storage.rs`, and in `view.rs`,
//! `window.rs`, `slots.rs`, `frame.rs`, `cache.rs` and `cache_writes.rs`.

#[cfg_attr(not(feature = "testing"), allow(dead_code))]
pub(crate) mod arc;
pub(crate) mod cache;
mod epochs;
mod frame;
pub(crate) mod hasher;
mod log_map;
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
pub(crate) mod lru;
mod pagebuf;
pub(crate) mod policy;
pub(crate) mod readers;
#[cfg(feature = "testing")]
pub mod sim;
mod slots;
pub(crate) mod storage;
mod verified;
mod view;
pub(crate) mod window;

pub(crate) use pagebuf::{release_idle, PageBuf, DECAY};
pub(crate) use verified::Verifier;
pub(crate) use view::{prefetch, Backing, Overlay, TxnView, View};
pub(crate) use window::Window;

use crate::error::{Error, Result};
use std::fs::File;
use std::io;
use std::os::unix::io::AsRawFd;
use std::sync::Arc;
use storage::Storage;

/// The storage a [`FileStore`] writes through: the file itself. A `testing` build puts the
/// simulated disk's `TestFile` in its place (the file itself, or the file behind a simulated
/// disk, chosen at open), so that the production path has no test hooks.
#[cfg(not(feature = "testing"))]
pub(crate) type Disk = storage::PlainFile;
/// The storage a [`FileStore`] writes through: in a `testing` build, the file itself or the file
/// behind a simulated disk, chosen at open.
#[cfg(feature = "testing")]
pub(crate) type Disk = sim::TestFile;

/// Read access to pages: implemented by the committed view of a snapshot and by a write
/// transaction's view (its dirty pages over the committed ones).
pub(crate) trait PageSource {
    /// Page `pgno`, exactly one page long.
    fn page(&self, pgno: u64) -> Result<&[u8]>;
    /// `npages` consecutive pages starting at `pgno` (an overflow run).
    fn run(&self, pgno: u64, npages: u64) -> Result<&[u8]>;
    /// The page size.
    fn page_size(&self) -> usize;
    /// A hint that the `npages` pages from `pgno` will be read soon (a scan is on its way to
    /// them). It changes nothing a read returns; the default ignores it.
    fn will_need(&self, _pgno: u64, _npages: u64) {}
    /// Whether every page this source reads from the file passed its checksum before it was
    /// returned (pages it holds in memory are its own handle's). A page whose checksum is seeded
    /// with its page number then lies where it was written; the default says no.
    fn verifies_checksums(&self) -> bool {
        false
    }
}

/// The smallest address-space reservation for a mapping.
const MIN_MAP_RESERVE: u64 = 1 << 30;
/// Growth is preallocated in chunks of a sixteenth of the file's length (about 6%: a file's
/// length is counted against it, and LMDB's and SQLite's grow by what they write)...
const GROWTH_DIVISOR: u64 = 16;
/// ...of at least this many bytes...
const MIN_GROWTH: u64 = 1 << 20;
/// ...and at most this many beyond what is needed.
const MAX_GROWTH: u64 = 256 << 20;
/// A new empty file that lives in memory only and disappears with its last descriptor, for an
/// in-memory database: on Linux an anonymous memory file (`memfd_create`); elsewhere a file in
/// the temporary directory, removed from it as soon as it is open.
#[allow(unsafe_code)] // memfd_create, from_raw_fd
pub(crate) fn anonymous_file() -> io::Result<File> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use std::os::fd::FromRawFd;
        // SAFETY: memfd_create reads the NUL-terminated name we pass (a static C string) and
        // takes integer flags; it touches no other memory of ours.
        let fd = unsafe { libc::memfd_create(c"larchdb".as_ptr(), libc::MFD_CLOEXEC) };
        if fd >= 0 {
            // SAFETY: `fd` is a descriptor memfd_create just opened for us and nothing else owns.
            return Ok(unsafe { File::from_raw_fd(fd) });
        }
        // No memfd (a kernel before 3.17, or a sandbox that forbids it): the fallback below.
    }
    unlinked_temp_file()
}

/// A new file in the temporary directory, already removed from it (it lives while open).
fn unlinked_temp_file() -> io::Result<File> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir();
    for _ in 0..100 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            ".larchdb-memory-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => {
                std::fs::remove_file(&path)?;
                return Ok(file);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free name for a temporary file",
    ))
}

/// The open database file, locked for this handle.
pub(crate) struct FileStore {
    /// What the file's changes go through.
    disk: Disk,
    /// The file's length as this handle last set or saw it, so growth checks need no `fstat`.
    known_len: std::sync::atomic::AtomicU64,
    /// Holds the file's exclusive `flock` (a writable handle).
    writer: bool,
}

#[allow(unsafe_code)] // flock, mmap
impl FileStore {
    /// Takes over the storage of an open file; for a writable handle (`writer`), locks the file
    /// exclusively with `flock`, failing with `DatabaseLocked` if another handle has it. The lock
    /// is on the file itself, so two writers are refused whatever paths (symbolic or hard links)
    /// they opened it by. Read-only handles take no `flock`: they meet the writer in the lock
    /// file (`readers.rs`).
    pub fn lock(disk: impl Into<Disk>, writer: bool) -> Result<FileStore> {
        let disk = disk.into();
        if writer {
            // A read-only handle's probe (`writer_holds_file`) holds a shared lock for a moment:
            // try a few times before calling the file locked.
            let mut tries = 0;
            loop {
                match Self::flock(disk.file(), libc::LOCK_EX | libc::LOCK_NB) {
                    Err(Error::DatabaseLocked) if tries < 10 => {
                        tries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    r => break r?,
                }
            }
        }
        let known_len = std::sync::atomic::AtomicU64::new(disk.file().metadata()?.len());
        Ok(FileStore {
            disk,
            known_len,
            writer,
        })
    }

    /// `flock(op)` on `file`: `DatabaseLocked` if it would block.
    fn flock(file: &File, op: libc::c_int) -> Result<()> {
        // SAFETY: flock takes a file descriptor we own (alive for the duration of the call) and
        // plain integer flags; it touches no memory of ours.
        let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
        if rc != 0 {
            let err = io::Error::last_os_error();
            return Err(if err.kind() == io::ErrorKind::WouldBlock {
                Error::DatabaseLocked
            } else {
                Error::Io(err)
            });
        }
        Ok(())
    }

    /// Whether a writable handle has the file open (holds its `flock`), through whatever path:
    /// a read-only handle asks, to tell a writer that uses another lock file (it opened the
    /// database through a hard link) from none.
    pub fn writer_holds_file(&self) -> Result<bool> {
        match Self::flock(self.disk.file(), libc::LOCK_SH | libc::LOCK_NB) {
            Ok(()) => {
                Self::flock(self.disk.file(), libc::LOCK_UN)?;
                Ok(false)
            }
            Err(Error::DatabaseLocked) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Current length of the file in bytes.
    pub fn len(&self) -> Result<u64> {
        Ok(self.disk.file().metadata()?.len())
    }

    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read (short at EOF).
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        Ok(storage::read_full_at(self.disk.file(), buf, offset)?)
    }

    /// Writes `buf` at `offset` in full.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        Ok(self.disk.write_at(buf, offset)?)
    }

    /// Writes `buf`, a commit log record, at `offset` ([`Storage::write_log_at`]: small records
    /// through a shared mapping of the file, with no system call).
    pub fn write_log_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        Ok(self.disk.write_log_at(buf, offset)?)
    }

    /// Writes pages (or overflow runs), given as `(pgno, bytes)` sorted by page number: pages
    /// that follow one another go in few system calls ([`Storage::write_pages`]).
    pub fn write_pages(&self, pages: &[(u64, &[u8])], page_size: usize) -> Result<()> {
        Ok(self.disk.write_pages(pages, page_size)?)
    }

    /// Writes `buf` at `offset` and makes exactly those bytes durable before returning
    /// (`pwritev2` with `RWF_DSYNC`: the kernel writes back and flushes that range only, not the
    /// other dirty pages of the file; [`Storage::write_durable_at`]).
    pub fn write_durable_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        Ok(self.disk.write_durable_at(buf, offset)?)
    }

    /// Asks the kernel to start writing the file's dirty pages back, without waiting for it and
    /// without making anything durable, so that the next checkpoint's `fdatasync` finds less to
    /// write. Best effort: an error here changes nothing.
    pub fn start_writeback(&self) {
        self.disk.start_writeback();
    }

    /// Whether a full write window may be flushed, and a large commit's write-back started, on
    /// threads of their own (not on the simulated disk, which must see one order of operations
    /// per run).
    pub fn background_writes(&self) -> bool {
        self.disk.background_writes()
    }

    /// Makes everything written so far durable (`fdatasync`).
    pub fn sync(&self) -> Result<()> {
        Ok(self.disk.sync()?)
    }

    /// Ensures the file is at least `needed` bytes long, preallocating in chunks so that a full
    /// disk shows up here, as an error, and never as SIGBUS on a later read of the map.
    pub fn grow(&self, needed: u64, page_size: usize) -> Result<()> {
        use std::sync::atomic::Ordering;
        if self.known_len.load(Ordering::Acquire) >= needed {
            return Ok(());
        }
        let len = self.len()?;
        if len >= needed {
            self.known_len.store(len, Ordering::Release);
            return Ok(());
        }
        let extra = (len / GROWTH_DIVISOR).clamp(MIN_GROWTH, MAX_GROWTH);
        let target = (needed + extra).next_multiple_of(page_size as u64);
        let new_len = self.disk.allocate(len, target, needed)?;
        self.known_len.store(new_len, Ordering::Release);
        Ok(())
    }

    /// After a checkpoint whose pages end at byte `used` is durable: truncates the file to `used`
    /// if it extends more than twice the growth step ([`Self::grow`]) beyond it, so that growing
    /// and shrinking do not alternate. Returns whether it truncated. Only pages that no snapshot
    /// can reach lie beyond `used`: readers never touch them, so the map never faults.
    ///
    /// With `exact` (compaction), any space beyond `used` is given back.
    pub fn shrink(&self, used: u64, exact: bool) -> Result<bool> {
        let len = self.len()?;
        let step = match exact {
            true => 0,
            false => (used / GROWTH_DIVISOR).clamp(MIN_GROWTH, MAX_GROWTH),
        };
        if len <= used.saturating_add(2 * step) {
            return Ok(false);
        }
        self.set_len(used)?;
        Ok(true)
    }

    /// Sets the file length (when initialising an empty file, and by [`Self::shrink`]).
    pub fn set_len(&self, len: u64) -> Result<()> {
        self.disk.set_len(len)?;
        self.known_len
            .store(len, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// A page cache of `capacity` bytes reading this file (through its own descriptor), checking
    /// every page it reads from the file with `verify` (if given) before caching it.
    pub fn page_cache(
        &self,
        page_size: usize,
        capacity: usize,
        verify: Option<Verifier>,
    ) -> Result<Arc<cache::PageCache>> {
        let file = self.disk.file().try_clone()?;
        Ok(Arc::new(cache::PageCache::new(
            file, page_size, capacity, verify,
        )?))
    }

    /// Maps the file read-only, reserving at least `min_len` bytes of address space. With
    /// `verify`, each page of `page_size` bytes is checked with it at its first touch through the
    /// map ([`Map::page`]).
    pub fn map(
        &self,
        min_len: u64,
        page_size: usize,
        verify: Option<Verifier>,
    ) -> Result<Arc<Map>> {
        let reserve = min_len
            .saturating_mul(2)
            .max(MIN_MAP_RESERVE)
            .next_power_of_two();
        let reserve = usize::try_from(reserve)
            .map_err(|_| Error::InvalidOption("file too large to map".into()))?;
        // SAFETY: the map is read-only and larchdb only reads pages that a live snapshot reaches,
        // which lie inside the file (commits grow the file before they are published; `shrink`
        // only cuts pages no snapshot reaches). Mapping beyond the end of the file only reserves address space.
        // Another process truncating the file is outside what Rust can check: documented above.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .len(reserve)
                .map(self.disk.file())?
        };
        let checks = verify.map(|verify| verified::MapChecks {
            verify,
            verified: verified::VerifiedPages::new((reserve / page_size) as u64),
        });
        Ok(Arc::new(Map {
            populated: verified::VerifiedPages::new((reserve / page_size) as u64),
            map,
            page_size,
            checks,
        }))
    }
}

#[allow(unsafe_code)] // flock
impl Drop for FileStore {
    /// Releases the lock explicitly. Closing the descriptor would release it too, but only once
    /// every copy of it is closed: a child process forked by another thread at that moment holds
    /// one until it calls `exec`, and the next open of the file would fail with
    /// `DatabaseLocked` in the meantime.
    fn drop(&mut self) {
        if self.writer {
            let _ = Self::flock(self.disk.file(), libc::LOCK_UN);
        }
    }
}

/// A read-only mapping of the database file, shared by the snapshots that read through it.
pub(crate) struct Map {
    map: memmap2::Mmap,
    page_size: usize,
    /// With verification on: the check and the pages that passed it since the open.
    checks: Option<verified::MapChecks>,
    /// The pages [`Map::will_need`] has mapped already (a bitmap like the verified one), so that
    /// a later scan over them makes no call.
    populated: verified::VerifiedPages,
}

impl Map {
    /// Whether pages are verified at their first touch.
    pub fn verifies(&self) -> bool {
        self.checks.is_some()
    }

    /// Bytes of address space the mapping covers.
    pub fn reserved(&self) -> u64 {
        self.map.len() as u64
    }

    /// The mapped bytes in `range` (which the caller checked lies below the length of a commit:
    /// the map reserves space beyond the end of the file), a page or run starting at
    /// page `pgno`, verified at its first touch since the open. A page that already verified costs
    /// one relaxed load and a branch.
    #[inline]
    pub fn page(&self, pgno: u64, range: std::ops::Range<usize>) -> Result<&[u8]> {
        let bytes = &self.map[range];
        match &self.checks {
            Some(c) if !c.verified.contains(pgno) => Self::first_touch(c, pgno, bytes),
            _ => Ok(bytes),
        }
    }

    /// Maps the bytes in `range` (inside a commit's length) in one call, instead of one page
    /// fault per few pages at their first touches: for a scan about to read them (on Linux; a
    /// hint elsewhere ignored). A range that cannot be mapped is left alone: the reads that
    /// follow fault as they would have.
    pub fn will_need(&self, range: std::ops::Range<usize>) {
        let pages = (range.start / self.page_size) as u64..(range.end / self.page_size) as u64;
        if pages.clone().all(|p| self.populated.contains(p)) {
            return;
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let len = range.end.saturating_sub(range.start);
            let advice = memmap2::Advice::PopulateRead;
            if self.map.advise_range(advice, range.start, len).is_err() {
                return;
            }
        }
        pages.for_each(|p| self.populated.insert(p));
    }

    /// Verifies a page or run not verified yet, and records it if it passes.
    #[cold]
    #[inline(never)]
    fn first_touch<'a>(c: &verified::MapChecks, pgno: u64, bytes: &'a [u8]) -> Result<&'a [u8]> {
        (c.verify)(pgno, bytes)?;
        c.verified.insert(pgno);
        Ok(bytes)
    }

    /// After this handle wrote the pages (or runs) starting at `pgnos`: they hold what it sealed,
    /// so they count as verified.
    pub fn mark_verified(&self, pgnos: impl Iterator<Item = u64>) {
        if let Some(c) = &self.checks {
            pgnos.for_each(|p| c.verified.insert(p));
        }
    }

    /// After another handle rewrote the pages at `pgnos` (None: any page): they count as not
    /// verified again.
    pub fn forget(&self, pgnos: Option<&[u64]>) {
        if let Some(c) = &self.checks {
            match pgnos {
                Some(p) => p.iter().for_each(|&p| c.verified.remove(p)),
                None => c.verified.clear(),
            }
        }
    }

    /// A mapping of the same file reserving at least `min_len` bytes, with the same checks and
    /// the pages verified so far.
    pub fn remapped(&self, store: &FileStore, min_len: u64) -> Result<Arc<Map>> {
        let verify = self.checks.as_ref().map(|c| c.verify);
        let new = store.map(min_len, self.page_size, verify)?;
        if let (Some(old), Some(c)) = (&self.checks, &new.checks) {
            c.verified.inherit(&old.verified);
        }
        Ok(new)
    }
}

/// Makes the calling thread run only when no other thread wants its processor (Linux's
/// `SCHED_IDLE`, which an unprivileged thread may take but not leave); false where that is
/// refused or not supported.
#[allow(unsafe_code)] // sched_setscheduler
pub(crate) fn run_only_when_idle() -> bool {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` is a valid `sched_param` that the call only reads, and pid 0 names the
        // calling thread, the only one whose scheduling this changes.
        unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    false
}

#[cfg(test)]
mod anonymous_file_tests {
    use std::io::{Read, Seek, Write};

    /// Both kinds of anonymous file read back what was written and leave no name behind.
    #[test]
    fn anonymous_files_work_and_have_no_name() {
        let named = || {
            std::fs::read_dir(std::env::temp_dir())
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.starts_with(&format!(".larchdb-memory-{}-", std::process::id()))
                })
                .count()
        };
        for mut f in [
            super::anonymous_file().unwrap(),
            super::unlinked_temp_file().unwrap(),
        ] {
            f.write_all(b"larch").unwrap();
            f.rewind().unwrap();
            let mut s = String::new();
            f.read_to_string(&mut s).unwrap();
            assert_eq!(s, "larch");
            assert_eq!(named(), 0);
        }
    }
}
