//! The replicated key-value map in larchdb tables: openraft's `RaftStateMachine`.
//!
//! Layout, in the node's database file:
//! - `sm_data`: the map itself (key and value bytes, the UTF-8 of the [`Request`]'s strings);
//! - `sm_meta`: `last_applied` (log id), `last_membership` (stored membership) and `snapshot`
//!   (the current snapshot's metadata and file name), each in JSON.
//!
//! Snapshot files live in the node's `snapshots/` directory; see [`crate::snapshot`] for their
//! format. Apply commits are [`Durability::Eventual`]: the map is a cache of the log, and
//! [`SnapshotBuilder::build_snapshot`] syncs the database before openraft may purge the log
//! entries a snapshot covers.

use std::fs;
use std::io::{self, BufReader, BufWriter, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use larchdb::{Database, Durability, ReadTxn, WriteTxn};
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    EntryPayload, ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftSnapshotBuilder, SnapshotMeta,
    StorageError, StoredMembership,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use crate::log_store::io_err;
use crate::{snapshot, KvConfig, Request, Response};

/// The table that holds the key-value map.
pub const DATA_TABLE: &str = "sm_data";
/// The table that holds the last applied log id, the membership and the current snapshot.
pub const SM_META_TABLE: &str = "sm_meta";

const KEY_APPLIED: &[u8] = b"last_applied";
const KEY_MEMBERSHIP: &[u8] = b"last_membership";
const KEY_SNAPSHOT: &[u8] = b"snapshot";

type Meta = SnapshotMeta<u64, openraft::BasicNode>;
type Membership = StoredMembership<u64, openraft::BasicNode>;
type SmError = StorageError<u64>;

/// The current snapshot, as recorded in `sm_meta`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSnapshot {
    meta: Meta,
    /// The file's name inside the snapshot directory.
    file: String,
}

fn sm_read(e: impl std::error::Error + 'static) -> SmError {
    io_err(ErrorSubject::StateMachine, ErrorVerb::Read, e)
}

fn sm_write(e: impl std::error::Error + 'static) -> SmError {
    io_err(ErrorSubject::StateMachine, ErrorVerb::Write, e)
}

fn snap_err(meta: Option<&Meta>, verb: ErrorVerb, e: impl std::error::Error + 'static) -> SmError {
    io_err(ErrorSubject::Snapshot(meta.map(|m| m.signature())), verb, e)
}

fn get_json<T: DeserializeOwned>(rtx: &ReadTxn, key: &[u8]) -> Result<Option<T>, SmError> {
    let t = rtx.open_table(SM_META_TABLE).map_err(sm_read)?;
    match t.get(key).map_err(sm_read)? {
        None => Ok(None),
        Some(v) => serde_json::from_slice(v).map(Some).map_err(sm_read),
    }
}

fn put_json<T: Serialize>(wtx: &mut WriteTxn, key: &[u8], value: &T) -> Result<(), SmError> {
    let bytes = serde_json::to_vec(value).map_err(sm_write)?;
    let mut t = wtx.open_table(SM_META_TABLE).map_err(sm_write)?;
    t.insert(key, &bytes).map_err(sm_write)
}

fn get_json_w<T: DeserializeOwned>(wtx: &mut WriteTxn, key: &[u8]) -> Result<Option<T>, SmError> {
    let t = wtx.open_table(SM_META_TABLE).map_err(sm_read)?;
    let v = t.get(key).map_err(sm_read)?;
    match v {
        None => Ok(None),
        Some(v) => serde_json::from_slice(&v).map(Some).map_err(sm_read),
    }
}

/// The last applied log id (stored as a JSON log id, or `null` after installing a snapshot that
/// has none).
fn read_applied(rtx: &ReadTxn) -> Result<Option<LogId<u64>>, SmError> {
    Ok(get_json::<Option<LogId<u64>>>(rtx, KEY_APPLIED)?.flatten())
}

/// A name for a new snapshot file, unique within the directory.
fn new_file_name(last: Option<&LogId<u64>>) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let (term, index) = last.map_or((0, 0), |l| (l.leader_id.term, l.index));
    format!("snap-{term}-{index}-{nanos}.bin")
}

