//! Byte-like keys ([`KeyBytes`]) and ranges of them ([`KeyRange`]): what `range`, `prefix`,
//! `remove_range` and friends accept, so that `t.range(a..b)` works for `&[u8]`, `Vec<u8>`, `&str`,
//! `String` and byte arrays, and the `(Bound, Bound)` form keeps working.

use crate::page::cmp_keys;
use std::cmp::Ordering;
use std::ops::{Bound, Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};

/// A key given as bytes: `[u8]`, `str`, `[u8; N]`, `Vec<u8>`, `String`, or a reference to one.
/// Keys compare as their bytes (unsigned, byte-wise, shorter prefix first).
pub trait KeyBytes {
    /// The key's bytes.
    fn key_bytes(&self) -> &[u8];
}

impl KeyBytes for [u8] {
    fn key_bytes(&self) -> &[u8] {
        self
    }
}

impl KeyBytes for str {
    fn key_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl<const N: usize> KeyBytes for [u8; N] {
    fn key_bytes(&self) -> &[u8] {
        self
    }
}

impl KeyBytes for Vec<u8> {
    fn key_bytes(&self) -> &[u8] {
        self
    }
}

impl KeyBytes for String {
    fn key_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl<T: KeyBytes + ?Sized> KeyBytes for &T {
    fn key_bytes(&self) -> &[u8] {
        (**self).key_bytes()
    }
}

/// A range of byte-like keys: every `std::ops` range over a [`KeyBytes`] type (`a..b`, `a..=b`,
/// `a..`, `..b`, `..=b`, `..`) and the `(Bound<K>, Bound<K>)` pair.
pub trait KeyRange {
    /// The lower bound.
    fn lower(&self) -> Bound<&[u8]>;
    /// The upper bound.
    fn upper(&self) -> Bound<&[u8]>;
}

/// The bytes of a bound over a byte-like key.
fn bytes_of<K: KeyBytes>(b: Bound<&K>) -> Bound<&[u8]> {
    b.map(K::key_bytes)
}

impl KeyRange for RangeFull {
    fn lower(&self) -> Bound<&[u8]> {
        Bound::Unbounded
    }
    fn upper(&self) -> Bound<&[u8]> {
        Bound::Unbounded
    }
}

impl<K: KeyBytes> KeyRange for Range<K> {
    fn lower(&self) -> Bound<&[u8]> {
        Bound::Included(self.start.key_bytes())
    }
    fn upper(&self) -> Bound<&[u8]> {
        Bound::Excluded(self.end.key_bytes())
    }
}

impl<K: KeyBytes> KeyRange for RangeInclusive<K> {
    fn lower(&self) -> Bound<&[u8]> {
        Bound::Included(self.start().key_bytes())
    }
    fn upper(&self) -> Bound<&[u8]> {
        Bound::Included(self.end().key_bytes())
    }
}

impl<K: KeyBytes> KeyRange for RangeFrom<K> {
    fn lower(&self) -> Bound<&[u8]> {
        Bound::Included(self.start.key_bytes())
    }
    fn upper(&self) -> Bound<&[u8]> {
        Bound::Unbounded
    }
}

impl<K: KeyBytes> KeyRange for RangeTo<K> {
    fn lower(&self) -> Bound<&[u8]> {
        Bound::Unbounded
    }
    fn upper(&self) -> Bound<&[u8]> {
        Bound::Excluded(self.end.key_bytes())
    }
}

impl<K: KeyBytes> KeyRange for RangeToInclusive<K> {
    fn lower(&self) -> Bound<&[u8]> {
        Bound::Unbounded
    }
    fn upper(&self) -> Bound<&[u8]> {
        Bound::Included(self.end.key_bytes())
    }
}

impl<K: KeyBytes> KeyRange for (Bound<K>, Bound<K>) {
    fn lower(&self) -> Bound<&[u8]> {
        bytes_of(self.0.as_ref())
    }
    fn upper(&self) -> Bound<&[u8]> {
        bytes_of(self.1.as_ref())
    }
}

/// An owned range, as [`prefix`] builds it: the bounds of every key starting with some bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnedRange {
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
}

impl OwnedRange {
    /// A copy of `r`.
    pub fn of(r: &impl KeyRange) -> OwnedRange {
        OwnedRange {
            lower: r.lower().map(<[u8]>::to_vec),
            upper: r.upper().map(<[u8]>::to_vec),
        }
    }

    /// Moves the lower bound just past `key` (after an entry was taken from the front).
    pub fn past(&mut self, key: &[u8]) {
        set_bound(&mut self.lower, key);
    }

    /// Moves the upper bound just before `key` (after an entry was taken from the back).
    pub fn before(&mut self, key: &[u8]) {
        set_bound(&mut self.upper, key);
    }
}

/// Makes `b` exclude `key` (reusing its buffer).
fn set_bound(b: &mut Bound<Vec<u8>>, key: &[u8]) {
    match b {
        Bound::Excluded(v) => {
            v.clear();
            v.extend_from_slice(key);
        }
        _ => *b = Bound::Excluded(key.to_vec()),
    }
}

impl KeyRange for OwnedRange {
    fn lower(&self) -> Bound<&[u8]> {
        self.lower.as_ref().map(Vec::as_slice)
    }
    fn upper(&self) -> Bound<&[u8]> {
        self.upper.as_ref().map(Vec::as_slice)
    }
}

/// The range of every key that starts with `p`: from `p` up to (excluding) the shortest key
/// above all of them, `p` with its last byte below 0xFF incremented and the rest cut off.
pub(crate) fn prefix(p: &[u8]) -> OwnedRange {
    let mut upper = p.to_vec();
    while let Some(last) = upper.pop() {
        if last < u8::MAX {
            upper.push(last + 1);
            break;
        }
    }
    OwnedRange {
        lower: Bound::Included(p.to_vec()),
        upper: if upper.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(upper)
        },
    }
}

/// True if `key` lies in `range`.
pub(crate) fn contains(range: &(impl KeyRange + ?Sized), key: &[u8]) -> bool {
    above_lower(key, range.lower()) && below_upper(key, range.upper())
}

/// True if `key` is not beyond `upper`.
pub(crate) fn below_upper(key: &[u8], upper: Bound<&[u8]>) -> bool {
    match upper {
        Bound::Included(u) => cmp_keys(key, u) != Ordering::Greater,
        Bound::Excluded(u) => cmp_keys(key, u) == Ordering::Less,
        Bound::Unbounded => true,
    }
}

/// True if `key` is not before `lower`.
pub(crate) fn above_lower(key: &[u8], lower: Bound<&[u8]>) -> bool {
    match lower {
        Bound::Included(l) => cmp_keys(key, l) != Ordering::Less,
        Bound::Excluded(l) => cmp_keys(key, l) == Ordering::Greater,
        Bound::Unbounded => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_bounds() {
        let r = prefix(b"ab");
        assert!(contains(&r, b"ab") && contains(&r, b"ab\xff\xff") && !contains(&r, b"ac"));
        assert!(!contains(&r, b"aa\xff"));
        let r = prefix(b"a\xff");
        assert_eq!(r.upper(), Bound::Excluded(&b"b"[..]));
        let r = prefix(b"\xff\xff");
        assert_eq!(r.upper(), Bound::Unbounded);
        assert!(contains(&prefix(b""), b"anything"));
    }
}
