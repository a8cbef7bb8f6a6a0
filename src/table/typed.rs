//! Typed tables: a [`TableDef`] names a table and its key and value types; opening it gives a
//! [`TypedTable`] (read transaction) or a [`TypedTableMut`] (write transaction) that encodes keys
//! and values with their [`Value`] codecs. Keys use an order-preserving encoding ([`Key`]), so
//! typed ranges follow the types' order. Values of `&[u8]` and `&str` are read without a copy.

use super::codec::{Key, Value};
use super::{BytesRef, Range, RangeMut, Table, TableMut, WriteTxn};
use crate::error::Result;
use crate::txn::read::ReadTxn;
use std::marker::PhantomData;
use std::ops::{Bound, Deref, DerefMut, RangeBounds};

/// A table's name with its key type `K` and value type `V`.
///
/// ```
/// use larchdb::{Database, TableDef};
///
/// const SCORES: TableDef<(u32, String), i64> = TableDef::new("scores");
/// const NAMES: TableDef<u64, str> = TableDef::new("names");
///
/// # fn main() -> larchdb::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let db = Database::open(dir.path().join("app.larch"))?;
/// let wtx = db.begin_write()?;
/// {
///     let mut scores = wtx.open_typed(SCORES)?;
///     scores.insert(&(2, "bob".into()), &-7)?;
///     scores.insert(&(1, "carol".into()), &12)?;
///     scores.insert(&(1, "alice".into()), &40)?;
///     wtx.open_typed(NAMES)?.insert(&7, "seven")?;
/// }
/// wtx.commit()?;
/// let rtx = db.begin_read()?;
/// let scores = rtx.open_typed(SCORES)?;
/// assert_eq!(scores.get(&(2, "bob".into()))?, Some(-7));
/// let level_1: Vec<_> = scores
///     .range((1, String::new())..(2, String::new()))?
///     .collect::<larchdb::Result<_>>()?;
/// assert_eq!(level_1, [((1, "alice"), 40), ((1, "carol"), 12)]);
/// let name: &str = rtx.open_typed(NAMES)?.get(&7)?.unwrap(); // borrowed, not copied
/// assert_eq!(name, "seven");
/// # Ok(()) }
/// ```
pub struct TableDef<K: ?Sized, V: ?Sized> {
    name: &'static str,
    types: PhantomData<fn(&K, &V)>,
}

impl<K: ?Sized, V: ?Sized> Clone for TableDef<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: ?Sized, V: ?Sized> Copy for TableDef<K, V> {}

impl<K: ?Sized, V: ?Sized> TableDef<K, V> {
    /// The definition of table `name`.
    pub const fn new(name: &'static str) -> TableDef<K, V> {
        TableDef {
            name,
            types: PhantomData,
        }
    }

    /// The table's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// The encoding of `v`.
pub(super) fn enc<T: Value + ?Sized>(v: &T) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    v.encode(&mut out)?;
    Ok(out)
}

/// The encoded bound `b`.
fn enc_bound<K: Key + ?Sized>(b: Bound<&K>) -> Result<Bound<Vec<u8>>> {
    Ok(match b {
        Bound::Included(k) => Bound::Included(enc(k)?),
        Bound::Excluded(k) => Bound::Excluded(enc(k)?),
        Bound::Unbounded => Bound::Unbounded,
    })
}

/// A range of encoded keys.
type Encoded = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// The encoded bounds of a typed range.
fn enc_bounds<K: Key + ?Sized>(r: &impl RangeBounds<K>) -> Result<Encoded> {
    Ok((enc_bound(r.start_bound())?, enc_bound(r.end_bound())?))
}

impl ReadTxn {
    /// Opens the typed table `def` (see [`TableDef`]); [`crate::Error::TableNotFound`] if it
    /// does not exist.
    pub fn open_typed<K: Key + ?Sized, V: Value + ?Sized>(
        &self,
        def: TableDef<K, V>,
    ) -> Result<TypedTable<'_, K, V>> {
        self.open_table(def.name).map(TypedOver::new)
    }
}

