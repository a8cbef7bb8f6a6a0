//! Codecs for typed tables: how a Rust value becomes the bytes a table stores, and back.
//!
//! [`Value`] encodes and decodes; [`Key`] marks an encoding whose byte order is the type's order
//! (so ranges over typed keys work); [`Nested`] marks a self-delimiting encoding, which a tuple
//! needs for every element but its last. Integers are big-endian, signed ones with the sign bit
//! flipped; `Option` puts a 0 (None) or 1 (Some) byte first. `&[u8]` and `&str` decode without
//! copying: they borrow the stored bytes. Before the last element of a tuple, a string or byte
//! string is escaped (each 0x00 written 0x00 0xFF) and ends with 0x00 0x00, which keeps the
//! order; it reads back borrowed unless it held a 0x00 byte.

use crate::error::{Error, Result};
use std::borrow::Cow;

/// A type a typed table can store.
pub trait Value {
    /// What reading gives back; it may borrow the stored bytes (`&[u8]`, `&str`).
    type Read<'a>;
    /// Appends the encoding of `self` to `out` (only a serde codec can fail).
    fn encode(&self, out: &mut Vec<u8>) -> Result<()>;
    /// Decodes a whole stored encoding.
    fn decode(bytes: &[u8]) -> Result<Self::Read<'_>>;
}

/// A [`Value`] whose encodings sort (byte-wise) as its values do: usable as a key.
pub trait Key: Value {}

