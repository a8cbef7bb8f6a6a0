//! [`BytesRef`]: a key or value borrowed from a write transaction's pages.

use std::cell::Ref;
use std::fmt;
use std::ops::Deref;

/// A key or value read through a [`crate::TableMut`]: it derefs to the bytes in the transaction's
/// page (nothing is copied) and keeps the transaction's pages borrowed while it lives.
///
/// While any `BytesRef` (or a [`crate::RangeMut`] item) of a transaction is alive, writes through
/// any of its tables fail with [`crate::Error::TxnBorrowed`]: copy the bytes (`.to_vec()`) to keep
/// them across a write.
pub struct BytesRef<'a>(pub(crate) Ref<'a, [u8]>);

impl Deref for BytesRef<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for BytesRef<'_> {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for BytesRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl PartialEq for BytesRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        *self.0 == *other.0
    }
}

impl Eq for BytesRef<'_> {}

impl PartialEq<[u8]> for BytesRef<'_> {
    fn eq(&self, other: &[u8]) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&[u8]> for BytesRef<'_> {
    fn eq(&self, other: &&[u8]) -> bool {
        *self.0 == **other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for BytesRef<'_> {
    fn eq(&self, other: &[u8; N]) -> bool {
        *self.0 == other[..]
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for BytesRef<'_> {
    fn eq(&self, other: &&[u8; N]) -> bool {
        *self.0 == other[..]
    }
}

impl PartialEq<Vec<u8>> for BytesRef<'_> {
    fn eq(&self, other: &Vec<u8>) -> bool {
        *self.0 == other[..]
    }
}
