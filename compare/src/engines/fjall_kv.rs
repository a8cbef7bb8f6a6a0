//! fjall (an LSM tree): every transaction is one atomic `WriteBatch`.

use super::{feed, Compacted, Describe, Engine, OpenOptions, ReadTxn, Result, WriteTxn};
use fjall::{
    Database, Keyspace, KeyspaceCreateOptions, OwnedWriteBatch, PersistMode, Readable, Snapshot,
};
use std::path::Path;

struct Fjall {
    db: Database,
    ks: Keyspace,
    mode: PersistMode,
}

pub fn open(dir: &Path, opts: OpenOptions) -> Result<Box<dyn Engine>> {
    // A block cache that holds the working set, like redb's and canopydb's default 1 GiB caches.
    let db = Database::builder(dir).cache_size(1 << 30).open()?;
    let ks = db.keyspace("bench", KeyspaceCreateOptions::default)?;
    let mode = if opts.relaxed {
        PersistMode::Buffer
    } else {
        PersistMode::SyncAll
    };
    Ok(Box::new(Fjall { db, ks, mode }))
}

pub fn describe() -> Describe {
    Describe {
        version: format!(
            "fjall {} (lsm-tree {})",
            env!("LARCH_CMP_FJALL"),
            env!("LARCH_CMP_LSM_TREE")
        ),
        config: "Database/keyspace defaults (LZ4) except a 1 GiB block cache (default 32 MiB), each transaction one atomic \
                 WriteBatch committed with PersistMode::SyncAll (relaxed row: \
                 PersistMode::Buffer); reads from a Snapshot; len() counts by iterating; \
                 compaction = Keyspace::rotate_memtable_and_wait() then major_compact()"
            .into(),
    }
}

struct W<'a> {
    batch: OwnedWriteBatch,
    ks: &'a Keyspace,
}

impl WriteTxn for W<'_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.batch.insert(self.ks, key, value);
        Ok(())
    }
    fn remove(&mut self, key: &[u8]) -> Result<bool> {
        // A blind tombstone: an LSM tree does not know whether the key existed.
        self.batch.remove(self.ks, key);
        Ok(true)
    }
}

struct R<'a> {
    snap: Snapshot,
    ks: &'a Keyspace,
}

impl ReadTxn for R<'_> {
    fn get(&self, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<bool> {
        match self.snap.get(self.ks, key)? {
            Some(v) => {
                f(&v);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn len(&self) -> Result<u64> {
        Ok(self.snap.len(self.ks)? as u64)
    }
    fn range_from(&self, start: &[u8], n: usize, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        feed(
            self.snap
                .range::<&[u8], _>(self.ks, start..)
                .take(n)
                .map(|g| g.into_inner()),
            f,
        )
    }
    fn scan(&self, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        feed(self.snap.iter(self.ks).map(|g| g.into_inner()), f)
    }
    fn scan_back(&self, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        feed(self.snap.iter(self.ks).rev().map(|g| g.into_inner()), f)
    }
}

impl Engine for Fjall {
    fn write(&self, f: &mut dyn FnMut(&mut dyn WriteTxn) -> Result<()>) -> Result<()> {
        let mut w = W {
            batch: self.db.batch().durability(Some(self.mode)),
            ks: &self.ks,
        };
        f(&mut w)?;
        w.batch.commit()?;
        Ok(())
    }

    fn read(&self, f: &mut dyn FnMut(&dyn ReadTxn) -> Result<()>) -> Result<()> {
        f(&R {
            snap: self.db.snapshot(),
            ks: &self.ks,
        })
    }

    fn compact(&mut self, _dir: &Path) -> Result<Compacted> {
        // Flush the memtable (which holds the latest writes and tombstones) to a table first, so
        // the major compaction sees everything.
        self.ks.rotate_memtable_and_wait()?;
        self.ks.major_compact()?;
        self.db.persist(PersistMode::SyncAll)?;
        Ok(Compacted::InPlace)
    }
}