/// A [`Key`] with a self-delimiting encoding that keeps its order, so it can precede other
/// elements in a tuple.
///
/// ```
/// use larchdb::{Database, TableDef};
/// use std::borrow::Cow;
///
/// // By city, then by id: a string before the last element.
/// const BY_CITY: TableDef<(String, u64), ()> = TableDef::new("by_city");
/// # fn main() -> larchdb::Result<()> {
/// let db = Database::in_memory()?;
/// let wtx = db.begin_write()?;
/// {
///     let mut t = wtx.open_typed(BY_CITY)?;
///     t.insert(&("Oslo".into(), 7), &())?;
///     t.insert(&("Bergen".into(), 9), &())?;
///     t.insert(&("Oslo".into(), 2), &())?;
/// }
/// wtx.commit()?;
/// let rtx = db.begin_read()?;
/// let t = rtx.open_typed(BY_CITY)?;
/// let oslo: Vec<u64> = t
///     .range(("Oslo".to_string(), 0)..("Oslo".to_string(), u64::MAX))?
///     .map(|e| e.map(|((_, id), ())| id))
///     .collect::<larchdb::Result<_>>()?;
/// assert_eq!(oslo, [2, 7]);
/// let ((city, id), ()) = t.first()?.unwrap();
/// assert_eq!((city, id), (Cow::Borrowed("Bergen"), 9)); // borrowed: nothing to unescape
/// # Ok(()) }
/// ```
pub trait Nested: Key {
    /// What decoding it from inside a tuple gives back: `Read`, but for strings and byte strings
    /// (`Cow`: borrowed unless the escaping must be undone).
    type NestedRead<'a>;
    /// Appends the encoding of `self` inside a tuple to `out`.
    fn encode_nested(&self, out: &mut Vec<u8>) -> Result<()>;
    /// Decodes the encoding at the start of `bytes`; returns the value and what follows it.
    fn decode_nested(bytes: &[u8]) -> Result<(Self::NestedRead<'_>, &[u8])>;
}

/// Appends `bytes` escaped (each 0x00 as 0x00 0xFF) and terminated (0x00 0x00): an encoding
/// that delimits itself and sorts as `bytes` do.
pub(super) fn escape_into(bytes: &[u8], out: &mut Vec<u8>) {
    for part in bytes.split_inclusive(|&b| b == 0) {
        out.extend_from_slice(part);
        if part.last() == Some(&0) {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// Undoes [`escape_into`] at the start of `bytes`: the bytes (borrowed if nothing was escaped)
/// and what follows the terminator.
fn unescape(bytes: &[u8]) -> Result<(Cow<'_, [u8]>, &[u8])> {
    let mut owned: Option<Vec<u8>> = None;
    let mut start = 0; // the first byte not yet copied into `owned`
    let mut i = 0;
    loop {
        let Some(at) = bytes[i..].iter().position(|&b| b == 0) else {
            return Err(mismatch("escaped byte string"));
        };
        let z = i + at;
        match bytes.get(z + 1) {
            Some(0) => {
                let rest = &bytes[z + 2..];
                return Ok(match owned {
                    None => (Cow::Borrowed(&bytes[..z]), rest),
                    Some(mut v) => {
                        v.extend_from_slice(&bytes[start..z]);
                        (Cow::Owned(v), rest)
                    }
                });
            }
            Some(0xFF) => {
                let v = owned.get_or_insert_with(Vec::new);
                v.extend_from_slice(&bytes[start..=z]);
                start = z + 2;
                i = z + 2;
            }
            _ => return Err(mismatch("escaped byte string")),
        }
    }
}

/// The error for bytes that are not an encoding of `what`.
fn mismatch(what: &str) -> Error {
    Error::TypeMismatch(format!("stored bytes are not an encoded {what}"))
}

macro_rules! int_codec {
    ($($t:ty => $u:ty),* $(,)?) => {$(
        impl Value for $t {
            type Read<'a> = $t;
            fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
                // The sign bit flipped (signed types), so negative numbers sort first.
                let flip = <$t>::MIN as $u;
                out.extend_from_slice(&((*self as $u) ^ flip).to_be_bytes());
                Ok(())
            }
            fn decode(bytes: &[u8]) -> Result<$t> {
                match Self::decode_nested(bytes)? {
                    (v, []) => Ok(v),
                    _ => Err(mismatch(stringify!($t))),
                }
            }
        }
        impl Key for $t {}
        impl Nested for $t {
            type NestedRead<'a> = $t;
            fn encode_nested(&self, out: &mut Vec<u8>) -> Result<()> {
                self.encode(out)
            }
            fn decode_nested(bytes: &[u8]) -> Result<($t, &[u8])> {
                const N: usize = std::mem::size_of::<$t>();
                let (head, rest) = bytes.split_first_chunk::<N>().ok_or_else(|| mismatch(stringify!($t)))?;
                let flip = <$t>::MIN as $u;
                Ok(((<$u>::from_be_bytes(*head) ^ flip) as $t, rest))
            }
        }
    )*};
}

int_codec!(
    u8 => u8, u16 => u16, u32 => u32, u64 => u64, u128 => u128,
    i8 => u8, i16 => u16, i32 => u32, i64 => u64, i128 => u128,
);

impl Value for [u8] {
    type Read<'a> = &'a [u8];
    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(self);
        Ok(())
    }
    fn decode(bytes: &[u8]) -> Result<&[u8]> {
        Ok(bytes)
    }
}

impl Key for [u8] {}

impl Nested for [u8] {
    type NestedRead<'a> = Cow<'a, [u8]>;
    fn encode_nested(&self, out: &mut Vec<u8>) -> Result<()> {
        escape_into(self, out);
        Ok(())
    }
    fn decode_nested(bytes: &[u8]) -> Result<(Cow<'_, [u8]>, &[u8])> {
        unescape(bytes)
    }
}

impl Value for Vec<u8> {
    type Read<'a> = &'a [u8];
    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        self.as_slice().encode(out)
    }
    fn decode(bytes: &[u8]) -> Result<&[u8]> {
        <[u8]>::decode(bytes)
    }
}

impl Key for Vec<u8> {}

impl Nested for Vec<u8> {
    type NestedRead<'a> = Cow<'a, [u8]>;
    fn encode_nested(&self, out: &mut Vec<u8>) -> Result<()> {
        self.as_slice().encode_nested(out)
    }
    fn decode_nested(bytes: &[u8]) -> Result<(Cow<'_, [u8]>, &[u8])> {
        unescape(bytes)
    }
}

impl Value for str {
    type Read<'a> = &'a str;
    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(self.as_bytes());
        Ok(())
    }
    fn decode(bytes: &[u8]) -> Result<&str> {
        std::str::from_utf8(bytes).map_err(|_| mismatch("str"))
    }
}

impl Key for str {}

impl Nested for str {
    type NestedRead<'a> = Cow<'a, str>;
    fn encode_nested(&self, out: &mut Vec<u8>) -> Result<()> {
        self.as_bytes().encode_nested(out)
    }
    fn decode_nested(bytes: &[u8]) -> Result<(Cow<'_, str>, &[u8])> {
        let (b, rest) = unescape(bytes)?;
        let s = match b {
            Cow::Borrowed(b) => Cow::Borrowed(str::decode(b)?),
            Cow::Owned(v) => Cow::Owned(String::from_utf8(v).map_err(|_| mismatch("str"))?),
        };
        Ok((s, rest))
    }
}

impl Value for String {
    type Read<'a> = &'a str;
    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        self.as_str().encode(out)
    }
    fn decode(bytes: &[u8]) -> Result<&str> {
        str::decode(bytes)
    }
}

impl Key for String {}

impl Nested for String {
    type NestedRead<'a> = Cow<'a, str>;
    fn encode_nested(&self, out: &mut Vec<u8>) -> Result<()> {
        self.as_str().encode_nested(out)
    }
    fn decode_nested(bytes: &[u8]) -> Result<(Cow<'_, str>, &[u8])> {
        str::decode_nested(bytes)
    }
}

