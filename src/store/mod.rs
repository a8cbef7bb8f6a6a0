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
//! `unsafe` is allowed only where it is needed (`unsafe_code` is denied crate-wide): on the
//! file's system calls and mapping below, and in `view.rs`, `window.rs`, `slots.rs`, `frame.rs`,
//! `cache.rs` and `cache_writes.rs`.

#[cfg_attr(not(feature = "testing"), allow(dead_code))]
pub(crate) mod arc;
pub(crate) mod cache;
mod epochs;
mod frame;
pub(crate) mod hasher;
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
pub(crate) mod lru;
pub(crate) mod policy;
pub(crate) mod readers;
#[cfg(feature = "testing")]
pub mod sim;
mod slots;
mod verified;
mod view;
pub(crate) mod window;

pub(crate) use verified::Verifier;
pub(crate) use view::{Backing, Overlay, TxnView, View};
pub(crate) use window::Window;

use crate::error::{Error, Result};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::sync::Arc;

/// Read access to pages: implemented by the committed view of a snapshot and by a write
/// transaction's view (its dirty pages over the committed ones).
pub(crate) trait PageSource {
    /// Page `pgno`, exactly one page long.
    fn page(&self, pgno: u64) -> Result<&[u8]>;
    /// `npages` consecutive pages starting at `pgno` (an overflow run).
    fn run(&self, pgno: u64, npages: u64) -> Result<&[u8]>;
    /// The page size.
    fn page_size(&self) -> usize;
}

/// The smallest address-space reservation for a mapping.
const MIN_MAP_RESERVE: u64 = 1 << 30;
/// Growth is preallocated in chunks of at least this many bytes...
const MIN_GROWTH: u64 = 1 << 20;
/// ...and at most this many beyond what is needed.
const MAX_GROWTH: u64 = 256 << 20;
/// The most bytes one write system call carries, but for an overflow run. The kernel sizes the
/// page-cache folios it creates for a write by the write's length, and every later write into a
/// folio walks all of its blocks (ext4 on Linux 6.16 and later): a 4 KiB write into a 2 MiB folio
/// measured 6.7 us here against 1.3 us into a 4 KiB one. Capping writes keeps folios small, so the
/// single-page writes of later commits stay cheap; 32 KiB still lets a run of pages go in one call.
const MAX_WRITE: usize = 32 << 10;
/// The most bytes one write of overflow runs (consecutive ones together) carries. Large values
/// are written and read whole: large, aligned folios let a read through the map fault them in
/// few steps. 400 values of 2 MiB, ten to a commit, written and read back through the map: 94 ms
/// to read in 32 KiB writes, 37 ms in one write per value, 8 ms with each commit's runs in one.
const MAX_RUN_WRITE: usize = 64 << 20;

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
    file: File,
    /// An anonymous in-memory file ([`anonymous_file`]): nothing to make durable, so syncs and
    /// write-back are skipped.
    memory: bool,
    /// The file's length as this handle last set or saw it, so growth checks need no `fstat`.
    known_len: std::sync::atomic::AtomicU64,
    /// Holds the file's exclusive `flock` (a writable handle).
    writer: bool,
    /// With the `testing` feature: a simulated disk that logs every change and injects faults.
    #[cfg(feature = "testing")]
    sim: Option<Arc<sim::SimDisk>>,
}

/// Operation kinds, as the simulated disk counts them.
#[cfg(not(feature = "testing"))]
#[derive(Clone, Copy)]
enum OpKind {
    Write,
    Sync,
    SetLen,
}
#[cfg(feature = "testing")]
use sim::OpKind;

