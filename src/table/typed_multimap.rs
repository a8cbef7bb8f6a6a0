//! Typed multimaps: a [`MultimapDef`] names a multimap and its key and value types; opening it
//! gives a [`TypedMultimap`] (read transaction) or a [`TypedMultimapMut`] (write transaction)
//! that encodes keys and values with their [`Key`] codecs. Both are keys of the underlying table
//! of bytes, so a key's values come back in their type's order.

use super::codec::Key;
use super::multimap::{Multimap, MultimapMut, MultimapOf, Values};
use super::typed::{enc, RawEntry, Typed, TypedOver};
use super::{BytesRef, ReadableTable, TableDef, WriteTxn};
use crate::error::Result;
use crate::txn::read::ReadTxn;
use std::ops::{Deref, DerefMut};

/// A multimap's name with its key type `K` and value type `V` (both [`Key`]s: a key's set of
/// values is kept in `V`'s order): a [`TableDef`], which `open_typed_multimap` opens as a
/// multimap.
///
/// ```
/// use larchdb::{Database, MultimapDef};
///
/// // A secondary index: tag -> post ids.
/// const TAGS: MultimapDef<str, u64> = MultimapDef::new("tags");
///
/// # fn main() -> larchdb::Result<()> {
/// let db = Database::in_memory()?;
/// let wtx = db.begin_write()?;
/// {
///     let mut tags = wtx.open_typed_multimap(TAGS)?;
///     tags.insert("rust", &20)?;
///     tags.insert("rust", &3)?;
///     tags.insert("db", &20)?;
///     assert!(!tags.insert("rust", &3)?); // already there
/// }
/// wtx.commit()?;
/// let rtx = db.begin_read()?;
/// let tags = rtx.open_typed_multimap(TAGS)?;
/// let posts: Vec<u64> = tags.get("rust")?.collect::<larchdb::Result<_>>()?;
/// assert_eq!(posts, [3, 20]); // in the values' order
/// assert!(tags.contains("db", &20)?);
/// # Ok(()) }
/// ```
pub type MultimapDef<K, V> = TableDef<K, V>;

impl ReadTxn {
    /// Opens the typed multimap `def` (see [`MultimapDef`]); [`crate::Error::TableNotFound`]
    /// if it does not exist.
    pub fn open_typed_multimap<K: Key + ?Sized, V: Key + ?Sized>(
        &self,
        def: MultimapDef<K, V>,
    ) -> Result<TypedMultimap<'_, K, V>> {
        self.open_multimap(def.name()).map(TypedOver::new)
    }
}

impl WriteTxn {
    /// Opens the typed multimap `def`, creating it if it does not exist (see [`MultimapDef`]).
    pub fn open_typed_multimap<K: Key + ?Sized, V: Key + ?Sized>(
        &self,
        def: MultimapDef<K, V>,
    ) -> Result<TypedMultimapMut<'_, K, V>> {
        self.open_multimap(def.name()).map(TypedOver::new)
    }
}

/// A typed multimap in a read transaction: values decoded, `&[u8]` and `&str` borrowed from the
/// transaction. It derefs to the multimap of bytes.
pub type TypedMultimap<'txn, K, V> = TypedOver<Multimap<'txn>, K, V>;

/// A typed multimap in a write transaction: values read come as [`Typed`] guards.
pub type TypedMultimapMut<'txn, K, V> = TypedOver<MultimapMut<'txn>, K, V>;

impl<T: ReadableTable, K: Key + ?Sized, V: Key + ?Sized> TypedOver<MultimapOf<T>, K, V> {
    /// True if `key` has `value`.
    pub fn contains(&self, key: &K, value: &V) -> Result<bool> {
        self.deref().contains(&enc(key)?, &enc(value)?)
    }

    /// The values of `key`, decoded, in their order (and reversible): in a read transaction
    /// the values themselves, in a write transaction [`Typed`] guards.
    pub fn get(&self, key: &K) -> Result<TypedValues<'_, T, K, V>> {
        Ok(TypedOver::new(self.get_raw(&enc(key)?)?))
    }
}

impl<K: Key + ?Sized, V: Key + ?Sized> TypedOver<MultimapMut<'_>, K, V> {
    /// Adds `value` to the set of `key`; false if it was there already.
    pub fn insert(&mut self, key: &K, value: &V) -> Result<bool> {
        self.deref_mut().insert(&enc(key)?, &enc(value)?)
    }

    /// Removes `value` from the set of `key`; false if it was not there.
    pub fn remove(&mut self, key: &K, value: &V) -> Result<bool> {
        self.deref_mut().remove(&enc(key)?, &enc(value)?)
    }

    /// Removes every value of `key`; returns how many.
    pub fn remove_all(&mut self, key: &K) -> Result<u64> {
        self.deref_mut().remove_all(&enc(key)?)
    }
}

/// The decoded values of one key of a typed multimap (see [`TypedOver::get`]).
pub type TypedValues<'a, T, K, V> = TypedOver<Values<<T as ReadableTable>::Iter<'a>>, K, V>;

impl<'a, K: ?Sized, V: Key + ?Sized> RawEntry<K, V> for &'a [u8] {
    type Typed = V::Read<'a>;
    fn typed(self) -> Result<V::Read<'a>> {
        V::decode(self)
    }
}

impl<'a, K: ?Sized, V: Key + ?Sized> RawEntry<K, V> for BytesRef<'a> {
    type Typed = Typed<'a, V>;
    fn typed(self) -> Result<Typed<'a, V>> {
        Typed::new(self)
    }
}
