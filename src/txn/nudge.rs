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
    /// A background thread runs and takes requests.
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

    /// Asks the thread to do `jobs` now. False if no thread takes requests (the caller then does
    /// them itself when they can wait no longer).
    pub fn ask(&self, jobs: Jobs) -> bool {
        let mut st = self.state.lock();
        if !st.running || st.stopped {
            return false;
        }
        let before = st.asked;
        st.asked.sync |= jobs.sync;
        st.asked.zero |= jobs.zero;
        if st.asked != before {
            self.wake.notify_one();
        }
        true
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

    #[test]
    fn requests_are_refused_until_a_thread_takes_them_and_after_it_stops() {
        let n = Nudge::default();
        let sync = Jobs {
            sync: true,
            zero: false,
        };
        assert!(!n.ask(sync), "no thread yet");
        n.start();
        assert!(n.ask(sync));
        n.stop();
        assert!(!n.ask(sync), "stopped");
        assert_eq!(n.wait(Instant::now(), Duration::from_secs(60)), None);
    }

    #[test]
    fn a_request_wakes_the_thread_before_its_tick_and_requests_merge() {
        let n = Arc::new(Nudge::default());
        n.start();
        let t = {
            let n = n.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let jobs = n.wait(started, Duration::from_secs(600));
                (jobs, started.elapsed())
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        let zero = Jobs {
            sync: false,
            zero: true,
        };
        assert!(n.ask(zero));
        let (jobs, waited) = t.join().unwrap();
        assert!(waited < Duration::from_secs(600));
        let jobs = jobs.unwrap();
        assert!(jobs.zero, "the zeroing asked for: {jobs:?}");
        // Requests made while the thread is busy wait for it, merged.
        assert!(n.ask(Jobs {
            sync: true,
            zero: false
        }));
        assert!(n.ask(zero));
        let jobs = n.wait(Instant::now(), Duration::from_secs(600));
        assert_eq!(
            jobs,
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
