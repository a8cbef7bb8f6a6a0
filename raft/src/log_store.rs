//! The Raft log and the vote in larchdb tables: openraft's `RaftLogStorage`.
//!
//! Layout, in the node's database file:
//! - `raft_log`: key = the entry's index as a big-endian `u64`, value = the entry in JSON;
//! - `raft_meta`: `vote`, `committed` and `last_purged` (log ids), each in JSON.

use std::fmt::Debug;
use std::io;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::sync::{mpsc, Arc};

use larchdb::{Database, Durability, ReadTxn};
use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{
    AnyError, ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftLogId, RaftLogReader,
    RaftTypeConfig, StorageError, StorageIOError, Vote,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The table that holds the log entries.
pub const LOG_TABLE: &str = "raft_log";
/// The table that holds the vote, the committed and the last purged log ids.
pub const META_TABLE: &str = "raft_meta";

const KEY_VOTE: &[u8] = b"vote";
const KEY_COMMITTED: &[u8] = b"committed";
const KEY_PURGED: &[u8] = b"last_purged";

/// How an append is made durable before openraft is told that it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogSync {
    /// Each append commits with [`Durability::Immediate`] (one `fdatasync` per append), and the
    /// callback runs when the commit returns.
    #[default]
    Immediate,
    /// Group commit: each append commits with [`Durability::Eventual`] and hands its callback to
    /// a flusher thread, which calls [`Database::sync`] once for all the callbacks waiting and
    /// then runs them. openraft goes on meanwhile; appends that arrive during a sync share the
    /// next one.
    Grouped,
}

/// An openraft storage error about `subject`, from any error.
pub(crate) fn io_err<NID: openraft::NodeId>(
    subject: ErrorSubject<NID>,
    verb: ErrorVerb,
    e: impl std::error::Error + 'static,
) -> StorageError<NID> {
    StorageIOError::new(subject, verb, AnyError::new(&e)).into()
}

fn read_logs<NID: openraft::NodeId>(e: impl std::error::Error + 'static) -> StorageError<NID> {
    io_err(ErrorSubject::Logs, ErrorVerb::Read, e)
}

fn write_logs<NID: openraft::NodeId>(e: impl std::error::Error + 'static) -> StorageError<NID> {
    io_err(ErrorSubject::Logs, ErrorVerb::Write, e)
}

/// Reads one JSON value of the `raft_meta` table from a snapshot of the database.
fn read_meta<T: DeserializeOwned, NID: openraft::NodeId>(
    rtx: &ReadTxn,
    key: &[u8],
) -> Result<Option<T>, StorageError<NID>> {
    let t = rtx.open_table(META_TABLE).map_err(read_logs)?;
    match t.get(key).map_err(read_logs)? {
        None => Ok(None),
        Some(v) => serde_json::from_slice(v).map(Some).map_err(read_logs),
    }
}

/// The log's key for an index: big-endian, so byte order is index order.
fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The index of a log key.
fn key_index<NID: openraft::NodeId>(key: &[u8]) -> Result<u64, StorageError<NID>> {
    let b: [u8; 8] = key.try_into().map_err(|_| {
        read_logs(io::Error::new(
            io::ErrorKind::InvalidData,
            "log key is not 8 bytes",
        ))
    })?;
    Ok(u64::from_be_bytes(b))
}

/// openraft's log storage over a larchdb [`Database`], generic over the type configuration: the
/// entries only need to be serde-serializable.
///
/// Cloning is cheap (the handle is shared); openraft's log reader is such a clone.
pub struct LogStore<C: RaftTypeConfig> {
    db: Arc<Database>,
    sync: LogSync,
    /// The flusher thread's queue ([`LogSync::Grouped`] only).
    flusher: Option<mpsc::Sender<LogFlushed<C>>>,
    _c: PhantomData<fn() -> C>,
}

impl<C: RaftTypeConfig> Clone for LogStore<C> {
    fn clone(&self) -> Self {
        LogStore {
            db: self.db.clone(),
            sync: self.sync,
            flusher: self.flusher.clone(),
            _c: PhantomData,
        }
    }
}

impl<C: RaftTypeConfig> Debug for LogStore<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore")
            .field("sync", &self.sync)
            .finish()
    }
}

