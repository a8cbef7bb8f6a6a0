//! The writer role: one write transaction at a time, handed over in the order threads asked for
//! it (a ticket lock).
//!
//! **Why tickets.** The role used to be a flag that whoever found it free took. A thread that gave
//! it up and began its next transaction at once (an `Eventual` commit waits for nothing) took it
//! again before the threads already waiting could; those yielded for a while, fell asleep, and
//! each release woke one of them only to find the role taken again. With 8 threads making
//! `Eventual` commits that churn (about one sleep and one wake-up per commit, perf) made each
//! commit cost up to 2.4x what it costs one thread. With tickets nobody takes the role out of
//! turn, and a waiter whose turn comes within the yield bound never sleeps.
//!
//! A waiter yields the processor until its turn comes, for at most the yield bound of
//! `group_sync.rs` (with many committing threads the role changes hands once per commit, faster
//! than a sleeping thread wakes on some machines), then sleeps until a release serves its ticket.

use super::group_sync::sync::yield_while;
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicU64, Ordering};

/// The role's tickets: the thread holding ticket `serving` has the role (or is about to take it),
/// and `next - serving` threads hold it or wait for it.
#[derive(Default)]
pub(crate) struct WriterRole {
    /// The ticket the next thread to ask for the role gets.
    next: AtomicU64,
    /// The ticket whose turn it is; raised, under the lock of `sleepers`, by each release.
    serving: AtomicU64,
    /// Threads sleeping until their ticket is served.
    sleepers: Mutex<u32>,
    /// Signalled when `serving` rises and a waiter sleeps.
    released: Condvar,
}

impl WriterRole {
    /// Blocks until the calling thread holds the role, after every thread that asked before it.
    pub fn acquire(&self) {
        let ticket = self.next.fetch_add(1, Ordering::AcqRel);
        let turn = || self.serving.load(Ordering::Acquire) == ticket;
        if yield_while(|| !turn()) {
            return;
        }
        let mut sleepers = self.sleepers.lock();
        *sleepers += 1;
        while !turn() {
            self.released.wait(&mut sleepers);
        }
        *sleepers -= 1;
    }

    /// Takes the role if nobody holds it or waits for it.
    pub fn try_acquire(&self) -> bool {
        // With no ticket out, `serving` cannot move: only the holder's release raises it.
        let serving = self.serving.load(Ordering::Acquire);
        (self.next)
            .compare_exchange(serving, serving + 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Gives the role up, to the thread that asked for it next (the caller holds it).
    pub fn release(&self) {
        // Under the lock, so that a waiter about to sleep sees the raise or is woken by it.
        let sleepers = self.sleepers.lock();
        self.serving.fetch_add(1, Ordering::Release);
        if *sleepers > 0 {
            // Every sleeper looks; the one whose ticket is served goes on.
            self.released.notify_all();
        }
    }

    /// Threads that hold the role or wait for it (a moment's count: `serving` is read first, so
    /// it never comes out below the true count at that moment).
    pub fn queued(&self) -> u64 {
        let serving = self.serving.load(Ordering::SeqCst);
        self.next.load(Ordering::SeqCst) - serving
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Waits (yielding) until `n` threads hold or wait for `role`.
    fn until_queued(role: &WriterRole, n: u64) {
        while role.queued() < n {
            std::thread::yield_now();
        }
    }

    #[test]
    fn waiting_threads_get_the_role_in_the_order_they_asked() {
        let role = Arc::new(WriterRole::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        role.acquire();
        let mut threads = Vec::new();
        for id in 0..4 {
            let (mine, order) = (role.clone(), order.clone());
            threads.push(std::thread::spawn(move || {
                mine.acquire();
                order.lock().push(id);
                // Holds the role long enough that a thread taking it out of turn would show.
                std::thread::sleep(std::time::Duration::from_millis(2));
                mine.release();
            }));
            // The next thread asks only once this one holds its ticket.
            until_queued(&role, id + 2);
        }
        // Long enough that the waiters stop yielding and sleep: both paths hand over in order.
        std::thread::sleep(std::time::Duration::from_millis(20));
        role.release();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*order.lock(), vec![0, 1, 2, 3]);
        assert_eq!(role.queued(), 0);
    }

    #[test]
    fn try_acquire_fails_while_the_role_is_held_or_waited_for() {
        let role = Arc::new(WriterRole::default());
        assert!(role.try_acquire());
        assert!(!role.try_acquire());
        let (got, go) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let waiter = {
            let (role, got, go) = (role.clone(), got.0, go.1);
            std::thread::spawn(move || {
                role.acquire();
                got.send(()).unwrap();
                go.recv().unwrap();
                role.release();
            })
        };
        until_queued(&role, 2);
        // Held, and waited for.
        assert!(!role.try_acquire());
        role.release();
        got.1.recv().unwrap();
        // Held by the waiter now.
        assert!(!role.try_acquire());
        go.0.send(()).unwrap();
        waiter.join().unwrap();
        assert!(role.try_acquire());
        role.release();
        assert_eq!(role.queued(), 0);
    }
}
