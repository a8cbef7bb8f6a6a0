//! Bulk writes in batches: `load` and `copy` insert through a [`BatchWriter`], which commits every
//! N entries (and every 64 MiB of keys and values), so memory stays bounded however large the
//! input is. Batches commit with `Durability::Eventual`; the last commit is `Immediate`, which
//! makes all of them durable.

use larchdb::{Database, Durability, Result, WriteTxn};

/// Default number of entries per transaction.
pub const DEFAULT_BATCH: u64 = 100_000;

/// A batch is also committed once its keys and values add up to this many bytes.
const MAX_BATCH_BYTES: u64 = 64 << 20;

/// Inserts into a database in transactions of bounded size.
pub struct BatchWriter<'a> {
    db: &'a Database,
    txn: Option<WriteTxn>,
    /// Entries per transaction; 0 for a single transaction.
    max_entries: u64,
    entries: u64,
    bytes: u64,
    /// Transactions committed so far.
    pub commits: u64,
}

impl<'a> BatchWriter<'a> {
    /// A writer committing every `max_entries` entries (0: one transaction for everything).
    pub fn new(db: &'a Database, max_entries: u64) -> BatchWriter<'a> {
        BatchWriter {
            db,
            txn: None,
            max_entries,
            entries: 0,
            bytes: 0,
            commits: 0,
        }
    }

    /// The open transaction, begun if needed.
    fn txn(&mut self) -> Result<&mut WriteTxn> {
        if self.txn.is_none() {
            let mut t = self.db.begin_write()?;
            t.set_durability(Durability::Eventual);
            self.txn = Some(t);
        }
        Ok(self.txn.as_mut().expect("just set"))
    }

    /// Creates table `name` if it does not exist (so that empty tables are copied too).
    pub fn create_table(&mut self, name: &str) -> Result<()> {
        self.txn()?.open_table(name)?;
        Ok(())
    }

    /// Inserts `key` with `value` into `table`, committing the batch when it is full.
    pub fn insert(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.txn()?.open_table(table)?.insert(key, value)?;
        self.entries += 1;
        self.bytes += (key.len() + value.len()) as u64;
        if self.max_entries > 0
            && (self.entries >= self.max_entries || self.bytes >= MAX_BATCH_BYTES)
        {
            if let Some(t) = self.txn.take() {
                t.commit()?;
                self.commits += 1;
            }
            self.entries = 0;
            self.bytes = 0;
        }
        Ok(())
    }

    /// Commits the last batch durably (and with it every earlier one); returns the number of
    /// transactions committed in all.
    pub fn finish(mut self) -> Result<u64> {
        if let Some(mut t) = self.txn.take() {
            t.set_durability(Durability::Immediate);
            t.commit()?;
            self.commits += 1;
        }
        // A transaction that changed nothing commits without syncing: make sure the earlier
        // Eventual batches are durable all the same.
        self.db.sync()?;
        Ok(self.commits)
    }
}
