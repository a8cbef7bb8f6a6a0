//! canopydb.

use super::{feed, Compacted, Describe, Engine, OpenOptions, ReadTxn, Result, WriteTxn};
use canopydb::{Database, DbOptions, EnvOptions, Tree};
use std::path::Path;

const TREE: &[u8] = b"bench";

struct Canopy {
    db: Database,
    sync: bool,
}

pub fn open(dir: &Path, opts: OpenOptions) -> Result<Box<dyn Engine>> {
    let env = EnvOptions::new(dir);
    let mut db_opts = DbOptions::new();
    db_opts.default_commit_sync = !opts.relaxed;
    let db = Database::with_options(env, db_opts)?;
    let tx = db.begin_write()?;
    tx.get_or_create_tree(TREE)?;
    tx.commit_with(true)?;
    Ok(Box::new(Canopy {
        db,
        sync: !opts.relaxed,
    }))
}

pub fn describe() -> Describe {
    Describe {
        version: format!("canopydb {}", env!("LARCH_CMP_CANOPYDB")),
        config: "EnvOptions/DbOptions defaults (WAL on, 1 GiB page cache) with \
                 commit_with(sync = true) on every commit (relaxed row: sync = false); \
                 compaction = Database::compact()"
            .into(),
    }
}

struct W<'a>(Tree<'a>);

impl WriteTxn for W<'_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(self.0.insert(key, value)?)
    }
    fn remove(&mut self, key: &[u8]) -> Result<bool> {
        Ok(self.0.delete(key)?)
    }
}

struct R<'a>(Tree<'a>);

impl ReadTxn for R<'_> {
    fn get(&self, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<bool> {
        match self.0.get(key)? {
            Some(v) => {
                f(&v);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn len(&self) -> Result<u64> {
        Ok(self.0.len())
    }
    fn range_from(&self, start: &[u8], n: usize, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        feed(self.0.range::<&[u8]>(start..)?.take(n), f)
    }
    fn scan(&self, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        feed(self.0.iter()?, f)
    }
    fn scan_back(&self, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        feed(self.0.iter()?.rev(), f)
    }
}

impl Engine for Canopy {
    fn write(&self, f: &mut dyn FnMut(&mut dyn WriteTxn) -> Result<()>) -> Result<()> {
        let tx = self.db.begin_write()?;
        {
            let mut w = W(tx.get_or_create_tree(TREE)?);
            f(&mut w)?;
        }
        tx.commit_with(self.sync)?;
        Ok(())
    }

    fn read(&self, f: &mut dyn FnMut(&dyn ReadTxn) -> Result<()>) -> Result<()> {
        let rx = self.db.begin_read()?;
        let tree = rx
            .get_tree(TREE)?
            .ok_or("canopydb: benchmark tree missing")?;
        let r = R(tree);
        f(&r)
    }

    fn compact(&mut self, _dir: &Path) -> Result<Compacted> {
        self.db.compact()?;
        Ok(Compacted::InPlace)
    }
}
