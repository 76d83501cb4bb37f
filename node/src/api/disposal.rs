//! The `Disposal` service (requests, for counties and the province) and `PartnerService`
//! (what a partner website's code calls with its certificate).

use std::sync::Arc;

use fenghuo_proto::v1::{self, disposal_server::Disposal, partner_service_server::PartnerService};
use tonic::{Request, Response, Status};

use super::auth::{caller, require_own, require_partner, require_reader, Caller};
use super::stream_end;
use crate::disposal::read::{self, DeliveryMessage, Evidence, RequestDetails, ShownTo};
use crate::disposal::{view, Command};
use crate::domain::disposal::{Action, Outcome};
use crate::partner;
use crate::state::NodeState;
use crate::sync::directory::{unit_names, UnitNames};
use crate::timespec::now_ms;

/// Messages a subscription reads from the outbox at a time.
const OUTBOX_PAGE: usize = 100;

/// A request's read model as the API gives it (to partners: no `county_names`; staff's
/// replies add them with [`with_names`]).
pub fn request_to_proto(d: &RequestDetails) -> v1::DisposalRequest {
    v1::DisposalRequest {
        id: d.id.clone(),
        requester: d.requester.clone(),
        partner: d.partner.clone(),
        urls: d.urls.clone(),
        action: d.action.as_str().to_owned(),
        reason: d.reason.clone(),
        legal_basis: d.legal_basis.clone(),
        deadline_ms: d.deadline_ms,
        evidence: d.evidence.iter().map(evidence_to_proto).collect(),
        risk: d.risk.clone().unwrap_or_default(),
        filed_at_ms: d.filed_at_ms,
        filed_by: d.filed_by.clone(),
        state: d.state.as_str().to_owned(),
        overdue: d.overdue,
        case_id: d.case_id.clone(),
        linked: d.linked.clone(),
        delivered_at_ms: d.delivered_at_ms.unwrap_or(0),
        acknowledged_at_ms: d.acknowledged_at_ms.unwrap_or(0),
        outcome: d.outcome.as_ref().map(|o| v1::PartnerOutcome {
            outcome: o.outcome.as_str().to_owned(),
            reason: o.reason.clone(),
            reference: o.reference.clone(),
            at_ms: o.at_ms,
        }),
        history: d
            .history
            .iter()
            .map(|h| v1::DisposalEvent {
                at_ms: h.at_ms,
                kind: h.kind.clone(),
                by: h.by.clone(),
                note: h.note.clone(),
            })
            .collect(),
        escalated_report: d.escalated_report.clone().unwrap_or_default(),
        county_names: Default::default(),
    }
}

/// `r` with its requester's name, as staff's replies carry it.
fn with_names(mut r: v1::DisposalRequest, names: &UnitNames) -> v1::DisposalRequest {
    r.county_names = names.of([r.requester.as_str()]);
    r
}

fn evidence_to_proto(e: &Evidence) -> v1::Evidence {
    v1::Evidence {
        name: e.name.clone(),
        sha256: e.sha256.clone(),
        size: e.size,
        content: e.content.clone(),
    }
}

/// A partner's message as its gRPC stream carries it.
pub fn message_to_proto(m: &DeliveryMessage) -> v1::PartnerMessage {
    v1::PartnerMessage {
        cursor: m.cursor,
        kind: m.kind().to_owned(),
        request: Some(request_to_proto(&m.request)),
        evidence: m.evidence.iter().map(evidence_to_proto).collect(),
    }
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
        let r = read::find(store, id)?
            .ok_or_else(|| Status::not_found(format!("no disposal request {id} at this node")))?;
        let details = read::request(store, &r, now_ms(), ShownTo::Staff)?;
        Ok(Response::new(with_names(
            request_to_proto(&details),
            &unit_names(store)?,
        )))
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
        let store = self.state.store.as_ref();
        let names = unit_names(store)?;
        let requests = read::requests(store, now_ms())?
            .iter()
            .filter(|d| match r.state.trim() {
                "" => true,
                "overdue" => d.overdue,
                s => d.state.as_str() == s,
            })
            .filter(|d| r.partner.is_empty() || d.partner == r.partner)
            .map(|d| with_names(request_to_proto(d), &names))
            .collect();
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
        let state = read::state(self.state.store.as_ref(), id)?
            .ok_or_else(|| Status::not_found(format!("no disposal request {id}")))?;
        Ok(v1::PartnerReceipt {
            id: id.to_owned(),
            state: state.as_str().to_owned(),
            unchanged: written.seq == 0,
        })
    }
}

type MessageStream = stream_end::Boxed<v1::PartnerMessage>;

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
            let mut changes = crate::services::relay::Changes::new(&state);
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
                    let msg = match read::message(state.store.as_ref(), seq, &m, now_ms()) {
                        Ok(Some(msg)) => message_to_proto(&msg),
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
            crate::services::relay::share_outcome(&self.state, &c.author(), &id).await
        };
        tracing::info!(request = %id, %partner, outcome = %r.outcome, unchanged = receipt.unchanged, shared, "partner answered");
        Ok(Response::new(receipt))
    }
}
