//! Handles in several processes: how a database handle uses its lock file's reader table
//! (`store::readers`; docs/FORMAT.md section 18).
//!
//! **The writable handle** publishes, beside each version it makes current in-process, the same
//! version in the lock file, once every page of it is in the database file (not only in the
//! write window): while a read-only handle is attached, each commit writes its pages into the
//! file before its log record (instead of keeping them in the window), so every version it
//! publishes is readable by other processes. With no reader attached it keeps the window and
//! withdraws the published version while the newest one's pages are not all in the file. The
//! published version is only ever the in-process current one (or none), which the writer's gate
//! already protects; and the gate takes the oldest txn pinned by a live reader slot.
//!
//! **A read-only handle** owns a reader slot. A snapshot takes the published version (without
//! reading the file's meta or log), after pinning its txn in the slot and checking that it is
//! still the published one (so a writer that computes its gate afterwards sees the pin, and one
//! that computed it before protected that version as its current one). The slot holds the oldest
//! txn any live snapshot of the handle reads, and is cleared when none is alive. Before a new
//! version is read, the pages the writer rewrote since the handle's last look (the lock file's
//! written ring) leave its page cache (and count as unverified for the map), so no stale copy is
//! ever served. When no version is published (no writer has run, or it withdrew its version),
//! the handle reads the file as a read-only open always did: the last checkpoint, and the log
//! replayed in memory; it pins that checkpoint's txn for as long as it reads it.

