//! The storage seam: [`Storage`], the operations through which the database file changes, grows,
//! shrinks and becomes durable, and [`PlainFile`], its implementation by the file's system calls.
//! The simulated disk of the crash and fault tests (`sim.rs`, cargo feature `testing`) is the
//! other implementation: it wraps a [`PlainFile`], logs every change and may fail any of them.
//!
//! Reads are not part of the seam: they go through the memory map, or `pread` on the file into
//! the page cache, and the simulated disk never fails one. [`Storage::file`] hands the file
//! itself to those, and to the lock.
//!
//! `unsafe` here: the system calls `pwritev`, `pwritev2`, `sync_file_range` and
//! `posix_fallocate`, each on the file's own descriptor and on buffers borrowed for the call.

use super::log_map::{LogMap, MAX_MAPPED_RECORD};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;

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

/// What the database does to its file besides reading it: each method is one operation as the
/// simulated disk counts them (and may fail), whatever number of system calls it takes.
///
/// The database holds its storage by type, not behind `dyn`: a build without the `testing`
/// feature writes through [`PlainFile`] directly (see `store::Disk`).
pub(crate) trait Storage: Send + Sync {
    /// The file itself, which the memory map and the page cache read and the lock is taken on.
    fn file(&self) -> &File;

    /// Writes `buf` at `offset` in full.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;

    /// Writes pages (or overflow runs), given as `(pgno, bytes)` sorted by page number, each at
    /// `pgno * page_size`.
    fn write_pages(&self, pages: &[(u64, &[u8])], page_size: usize) -> io::Result<()>;

    /// Writes `buf`, a record of the commit log, at `offset` in full, like [`Self::write_at`]
    /// (which is what it does unless the storage has a faster way).
    fn write_log_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.write_at(buf, offset)
    }

    /// Writes `buf` at `offset` and makes exactly those bytes durable before returning.
    fn write_durable_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;

    /// Starts writing the file's dirty pages back, without waiting and without making anything
    /// durable. Best effort: never fails.
    fn start_writeback(&self);

    /// Makes everything written so far durable.
    fn sync(&self) -> io::Result<()>;

    /// Extends the file from `len` bytes to `target`, or failing that to `needed`, with its
    /// blocks allocated (so that a full disk shows up here and not on a later read through the
    /// map); returns the new length. On failure the file keeps its length `len`.
    fn allocate(&self, len: u64, target: u64, needed: u64) -> io::Result<u64>;

    /// Sets the file's length.
    fn set_len(&self, len: u64) -> io::Result<()>;

    /// Whether other threads may act on the file while the writer goes on (`txn/flush.rs`: a
    /// full write window's flush, and the write-back started after each batch of a large
    /// commit). The simulated disk says no: it must see one order of operations per run.
    fn background_writes(&self) -> bool {
        true
    }
}

/// Reads up to `buf.len()` bytes of `file` at `offset`, retrying a read that a signal
/// interrupted; returns how many were read, fewer only where the file ends.
pub(crate) fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// The database file, written with its system calls.
pub(crate) struct PlainFile {
    file: File,
    /// An anonymous in-memory file (`store::anonymous_file`): nothing to make durable, so syncs
    /// and write-back are skipped.
    memory: bool,
    /// The shared mapping small log records are copied into.
    log_map: LogMap,
}

impl PlainFile {
    /// Storage on `file`, a file on a disk.
    pub fn new(file: File) -> PlainFile {
        PlainFile {
            file,
            memory: false,
            log_map: LogMap::default(),
        }
    }

    /// Storage on `file`, an anonymous in-memory file: syncs and write-back are no-ops.
    pub fn in_memory(file: File) -> PlainFile {
        PlainFile {
            file,
            memory: true,
            log_map: LogMap::default(),
        }
    }
}

