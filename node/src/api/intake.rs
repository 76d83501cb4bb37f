//! The `Intake` service: monitoring systems submit observations (one, or a stream) with an
//! intake certificate; the county's own staff and node triage the items.

use std::sync::Arc;

use fenghuo_proto::v1::{self, intake_server::Intake};
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::auth::{caller, require_own, Caller};
use crate::domain::FocusPoint;
use crate::event::IntakeCounts;
use crate::identity::Identity;
use crate::intake::store::{self as items, Triage, TriageError};
use crate::intake::{Engagement, IntakeError, Item, Observation, Recorded, Suggestion};
use crate::services::intake_desk::{
    BatchCounts, DeskError, IntakeDesk, Outcome, Promotion, OPEN_COUNT_CAP,
};
use crate::state::NodeState;

/// Observations a stream records per commit.
const STREAM_BATCH: usize = 500;
/// The longest an observation of a stream waits for its batch to fill.
const FLUSH_AFTER: std::time::Duration = std::time::Duration::from_millis(200);
/// Refusals a stream's summary names.
const MAX_REFUSALS_NAMED: usize = 20;
/// The system name of observations the county's own staff submit without one.
pub const IMPORT_SYSTEM: &str = "import";

/// Handlers of the `Intake` service.
#[derive(Debug, Clone)]
pub struct IntakeService {
    state: Arc<NodeState>,
}

impl IntakeService {
    /// Handlers over `state`.
    pub fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }

    #[allow(clippy::result_large_err)]
    fn desk(&self) -> Result<&Arc<IntakeDesk>, Status> {
        self.state.intake.as_ref().ok_or_else(|| {
            Status::failed_precondition(
                "intake lives at county nodes; point --node at the county's node",
            )
        })
    }

    /// The system name observations of `c` carry: an intake certificate's own (for this
    /// county only), or for the county's staff and node the one they give.
    #[allow(clippy::result_large_err)]
    fn submitter(&self, c: &Caller, given: &str) -> Result<String, Status> {
        let unit = self.state.unit();
        match &c.identity {
            Identity::Intake { county, system } if county.as_str() == unit => {
                if !given.is_empty() && given != system {
                    return Err(Status::permission_denied(format!(
                        "your certificate names system {system:?}; observations of {given:?} need that system's certificate"
                    )));
                }
                Ok(system.clone())
            }
            Identity::Intake { county, .. } => Err(Status::permission_denied(format!(
                "this intake certificate feeds county {county}; this node is {unit}'s"
            ))),
            _ => {
                require_own(c, unit, "submit observations")?;
                Ok(if given.is_empty() {
                    IMPORT_SYSTEM.to_owned()
                } else {
                    given.to_owned()
                })
            }
        }
    }

    /// Records `batch` off the async threads.
    async fn record(
        &self,
        batch: Vec<Observation>,
    ) -> Result<Vec<Result<Recorded, IntakeError>>, Status> {
        let desk = self.desk()?.clone();
        let now = crate::timespec::now_ms();
        tokio::task::spawn_blocking(move || desk.record(batch, now))
            .await
            .map_err(|e| Status::internal(format!("recording failed: {e}")))?
            .map_err(Status::from)
    }
}

fn observation(o: v1::Observation, system: String) -> Observation {
    let e = o.engagement.unwrap_or_default();
    Observation {
        url: o.url,
        platform: o.platform,
        account: o.account,
        text: o.text,
        captured_at_ms: o.captured_at_ms,
        engagement: Engagement {
            views: e.views,
            reposts: e.reposts,
            comments: e.comments,
            likes: e.likes,
        },
        keywords: o.keywords,
        system,
        system_id: o.system_id,
    }
}

/// The recorded kind as the wire says it.
pub fn recorded_name(r: Recorded) -> &'static str {
    match r {
        Recorded::New(_) => "new",
        Recorded::Sighting(_) => "sighting",
        Recorded::Repeat(_) => "repeat",
    }
}

