//! The reader table: the lock file `PATH-lock` beside a database, which lets read-only handles
//! in any process read beside one writable handle (docs/FORMAT.md, section 18).
//!
//! The file is mapped shared by every handle of the database on this machine. It holds
//! - the **published version**: the newest commit whose pages are all in the database file (the
//!   writer's roots, page count and log region), behind a sequence lock, so that a reader in
//!   another process can take it as a snapshot without reading the file's meta or log;
//! - the **written ring**: the page numbers the writer wrote, in order, so that a reader process
//!   can drop its cached (or verified) copy of a page the writer has since rewritten;
//! - the **reader slots**: one per read-only handle, with the oldest snapshot (txn id) that
//!   handle may still read; the writer's reuse gate takes the minimum over them.
//!
//! Ownership uses open-file-description locks (`F_OFD_SETLK`) on single bytes of the file: they
//! belong to the handle's descriptor, not its process, and the kernel drops them when the
//! process dies (also by `kill -9`). So a slot whose byte no one holds is stale: its reader is
//! gone, whatever the slot still says. Byte 0 is held shared by every handle while it is open
//! (the handle that gets it exclusively is alone, and resets the file), byte 1 exclusively by the
//! writer (a second writer gets `DatabaseLocked`), byte `2 + i` exclusively by the owner of slot
//! `i`.
//!
//! The table is per machine and volatile: native byte order, rebuilt by the first handle that
//! opens it while no other handle has it open. Nothing in it is needed to open the database.
#![allow(unsafe_code)]

use crate::error::{Error, Result};
use crate::options::MAX_READERS;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// First 8 bytes of a lock file: `LARCHLK\x01`.
pub(crate) const LOCK_MAGIC: u64 = u64::from_le_bytes(*b"LARCHLK\x01");
/// Layout version of the lock file (offset 8).
pub(crate) const LOCK_VERSION: u64 = 2;

/// Byte offsets of the header's fields (u64 each; docs/FORMAT.md section 18).
pub(crate) mod off {
    /// `LOCK_MAGIC`.
    pub const MAGIC: usize = 0;
    /// `LOCK_VERSION`.
    pub const VERSION: usize = 8;
    /// Number of reader slots.
    pub const SLOTS: usize = 16;
    /// Incremented by each writable open, before it writes anything.
    pub const WRITER_EPOCH: usize = 24;
    /// Sequence lock of the published version: odd while it is being written.
    pub const VIS_SEQ: usize = 32;
    /// Published version: txn id (0: none published now).
    pub const VIS_TXN: usize = 40;
    /// Catalog root: pgno, txn.
    pub const VIS_CATALOG: usize = 48;
    /// Freelist root: pgno, txn.
    pub const VIS_FREELIST: usize = 64;
    /// Page count.
    pub const VIS_PAGE_COUNT: usize = 80;
    /// Log region: first page, pages.
    pub const VIS_LOG: usize = 88;
    /// Spare pages of the version (free pages in no freelist entry); those beyond
    /// `SPARE_MAX` are not listed.
    pub const VIS_SPARE_COUNT: usize = 104;
    /// Entries ever appended to the written ring.
    pub const WRITTEN_SEQ: usize = 112;
    /// One more than the highest slot index claimed since the reset (the writer reads no slot
    /// at or past it).
    pub const CLAIMED: usize = 120;
    /// The listed spare pages (`SPARE_MAX` u64).
    pub const SPARE: usize = 128;
    /// The written ring (`RING` u64).
    pub const RING: usize = SPARE + 8 * super::SPARE_MAX;
    /// The first reader slot.
    pub const SLOT0: usize = RING + 8 * super::RING;
}

/// Spare pages listed in the published version.
pub(crate) const SPARE_MAX: usize = 512;
/// Entries of the written ring.
pub(crate) const RING: usize = 8192;
/// Bytes of one reader slot: owner token, pinned txn, owner pid, 40 reserved bytes.
pub(crate) const SLOT_LEN: usize = 64;
/// Offsets inside a slot.
pub(crate) const SLOT_OFF_TOKEN: usize = 0;
/// The oldest txn the owner may read (0: none).
pub(crate) const SLOT_OFF_PIN: usize = 8;
/// The owner's process id (for `larch stat`; ownership is the lock byte).
pub(crate) const SLOT_OFF_PID: usize = 16;

