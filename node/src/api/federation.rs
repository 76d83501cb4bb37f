//! The `Federation` service: the server end of sync sessions, and link status.

use std::sync::Arc;

use fenghuo_proto::v1::{self, federation_server::Federation, SyncFrame};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::auth::{caller, require_federation_member, require_sync_peer};
use super::stream_end;
use crate::feed::FeedId;
use crate::identity::Identity;
use crate::pki::standing::PeerInfo;
use crate::state::NodeState;
use crate::sync::entitlement::StatusView;
use crate::sync::session::{self, SyncContext, SyncError};
use crate::sync::status::{LinkKey, LinkStatus};

/// Handlers of the `Federation` service.
#[derive(Debug, Clone)]
pub struct FederationService {
    state: Arc<NodeState>,
}

impl FederationService {
    /// Handlers over `state`.
    pub fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }

    fn province(&self) -> &str {
        self.state.unit().get(..2).unwrap_or_default()
    }
}

/// Whether a caller seeing `view` is shown `feed` (a feed's name, `origin#audience`, for
/// quarantine records): only a feed this node would send the caller's county.
fn shown(view: &StatusView, ctx: &SyncContext, feed: &FeedId) -> bool {
    match view {
        StatusView::Everything => true,
        StatusView::AsNode(node) => ctx.may_send(node, feed),
    }
}

fn feed_named(name: &str) -> Option<FeedId> {
    let (origin, audience) = name.rsplit_once('#')?;
    Some(FeedId::new(origin, audience.parse().ok()?))
}

fn lags(m: &std::collections::BTreeMap<String, u64>) -> Vec<v1::FeedLag> {
    m.iter()
        .map(|(feed, behind)| v1::FeedLag {
            feed: feed.clone(),
            behind: *behind,
        })
        .collect()
}

fn to_proto(s: LinkStatus) -> v1::PeerStatus {
    v1::PeerStatus {
        peer: s.peer,
        address: s.address,
        direction: s.direction.to_owned(),
        state: s.state.to_owned(),
        last_contact_ms: s.last_contact_ms,
        peer_behind: lags(&s.peer_behind),
        we_behind: lags(&s.we_behind),
        entries_sent: s.sent,
        entries_received: s.received,
        entries_refused: s.refused,
        last_error: s.last_error,
        last_error_ms: s.last_error_ms,
    }
}

/// A quarantined feed, as `Peers` and `GetHealth` answer it.
pub fn quarantine_to_proto(h: &crate::sync::quarantine::Held) -> v1::Quarantine {
    v1::Quarantine {
        feed: h.record.feed.clone(),
        seq: h.record.seq,
        reason: h.record.reason.clone(),
        since_ms: h.record.since_ms,
        refusals: h.refusals,
        advice: h.record.advice(),
    }
}

type SyncStream = stream_end::Boxed<SyncFrame>;

/// The status a served sync session ends with, when the peer should hear why (a peer that
/// left or closed its end hears nothing).
fn closing_status(peer: &Identity, e: &SyncError) -> Option<Status> {
    match e {
        SyncError::Closed(_) | SyncError::Connect(_) => None,
        SyncError::Stream(s) => match s.code() {
            // tonic refused a frame over the limit while decoding it.
            tonic::Code::OutOfRange | tonic::Code::ResourceExhausted => Some(Status::new(
                s.code(),
                format!(
                    "sync frame refused: {}; frames are at most {} MiB, so this session is closed",
                    s.message(),
                    session::MAX_FRAME >> 20
                ),
            )),
            _ => None,
        },
        SyncError::Protocol(m) => Some(Status::failed_precondition(m.clone())),
        SyncError::Revoked(_) => Some(Status::unauthenticated(format!(
            "the certificate of {peer} is revoked or no longer valid"
        ))),
        SyncError::Store(e) => Some(Status::internal(format!("this node's store failed: {e}"))),
    }
}

#[tonic::async_trait]
impl Federation for FederationService {
    type SyncStream = SyncStream;

