//! The `Disposal` service (requests, for counties and the province) and `PartnerService`
//! (what a partner website's code calls with its certificate).

use std::sync::Arc;

use fenghuo_proto::v1::{self, disposal_server::Disposal, partner_service_server::PartnerService};
use tonic::{Request, Response, Status};

use super::auth::{caller, require_own, require_partner, require_reader, Caller};
use super::stream_end;
use crate::disposal::record::DisposalRecord;
use crate::disposal::{view, Command};
use crate::domain::disposal::{Action, Outcome};
use crate::partner;
use crate::state::NodeState;
use crate::store::{Batch, Store, StoreError};
use crate::timespec::now_ms;

/// Messages a subscription reads from the outbox at a time.
const OUTBOX_PAGE: usize = 100;

/// Whom a request is shown to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShownTo {
    /// Requesters and provincial staff: the history (with webhook attempts) and escalation,
    /// no evidence content.
    Staff,
    /// The partner: its own case only, nothing of the review, relay or escalation; the
    /// evidence content when `evidence` (with a request, not with a withdrawal).
    Partner {
        /// Load the evidence files' content.
        evidence: bool,
    },
}

/// A request as the API shows it to `to`.
pub fn request_to_proto(
    store: &dyn Store,
    r: &DisposalRecord,
    now: i64,
    to: ShownTo,
) -> Result<v1::DisposalRequest, StoreError> {
    let (case_id, members) = view::case(store, r)?;
    let content = if to == (ShownTo::Partner { evidence: true }) {
        view::evidence(store, &r.id)?
    } else {
        Vec::new()
    };
    let staff = to == ShownTo::Staff;
    Ok(v1::DisposalRequest {
        id: r.id.clone(),
        requester: r.requester.clone(),
        partner: r.partner.clone(),
        urls: r.urls.clone(),
        action: r.action.as_str().to_owned(),
        reason: r.reason.clone(),
        legal_basis: r.legal_basis.clone(),
        deadline_ms: r.deadline_ms,
        evidence: r
            .evidence
            .iter()
            .map(|e| v1::Evidence {
                name: e.name.clone(),
                sha256: e.sha256.clone(),
                size: e.size,
                content: content
                    .iter()
                    .find(|c| c.sha256 == e.sha256 && c.name == e.name)
                    .and_then(|c| {
                        use base64::Engine as _;
                        base64::engine::general_purpose::STANDARD
                            .decode(&c.content)
                            .ok()
                    })
                    .unwrap_or_default(),
            })
            .collect(),
        risk: r.risk.clone().unwrap_or_default(),
        filed_at_ms: r.filed_at_ms,
        filed_by: r.filed_by.clone(),
        state: r.state.as_str().to_owned(),
        overdue: r.overdue(now),
        case_id,
        linked: members.into_iter().filter(|m| *m != r.id).collect(),
        delivered_at_ms: r.delivered_at_ms.unwrap_or(0),
        acknowledged_at_ms: r.acknowledged_at_ms.unwrap_or(0),
        outcome: r.outcome.as_ref().map(|o| v1::PartnerOutcome {
            outcome: o.outcome.as_str().to_owned(),
            reason: o.reason.clone(),
            reference: o.reference.clone(),
            at_ms: o.at_ms,
        }),
        history: if staff {
            history(store, r)?
        } else {
            Vec::new()
        },
        escalated_report: match &r.escalated {
            Some(report) if staff => report.clone(),
            _ => String::new(),
        },
    })
}

