//! larchdb, through its public API only.

use super::{feed, Bulk, Compacted, Describe, Engine, OpenOptions, ReadTxn, Result, WriteTxn};
use larchdb::{Backend, Database, Durability, Table, TableMut};
use std::ops::Bound;
use std::path::Path;

const TABLE: &str = "bench";

struct Larch {
    db: Database,
    durability: Durability,
}

pub fn open(dir: &Path, opts: OpenOptions, cached: bool) -> Result<Box<dyn Engine>> {
    let durability = if opts.relaxed {
        Durability::Eventual
    } else {
        Durability::Immediate
    };
    let backend = if cached {
        // "A cache as large as the data": the section's data plus room for page overhead.
        let capacity = (opts.data_bytes.saturating_mul(2)).max(64 << 20) as usize;
        Backend::Cached { capacity }
    } else {
        Backend::Mmap
    };
    let db = Database::builder()
        .durability(durability)
        .backend(backend)
        .open(dir.join("bench.larch"))?;
    // Create the table up front, like the other engines' setup.
    let wtx = {
        let wtx = db.begin_write()?;
        wtx.open_table(TABLE)?;
        wtx
    };
    wtx.commit()?;
    Ok(Box::new(Larch { db, durability }))
}

pub fn describe(cached: bool) -> Describe {
    Describe {
        version: env!("LARCH_CMP_LARCHDB").to_string(),
        config: if cached {
            "Backend::Cached { capacity: 2 x the section's key and value bytes, at least \
             64 MiB }, Durability::Immediate (relaxed row: Eventual), 4 KiB pages, the other \
             options at their defaults (keep_awake_during_syncs: true)"
                .into()
        } else {
            "Backend::Mmap, Durability::Immediate (relaxed row: Eventual), 4 KiB pages, the other \
             options at their defaults (keep_awake_during_syncs: true)"
                .into()
        },
    }
}

struct W<'a>(TableMut<'a>);

impl WriteTxn for W<'_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(self.0.insert(key, value)?)
    }
    fn remove(&mut self, key: &[u8]) -> Result<bool> {
        Ok(self.0.remove(key)?)
    }
    fn bulk(&mut self, op: Bulk<'_>) -> Result<u64> {
        match op {
            Bulk::Retain(keep) => self.0.retain(keep).map(|_| 0)?,
            Bulk::ExtractIf(pick, f) => return Ok(feed(self.0.extract_if(.., pick), f)? as u64),
            Bulk::Pop(true) => self.0.pop_first().map(|_| 0)?,
            Bulk::Pop(false) => self.0.pop_last().map(|_| 0)?,
            Bulk::RemoveRange(lo, hi) => self.0.remove_range(lo..hi).map(|_| 0)?,
        };
        Ok(0)
    }
}

struct R<'a>(Table<'a>);

impl ReadTxn for R<'_> {
    fn get(&self, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<bool> {
        match self.0.get(key)? {
            Some(v) => {
                f(v);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn len(&self) -> Result<u64> {
        Ok(self.0.len()?)
    }
    fn range_from(&self, start: &[u8], n: usize, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        feed(
            self.0
                .range((Bound::Included(start), Bound::Unbounded))?
                .take(n),
            f,
        )
    }
    fn scan(&self, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        feed(self.0.iter()?, f)
    }
    fn scan_back(&self, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        feed(self.0.iter()?.rev(), f)
    }
}

impl Engine for Larch {
    fn write(&self, f: &mut dyn FnMut(&mut dyn WriteTxn) -> Result<()>) -> Result<()> {
        let mut wtx = self.db.begin_write()?;
        wtx.set_durability(self.durability);
        {
            let mut w = W(wtx.open_table(TABLE)?);
            f(&mut w)?;
        }
        wtx.commit()?;
        Ok(())
    }

    fn read(&self, f: &mut dyn FnMut(&dyn ReadTxn) -> Result<()>) -> Result<()> {
        let rtx = self.db.begin_read()?;
        let r = R(rtx.open_table(TABLE)?);
        f(&r)
    }

    fn compact(&mut self, _dir: &Path) -> Result<Compacted> {
        // In place: moves the live pages at the end of the file down and truncates it.
        self.db.compact()?;
        Ok(Compacted::InPlace)
    }
}
