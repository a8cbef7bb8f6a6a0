//! Keeping a processor awake while a commit waits for the disk.
//!
//! A durable commit's thread sleeps in the kernel while its record's `RWF_DSYNC` write runs (and
//! any commit's thread while it zeroes the log ahead of its records or makes a checkpoint). On
//! a machine whose idle processors halt at once (virtual machines whose guests do not poll before
//! halting, as the one larchdb is measured on), both processors are then halted when the disk
//! answers, and waking them (the one taking the interrupt, then the sleeping thread's) costs about
//! as much as the disk's own work (the README's measurements).
//!
//! So, unless turned off ([`crate::Builder::keep_awake_during_syncs`]), a thread of the handle
//! (`db.rs`), woken when such a wait starts, keeps its processor busy until it ends and for
//! [`LINGER`] after the last one (so that a stream of commits does not wake it for each). It
//! runs at the lowest scheduling priority (`SCHED_IDLE`): any other thread that wants the
//! processor preempts it at once, so it only ever uses time that would otherwise be idle, which
//! [`KeepAwake::awake_time`] counts.

use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

thread_local! {
    /// Whether this thread is a handle's background thread ([`mark_background_thread`]).
    static IN_BACKGROUND_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks the calling thread as a handle's background thread (`db.rs`), whose syncs nobody waits
/// for: they wake no thread to stay awake.
pub(crate) fn mark_background_thread() {
    IN_BACKGROUND_THREAD.with(|b| b.set(true));
}

/// How long the thread stays awake after the last sync ended.
pub(crate) const LINGER: Duration = Duration::from_micros(100);

/// The state shared by the threads that sync and the thread that stays awake for them.
#[derive(Default)]
pub(crate) struct KeepAwake {
    /// Whether waits for the disk wake the thread (it runs).
    enabled: AtomicBool,
    /// Waits for the disk in flight.
    in_flight: AtomicU32,
    /// Committers waiting for their commit's sync (the one that leads it among them).
    waiting: AtomicU32,
    /// Waits for the disk started so far (the linger starts over when one starts).
    started: AtomicU64,
    /// The handle is closing.
    stop: AtomicBool,
    /// The thread sleeps on `wake` (or is about to).
    parked: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
    /// Nanoseconds the thread stayed awake for syncs.
    awake_ns: AtomicU64,
}

/// A committer waiting for its sync, from [`KeepAwake::committer_waits`] until dropped.
pub(crate) struct CommitterWaits<'a>(&'a KeepAwake);

impl Drop for CommitterWaits<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A wait for the disk in flight, from [`KeepAwake::disk_wait_started`] until dropped.
pub(crate) struct DiskWait<'a>(&'a KeepAwake);

