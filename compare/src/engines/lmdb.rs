//! LMDB through `heed` (which bundles LMDB's mdb.master branch).

use super::{
    feed, Bulk, Compacted, Describe, Engine, OpenOptions, Pick, ReadTxn, Result, Visit, WriteTxn,
};
use heed::types::Bytes;
use heed::{CommitOrAbort, CompactionOption, Database, Env, EnvFlags, EnvOpenOptions, RoTxn};
use std::ops::Bound;
use std::path::Path;

type Db = Database<'static, Bytes, Bytes>;

struct Lmdb {
    env: Env,
    db: Db,
}

/// The map is only address space; the file grows as pages are written.
const MAP_SIZE: usize = 64 << 30;

pub fn open(dir: &Path, opts: OpenOptions) -> Result<Box<dyn Engine>> {
    let mut options = EnvOpenOptions::new();
    let map =
        MAP_SIZE.max(((opts.data_bytes as usize).saturating_mul(4)).next_multiple_of(1 << 30));
    options.map_size(map);
    if opts.relaxed {
        // SAFETY: NO_SYNC only weakens durability (the relaxed row asks for that).
        unsafe {
            options.flags(EnvFlags::NO_SYNC);
        }
    }
    // SAFETY: the directory is fresh and private to this process.
    let env = unsafe { options.open(dir)? };
    let wtxn = env.write_txn()?;
    let db: Db = env
        .create_databases_and_commit(wtxn, |dbo, wtxn| -> heed::Result<_> {
            Ok(CommitOrAbort::<_, ()>::Commit(
                dbo.create_database::<Bytes, Bytes>(wtxn, None)?,
            ))
        })?
        .unwrap_commit();
    Ok(Box::new(Lmdb { env, db }))
}

pub fn describe() -> Describe {
    let v = heed::lmdb_version();
    Describe {
        version: format!(
            "heed {} ({}, lmdb-master-sys {})",
            env!("LARCH_CMP_HEED"),
            v.string,
            env!("LARCH_CMP_LMDB_SYS")
        ),
        config: "default env flags (a durable fsync per commit; relaxed row: NO_SYNC), \
                 64 GiB map, unnamed database; compaction = mdb_env_copy2 with MDB_CP_COMPACT \
                 to a new file"
            .into(),
    }
}

struct W<'a, 'e> {
    db: Db,
    txn: &'a mut heed::RwTxn<'e>,
}

impl WriteTxn for W<'_, '_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(self.db.put(self.txn, key, value)?)
    }
    fn remove(&mut self, key: &[u8]) -> Result<bool> {
        Ok(self.db.delete(self.txn, key)?)
    }
    fn bulk(&mut self, op: Bulk<'_>) -> Result<u64> {
        let (pick, f): (Pick<'_>, Visit<'_>) = match op {
            Bulk::Retain(keep) => (&mut move |k, v| !keep(k, v), &mut |_, _| {}),
            Bulk::ExtractIf(pick, f) => (pick, f),
            Bulk::Pop(first) => {
                let e = match first {
                    true => self.db.first(self.txn)?,
                    false => self.db.last(self.txn)?,
                };
                if let Some(k) = e.map(|(k, _)| k.to_vec()) {
                    self.db.delete(self.txn, &k)?;
                }
                return Ok(0);
            }
            Bulk::RemoveRange(lo, hi) => {
                let range = (Bound::Included(lo), Bound::Excluded(hi));
                self.db.delete_range(self.txn, &range)?;
                return Ok(0);
            }
        };
        // Retain and extract_if: one cursor pass, deleting under the cursor.
        let mut n = 0;
        let mut it = self.db.iter_mut(self.txn)?;
        while let Some(e) = it.next() {
            let (k, v) = e?;
            if pick(k, v) {
                f(k, v);
                // SAFETY: `k` and `v` are not used after the entry is deleted.
                unsafe { it.del_current()? };
                n += 1;
            }
        }
        Ok(n)
    }
}

struct R<'a, 'e> {
    db: Db,
    txn: &'a RoTxn<'e>,
}

impl ReadTxn for R<'_, '_> {
    fn get(&self, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<bool> {
        match self.db.get(self.txn, key)? {
            Some(v) => {
                f(v);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn len(&self) -> Result<u64> {
        Ok(self.db.len(self.txn)?)
    }
    fn range_from(&self, start: &[u8], n: usize, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        let range: (Bound<&[u8]>, Bound<&[u8]>) = (Bound::Included(start), Bound::Unbounded);
        feed(self.db.range(self.txn, &range)?.take(n), f)
    }
    fn scan(&self, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        feed(self.db.iter(self.txn)?, f)
    }
    fn scan_back(&self, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        feed(self.db.rev_iter(self.txn)?, f)
    }
}

impl Engine for Lmdb {
    fn write(&self, f: &mut dyn FnMut(&mut dyn WriteTxn) -> Result<()>) -> Result<()> {
        let mut txn = self.env.write_txn()?;
        f(&mut W {
            db: self.db,
            txn: &mut txn,
        })?;
        txn.commit()?;
        Ok(())
    }

    fn read(&self, f: &mut dyn FnMut(&dyn ReadTxn) -> Result<()>) -> Result<()> {
        let txn = self.env.read_txn()?;
        f(&R {
            db: self.db,
            txn: &txn,
        })
    }

    fn compact(&mut self, dir: &Path) -> Result<Compacted> {
        let path = dir.join("compacted.mdb");
        let file = self.env.copy_to_path(&path, CompactionOption::Enabled)?;
        file.sync_all()?;
        let meta = file.metadata()?;
        let (len, allocated) = (
            meta.len(),
            std::os::unix::fs::MetadataExt::blocks(&meta) * 512,
        );
        drop(file);
        std::fs::remove_file(&path)?;
        Ok(Compacted::Copy { len, allocated })
    }
}
