//! Writes, reads and scans a demo database: `cargo run --release --example demo [PATH] [KEYS]`.

use larchdb::{Database, Durability};
use std::time::Instant;

/// xorshift64*: a tiny seeded generator for reproducible keys.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = tempfile_dir();
    let path = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.join("demo.larch"));
    let n: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let _ = std::fs::remove_file(&path);
    let db = Database::builder()
        .durability(Durability::Immediate)
        .open(&path)?;

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut key, mut value) = ([0u8; 24], [0u8; 150]);
    let t = Instant::now();
    let mut wtx = db.begin_write()?;
    {
        let mut table = wtx.open_table("demo")?;
        for _ in 0..n {
            rng.fill(&mut key);
            rng.fill(&mut value);
            table.insert(&key, &value)?;
        }
    }
    wtx.commit()?;
    let load = t.elapsed();
    println!("loaded {n} keys (24 B keys, 150 B values) in one transaction: {load:.2?} ({:.0} inserts/s)", n as f64 / load.as_secs_f64());

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let rtx = db.begin_read()?;
    let table = rtx.open_table("demo")?;
    let t = Instant::now();
    let mut sum = 0u64;
    for _ in 0..n {
        rng.fill(&mut key);
        rng.fill(&mut value);
        let v = table.get(&key)?.ok_or("a key written is missing")?;
        sum += u64::from(v[0]);
    }
    let read = t.elapsed();
    println!(
        "read them back: {read:.2?} ({:.0} ns/get, checksum {sum})",
        read.as_nanos() as f64 / n as f64
    );

    let t = Instant::now();
    let mut count = 0u64;
    for item in table.range((
        std::ops::Bound::Included(&[0x40u8][..]),
        std::ops::Bound::Excluded(&[0x80u8][..]),
    ))? {
        let (k, _) = item?;
        assert!(k[0] >= 0x40 && k[0] < 0x80);
        count += 1;
    }
    println!("scanned {count} keys in [0x40, 0x80): {:.2?}", t.elapsed());
    assert_eq!(table.len()?, n as u64);
    drop(rtx);

    let t = Instant::now();
    db.check()?;
    let s = db.stats()?;
    println!("check passed in {:.2?}", t.elapsed());
    println!(
        "file {} bytes, {} pages of {} bytes: {} leaf, {} branch, {} overflow, {} free; depth {}; fill {:.0}%",
        s.file_size,
        s.page_count,
        s.page_size,
        s.leaf_pages,
        s.branch_pages,
        s.overflow_pages,
        s.free_pages,
        s.tables.first().map_or(0, |t| t.depth),
        s.fill_factor() * 100.0
    );
    Ok(())
}

fn tempfile_dir() -> std::path::PathBuf {
    std::env::temp_dir()
}
