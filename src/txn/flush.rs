//! Writing beside the writer. A full write window is handed to a flush of its own
//! ([`Shared::hand_off_window`]) and the next commits fill a new one; and while a large commit
//! writes its pages, the kernel's write-back of the batches written so far is started from
//! another thread ([`Shared::with_writeback`]).
//!
//! **Why.** A window holds up to [`crate::store::window::WINDOW_BYTES`] of pages; flushing it
//! (sealing a copy of each page and writing it into the file) took 36-55 ms per window of about
//! 14,500 pages, and 100 commits of 1,000 random inserts into 1M keys fill seven of them: 29 % of
//! those commits' time went into flushes made by the commit that found the window full. On a
//! second core the flush runs beside the commits that follow.
//!
//! **Why it is safe.** A flush writes pages into space that no checkpoint reaches (the pages of
//! commits since the last checkpoint), whenever it runs: that does not change. What changes is
//! that the next commits' versions read through two windows, the new one and the one being
//! flushed (`View::older_window`), until the flush ends; a page in both is newer in the new one,
//! which is looked up first. Every other write of tree pages into the file (the next window's
//! flush, a large commit's pages, a checkpoint) first waits for the flush to end
//! ([`Shared::join_flush`], which `flush_window` and `write_sealed` call), so the file receives
//! the windows' pages in commit order, and a checkpoint's meta never names a page whose write
//! has not returned. All of those run with the writer role held, so one thread joins at a time.
//! A flush that fails poisons the handle at the join (the commits made meanwhile are in the log;
//! recovery replays them), and the join returns the error.
//!
//! **Deferred.** On the simulated disk the flush does not run on a thread: it runs at the join,
//! on the joining thread. The disk then sees one order of operations per run (its crash and
//! fault tests replay a run to cut it at each operation), and the tests still cover versions
//! that read through two windows, with the older one not yet in the file.

use super::Shared;
use crate::error::{Error, Result};
use crate::store::{View, Window};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

/// A window handed off to be flushed, not joined yet.
pub(crate) enum PendingFlush {
    /// Flushing on a thread of its own.
    Running(JoinHandle<Result<()>>),
    /// To be flushed at the join (the simulated disk).
    Deferred(Arc<Window>, View),
}

impl Shared {
    /// With the writer role held: starts flushing `window` (full), whose pages `view` (any view
    /// of this file) takes as written, after the previous handed-off window's flush ends.
    pub(crate) fn hand_off_window(self: &Arc<Self>, window: Arc<Window>, view: View) -> Result<()> {
        self.join_flush()?;
        self.metrics.window_handed_off();
        let pending = match self.store.background_writes() {
            true => {
                let (shared, w, v) = (self.clone(), window.clone(), view.clone());
                let spawned = std::thread::Builder::new()
                    .name("larchdb-flush".into())
                    .spawn(move || shared.flush_window_now(&w, &v, true));
                match spawned {
                    Ok(handle) => PendingFlush::Running(handle),
                    // No thread to be had: the join flushes it.
                    Err(_) => PendingFlush::Deferred(window, view),
                }
            }
            false => PendingFlush::Deferred(window, view),
        };
        *self.flushing.lock() = Some(pending);
        Ok(())
    }

    /// Waits for the flush of the handed-off window, if any, to end (runs it, if deferred). On
    /// its error, poisons the handle and returns the error; with no flush pending, fails if the
    /// handle is poisoned (an earlier join's flush failed).
    pub(crate) fn join_flush(&self) -> Result<()> {
        let mut flushing = self.flushing.lock();
        let result = match flushing.take() {
            None => return self.check_poisoned(),
            Some(PendingFlush::Running(handle)) => handle.join().unwrap_or_else(|_| {
                Err(Error::Io(std::io::Error::other(
                    "the window's flush thread panicked",
                )))
            }),
            Some(PendingFlush::Deferred(window, view)) => {
                self.flush_window_now(&window, &view, true)
            }
        };
        drop(flushing);
        result.inspect_err(|e| self.poison(e))
    }

    /// Runs `write`, which writes a large commit's pages in batches and calls the function it
    /// is given after each batch but the last, to start the kernel writing back what it wrote.
    /// With `batches` (more than one) on a real file, that start runs on a thread of its own:
    /// `sync_file_range` submits the pages to the disk itself, which took a quarter of such a
    /// commit's time (perf, 500,000 removals in one transaction and compaction's commits), and
    /// it can run on a second core beside the next batches' sealing and copying. Otherwise (or
    /// if no thread can be had) it runs in place.
    pub(crate) fn with_writeback<R>(&self, batches: bool, write: impl FnOnce(&dyn Fn()) -> R) -> R {
        if !batches || !self.store.background_writes() {
            return write(&|| self.store.start_writeback());
        }
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::channel::<()>();
            let helper = std::thread::Builder::new()
                .name("larchdb-writeback".into())
                .spawn_scoped(scope, move || {
                    while rx.recv().is_ok() {
                        // Requests made while the last one ran are served by one call.
                        while rx.try_recv().is_ok() {}
                        self.store.start_writeback();
                    }
                });
            match helper {
                Ok(_) => write(&move || {
                    // The helper ends only once the sender is dropped: it is there to receive.
                    let _ = tx.send(());
                }),
                Err(_) => write(&|| self.store.start_writeback()),
            }
        })
    }
}
