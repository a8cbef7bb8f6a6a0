//! larchdb as the storage of an [openraft](https://docs.rs/openraft/0.9) cluster.
//!
//! - [`LogStore`] implements openraft's `RaftLogStorage`: the log lives in the table `raft_log`,
//!   keyed by the entry's index as a big-endian `u64` (so the table's order is the log's order),
//!   each value the entry in JSON; the vote, the committed log id and the last purged log id live
//!   in the table `raft_meta`. An append is one write transaction; [`LogSync`] says how it is made
//!   durable before openraft is told it is. Truncation and purge are one transaction each.
//! - [`StateMachineStore`] implements `RaftStateMachine` for a replicated key-value map
//!   ([`KvConfig`], [`Request`], [`Response`]): the map is the table `sm_data`, the last applied
//!   log id and membership are in `sm_meta`; a batch of entries is applied in one transaction.
//!   Snapshots are streamed from a [`larchdb::ReadTxn`] into a file (see [`snapshot`]), and a
//!   received snapshot replaces the map in one write transaction.
//! - [`net`] is a small loopback TCP transport (length-prefixed JSON over tokio), and [`node`] runs
//!   one node of the replicated key-value service on it (the cluster test, `tests/cluster.rs`,
//!   starts three).
//!
//! Both stores share one database file per node (`node.larch` in the node's directory, beside a
//! `snapshots/` directory); open them with [`open_node`].
//!
//! The stores call larchdb synchronously inside openraft's async methods: an append with
//! [`LogSync::Immediate`] holds its tokio worker for one `fdatasync` ([`LogSync::Grouped`] moves
//! the sync to a thread of its own). Building and installing a snapshot run on tokio's blocking
//! pool.

// openraft's traits fix the error type (`StorageError`, about 190 bytes); the helpers return it too.
#![allow(clippy::result_large_err)]
#![warn(missing_docs)]

pub mod log_store;
pub mod net;
pub mod node;
pub mod snapshot;
pub mod state_machine;

use std::path::Path;
use std::sync::Arc;

use larchdb::Database;
use openraft::{AnyError, BasicNode, StorageError, StorageIOError};
use serde::{Deserialize, Serialize};

pub use log_store::{LogStore, LogSync};
pub use node::KvNode;
pub use state_machine::{KvReader, StateMachineStore};

/// A write to the replicated key-value map: the application data of a log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Set `key` to `value`, replacing any previous value.
    Set {
        /// The key (1 byte up to the database's `max_key_len()`).
        key: String,
        /// The new value.
        value: String,
    },
    /// Remove `key` if present.
    Delete {
        /// The key to remove.
        key: String,
    },
}

/// The state machine's answer to one applied [`Request`] (and to blank and membership entries).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// The value the key had before the request, if any.
    pub previous: Option<String>,
    /// Why the request was not applied (for example an empty or too long key); the entry is
    /// still applied as a no-op, so every node rejects it the same way.
    pub rejected: Option<String>,
}

openraft::declare_raft_types!(
    /// The type configuration of the replicated key-value service: `u64` node ids, nodes with an
    /// address, [`Request`]/[`Response`] as application data, and snapshots kept as files.
    pub KvConfig:
        D = Request,
        R = Response,
        NodeId = u64,
        Node = BasicNode,
        Entry = openraft::Entry<KvConfig>,
        SnapshotData = tokio::fs::File,
        AsyncRuntime = openraft::TokioRuntime,
);

/// The name of a node's database file inside its directory.
pub const DB_FILE: &str = "node.larch";

/// Opens (creating if needed) a node's storage in `dir`: the database file [`DB_FILE`] and the
/// `snapshots/` directory, and returns the log store and the state machine over them.
pub fn open_node(
    dir: impl AsRef<Path>,
    sync: LogSync,
) -> Result<(LogStore<KvConfig>, StateMachineStore), StorageError<u64>> {
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir).map_err(|e| StorageIOError::write(AnyError::new(&e)))?;
    let db =
        Database::open(dir.join(DB_FILE)).map_err(|e| StorageIOError::write(AnyError::new(&e)))?;
    let db = Arc::new(db);
    let log = LogStore::new(db.clone(), sync)?;
    let sm = StateMachineStore::new(db, dir.join("snapshots"))?;
    Ok((log, sm))
}
