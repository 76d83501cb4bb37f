//! The `Alerts` service: shared alerts (预警通报) over gRPC, and the `Watch` stream.

use std::sync::Arc;

use fenghuo_proto::v1::{self, alerts_server::Alerts};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::auth::{caller, require_own, require_reader};
use super::stream_end;
use crate::comms::command::AlertChanges;
use crate::comms::read::{self, AlertDetails, Receipt};
use crate::comms::{self, ItemKind};
use crate::domain::alert::{AlertAudience, NewAlert};
use crate::services::journal::{self, JournalItem};
use crate::state::NodeState;
use crate::sync::directory::{unit_names, UnitNames};
use crate::timespec::now_ms;

/// Items sent per read of the journal.
const WATCH_CHUNK: usize = 256;

/// Handlers of the `Alerts` service.
#[derive(Debug, Clone)]
pub struct AlertsService {
    state: Arc<NodeState>,
}

impl AlertsService {
    /// Handlers over `state`.
    pub fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }

    async fn write(
        &self,
        c: &super::auth::Caller,
        command: comms::Command,
    ) -> Result<Response<v1::Alert>, Status> {
        let written = self.state.writer.submit(c.author(), command).await?;
        tracing::info!(alert = %written.id, seq = written.seq, author = %c.author(), "alert written");
        self.alert(&written.id, false)
    }

    #[allow(clippy::result_large_err)]
    fn alert(&self, id: &str, cap: bool) -> Result<Response<v1::Alert>, Status> {
        comms::parse_id(id, ItemKind::Alert)?;
        let store = self.state.store.as_ref();
        let record = read::find_alert(store, id)?
            .ok_or_else(|| Status::not_found(format!("no alert {id} has reached this node")))?;
        let unit = self.state.unit();
        if !read::shown_to(&record, unit) {
            return Err(Status::not_found(format!(
                "no alert {id} is addressed to {unit}"
            )));
        }
        let details = read::alert(store, &record, now_ms(), cap)?;
        let names = unit_names(store)?;
        Ok(Response::new(details_to_proto(&details, &names)))
    }
}

fn vocabulary<T: std::str::FromStr<Err = String>>(field: &str, value: &str) -> Result<T, Status> {
    value
        .trim()
        .parse()
        .map_err(|e: String| Status::invalid_argument(format!("{field}: {e}")))
}

fn optional_ms(ms: i64) -> Option<i64> {
    (ms != 0).then_some(ms)
}

#[allow(clippy::result_large_err)]
fn content_from_proto(c: v1::AlertContent) -> Result<NewAlert, Status> {
    Ok(NewAlert {
        headline: c.headline,
        description: c.description,
        instruction: c.instruction,
        event: c.event,
        urgency: vocabulary("urgency", &c.urgency)?,
        severity: vocabulary("severity", &c.severity)?,
        certainty: vocabulary("certainty", &c.certainty)?,
        affected: c.affected.iter().map(|a| a.trim().to_owned()).collect(),
        onset_ms: optional_ms(c.onset_ms),
        expires_ms: optional_ms(c.expires_ms),
        risk: Some(c.risk.trim().to_owned()).filter(|r| !r.is_empty()),
        audience: c
            .audience
            .parse::<AlertAudience>()
            .map_err(|e| Status::invalid_argument(format!("audience: {e}")))?,
    })
}

fn content_to_proto(a: &NewAlert) -> v1::AlertContent {
    v1::AlertContent {
        headline: a.headline.clone(),
        description: a.description.clone(),
        instruction: a.instruction.clone(),
        event: a.event.clone(),
        urgency: a.urgency.to_string(),
        severity: a.severity.to_string(),
        certainty: a.certainty.to_string(),
        affected: a.affected.clone(),
        onset_ms: a.onset_ms.unwrap_or(0),
        expires_ms: a.expires_ms.unwrap_or(0),
        risk: a.risk.clone().unwrap_or_default(),
        audience: a.audience.to_string(),
    }
}