impl WriteTxn {
    /// Opens the typed table `def`, creating it if it does not exist (see [`TableDef`]).
    pub fn open_typed<K: Key + ?Sized, V: Value + ?Sized>(
        &self,
        def: TableDef<K, V>,
    ) -> Result<TypedTableMut<'_, K, V>> {
        self.open_table(def.name).map(TypedOver::new)
    }
}

/// A table of bytes `T` (or a range of one, or a multimap, or a multimap's values) seen through
/// the codecs of `K` and `V`: [`TypedTable`], [`TypedTableMut`], [`TypedRange`],
/// [`TypedRangeMut`], [`crate::TypedMultimap`], [`crate::TypedMultimapMut`],
/// [`crate::TypedValues`]. It derefs to the table of bytes (`len`, `is_empty`, byte ranges, and for
/// a [`TableMut`] `clear` and the bulk removals with byte predicates).
pub struct TypedOver<T, K: ?Sized, V: ?Sized> {
    raw: T,
    types: PhantomData<fn(&K, &V)>,
}

impl<T, K: ?Sized, V: ?Sized> TypedOver<T, K, V> {
    pub(super) fn new(raw: T) -> Self {
        TypedOver {
            raw,
            types: PhantomData,
        }
    }
}

impl<T, K: ?Sized, V: ?Sized> Deref for TypedOver<T, K, V> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.raw
    }
}

impl<T, K: ?Sized, V: ?Sized> DerefMut for TypedOver<T, K, V> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.raw
    }
}

/// A typed table in a read transaction: keys and values decoded, `&[u8]` and `&str` borrowed
/// from the transaction.
pub type TypedTable<'txn, K, V> = TypedOver<Table<'txn>, K, V>;

/// A typed table in a write transaction. Reads return [`Typed`] guards (the bytes stay in the
/// transaction's pages; `.value()` decodes them).
pub type TypedTableMut<'txn, K, V> = TypedOver<TableMut<'txn>, K, V>;

/// A decoded entry.
type Decoded<'a, K, V> = (<K as Value>::Read<'a>, <V as Value>::Read<'a>);

impl<'txn, K: Key + ?Sized, V: Value + ?Sized> TypedOver<Table<'txn>, K, V> {
    /// The value of `key`, or None.
    pub fn get(&self, key: &K) -> Result<Option<V::Read<'txn>>> {
        self.raw.get(&enc(key)?)?.map(V::decode).transpose()
    }

    /// Entries with keys in `range`, in the keys' order (and reversible).
    pub fn range(&self, range: impl RangeBounds<K>) -> Result<TypedRange<'txn, K, V>> {
        self.raw.range(enc_bounds(&range)?).map(TypedOver::new)
    }

    /// All entries in the keys' order.
    pub fn iter(&self) -> Result<TypedRange<'txn, K, V>> {
        self.range((Bound::<&K>::Unbounded, Bound::<&K>::Unbounded))
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<Decoded<'txn, K, V>>> {
        self.raw.first()?.map(decode::<K, V>).transpose()
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<Decoded<'txn, K, V>>> {
        self.raw.last()?.map(decode::<K, V>).transpose()
    }
}

/// Decodes a stored entry.
fn decode<'a, K: Key + ?Sized, V: Value + ?Sized>(
    (k, v): (&'a [u8], &'a [u8]),
) -> Result<Decoded<'a, K, V>> {
    Ok((K::decode(k)?, V::decode(v)?))
}

/// Iterator over a range of a [`TypedTable`], decoding each entry.
pub type TypedRange<'txn, K, V> = TypedOver<Range<'txn>, K, V>;

/// A key or value read from a [`TypedTableMut`]: its stored bytes, decoded by
/// [`Typed::value`].
pub struct Typed<'a, T: ?Sized> {
    bytes: BytesRef<'a>,
    types: PhantomData<fn(&T)>,
}