#[allow(unsafe_code)] // flock, pwritev, pwritev2, sync_file_range, posix_fallocate, mmap
impl FileStore {
    /// Takes over an open file; for a writable handle (`writer`), locks it exclusively with
    /// `flock`, failing with `DatabaseLocked` if another handle has it. The lock is on the file
    /// itself, so two writers are refused whatever paths (symbolic or hard links) they opened it
    /// by. Read-only handles take no `flock`: they meet the writer in the lock file
    /// (`readers.rs`).
    pub fn lock(file: File, writer: bool) -> Result<FileStore> {
        if writer {
            // A read-only handle's probe (`writer_holds_file`) holds a shared lock for a moment:
            // try a few times before calling the file locked.
            let mut tries = 0;
            loop {
                match Self::flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
                    Err(Error::DatabaseLocked) if tries < 10 => {
                        tries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    r => break r?,
                }
            }
        }
        let known_len = std::sync::atomic::AtomicU64::new(file.metadata()?.len());
        Ok(FileStore {
            file,
            memory: false,
            known_len,
            writer,
            #[cfg(feature = "testing")]
            sim: None,
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
        match Self::flock(&self.file, libc::LOCK_SH | libc::LOCK_NB) {
            Ok(()) => {
                Self::flock(&self.file, libc::LOCK_UN)?;
                Ok(false)
            }
            Err(Error::DatabaseLocked) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Marks the file as an anonymous in-memory one ([`anonymous_file`]): syncs and write-back
    /// become no-ops.
    pub fn in_memory(mut self) -> FileStore {
        self.memory = true;
        self
    }

    /// Routes this file's changes through a simulated disk (crash and fault tests).
    #[cfg(feature = "testing")]
    pub fn with_sim(mut self, sim: Arc<sim::SimDisk>) -> FileStore {
        self.sim = Some(sim);
        self
    }

    /// Before an operation: the simulated disk may fail it.
    fn before(&self, kind: OpKind) -> io::Result<()> {
        #[cfg(feature = "testing")]
        if let Some(s) = &self.sim {
            return s.before(kind);
        }
        let _ = kind;
        Ok(())
    }

    /// After a write: the simulated disk logs it.
    fn wrote(&self, offset: u64, data: &[u8]) {
        #[cfg(feature = "testing")]
        if let Some(s) = &self.sim {
            s.wrote(offset, data);
        }
        let _ = (offset, data);
    }

    /// After a change of length: the simulated disk logs it.
    fn resized(&self, len: u64) {
        #[cfg(feature = "testing")]
        if let Some(s) = &self.sim {
            s.set_len(len);
        }
        let _ = len;
    }

    /// Current length of the file in bytes.
    pub fn len(&self) -> Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read (short at EOF).
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match self.file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(done)
    }

    /// Writes `buf` at `offset` in full, in calls of at most [`MAX_WRITE`] bytes.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        self.before(OpKind::Write)?;
        let mut done = 0;
        for chunk in buf.chunks(MAX_WRITE) {
            self.file.write_all_at(chunk, offset + done)?;
            done += chunk.len() as u64;
        }
        self.wrote(offset, buf);
        Ok(())
    }

    /// Writes pages (or overflow runs), given as `(pgno, bytes)` sorted by page number: single
    /// pages that follow one another go in `pwritev` calls of at most [`MAX_WRITE`] bytes, an
    /// overflow run in calls of at most [`MAX_RUN_WRITE`].
    pub fn write_pages(&self, pages: &[(u64, &[u8])], page_size: usize) -> Result<()> {
        self.before(OpKind::Write)?;
        let mut call: Vec<&[u8]> = Vec::new();
        let (mut call_start, mut call_len) = (0u64, 0usize);
        for &(pgno, bytes) in pages {
            let mut offset = pgno * page_size as u64;
            let max = if bytes.len() > page_size {
                MAX_RUN_WRITE
            } else {
                MAX_WRITE
            };
            for piece in bytes.chunks(max) {
                let follows = offset == call_start + call_len as u64;
                if !call.is_empty() && (!follows || call_len + piece.len() > max) {
                    self.write_vectored_at(&call, call_start)?;
                    call.clear();
                }
                if call.is_empty() {
                    (call_start, call_len) = (offset, 0);
                }
                call.push(piece);
                call_len += piece.len();
                offset += piece.len() as u64;
            }
        }
        if !call.is_empty() {
            self.write_vectored_at(&call, call_start)?;
        }
        for &(pgno, bytes) in pages {
            self.wrote(pgno * page_size as u64, bytes);
        }
        Ok(())
    }

    /// Writes consecutive buffers at `offset`, finishing a short `pwritev` with plain writes.
    fn write_vectored_at(&self, bufs: &[&[u8]], offset: u64) -> Result<()> {
        let iov: Vec<libc::iovec> = bufs
            .iter()
            .map(|b| libc::iovec {
                iov_base: b.as_ptr() as *mut libc::c_void,
                iov_len: b.len(),
            })
            .collect();
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let written = loop {
            // SAFETY: every iovec points into a buffer borrowed by `bufs` for the duration of this
            // call, with its exact length; pwritev only reads them. The fd is ours and open.
            let rc = unsafe {
                libc::pwritev(
                    self.file.as_raw_fd(),
                    iov.as_ptr(),
                    iov.len() as i32,
                    offset as i64,
                )
            };
            if rc >= 0 {
                break rc as usize;
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err.into());
            }
        };
        if written < total {
            // Finish what a short write left, buffer by buffer.
            let mut pos = 0usize;
            for b in bufs {
                let end = pos + b.len();
                if end > written {
                    let skip = written.saturating_sub(pos);
                    self.file
                        .write_all_at(&b[skip..], offset + (pos + skip) as u64)?;
                }
                pos = end;
            }
        }
        Ok(())
    }

    /// Writes `len` zero bytes at `offset` (a new commit log region: blocks written once, so
    /// that later writes into them change no file metadata and their syncs stay cheap).
    pub fn write_zeros(&self, offset: u64, len: u64) -> Result<()> {
        const CHUNK: u64 = 1 << 20;
        let zeros = vec![0u8; CHUNK.min(len) as usize];
        let mut done = 0;
        while done < len {
            let n = CHUNK.min(len - done) as usize;
            self.write_at(&zeros[..n], offset + done)?;
            done += n as u64;
        }
        Ok(())
    }

    /// Writes `buf` at `offset` and makes exactly those bytes durable before returning
    /// (`pwritev2` with `RWF_DSYNC`: the kernel writes back and flushes that range only, not the
    /// other dirty pages of the file). Where the kernel or filesystem lacks it, falls back to a
    /// plain write and a whole-file `fdatasync`, which is as durable and slower.
    pub fn write_durable_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        if self.memory {
            return self.write_at(buf, offset);
        }
        self.before(OpKind::Write)?;
        let mut done = 0usize;
        while done < buf.len() {
            let rest = &buf[done..];
            let iov = libc::iovec {
                iov_base: rest.as_ptr() as *mut libc::c_void,
                iov_len: rest.len(),
            };
            // SAFETY: the iovec points into `buf`, borrowed for the duration of the call, with
            // its exact remaining length; pwritev2 only reads it. The fd is ours and open.
            let rc = unsafe {
                libc::pwritev2(
                    self.file.as_raw_fd(),
                    &iov,
                    1,
                    (offset + done as u64) as i64,
                    libc::RWF_DSYNC,
                )
            };
            if rc > 0 {
                done += rc as usize;
                continue;
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => {}
                Some(libc::ENOSYS | libc::EOPNOTSUPP | libc::EINVAL) if done == 0 => {
                    self.file.write_all_at(buf, offset)?;
                    self.file.sync_data()?;
                    done = buf.len();
                }
                _ => return Err(err.into()),
            }
        }
        #[cfg(feature = "testing")]
        if let Some(s) = &self.sim {
            s.wrote(offset, buf);
            s.range_synced(offset);
        }
        Ok(())
    }

