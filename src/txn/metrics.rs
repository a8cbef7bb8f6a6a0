//! Counters of the write path: commits and their latency, log syncs and bytes, checkpoints.
//! Updated with relaxed atomics (a few nanoseconds per commit); read by `Database::metrics`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// What the write path has done since the database was opened: [`crate::Database::metrics`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Metrics {
    /// Commits that wrote something.
    pub commits: u64,
    /// Median commit latency (from `commit()` to its return), to within a quarter power of two.
    pub commit_p50: Duration,
    /// 95th percentile commit latency.
    pub commit_p95: Duration,
    /// 99th percentile commit latency.
    pub commit_p99: Duration,
    /// Longest commit.
    pub commit_max: Duration,
    /// Syncs: of the commit log (each may cover many commits) and of checkpoints.
    pub syncs: u64,
    /// Time spent writing records durably (the log's syncs, not the checkpoints'): how much of
    /// the commits' latency the disk's syncs account for.
    pub log_sync_time: Duration,
    /// Records appended to the commit log.
    pub log_records: u64,
    /// Bytes of those records.
    pub log_bytes: u64,
    /// Checkpoints (tree pages and meta made durable; the log starts over).
    pub checkpoints: u64,
    /// Time spent in checkpoints.
    pub checkpoint_time: Duration,
    /// Bytes of tree pages written by the commits that checkpoints made durable.
    pub checkpoint_bytes: u64,
    /// Times the write window (tree pages of recent commits, held in memory) was written into
    /// the file: when full (counted when it is handed to a flush of its own, which may still be
    /// running), before a checkpoint, and when commits pause.
    pub window_flushes: u64,
    /// Of those, windows handed off when full, to be flushed beside the commits that follow.
    pub window_hand_offs: u64,
    /// The page cache's hit rate ([`crate::Backend::Cached`]); None with the map.
    pub cache_hit_rate: Option<f64>,
    /// Time a thread of the handle kept a processor awake while commits waited for the disk
    /// ([`crate::Builder::keep_awake_during_syncs`]): at most the processor time that cost, all
    /// of it time no other thread wanted (the thread runs at the lowest priority).
    pub kept_awake: Duration,
}

/// Latency buckets: four per power of two of nanoseconds, up to 2^64 ns.
const BUCKETS: usize = 256;

/// The live counters.
pub(crate) struct Counters {
    commits: AtomicU64,
    latency: [AtomicU64; BUCKETS],
    max_latency_ns: AtomicU64,
    syncs: AtomicU64,
    log_sync_ns: AtomicU64,
    log_records: AtomicU64,
    log_bytes: AtomicU64,
    checkpoints: AtomicU64,
    checkpoint_ns: AtomicU64,
    page_bytes: AtomicU64,
    checkpoint_bytes: AtomicU64,
    window_flushes: AtomicU64,
    window_hand_offs: AtomicU64,
    /// Bytes of tree pages written since the kernel was last asked to start writing them back.
    unflushed_bytes: AtomicU64,
    /// Syncs made by commits that found `MAX_UNSYNCED_COMMITS` records unsynced.
    bound_syncs: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            commits: AtomicU64::new(0),
            latency: [const { AtomicU64::new(0) }; BUCKETS],
            max_latency_ns: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            log_sync_ns: AtomicU64::new(0),
            log_records: AtomicU64::new(0),
            log_bytes: AtomicU64::new(0),
            checkpoints: AtomicU64::new(0),
            checkpoint_ns: AtomicU64::new(0),
            page_bytes: AtomicU64::new(0),
            checkpoint_bytes: AtomicU64::new(0),
            unflushed_bytes: AtomicU64::new(0),
            window_flushes: AtomicU64::new(0),
            window_hand_offs: AtomicU64::new(0),
            bound_syncs: AtomicU64::new(0),
        }
    }
}

/// `d` in nanoseconds (saturating: u64 holds 584 years of them).
fn nanos(d: Duration) -> u64 {
    d.as_nanos().min(u64::MAX as u128) as u64
}

/// The bucket of a latency of `ns` nanoseconds: the power of two, then which quarter of it.
fn bucket(ns: u64) -> usize {
    if ns < 4 {
        return ns as usize;
    }
    let log = 63 - ns.leading_zeros() as usize;
    let quarter = ((ns >> (log - 2)) & 3) as usize;
    (log * 4 + quarter).min(BUCKETS - 1)
}

/// The smallest latency (ns) that falls in bucket `b` (the value reported for it).
fn bucket_floor(b: usize) -> u64 {
    if b < 4 {
        return b as u64;
    }
    let (log, quarter) = (b / 4, (b % 4) as u64);
    (1u64 << log) + (quarter << (log - 2))
}

impl Counters {
    /// A commit found `MAX_UNSYNCED_COMMITS` records unsynced and syncs them.
    pub fn sync_at_bound(&self) {
        self.bound_syncs.fetch_add(1, Relaxed);
    }

    /// Syncs made by commits that found `MAX_UNSYNCED_COMMITS` records unsynced.
    #[cfg(feature = "testing")]
    pub fn bound_syncs(&self) -> u64 {
        self.bound_syncs.load(Relaxed)
    }