impl<const N: usize> Value for [u8; N] {
    type Read<'a> = [u8; N];
    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(self);
        Ok(())
    }
    fn decode(bytes: &[u8]) -> Result<[u8; N]> {
        bytes.try_into().map_err(|_| mismatch("byte array"))
    }
}

impl<const N: usize> Key for [u8; N] {}

impl<const N: usize> Nested for [u8; N] {
    type NestedRead<'a> = [u8; N];
    fn encode_nested(&self, out: &mut Vec<u8>) -> Result<()> {
        self.encode(out)
    }
    fn decode_nested(bytes: &[u8]) -> Result<([u8; N], &[u8])> {
        let (head, rest) = bytes
            .split_first_chunk::<N>()
            .ok_or_else(|| mismatch("byte array"))?;
        Ok((*head, rest))
    }
}

impl Value for () {
    type Read<'a> = ();
    fn encode(&self, _out: &mut Vec<u8>) -> Result<()> {
        Ok(())
    }
    fn decode(bytes: &[u8]) -> Result<()> {
        bytes.is_empty().then_some(()).ok_or_else(|| mismatch("()"))
    }
}

impl Key for () {}

impl Nested for () {
    type NestedRead<'a> = ();
    fn encode_nested(&self, _out: &mut Vec<u8>) -> Result<()> {
        Ok(())
    }
    fn decode_nested(bytes: &[u8]) -> Result<((), &[u8])> {
        Ok(((), bytes))
    }
}

/// Appends `0` for None, or `1` and the value encoded by `encode`.
fn encode_option<T>(
    v: &Option<T>,
    out: &mut Vec<u8>,
    encode: impl FnOnce(&T, &mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    match v {
        None => {
            out.push(0);
            Ok(())
        }
        Some(v) => {
            out.push(1);
            encode(v, out)
        }
    }
}

impl<T: Value> Value for Option<T> {
    type Read<'a> = Option<T::Read<'a>>;
    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        encode_option(self, out, T::encode)
    }
    fn decode(bytes: &[u8]) -> Result<Option<T::Read<'_>>> {
        match bytes.split_first() {
            Some((0, [])) => Ok(None),
            Some((1, rest)) => Ok(Some(T::decode(rest)?)),
            _ => Err(mismatch("Option")),
        }
    }
}

impl<T: Key> Key for Option<T> {}

impl<T: Nested> Nested for Option<T> {
    type NestedRead<'a> = Option<T::NestedRead<'a>>;
    fn encode_nested(&self, out: &mut Vec<u8>) -> Result<()> {
        encode_option(self, out, T::encode_nested)
    }
    fn decode_nested(bytes: &[u8]) -> Result<(Option<T::NestedRead<'_>>, &[u8])> {
        match bytes.split_first() {
            Some((0, rest)) => Ok((None, rest)),
            Some((1, rest)) => T::decode_nested(rest).map(|(v, r)| (Some(v), r)),
            _ => Err(mismatch("Option")),
        }
    }
}

impl<A: Nested, B: Value> Value for (A, B) {
    type Read<'a> = (A::NestedRead<'a>, B::Read<'a>);
    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        self.0.encode_nested(out)?;
        self.1.encode(out)
    }
    fn decode(bytes: &[u8]) -> Result<Self::Read<'_>> {
        let (a, rest) = A::decode_nested(bytes)?;
        Ok((a, B::decode(rest)?))
    }
}

impl<A: Nested, B: Key> Key for (A, B) {}

impl<A: Nested, B: Nested> Nested for (A, B) {
    type NestedRead<'a> = (A::NestedRead<'a>, B::NestedRead<'a>);
    fn encode_nested(&self, out: &mut Vec<u8>) -> Result<()> {
        self.0.encode_nested(out)?;
        self.1.encode_nested(out)
    }
    fn decode_nested(bytes: &[u8]) -> Result<(Self::NestedRead<'_>, &[u8])> {
        let (a, rest) = A::decode_nested(bytes)?;
        let (b, rest) = B::decode_nested(rest)?;
        Ok(((a, b), rest))
    }
}

impl<A: Nested, B: Nested, C: Value> Value for (A, B, C) {
    type Read<'a> = (A::NestedRead<'a>, B::NestedRead<'a>, C::Read<'a>);
    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        self.0.encode_nested(out)?;
        self.1.encode_nested(out)?;
        self.2.encode(out)
    }
    fn decode(bytes: &[u8]) -> Result<Self::Read<'_>> {
        let (a, rest) = A::decode_nested(bytes)?;
        let (b, rest) = B::decode_nested(rest)?;
        Ok((a, b, C::decode(rest)?))
    }
}

