//! One node of the replicated key-value service: its storage in a directory, its Raft, and its
//! TCP server on a loopback address.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::{Config, Raft};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::net::{serve, TcpNetworkFactory};
use crate::{open_node, KvConfig, KvReader, LogSync};

/// A boxed error for the node's setup.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// A running node: its Raft handle, a reader of its map, and the task that serves its RPCs.
pub struct KvNode {
    /// The node's id.
    pub id: u64,
    /// The node's address, `127.0.0.1:PORT`.
    pub addr: String,
    /// The node's directory (database file and snapshots).
    pub dir: PathBuf,
    /// The Raft of this node: `client_write` on the leader, metrics, membership changes.
    pub raft: Raft<KvConfig>,
    /// Reads what this node has applied.
    pub reader: KvReader,
    server: JoinHandle<std::io::Result<()>>,
}

/// Retries `f` every 20 ms until it succeeds or `within` has passed (then returns its last
/// error): a stopped node's file stays locked, and its port bound, until its last tasks end.
async fn retry<T, E, F, Fut>(within: Duration, mut f: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + within;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

impl std::fmt::Debug for KvNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvNode")
            .field("id", &self.id)
            .field("addr", &self.addr)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl KvNode {
    /// Starts node `id` from the files in `dir` (created if missing), serving RPCs on `listener`.
    pub async fn start(
        id: u64,
        dir: &Path,
        listener: TcpListener,
        config: Arc<Config>,
        sync: LogSync,
    ) -> Result<KvNode, BoxError> {
        let addr = listener.local_addr()?.to_string();
        let (log, sm) = retry(Duration::from_secs(10), || async { open_node(dir, sync) }).await?;
        let reader = sm.reader();
        let raft = Raft::new(id, config, TcpNetworkFactory, log, sm).await?;
        let server = tokio::spawn(serve(listener, raft.clone()));
        Ok(KvNode {
            id,
            addr,
            dir: dir.to_path_buf(),
            raft,
            reader,
            server,
        })
    }

    /// Restarts node `id` from `dir` on `addr` (the address it had), waiting up to 10 s for the
    /// port and the database file to be free.
    pub async fn restart(
        id: u64,
        dir: &Path,
        addr: &str,
        config: Arc<Config>,
        sync: LogSync,
    ) -> Result<KvNode, BoxError> {
        let listener = retry(Duration::from_secs(10), || TcpListener::bind(addr)).await?;
        KvNode::start(id, dir, listener, config, sync).await
    }

    /// Stops the node: closes its server and connections and shuts its Raft down. Its files stay.
    pub async fn stop(self) -> Result<(), BoxError> {
        self.server.abort();
        let _ = self.server.await;
        self.raft.shutdown().await.map_err(|e| e.to_string())?;
        Ok(())
    }
}
