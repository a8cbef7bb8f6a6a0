//! Tables: the user-facing ordered maps. [`Table`] reads a snapshot; [`TableMut`] reads and
//! writes inside a [`WriteTxn`], several at once; [`ReadableTable`] is what both share.
//!
//! Keys are ordered by unsigned byte-wise comparison (shorter prefix first). Every key and value
//! returned borrows the transaction: in mmap mode it is a slice of the mapping, with nothing
//! copied. Ranges accept any [`KeyRange`] (`a..b`, `a..=b`, `..`, `(Bound, Bound)`) over
//! byte-like keys ([`KeyBytes`]). Typed tables ([`TableDef`]) encode keys and values with
//! order-preserving codecs ([`Key`], [`Value`]).

mod bulk;
mod bytes;
mod codec;
mod inplace;
mod keys;
mod multimap;
mod raw;
mod read;
mod readable;
mod savepoint;
mod table_mut;
mod typed;
mod typed_multimap;
mod write_txn;

pub use bulk::ExtractIf;
pub use bytes::BytesRef;
#[cfg(feature = "serde")]
pub use codec::Serde;
pub use codec::{Key, Nested, Value};
pub use inplace::ValueMut;
pub use keys::{KeyBytes, KeyRange};
pub use multimap::{Multimap, MultimapMut, MultimapOf, Values};
pub use read::{Range, Table};
pub use readable::ReadableTable;
pub use savepoint::Savepoint;
pub use table_mut::{RangeMut, TableMut};
pub use typed::{TableDef, Typed, TypedOver, TypedRange, TypedRangeMut, TypedTable, TypedTableMut};
pub use typed_multimap::{MultimapDef, TypedMultimap, TypedMultimapMut, TypedValues};
pub use write_txn::WriteTxn;
