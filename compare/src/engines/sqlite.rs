//! SQLite through rusqlite (bundled): one `WITHOUT ROWID` table keyed by the BLOB key.

use super::{Compacted, Describe, Engine, OpenOptions, ReadTxn, Result, WriteTxn};
use rusqlite::{CachedStatement, Connection, TransactionBehavior};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

struct Sqlite {
    path: PathBuf,
    writer: Mutex<Connection>,
    /// Idle reader connections; a reader thread takes one (or opens one) per read transaction.
    readers: Mutex<Vec<Connection>>,
}

fn connect(path: &Path, relaxed: bool) -> Result<Connection> {
    let conn = Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if mode != "wal" {
        return Err(format!("sqlite: journal_mode is {mode}, not wal").into());
    }
    conn.execute_batch(if relaxed {
        "PRAGMA synchronous = OFF"
    } else {
        "PRAGMA synchronous = FULL"
    })?;
    // A page cache that holds the working set (1 GiB, per connection), like redb's and
    // canopydb's default caches; SQLite's default is 2 MB.
    conn.execute_batch("PRAGMA cache_size = -1048576")?;
    Ok(conn)
}

pub fn open(dir: &Path, opts: OpenOptions) -> Result<Box<dyn Engine>> {
    let path = dir.join("bench.sqlite");
    let writer = connect(&path, opts.relaxed)?;
    writer.execute_batch(
        "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID",
    )?;
    let readers = (0..2)
        .map(|_| connect(&path, opts.relaxed))
        .collect::<Result<Vec<_>>>()?;
    Ok(Box::new(Sqlite {
        path,
        writer: Mutex::new(writer),
        readers: Mutex::new(readers),
    }))
}

pub fn describe() -> Describe {
    Describe {
        version: format!(
            "SQLite {} (rusqlite {}, bundled)",
            rusqlite::version(),
            env!("LARCH_CMP_RUSQLITE")
        ),
        config: "journal_mode=WAL, synchronous=FULL (a WAL fsync per commit; relaxed row: \
                 synchronous=OFF), cache_size = 1 GiB per connection (default 2 MB), other pragmas default (4 KiB pages, no mmap); \
                 table kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID; write transactions are \
                 BEGIN IMMEDIATE; one connection per reader thread; len() is SELECT COUNT(*); \
                 compaction = VACUUM then wal_checkpoint(TRUNCATE)"
            .into(),
    }
}

struct W<'a> {
    ins: CachedStatement<'a>,
    del: CachedStatement<'a>,
}

impl WriteTxn for W<'_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.ins.execute((key, value))?;
        Ok(())
    }
    fn remove(&mut self, key: &[u8]) -> Result<bool> {
        Ok(self.del.execute([key])? > 0)
    }
}

struct R<'a> {
    get: RefCell<CachedStatement<'a>>,
    range: RefCell<CachedStatement<'a>>,
    conn: &'a Connection,
}

impl ReadTxn for R<'_> {
    fn get(&self, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<bool> {
        let mut st = self.get.borrow_mut();
        let mut rows = st.query([key])?;
        match rows.next()? {
            Some(row) => {
                f(row.get_ref(0)?.as_blob()?);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn len(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM kv", [], |r| r.get(0))?;
        Ok(n as u64)
    }
    fn range_from(&self, start: &[u8], n: usize, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        let mut st = self.range.borrow_mut();
        let seen = visit_rows(st.query((start, n as i64))?, f);
        seen
    }
    fn scan(&self, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        let mut st = self.conn.prepare("SELECT k, v FROM kv ORDER BY k")?;
        let seen = visit_rows(st.query([])?, f);
        seen
    }
    fn scan_back(&self, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        let mut st = self.conn.prepare("SELECT k, v FROM kv ORDER BY k DESC")?;
        let seen = visit_rows(st.query([])?, f);
        seen
    }
}

/// Hands each `(k, v)` row of `rows` to `f`; the number of rows.
fn visit_rows(mut rows: rusqlite::Rows<'_>, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
    let mut seen = 0;
    while let Some(row) = rows.next()? {
        f(row.get_ref(0)?.as_blob()?, row.get_ref(1)?.as_blob()?);
        seen += 1;
    }
    Ok(seen)
}

impl Engine for Sqlite {
    fn write(&self, f: &mut dyn FnMut(&mut dyn WriteTxn) -> Result<()>) -> Result<()> {
        let mut conn = self.writer.lock().unwrap();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut w = W {
                ins: tx.prepare_cached("INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)")?,
                del: tx.prepare_cached("DELETE FROM kv WHERE k = ?1")?,
            };
            f(&mut w)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn read(&self, f: &mut dyn FnMut(&dyn ReadTxn) -> Result<()>) -> Result<()> {
        let pooled = self.readers.lock().unwrap().pop();
        let conn = match pooled {
            Some(c) => c,
            None => connect(&self.path, false)?,
        };
        let result = (|| {
            let tx = conn.unchecked_transaction()?;
            {
                let r = R {
                    get: RefCell::new(tx.prepare_cached("SELECT v FROM kv WHERE k = ?1")?),
                    range: RefCell::new(
                        tx.prepare_cached("SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k LIMIT ?2")?,
                    ),
                    conn: &tx,
                };
                f(&r)?;
            }
            tx.commit()?;
            Ok(())
        })();
        self.readers.lock().unwrap().push(conn);
        result
    }

    fn compact(&mut self, _dir: &Path) -> Result<Compacted> {
        let conn = self.writer.lock().unwrap();
        conn.execute_batch("VACUUM")?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(Compacted::InPlace)
    }
}
