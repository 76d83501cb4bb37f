//! The `Admin` service: a backup of the node's store while it runs, for its operator.

use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;

use fenghuo_proto::v1::{self, admin_server::Admin};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::auth::caller;
use crate::state::NodeState;

/// Bytes per streamed chunk.
const CHUNK: usize = 1 << 20;

/// Handlers of the `Admin` service.
#[derive(Debug, Clone)]
pub struct AdminService {
    state: Arc<NodeState>,
}

impl AdminService {
    /// Handlers over `state`.
    pub fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<v1::BackupChunk, Status>> + Send>>;

#[tonic::async_trait]
impl Admin for AdminService {
    type BackupStream = ChunkStream;

    /// Backup: stages a consistent copy beside the store (commits wait only for that), then
    /// streams it; the staged file is removed when the stream ends, however it ends.
    async fn backup(
        &self,
        req: Request<v1::BackupRequest>,
    ) -> Result<Response<Self::BackupStream>, Status> {
        let c = caller(&req)?;
        if c.identity != self.state.identity {
            return Err(Status::permission_denied(format!(
                "backups are taken with the node's own certificate ({}), not {}",
                self.state.identity, c.identity
            )));
        }
        let state = self.state.clone();
        let staged = tokio::task::spawn_blocking(move || {
            let file = tempfile::Builder::new()
                .prefix("backup-staging-")
                .tempfile_in(&state.data_dir)
                .map_err(|e| {
                    Status::resource_exhausted(format!(
                        "cannot stage a backup in {}: {e}",
                        state.data_dir.display()
                    ))
                })?;
            let summary =
                crate::backup::write(state.store.as_ref(), &state.identity.path(), file.path())
                    .map_err(|e| Status::internal(e.to_string()))?;
            Ok::<_, Status>((file, summary))
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))??;
        let (file, summary) = staged;
        tracing::info!(
            records = summary.records,
            bytes = summary.bytes,
            "backup staged"
        );
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            let mut reader = match file.reopen() {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.blocking_send(Err(Status::internal(e.to_string())));
                    return;
                }
            };
            let mut total = summary.bytes;
            loop {
                let mut buf = vec![0u8; CHUNK];
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        let chunk = v1::BackupChunk {
                            data: buf,
                            total_bytes: std::mem::take(&mut total),
                        };
                        if tx.blocking_send(Ok(chunk)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.blocking_send(Err(Status::internal(e.to_string())));
                        break;
                    }
                }
            }
            // `file` is dropped here: the staged copy is deleted.
            drop(file);
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}