    /// Asks the kernel to start writing the file's dirty pages back, without waiting for it and
    /// without making anything durable (`sync_file_range` with `SYNC_FILE_RANGE_WRITE`), so
    /// that the next checkpoint's `fdatasync` finds less to write. Best effort: an error here
    /// changes nothing, and a write-back failure is reported by that `fdatasync`.
    pub fn start_writeback(&self) {
        if self.memory {
            return;
        }
        // SAFETY: sync_file_range takes our open fd and integers; it touches no memory of ours.
        unsafe { libc::sync_file_range(self.file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    }

    /// Makes everything written so far durable (`fdatasync`).
    pub fn sync(&self) -> Result<()> {
        if self.memory {
            return Ok(());
        }
        self.before(OpKind::Sync)?;
        self.file.sync_data()?;
        #[cfg(feature = "testing")]
        if let Some(s) = &self.sim {
            s.synced();
        }
        Ok(())
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
        self.before(OpKind::SetLen)?;
        let extra = (len / 8).clamp(MIN_GROWTH, MAX_GROWTH);
        let target = (needed + extra).next_multiple_of(page_size as u64);
        // SAFETY: posix_fallocate takes our open fd and two integers; it touches no memory of ours.
        let mut rc = unsafe {
            libc::posix_fallocate(self.file.as_raw_fd(), len as i64, (target - len) as i64)
        };
        if rc != 0 {
            // Not enough room for a whole chunk, or no preallocation on this filesystem: try the
            // exact size needed.
            // SAFETY: as above.
            rc = unsafe {
                libc::posix_fallocate(self.file.as_raw_fd(), len as i64, (needed - len) as i64)
            };
        }
        if rc != 0 {
            // Leave the file as it was: the space beyond the last commit holds nothing.
            let _ = self.file.set_len(len);
            return Err(Error::Io(io::Error::from_raw_os_error(rc)));
        }
        let new_len = self.len()?;
        self.known_len.store(new_len, Ordering::Release);
        self.resized(new_len);
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
            false => (used / 8).clamp(MIN_GROWTH, MAX_GROWTH),
        };
        if len <= used.saturating_add(2 * step) {
            return Ok(false);
        }
        self.set_len(used)?;
        Ok(true)
    }

    /// Sets the file length (when initialising an empty file, and by [`Self::shrink`]).
    pub fn set_len(&self, len: u64) -> Result<()> {
        self.before(OpKind::SetLen)?;
        self.file.set_len(len)?;
        self.known_len
            .store(len, std::sync::atomic::Ordering::Release);
        self.resized(len);
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
        let file = self.file.try_clone()?;
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
        let map = unsafe { memmap2::MmapOptions::new().len(reserve).map(&self.file)? };
        let checks = verify.map(|verify| verified::MapChecks {
            verify,
            verified: verified::VerifiedPages::new((reserve / page_size) as u64),
        });
        Ok(Arc::new(Map {
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
            let _ = Self::flock(&self.file, libc::LOCK_UN);
        }
    }
}

/// A read-only mapping of the database file, shared by the snapshots that read through it.
pub(crate) struct Map {
    map: memmap2::Mmap,
    page_size: usize,
    /// With verification on: the check and the pages that passed it since the open.
    checks: Option<verified::MapChecks>,
}

impl Map {
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
    pub fn wrote(&self, pgnos: impl Iterator<Item = u64>) {
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
