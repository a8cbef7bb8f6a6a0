//! The replicated key-value service on three nodes over loopback TCP (127.0.0.1): 10,000 writes
//! through the leader, the leader stopped, a new leader elected with every acknowledged write on
//! the two remaining nodes, then the stopped node restarted from its files and caught up (through
//! a snapshot, since the new leader purges its log first). Every wait is bounded, and the whole
//! test has a deadline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use larch_raft::state_machine::DATA_TABLE;
use larch_raft::{KvNode, LogSync, Request};
use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, Config, Raft, ServerState, SnapshotPolicy};
use tokio::net::TcpListener;

type KvRaft = Raft<larch_raft::KvConfig>;

/// Keys written before the leader is stopped.
const KEYS: u64 = 10_000;
/// Keys written through the new leader while the old one is down.
const MORE: u64 = 1_000;
/// Concurrent client tasks (openraft batches their entries).
const WRITERS: u64 = 64;
/// The whole test's deadline.
const DEADLINE: Duration = Duration::from_secs(170);
/// The deadline of each wait for the cluster.
const WAIT: Duration = Duration::from_secs(30);

fn key(i: u64) -> String {
    format!("key-{i:06}")
}

fn value(i: u64) -> String {
    format!("value-{i}-abcdefghijklmnopqrstuvwxyz")
}

fn config() -> Arc<Config> {
    let c = Config {
        cluster_name: "larch-raft-test".into(),
        heartbeat_interval: 100,
        // Generous, so that a busy machine does not cause spurious elections.
        election_timeout_min: 1000,
        election_timeout_max: 2000,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(3000),
        max_in_snapshot_log_to_keep: 100,
        snapshot_max_chunk_size: 64 << 10,
        ..Default::default()
    };
    Arc::new(c.validate().expect("valid config"))
}

/// The node among `rafts` that considers itself the leader, if any.
fn leader(rafts: &[KvRaft]) -> Option<KvRaft> {
    rafts
        .iter()
        .find(|r| r.metrics().borrow().state == ServerState::Leader)
        .cloned()
}

/// Writes keys `range` through the leader with `WRITERS` concurrent tasks; a write that fails
/// (no leader yet, or a leader change) is retried, at most 20 times. Returns the acknowledged
/// keys (index -> value).
async fn write_keys(rafts: &[KvRaft], range: std::ops::Range<u64>) -> BTreeMap<u64, String> {
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let rafts = rafts.to_vec();
        let range = range.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in range.filter(|i| i % WRITERS == w) {
                for _attempt in 0..20 {
                    let Some(l) = leader(&rafts) else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    let req = Request::Set {
                        key: key(i),
                        value: value(i),
                    };
                    let res = tokio::time::timeout(Duration::from_secs(10), l.client_write(req));
                    match res.await {
                        Ok(Ok(resp)) => {
                            assert_eq!(resp.data.rejected, None);
                            acked.push((i, value(i)));
                            break;
                        }
                        Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_)))) => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Ok(Err(_)) | Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
            }
            acked
        }));
    }
    let mut acked = BTreeMap::new();
    for t in tasks {
        acked.extend(t.await.expect("writer task"));
    }
    acked
}

/// Checks that `node` has every acknowledged write, reading one snapshot of its map.
fn check_node(node: &KvNode, acked: &BTreeMap<u64, String>) {
    let rtx = node.reader.begin_read().expect("read txn");
    let t = rtx.open_table(DATA_TABLE).expect("data table");
    let mut missing = 0;
    for (i, v) in acked {
        match t.get(key(*i).as_bytes()).expect("get") {
            Some(got) if got == v.as_bytes() => {}
            _ => missing += 1,
        }
    }
    assert_eq!(
        missing, 0,
        "node {} lacks {missing} acknowledged writes",
        node.id
    );
}

/// Waits until `raft` has applied at least up to `index`.
async fn wait_applied(raft: &KvRaft, index: u64, what: &str) {
    raft.wait(Some(WAIT))
        .applied_index_at_least(Some(index), what)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
}