/// An item on the wire; `suggestion` and `incident_items` only for GetItem.
pub fn item_to_proto(
    i: &Item,
    suggestion: Option<&Suggestion>,
    incident_items: Vec<u64>,
) -> v1::IntakeItem {
    let (decided_by, decided_at_ms, dismiss_reason) = match &i.triage {
        Triage::Open => (String::new(), 0, String::new()),
        Triage::Promoted { by, at_ms, .. } | Triage::Attached { by, at_ms, .. } => {
            (by.clone(), *at_ms, String::new())
        }
        Triage::Dismissed { reason, by, at_ms } => (by.clone(), *at_ms, reason.clone()),
    };
    v1::IntakeItem {
        id: i.id,
        url: i.url.clone(),
        platform: i.platform.clone(),
        account: i.account.clone(),
        text: i.text.clone(),
        incident: i.incident.clone(),
        first_seen_ms: i.first_seen_ms,
        last_seen_ms: i.last_seen_ms,
        sightings: i.sightings,
        engagement: Some(v1::Engagement {
            views: i.engagement.views,
            reposts: i.engagement.reposts,
            comments: i.engagement.comments,
            likes: i.engagement.likes,
        }),
        engagement_at_ms: i.engagement_at_ms,
        keywords: i.keywords.clone(),
        system: i.system.clone(),
        system_id: i.system_id.clone(),
        flags: i
            .flags
            .iter()
            .map(|f| v1::WatchFlag {
                pattern: f.pattern.clone(),
                focus: f.focus.as_str().to_owned(),
            })
            .collect(),
        state: i.triage.as_str().to_owned(),
        risk_id: i.triage.risk().unwrap_or_default().to_owned(),
        decided_by,
        decided_at_ms,
        dismiss_reason,
        suggestion: suggestion.map(|s| v1::Suggestion {
            title: s.title.clone(),
            description: s.description.clone(),
            source: s.source.clone(),
            focus: s.focus.map(|f| f.as_str().to_owned()).unwrap_or_default(),
            behaviours: s.behaviours.clone(),
            attention: s.attention,
            diffusion: s.diffusion,
        }),
        incident_items,
    }
}

/// A county's figures on the wire.
pub fn counts_to_proto(county: &str, c: &IntakeCounts) -> v1::IntakeRates {
    v1::IntakeRates {
        county: county.to_owned(),
        from_ms: c.from_ms,
        to_ms: c.to_ms,
        risks: c.risks,
        risks_from_intake: c.risks_from_intake,
        collection_rate_permille: c.collection_permille().unwrap_or(0),
        contested: c.contested,
        found_first: c.found_first,
        discovery_rate_permille: c.discovery_permille().unwrap_or(0),
        discovery_lead_median_ms: c.lead_median_ms,
        promoted: c.promoted,
        attached: c.attached,
        dismissed: c.dismissed,
        triage_median_ms: c.triage_median_ms,
        open: c.open,
    }
}

fn triage_reply(o: Outcome) -> v1::TriageReply {
    let (propose_attention, propose_diffusion) = o.propose.unwrap_or((0, 0));
    v1::TriageReply {
        item: Some(item_to_proto(&o.item, None, Vec::new())),
        risk_id: o.risk,
        propose_attention,
        propose_diffusion,
    }
}

impl From<DeskError> for Status {
    fn from(e: DeskError) -> Self {
        match e {
            DeskError::Triage(TriageError::NoItem(_)) => Status::not_found(e.to_string()),
            DeskError::Triage(TriageError::Decided { .. }) => {
                Status::failed_precondition(e.to_string())
            }
            DeskError::Triage(TriageError::NoReason)
            | DeskError::NoFocus(_)
            | DeskError::Score(_)
            | DeskError::Invalid(_) => Status::invalid_argument(e.to_string()),
            DeskError::NotOurs { .. } => Status::failed_precondition(e.to_string()),
            DeskError::Triage(TriageError::Store(s)) | DeskError::Store(s) => s.into(),
            DeskError::Write(w) => w.into(),
            DeskError::Register(r) => r.into(),
            DeskError::Poisoned => Status::unavailable(e.to_string()),
        }
    }
}

/// A focus point given as its CLI name or Chinese label; empty is none.
#[allow(clippy::result_large_err)]
pub fn focus_given(text: &str) -> Result<Option<FocusPoint>, Status> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.trim().parse::<FocusPoint>().map(Some).map_err(|_| {
        Status::invalid_argument(format!(
            "focus {text:?} is not a focus point: use one of {}",
            FocusPoint::ALL.map(|f| f.as_str()).join(", ")
        ))
    })
}

fn score_given(v: u32) -> Option<u32> {
    (v != 0).then_some(v)
}

#[tonic::async_trait]
impl Intake for IntakeService {
    /// Submit: records one observation.
    async fn submit(
        &self,
        req: Request<v1::Observation>,
    ) -> Result<Response<v1::SubmitReply>, Status> {
        let c = caller(&req)?;
        let o = req.into_inner();
        let system = self.submitter(&c, &o.system)?;
        let result = self
            .record(vec![observation(o, system)])
            .await?
            .pop()
            .ok_or_else(|| Status::internal("recording returned nothing"))?;
        match result {
            Ok(r) => Ok(Response::new(v1::SubmitReply {
                item_id: r.id(),
                recorded: recorded_name(r).to_owned(),
            })),
            Err(IntakeError::Invalid(e)) => Err(Status::invalid_argument(e.to_string())),
            Err(IntakeError::Store(e)) => Err(e.into()),
        }
    }

