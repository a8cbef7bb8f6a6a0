//! Log appends per second through larch-raft's `RaftLogStorage`, against a minimal in-memory
//! log store (a `BTreeMap` behind a mutex, like openraft's memstore example), in the same run.
//!
//! Each append goes through openraft's `blocking_append` (append, then wait for the flush
//! callback). Entries carry a `Set` of a 100-byte value. Two shapes: one entry per append, and 64
//! entries per append. Each case runs for `LARCH_RAFT_BENCH_SECS` seconds (default 2), in
//! `LARCH_RAFT_BENCH_ROUNDS` rounds (default 3) in which the cases take turns; the table gives the
//! median and the range over the rounds.
//!
//! ```sh
//! cargo bench -p larch-raft --bench append
//! ```
//!
//! A second table runs client writes (`Raft::client_write` of a 100-byte value, 64 concurrent
//! clients) through a single-node Raft for the same time, where appends overlap and
//! `LogSync::Grouped` shares its syncs.
//!
//! The database lives in a temporary directory under `LARCH_RAFT_BENCH_DIR` (default: the system
//! temp directory); put it on the disk you mean to measure.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::RangeBounds;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use larch_raft::net::TcpNetworkFactory;
use larch_raft::{open_node, KvConfig, LogSync, Request};
use openraft::storage::{LogFlushed, LogState, RaftLogStorage, RaftLogStorageExt};
use openraft::{
    BasicNode, CommittedLeaderId, Config, Entry, EntryPayload, LogId, OptionalSend, Raft,
    RaftLogReader, StorageError, Vote,
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

/// Client writes per second through a single-node Raft over `log` and `sm`, from 64 concurrent
/// clients for `secs`.
async fn run_raft<S>(log: S, sm: larch_raft::StateMachineStore, secs: Duration) -> f64
where
    S: RaftLogStorage<KvConfig>,
{
    let config = Arc::new(Config::default().validate().expect("config"));
    let raft = Raft::new(1, config, TcpNetworkFactory, log, sm)
        .await
        .expect("raft");
    let members = BTreeMap::from([(1u64, BasicNode::new("127.0.0.1:1"))]);
    raft.initialize(members).await.expect("initialize");
    raft.wait(Some(Duration::from_secs(10)))
        .metrics(|m| m.current_leader == Some(1), "leader")
        .await
        .expect("leader");
    let start = Instant::now();
    let mut clients = Vec::new();
    for c in 0..64u64 {
        let raft = raft.clone();
        clients.push(tokio::spawn(async move {
            let mut n = 0u64;
            while start.elapsed() < secs && n < 10_000_000 {
                let req = Request::Set {
                    key: format!("key-{c}-{n}"),
                    value: "v".repeat(100),
                };
                raft.client_write(req).await.expect("write");
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for c in clients {
        total += c.await.expect("client");
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    raft.shutdown().await.expect("shutdown");
    rate
}

/// The stores of the comparison: larch-raft in each sync mode, and the in-memory log.
const STORES: [(&str, Option<LogSync>); 3] = [
    ("larch-raft, Immediate", Some(LogSync::Immediate)),
    ("larch-raft, Grouped", Some(LogSync::Grouped)),
    ("in-memory BTreeMap", None),
];

/// The reference row: what an append writes, without openraft and without waiting for the disk.
const RAW: &str = "reference: the same commits, Eventual, no sync (not durable)";

/// Appends like larch-raft's `append` (JSON entries keyed by big-endian index, one commit per
/// append) but with Eventual commits and no sync; returns (appends/s, entries/s).
fn run_raw(dir: &std::path::Path, per_append: u64, secs: Duration) -> (f64, f64) {
    let db = larchdb::Database::open(dir.join("raw.larch")).expect("open");
    let start = Instant::now();
    let (mut next, mut appends, mut buf) = (1u64, 0u64, Vec::new());
    while start.elapsed() < secs && appends < 10_000_000 {
        let mut wtx = db.begin_write().expect("write");
        wtx.set_durability(larchdb::Durability::Eventual);
        {
            let mut t = wtx.open_table("raft_log").expect("table");
            for i in next..next + per_append {
                buf.clear();
                serde_json::to_writer(&mut buf, &entry(i)).expect("json");
                t.insert(&i.to_be_bytes(), &buf).expect("insert");
            }
        }
        wtx.commit().expect("commit");
        next += per_append;
        appends += 1;
    }
    let s = start.elapsed().as_secs_f64();
    (appends as f64 / s, (appends * per_append) as f64 / s)
}

/// "median (min-max)" of the rates of one case over the rounds.
fn summary(mut rates: Vec<f64>) -> String {
    rates.sort_by(f64::total_cmp);
    let (lo, hi) = (rates[0], rates[rates.len() - 1]);
    format!("{:.0} ({lo:.0}-{hi:.0})", rates[rates.len() / 2])
}

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let secs = Duration::from_secs_f64(env_f64("LARCH_RAFT_BENCH_SECS", 2.0));
    let rounds = env_f64("LARCH_RAFT_BENCH_ROUNDS", 3.0).max(1.0) as usize;
    let base = std::env::var_os("LARCH_RAFT_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);

    // The cases take turns, round after round, so that a change in the machine's load or the
    // disk's latency during the run falls on all of them.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut appends: BTreeMap<(u64, usize), Vec<f64>> = BTreeMap::new();
    for _ in 0..rounds {
        for per_append in [1u64, 64] {
            for (i, (_, sync)) in STORES.iter().enumerate() {
                let (a, _) = rt.block_on(async {
                    match sync {
                        Some(sync) => {
                            let dir = tempfile::tempdir_in(&base).expect("temp dir");
                            let (mut log, _sm) = open_node(dir.path(), *sync).expect("open");
                            run(&mut log, per_append, secs).await
                        }
                        None => run(&mut MemLog::default(), per_append, secs).await,
                    }
                });
                appends.entry((per_append, i)).or_default().push(a);
            }
            let dir = tempfile::tempdir_in(&base).expect("temp dir");
            let (a, _) = run_raw(dir.path(), per_append, secs);
            appends
                .entry((per_append, STORES.len()))
                .or_default()
                .push(a);
        }
    }
    println!(
        "log appends through RaftLogStorage::append (blocking_append), 100-byte values, \
         {rounds} rounds of {secs:?} per case: median (min-max)"
    );
    println!("| store | entries per append | appends/s | entries/s |\n|---|---:|---:|---:|");
    for ((per_append, i), rates) in appends {
        let entries = rates.iter().map(|r| r * per_append as f64).collect();
        println!(
            "| {} | {per_append} | {} | {} |",
            STORES.get(i).map_or(RAW, |s| s.0),
            summary(rates),
            summary(entries)
        );
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut writes: Vec<Vec<f64>> = vec![Vec::new(); STORES.len()];
    for _ in 0..rounds {
        for (i, (_, sync)) in STORES.iter().enumerate() {
            let dir = tempfile::tempdir_in(&base).expect("temp dir");
            let rate = rt.block_on(async {
                match sync {
                    // The log and the state machine share the node's database, as in a node.
                    Some(sync) => {
                        let (log, sm) = open_node(dir.path(), *sync).expect("open");
                        run_raft(log, sm, secs).await
                    }
                    None => {
                        let (_unused, sm) =
                            open_node(dir.path(), LogSync::Immediate).expect("open");
                        run_raft(MemLog::default(), sm, secs).await
                    }
                }
            });
            writes[i].push(rate);
        }
    }
    println!(
        "\nclient writes through a single-node Raft (larch-raft state machine), 64 clients, \
         {rounds} rounds of {secs:?} per case: median (min-max)"
    );
    println!("| log store | writes/s |\n|---|---:|");
    for (i, rates) in writes.into_iter().enumerate() {
        println!("| {} | {} |", STORES[i].0, summary(rates));
    }
}
