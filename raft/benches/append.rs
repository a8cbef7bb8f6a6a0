//! Log appends per second through larch-raft's `RaftLogStorage`, against a minimal in-memory
//! log store (a `BTreeMap` behind a mutex, like openraft's memstore example), in the same run.
//!
//! Each append goes through openraft's `blocking_append` (append, then wait for the flush
//! callback). Entries carry a `Set` of a 100-byte value. Two shapes: one entry per append, and 64
//! entries per append. Each case runs for `LARCH_RAFT_BENCH_SECS` seconds (default 3).
//!
//! ```sh
//! cargo bench -p larch-raft --bench append
//! ```
//!
//! The database lives in a temporary directory under `LARCH_RAFT_BENCH_DIR` (default: the system
//! temp directory); put it on the disk you mean to measure.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::RangeBounds;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use larch_raft::{open_node, KvConfig, LogSync, Request};
use openraft::storage::{LogFlushed, LogState, RaftLogStorage, RaftLogStorageExt};
use openraft::{
    CommittedLeaderId, Entry, EntryPayload, LogId, OptionalSend, RaftLogReader, StorageError, Vote,
};

/// The minimal in-memory log store of the comparison.
#[derive(Debug, Clone, Default)]
struct MemLog {
    inner: Arc<Mutex<MemInner>>,
}

#[derive(Debug, Default)]
struct MemInner {
    log: BTreeMap<u64, Entry<KvConfig>>,
    vote: Option<Vote<u64>>,
    committed: Option<LogId<u64>>,
    purged: Option<LogId<u64>>,
}

impl RaftLogReader<KvConfig> for MemLog {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<KvConfig>>, StorageError<u64>> {
        let inner = self.inner.lock().expect("lock");
        Ok(inner.log.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<KvConfig> for MemLog {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<KvConfig>, StorageError<u64>> {
        let inner = self.inner.lock().expect("lock");
        let last = inner.log.values().next_back().map(|e| e.log_id);
        Ok(LogState {
            last_purged_log_id: inner.purged,
            last_log_id: last.or(inner.purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        self.inner.lock().expect("lock").vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        Ok(self.inner.lock().expect("lock").vote)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<u64>>,
    ) -> Result<(), StorageError<u64>> {
        self.inner.lock().expect("lock").committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError<u64>> {
        Ok(self.inner.lock().expect("lock").committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<KvConfig>,
    ) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<KvConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut inner = self.inner.lock().expect("lock");
        for e in entries {
            inner.log.insert(e.log_id.index, e);
        }
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let mut inner = self.inner.lock().expect("lock");
        inner.log.split_off(&log_id.index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let mut inner = self.inner.lock().expect("lock");
        inner.log = inner.log.split_off(&(log_id.index + 1));
        inner.purged = Some(log_id);
        Ok(())
    }
}

/// One entry with a 100-byte value at `index`.
fn entry(index: u64) -> Entry<KvConfig> {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(Request::Set {
            key: format!("key-{index:010}"),
            value: "v".repeat(100),
        }),
    }
}

/// Appends batches of `per_append` entries for `secs`; returns (appends/s, entries/s).
async fn run<S: RaftLogStorage<KvConfig>>(
    store: &mut S,
    per_append: u64,
    secs: Duration,
) -> (f64, f64) {
    let mut next = store
        .get_log_state()
        .await
        .expect("log state")
        .last_log_id
        .map_or(1, |l| l.index + 1);
    let start = Instant::now();
    let mut appends = 0u64;
    // Bounded by time, and by a count no disk reaches within the default time.
    while start.elapsed() < secs && appends < 10_000_000 {
        let batch: Vec<_> = (next..next + per_append).map(entry).collect();
        store.blocking_append(batch).await.expect("append");
        next += per_append;
        appends += 1;
    }
    let s = start.elapsed().as_secs_f64();
    (appends as f64 / s, (appends * per_append) as f64 / s)
}

fn main() {
    let secs = Duration::from_secs_f64(
        std::env::var("LARCH_RAFT_BENCH_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3.0),
    );
    let base = std::env::var_os("LARCH_RAFT_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("log appends through RaftLogStorage::append (blocking_append), 100-byte values, {secs:?} per case");
    println!("| store | entries per append | appends/s | entries/s |\n|---|---:|---:|---:|");
    for per_append in [1u64, 64] {
        rt.block_on(async {
            for (name, sync) in [
                ("larch-raft, Immediate", Some(LogSync::Immediate)),
                ("larch-raft, Grouped", Some(LogSync::Grouped)),
                ("in-memory BTreeMap", None),
            ] {
                let (a, e) = match sync {
                    Some(sync) => {
                        let dir = tempfile::tempdir_in(&base).expect("temp dir");
                        let (mut log, _sm) = open_node(dir.path(), sync).expect("open");
                        run(&mut log, per_append, secs).await
                    }
                    None => run(&mut MemLog::default(), per_append, secs).await,
                };
                println!("| {name} | {per_append} | {a:.0} | {e:.0} |");
            }
        });
    }
}