    /// SubmitStream: records a stream, one commit per batch; refusals are counted.
    async fn submit_stream(
        &self,
        req: Request<Streaming<v1::Observation>>,
    ) -> Result<Response<v1::SubmitSummary>, Status> {
        let c = caller(&req)?;
        let system = self.submitter(&c, "")?;
        let mut stream = req.into_inner();
        let mut summary = v1::SubmitSummary::default();
        let mut counts = BatchCounts::default();
        let mut batch = Vec::with_capacity(STREAM_BATCH);
        let mut ids = Vec::with_capacity(STREAM_BATCH);
        // A batch is recorded when full, when the stream ends, or FLUSH_AFTER after its first
        // observation: a system that sends a few a minute on a long-lived stream sees them
        // on the triage list at once, not after 500 more.
        let mut flush_at: Option<tokio::time::Instant> = None;
        loop {
            let next = match flush_at {
                Some(at) => tokio::time::timeout_at(at, stream.next()).await.ok(),
                None => Some(stream.next().await),
            };
            let (done, flush) = match next {
                None => (false, true),
                Some(Some(Ok(o))) => {
                    if !o.system.is_empty() && o.system != system {
                        // Checked once per observation, as Submit does.
                        self.submitter(&c, &o.system)?;
                    }
                    let own = if o.system.is_empty() {
                        system.clone()
                    } else {
                        o.system.clone()
                    };
                    summary.received += 1;
                    ids.push((summary.received, o.system_id.clone()));
                    batch.push(observation(o, own));
                    if flush_at.is_none() {
                        flush_at = Some(tokio::time::Instant::now() + FLUSH_AFTER);
                    }
                    (false, batch.len() >= STREAM_BATCH)
                }
                Some(Some(Err(e))) => return Err(e),
                Some(None) => (true, true),
            };
            if flush && !batch.is_empty() {
                flush_at = None;
                let results = self.record(std::mem::take(&mut batch)).await?;
                for (r, (n, id)) in results.iter().zip(ids.drain(..)) {
                    counts.add(r);
                    if let Err(e) = r {
                        if summary.refusals.len() < MAX_REFUSALS_NAMED {
                            summary.refusals.push(format!("#{n} {id}: {e}"));
                        }
                    }
                }
            }
            if done {
                break;
            }
        }
        summary.new_items = counts.new_items;
        summary.sightings = counts.sightings;
        summary.repeats = counts.repeats;
        summary.refused = counts.refused;
        tracing::info!(
            received = summary.received,
            new = counts.new_items,
            refused = counts.refused,
            %system,
            "observations recorded"
        );
        Ok(Response::new(summary))
    }

    /// ListItems: open items (flagged first) or all, newest first.
    async fn list_items(
        &self,
        req: Request<v1::ListItemsRequest>,
    ) -> Result<Response<v1::ListItemsResponse>, Status> {
        let c = caller(&req)?;
        require_own(&c, self.state.unit(), "read its intake")?;
        self.desk()?;
        let r = req.into_inner();
        let store = self.state.store.as_ref();
        let limit = match r.limit {
            0 => 50,
            n => n.min(1000) as usize,
        };
        let offset = r.offset as usize;
        let list = if !r.incident.is_empty() {
            let mut out = Vec::new();
            for id in items::incident_items(store, &r.incident)?
                .into_iter()
                .rev()
                .skip(offset)
                .take(limit)
            {
                out.extend(items::item(store, id)?);
            }
            out
        } else {
            match r.state.as_str() {
                "" | "open" => items::open_items(store, offset, limit)?,
                "all" => items::newest(store, offset + limit)?
                    .into_iter()
                    .skip(offset)
                    .collect(),
                other => {
                    return Err(Status::invalid_argument(format!(
                        "state {other:?}: use open or all"
                    )))
                }
            }
        };
        let (open, flagged) = items::open_counts(store, OPEN_COUNT_CAP)?;
        Ok(Response::new(v1::ListItemsResponse {
            items: list
                .iter()
                .map(|i| item_to_proto(i, None, Vec::new()))
                .collect(),
            open,
            flagged,
        }))
    }