impl<C> LogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned,
{
    /// A log store over `db`, creating its tables if missing. With [`LogSync::Grouped`] this
    /// starts the flusher thread, which ends when the last clone of the store is dropped.
    pub fn new(db: Arc<Database>, sync: LogSync) -> Result<Self, StorageError<C::NodeId>> {
        let mut wtx = db.begin_write().map_err(write_logs)?;
        wtx.set_durability(Durability::Immediate);
        wtx.open_table(LOG_TABLE).map_err(write_logs)?;
        wtx.open_table(META_TABLE).map_err(write_logs)?;
        wtx.commit().map_err(write_logs)?;
        let flusher = match sync {
            LogSync::Immediate => None,
            LogSync::Grouped => {
                let (tx, rx) = mpsc::channel::<LogFlushed<C>>();
                let db = db.clone();
                std::thread::Builder::new()
                    .name("larch-raft-flush".into())
                    .spawn(move || flusher(&db, &rx))
                    .map_err(write_logs)?;
                Some(tx)
            }
        };
        Ok(LogStore {
            db,
            sync,
            flusher,
            _c: PhantomData,
        })
    }

    /// The database this store writes to.
    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }

    /// Writes `value` (JSON) under `key` in `raft_meta`, in one transaction.
    fn write_meta<T: Serialize>(
        &self,
        key: &[u8],
        value: &T,
        durability: Durability,
        subject: ErrorSubject<C::NodeId>,
    ) -> Result<(), StorageError<C::NodeId>> {
        let err = |e: &dyn std::error::Error| {
            StorageError::from(StorageIOError::new(
                subject.clone(),
                ErrorVerb::Write,
                AnyError::error(e),
            ))
        };
        let bytes = serde_json::to_vec(value).map_err(|e| err(&e))?;
        let mut wtx = self.db.begin_write().map_err(|e| err(&e))?;
        wtx.set_durability(durability);
        wtx.open_table(META_TABLE)
            .and_then(|mut t| t.insert(key, &bytes))
            .map_err(|e| err(&e))?;
        wtx.commit().map_err(|e| err(&e))
    }

    /// Removes every entry whose index is in `range`, in the open transaction `wtx`.
    fn remove_range(
        wtx: &mut larchdb::WriteTxn,
        lo: Bound<u64>,
        hi: Bound<u64>,
    ) -> Result<(), StorageError<C::NodeId>> {
        let lo_key = lo.map(index_key);
        let hi_key = hi.map(index_key);
        let mut t = wtx.open_table(LOG_TABLE).map_err(write_logs)?;
        let mut keys = Vec::new();
        for item in t
            .range((
                lo_key.as_ref().map(|k| &k[..]),
                hi_key.as_ref().map(|k| &k[..]),
            ))
            .map_err(write_logs)?
        {
            let (k, _) = item.map_err(write_logs)?;
            keys.push(key_index::<C::NodeId>(&k)?);
        }
        for i in keys {
            t.remove(&index_key(i)).map_err(write_logs)?;
        }
        Ok(())
    }
}

/// The flusher of [`LogSync::Grouped`]: waits for callbacks, syncs once for all that are queued,
/// then runs them. Ends when every sender is gone.
fn flusher<C: RaftTypeConfig>(db: &Database, rx: &mpsc::Receiver<LogFlushed<C>>) {
    let mut batch = Vec::new();
    while let Ok(first) = rx.recv() {
        batch.push(first);
        batch.extend(rx.try_iter());
        // Every callback in the batch was queued after its commit returned, so this sync covers
        // all of their commits.
        let res = db.sync();
        for cb in batch.drain(..) {
            let r = match &res {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::other(e.to_string())),
            };
            cb.log_io_completed(r);
        }
    }
}

impl<C> RaftLogReader<C> for LogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, StorageError<C::NodeId>> {
        let lo = range.start_bound().cloned().map(index_key);
        let hi = range.end_bound().cloned().map(index_key);
        let rtx = self.db.begin_read().map_err(read_logs)?;
        let t = rtx.open_table(LOG_TABLE).map_err(read_logs)?;
        let mut out = Vec::new();
        for item in t
            .range((lo.as_ref().map(|k| &k[..]), hi.as_ref().map(|k| &k[..])))
            .map_err(read_logs)?
        {
            let (_, v) = item.map_err(read_logs)?;
            out.push(serde_json::from_slice(v).map_err(read_logs)?);
        }
        Ok(out)
    }
}

