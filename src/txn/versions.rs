//! Published versions: the cell from which readers take the latest committed version without a
//! lock, and the registry of the versions published since that a snapshot may still hold. Before
//! it reuses freed pages, the writer asks the registry for the oldest of them (DESIGN.md,
//! invariant 3: a page freed by transaction T is reused only when no snapshot older than T is
//! alive).

use std::sync::{Arc, Weak};

/// The published versions of a database: `V` is `txn::Version` (tests use their own).
pub(crate) struct Versions<V> {
    /// The latest published version.
    current: arc_swap::ArcSwap<V>,
    /// Every published version that may still be alive, with the id of its commit. Only the
    /// writer locks it (to publish and to compute the gate); `oldest_live` forgets dead ones.
    registry: parking_lot::Mutex<Vec<(u64, Weak<V>)>>,
}

impl<V> Versions<V> {
    /// Versions whose current (and only) one is `v`, committed by transaction `txn`.
    pub fn new(txn: u64, v: Arc<V>) -> Versions<V> {
        let registry = vec![(txn, Arc::downgrade(&v))];
        Versions {
            current: arc_swap::ArcSwap::new(v),
            registry: parking_lot::Mutex::new(registry),
        }
    }

    /// A hold on the current version, taken without a lock (named after `ArcSwap::load_full`,
    /// which it is, so that callers read the same as before this type existed).
    pub fn load_full(&self) -> Arc<V> {
        self.current.load_full()
    }

    /// Publishes `v`, committed by transaction `txn`: registers it, then makes it current. A
    /// version is thus registered before any reader can hold it.
    pub fn publish(&self, txn: u64, v: Arc<V>) {
        self.registry.lock().push((txn, Arc::downgrade(&v)));
        self.current.store(v);
    }

    /// Id of the oldest registered version still alive (`u64::MAX` if none), forgetting the dead.
    ///
    /// Alive means that some `Arc` of it exists: the cell's, a reader's, or a writer's base. A
    /// dead version never comes back (the only way to a new hold is through the cell, which holds
    /// its version itself), so a version found dead stays dead, and one that dies after being
    /// counted only makes the answer older than needed: never younger.
    pub fn oldest_live(&self) -> u64 {
        let mut registry = self.registry.lock();
        registry.retain(|(_, w)| w.strong_count() > 0);
        registry
            .iter()
            .map(|&(txn, _)| txn)
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Oldest txn id whose pages must stay intact: the oldest live version or `durable_txn` (the
    /// last durable commit, which recovery may fall back to), whichever is older. Pages freed by a
    /// transaction up to this id may be reused (`alloc::WriterPages`).
    pub fn reuse_gate(&self, durable_txn: u64) -> u64 {
        self.oldest_live().min(durable_txn)
    }
}

#[cfg(test)]
mod tests {
    use super::Versions;
    use std::sync::Arc;

    #[test]
    fn oldest_live_follows_the_holds() {
        let versions = Versions::new(1, Arc::new(1u64));
        let held = versions.load_full();
        versions.publish(2, Arc::new(2));
        let base = versions.load_full();
        versions.publish(3, Arc::new(3));
        assert_eq!(versions.oldest_live(), 1);
        assert_eq!(versions.reuse_gate(3), 1);
        assert_eq!(versions.reuse_gate(0), 0);
        drop(held);
        assert_eq!(versions.oldest_live(), 2);
        drop(base);
        assert_eq!(versions.oldest_live(), 3);
        assert_eq!(
            versions.registry.lock().len(),
            1,
            "dead versions are forgotten"
        );
        assert_eq!(*versions.load_full(), 3);
    }
}
