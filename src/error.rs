//! The crate's error type. Everything that can fail returns [`Result<T>`].

use std::fmt;
use std::io;

/// Result type of every fallible larchdb call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in larchdb.
///
/// Anything read from the file is validated: damage is reported as [`Error::Corrupted`], never as a
/// panic. After an error the database still holds its last good commit.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O error (open, read, write, sync, lock, map).
    Io(io::Error),
    /// The file is damaged: `page` names the page at fault (0 or 1 for the meta slots).
    Corrupted {
        /// Number of the damaged page.
        page: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A key is longer than [`crate::Database::max_key_len`].
    KeyTooLarge {
        /// Length of the rejected key.
        len: usize,
        /// Largest key length this database accepts.
        max: usize,
    },
    /// A key is empty: keys are 1 byte or longer.
    EmptyKey,
    /// A value is longer than [`crate::MAX_VALUE_LEN`].
    ValueTooLarge {
        /// Length of the rejected value.
        len: usize,
        /// Largest value length accepted.
        max: usize,
    },
    /// `ReadTxn::open_table` named a table that does not exist.
    TableNotFound(String),
    /// A table name is empty or longer than [`crate::MAX_TABLE_NAME_LEN`] bytes.
    InvalidTableName(String),
    /// Another handle (in this or another process) holds the file's lock.
    DatabaseLocked,
    /// A write was attempted on a database opened with `read_only(true)`.
    ReadOnly,
    /// A builder option is out of range, or a feature is not available.
    InvalidOption(String),
    /// The file exists, is not empty, and is not a larchdb database. It was left untouched.
    NotADatabase,
    /// The file is a larchdb database of a format version this build cannot read.
    UnsupportedVersion {
        /// The format version the file's meta slot names.
        found: u32,
        /// The format version this build writes (and the newest it reads).
        supported: u32,
    },
    /// A write through a [`crate::TableMut`] while a [`crate::BytesRef`] or range item read from
    /// the same transaction is still alive: copy what you need (`.to_vec()`) and drop it first.
    TxnBorrowed,
    /// [`crate::WriteTxn::rollback_to`] was given a savepoint of another transaction, or one a
    /// rollback to an earlier savepoint ended.
    InvalidSavepoint,
    /// A typed table's stored bytes do not decode as its [`crate::TableDef`]'s types (a table
    /// written with other types, or as bytes).
    TypeMismatch(String),
    /// An earlier commit failed with an I/O error; this handle refuses writes until reopened.
    /// Reads of the last good commit keep working.
    PreviousIo(String),
    /// Every reader slot of the lock file (`Builder::max_readers`, fixed by the first handle that
    /// opened it) is owned by a live read-only handle.
    ReadersFull(u32),
    /// The lock file (`PATH-lock`) that lets handles in several processes share the database
    /// cannot work here: it cannot be created or written, its filesystem lacks file locks or
    /// coherent shared memory (a network filesystem), or another release uses another layout.
    /// The message names the file and the reason.
    LockFile(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Corrupted { page, reason } => {
                write!(f, "database corrupted at page {page}: {reason}")
            }
            Error::KeyTooLarge { len, max } => {
                write!(
                    f,
                    "key of {len} bytes is longer than the maximum of {max} bytes"
                )
            }
            Error::EmptyKey => write!(f, "empty key: keys are 1 byte or longer"),
            Error::InvalidSavepoint => write!(
                f,
                "savepoint of another transaction, or ended by a rollback to an earlier one"
            ),
            Error::TypeMismatch(msg) => write!(f, "typed table: {msg}"),
            Error::TxnBorrowed => write!(
                f,
                "write while bytes read from the transaction are still borrowed; copy and drop them first"
            ),
            Error::ValueTooLarge { len, max } => {
                write!(
                    f,
                    "value of {len} bytes is larger than the maximum of {max} bytes"
                )
            }
            Error::TableNotFound(name) => write!(f, "table {name:?} does not exist"),
            Error::InvalidTableName(name) => write!(f, "invalid table name {name:?}"),
            Error::DatabaseLocked => write!(f, "database is locked by another handle"),
            Error::ReadOnly => write!(f, "database was opened read-only"),
            Error::InvalidOption(msg) => write!(f, "invalid option: {msg}"),
            Error::NotADatabase => write!(f, "file is not a larchdb database"),
            Error::UnsupportedVersion { found, supported } => write!(
                f,
                "database has format version {found}; this build reads versions 1 to {supported}"
            ),
            Error::ReadersFull(n) => write!(
                f,
                "all {n} reader slots of the lock file are in use by open read-only handles"
            ),
            Error::LockFile(msg) => write!(f, "lock file unusable: {msg}"),
            Error::PreviousIo(msg) => {
                write!(f, "writes disabled after an I/O error in an earlier commit ({msg}); reopen the database")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// Builds an [`Error::Corrupted`] for `page`.
pub(crate) fn corrupted(page: u64, reason: impl Into<String>) -> Error {
    Error::Corrupted {
        page,
        reason: reason.into(),
    }
}