impl<'a, T: Value + ?Sized> Typed<'a, T> {
    pub(super) fn new(bytes: BytesRef<'a>) -> Result<Typed<'a, T>> {
        T::decode(&bytes)?;
        Ok(Typed {
            bytes,
            types: PhantomData,
        })
    }

    /// The decoded value (checked when it was read).
    pub fn value(&self) -> Result<T::Read<'_>> {
        T::decode(&self.bytes)
    }
}

/// A typed entry read from a [`TypedTableMut`].
type Entry<'a, K, V> = (Typed<'a, K>, Typed<'a, V>);

impl<'txn, K: Key + ?Sized, V: Value + ?Sized> TypedOver<TableMut<'txn>, K, V> {
    /// Inserts `key` with `value`, overwriting any previous value.
    pub fn insert(&mut self, key: &K, value: &V) -> Result<()> {
        self.raw.insert(&enc(key)?, &enc(value)?)
    }

    /// Removes `key`; true if it was there.
    pub fn remove(&mut self, key: &K) -> Result<bool> {
        self.raw.remove(&enc(key)?)
    }

    /// The value of `key` as this transaction sees it.
    pub fn get(&self, key: &K) -> Result<Option<Typed<'_, V>>> {
        self.raw.get(&enc(key)?)?.map(Typed::new).transpose()
    }

    /// Removes every entry with a key in `range`; returns how many.
    pub fn remove_range(&mut self, range: impl RangeBounds<K>) -> Result<u64> {
        self.raw.remove_range(enc_bounds(&range)?)
    }

    /// Entries with keys in `range`, in the keys' order (and reversible).
    pub fn range(&self, range: impl RangeBounds<K>) -> Result<TypedRangeMut<'_, K, V>> {
        self.raw.range(enc_bounds(&range)?).map(TypedOver::new)
    }

    /// All entries in the keys' order.
    pub fn iter(&self) -> Result<TypedRangeMut<'_, K, V>> {
        self.range((Bound::<&K>::Unbounded, Bound::<&K>::Unbounded))
    }
}

/// Iterator over a range of a [`TypedTableMut`].
pub type TypedRangeMut<'a, K, V> = TypedOver<RangeMut<'a>, K, V>;

/// Wraps a raw entry's bytes, checking that they decode.
fn typed<'a, K: Key + ?Sized, V: Value + ?Sized>(
    (k, v): (BytesRef<'a>, BytesRef<'a>),
) -> Result<Entry<'a, K, V>> {
    Ok((Typed::new(k)?, Typed::new(v)?))
}

/// A raw range item a typed range turns into a typed one.
pub trait RawEntry<K: ?Sized, V: ?Sized> {
    /// The typed item.
    type Typed;
    /// Decodes (or checks) the entry.
    fn typed(self) -> Result<Self::Typed>;
}

impl<'a, K: Key + ?Sized, V: Value + ?Sized> RawEntry<K, V> for (&'a [u8], &'a [u8]) {
    type Typed = Decoded<'a, K, V>;
    fn typed(self) -> Result<Self::Typed> {
        decode::<K, V>(self)
    }
}

impl<'a, K: Key + ?Sized, V: Value + ?Sized> RawEntry<K, V> for (BytesRef<'a>, BytesRef<'a>) {
    type Typed = Entry<'a, K, V>;
    fn typed(self) -> Result<Self::Typed> {
        typed::<K, V>(self)
    }
}

impl<I, E, K: ?Sized, V: ?Sized> Iterator for TypedOver<I, K, V>
where
    I: Iterator<Item = Result<E>>,
    E: RawEntry<K, V>,
{
    type Item = Result<E::Typed>;
    fn next(&mut self) -> Option<Self::Item> {
        self.raw.next().map(|e| e?.typed())
    }
}

impl<I, E, K: ?Sized, V: ?Sized> DoubleEndedIterator for TypedOver<I, K, V>
where
    I: DoubleEndedIterator<Item = Result<E>>,
    E: RawEntry<K, V>,
{
    fn next_back(&mut self) -> Option<Self::Item> {
        self.raw.next_back().map(|e| e?.typed())
    }
}
