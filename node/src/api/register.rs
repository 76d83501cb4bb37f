//! The `Registry` service: a county's risk register over gRPC.

use std::sync::Arc;

use fenghuo_proto::v1::{self, registry_server::Registry};
use tonic::{Request, Response, Status};

use super::auth::{caller, require_leader, require_own, require_reader, Caller};
use super::convert::risk_to_proto;
use crate::domain::risk::Closure;
use crate::domain::Scores;
use crate::feed::Audience;
use crate::identity::DivisionCode;
use crate::register::{read, view, Command};
use crate::state::NodeState;
use crate::wire::{
    focus_from_proto, level_from_proto, measure_status_from_proto, status_from_proto,
};

/// Handlers of the `Registry` service.
#[derive(Debug, Clone)]
pub struct RegistryService {
    state: Arc<NodeState>,
}

impl RegistryService {
    /// Handlers over `state`.
    pub fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }

    /// Runs `command` for the caller and returns the risk as it now stands.
    async fn write(&self, c: Caller, command: Command) -> Result<Response<v1::Risk>, Status> {
        require_own(&c, self.state.unit(), "change its register")?;
        let store = self.state.store.as_ref();
        // The answer carries the changes from here on, not the whole history.
        let before = match command.risk_id() {
            Some(id) => read::revision(store, id)?,
            None => 0,
        };
        let written = self.state.writer.submit(c.author(), command).await?;
        tracing::info!(risk = %written.id, seq = written.seq, author = %c.author(), "register changed");
        let r = read::risk_since(store, &written.id, before)?;
        Ok(Response::new(risk_to_proto(&r)))
    }

    #[allow(clippy::result_large_err)]
    fn risk(&self, id: &str) -> Result<Response<v1::Risk>, Status> {
        let r = read::risk(self.state.store.as_ref(), id)?;
        Ok(Response::new(risk_to_proto(&r)))
    }
}

