//! The snapshot file format: the state machine's key-value pairs, streamed.
//!
//! A snapshot is written from a [`ReadTxn`] (a consistent view while the writer goes on) one pair
//! at a time through a buffered writer, and read back one pair at a time, so neither side holds
//! the whole map in memory. Layout (integers little-endian):
//!
//! ```text
//! "LRSNAP01"                                   magic and version
//! { 0x01, key_len: u32, key, value_len: u32, value }*   the pairs, in key order
//! 0x00, count: u64                             end marker and number of pairs
//! ```
//!
//! Anything after the end marker, a missing end marker or a wrong count is an error.

use std::io::{self, Read, Write};

use larchdb::ReadTxn;

/// The first bytes of every snapshot file.
pub const MAGIC: &[u8; 8] = b"LRSNAP01";

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("snapshot file: {msg}"))
}

fn other(e: larchdb::Error) -> io::Error {
    io::Error::other(e)
}

fn len_u32(n: usize) -> io::Result<[u8; 4]> {
    u32::try_from(n)
        .map(u32::to_le_bytes)
        .map_err(|_| bad("a key or value is 4 GiB or longer"))
}

/// Writes every pair of `table` in `rtx` to `out`; returns the number of pairs.
pub fn write(rtx: &ReadTxn, table: &str, out: &mut impl Write) -> io::Result<u64> {
    out.write_all(MAGIC)?;
    let t = rtx.open_table(table).map_err(other)?;
    let mut count = 0u64;
    for item in t.iter().map_err(other)? {
        let (k, v) = item.map_err(other)?;
        out.write_all(&[1])?;
        out.write_all(&len_u32(k.len())?)?;
        out.write_all(k)?;
        out.write_all(&len_u32(v.len())?)?;
        out.write_all(v)?;
        count += 1;
    }
    out.write_all(&[0])?;
    out.write_all(&count.to_le_bytes())?;
    out.flush()?;
    Ok(count)
}

fn read_len(input: &mut impl Read) -> io::Result<usize> {
    let mut b = [0u8; 4];
    input.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b) as usize)
}

/// Reads a snapshot from `input`, calling `pair(key, value)` for each pair in order; returns the
/// number of pairs. Fails on a bad magic, a truncated file, a wrong count or trailing bytes.
pub fn read(
    input: &mut impl Read,
    mut pair: impl FnMut(&[u8], &[u8]) -> io::Result<()>,
) -> io::Result<u64> {
    let mut magic = [0u8; 8];
    input.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(bad("not a larch-raft snapshot"));
    }
    let (mut key, mut value) = (Vec::new(), Vec::new());
    let mut count = 0u64;
    loop {
        let mut tag = [0u8; 1];
        input.read_exact(&mut tag)?;
        match tag[0] {
            1 => {
                let n = read_len(input)?;
                key.resize(n, 0);
                input.read_exact(&mut key)?;
                let n = read_len(input)?;
                value.resize(n, 0);
                input.read_exact(&mut value)?;
                pair(&key, &value)?;
                count += 1;
            }
            0 => {
                let mut n = [0u8; 8];
                input.read_exact(&mut n)?;
                if u64::from_le_bytes(n) != count {
                    return Err(bad("the pair count does not match"));
                }
                let mut rest = [0u8; 1];
                if input.read(&mut rest)? != 0 {
                    return Err(bad("bytes after the end marker"));
                }
                return Ok(count);
            }
            _ => return Err(bad("unknown record tag")),
        }
    }
}

#[cfg(test)]
mod tests {
    use larchdb::Database;

    use super::*;

    /// A database with `n` pairs in table `t`, and the snapshot of it.
    fn snapshot_of(n: u32) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path().join("s.larch")).unwrap();
        let wtx = db.begin_write().unwrap();
        {
            let mut t = wtx.open_table("t").unwrap();
            for i in 0..n {
                t.insert(
                    format!("k{i:05}").as_bytes(),
                    &vec![i as u8; i as usize % 300],
                )
                .unwrap();
            }
        }
        wtx.commit().unwrap();
        let rtx = db.begin_read().unwrap();
        let mut out = Vec::new();
        assert_eq!(write(&rtx, "t", &mut out).unwrap(), u64::from(n));
        out
    }

    #[test]
    fn round_trip_in_key_order() {
        let bytes = snapshot_of(1000);
        let mut seen = Vec::new();
        let n = read(&mut &bytes[..], |k, v| {
            seen.push((k.to_vec(), v.len()));
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 1000);
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(seen[7], (b"k00007".to_vec(), 7));
    }

    #[test]
    fn empty_map() {
        let bytes = snapshot_of(0);
        assert_eq!(read(&mut &bytes[..], |_, _| Ok(())).unwrap(), 0);
    }

    #[test]
    fn damaged_snapshots_are_refused() {
        let bytes = snapshot_of(50);
        // Truncated anywhere, or with a byte more, or another magic.
        for cut in [0, 5, 8, 20, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                read(&mut &bytes[..cut], |_, _| Ok(())).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(read(&mut &longer[..], |_, _| Ok(())).is_err());
        let mut other = bytes.clone();
        other[0] = b'X';
        assert!(read(&mut &other[..], |_, _| Ok(())).is_err());
        // A wrong count in the end marker.
        let mut count = bytes;
        let last = count.len() - 8;
        count[last] ^= 1;
        assert!(read(&mut &count[..], |_, _| Ok(())).is_err());
    }
}