/// Makes a rename in `dir` durable (best effort on platforms that cannot sync a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Copies `src` into `dir/name` through a temporary file, synced and renamed into place.
fn persist_file(src: &mut fs::File, dir: &Path, name: &str) -> io::Result<PathBuf> {
    let tmp = dir.join(format!("{name}.tmp"));
    let dst = dir.join(name);
    let mut out = fs::File::create(&tmp)?;
    io::copy(src, &mut out)?;
    out.sync_all()?;
    fs::rename(&tmp, &dst)?;
    sync_dir(dir);
    Ok(dst)
}

/// openraft's state machine: the replicated key-value map in the node's database file.
#[derive(Debug)]
pub struct StateMachineStore {
    db: Arc<Database>,
    dir: PathBuf,
    /// The file that `begin_receiving_snapshot` handed out last, removed after the install.
    receiving: Option<PathBuf>,
}

impl StateMachineStore {
    /// A state machine over `db`, with snapshot files in `dir`: creates the tables and the
    /// directory if missing, and removes files there that are not the current snapshot (left by
    /// an interrupted build or transfer).
    pub fn new(db: Arc<Database>, dir: PathBuf) -> Result<Self, SmError> {
        fs::create_dir_all(&dir).map_err(sm_write)?;
        let mut wtx = db.begin_write().map_err(sm_write)?;
        wtx.set_durability(Durability::Immediate);
        wtx.open_table(DATA_TABLE).map_err(sm_write)?;
        wtx.open_table(SM_META_TABLE).map_err(sm_write)?;
        let current: Option<StoredSnapshot> = get_json_w(&mut wtx, KEY_SNAPSHOT)?;
        wtx.commit().map_err(sm_write)?;
        for entry in fs::read_dir(&dir).map_err(sm_read)? {
            let entry = entry.map_err(sm_read)?;
            let keep = current
                .as_ref()
                .is_some_and(|c| entry.file_name().to_str() == Some(c.file.as_str()));
            if !keep {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(StateMachineStore {
            db,
            dir,
            receiving: None,
        })
    }

    /// A reader of the map, for the application's reads (it shares the database handle).
    pub fn reader(&self) -> KvReader {
        KvReader {
            db: self.db.clone(),
        }
    }

    fn current_snapshot(&self) -> Result<Option<StoredSnapshot>, SmError> {
        let rtx = self.db.begin_read().map_err(sm_read)?;
        get_json(&rtx, KEY_SNAPSHOT)
    }
}

/// Reads the replicated map of one node (what that node has applied so far).
#[derive(Debug, Clone)]
pub struct KvReader {
    db: Arc<Database>,
}

impl KvReader {
    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> larchdb::Result<Option<String>> {
        let rtx = self.db.begin_read()?;
        let t = rtx.open_table(DATA_TABLE)?;
        let v = t.get(key.as_bytes())?;
        Ok(v.map(|v| String::from_utf8_lossy(v).into_owned()))
    }

    /// The number of keys in the map.
    pub fn len(&self) -> larchdb::Result<u64> {
        let rtx = self.db.begin_read()?;
        let n = rtx.open_table(DATA_TABLE)?.len()?;
        Ok(n)
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> larchdb::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// A consistent snapshot of the node's database, to read many keys from one state.
    pub fn begin_read(&self) -> larchdb::Result<ReadTxn> {
        self.db.begin_read()
    }
}

/// Builds snapshots from a [`ReadTxn`] while the state machine goes on applying entries.
#[derive(Debug, Clone)]
pub struct SnapshotBuilder {
    db: Arc<Database>,
    dir: PathBuf,
}

impl RaftSnapshotBuilder<KvConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<KvConfig>, SmError> {
        let rtx = self.db.begin_read().map_err(sm_read)?;
        // Apply commits are Eventual: make everything this snapshot covers durable (the commit
        // `rtx` reads and all before it), since openraft may purge the log up to it once built.
        self.db.sync().map_err(sm_write)?;
        let last_applied = read_applied(&rtx)?;
        let membership: Membership = get_json(&rtx, KEY_MEMBERSHIP)?.unwrap_or_default();
        let name = new_file_name(last_applied.as_ref());
        let meta = Meta {
            last_log_id: last_applied,
            last_membership: membership,
            snapshot_id: name.trim_end_matches(".bin").to_string(),
        };

        // Stream the map from the read transaction into the file on a blocking thread.
        let dir = self.dir.clone();
        let file_name = name.clone();
        let written = tokio::task::spawn_blocking(move || -> io::Result<PathBuf> {
            let tmp = dir.join(format!("{file_name}.tmp"));
            let mut w = BufWriter::with_capacity(1 << 16, fs::File::create(&tmp)?);
            snapshot::write(&rtx, DATA_TABLE, &mut w)?;
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            drop(rtx);
            let path = dir.join(&file_name);
            fs::rename(&tmp, &path)?;
            sync_dir(&dir);
            Ok(path)
        })
        .await
        .map_err(|e| snap_err(Some(&meta), ErrorVerb::Write, e))?;
        let path = written.map_err(|e| snap_err(Some(&meta), ErrorVerb::Write, e))?;

        // Record it as the current snapshot, unless an installed one is newer meanwhile.
        let werr = |e: larchdb::Error| snap_err(Some(&meta), ErrorVerb::Write, e);
        let mut wtx = self.db.begin_write().map_err(werr)?;
        wtx.set_durability(Durability::Immediate);
        let previous: Option<StoredSnapshot> = get_json_w(&mut wtx, KEY_SNAPSHOT)?;
        let newer_exists = previous
            .as_ref()
            .is_some_and(|p| p.meta.last_log_id > meta.last_log_id);
        if !newer_exists {
            let stored = StoredSnapshot {
                meta: meta.clone(),
                file: name.clone(),
            };
            put_json(&mut wtx, KEY_SNAPSHOT, &stored)?;
            wtx.commit().map_err(werr)?;
            if let Some(p) = previous.filter(|p| p.file != name) {
                let _ = fs::remove_file(self.dir.join(p.file));
            }
        } else {
            wtx.abort().map_err(werr)?;
        }
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| snap_err(Some(&meta), ErrorVerb::Read, e))?;
        if newer_exists {
            // The open handle keeps the data readable for this caller.
            let _ = fs::remove_file(&path);
        }
        Ok(Snapshot {
            meta,
            snapshot: Box::new(file),
        })
    }
}

/// The answer to one request, applied to the open map `t`.
fn apply_request(
    t: &mut larchdb::TableMut<'_>,
    req: &Request,
    max_key: usize,
) -> Result<Response, SmError> {
    let key = match req {
        Request::Set { key, .. } | Request::Delete { key } => key,
    };
    if key.is_empty() || key.len() > max_key {
        return Ok(Response {
            previous: None,
            rejected: Some(format!(
                "the key must have 1 to {max_key} bytes, it has {}",
                key.len()
            )),
        });
    }
    let previous = t
        .get(key.as_bytes())
        .map_err(sm_read)?
        .map(|v| String::from_utf8_lossy(&v).into_owned());
    match req {
        Request::Set { value, .. } => t.insert(key.as_bytes(), value.as_bytes()),
        Request::Delete { .. } => t.remove(key.as_bytes()).map(|_| ()),
    }
    .map_err(sm_write)?;
    Ok(Response {
        previous,
        rejected: None,
    })
}

impl RaftStateMachine<KvConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId<u64>>, Membership), SmError> {
        let rtx = self.db.begin_read().map_err(sm_read)?;
        let applied = read_applied(&rtx)?;
        let membership = get_json(&rtx, KEY_MEMBERSHIP)?.unwrap_or_default();
        Ok((applied, membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, SmError>
    where
        I: IntoIterator<Item = openraft::Entry<KvConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let max_key = self.db.max_key_len();
        let mut wtx = self.db.begin_write().map_err(sm_write)?;
        wtx.set_durability(Durability::Eventual);
        let mut replies = Vec::new();
        let mut last_applied = None;
        let mut membership = None;
        {
            let mut t = wtx.open_table(DATA_TABLE).map_err(sm_write)?;
            for entry in entries {
                let reply = match &entry.payload {
                    EntryPayload::Blank => Response::default(),
                    EntryPayload::Normal(req) => apply_request(&mut t, req, max_key)?,
                    EntryPayload::Membership(m) => {
                        membership = Some(Membership::new(Some(entry.log_id), m.clone()));
                        Response::default()
                    }
                };
                last_applied = Some(entry.log_id);
                replies.push(reply);
            }
        }
        if let Some(applied) = last_applied {
            put_json(&mut wtx, KEY_APPLIED, &applied)?;
        }
        if let Some(m) = membership {
            put_json(&mut wtx, KEY_MEMBERSHIP, &m)?;
        }
        wtx.commit().map_err(sm_write)?;
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            db: self.db.clone(),
            dir: self.dir.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, SmError> {
        let err = |e| snap_err(None, ErrorVerb::Write, e);
        let path = self.dir.join(format!("{}.part", new_file_name(None)));
        let file = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .map_err(err)?;
        if let Some(old) = self.receiving.replace(path) {
            let _ = fs::remove_file(old);
        }
        Ok(Box::new(file))
    }

    async fn install_snapshot(
        &mut self,
        meta: &Meta,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), SmError> {
        let ioerr = |e: io::Error| snap_err(Some(meta), ErrorVerb::Write, e);
        let mut file = *snapshot;
        file.flush().await.map_err(ioerr)?;
        file.seek(SeekFrom::Start(0)).await.map_err(ioerr)?;
        let mut src = file.into_std().await;

        let (db, dir, meta_owned) = (self.db.clone(), self.dir.clone(), meta.clone());
        let name = new_file_name(meta.last_log_id.as_ref());
        let installed = tokio::task::spawn_blocking(move || -> Result<(), SmError> {
            let m = &meta_owned;
            let ioerr = |e: io::Error| snap_err(Some(m), ErrorVerb::Write, e);
            let dberr = |e: larchdb::Error| snap_err(Some(m), ErrorVerb::Write, e);
            // Keep a copy as the node's current snapshot, then load it into the map.
            let path = persist_file(&mut src, &dir, &name).map_err(ioerr)?;
            let mut input =
                BufReader::with_capacity(1 << 16, fs::File::open(&path).map_err(ioerr)?);

            // One write transaction replaces the map, the applied state and the snapshot record.
            let mut wtx = db.begin_write().map_err(dberr)?;
            wtx.set_durability(Durability::Immediate);
            let previous: Option<StoredSnapshot> = get_json_w(&mut wtx, KEY_SNAPSHOT)?;
            wtx.delete_table(DATA_TABLE).map_err(dberr)?;
            {
                let mut t = wtx.open_table(DATA_TABLE).map_err(dberr)?;
                snapshot::read(&mut input, |k, v| t.insert(k, v).map_err(io::Error::other))
                    .map_err(ioerr)?;
            }
            put_json(&mut wtx, KEY_APPLIED, &m.last_log_id)?;
            put_json(&mut wtx, KEY_MEMBERSHIP, &m.last_membership)?;
            let stored = StoredSnapshot {
                meta: m.clone(),
                file: name.clone(),
            };
            put_json(&mut wtx, KEY_SNAPSHOT, &stored)?;
            wtx.commit().map_err(dberr)?;
            if let Some(p) = previous.filter(|p| p.file != name) {
                let _ = fs::remove_file(dir.join(p.file));
            }
            Ok(())
        })
        .await
        .map_err(|e| snap_err(Some(meta), ErrorVerb::Write, e))?;
        if let Some(part) = self.receiving.take() {
            let _ = fs::remove_file(part);
        }
        installed
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<KvConfig>>, SmError> {
        let Some(current) = self.current_snapshot()? else {
            return Ok(None);
        };
        let file = tokio::fs::File::open(self.dir.join(&current.file))
            .await
            .map_err(|e| snap_err(Some(&current.meta), ErrorVerb::Read, e))?;
        Ok(Some(Snapshot {
            meta: current.meta,
            snapshot: Box::new(file),
        }))
    }
}
