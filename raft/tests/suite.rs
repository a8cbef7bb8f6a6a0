//! openraft's own storage test suite (`openraft::testing::Suite::test_all`) against larch-raft,
//! with each way of making appends durable.

use larch_raft::{open_node, KvConfig, LogStore, LogSync, StateMachineStore};
use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageError;
use tempfile::TempDir;

/// Builds a fresh node storage in a temporary directory for each test of the suite.
struct Builder(LogSync);

impl StoreBuilder<KvConfig, LogStore<KvConfig>, StateMachineStore, TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(TempDir, LogStore<KvConfig>, StateMachineStore), StorageError<u64>> {
        let dir = tempfile::tempdir().expect("temp dir");
        let (log, sm) = open_node(dir.path(), self.0)?;
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_suite_immediate_appends() {
    Suite::test_all(Builder(LogSync::Immediate)).expect("openraft storage suite");
}

#[test]
fn openraft_suite_grouped_appends() {
    Suite::test_all(Builder(LogSync::Grouped)).expect("openraft storage suite");
}