/// Lock byte every open handle holds shared.
const BYTE_ALIVE: i64 = 0;
/// Lock byte the writable handle holds.
const BYTE_WRITER: i64 = 1;
/// Lock byte of slot `i`: `BYTE_SLOT0 + i`.
const BYTE_SLOT0: i64 = 2;

/// How long a liveness check of a slot's owner is trusted before it is made again.
const LIVENESS_TTL: Duration = Duration::from_millis(200);

/// A published version, as the lock file holds it (page pointers as `(pgno, txn)`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Published {
    /// The commit's txn id.
    pub txn: u64,
    /// Catalog root.
    pub catalog: (u64, u64),
    /// Freelist root.
    pub freelist: (u64, u64),
    /// Page count.
    pub page_count: u64,
    /// Log region.
    pub log: (u64, u64),
    /// Spare pages, all of them unless `spare_complete` is false.
    pub spare: Vec<u64>,
    /// Whether `spare` lists every spare page.
    pub spare_complete: bool,
}

/// Total length of a lock file with `slots` reader slots.
pub(crate) fn file_len(slots: u32) -> usize {
    off::SLOT0 + slots as usize * SLOT_LEN
}

/// The lock file's path for the database at `db`: its canonical path (symbolic links and
/// relative components resolved, so every handle finds the same lock file) with `-lock`
/// appended.
pub fn lock_path(db: &Path) -> PathBuf {
    let db = std::fs::canonicalize(db).unwrap_or_else(|_| db.to_path_buf());
    let mut s = db.as_os_str().to_owned();
    s.push("-lock");
    PathBuf::from(s)
}

/// One handle's attachment to the lock file of its database.
pub(crate) struct ReaderTable {
    file: File,
    map: memmap2::MmapMut,
    path: PathBuf,
    slots: u32,
    /// The slot this (read-only) handle owns.
    own: Option<u32>,
    /// The writer's record of owners it checked: slot -> (token, when, alive).
    liveness: Mutex<HashMap<u32, (u64, Instant, bool)>>,
}

/// `F_OFD_SETLK`-family call on one byte: `cmd` with lock type `ty`. Ok(false) if another
/// description holds a conflicting lock (non-blocking commands).
fn ofd_lock(file: &File, cmd: libc::c_int, ty: libc::c_int, byte: i64) -> io::Result<bool> {
    // SAFETY: `flock` is a plain C struct of integers; all-zero is a valid value of it.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = ty as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = byte;
    fl.l_len = 1;
    fl.l_pid = 0;
    loop {
        // SAFETY: fcntl with an OFD lock command reads (and for F_OFD_GETLK writes) the `flock`
        // struct we pass by pointer, which lives on our stack for the duration of the call; the
        // descriptor is ours and open.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), cmd, &mut fl as *mut libc::flock) };
        if rc == 0 {
            return Ok(cmd != libc::F_OFD_GETLK || fl.l_type == libc::F_UNLCK as libc::c_short);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN | libc::EACCES) => return Ok(false),
            _ => return Err(err),
        }
    }
}

/// Filesystems whose shared mappings are not coherent between machines (network filesystems):
/// a lock file there cannot work, and is refused with a clear error.
fn network_filesystem(file: &File) -> Option<&'static str> {
    // SAFETY: `statfs` is a plain C struct; all-zero is a valid value of it.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatfs writes into the struct we pass, which lives on our stack; the fd is open.
    if unsafe { libc::fstatfs(file.as_raw_fd(), &mut st) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)]
    match st.f_type as u64 {
        0x6969 => Some("NFS"),
        0x517B => Some("SMB"),
        0xFF53_4D42 => Some("CIFS"),
        0xFE53_4D42 => Some("SMB2"),
        0x0102_1997 => Some("9P"),
        0x0BD0_0BD0 => Some("Lustre"),
        0x7366_7378 => Some("AFS"),
        _ => None,
    }
}

/// The error for a lock file that cannot work, naming it.
fn unusable(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::LockFile(format!("{}: {why}", path.display()))
}

