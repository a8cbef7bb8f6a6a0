//! Codecs for typed tables: how a Rust value becomes the bytes a table stores, and back.
//!
//! [`Value`] encodes and decodes; [`Key`] marks an encoding whose byte order is the type's order
//! (so ranges over typed keys work); [`Nested`] marks a self-delimiting encoding, which a tuple
//! needs for every element but its last. Integers are big-endian, signed ones with the sign bit
//! flipped; `Option` puts a 0 (None) or 1 (Some) byte first. `&[u8]` and `&str` decode without
//! copying: they borrow the stored bytes.

use crate::error::{Error, Result};

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

/// A [`Key`] whose encoding is self-delimiting, so it can precede other elements in a tuple.
pub trait Nested: Key {
    /// Decodes the encoding at the start of `bytes`; returns the value and what follows it.
    fn decode_nested(bytes: &[u8]) -> Result<(Self::Read<'_>, &[u8])>;
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
    fn decode_nested(bytes: &[u8]) -> Result<((), &[u8])> {
        Ok(((), bytes))
    }
}

impl<T: Value> Value for Option<T> {
    type Read<'a> = Option<T::Read<'a>>;
    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        match self {
            None => {
                out.push(0);
                Ok(())
            }
            Some(v) => {
                out.push(1);
                v.encode(out)
            }
        }
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
    fn decode_nested(bytes: &[u8]) -> Result<(Option<T::Read<'_>>, &[u8])> {
        match bytes.split_first() {
            Some((0, rest)) => Ok((None, rest)),
            Some((1, rest)) => T::decode_nested(rest).map(|(v, r)| (Some(v), r)),
            _ => Err(mismatch("Option")),
        }
    }
}

impl<A: Nested, B: Value> Value for (A, B) {
    type Read<'a> = (A::Read<'a>, B::Read<'a>);
    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        self.0.encode(out)?;
        self.1.encode(out)
    }
    fn decode(bytes: &[u8]) -> Result<Self::Read<'_>> {
        let (a, rest) = A::decode_nested(bytes)?;
        Ok((a, B::decode(rest)?))
    }
}

impl<A: Nested, B: Key> Key for (A, B) {}

impl<A: Nested, B: Nested> Nested for (A, B) {
    fn decode_nested(bytes: &[u8]) -> Result<(Self::Read<'_>, &[u8])> {
        let (a, rest) = A::decode_nested(bytes)?;
        let (b, rest) = B::decode_nested(rest)?;
        Ok(((a, b), rest))
    }
}

impl<A: Nested, B: Nested, C: Value> Value for (A, B, C) {
    type Read<'a> = (A::Read<'a>, B::Read<'a>, C::Read<'a>);
    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        self.0.encode(out)?;
        self.1.encode(out)?;
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