/// The request's steps, with the gateway's webhook attempts among them.
fn history(store: &dyn Store, r: &DisposalRecord) -> Result<Vec<v1::DisposalEvent>, StoreError> {
    let mut h: Vec<v1::DisposalEvent> = r
        .history
        .iter()
        .map(|s| v1::DisposalEvent {
            at_ms: s.at_ms,
            kind: s.kind.clone(),
            by: s.by.clone(),
            note: s.note.clone(),
        })
        .collect();
    for a in crate::disposal::attempts::list(store, &r.id)? {
        h.push(v1::DisposalEvent {
            at_ms: a.at_ms,
            // The last attempt of a message the partner refused for good (or that outlived
            // its deadline) says so in the history's kind, for staff scanning it.
            kind: if a.last { "delivery failed" } else { "attempt" }.into(),
            by: "webhook".into(),
            note: match (a.status, a.error.is_empty()) {
                (0, _) => format!("{}: {}", a.kind, a.error),
                (s, true) => format!("{}: HTTP {s}", a.kind),
                (s, false) => format!("{}: HTTP {s}: {}", a.kind, a.error),
            },
        });
    }
    h.sort_by_key(|e| e.at_ms);
    Ok(h)
}

#[allow(clippy::result_large_err)]
fn vocabulary<T: std::str::FromStr<Err = String>>(field: &str, value: &str) -> Result<T, Status> {
    value
        .trim()
        .parse()
        .map_err(|e| Status::invalid_argument(format!("{field}: {e}")))
}

/// Handlers of the `Disposal` service.
#[derive(Debug, Clone)]
pub struct DisposalService {
    state: Arc<NodeState>,
}

impl DisposalService {
    /// Handlers over `state`.
    pub fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }

    #[allow(clippy::result_large_err)]
    fn show(&self, id: &str) -> Result<Response<v1::DisposalRequest>, Status> {
        let store = self.state.store.as_ref();
        let r = view::get(store, &Batch::new(), id)?
            .ok_or_else(|| Status::not_found(format!("no disposal request {id} at this node")))?;
        Ok(Response::new(request_to_proto(
            store,
            &r,
            now_ms(),
            ShownTo::Staff,
        )?))
    }
}

#[tonic::async_trait]
impl Disposal for DisposalService {
    /// FileRequest.
    async fn file_request(
        &self,
        req: Request<v1::FileDisposalRequest>,
    ) -> Result<Response<v1::DisposalRequest>, Status> {
        let c = caller(&req)?;
        require_own(&c, self.state.unit(), "file its disposal requests")?;
        let r = req.into_inner();
        let cmd = Command::File {
            partner: r.partner,
            urls: r.urls,
            action: vocabulary::<Action>("action", &r.action)?,
            reason: r.reason,
            legal_basis: r.legal_basis,
            deadline_ms: r.deadline_ms,
            evidence: r
                .evidence
                .into_iter()
                .map(|e| (e.name, e.content))
                .collect(),
            risk: Some(r.risk.trim().to_owned()).filter(|r| !r.is_empty()),
        };
        let written = self.state.writer.submit(c.author(), cmd).await?;
        tracing::info!(request = %written.id, author = %c.author(), "disposal request filed");
        self.show(&written.id)
    }

    /// ListRequests: newest first.
    async fn list_requests(
        &self,
        req: Request<v1::ListDisposalRequests>,
    ) -> Result<Response<v1::ListDisposalResponse>, Status> {
        require_reader(&caller(&req)?, self.state.unit(), "disposal requests")?;
        let r = req.into_inner();
        let (store, now) = (self.state.store.as_ref(), now_ms());
        let mut requests = Vec::new();
        for rec in view::list(store)? {
            let p = request_to_proto(store, &rec, now, ShownTo::Staff)?;
            let state_ok = match r.state.trim() {
                "" => true,
                "overdue" => p.overdue,
                s => p.state == s,
            };
            if state_ok && (r.partner.is_empty() || p.partner == r.partner) {
                requests.push(p);
            }
        }
        requests.sort_by_key(|p| std::cmp::Reverse(p.filed_at_ms));
        Ok(Response::new(v1::ListDisposalResponse { requests }))
    }

    /// GetRequest.
    async fn get_request(
        &self,
        req: Request<v1::GetDisposalRequest>,
    ) -> Result<Response<v1::DisposalRequest>, Status> {
        require_reader(&caller(&req)?, self.state.unit(), "disposal requests")?;
        crate::comms::parse_id(&req.get_ref().id, crate::comms::ItemKind::Disposal)?;
        self.show(req.get_ref().id.trim())
    }

