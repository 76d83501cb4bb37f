//! The `Directives` service: directives (工作指令) and consultations (会商) over gRPC.

use std::sync::Arc;

use fenghuo_proto::v1::{self, directives_server::Directives};
use tonic::{Request, Response, Status};

use super::auth::{caller, require_own, require_reader};
use crate::comms;
use crate::comms::read::{self, DirectiveDetails, ResponseLine};
use crate::domain::directive::{DirectiveKind, ResponseStatus};
use crate::domain::item::ItemKind;
use crate::state::NodeState;
use crate::sync::directory::{unit_names, UnitNames};
use crate::timespec::now_ms;

/// Handlers of the `Directives` service.
#[derive(Debug, Clone)]
pub struct DirectivesService {
    state: Arc<NodeState>,
}

impl DirectivesService {
    /// Handlers over `state`.
    pub fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }

    #[allow(clippy::result_large_err)]
    fn directive(&self, id: &str) -> Result<Response<v1::Directive>, Status> {
        let store = self.state.store.as_ref();
        let record = read::find_directive(store, id)?
            .ok_or_else(|| Status::not_found(format!("no directive {id} has reached this node")))?;
        let unit = self.state.unit();
        // A county sees what is addressed to it, as its list does.
        if unit.len() == 6 && !record.targets(unit) {
            return Err(Status::not_found(format!(
                "{id} is not addressed to {unit}"
            )));
        }
        let details = read::directive(store, &record, unit, now_ms())?;
        Ok(Response::new(details_to_proto(
            &details,
            &unit_names(store)?,
        )))
    }
}

/// A directive's read model as the API gives it, with the names of the counties it names.
fn details_to_proto(d: &DirectiveDetails, names: &UnitNames) -> v1::Directive {
    let r = &d.record;
    let county_names = names.of(r
        .targets
        .iter()
        .chain(d.responses.iter().map(|l| &l.county))
        .map(String::as_str));
    v1::Directive {
        id: r.id.clone(),
        kind: r.kind.as_str().to_owned(),
        text: r.text.clone(),
        deadline_ms: r.deadline_ms,
        targets: r.targets.clone(),
        issued_at_ms: r.issued_at_ms,
        issued_by: r.issued_by.clone(),
        responses: d.responses.iter().map(response_to_proto).collect(),
        county_names,
    }
}

fn response_to_proto(l: &ResponseLine) -> v1::DirectiveResponse {
    v1::DirectiveResponse {
        county: l.county.clone(),
        status: l.status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        text: l.text.clone(),
        responded_at_ms: l.responded_at_ms.unwrap_or(0),
        responded_by: l.responded_by.clone(),
        overdue: l.overdue,
    }
}

#[tonic::async_trait]
impl Directives for DirectivesService {
    /// IssueDirective: provincial staff at the gateway.
    async fn issue_directive(
        &self,
        req: Request<v1::IssueDirectiveRequest>,
    ) -> Result<Response<v1::Directive>, Status> {
        let c = caller(&req)?;
        require_own(&c, self.state.unit(), "issue directives")?;
        let r = req.into_inner();
        let kind: DirectiveKind = r
            .kind
            .trim()
            .parse()
            .map_err(|e: String| Status::invalid_argument(format!("kind: {e}")))?;
        let command = comms::Command::IssueDirective {
            kind,
            text: r.text,
            deadline_ms: r.deadline_ms,
            targets: r.targets.iter().map(|t| t.trim().to_owned()).collect(),
        };
        let written = self.state.writer.submit(c.author(), command).await?;
        tracing::info!(directive = %written.id, author = %c.author(), "{kind} issued");
        self.directive(&written.id)
    }

    /// ListDirectives: newest first (at a county, those addressed to it).
    async fn list_directives(
        &self,
        req: Request<v1::ListDirectivesRequest>,
    ) -> Result<Response<v1::ListDirectivesResponse>, Status> {
        require_reader(&caller(&req)?, self.state.unit(), "directives")?;
        let kind = req.into_inner().kind;
        let kind: Option<DirectiveKind> = match kind.trim() {
            "" => None,
            k => Some(
                k.parse()
                    .map_err(|e: String| Status::invalid_argument(format!("kind: {e}")))?,
            ),
        };
        let store = self.state.store.as_ref();
        let names = unit_names(store)?;
        let directives = read::directives(store, self.state.unit(), kind, now_ms())?
            .iter()
            .map(|d| details_to_proto(d, &names))
            .collect();
        Ok(Response::new(v1::ListDirectivesResponse { directives }))
    }

    /// GetDirective: one directive or consultation with each county's answer.
    async fn get_directive(
        &self,
        req: Request<v1::GetDirectiveRequest>,
    ) -> Result<Response<v1::Directive>, Status> {
        require_reader(&caller(&req)?, self.state.unit(), "directives")?;
        let id = req.into_inner().id.trim().to_owned();
        if crate::domain::item::ItemId::parse(&id)
            .is_none_or(|i| !matches!(i.kind, ItemKind::Directive | ItemKind::Consultation))
        {
            return Err(Status::invalid_argument(format!(
                "id: {id:?} is not a directive or consultation id (e.g. 51-d1, 51-c1)"
            )));
        }
        self.directive(&id)
    }

    /// RespondDirective: a target county's staff.
    async fn respond_directive(
        &self,
        req: Request<v1::RespondDirectiveRequest>,
    ) -> Result<Response<v1::Directive>, Status> {
        let c = caller(&req)?;
        require_own(&c, self.state.unit(), "respond for it")?;
        let r = req.into_inner();
        let status: ResponseStatus = r
            .status
            .trim()
            .parse()
            .map_err(|e: String| Status::invalid_argument(format!("status: {e}")))?;
        let id = r.id.trim().to_owned();
        let command = comms::Command::RespondDirective {
            id: id.clone(),
            status,
            text: r.text,
        };
        self.state.writer.submit(c.author(), command).await?;
        tracing::info!(directive = %id, %status, author = %c.author(), "directive answered");
        self.directive(&id)
    }
}
