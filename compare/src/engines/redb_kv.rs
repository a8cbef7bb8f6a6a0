//! redb.

use super::{Bulk, Compacted, Describe, Engine, OpenOptions, ReadTxn, Result, WriteTxn};
use redb::{
    Database, Durability, ReadOnlyTable, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    Table, TableDefinition,
};
use std::path::Path;

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("bench");

struct Redb {
    db: Database,
    durability: Durability,
}

pub fn open(dir: &Path, opts: OpenOptions) -> Result<Box<dyn Engine>> {
    let db = Database::builder().create(dir.join("bench.redb"))?;
    let durability = if opts.relaxed {
        Durability::None
    } else {
        Durability::Immediate
    };
    let mut wtx = db.begin_write()?;
    wtx.set_durability(Durability::Immediate)?;
    wtx.open_table(TABLE)?;
    wtx.commit()?;
    Ok(Box::new(Redb { db, durability }))
}

pub fn describe() -> Describe {
    Describe {
        version: format!("redb {}", env!("LARCH_CMP_REDB")),
        config: "Builder defaults (1 GiB cache), Durability::Immediate (relaxed row: \
                 Durability::None); compaction = Database::compact() until it returns false"
            .into(),
    }
}

struct W<'a>(Table<'a, &'static [u8], &'static [u8]>);

impl WriteTxn for W<'_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.0.insert(key, value)?;
        Ok(())
    }
    fn remove(&mut self, key: &[u8]) -> Result<bool> {
        Ok(self.0.remove(key)?.is_some())
    }
    fn bulk(&mut self, op: Bulk<'_>) -> Result<u64> {
        match op {
            Bulk::Retain(keep) => self.0.retain(|k, v| keep(k, v))?,
            Bulk::ExtractIf(pick, f) => {
                let mut n = 0;
                for e in self.0.extract_if(|k, v| pick(k, v))? {
                    let (k, v) = e?;
                    f(k.value(), v.value());
                    n += 1;
                }
                return Ok(n);
            }
            Bulk::Pop(true) => drop(self.0.pop_first()?),
            Bulk::Pop(false) => drop(self.0.pop_last()?),
            // redb has no range delete: retain_in with a predicate that keeps nothing.
            Bulk::RemoveRange(lo, hi) => self.0.retain_in::<&[u8], _>(lo..hi, |_, _| false)?,
        }
        Ok(0)
    }
}

struct R(ReadOnlyTable<&'static [u8], &'static [u8]>);

impl ReadTxn for R {
    fn get(&self, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<bool> {
        match self.0.get(key)? {
            Some(v) => {
                f(v.value());
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn len(&self) -> Result<u64> {
        Ok(self.0.len()?)
    }
    fn range_from(&self, start: &[u8], n: usize, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        let mut seen = 0;
        for item in self.0.range::<&[u8]>(start..)?.take(n) {
            let (k, v) = item?;
            f(k.value(), v.value());
            seen += 1;
        }
        Ok(seen)
    }
    fn scan(&self, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        let mut seen = 0;
        for item in self.0.iter()? {
            let (k, v) = item?;
            f(k.value(), v.value());
            seen += 1;
        }
        Ok(seen)
    }
    fn scan_back(&self, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        let mut seen = 0;
        for item in self.0.iter()?.rev() {
            let (k, v) = item?;
            f(k.value(), v.value());
            seen += 1;
        }
        Ok(seen)
    }
}

impl Engine for Redb {
    fn write(&self, f: &mut dyn FnMut(&mut dyn WriteTxn) -> Result<()>) -> Result<()> {
        let mut wtx = self.db.begin_write()?;
        wtx.set_durability(self.durability)?;
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
        for _ in 0..16 {
            if !self.db.compact()? {
                break;
            }
        }
        Ok(Compacted::InPlace)
    }
}
