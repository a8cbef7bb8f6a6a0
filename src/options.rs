//! Options chosen when opening a database: [`Durability`], [`Backend`] and the builder's fields.

/// How durable a write transaction's commit is when `commit` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `commit` returns after the transaction is on stable storage (one `fdatasync`).
    #[default]
    Immediate,
    /// `commit` does not wait for the disk. A process crash loses nothing; a power loss may lose
    /// the latest Eventual commits, and the database reopens to a consistent committed state.
    /// [`crate::Database::sync`] makes them durable; larchdb also syncs by itself before the space
    /// held back for not-yet-durable commits grows large.
    Eventual,
}

/// Where page reads come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// A read-only memory map of the file (default): reads are slices of the map.
    #[default]
    Mmap,
    /// `pread` into a bounded page cache of `capacity` bytes. Not available yet: opening with it
    /// returns [`crate::Error::InvalidOption`].
    Cached {
        /// Cache size in bytes.
        capacity: usize,
    },
}

/// Smallest accepted page size.
pub const MIN_PAGE_SIZE: usize = 4096;
/// Largest accepted page size.
pub const MAX_PAGE_SIZE: usize = 65536;

/// The settings a [`crate::Builder`] collects.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub page_size: usize,
    pub durability: Durability,
    pub backend: Backend,
    pub read_only: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            page_size: 4096,
            durability: Durability::Immediate,
            backend: Backend::Mmap,
            read_only: false,
        }
    }
}

impl Options {
    /// Rejects out-of-range settings with `InvalidOption`.
    pub fn validate(&self) -> crate::Result<()> {
        let ps = self.page_size;
        if !ps.is_power_of_two() || !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&ps) {
            return Err(crate::Error::InvalidOption(format!(
                "page size {ps} is not a power of two in {MIN_PAGE_SIZE}..={MAX_PAGE_SIZE}"
            )));
        }
        if let Backend::Cached { .. } = self.backend {
            return Err(crate::Error::InvalidOption(
                "Backend::Cached is not implemented yet; use Backend::Mmap".into(),
            ));
        }
        Ok(())
    }
}