use super::read::ReadTxn;
use super::{Shared, Version};
use crate::error::{Error, Result};
use crate::page::PagePtr;
use crate::store::readers::{Published, ReaderTable};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a read-only handle waits for the writer to publish a version (a writer between
/// withdrawing one and publishing the next, or opening) before it gives up.
const PUBLISH_WAIT: Duration = Duration::from_secs(10);
/// How long a writable open waits for readers of a previous writer's unfinished commits to end.
const READERS_WAIT: Duration = Duration::from_secs(10);
/// How long a read-only open waits for a live writer to publish its newest version before it
/// reads the file's last checkpoint and log instead.
const OPEN_WAIT: Duration = Duration::from_millis(300);

/// A handle's attachment to the lock file.
pub(crate) struct Attached {
    /// The lock file.
    pub table: ReaderTable,
    /// The writer: makes the in-process publication and the lock file's one a single step.
    publish: Mutex<()>,
    /// A read-only handle: its snapshots' bookkeeping.
    reader: Mutex<ReaderState>,
}

/// What a read-only handle knows about its slot and the version in its cell.
#[derive(Default)]
struct ReaderState {
    /// Sequence number of the published version the cell's version came from.
    seq: u64,
    /// That version's txn (what the slot pins for it).
    txn: u64,
    /// The cell's version was read from the file (no version was published): its pin (the
    /// checkpoint's txn) stays in the slot while it is the cell's.
    from_file: bool,
    /// Live snapshots (`ReadTxn`s) of this handle.
    live: usize,
    /// The slot pins the cell's version and every live snapshot's.
    pinned: bool,
    /// Written-ring position up to which rewritten pages were forgotten.
    seen_written: u64,
    /// Writer epoch at that point.
    epoch: u64,
}

impl Attached {
    /// An attachment through `table`.
    pub fn new(table: ReaderTable) -> Attached {
        let st = ReaderState {
            seen_written: table.written_seq(),
            epoch: table.writer_epoch(),
            ..ReaderState::default()
        };
        Attached {
            table,
            publish: Mutex::new(()),
            reader: Mutex::new(st),
        }
    }

    /// A read-only open, before it reads the file: if a writer is alive, waits (briefly) for
    /// it to publish a version. True if one is published: the open then need not replay the log.
    pub fn published_at_open(&self) -> Result<bool> {
        let deadline = Instant::now() + OPEN_WAIT;
        loop {
            if self.table.load_published().is_some() {
                return Ok(true);
            }
            if !self.table.writer_alive()? || Instant::now() > deadline {
                let mut st = self.reader.lock();
                st.seq = self.table.published_seq();
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// A writable open that chose checkpoint `checkpoint_txn`, before it writes: waits until no
    /// reader pins a later commit (one of a writer that stopped without checkpointing it, whose
    /// pages this writer's recovery does not know and may reuse).
    pub fn wait_for_stale_readers(&self, checkpoint_txn: u64) -> Result<()> {
        let a = self;
        let deadline = Instant::now() + READERS_WAIT;
        while a.table.newest_pin() > checkpoint_txn {
            if Instant::now() > deadline {
                return Err(Error::LockFile(format!(
                    "{}: read-only handles still read commits of a writer that stopped without \
                     checkpointing them; open for writing once they end their transactions",
                    a.table.path().display()
                )));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }
}

/// The lock file's form of `v`, if every page of it is in the database file and its catalog
/// tree holds every table's root.
fn published_form(v: &Version) -> Option<Published> {
    // The lock file names the catalog tree alone: it must hold every root.
    if !v.view.windows_flushed() || !v.deferred.is_empty() {
        return None;
    }
    Some(Published {
        txn: v.txn,
        catalog: (v.catalog.pgno, v.catalog.txn),
        freelist: (v.freelist.pgno, v.freelist.txn),
        page_count: v.view.page_count(),
        log: v.log,
        // A reader's check counts the pending and old frees as free too: they are published with the
        // spare pages (a reader never commits, so it needs no more of them).
        spare: v.unrecorded_free(),
        spare_complete: v.spare_complete,
    })
}

impl Shared {
    /// The writer's attachment, if this is a writable handle with a lock file.
    fn writer_table(&self) -> Option<&Attached> {
        self.attached.as_ref().filter(|_| !self.config.read_only)
    }

    /// The oldest txn a read-only handle (of any process) pins (`u64::MAX` if none).
    pub(crate) fn foreign_pin(&self) -> u64 {
        self.writer_table()
            .map_or(u64::MAX, |a| a.table.oldest_pin())
    }

    /// Whether read-only handles are attached, so that each commit must write its pages into
    /// the file before it is published.
    pub(crate) fn write_through(&self) -> bool {
        self.writer_table()
            .is_some_and(|a| a.table.readers_attached())
    }

    /// After the writer wrote pages into the file: tells read-only handles which.
    pub(crate) fn note_written(&self, pages: &[(u64, &[u8])]) {
        if let Some(a) = self.writer_table() {
            a.table.record_written(pages.iter().map(|&(p, _)| p));
        }
    }

    /// Makes `v` the version readers see: in this process, and in the lock file if its pages
    /// are all in the file (otherwise the lock file publishes none until they are).
    pub(crate) fn publish_version(&self, v: Arc<Version>) {
        let Some(a) = self.writer_table() else {
            self.current.publish(v.txn, v);
            return;
        };
        let _order = a.publish.lock();
        // Withdraw first: the lock file never names a version that is not the current one.
        if a.table.load_published().is_some() {
            a.table.store_published(None);
        }
        let form = published_form(&v);
        self.current.publish(v.txn, v);
        if let Some(p) = form {
            a.table.store_published(Some(&p));
        }
    }

    /// Publishes the current version in the lock file if its pages are all in the file now (at
    /// open, and after the write window was flushed).
    pub(crate) fn publish_current(&self) {
        if let Some(a) = self.writer_table() {
            let _order = a.publish.lock();
            let current = self.current.load_full();
            let already = a.table.load_published().map(|(_, p)| p.txn) == Some(current.txn);
            if let Some(p) = published_form(&current).filter(|_| !already) {
                a.table.store_published(Some(&p));
            }
        }
    }

    /// Whether the lock file lacks a published version while readers are attached (the
    /// background thread then flushes the window without waiting for commits to pause).
    pub(crate) fn readers_waiting(&self) -> bool {
        self.writer_table()
            .is_some_and(|a| a.table.load_published().is_none() && a.table.readers_attached())
    }

    /// A read-only handle that read the file at open: marks its version as read from the file
    /// (`published` false), pinned by its checkpoint's txn, or adopts the published version.
    pub(crate) fn reader_opened(&self, published: bool) -> Result<()> {
        let Some(a) = self.reader_table() else {
            return Ok(());
        };
        let mut st = a.reader.lock();
        if published {
            st.pinned = false;
            self.refresh(a, &mut st)?;
            // No snapshot yet: pin nothing until the first one.
            a.table.clear_pin();
            st.pinned = false;
            Ok(())
        } else {
            st.from_file = true;
            st.pinned = true;
            a.table.set_pin(self.current.oldest_live());
            Ok(())
        }
    }

    /// A read-only handle's attachment, if it has a slot.
    fn reader_table(&self) -> Option<&Attached> {
        self.attached.as_ref().filter(|_| self.config.read_only)
    }

    /// Starts a snapshot: of the published version if this is a read-only handle with a lock
    /// file, otherwise of the current version.
    pub(crate) fn begin_read(self: &Arc<Shared>) -> Result<ReadTxn> {
        let Some(a) = self.reader_table() else {
            return Ok(ReadTxn::begin(self.clone(), false));
        };
        let mut st = a.reader.lock();
        let seq = a.table.published_seq();
        if seq != st.seq || st.from_file {
            self.refresh(a, &mut st)?;
        } else if !st.pinned {
            // The cell's version is still the published one: pin it and check that it still is
            // (as `refresh` does, without reading the version again).
            a.table.set_pin(st.txn);
            if a.table.published_seq_now() == seq {
                st.pinned = true;
            } else {
                self.refresh(a, &mut st)?;
            }
        }
        st.live += 1;
        // Taken under the lock: the cell's version is pinned while `live` counts this snapshot.
        Ok(ReadTxn::begin(self.clone(), true))
    }

    /// A snapshot of a read-only handle with a lock file ended.
    pub(crate) fn end_read(&self) {
        if let Some(a) = self.reader_table() {
            let mut st = a.reader.lock();
            st.live -= 1;
            if st.live == 0 && !st.from_file {
                a.table.clear_pin();
                st.pinned = false;
            }
        }
    }

    /// Under the reader lock: makes the cell hold the published version, pinned.
    fn refresh(&self, a: &Attached, st: &mut ReaderState) -> Result<()> {
        let mut deadline = None;
        loop {
            let Some((seq, p)) = a.table.load_published() else {
                if st.from_file || (st.pinned && st.live > 0) {
                    // Still pinned: keep reading the cell's version until one is published.
                    return Ok(());
                }
                let d = *deadline.get_or_insert_with(|| Instant::now() + PUBLISH_WAIT);
                if Instant::now() > d {
                    // Nothing alive reads through the slot: leave it pinning nothing.
                    if st.live == 0 {
                        a.table.clear_pin();
                        st.pinned = false;
                    }
                    return Err(Error::LockFile(format!(
                        "{}: no version published by the writer for {PUBLISH_WAIT:?} (a writer \
                         stopped in a commit, or is recovering); reopen the database",
                        a.table.path().display()
                    )));
                }
                std::thread::sleep(Duration::from_micros(200));
                continue;
            };
            let epoch = a.table.writer_epoch();
            let cur = self.current.load_full();
            let same = !st.from_file && cur.txn == p.txn && st.epoch == epoch;
            let pin = match st.live {
                0 => p.txn,
                _ => self.current.oldest_live().min(p.txn),
            };
            a.table.set_pin(pin);
            if a.table.published_seq_now() != seq {
                continue;
            }
            // Pinned, and still the published version: adopt it. First forget the pages the
            // writer rewrote since the last look.
            let to = a.table.written_seq();
            let mut pages = Vec::new();
            let listed = st.epoch == epoch
                && a.table
                    .written_between(st.seen_written, to, |p| pages.push(p));
            let v = if same {
                cur
            } else {
                Arc::new(Version {
                    txn: p.txn,
                    catalog: PagePtr {
                        pgno: p.catalog.0,
                        txn: p.catalog.1,
                    },
                    freelist: PagePtr {
                        pgno: p.freelist.0,
                        txn: p.freelist.1,
                    },
                    log: p.log,
                    view: cur.view.resized(&self.store, p.page_count)?,
                    spare: p.spare.into(),
                    pending: Arc::new([]),
                    old_frees: Default::default(),
                    spare_complete: p.spare_complete,
                    deferred: Arc::new([]),
                })
            };
            v.view.forget(listed.then_some(&pages[..]));
            (st.seen_written, st.epoch) = (to, epoch);
            if !Arc::ptr_eq(&v, &self.current.load_full()) {
                self.current.publish(p.txn, v);
            }
            (st.seq, st.txn) = (seq, p.txn);
            st.pinned = true;
            st.from_file = false;
            return Ok(());
        }
    }

    /// Live read-only handles of this database in any process: `(pid, pinned txn or 0)`.
    pub(crate) fn foreign_readers(&self) -> Vec<(u64, u64)> {
        self.attached
            .as_ref()
            .map_or_else(Vec::new, |a| a.table.readers())
    }
}