    /// WithdrawRequest.
    async fn withdraw_request(
        &self,
        req: Request<v1::WithdrawDisposalRequest>,
    ) -> Result<Response<v1::DisposalRequest>, Status> {
        let c = caller(&req)?;
        require_own(&c, self.state.unit(), "withdraw its disposal requests")?;
        let r = req.into_inner();
        let id = r.id.trim().to_owned();
        let cmd = Command::Withdraw {
            id: id.clone(),
            reason: r.reason,
        };
        self.state.writer.submit(c.author(), cmd).await?;
        tracing::info!(request = %id, author = %c.author(), "disposal request withdrawn");
        self.show(&id)
    }

    /// ReviewRequest: provincial staff decide a held request.
    async fn review_request(
        &self,
        req: Request<v1::ReviewDisposalRequest>,
    ) -> Result<Response<v1::DisposalRequest>, Status> {
        let c = caller(&req)?;
        require_own(&c, self.state.unit(), "review disposal requests")?;
        let r = req.into_inner();
        let id = r.id.trim().to_owned();
        let cmd = Command::Review {
            id: id.clone(),
            approved: Some(r.approve),
            note: r.note,
        };
        self.state.writer.submit(c.author(), cmd).await?;
        tracing::info!(request = %id, approve = r.approve, author = %c.author(), "disposal request reviewed");
        self.show(&id)
    }
}

/// Handlers of `PartnerService`.
#[derive(Debug, Clone)]
pub struct PartnerGatewayService {
    state: Arc<NodeState>,
}

impl PartnerGatewayService {
    /// Handlers over `state`.
    pub fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }

    /// The calling partner, registered here and not disabled.
    #[allow(clippy::result_large_err)]
    fn partner(&self, c: &Caller) -> Result<String, Status> {
        let name = require_partner(c, &self.state.identity)?;
        match partner::get(self.state.store.as_ref(), name)? {
            Some(p) if !p.disabled => Ok(name.to_owned()),
            Some(_) => Err(Status::permission_denied(format!(
                "partner {name} is disabled by the province"
            ))),
            None => Err(Status::permission_denied(format!(
                "partner {name} is not registered at this gateway"
            ))),
        }
    }

    async fn receipt(
        &self,
        c: &Caller,
        cmd: Command,
        id: &str,
    ) -> Result<v1::PartnerReceipt, Status> {
        let written = self.state.writer.submit(c.author(), cmd).await?;
        let r = view::get(self.state.store.as_ref(), &Batch::new(), id)?
            .ok_or_else(|| Status::not_found(format!("no disposal request {id}")))?;
        Ok(v1::PartnerReceipt {
            id: id.to_owned(),
            state: r.state.as_str().to_owned(),
            unchanged: written.seq == 0,
        })
    }
}

type MessageStream = stream_end::Boxed<v1::PartnerMessage>;

/// The partner message for outbox entry `seq` (what the gRPC stream and webhooks carry).
pub fn message(
    store: &dyn Store,
    seq: u64,
    m: &view::OutboxMessage,
) -> Result<Option<v1::PartnerMessage>, StoreError> {
    let Some(r) = view::get(store, &Batch::new(), &m.id)? else {
        return Ok(None);
    };
    let to = ShownTo::Partner {
        evidence: !m.withdrawal,
    };
    let mut request = request_to_proto(store, &r, now_ms(), to)?;
    let evidence = std::mem::take(&mut request.evidence);
    request.evidence = evidence
        .iter()
        .map(|e| v1::Evidence {
            content: Vec::new(),
            ..e.clone()
        })
        .collect();
    Ok(Some(v1::PartnerMessage {
        cursor: seq,
        kind: if m.withdrawal {
            "withdrawal"
        } else {
            "request"
        }
        .to_owned(),
        request: Some(request),
        evidence: if m.withdrawal { Vec::new() } else { evidence },
    }))
}