/// An alert's read model as the API gives it, with the names of the counties it mentions.
fn details_to_proto(d: &AlertDetails, names: &UnitNames) -> v1::Alert {
    let record = &d.record;
    let audience = match &record.alert.audience {
        AlertAudience::Counties(codes) => codes.as_slice(),
        AlertAudience::Neighbours | AlertAudience::Province => &[],
    };
    let county_names = names.of(std::iter::once(&record.issuer)
        .chain(&record.alert.affected)
        .chain(audience)
        .chain(d.receipts.iter().map(|r| &r.county))
        .map(String::as_str));
    v1::Alert {
        id: record.id.clone(),
        issuer: record.issuer.clone(),
        content: Some(content_to_proto(&record.alert)),
        status: d.status.to_owned(),
        issued_at_ms: record.issued_at_ms,
        ack_within_s: record.ack_within_s,
        chain: record
            .chain
            .iter()
            .map(|m| v1::AlertMessage {
                version: m.version,
                kind: m.kind.as_str().to_owned(),
                at_ms: m.at_ms,
                author: m.author.clone(),
                summary: m.summary.clone(),
            })
            .collect(),
        receipts: d.receipts.iter().map(receipt_to_proto).collect(),
        cap_xml: d.cap_xml.clone().unwrap_or_default(),
        sender: d.sender.clone(),
        county_names,
    }
}

fn receipt_to_proto(r: &Receipt) -> v1::Receipt {
    v1::Receipt {
        county: r.county.clone(),
        delivered_at_ms: r.delivered_at_ms.unwrap_or(0),
        acknowledged_at_ms: r.acknowledged_at_ms.unwrap_or(0),
        acknowledged_by: r.acknowledged_by.clone(),
        note: r.note.clone(),
        overdue: r.overdue,
    }
}

fn journal_to_proto(item: JournalItem, names: &UnitNames) -> v1::WatchEvent {
    let county_names = names.of([item.origin.as_str()]);
    v1::WatchEvent {
        cursor: item.cursor,
        kind: item.kind,
        id: item.id,
        origin: item.origin,
        at_ms: item.at_ms,
        title: item.title,
        severity: item.severity,
        level: item.level,
        scope: item.scope,
        county_names,
    }
}

type WatchStream = stream_end::Boxed<v1::WatchEvent>;

#[tonic::async_trait]
impl Alerts for AlertsService {
    /// IssueAlert: a new alert from this node.
    async fn issue_alert(
        &self,
        req: Request<v1::IssueAlertRequest>,
    ) -> Result<Response<v1::Alert>, Status> {
        let c = caller(&req)?;
        require_own(&c, self.state.unit(), "issue its alerts")?;
        let content = req
            .into_inner()
            .content
            .ok_or_else(|| Status::invalid_argument("content: required"))?;
        let command = comms::Command::IssueAlert {
            alert: content_from_proto(content)?,
            ack_within_s: self.state.ack_within.as_secs(),
        };
        self.write(&c, command).await
    }

    /// UpdateAlert: the issuer replaces fields.
    async fn update_alert(
        &self,
        req: Request<v1::UpdateAlertRequest>,
    ) -> Result<Response<v1::Alert>, Status> {
        let c = caller(&req)?;
        require_own(&c, self.state.unit(), "update its alerts")?;
        let r = req.into_inner();
        let changes = AlertChanges {
            headline: r.headline,
            description: r.description,
            instruction: r.instruction,
            event: r.event,
            urgency: r.urgency.map(|u| vocabulary("urgency", &u)).transpose()?,
            severity: r.severity.map(|u| vocabulary("severity", &u)).transpose()?,
            certainty: r
                .certainty
                .map(|u| vocabulary("certainty", &u))
                .transpose()?,
            expires_ms: r.expires_ms,
            affected: r.replace_affected.then_some(r.affected),
        };
        let id = r.id.trim().to_owned();
        self.write(&c, comms::Command::UpdateAlert { id, changes })
            .await
    }