#[allow(unsafe_code)] // pwritev, pwritev2, sync_file_range, posix_fallocate
impl PlainFile {
    /// Writes consecutive buffers at `offset`, finishing a short `pwritev` with plain writes.
    fn write_vectored_at(&self, bufs: &[&[u8]], offset: u64) -> io::Result<()> {
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
                return Err(err);
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

    /// `posix_fallocate` of `len` bytes from `offset`: 0 or an errno.
    fn fallocate(&self, offset: u64, len: u64) -> i32 {
        // SAFETY: posix_fallocate takes our open fd and two integers; it touches no memory of ours.
        unsafe { libc::posix_fallocate(self.file.as_raw_fd(), offset as i64, len as i64) }
    }
}

#[allow(unsafe_code)] // pwritev2, sync_file_range
impl Storage for PlainFile {
    fn file(&self) -> &File {
        &self.file
    }

    /// Writes in calls of at most [`MAX_WRITE`] bytes.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut done = 0;
        for chunk in buf.chunks(MAX_WRITE) {
            self.file.write_all_at(chunk, offset + done)?;
            done += chunk.len() as u64;
        }
        Ok(())
    }

    /// Small records are copied into a shared mapping of the file ([`LogMap`]): no system call.
    fn write_log_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        if buf.len() <= MAX_MAPPED_RECORD && self.log_map.write(&self.file, buf, offset)? {
            return Ok(());
        }
        self.write_at(buf, offset)
    }

    /// Single pages that follow one another go in `pwritev` calls of at most [`MAX_WRITE`]
    /// bytes, an overflow run in calls of at most [`MAX_RUN_WRITE`].
    fn write_pages(&self, pages: &[(u64, &[u8])], page_size: usize) -> io::Result<()> {
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
        Ok(())
    }

    /// `pwritev2` with `RWF_DSYNC`: the kernel writes back and flushes that range only, not the
    /// other dirty pages of the file. Where the kernel or filesystem lacks it, falls back to a
    /// plain write and a whole-file `fdatasync`, which is as durable and slower. An in-memory
    /// file gets a plain write.
    ///
    /// Through the page cache, not a second descriptor opened with `O_DIRECT`: the log's syncs
    /// written that way (whole 4 KiB blocks from an aligned buffer, the head of the first block
    /// written again) were no faster here, neither one thread's durable commits (`prof dur`,
    /// eight alternations: 144-183 us against 146-206 us per commit, the same processor time)
    /// nor eight threads' (36.7-43.1 against 36.7-40.7 us per commit). On a disk without FUA both
    /// take a write and a cache flush, and the processor time goes into submitting those two
    /// requests, not into the page cache.
    fn write_durable_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        if self.memory {
            return self.write_at(buf, offset);
        }
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
                _ => return Err(err),
            }
        }
        Ok(())
    }

    /// `sync_file_range` with `SYNC_FILE_RANGE_WRITE`, so that the next checkpoint's `fdatasync`
    /// finds less to write; a write-back failure is reported by that `fdatasync`.
    fn start_writeback(&self) {
        if self.memory {
            return;
        }
        // SAFETY: sync_file_range takes our open fd and integers; it touches no memory of ours.
        unsafe { libc::sync_file_range(self.file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    }

    /// `fdatasync` (nothing for an in-memory file).
    fn sync(&self) -> io::Result<()> {
        if self.memory {
            return Ok(());
        }
        self.file.sync_data()
    }

    /// `posix_fallocate` to `target`, then to `needed` (not enough room for a whole chunk, or no
    /// preallocation on this filesystem); on failure, truncates back to `len`.
    fn allocate(&self, len: u64, target: u64, needed: u64) -> io::Result<u64> {
        let mut rc = self.fallocate(len, target - len);
        if rc != 0 {
            rc = self.fallocate(len, needed - len);
        }
        if rc != 0 {
            // Leave the file as it was: the space beyond the last commit holds nothing.
            let _ = self.set_len(len);
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(self.file.metadata()?.len())
    }

    /// Drops the log's mapping first, which must never extend past the end of the file.
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.log_map.unmap();
        self.file.set_len(len)
    }
}