async fn run() {
    let t0 = Instant::now();
    let root = tempfile::tempdir().expect("temp dir");
    let config = config();
    // Grouped (group commit) by default; LARCH_RAFT_SYNC=immediate runs it with one sync per
    // append instead (slower: about 3.5 times as long for the writes).
    let sync = match std::env::var("LARCH_RAFT_SYNC").as_deref() {
        Ok("immediate") => LogSync::Immediate,
        _ => LogSync::Grouped,
    };

    // Three nodes on 127.0.0.1, each with its own directory.
    let mut nodes: Vec<Option<KvNode>> = Vec::new();
    let mut members = BTreeMap::new();
    for id in 1..=3u64 {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let dir = root.path().join(format!("node-{id}"));
        let node = KvNode::start(id, &dir, listener, config.clone(), sync)
            .await
            .expect("start node");
        members.insert(id, BasicNode::new(&node.addr));
        nodes.push(Some(node));
    }
    let raft_of = |nodes: &[Option<KvNode>]| -> Vec<KvRaft> {
        nodes.iter().flatten().map(|n| n.raft.clone()).collect()
    };
    let first = nodes[0].as_ref().expect("node 1").raft.clone();
    first.initialize(members).await.expect("initialize");
    first
        .wait(Some(WAIT))
        .metrics(|m| m.current_leader.is_some(), "a leader is elected")
        .await
        .expect("first leader");

    // 10,000 writes through the leader.
    let t_write = Instant::now();
    let acked = write_keys(&raft_of(&nodes), 0..KEYS).await;
    let write_secs = t_write.elapsed().as_secs_f64();
    assert_eq!(acked.len() as u64, KEYS, "every write is acknowledged");
    eprintln!(
        "{sync:?}: wrote {KEYS} keys in {write_secs:.2} s ({:.0} writes/s)",
        KEYS as f64 / write_secs
    );

    // Stop the leader.
    let old = leader(&raft_of(&nodes)).expect("a leader");
    let old_id = old.metrics().borrow().id;
    drop(old);
    let slot = (old_id - 1) as usize;
    let stopped = nodes[slot].take().expect("leader node");
    let (stopped_dir, stopped_addr) = (stopped.dir.clone(), stopped.addr.clone());
    stopped.stop().await.expect("stop the leader");
    let t_stop = Instant::now();

    // A new leader among the two others, and every acknowledged write on both.
    let remaining = raft_of(&nodes);
    let deadline = Instant::now() + WAIT;
    let new_leader = loop {
        if let Some(l) = leader(&remaining) {
            break l;
        }
        assert!(Instant::now() < deadline, "no new leader within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let new_id = new_leader.metrics().borrow().id;
    assert_ne!(new_id, old_id);
    eprintln!(
        "node {old_id} stopped; node {new_id} leads after {:.2} s",
        t_stop.elapsed().as_secs_f64()
    );
    // The new leader's first entry (a blank one of its term) commits everything before it.
    let blank = new_leader
        .metrics()
        .borrow()
        .last_log_index
        .expect("log index");
    for r in &remaining {
        wait_applied(r, blank, "the remaining nodes apply the new leader's log").await;
    }
    for n in nodes.iter().flatten() {
        check_node(n, &acked);
    }

    // More writes while the old leader is down, then a snapshot and a purge of the log, so that
    // the stopped node can only catch up through the snapshot.
    let mut all = acked;
    let more = write_keys(&remaining, KEYS..KEYS + MORE).await;
    assert_eq!(more.len() as u64, MORE, "every write is acknowledged");
    all.extend(more);
    let applied = new_leader
        .metrics()
        .borrow()
        .last_applied
        .expect("applied")
        .index;
    new_leader.trigger().snapshot().await.expect("snapshot");
    let m = new_leader
        .wait(Some(WAIT))
        .metrics(
            |m| m.snapshot.is_some_and(|s| s.index >= applied),
            "the new leader builds a snapshot",
        )
        .await
        .expect("snapshot built");
    let snap_index = m.snapshot.expect("snapshot").index;
    new_leader
        .trigger()
        .purge_log(snap_index)
        .await
        .expect("purge");
    new_leader
        .wait(Some(WAIT))
        .metrics(
            |m| m.purged.is_some_and(|p| p.index >= snap_index),
            "the new leader purges its log",
        )
        .await
        .expect("log purged");

    // Restart the stopped node from its files; it catches up.
    let t_restart = Instant::now();
    let node = KvNode::restart(old_id, &stopped_dir, &stopped_addr, config.clone(), sync)
        .await
        .expect("restart");
    let target = new_leader
        .metrics()
        .borrow()
        .last_applied
        .expect("applied")
        .index;
    wait_applied(&node.raft, target, "the restarted node catches up").await;
    let m = node.raft.metrics().borrow().clone();
    assert!(
        m.snapshot.is_some_and(|s| s.index >= snap_index),
        "the restarted node installed the leader's snapshot: {:?}",
        m.snapshot
    );
    check_node(&node, &all);
    assert_eq!(node.reader.len().expect("len"), KEYS + MORE);
    eprintln!(
        "node {old_id} restarted and caught up in {:.2} s; the whole test took {:.2} s",
        t_restart.elapsed().as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    nodes[slot] = Some(node);

    drop(remaining);
    drop(new_leader);
    for n in nodes.into_iter().flatten() {
        n.stop().await.expect("stop");
    }
}

#[test]
fn three_nodes_fail_over_and_catch_up() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        tokio::time::timeout(DEADLINE, run())
            .await
            .expect("the cluster test finishes within its deadline");
    });
}