#[tonic::async_trait]
impl Registry for RegistryService {
    /// CreateRisk: identifies a new risk item.
    async fn create_risk(
        &self,
        req: Request<v1::CreateRiskRequest>,
    ) -> Result<Response<v1::Risk>, Status> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let command = Command::Create {
            title: r.title,
            description: r.description,
            focus: focus_from_proto(r.focus),
            source: r.source,
            behaviours: r.behaviours,
            department: r.department,
        };
        self.write(c, command).await
    }

    /// UpdateRisk: changes the descriptive fields that are set.
    async fn update_risk(
        &self,
        req: Request<v1::UpdateRiskRequest>,
    ) -> Result<Response<v1::Risk>, Status> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let command = Command::Update {
            id: r.id,
            title: r.title,
            description: r.description,
            focus: focus_from_proto(r.focus),
            source: r.source,
            behaviours: r.replace_behaviours.then_some(r.behaviours),
            add_behaviours: r.add_behaviours,
            remove_behaviours: r.remove_behaviours,
            department: r.department,
        };
        self.write(c, command).await
    }

    /// GradeRisk: grades with the node's standard; an override level needs a reason.
    async fn grade_risk(
        &self,
        req: Request<v1::GradeRiskRequest>,
    ) -> Result<Response<v1::Risk>, Status> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let scores = Scores {
            influence: r.influence,
            attention: r.attention,
            diffusion: r.diffusion,
        };
        let command = Command::Grade {
            id: r.id,
            scores,
            override_level: override_level(r.override_level)?,
            reason: r.reason,
        };
        self.write(c, command).await
    }

    /// AddNote: a dated situation note, with a re-grade when the three scores are given.
    async fn add_note(
        &self,
        req: Request<v1::AddNoteRequest>,
    ) -> Result<Response<v1::Risk>, Status> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let scores = match (r.influence, r.attention, r.diffusion) {
            (None, None, None) => None,
            (Some(influence), Some(attention), Some(diffusion)) => Some(Scores {
                influence,
                attention,
                diffusion,
            }),
            _ => {
                return Err(Status::invalid_argument(
                    "influence, attention, diffusion: give all three to re-grade, or none",
                ))
            }
        };
        let command = Command::Note {
            id: r.id,
            note: r.note,
            scores,
            override_level: override_level(r.override_level)?,
            reason: r.reason,
        };
        self.write(c, command).await
    }

    /// AddMeasure: adds a preventive measure.
    async fn add_measure(
        &self,
        req: Request<v1::AddMeasureRequest>,
    ) -> Result<Response<v1::Risk>, Status> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let command = Command::AddMeasure {
            id: r.id,
            action: r.action,
            owner: r.owner,
            due: r.due,
        };
        self.write(c, command).await
    }

    /// UpdateMeasure: changes a measure's status.
    async fn update_measure(
        &self,
        req: Request<v1::UpdateMeasureRequest>,
    ) -> Result<Response<v1::Risk>, Status> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let status = measure_status_from_proto(r.status).ok_or_else(|| {
            Status::invalid_argument(
                "status: required, one of planned, in-progress, done, cancelled",
            )
        })?;
        let command = Command::UpdateMeasure {
            id: r.id,
            measure_id: r.measure_id,
            status,
            note: r.note,
        };
        self.write(c, command).await
    }

    /// EditMeasure: changes a measure's action, owner or due date.
    async fn edit_measure(
        &self,
        req: Request<v1::EditMeasureRequest>,
    ) -> Result<Response<v1::Risk>, Status> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let command = Command::EditMeasure {
            id: r.id,
            measure_id: r.measure_id,
            action: r.action,
            owner: r.owner,
            due: r.due,
        };
        self.write(c, command).await
    }

    /// SetStatus: moves the risk along the mechanism.
    async fn set_status(
        &self,
        req: Request<v1::SetStatusRequest>,
    ) -> Result<Response<v1::Risk>, Status> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let status = status_from_proto(r.status).ok_or_else(|| {
            Status::invalid_argument(
                "status: required, one of identified, graded, measures-set, monitoring (resolving and ruling out are CloseRisk)",
            )
        })?;
        self.write(c, Command::SetStatus { id: r.id, status }).await
    }

    /// CloseRisk: resolves a risk with a summary, or rules it out (a false alarm) with a
    /// reason.
    async fn close_risk(
        &self,
        req: Request<v1::CloseRiskRequest>,
    ) -> Result<Response<v1::Risk>, Status> {
        let c = caller(&req)?;
        let state = &self.state;
        if state.sign_off.closures {
            require_leader(&c, state.store.as_ref(), &state.identity, "closures")?;
        }
        let r = req.into_inner();
        let closure = match status_from_proto(r.status) {
            Some(crate::domain::RiskStatus::Resolved) => Closure::Resolved,
            Some(crate::domain::RiskStatus::RuledOut) => Closure::RuledOut,
            _ => {
                return Err(Status::invalid_argument(
                    "status: RISK_STATUS_RESOLVED (with the summary) or RISK_STATUS_RULED_OUT (with the reason)",
                ))
            }
        };
        let command = Command::Close {
            id: r.id,
            closure,
            text: r.text,
        };
        self.write(c, command).await
    }

    /// ShareRisk: widens who the risk is shared with.
    async fn share_risk(
        &self,
        req: Request<v1::ShareRiskRequest>,
    ) -> Result<Response<v1::Risk>, Status> {
        let c = caller(&req)?;
        let r = req.into_inner();
        if !r.counties.is_empty() {
            if r.scope != 0 {
                return Err(Status::invalid_argument(
                    "scope: leave it unset when sharing with named counties",
                ));
            }
            let command = Command::ShareWith {
                id: r.id,
                counties: r.counties,
            };
            return self.write(c, command).await;
        }
        let scope = match Audience::from_proto(r.scope) {
            Some(s @ (Audience::Neighbours | Audience::Province)) => s,
            _ => {
                return Err(Status::invalid_argument(
                    "scope: share with neighbours or province, or name counties",
                ))
            }
        };
        self.write(c, Command::Share { id: r.id, scope }).await
    }

    /// GetRisk: one risk with its history.
    async fn get_risk(
        &self,
        req: Request<v1::GetRiskRequest>,
    ) -> Result<Response<v1::Risk>, Status> {
        require_reader(&caller(&req)?, self.state.unit(), "risk items")?;
        let id = req.into_inner().id;
        if view::parse_risk_id(&id).is_none() {
            return Err(Status::invalid_argument(format!(
                "id: {id:?} is not a risk id (e.g. {}-1)",
                self.state.unit()
            )));
        }
        self.risk(&id)
    }

    /// ListRisks: a filtered page of the register.
    async fn list_risks(
        &self,
        req: Request<v1::ListRisksRequest>,
    ) -> Result<Response<v1::ListRisksResponse>, Status> {
        require_reader(&caller(&req)?, self.state.unit(), "risk items")?;
        let r = req.into_inner();
        let cursor = (!r.cursor.is_empty()).then_some(r.cursor);
        if let Some(c) = &cursor {
            if view::parse_risk_id(c).is_none() {
                return Err(Status::invalid_argument(format!(
                    "cursor: {c:?} is not a cursor from a previous page"
                )));
            }
        }
        if r.limit as usize > read::MAX_LIMIT {
            return Err(Status::invalid_argument(format!(
                "limit: at most {}",
                read::MAX_LIMIT
            )));
        }
        let filter = read::Filter {
            level: level_from_proto(r.level),
            focus: focus_from_proto(r.focus),
            status: status_from_proto(r.status),
            text: (!r.text.trim().is_empty()).then(|| r.text.trim().to_owned()),
            origin: match r.origin.trim() {
                "" => Some(self.state.unit().to_owned()),
                "all" => None,
                code => Some(
                    DivisionCode::parse(code)
                        .map_err(|e| Status::invalid_argument(format!("origin: {e} (or \"all\")")))?
                        .to_string(),
                ),
            },
        };
        let page = read::list(
            self.state.store.as_ref(),
            &filter,
            r.limit as usize,
            cursor.as_deref(),
        )?;
        Ok(Response::new(v1::ListRisksResponse {
            risks: page.risks.iter().map(risk_to_proto).collect(),
            next_cursor: page.next_cursor.unwrap_or_default(),
        }))
    }

    /// GetGradingStandard: the standard this node grades with.
    async fn get_grading_standard(
        &self,
        req: Request<v1::GetGradingStandardRequest>,
    ) -> Result<Response<v1::GradingStandardInfo>, Status> {
        // Any certificate of the provincial CA: the province publishes the standard to every
        // node, and it says nothing about this county.
        caller(&req)?;
        let standard = &self.state.standard;
        Ok(Response::new(v1::GradingStandardInfo {
            version: standard.version.clone(),
            toml: standard.to_toml(),
            threshold_level_i: standard.thresholds.level_i,
            threshold_level_ii: standard.thresholds.level_ii,
            threshold_level_iii: standard.thresholds.level_iii,
            weight_influence: standard.weights.influence,
            weight_attention: standard.weights.attention,
            weight_diffusion: standard.weights.diffusion,
        }))
    }
}

/// The override level of a request: unset is none; a value this build does not know is
/// refused rather than read as none.
#[allow(clippy::result_large_err)]
fn override_level(v: i32) -> Result<Option<crate::domain::Level>, Status> {
    if v == 0 {
        return Ok(None);
    }
    level_from_proto(v)
        .map(Some)
        .ok_or_else(|| Status::invalid_argument("override_level: one of I, II, III, IV"))
}