    /// A commit that took `d` from `commit()` to its return.
    pub fn committed(&self, d: Duration) {
        let ns = nanos(d);
        self.commits.fetch_add(1, Relaxed);
        self.latency[bucket(ns)].fetch_add(1, Relaxed);
        self.max_latency_ns.fetch_max(ns, Relaxed);
    }

    /// The write window was written into the file.
    pub fn window_flushed(&self) {
        self.window_flushes.fetch_add(1, Relaxed);
    }

    /// A full write window was handed off to be flushed.
    pub fn window_handed_off(&self) {
        self.window_flushes.fetch_add(1, Relaxed);
        self.window_hand_offs.fetch_add(1, Relaxed);
    }

    /// Commits so far.
    pub fn commits(&self) -> u64 {
        self.commits.load(Relaxed)
    }

    /// Log records appended so far.
    pub fn log_records(&self) -> u64 {
        self.log_records.load(Relaxed)
    }

    /// A log sync completed.
    pub fn synced(&self) {
        self.syncs.fetch_add(1, Relaxed);
    }

    /// A log sync's write took `d` (whether or not it succeeded).
    pub fn log_sync_took(&self, d: Duration) {
        self.log_sync_ns.fetch_add(nanos(d), Relaxed);
    }

    /// A record of `bytes` bytes was appended to the log.
    pub fn log_appended(&self, bytes: u64) {
        self.log_records.fetch_add(1, Relaxed);
        self.log_bytes.fetch_add(bytes, Relaxed);
    }

    /// `bytes` bytes of tree pages were written into the file (which the next checkpoint makes
    /// durable).
    pub fn pages_written(&self, bytes: u64) {
        self.page_bytes.fetch_add(bytes, Relaxed);
        self.unflushed_bytes.fetch_add(bytes, Relaxed);
    }

    /// Whether at least `threshold` bytes of tree pages were written since the last time this
    /// said yes (or since the last checkpoint); resets the count when it says yes.
    pub fn writeback_due(&self, threshold: u64) -> bool {
        self.unflushed_bytes.load(Relaxed) >= threshold
            && self.unflushed_bytes.swap(0, Relaxed) >= threshold
    }

    /// A checkpoint completed in `d`: it made the pages written since the previous one durable.
    pub fn checkpointed(&self, d: Duration) {
        self.checkpoints.fetch_add(1, Relaxed);
        self.syncs.fetch_add(1, Relaxed);
        self.checkpoint_ns.fetch_add(nanos(d), Relaxed);
        let pages = self.page_bytes.swap(0, Relaxed);
        self.unflushed_bytes.store(0, Relaxed);
        self.checkpoint_bytes.fetch_add(pages, Relaxed);
    }

    /// The latency below which a fraction `q` of the commits fall (by bucket).
    fn quantile(&self, counts: &[u64], total: u64, q: f64) -> Duration {
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, &c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Duration::from_nanos(bucket_floor(b));
            }
        }
        Duration::from_nanos(self.max_latency_ns.load(Relaxed))
    }

    /// A copy of the counters, with the cache's hit rate and the time kept awake for syncs.
    pub fn snapshot(&self, cache_hit_rate: Option<f64>, kept_awake: Duration) -> Metrics {
        let counts: Vec<u64> = self.latency.iter().map(|c| c.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        let q = |q| {
            if total == 0 {
                Duration::ZERO
            } else {
                self.quantile(&counts, total, q)
            }
        };
        Metrics {
            commits: self.commits.load(Relaxed),
            commit_p50: q(0.50),
            commit_p95: q(0.95),
            commit_p99: q(0.99),
            commit_max: Duration::from_nanos(self.max_latency_ns.load(Relaxed)),
            syncs: self.syncs.load(Relaxed),
            log_sync_time: Duration::from_nanos(self.log_sync_ns.load(Relaxed)),
            log_records: self.log_records.load(Relaxed),
            log_bytes: self.log_bytes.load(Relaxed),
            checkpoints: self.checkpoints.load(Relaxed),
            checkpoint_time: Duration::from_nanos(self.checkpoint_ns.load(Relaxed)),
            checkpoint_bytes: self.checkpoint_bytes.load(Relaxed),
            window_flushes: self.window_flushes.load(Relaxed),
            window_hand_offs: self.window_hand_offs.load(Relaxed),
            cache_hit_rate,
            kept_awake,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_bound_their_values() {
        let mut last = 0;
        for ns in [0u64, 1, 3, 4, 5, 7, 8, 100, 1000, 12_345, 1 << 40, u64::MAX] {
            let b = bucket(ns);
            assert!(b >= last, "{ns}");
            assert!(bucket_floor(b) <= ns, "{ns}");
            last = b;
        }
        assert_eq!(bucket(1000), bucket(1000 + 10));
    }

    #[test]
    fn quantiles_follow_the_latencies() {
        let m = Counters::default();
        for us in 1..=100u64 {
            m.committed(Duration::from_micros(us));
        }
        let s = m.snapshot(None, Duration::ZERO);
        assert_eq!(s.commits, 100);
        let p50 = s.commit_p50.as_micros();
        assert!((40..=50).contains(&p50), "{p50}");
        assert!(s.commit_p99 <= s.commit_max);
        assert_eq!(s.commit_max, Duration::from_micros(100));
    }
}