impl<C> RaftLogStorage<C> for LogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned,
{
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<C>, StorageError<C::NodeId>> {
        let rtx = self.db.begin_read().map_err(read_logs)?;
        let last_purged_log_id: Option<LogId<C::NodeId>> = read_meta(&rtx, KEY_PURGED)?;
        let t = rtx.open_table(LOG_TABLE).map_err(read_logs)?;
        let last = match t.last().map_err(read_logs)? {
            None => None,
            Some((_, v)) => {
                let e: C::Entry = serde_json::from_slice(v).map_err(read_logs)?;
                Some(e.get_log_id().clone())
            }
        };
        Ok(LogState {
            last_log_id: last.or_else(|| last_purged_log_id.clone()),
            last_purged_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        // A vote must survive a power loss: it is always an Immediate commit.
        self.write_meta(KEY_VOTE, vote, Durability::Immediate, ErrorSubject::Vote)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<C::NodeId>>, StorageError<C::NodeId>> {
        let vote_err = |e| io_err(ErrorSubject::Vote, ErrorVerb::Read, e);
        let rtx = self.db.begin_read().map_err(vote_err)?;
        let t = rtx.open_table(META_TABLE).map_err(vote_err)?;
        match t.get(KEY_VOTE).map_err(vote_err)? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(v)
                .map(Some)
                .map_err(|e| io_err(ErrorSubject::Vote, ErrorVerb::Read, e)),
        }
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<C::NodeId>>,
    ) -> Result<(), StorageError<C::NodeId>> {
        // Losing the latest committed id to a power loss is allowed: openraft learns it again.
        self.write_meta(
            KEY_COMMITTED,
            &committed,
            Durability::Eventual,
            ErrorSubject::Store,
        )
    }

    async fn read_committed(
        &mut self,
    ) -> Result<Option<LogId<C::NodeId>>, StorageError<C::NodeId>> {
        let rtx = self.db.begin_read().map_err(read_logs)?;
        Ok(read_meta::<Option<LogId<C::NodeId>>, _>(&rtx, KEY_COMMITTED)?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<C>,
    ) -> Result<(), StorageError<C::NodeId>>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut wtx = self.db.begin_write().map_err(write_logs)?;
        wtx.set_durability(match self.sync {
            LogSync::Immediate => Durability::Immediate,
            LogSync::Grouped => Durability::Eventual,
        });
        {
            let mut t = wtx.open_table(LOG_TABLE).map_err(write_logs)?;
            let mut buf = Vec::new();
            for entry in entries {
                buf.clear();
                serde_json::to_writer(&mut buf, &entry).map_err(write_logs)?;
                t.insert(&index_key(entry.get_log_id().index), &buf)
                    .map_err(write_logs)?;
            }
        }
        wtx.commit().map_err(write_logs)?;
        match &self.flusher {
            None => callback.log_io_completed(Ok(())),
            Some(tx) => {
                if tx.send(callback).is_err() {
                    return Err(write_logs(io::Error::other("the log flusher has stopped")));
                }
            }
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        // Removes the entries at and after log_id.index, in one transaction.
        let mut wtx = self.db.begin_write().map_err(write_logs)?;
        wtx.set_durability(Durability::Immediate);
        Self::remove_range(&mut wtx, Bound::Included(log_id.index), Bound::Unbounded)?;
        wtx.commit().map_err(write_logs)
    }

    async fn purge(&mut self, log_id: LogId<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        // Records the purged id and removes the entries up to and including it, in one
        // transaction.
        let bytes = serde_json::to_vec(&log_id).map_err(write_logs)?;
        let mut wtx = self.db.begin_write().map_err(write_logs)?;
        wtx.set_durability(Durability::Immediate);
        wtx.open_table(META_TABLE)
            .and_then(|mut t| t.insert(KEY_PURGED, &bytes))
            .map_err(write_logs)?;
        Self::remove_range(&mut wtx, Bound::Unbounded, Bound::Included(log_id.index))?;
        wtx.commit().map_err(write_logs)
    }
}
