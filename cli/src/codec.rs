//! Byte strings as text: the escaped form of the dump format and of `scan`/`get` output, and hex.
//!
//! Escaped form: every byte from `!` (0x21) to `~` (0x7e) except the backslash stands for itself;
//! every other byte (controls, space, backslash, 0x7f and above) is a backslash and two lowercase
//! hex digits. So the escaped form of any byte string is printable ASCII without spaces, and
//! parsing accepts upper- or lowercase digits. See docs/DUMP_FORMAT.md.

use std::io::{self, Write};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// True for the bytes that the escaped form writes as themselves.
fn plain(b: u8) -> bool {
    b > b' ' && b < 0x7f && b != b'\\'
}

/// Writes `bytes` in the escaped form.
pub fn write_escaped(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !plain(b) {
            out.write_all(&bytes[start..i])?;
            out.write_all(&[b'\\', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])?;
            start = i + 1;
        }
    }
    out.write_all(&bytes[start..])
}

/// The escaped form of `bytes` as a string (for messages).
pub fn escaped(bytes: &[u8]) -> String {
    let mut v = Vec::with_capacity(bytes.len());
    write_escaped(&mut v, bytes).expect("writing to a Vec cannot fail");
    String::from_utf8(v).expect("the escaped form is ASCII")
}

/// Writes `bytes` as lowercase hex.
pub fn write_hex(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let mut buf = [0u8; 512];
    for chunk in bytes.chunks(buf.len() / 2) {
        for (i, &b) in chunk.iter().enumerate() {
            buf[2 * i] = HEX[usize::from(b >> 4)];
            buf[2 * i + 1] = HEX[usize::from(b & 15)];
        }
        out.write_all(&buf[..2 * chunk.len()])?;
    }
    Ok(())
}

/// The value of one hex digit.
fn digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes the escaped form `s`, appending the bytes to `out`.
pub fn unescape_into(s: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'\\' {
            let pair = s
                .get(i + 1..i + 3)
                .ok_or("a backslash must be followed by two hex digits")?;
            match (digit(pair[0]), digit(pair[1])) {
                (Some(h), Some(l)) => out.push(h << 4 | l),
                _ => return Err("a backslash must be followed by two hex digits".into()),
            }
            i += 3;
        } else if plain(b) {
            out.push(b);
            i += 1;
        } else {
            return Err(format!("byte 0x{b:02x} must be escaped as \\{b:02x}"));
        }
    }
    Ok(())
}

/// Decodes hex digits (an optional `0x` prefix is allowed).
pub fn parse_hex(s: &[u8]) -> Result<Vec<u8>, String> {
    let s = s
        .strip_prefix(b"0x")
        .or_else(|| s.strip_prefix(b"0X"))
        .unwrap_or(s);
    if s.len() % 2 != 0 {
        return Err("hex needs an even number of digits".into());
    }
    s.chunks(2)
        .map(|p| match (digit(p[0]), digit(p[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err(format!(
                "{:?} is not a hex byte",
                String::from_utf8_lossy(p)
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_form_round_trips_every_byte() {
        let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        let mut text = Vec::new();
        write_escaped(&mut text, &all).unwrap();
        assert!(text.iter().all(|&b| b > b' ' && b < 0x7f));
        let mut back = Vec::new();
        unescape_into(&text, &mut back).unwrap();
        assert_eq!(back, all);
    }

    #[test]
    fn escaped_form_is_readable() {
        assert_eq!(escaped(b"user:42"), "user:42");
        assert_eq!(escaped(b"a b\\c\n\xff"), "a\\20b\\5cc\\0a\\ff");
        let mut v = Vec::new();
        unescape_into(b"A\\5C\\5c", &mut v).unwrap();
        assert_eq!(v, b"A\\\\");
    }

    #[test]
    fn escaped_form_rejects_bad_input() {
        let mut v = Vec::new();
        assert!(unescape_into(b"a b", &mut v).is_err());
        assert!(unescape_into(b"\\4", &mut v).is_err());
        assert!(unescape_into(b"\\zz", &mut v).is_err());
        assert!(unescape_into(b"\xc3\xa9", &mut v).is_err());
    }

    #[test]
    fn hex_round_trips() {
        let all: Vec<u8> = (0..=255u8).collect();
        let mut text = Vec::new();
        write_hex(&mut text, &all).unwrap();
        assert_eq!(parse_hex(&text).unwrap(), all);
        assert_eq!(parse_hex(b"0xDEADbeef").unwrap(), [0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(parse_hex(b"").unwrap(), b"");
        assert!(parse_hex(b"abc").is_err());
        assert!(parse_hex(b"zz").is_err());
    }
}