#[tonic::async_trait]
impl PartnerService for PartnerGatewayService {
    type SubscribeStream = MessageStream;

    /// Subscribe: the outbox after the cursor, then live.
    async fn subscribe(
        &self,
        req: Request<v1::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let c = caller(&req)?;
        let name = self.partner(&c)?;
        let mut cursor = req.into_inner().cursor;
        let state = self.state.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(OUTBOX_PAGE);
        tracing::info!(partner = %name, cursor, "partner subscribed");
        tokio::spawn(async move {
            let mut changes = crate::disposal::relay::Changes::new(&state);
            loop {
                let page = match view::outbox(state.store.as_ref(), &name, cursor, OUTBOX_PAGE) {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = tx.send(Err(e.into())).await;
                        return;
                    }
                };
                let caught_up = page.len() < OUTBOX_PAGE;
                for (seq, m) in page {
                    cursor = seq;
                    let msg = match message(state.store.as_ref(), seq, &m) {
                        Ok(Some(msg)) => msg,
                        Ok(None) => continue,
                        Err(e) => {
                            let _ = tx.send(Err(e.into())).await;
                            return;
                        }
                    };
                    if tx.send(Ok(msg)).await.is_err() {
                        return; // the partner went away; it resumes from its cursor
                    }
                    if !m.withdrawal {
                        let cmd = Command::RecordDelivery { id: m.id.clone() };
                        if let Err(e) = state.writer.submit(state.identity.path(), cmd).await {
                            tracing::warn!(request = %m.id, error = %e, "recording a delivery failed");
                        }
                    }
                }
                if caught_up {
                    tokio::select! {
                        more = changes.next() => if !more { return },
                        // The partner left, or the node stopped and ended the stream: this
                        // task must not hold the node's state (and its store) any longer.
                        () = tx.closed() => return,
                    }
                }
            }
        });
        Ok(Response::new(stream_end::until_stopped(
            tokio_stream::wrappers::ReceiverStream::new(rx),
            self.state.stop.clone(),
        )))
    }

    /// Acknowledge.
    async fn acknowledge(
        &self,
        req: Request<v1::PartnerAcknowledgeRequest>,
    ) -> Result<Response<v1::PartnerReceipt>, Status> {
        let c = caller(&req)?;
        let partner = self.partner(&c)?;
        let id = req.into_inner().id.trim().to_owned();
        crate::comms::parse_id(&id, crate::comms::ItemKind::Disposal)?;
        let receipt = self
            .receipt(
                &c,
                Command::Acknowledge {
                    partner: partner.clone(),
                    id: id.clone(),
                },
                &id,
            )
            .await?;
        tracing::info!(request = %id, %partner, unchanged = receipt.unchanged, "partner acknowledged");
        Ok(Response::new(receipt))
    }

    /// Respond.
    async fn respond(
        &self,
        req: Request<v1::PartnerRespondRequest>,
    ) -> Result<Response<v1::PartnerReceipt>, Status> {
        let c = caller(&req)?;
        let partner = self.partner(&c)?;
        let r = req.into_inner();
        let id = r.id.trim().to_owned();
        crate::comms::parse_id(&id, crate::comms::ItemKind::Disposal)?;
        let cmd = Command::Answer {
            partner: partner.clone(),
            id: id.clone(),
            outcome: vocabulary::<Outcome>("outcome", &r.outcome)?,
            reason: r.reason,
            reference: r.reference,
        };
        let receipt = self.receipt(&c, cmd, &id).await?;
        let shared = if receipt.unchanged {
            0
        } else {
            crate::disposal::relay::share_outcome(&self.state, &c.author(), &id).await
        };
        tracing::info!(request = %id, %partner, outcome = %r.outcome, unchanged = receipt.unchanged, shared, "partner answered");
        Ok(Response::new(receipt))
    }
}
