//! The global `--cache SIZE` option: which backend every subcommand opens databases with.

use larchdb::{Backend, Builder, Database};
use std::sync::OnceLock;

static BACKEND: OnceLock<Backend> = OnceLock::new();

/// Sets the backend for this run (once, from the command line).
pub fn set(backend: Backend) {
    let _ = BACKEND.set(backend);
}

/// A builder with this run's backend.
pub fn builder() -> Builder {
    let mut b = Database::builder();
    b.backend(BACKEND.get().copied().unwrap_or_default());
    b
}

/// Parses a size such as `4096`, `64K`, `64MiB`, `1.5G` or `2GB` (units are powers of 1024).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (examples: 4096, 64M, 1GiB)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        u => return Err(format!("unknown size unit {u:?} (use K, M, G or T)")),
    };
    let bytes = n * (1u64 << shift) as f64;
    if !(1.0..=usize::MAX as f64).contains(&bytes) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(bytes as usize)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("0").is_err());
    }
}
