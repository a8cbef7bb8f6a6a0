//! A small TCP transport for openraft's RPCs: each message is a 4-byte big-endian length and a
//! JSON body, on a connection that a client keeps open between calls.
//!
//! [`serve`] answers RPCs for one node; [`TcpNetworkFactory`] is openraft's network factory,
//! connecting to the address in each target's [`BasicNode`]. Snapshots travel in chunks through
//! `install_snapshot` (openraft 0.9's default `full_snapshot`), so neither side holds the whole
//! snapshot in memory. Meant for loopback clusters (tests and examples): no authentication, no
//! encryption.

use std::io;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, Raft};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::KvConfig;

/// The largest message accepted (a batch of entries or one snapshot chunk).
pub const MAX_FRAME: usize = 64 << 20;

/// An RPC from one node to another.
#[derive(Debug, Serialize, Deserialize)]
enum RpcRequest {
    AppendEntries(AppendEntriesRequest<KvConfig>),
    Vote(VoteRequest<u64>),
    InstallSnapshot(InstallSnapshotRequest<KvConfig>),
}

/// The answer to an [`RpcRequest`], with the remote Raft's error if it failed.
#[derive(Debug, Serialize, Deserialize)]
enum RpcResponse {
    AppendEntries(Result<AppendEntriesResponse<u64>, RaftError<u64>>),
    Vote(Result<VoteResponse<u64>, RaftError<u64>>),
    InstallSnapshot(Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>),
}

async fn write_frame<T: Serialize>(s: &mut BufStream<TcpStream>, msg: &T) -> io::Result<()> {
    let body = serde_json::to_vec(msg)?;
    if body.len() > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "message too large",
        ));
    }
    s.write_all(&(body.len() as u32).to_be_bytes()).await?;
    s.write_all(&body).await?;
    s.flush().await
}

/// Reads one message; `Ok(None)` on a clean end of stream before it.
async fn read_frame<T: DeserializeOwned>(s: &mut BufStream<TcpStream>) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match s.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "message too large",
        ));
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await?;
    Ok(Some(serde_json::from_slice(&body)?))
}

/// Answers the RPCs of one connection until the peer closes it.
async fn handle(stream: TcpStream, raft: Raft<KvConfig>) -> io::Result<()> {
    let mut s = BufStream::new(stream);
    while let Some(req) = read_frame::<RpcRequest>(&mut s).await? {
        let resp = match req {
            RpcRequest::AppendEntries(r) => {
                RpcResponse::AppendEntries(raft.append_entries(r).await)
            }
            RpcRequest::Vote(r) => RpcResponse::Vote(raft.vote(r).await),
            RpcRequest::InstallSnapshot(r) => {
                RpcResponse::InstallSnapshot(raft.install_snapshot(r).await)
            }
        };
        write_frame(&mut s, &resp).await?;
    }
    Ok(())
}

/// Accepts connections on `listener` and answers their RPCs with `raft`, until the returned
/// future is dropped or aborted (which also ends every connection it accepted).
pub async fn serve(listener: TcpListener, raft: Raft<KvConfig>) -> io::Result<()> {
    let mut conns = JoinSet::new();
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        conns.spawn(handle(stream, raft.clone()));
        while conns.try_join_next().is_some() {}
    }
}

/// openraft's network factory: one [`TcpNetwork`] per target node.
#[derive(Debug, Clone, Default)]
pub struct TcpNetworkFactory;

impl RaftNetworkFactory<KvConfig> for TcpNetworkFactory {
    type Network = TcpNetwork;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> TcpNetwork {
        TcpNetwork {
            target,
            addr: node.addr.clone(),
            conn: None,
        }
    }
}

/// A client of one target node, keeping its connection open between calls.
#[derive(Debug)]
pub struct TcpNetwork {
    target: u64,
    addr: String,
    conn: Option<BufStream<TcpStream>>,
}

/// A failed call, before it is typed for the RPC that failed.
enum CallError {
    /// Could not connect, or the connection broke: back off before retrying.
    Unreachable(io::Error),
    /// The call timed out or the answer made no sense.
    Network(io::Error),
}

impl CallError {
    fn into_rpc<E: std::error::Error>(self) -> RPCError<u64, BasicNode, RaftError<u64, E>> {
        match self {
            CallError::Unreachable(e) => RPCError::Unreachable(Unreachable::new(&e)),
            CallError::Network(e) => RPCError::Network(NetworkError::new(&e)),
        }
    }
}

impl TcpNetwork {
    async fn call(&mut self, req: &RpcRequest, ttl: Duration) -> Result<RpcResponse, CallError> {
        let res = tokio::time::timeout(ttl, async {
            if self.conn.is_none() {
                let stream = TcpStream::connect(&self.addr)
                    .await
                    .map_err(CallError::Unreachable)?;
                stream.set_nodelay(true).map_err(CallError::Unreachable)?;
                self.conn = Some(BufStream::new(stream));
            }
            let conn = self.conn.as_mut().ok_or_else(|| {
                CallError::Unreachable(io::Error::new(io::ErrorKind::NotConnected, "no connection"))
            })?;
            write_frame(conn, req)
                .await
                .map_err(CallError::Unreachable)?;
            match read_frame(conn).await {
                Ok(Some(resp)) => Ok(resp),
                Ok(None) => Err(CallError::Unreachable(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ))),
                Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(CallError::Network(e)),
                Err(e) => Err(CallError::Unreachable(e)),
            }
        })
        .await;
        let res = res.unwrap_or_else(|_| {
            Err(CallError::Network(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer from node {} within {ttl:?}", self.target),
            )))
        });
        if res.is_err() {
            // A half-written or half-read message leaves the stream unusable.
            self.conn = None;
        }
        res
    }

    fn mismatch<E: std::error::Error>() -> RPCError<u64, BasicNode, RaftError<u64, E>> {
        CallError::Network(io::Error::new(
            io::ErrorKind::InvalidData,
            "answer of the wrong kind",
        ))
        .into_rpc()
    }
}

type RpcResult<T, E = openraft::error::Infallible> =
    Result<T, RPCError<u64, BasicNode, RaftError<u64, E>>>;

impl RaftNetwork<KvConfig> for TcpNetwork {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<KvConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<u64>> {
        let resp = self
            .call(&RpcRequest::AppendEntries(rpc), option.hard_ttl())
            .await
            .map_err(CallError::into_rpc)?;
        match resp {
            RpcResponse::AppendEntries(r) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(Self::mismatch()),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<KvConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<u64>, InstallSnapshotError> {
        let resp = self
            .call(&RpcRequest::InstallSnapshot(rpc), option.hard_ttl())
            .await
            .map_err(CallError::into_rpc)?;
        match resp {
            RpcResponse::InstallSnapshot(r) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(Self::mismatch()),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<u64>> {
        let resp = self
            .call(&RpcRequest::Vote(rpc), option.hard_ttl())
            .await
            .map_err(CallError::into_rpc)?;
        match resp {
            RpcResponse::Vote(r) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(Self::mismatch()),
        }
    }
}