    /// Sync: serves one sync session to a county node or the provincial gateway.
    async fn sync(
        &self,
        req: Request<Streaming<SyncFrame>>,
    ) -> Result<Response<SyncStream>, Status> {
        let c = caller(&req)?;
        require_sync_peer(&c, self.province())?;
        let cert = req
            .extensions()
            .get::<PeerInfo>()
            .map(|p| p.certificate.clone())
            .ok_or_else(|| Status::unauthenticated("no verified peer certificate"))?;
        let remote = req
            .extensions()
            .get::<PeerInfo>()
            .and_then(|p| p.remote)
            .map(|a| a.to_string())
            .unwrap_or_default();
        let inbound = req.into_inner();
        let (tx, rx) = mpsc::channel(16);
        let (last_tx, last_rx) = oneshot::channel();
        let ctx = self.state.sync.clone();
        let peer = c.identity.clone();
        // One row per inbound session (keyed by its remote address). An ended one stays,
        // showing why it ended, until the peer's next session replaces it.
        let key = LinkKey::new("inbound", peer.path(), remote);
        ctx.status.forget_closed(&key);
        // One session per peer: this one ends the peer's older session, if any.
        let mut ticket = ctx.sessions.open(&peer.path());
        tokio::spawn(async move {
            let result = tokio::select! {
                r = session::run(ctx.clone(), peer.clone(), cert, key.clone(), inbound, tx) => r.err().and_then(|e| closing_status(&peer, &e)),
                () = ticket.replaced() => {
                    ctx.status.error(&key, "replaced by a newer session from the same peer");
                    Some(Status::aborted(format!(
                        "a newer sync session from {peer} replaced this one (one session per peer)"
                    )))
                }
            };
            drop(ticket);
            ctx.status.update(&key, |s| s.state = "closed");
            if let Some(status) = result {
                let _ = last_tx.send(status);
            }
        });
        Ok(Response::new(stream_end::ending(
            ReceiverStream::new(rx).map(Ok),
            self.state.stop.clone(),
            Some(last_rx),
        )))
    }

    /// Feeds: the version vector of this node.
    async fn feeds(
        &self,
        req: Request<v1::FeedsRequest>,
    ) -> Result<Response<v1::FeedsResponse>, Status> {
        let view = require_federation_member(&caller(&req)?, &self.state.sync.me)?;
        let store = self.state.store.as_ref();
        let heads = crate::feed::log::heads(store)?
            .into_iter()
            .filter(|(f, _)| shown(&view, &self.state.sync, f))
            .map(|(f, h)| {
                Ok(v1::FeedHead {
                    applied: crate::dispatch::applied(store, &f)?,
                    origin: f.origin,
                    audience: f.audience.to_proto() as i32,
                    seq: h.seq,
                })
            })
            .collect::<Result<_, crate::store::StoreError>>()?;
        Ok(Response::new(v1::FeedsResponse { heads }))
    }

    /// Peers: every link of this node with its state and lag.
    async fn peers(
        &self,
        req: Request<v1::PeersRequest>,
    ) -> Result<Response<v1::PeersResponse>, Status> {
        let view = require_federation_member(&caller(&req)?, &self.state.sync.me)?;
        let ctx = &self.state.sync;
        let status = &ctx.status;
        let mut peers: Vec<v1::PeerStatus> = status.snapshot().into_iter().map(to_proto).collect();
        let (mut equivocations, mut refused) = (
            status
                .equivocations
                .load(std::sync::atomic::Ordering::Relaxed),
            status.refused.load(std::sync::atomic::Ordering::Relaxed),
        );
        if let StatusView::AsNode(node) = &view {
            // Its own links only, and not where they reach: an address is this node's
            // network layout, not the caller's to know.
            let me = node.path();
            peers.retain(|p| p.peer == me);
            for p in &mut peers {
                p.address.clear();
            }
            (equivocations, refused) = (0, 0);
        }
        // The unit of each peer identity path (`county/510104` → `510104`).
        let unit_names = crate::sync::directory::unit_names(self.state.store.as_ref())?
            .of(peers.iter().filter_map(|p| p.peer.split('/').nth(1)));
        Ok(Response::new(v1::PeersResponse {
            unit_names,
            peers,
            equivocations,
            refused,
            quarantined: ctx
                .quarantine
                .snapshot()
                .iter()
                .filter(|h| feed_named(&h.record.feed).is_some_and(|f| shown(&view, ctx, &f)))
                .map(quarantine_to_proto)
                .collect(),
        }))
    }
}