    /// GetItem: one item with its suggestion and its incident's other items.
    async fn get_item(
        &self,
        req: Request<v1::GetItemRequest>,
    ) -> Result<Response<v1::IntakeItem>, Status> {
        let c = caller(&req)?;
        require_own(&c, self.state.unit(), "read its intake")?;
        let desk = self.desk()?;
        let id = req.into_inner().id;
        let store = self.state.store.as_ref();
        let item = items::item(store, id)?
            .ok_or_else(|| Status::not_found(TriageError::NoItem(id).to_string()))?;
        let suggestion = desk.suggestion(&item, &self.state.standard);
        let others: Vec<u64> = items::incident_items(store, &item.incident)?
            .into_iter()
            .filter(|o| *o != id)
            .rev()
            .take(50)
            .collect();
        let open = item.triage.is_open();
        Ok(Response::new(item_to_proto(
            &item,
            open.then_some(&suggestion),
            others,
        )))
    }

    /// Promote: a new risk from an open item.
    async fn promote(
        &self,
        req: Request<v1::PromoteRequest>,
    ) -> Result<Response<v1::TriageReply>, Status> {
        let c = caller(&req)?;
        require_own(&c, self.state.unit(), "triage its intake")?;
        let desk = self.desk()?;
        let r = req.into_inner();
        let p = Promotion {
            title: r.title,
            description: r.description,
            focus: focus_given(&r.focus)?,
            behaviours: (r.replace_behaviours || !r.behaviours.is_empty()).then_some(r.behaviours),
            department: r.department,
            influence: score_given(r.influence),
            attention: score_given(r.attention),
            diffusion: score_given(r.diffusion),
        };
        let o = desk
            .promote(
                &self.state.writer,
                &self.state.standard,
                &c.author(),
                r.id,
                p,
                crate::timespec::now_ms(),
            )
            .await?;
        Ok(Response::new(triage_reply(o)))
    }

    /// Attach: an open item joins a risk's history.
    async fn attach(
        &self,
        req: Request<v1::AttachRequest>,
    ) -> Result<Response<v1::TriageReply>, Status> {
        let c = caller(&req)?;
        let unit = self.state.unit().to_owned();
        require_own(&c, &unit, "triage its intake")?;
        let desk = self.desk()?;
        let r = req.into_inner();
        let o = desk
            .attach(
                &self.state.writer,
                &self.state.standard,
                &unit,
                &c.author(),
                r.id,
                &r.risk_id,
                &r.note,
                crate::timespec::now_ms(),
            )
            .await?;
        Ok(Response::new(triage_reply(o)))
    }

    /// Dismiss: an open item is not a risk.
    async fn dismiss(
        &self,
        req: Request<v1::DismissRequest>,
    ) -> Result<Response<v1::TriageReply>, Status> {
        let c = caller(&req)?;
        require_own(&c, self.state.unit(), "triage its intake")?;
        let desk = self.desk()?;
        let r = req.into_inner();
        let o = desk.dismiss(&c.author(), r.id, &r.reason, crate::timespec::now_ms())?;
        Ok(Response::new(triage_reply(o)))
    }

    /// ProvinceRates: every county's published figures (the gateway; provincial staff).
    async fn province_rates(
        &self,
        req: Request<v1::ProvinceRatesRequest>,
    ) -> Result<Response<v1::ProvinceRatesResponse>, Status> {
        let c = caller(&req)?;
        super::auth::require_gateway_staff(
            &c,
            &self.state.identity,
            "every county's intake figures",
        )?;
        let store = self.state.store.as_ref();
        let names = crate::sync::directory::unit_names(store)?;
        let counties = crate::intake::counts::all(store)?
            .into_iter()
            .map(|p| v1::CountyRates {
                published_at_ms: p.at_ms,
                county_name: names.name(&p.county).unwrap_or_default().to_owned(),
                rates: Some(counts_to_proto(&p.county, &p.counts)),
            })
            .collect();
        Ok(Response::new(v1::ProvinceRatesResponse { counties }))
    }

    /// Rates: over the last `days` days.
    async fn rates(
        &self,
        req: Request<v1::RatesRequest>,
    ) -> Result<Response<v1::IntakeRates>, Status> {
        let c = caller(&req)?;
        require_own(&c, self.state.unit(), "read its intake rates")?;
        let desk = self.desk()?.clone();
        let days = match req.into_inner().days {
            0 => 30,
            d => d.min(3650),
        };
        let county = self.state.unit().to_owned();
        let now = crate::timespec::now_ms();
        let r = tokio::task::spawn_blocking(move || desk.rates(&county, days, now))
            .await
            .map_err(|e| Status::internal(format!("rates failed: {e}")))??;
        Ok(Response::new(counts_to_proto(&r.county, &r.counts)))
    }
}