impl<A: Nested, B: Nested, C: Key> Key for (A, B, C) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc<T: Value + ?Sized>(v: &T) -> Vec<u8> {
        let mut out = Vec::new();
        v.encode(&mut out).unwrap();
        out
    }

    #[test]
    fn integers_sort_as_their_encodings() {
        let xs = [i64::MIN, -300, -1, 0, 1, 255, 256, i64::MAX];
        for w in xs.windows(2) {
            assert!(enc(&w[0]) < enc(&w[1]), "{w:?}");
        }
        for x in xs {
            assert_eq!(i64::decode(&enc(&x)).unwrap(), x);
        }
        assert_eq!(u16::decode(&enc(&0xABCDu16)).unwrap(), 0xABCD);
        assert!(u32::decode(&[1, 2]).is_err());
    }

    #[test]
    fn tuples_and_options_sort_and_round_trip() {
        let a = (1u32, "apple".to_string());
        let b = (1u32, "banana".to_string());
        let c = (2u32, String::new());
        assert!(enc(&a) < enc(&b) && enc(&b) < enc(&c));
        assert_eq!(<(u32, String)>::decode(&enc(&b)).unwrap(), (1, "banana"));
        assert!(enc(&None::<u8>) < enc(&Some(0u8)));
        assert_eq!(<Option<u8>>::decode(&enc(&Some(7u8))).unwrap(), Some(7));
        let t = (-5i16, Some([1u8, 2]), 9u64);
        assert_eq!(<(i16, Option<[u8; 2]>, u64)>::decode(&enc(&t)).unwrap(), t);
        assert!(str::decode(&[0xff]).is_err());
    }

    #[test]
    fn strings_inside_tuples_sort_and_round_trip() {
        let words = [
            "", "\0", "\0\0", "\0a", "a", "a\0", "a\0\0", "a\u{1}", "ab", "b", "\u{ff}",
        ];
        let mut keys: Vec<(String, u8)> = Vec::new();
        for w in words {
            for n in [0u8, 1, 255] {
                keys.push((w.to_string(), n));
            }
        }
        keys.sort();
        for w in keys.windows(2) {
            assert!(enc(&w[0]) < enc(&w[1]), "{w:?}");
        }
        for k in &keys {
            let e = enc(k);
            let (s, n) = <(String, u8)>::decode(&e).unwrap();
            assert_eq!((s.as_ref(), n), (k.0.as_str(), k.1));
            // Borrowed unless the string had a NUL byte to unescape.
            assert_eq!(matches!(s, Cow::Borrowed(_)), !k.0.contains('\0'), "{k:?}");
        }
        let bytes = (vec![0u8, 0xFF, 0], vec![0xFFu8, 0], 7u16);
        assert_eq!(
            <(Vec<u8>, Vec<u8>, u16)>::decode(&enc(&bytes)).unwrap(),
            (Cow::Borrowed(&bytes.0[..]), Cow::Borrowed(&bytes.1[..]), 7)
        );
        // Cut short, or an escape byte that is neither: not an encoding.
        assert!(<(String, u8)>::decode(&[b'a', 0]).is_err());
        assert!(<(String, u8)>::decode(&[b'a', 0, 7, 1]).is_err());
        assert!(<(String, u8)>::decode(b"a").is_err());
    }
}

/// A value of any serde type, encoded with postcard (cargo feature `serde`). Reading gives back
/// an owned `T`. Not a [`Key`]: postcard's encoding does not sort as the values do.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use larchdb::{Serde, TableDef};
///
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct User { name: String, admin: bool }
///
/// const USERS: TableDef<u64, Serde<User>> = TableDef::new("users");
/// # fn main() -> larchdb::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = larchdb::Database::open(dir.path().join("s.larch"))?;
/// let wtx = db.begin_write()?;
/// wtx.open_typed(USERS)?.insert(&1, &Serde(User { name: "ada".into(), admin: true }))?;
/// wtx.commit()?;
/// let user = db.begin_read()?.open_typed(USERS)?.get(&1)?.unwrap();
/// assert_eq!(user, User { name: "ada".into(), admin: true });
/// # Ok(()) }
/// # main().unwrap(); }
/// ```
#[cfg(feature = "serde")]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Serde<T>(pub T);

#[cfg(feature = "serde")]
impl<T: serde::Serialize + serde::de::DeserializeOwned> Value for Serde<T> {
    type Read<'a> = T;
    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let bytes = postcard::to_allocvec(&self.0)
            .map_err(|e| Error::TypeMismatch(format!("serde encoding failed: {e}")))?;
        out.extend_from_slice(&bytes);
        Ok(())
    }
    fn decode(bytes: &[u8]) -> Result<T> {
        postcard::from_bytes(bytes)
            .map_err(|e| Error::TypeMismatch(format!("serde decoding failed: {e}")))
    }
}