impl Drop for DiskWait<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl KeepAwake {
    /// Makes syncs wake the thread from now on (it runs).
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::SeqCst);
    }

    /// Says that the calling thread waits for its commit's sync until the returned value is
    /// dropped.
    pub fn committer_waits(&self) -> CommitterWaits<'_> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        CommitterWaits(self)
    }

    /// Says that the calling thread starts a sync or a durable write (a log sync, zeroing the
    /// log ahead of its records, a checkpoint's sync), which lasts until the returned value is
    /// dropped; wakes the thread if it sleeps. None if not enabled, if the calling thread is the
    /// handle's background thread (no caller waits for its syncs), or if more than one committer
    /// waits for their commits' sync: those keep processors busy themselves meanwhile
    /// (yielding, `group_sync.rs`).
    pub fn disk_wait_started(&self) -> Option<DiskWait<'_>> {
        if !self.enabled.load(Ordering::Relaxed)
            || self.waiting.load(Ordering::Relaxed) > 1
            || IN_BACKGROUND_THREAD.with(|b| b.get())
        {
            return None;
        }
        // SeqCst on both sides (with `wait`'s store to `parked` and load of `in_flight`): either
        // this thread sees it parked and wakes it, or it sees the sync and does not sleep.
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.started.fetch_add(1, Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst) {
            let _held = self.lock.lock();
            self.wake.notify_one();
        }
        Some(DiskWait(self))
    }

    /// Ends the thread: its wait or stay returns at once.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _held = self.lock.lock();
        self.wake.notify_one();
    }

    /// The thread: sleeps until a wait for the disk is in flight (true) or the handle closes
    /// (false).
    pub fn wait(&self) -> bool {
        let mut held = self.lock.lock();
        let woken = loop {
            if self.stop.load(Ordering::SeqCst) {
                break false;
            }
            self.parked.store(true, Ordering::SeqCst);
            if self.in_flight.load(Ordering::SeqCst) > 0 {
                break true;
            }
            self.wake.wait(&mut held);
        };
        self.parked.store(false, Ordering::SeqCst);
        woken
    }

    /// The thread: keeps its processor busy while a wait for the disk is in flight and until
    /// [`LINGER`] after the last one ended, or until the handle closes.
    pub fn stay_awake(&self) {
        let from = Instant::now();
        // When no sync was in flight any more, and how many had started by then.
        let mut idle_since: Option<(Instant, u64)> = None;
        while !self.stop.load(Ordering::Relaxed) {
            if self.in_flight.load(Ordering::SeqCst) > 0 {
                idle_since = None;
            } else {
                let started = self.started.load(Ordering::SeqCst);
                match idle_since {
                    Some((at, seen)) if seen == started => {
                        if at.elapsed() >= LINGER {
                            break;
                        }
                    }
                    _ => idle_since = Some((Instant::now(), started)),
                }
            }
            std::hint::spin_loop();
        }
        let ns = from.elapsed().as_nanos().min(u64::MAX as u128) as u64;
        self.awake_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// How long the thread stayed awake for syncs so far.
    pub fn awake_time(&self) -> Duration {
        Duration::from_nanos(self.awake_ns.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn enabled() -> KeepAwake {
        let k = KeepAwake::default();
        k.enable();
        k
    }

    /// Waits until the thread sleeps, so that what comes next has to wake it.
    fn until_parked(k: &KeepAwake) {
        while !k.parked.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_sync_in_flight_wakes_the_thread_and_keeps_it_awake_until_it_ends() {
        let k = Arc::new(enabled());
        let thread = {
            let k = k.clone();
            std::thread::spawn(move || {
                let woken = k.wait();
                k.stay_awake();
                woken
            })
        };
        until_parked(&k);
        let _me = k.committer_waits();
        let sync = k
            .disk_wait_started()
            .expect("enabled, and one committer waits");
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            !thread.is_finished(),
            "it stays awake while the sync is in flight"
        );
        drop(sync);
        assert!(thread.join().unwrap());
        assert!(k.awake_time() >= Duration::from_millis(20));
        assert!(!k.parked.load(Ordering::SeqCst));
    }

    #[test]
    fn a_sync_that_starts_before_the_wait_is_not_missed() {
        let k = enabled();
        let _me = k.committer_waits();
        let _sync = k.disk_wait_started();
        assert!(k.wait());
    }

    #[test]
    fn stop_ends_a_wait_and_a_stay() {
        let k = Arc::new(enabled());
        let waiting = {
            let k = k.clone();
            std::thread::spawn(move || k.wait())
        };
        until_parked(&k);
        k.stop();
        assert!(!waiting.join().unwrap());
        // A stay with a sync still in flight ends too.
        let _me = k.committer_waits();
        assert!(k.disk_wait_started().is_some());
        k.stay_awake();
    }

    #[test]
    fn nobody_is_woken_when_disabled_for_the_background_thread_or_many_committers() {
        assert!(KeepAwake::default().disk_wait_started().is_none());
        let k = Arc::new(enabled());
        assert!(k.disk_wait_started().is_some(), "a checkpoint's sync");
        let _me = k.committer_waits();
        assert!(k.disk_wait_started().is_some(), "the leader alone");
        let background = {
            let k = k.clone();
            std::thread::spawn(move || {
                mark_background_thread();
                k.disk_wait_started().is_none()
            })
        };
        assert!(
            background.join().unwrap(),
            "the background thread's own sync"
        );
        let _other = k.committer_waits();
        assert!(
            k.disk_wait_started().is_none(),
            "another committer waits too"
        );
    }
}