impl ReaderTable {
    /// Opens (creating it if missing) the lock file of the database at `db` and attaches to it;
    /// a lock file that no other handle has open is reset, with `max_readers` slots. `Ok(None)`
    /// if it cannot be written because its filesystem is read-only (no writer can exist there).
    pub fn open(db: &Path, max_readers: u32) -> Result<Option<ReaderTable>> {
        let path = lock_path(db);
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path);
        if opened
            .as_ref()
            .is_err_and(|e| e.raw_os_error() == Some(libc::EROFS))
        {
            return Ok(None);
        }
        let file = opened.map_err(|e| match e.raw_os_error() {
            Some(libc::EACCES | libc::EPERM) => unusable(
                &path,
                format!("cannot open the lock file for writing ({e}); every handle needs it"),
            ),
            _ => Error::Io(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        })?;
        if let Some(fs) = network_filesystem(&file) {
            return Err(unusable(
                &path,
                format!("the lock file is on a network filesystem ({fs}), where its shared memory would not be coherent between machines"),
            ));
        }
        let lock_err = |e: io::Error| {
            unusable(
                &path,
                format!("the filesystem does not support the file locks the lock file needs ({e})"),
            )
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if ofd_lock(&file, libc::F_OFD_SETLK, libc::F_WRLCK, BYTE_ALIVE).map_err(lock_err)? {
                // Alone: reset the file, then let others in.
                Self::reset(&file, max_readers)?;
                if !ofd_lock(&file, libc::F_OFD_SETLK, libc::F_RDLCK, BYTE_ALIVE)
                    .map_err(lock_err)?
                {
                    return Err(unusable(&path, "could not downgrade its lock"));
                }
            } else if !ofd_lock(&file, libc::F_OFD_SETLK, libc::F_RDLCK, BYTE_ALIVE)
                .map_err(lock_err)?
            {
                // Another handle is resetting it right now.
                if Instant::now() > deadline {
                    return Err(unusable(
                        &path,
                        "another handle keeps it locked for its reset",
                    ));
                }
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            match Self::attach(file.try_clone()?, &path) {
                Ok(Some(t)) => return Ok(Some(t)),
                Ok(None) if Instant::now() < deadline => {
                    // A reset was interrupted (its process died): take our shared lock off, and
                    // try to become the one who resets it.
                    ofd_lock(&file, libc::F_OFD_SETLK, libc::F_UNLCK, BYTE_ALIVE)
                        .map_err(lock_err)?;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok(None) => return Err(unusable(&path, "it is not a larchdb lock file")),
                Err(e) => return Err(e),
            }
        }
    }

    /// With byte 0 held exclusively: writes a fresh header with `slots` slots, all free.
    fn reset(file: &File, slots: u32) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let len = file_len(slots);
        file.set_len(0)?;
        file.set_len(len as u64)?;
        let mut head = [0u8; 24];
        head[0..8].copy_from_slice(&LOCK_MAGIC.to_ne_bytes());
        head[8..16].copy_from_slice(&LOCK_VERSION.to_ne_bytes());
        head[16..24].copy_from_slice(&u64::from(slots).to_ne_bytes());
        file.write_all_at(&head, 0)?;
        Ok(())
    }

    /// Maps a lock file whose header is complete; None if it is not (an interrupted reset).
    fn attach(file: File, path: &Path) -> Result<Option<ReaderTable>> {
        let len = file.metadata()?.len();
        if len < off::SLOT0 as u64 {
            return Ok(None);
        }
        // SAFETY: the mapping is shared with other processes, which change it concurrently; we
        // only ever access it through atomics (`word`), at 8-byte aligned offsets inside its
        // length, never through references to plain integers. The file is never truncated while
        // a handle has it mapped: only a handle alone with it (exclusive byte 0) resets it, before
        // it maps it.
        let map = unsafe { memmap2::MmapOptions::new().len(len as usize).map_mut(&file) }
            .map_err(|e| unusable(path, format!("cannot map it shared ({e})")))?;
        let mut t = ReaderTable {
            file,
            map,
            path: path.to_path_buf(),
            slots: 0,
            own: None,
            liveness: Mutex::new(HashMap::new()),
        };
        let slots = t.word(off::SLOTS).load(Ordering::Acquire);
        if t.word(off::MAGIC).load(Ordering::Acquire) != LOCK_MAGIC {
            return Ok(None);
        }
        let version = t.word(off::VERSION).load(Ordering::Acquire);
        if version != LOCK_VERSION {
            return Err(unusable(
                path,
                format!("lock file layout {version}, this build uses {LOCK_VERSION}: another release has the database open"),
            ));
        }
        if slots == 0 || slots > u64::from(MAX_READERS) || file_len(slots as u32) as u64 > len {
            return Ok(None);
        }
        t.slots = slots as u32;
        Ok(Some(t))
    }

    /// The atomic u64 at byte `offset` of the mapping.
    #[inline]
    fn word(&self, offset: usize) -> &AtomicU64 {
        assert!(offset % 8 == 0 && offset + 8 <= self.map.len());
        // SAFETY: in bounds and 8-byte aligned (asserted; the mapping starts page-aligned), and
        // AtomicU64 has the size and alignment of u64. The memory lives as long as `self.map`,
        // which the returned reference borrows. Every access to the mapping, in every process, is
        // atomic, so there is no data race.
        unsafe { &*(self.map.as_ptr().add(offset) as *const AtomicU64) }
    }

    /// Path of the lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of reader slots.
    #[cfg(test)]
    pub fn slots(&self) -> u32 {
        self.slots
    }

    /// Takes the writer's byte: `DatabaseLocked` if another handle (in any process) has it.
    /// Then starts a new writer epoch.
    pub fn lock_writer(&self) -> Result<()> {
        match ofd_lock(&self.file, libc::F_OFD_SETLK, libc::F_WRLCK, BYTE_WRITER) {
            Ok(true) => {
                self.word(off::WRITER_EPOCH).fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            Ok(false) => Err(Error::DatabaseLocked),
            Err(e) => Err(unusable(&self.path, e)),
        }
    }

    /// Whether a writable handle (in any process) has the database open.
    pub fn writer_alive(&self) -> Result<bool> {
        ofd_lock(&self.file, libc::F_OFD_GETLK, libc::F_WRLCK, BYTE_WRITER)
            .map(|free| !free)
            .map_err(|e| unusable(&self.path, e))
    }

    /// The current writer epoch (changes whenever a writable handle opens).
    pub fn writer_epoch(&self) -> u64 {
        self.word(off::WRITER_EPOCH).load(Ordering::Acquire)
    }

    /// Claims a free reader slot for this handle (pinning nothing yet); `ReadersFull` if every
    /// slot is owned by a live handle.
    pub fn claim_slot(&mut self) -> Result<()> {
        static CLAIMS: AtomicU64 = AtomicU64::new(1);
        for i in 0..self.slots {
            let got = ofd_lock(
                &self.file,
                libc::F_OFD_SETLK,
                libc::F_WRLCK,
                BYTE_SLOT0 + i64::from(i),
            )
            .map_err(|e| unusable(&self.path, e))?;
            if got {
                let pid = u64::from(std::process::id());
                let token = (pid << 32) | (CLAIMS.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff);
                let base = off::SLOT0 + i as usize * SLOT_LEN;
                // Before the slot is used: a writer that reads slots after this sees it.
                (self.word(off::CLAIMED)).fetch_max(u64::from(i) + 1, Ordering::SeqCst);
                self.word(base + SLOT_OFF_PIN).store(0, Ordering::SeqCst);
                self.word(base + SLOT_OFF_PID).store(pid, Ordering::SeqCst);
                self.word(base + SLOT_OFF_TOKEN)
                    .store(token, Ordering::SeqCst);
                self.own = Some(i);
                return Ok(());
            }
        }
        Err(Error::ReadersFull(self.slots))
    }

    /// Publishes that this handle may read pages of `pin` and later. A sequentially consistent
    /// store: with the caller's sequentially consistent look at the published version after it
    /// ([`Self::published_seq_now`]) and the writer's fence between publishing and reading the
    /// slots ([`Self::oldest_pin`]), either the writer sees the pin or the caller sees the new
    /// version (on x86, one `xchg`).
    pub fn set_pin(&self, pin: u64) {
        if let Some(i) = self.own {
            let base = off::SLOT0 + i as usize * SLOT_LEN;
            self.word(base + SLOT_OFF_PIN).store(pin, Ordering::SeqCst);
        }
    }

    /// Publishes that this handle reads nothing any more: a release store, so that its reads
    /// happen before any reuse of their pages by a writer that sees it.
    pub fn clear_pin(&self) {
        if let Some(i) = self.own {
            let base = off::SLOT0 + i as usize * SLOT_LEN;
            self.word(base + SLOT_OFF_PIN).store(0, Ordering::Release);
        }
    }

    /// Whether slot `i`'s owner `token` still holds it (checked at most every
    /// [`LIVENESS_TTL`]; a slot found stale stays stale until a new owner claims it).
    fn owner_alive(&self, i: u32, token: u64) -> bool {
        let mut seen = self.liveness.lock();
        let now = Instant::now();
        if let Some(&(t, when, alive)) = seen.get(&i) {
            if t == token && (!alive || now.duration_since(when) < LIVENESS_TTL) {
                return alive;
            }
        }
        let byte = BYTE_SLOT0 + i64::from(i);
        // An error is taken as alive: it can only pin space, never free it early.
        let alive = !ofd_lock(&self.file, libc::F_OFD_GETLK, libc::F_WRLCK, byte).unwrap_or(false);
        seen.insert(i, (token, now, alive));
        alive
    }

    /// Slots claimed since the reset may lie below this index; none lies at or past it.
    fn claimed_slots(&self) -> u32 {
        let claimed = self.word(off::CLAIMED).load(Ordering::SeqCst);
        claimed.min(u64::from(self.slots)) as u32
    }

    /// Walks the owned-looking slots: calls `f(pin)` for each whose owner is alive. Only those
    /// below [`off::CLAIMED`]: a database no reader process opened reads no slot at all (the
    /// writer does this at every commit).
    fn live_slots(&self, mut f: impl FnMut(u64)) {
        for i in 0..self.claimed_slots() {
            let base = off::SLOT0 + i as usize * SLOT_LEN;
            let token = self.word(base + SLOT_OFF_TOKEN).load(Ordering::SeqCst);
            if token == 0 {
                continue;
            }
            let pin = self.word(base + SLOT_OFF_PIN).load(Ordering::SeqCst);
            if self.owner_alive(i, token) {
                f(pin);
            }
        }
    }

    /// The writer's gate over other handles: the oldest txn a live reader slot pins
    /// (`u64::MAX` if none). Fences first, so that a reader whose recheck of the published
    /// version succeeded before is seen.
    pub fn oldest_pin(&self) -> u64 {
        fence(Ordering::SeqCst);
        let mut oldest = u64::MAX;
        self.live_slots(|pin| {
            if pin != 0 {
                oldest = oldest.min(pin);
            }
        });
        oldest
    }

    /// The newest txn a live reader slot pins (0 if none).
    pub fn newest_pin(&self) -> u64 {
        fence(Ordering::SeqCst);
        let mut newest = 0;
        self.live_slots(|pin| newest = newest.max(pin));
        newest
    }

    /// Whether any live read-only handle is attached (the writer then writes every commit's
    /// pages into the file before it publishes it).
    pub fn readers_attached(&self) -> bool {
        let mut any = false;
        self.live_slots(|_| any = true);
        any
    }

    /// Live reader slots: `(pid, pinned txn or 0)` of each (for `larch stat`).
    pub fn readers(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        for i in 0..self.claimed_slots() {
            let base = off::SLOT0 + i as usize * SLOT_LEN;
            let token = self.word(base + SLOT_OFF_TOKEN).load(Ordering::SeqCst);
            if token != 0 && Some(i) != self.own && self.owner_alive(i, token) {
                let pid = self.word(base + SLOT_OFF_PID).load(Ordering::SeqCst);
                out.push((pid, self.word(base + SLOT_OFF_PIN).load(Ordering::SeqCst)));
            }
        }
        out
    }

    /// Sequence number of the published version (even when stable).
    #[inline]
    pub fn published_seq(&self) -> u64 {
        self.word(off::VIS_SEQ).load(Ordering::Acquire)
    }

    /// [`Self::published_seq`], sequentially consistent: the check after [`Self::set_pin`].
    #[inline]
    pub fn published_seq_now(&self) -> u64 {
        self.word(off::VIS_SEQ).load(Ordering::SeqCst)
    }

    /// The published version and its sequence number; `Ok(None)` if none is published now.
    pub fn load_published(&self) -> Option<(u64, Published)> {
        loop {
            let s1 = self.word(off::VIS_SEQ).load(Ordering::Acquire);
            if s1 % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let r = |o: usize| self.word(o).load(Ordering::Relaxed);
            let txn = r(off::VIS_TXN);
            let spare_count = r(off::VIS_SPARE_COUNT) as usize;
            let listed = spare_count.min(SPARE_MAX);
            let p = Published {
                txn,
                catalog: (r(off::VIS_CATALOG), r(off::VIS_CATALOG + 8)),
                freelist: (r(off::VIS_FREELIST), r(off::VIS_FREELIST + 8)),
                page_count: r(off::VIS_PAGE_COUNT),
                log: (r(off::VIS_LOG), r(off::VIS_LOG + 8)),
                spare: (0..listed).map(|i| r(off::SPARE + 8 * i)).collect(),
                spare_complete: spare_count <= SPARE_MAX,
            };
            fence(Ordering::Acquire);
            if self.word(off::VIS_SEQ).load(Ordering::Relaxed) == s1 {
                return (txn != 0).then_some((s1, p));
            }
        }
    }

    /// The writer: publishes `p` (None: withdraws the published version), then fences.
    pub fn store_published(&self, p: Option<&Published>) {
        let seq = self.word(off::VIS_SEQ);
        let s = seq.load(Ordering::Relaxed);
        seq.store(s | 1, Ordering::Relaxed);
        fence(Ordering::Release);
        let w = |o: usize, v: u64| self.word(o).store(v, Ordering::Relaxed);
        match p {
            None => w(off::VIS_TXN, 0),
            Some(p) => {
                w(off::VIS_TXN, p.txn);
                w(off::VIS_CATALOG, p.catalog.0);
                w(off::VIS_CATALOG + 8, p.catalog.1);
                w(off::VIS_FREELIST, p.freelist.0);
                w(off::VIS_FREELIST + 8, p.freelist.1);
                w(off::VIS_PAGE_COUNT, p.page_count);
                w(off::VIS_LOG, p.log.0);
                w(off::VIS_LOG + 8, p.log.1);
                w(off::VIS_SPARE_COUNT, p.spare.len() as u64);
                for (i, &pg) in p.spare.iter().take(SPARE_MAX).enumerate() {
                    w(off::SPARE + 8 * i, pg);
                }
            }
        }
        seq.store((s | 1) + 1, Ordering::Release);
        fence(Ordering::SeqCst);
    }

    /// The writer, after writing pages (before publishing a version that reaches them): appends
    /// their page numbers to the written ring.
    pub fn record_written(&self, pgnos: impl Iterator<Item = u64>) {
        let seq = self.word(off::WRITTEN_SEQ);
        let mut s = seq.load(Ordering::Relaxed);
        for p in pgnos {
            self.word(off::RING + 8 * (s as usize % RING))
                .store(p, Ordering::Relaxed);
            s += 1;
        }
        seq.store(s, Ordering::Release);
    }

    /// Entries appended to the written ring so far.
    pub fn written_seq(&self) -> u64 {
        self.word(off::WRITTEN_SEQ).load(Ordering::Acquire)
    }

    /// Calls `f` with each page number written from entry `from` up to `to` (from
    /// [`Self::written_seq`]); false (calling nothing more) if the ring no longer holds them all.
    pub fn written_between(&self, from: u64, to: u64, mut f: impl FnMut(u64)) -> bool {
        if to < from || to - from > RING as u64 {
            return false;
        }
        for s in from..to {
            f(self
                .word(off::RING + 8 * (s as usize % RING))
                .load(Ordering::Relaxed));
        }
        fence(Ordering::Acquire);
        self.written_seq() - from <= RING as u64
    }
}

impl Drop for ReaderTable {
    /// Leaves the slot free and lets the locks go explicitly: closing the descriptor would
    /// release them too, but only once every copy of it is closed (a child process forked by
    /// another thread holds one until it calls `exec`).
    fn drop(&mut self) {
        let _ = ofd_lock(&self.file, libc::F_OFD_SETLK, libc::F_UNLCK, BYTE_WRITER);
        if let Some(i) = self.own {
            let base = off::SLOT0 + i as usize * SLOT_LEN;
            self.word(base + SLOT_OFF_PIN).store(0, Ordering::SeqCst);
            self.word(base + SLOT_OFF_TOKEN).store(0, Ordering::SeqCst);
            let _ = ofd_lock(
                &self.file,
                libc::F_OFD_SETLK,
                libc::F_UNLCK,
                BYTE_SLOT0 + i64::from(i),
            );
        }
        let _ = ofd_lock(&self.file, libc::F_OFD_SETLK, libc::F_UNLCK, BYTE_ALIVE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_pinned() {
        assert_eq!(off::CLAIMED, 120);
        assert_eq!(off::SPARE, 128);
        assert_eq!(off::RING, 128 + 8 * 512);
        assert_eq!(off::SLOT0, 4224 + 8 * 8192);
        assert_eq!(off::SLOT0, 69_760);
        assert_eq!(file_len(126), 69_760 + 126 * 64);
        assert_eq!(&LOCK_MAGIC.to_le_bytes(), b"LARCHLK\x01");
    }

    #[test]
    fn slots_writer_and_staleness() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.larch");
        let w = ReaderTable::open(&db, 2).unwrap().unwrap();
        w.lock_writer().unwrap();
        let w2 = ReaderTable::open(&db, 2).unwrap().unwrap();
        assert!(matches!(w2.lock_writer(), Err(Error::DatabaseLocked)));
        assert!(w2.writer_alive().unwrap());
        let mut r1 = ReaderTable::open(&db, 99).unwrap().unwrap();
        assert_eq!(r1.slots(), 2, "the first opener chose the slot count");
        r1.claim_slot().unwrap();
        let mut r2 = ReaderTable::open(&db, 2).unwrap().unwrap();
        r2.claim_slot().unwrap();
        let mut r3 = ReaderTable::open(&db, 2).unwrap().unwrap();
        assert!(matches!(r3.claim_slot(), Err(Error::ReadersFull(2))));
        assert!(!w.readers_attached() || w.oldest_pin() == u64::MAX);
        r1.set_pin(7);
        r2.set_pin(9);
        assert_eq!(w.oldest_pin(), 7);
        drop(r1);
        assert_eq!(w.oldest_pin(), 9);
        r3.claim_slot().unwrap();
        r3.set_pin(11);
        assert_eq!(w.oldest_pin(), 9);
        // Published versions and the written ring.
        assert!(w.load_published().is_none());
        let p = Published {
            txn: 5,
            catalog: (3, 5),
            freelist: (4, 5),
            page_count: 10,
            log: (6, 2),
            spare: vec![8, 9],
            spare_complete: true,
        };
        w.store_published(Some(&p));
        assert_eq!(r2.load_published().unwrap().1, p);
        let from = r2.written_seq();
        w.record_written([3, 4].into_iter());
        let mut seen = Vec::new();
        assert!(r2.written_between(from, r2.written_seq(), |p| seen.push(p)));
        assert_eq!(seen, [3, 4]);
        w.store_published(None);
        assert!(r2.load_published().is_none());
    }

    #[test]
    fn the_writer_reads_the_slots_claimed_since_the_reset() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.larch");
        let w = ReaderTable::open(&db, 8).unwrap().unwrap();
        assert_eq!(w.claimed_slots(), 0, "a fresh table has no slot to read");
        assert!(!w.readers_attached());
        let mut r = (0..3)
            .map(|_| ReaderTable::open(&db, 8).unwrap().unwrap())
            .collect::<Vec<_>>();
        for t in r.iter_mut() {
            t.claim_slot().unwrap();
        }
        assert_eq!(w.claimed_slots(), 3);
        // Slots 0 and 1 let go: slot 2, the highest claimed, is still read.
        let high = r.pop().unwrap();
        drop(r);
        high.set_pin(4);
        assert_eq!((w.oldest_pin(), w.claimed_slots()), (4, 3));
        drop(high);
        assert_eq!(w.oldest_pin(), u64::MAX);
        // A slot claimed again below the mark leaves it; the mark never shrinks before a reset.
        let mut again = ReaderTable::open(&db, 8).unwrap().unwrap();
        again.claim_slot().unwrap();
        again.set_pin(9);
        assert_eq!((w.oldest_pin(), w.claimed_slots()), (9, 3));
    }
}
