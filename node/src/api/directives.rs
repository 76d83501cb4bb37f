//! The `Directives` service: directives (工作指令) and consultations (会商) over gRPC.

use std::sync::Arc;

use fenghuo_proto::v1::{self, directives_server::Directives};
use tonic::{Request, Response, Status};

use super::auth::{caller, require_own, require_reader};
use crate::comms::record::DirectiveRecord;
use crate::comms::{self, view};
use crate::domain::directive::{DirectiveKind, ResponseStatus};
use crate::state::NodeState;
use crate::store::{Batch, Store, StoreError};
use crate::sync::directory;
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
        let record = view::directive(store, &Batch::new(), id)?
            .ok_or_else(|| Status::not_found(format!("no directive {id} has reached this node")))?;
        Ok(Response::new(directive_to_proto(
            store,
            &record,
            self.state.unit(),
            now_ms(),
        )?))
    }
}

/// A directive with a response line per target county (at a county: its own only), overdue
/// flags computed at `now`.
pub fn directive_to_proto(
    store: &dyn Store,
    d: &DirectiveRecord,
    unit: &str,
    now: i64,
) -> Result<v1::Directive, StoreError> {
    let responses = view::responses(store, &Batch::new(), &d.id)?;
    let mut counties: std::collections::BTreeSet<String> = if unit.len() == 6 {
        std::iter::once(unit.to_owned()).collect()
    } else if d.targets.is_empty() {
        directory::known_counties(store)?
            .into_iter()
            .filter(|c| c.starts_with(unit))
            .collect()
    } else {
        d.targets.iter().cloned().collect()
    };
    if unit.len() == 2 {
        counties.extend(responses.keys().cloned());
    }
    let lines = counties
        .into_iter()
        .map(|county| {
            let r = responses.get(&county);
            let status = r.and_then(|r| r.status);
            v1::DirectiveResponse {
                status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
                text: r.map(|r| r.text.clone()).unwrap_or_default(),
                responded_at_ms: r.and_then(|r| r.responded_at_ms).unwrap_or(0),
                responded_by: r.map(|r| r.by.clone()).unwrap_or_default(),
                overdue: now > d.deadline_ms && !status.is_some_and(|s| d.kind.satisfied_by(s)),
                county,
            }
        })
        .collect();
    Ok(v1::Directive {
        id: d.id.clone(),
        kind: d.kind.as_str().to_owned(),
        text: d.text.clone(),
        deadline_ms: d.deadline_ms,
        targets: d.targets.clone(),
        issued_at_ms: d.issued_at_ms,
        issued_by: d.issued_by.clone(),
        responses: lines,
    })
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
        let unit = self.state.unit();
        let now = now_ms();
        let mut records: Vec<DirectiveRecord> = view::directives(store)?
            .into_iter()
            .filter(|d| kind.is_none_or(|k| k == d.kind))
            .filter(|d| unit.len() == 2 || d.targets(unit))
            .collect();
        records.sort_by_key(|d| std::cmp::Reverse(d.issued_at_ms));
        let directives = records
            .iter()
            .map(|d| directive_to_proto(store, d, unit, now))
            .collect::<Result<_, _>>()?;
        Ok(Response::new(v1::ListDirectivesResponse { directives }))
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
