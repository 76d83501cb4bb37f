//! The `Reports` service: major-issue reports (重大事项报告) over gRPC.

use std::sync::Arc;

use fenghuo_proto::v1::{self, reports_server::Reports};
use tonic::{Request, Response, Status};

use super::auth::{caller, require_own, require_reader};
use crate::comms::read::{self, ReportDetails};
use crate::comms::{self, ItemKind};
use crate::state::NodeState;
use crate::sync::directory::{unit_names, UnitNames};

/// Handlers of the `Reports` service.
#[derive(Debug, Clone)]
pub struct ReportsService {
    state: Arc<NodeState>,
}

impl ReportsService {
    /// Handlers over `state`.
    pub fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }

    #[allow(clippy::result_large_err)]
    fn report(&self, id: &str) -> Result<Response<v1::Report>, Status> {
        comms::parse_id(id, ItemKind::Report)?;
        let store = self.state.store.as_ref();
        let record = read::find_report(store, id)?
            .ok_or_else(|| Status::not_found(format!("no report {id} has reached this node")))?;
        let details = read::report(store, &record)?;
        Ok(Response::new(details_to_proto(
            &details,
            &unit_names(store)?,
        )))
    }
}

/// A report's read model as the API gives it, with its origin's name.
fn details_to_proto(d: &ReportDetails, names: &UnitNames) -> v1::Report {
    let r = &d.record;
    let ack = d.acknowledged.as_ref();
    v1::Report {
        id: r.id.clone(),
        origin: r.origin.clone(),
        risk: r.risk.clone().unwrap_or_default(),
        level: r.level.map(|l| l.as_str().to_owned()).unwrap_or_default(),
        summary: r.summary.clone(),
        automatic: r.automatic,
        filed_at_ms: r.filed_at_ms,
        filed_by: r.filed_by.clone(),
        acknowledged_at_ms: ack.map_or(0, |a| a.at_ms),
        acknowledged_by: ack.map(|a| a.by.clone()).unwrap_or_default(),
        note: ack.map(|a| a.note.clone()).unwrap_or_default(),
        disposal: r.disposal.clone().unwrap_or_default(),
        county_names: names.of([r.origin.as_str()]),
    }
}

#[tonic::async_trait]
impl Reports for ReportsService {
    /// FileReport: a county's staff report by hand.
    async fn file_report(
        &self,
        req: Request<v1::FileReportRequest>,
    ) -> Result<Response<v1::Report>, Status> {
        let c = caller(&req)?;
        require_own(&c, self.state.unit(), "file its reports")?;
        let state = &self.state;
        if state.sign_off.reports {
            super::auth::require_leader(&c, state.store.as_ref(), &state.identity, "reports")?;
        }
        let r = req.into_inner();
        let command = comms::Command::FileReport {
            risk: Some(r.risk.trim().to_owned()).filter(|r| !r.is_empty()),
            summary: r.summary,
        };
        let written = self.state.writer.submit(c.author(), command).await?;
        tracing::info!(report = %written.id, author = %c.author(), "report filed");
        self.report(&written.id)
    }

    /// ListReports: newest first.
    async fn list_reports(
        &self,
        req: Request<v1::ListReportsRequest>,
    ) -> Result<Response<v1::ListReportsResponse>, Status> {
        require_reader(&caller(&req)?, self.state.unit(), "reports")?;
        let awaiting = req.into_inner().awaiting;
        let store = self.state.store.as_ref();
        let names = unit_names(store)?;
        let reports = read::reports(store, awaiting)?
            .iter()
            .map(|d| details_to_proto(d, &names))
            .collect();
        Ok(Response::new(v1::ListReportsResponse { reports }))
    }

    /// AcknowledgeReport: provincial staff at the gateway.
    async fn acknowledge_report(
        &self,
        req: Request<v1::AcknowledgeReportRequest>,
    ) -> Result<Response<v1::Report>, Status> {
        let c = caller(&req)?;
        require_own(&c, self.state.unit(), "acknowledge reports")?;
        let r = req.into_inner();
        let id = r.id.trim().to_owned();
        let command = comms::Command::AcknowledgeReport {
            id: id.clone(),
            note: r.note,
        };
        self.state.writer.submit(c.author(), command).await?;
        tracing::info!(report = %id, author = %c.author(), "report acknowledged");
        self.report(&id)
    }
}
