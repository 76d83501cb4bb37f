//! The `Admin` service: a backup of the node's store while it runs, for its operator; and at
//! the gateway, re-keying a compromised county.

use std::io::Read;
use std::sync::Arc;

use fenghuo_proto::v1::{self, admin_server::Admin};
use tonic::{Request, Response, Status};

use super::auth::{caller, require_gateway_staff, require_node_itself};
use super::stream_end;
use crate::feed::Audience;
use crate::identity::DivisionCode;
use crate::state::NodeState;
use crate::sync::rekey;

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

type ChunkStream = stream_end::Boxed<v1::BackupChunk>;

/// A certificate given as PEM or DER: its DER.
fn certificate_der(bytes: &[u8]) -> Result<Vec<u8>, Status> {
    if bytes.starts_with(b"-----BEGIN") {
        x509_parser::pem::parse_x509_pem(bytes)
            .map(|(_, pem)| pem.contents)
            .map_err(|e| {
                Status::invalid_argument(format!("certificate: not a PEM certificate: {e}"))
            })
    } else {
        Ok(bytes.to_vec())
    }
}

#[tonic::async_trait]
impl Admin for AdminService {
    type BackupStream = ChunkStream;

    /// Rekey: checks the county's old certificate is revoked and its new one valid, then
    /// records the re-key in the province feed (the gateway itself sets aside what the old
    /// key signed past the trusted heads in the same write).
    async fn rekey(
        &self,
        req: Request<v1::RekeyRequest>,
    ) -> Result<Response<v1::RekeyResponse>, Status> {
        let c = caller(&req)?;
        require_gateway_staff(&c, &self.state.identity, "re-keys")?;
        let r = req.into_inner();
        let county = DivisionCode::county(r.county.trim())
            .map_err(|e| Status::invalid_argument(format!("county: {e}")))?;
        let der = certificate_der(&r.certificate)?;
        let origin = format!("county/{county}");
        let tls = self.state.sync.tls.borrow().clone();
        if let Err(e) = tls.check(&der) {
            return Err(Status::failed_precondition(format!(
                "the new certificate is not valid under the provincial CA and CRL ({e}): issue it with `fenghuo ca issue county {county}` after revoking the old one"
            )));
        }
        let store = self.state.store.as_ref();
        if let Some(previous) = crate::sync::directory::certificate(store, &origin)? {
            if previous != der && tls.is_valid(&previous) {
                return Err(Status::failed_precondition(format!(
                    "{origin}'s current certificate is not revoked: revoke it first (`fenghuo ca revoke county-{county}` on the CA machine, then give crl.pem to the gateway), so its key cannot go on writing"
                )));
            }
        }
        let mut trust = Vec::new();
        for t in &r.trust {
            match Audience::from_proto(t.audience) {
                Some(a) if a != Audience::Local => trust.push((a, t.seq)),
                _ => {
                    return Err(Status::invalid_argument(
                        "trust: name a shared feed (neighbours, province or upstream)",
                    ))
                }
            }
        }
        let before = rekey::evidence_count(store) as u64;
        let written = self
            .state
            .writer
            .submit(
                c.author(),
                rekey::Command {
                    county: county.to_string(),
                    certificate: der,
                    trust,
                },
            )
            .await?;
        let record = rekey::record(store, &origin)?
            .ok_or_else(|| Status::internal("the re-key was written but is not recorded"))?;
        let set_aside = (rekey::evidence_count(store) as u64).saturating_sub(before);
        tracing::warn!(%origin, seq = written.seq, set_aside, author = %c.author(), "county re-keyed");
        Ok(Response::new(v1::RekeyResponse {
            seq: written.seq,
            trusted: record
                .heads
                .iter()
                .map(|h| v1::FeedHead {
                    origin: origin.clone(),
                    audience: h.audience.to_proto() as i32,
                    seq: h.seq,
                    ..Default::default()
                })
                .collect(),
            set_aside,
        }))
    }

    /// Backup: stages a consistent copy beside the store (commits wait only for that), then
    /// streams it; the staged file is removed when the stream ends, however it ends.
    async fn backup(
        &self,
        req: Request<v1::BackupRequest>,
    ) -> Result<Response<Self::BackupStream>, Status> {
        require_node_itself(&caller(&req)?, &self.state.identity, "backups are taken")?;
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
        Ok(Response::new(stream_end::until_stopped(
            tokio_stream::wrappers::ReceiverStream::new(rx),
            self.state.stop.clone(),
        )))
    }
}
