//! larch-raft's own storage tests, beside openraft's suite: snapshots are a consistent view of
//! the map, installing one replaces the map, everything survives a reopen, and a bad request is
//! answered, not a storage failure.

use std::collections::BTreeSet;
use std::path::Path;

use larch_raft::{open_node, KvConfig, LogStore, LogSync, Request, StateMachineStore};
use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftStateMachine};
use openraft::{
    CommittedLeaderId, Entry, EntryPayload, LogId, Membership, RaftLogReader, RaftSnapshotBuilder,
};

fn log_id(index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(1, 1), index)
}

fn set(index: u64, key: &str, value: &str) -> Entry<KvConfig> {
    Entry {
        log_id: log_id(index),
        payload: EntryPayload::Normal(Request::Set {
            key: key.into(),
            value: value.into(),
        }),
    }
}

fn membership(index: u64) -> Entry<KvConfig> {
    let voters = BTreeSet::from([1u64, 2, 3]);
    Entry {
        log_id: log_id(index),
        payload: EntryPayload::Membership(Membership::new(vec![voters], None)),
    }
}

fn open(dir: &Path) -> (LogStore<KvConfig>, StateMachineStore) {
    open_node(dir, LogSync::Immediate).expect("open node")
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn snapshot_is_a_consistent_view_and_install_replaces_the_map() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    rt().block_on(async {
        let (_log_a, mut sm_a) = open(a.path());
        let mut entries = vec![membership(1)];
        entries.extend((2..=501).map(|i| set(i, &format!("k{i:04}"), &format!("v{i}"))));
        sm_a.apply(entries).await.unwrap();
        let snap = sm_a
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        assert_eq!(snap.meta.last_log_id, Some(log_id(501)));
        // Writes after the snapshot are not in it.
        sm_a.apply([set(502, "k0002", "changed"), set(503, "late", "x")])
            .await
            .unwrap();

        // Node b has a map of its own, which the install replaces.
        {
            let (_log_b, mut sm_b) = open(b.path());
            sm_b.apply([set(1, "only-on-b", "x")]).await.unwrap();
            let mut data = sm_b.begin_receiving_snapshot().await.unwrap();
            let current = sm_a
                .get_current_snapshot()
                .await
                .unwrap()
                .expect("snapshot");
            assert_eq!(current.meta, snap.meta);
            let mut src = current.snapshot;
            tokio::io::copy(&mut src, &mut *data).await.unwrap();
            sm_b.install_snapshot(&current.meta, data).await.unwrap();
            let r = sm_b.reader();
            assert_eq!(r.len().unwrap(), 500);
            assert_eq!(r.get("k0002").unwrap().as_deref(), Some("v2"));
            assert_eq!(r.get("late").unwrap(), None);
            assert_eq!(r.get("only-on-b").unwrap(), None);
        }

        // Reopened from its files, node b has the same state and snapshot.
        let (_log_b, mut sm_b) = open(b.path());
        let (applied, m) = sm_b.applied_state().await.unwrap();
        assert_eq!(applied, Some(log_id(501)));
        assert_eq!(m.log_id(), &Some(log_id(1)));
        let current = sm_b
            .get_current_snapshot()
            .await
            .unwrap()
            .expect("snapshot");
        assert_eq!(current.meta, snap.meta);
        assert_eq!(sm_b.reader().get("k0501").unwrap().as_deref(), Some("v501"));
        // Only the current snapshot's file is left in the directory.
        let files = std::fs::read_dir(b.path().join("snapshots"))
            .unwrap()
            .count();
        assert_eq!(files, 1);
    });
}

#[test]
fn log_survives_reopen_and_purge_truncate_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        {
            let (mut log, _sm) = open(dir.path());
            let entries: Vec<_> = (1..=100).map(|i| set(i, "k", "v")).collect();
            log.blocking_append(entries).await.unwrap();
            log.purge(log_id(10)).await.unwrap();
            log.truncate(log_id(91)).await.unwrap();
        }
        let (mut log, _sm) = open(dir.path());
        let state = log.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(log_id(10)));
        assert_eq!(state.last_log_id, Some(log_id(90)));
        let got = log.try_get_log_entries(0..1000).await.unwrap();
        let idx: Vec<u64> = got.iter().map(|e| e.log_id.index).collect();
        assert_eq!(idx, (11..=90).collect::<Vec<_>>());
        let got = log.try_get_log_entries(20..=22).await.unwrap();
        assert_eq!(got.len(), 3);
    });
}

#[test]
fn bad_keys_are_rejected_answers_not_storage_errors() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let (_log, mut sm) = open(dir.path());
        let long = "x".repeat(100_000);
        let replies = sm
            .apply([set(1, "", "v"), set(2, &long, "v"), set(3, "ok", "v")])
            .await
            .unwrap();
        assert!(replies[0].rejected.is_some());
        assert!(replies[1].rejected.is_some());
        assert_eq!(replies[2].rejected, None);
        let (applied, _) = sm.applied_state().await.unwrap();
        assert_eq!(applied, Some(log_id(3)));
        assert_eq!(sm.reader().len().unwrap(), 1);
        let replies = sm
            .apply([Entry {
                log_id: log_id(4),
                payload: EntryPayload::Normal(Request::Delete { key: "ok".into() }),
            }])
            .await
            .unwrap();
        assert_eq!(replies[0].previous.as_deref(), Some("v"));
        assert!(sm.reader().is_empty().unwrap());
    });
}
