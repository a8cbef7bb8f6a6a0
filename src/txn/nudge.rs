//! Asking the handle's background thread (`db.rs`) to act before its next tick.
//!
//! The background thread wakes every [`crate::Builder::sync_interval`] to sync the log of
//! `Eventual` commits. Two jobs cannot wait that long without a commit paying for them: the log
//! must be synced before [`super::MAX_UNSYNCED_COMMITS`] records are unsynced (or the commit that
//! finds the bound reached syncs it, about a millisecond), and the region must be durably zeroed
//! ahead of the records (or the commit whose record reaches the zeroed mark zeroes it, a few
//! milliseconds). A commit that sees either coming asks for it here, while the thread still has
//! time to do it beside the commits that follow.

use parking_lot::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Jobs a commit asks the background thread to do now.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct Jobs {
    /// Sync the log (the unsynced records approach their bound).
    pub sync: bool,
    /// Zero the region ahead of the records (they approach the zeroed mark).
    pub zero: bool,
}

/// What the thread and the commits share.
#[derive(Default)]
struct State {
    /// A background thread runs and takes requests (not once stopped).
    running: bool,
    /// The handle is closing: the thread ends.
    stopped: bool,
    /// Jobs asked for and not yet taken by the thread.
    asked: Jobs,
}

/// The requests to the background thread, and its wake-up.
#[derive(Default)]
pub(crate) struct Nudge {
    state: Mutex<State>,
    wake: Condvar,
}

impl Nudge {
    /// Says that a background thread runs and takes requests from now on.
    pub fn start(&self) {
        self.state.lock().running = true;
    }

    /// Asks the thread to do `jobs` now; nothing if no thread takes requests (the caller does
    /// them itself when they can wait no longer, as it must anyway if the thread is late).
    pub fn ask(&self, jobs: Jobs) {
        let mut st = self.state.lock();
        if !st.running {
            return;
        }
        let before = st.asked;
        st.asked.sync |= jobs.sync;
        st.asked.zero |= jobs.zero;
        if st.asked != before {
            self.wake.notify_one();
        }
    }

    /// Ends the thread: its wait returns None at once, and requests are refused from now on.
    pub fn stop(&self) {
        let mut st = self.state.lock();
        st.stopped = true;
        st.running = false;
        self.wake.notify_one();
    }

    /// The thread: waits until jobs are asked for (returns them) or `every` has passed since
    /// `tick` started (returns no jobs: the tick is due). None once stopped.
    pub fn wait(&self, tick: Instant, every: Duration) -> Option<Jobs> {
        let deadline = tick + every;
        let mut st = self.state.lock();
        loop {
            if st.stopped {
                return None;
            }
            if st.asked != Jobs::default() {
                return Some(std::mem::take(&mut st.asked));
            }
            if self.wake.wait_until(&mut st, deadline).timed_out() {
                return match st.stopped {
                    true => None,
                    false => Some(std::mem::take(&mut st.asked)),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const SYNC: Jobs = Jobs {
        sync: true,
        zero: false,
    };
    const ZERO: Jobs = Jobs {
        sync: false,
        zero: true,
    };

    /// Waits at most 30 s for jobs (a tick, with none, if nothing was asked).
    fn jobs_within_30s(n: &Nudge) -> Option<Jobs> {
        n.wait(Instant::now(), Duration::from_secs(30))
    }

    #[test]
    fn requests_are_dropped_until_a_thread_takes_them_and_after_it_stops() {
        let n = Nudge::default();
        n.ask(SYNC);
        n.start();
        assert_eq!(
            n.wait(Instant::now(), Duration::from_millis(1)),
            Some(Jobs::default()),
            "asked before the thread ran"
        );
        n.ask(SYNC);
        n.stop();
        n.ask(ZERO);
        assert_eq!(jobs_within_30s(&n), None, "stopped");
    }

    #[test]
    fn a_request_wakes_the_thread_before_its_tick_and_requests_merge() {
        let n = Arc::new(Nudge::default());
        n.start();
        let t = {
            let n = n.clone();
            std::thread::spawn(move || jobs_within_30s(&n))
        };
        std::thread::sleep(Duration::from_millis(20));
        n.ask(ZERO);
        assert_eq!(t.join().unwrap(), Some(ZERO), "woken by the request");
        // Requests made while the thread is busy wait for it, merged.
        n.ask(SYNC);
        n.ask(ZERO);
        assert_eq!(
            jobs_within_30s(&n),
            Some(Jobs {
                sync: true,
                zero: true
            })
        );
    }

    #[test]
    fn the_tick_comes_with_no_jobs() {
        let n = Nudge::default();
        n.start();
        let jobs = n.wait(Instant::now(), Duration::from_millis(5));
        assert_eq!(jobs, Some(Jobs::default()));
    }
}