    /// CancelAlert: the issuer cancels.
    async fn cancel_alert(
        &self,
        req: Request<v1::CancelAlertRequest>,
    ) -> Result<Response<v1::Alert>, Status> {
        let c = caller(&req)?;
        require_own(&c, self.state.unit(), "cancel its alerts")?;
        let r = req.into_inner();
        let command = comms::Command::CancelAlert {
            id: r.id.trim().to_owned(),
            reason: r.reason,
        };
        self.write(&c, command).await
    }

    /// AcknowledgeAlert: a recipient's staff acknowledge.
    async fn acknowledge_alert(
        &self,
        req: Request<v1::AcknowledgeAlertRequest>,
    ) -> Result<Response<v1::Alert>, Status> {
        let c = caller(&req)?;
        require_own(&c, self.state.unit(), "acknowledge alerts for it")?;
        let r = req.into_inner();
        let command = comms::Command::AcknowledgeAlert {
            id: r.id.trim().to_owned(),
            note: r.note,
        };
        self.write(&c, command).await
    }

    /// GetAlert: one alert, optionally with its CAP XML.
    async fn get_alert(
        &self,
        req: Request<v1::GetAlertRequest>,
    ) -> Result<Response<v1::Alert>, Status> {
        require_reader(&caller(&req)?, self.state.unit(), "alerts")?;
        let r = req.into_inner();
        self.alert(r.id.trim(), r.cap)
    }

    /// ListAlerts: alerts issued or received here, newest first.
    async fn list_alerts(
        &self,
        req: Request<v1::ListAlertsRequest>,
    ) -> Result<Response<v1::ListAlertsResponse>, Status> {
        require_reader(&caller(&req)?, self.state.unit(), "alerts")?;
        let all = req.into_inner().all;
        let store = self.state.store.as_ref();
        let names = unit_names(store)?;
        let alerts = read::alerts(store, self.state.unit(), now_ms(), all)?
            .iter()
            .map(|d| details_to_proto(d, &names))
            .collect();
        Ok(Response::new(v1::ListAlertsResponse { alerts }))
    }

    type WatchStream = WatchStream;

    /// Watch: the journal from a cursor on, then live.
    async fn watch(
        &self,
        req: Request<v1::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        require_reader(&caller(&req)?, self.state.unit(), "alerts")?;
        let r = req.into_inner();
        let store = self.state.store.clone();
        let newest = journal::last(store.as_ref())?;
        let mut after = if r.from_now { newest } else { r.after };
        if after > newest {
            return Err(Status::out_of_range(format!(
                "cursor {after} is beyond this node's journal (newest {newest}): was it given by another node?"
            )));
        }
        let mut notify = self.state.journal.clone();
        let (tx, rx) = mpsc::channel(64);
        tracing::info!(after, "watch started");
        tokio::spawn(async move {
            loop {
                notify.borrow_and_update();
                let items = match journal::read_after(store.as_ref(), after, WATCH_CHUNK) {
                    Ok(items) => items,
                    Err(e) => {
                        let _ = tx.send(Err(Status::from(e))).await;
                        return;
                    }
                };
                if items.is_empty() {
                    tokio::select! {
                        changed = notify.changed() => if changed.is_err() { return },
                        _ = tx.closed() => return,
                    }
                    continue;
                }
                // Read again for each chunk: a certificate may have named a county since.
                let names = match unit_names(store.as_ref()) {
                    Ok(names) => names,
                    Err(e) => {
                        let _ = tx.send(Err(Status::from(e))).await;
                        return;
                    }
                };
                for item in items {
                    after = item.cursor;
                    if tx.send(Ok(journal_to_proto(item, &names))).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(stream_end::until_stopped(
            ReceiverStream::new(rx),
            self.state.stop.clone(),
        )))
    }
}
