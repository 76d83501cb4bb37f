//! The `Overview` service: aggregated views over gRPC.

use std::sync::Arc;

use fenghuo_proto::v1::{self, overview_server::Overview};
use tonic::{Request, Response, Status};

use super::auth::{caller, require_reader};
use crate::domain::Level;
use crate::identity::DivisionCode;
use crate::overview::{self, day_text, Filter};
use crate::state::NodeState;
use crate::timespec::now_ms;
use crate::wire::{focus_from_proto, level_from_proto};

/// Days shown when the request gives no start.
const DEFAULT_DAYS: i64 = 30;
/// The longest range of days one answer covers.
const MAX_DAYS: i64 = 366;
const DAY_MS: i64 = 86_400_000;

/// Handlers of the `Overview` service.
#[derive(Debug, Clone)]
pub struct OverviewService {
    state: Arc<NodeState>,
}

impl OverviewService {
    /// Handlers over `state`.
    pub fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }
}

fn named(name: &str, count: u64) -> v1::NamedCount {
    v1::NamedCount {
        name: name.to_owned(),
        count,
    }
}

/// The overview as the API gives it.
pub fn overview_to_proto(o: &overview::Overview, filter: &Filter) -> v1::ProvinceOverview {
    let mut by_level: Vec<v1::NamedCount> = Level::ALL
        .iter()
        .zip(o.by_level)
        .map(|(l, n)| named(l.as_str(), n))
        .collect();
    by_level.push(named("ungraded", o.ungraded));
    v1::ProvinceOverview {
        by_level,
        by_focus: crate::domain::FocusPoint::ALL
            .iter()
            .map(|f| named(f.as_str(), o.by_focus.get(f).copied().unwrap_or(0)))
            .collect(),
        by_status: crate::domain::RiskStatus::ALL
            .iter()
            .map(|s| named(s.as_str(), o.by_status.get(s).copied().unwrap_or(0)))
            .collect(),
        counties: o
            .counties
            .iter()
            .map(|(c, r)| v1::CountyRow {
                county: c.clone(),
                level_i: r.levels[0],
                level_ii: r.levels[1],
                level_iii: r.levels[2],
                level_iv: r.levels[3],
                ungraded: r.ungraded,
                active: r.active(),
                resolved: r.resolved,
                worst: r.worst().map(|l| l.as_str().to_owned()).unwrap_or_default(),
            })
            .collect(),
        days: o
            .days
            .iter()
            .map(|(d, r)| v1::DayRow {
                day: day_text(*d),
                new: r.new,
                resolved: r.resolved,
            })
            .collect(),
        rises: o
            .rises
            .iter()
            .map(|r| v1::LevelRise {
                risk: r.id.clone(),
                county: r.origin.clone(),
                title: r.title.clone(),
                from: r.from.as_str().to_owned(),
                to: r.to.as_str().to_owned(),
                at_ms: r.at_ms,
            })
            .collect(),
        active: o.active(),
        from_ms: filter.from_ms,
        to_ms: filter.to_ms,
        county_names: Default::default(),
    }
}

/// Silent after this long without contact, when the request does not say.
const DEFAULT_SILENT_AFTER_S: i64 = 600;

#[tonic::async_trait]
impl Overview for OverviewService {
    /// GetLinked: risks of different counties sharing a source.
    async fn get_linked(
        &self,
        req: Request<v1::LinkedRequest>,
    ) -> Result<Response<v1::LinkedRisks>, Status> {
        require_reader(&caller(&req)?, self.state.unit(), "linked risks")?;
        let county = match req.into_inner().county.trim() {
            "" => None,
            c => Some(
                DivisionCode::county(c)
                    .map_err(|e| Status::invalid_argument(format!("county: {e}")))?
                    .to_string(),
            ),
        };
        let store = self.state.store.as_ref();
        let groups = crate::overview::linked::groups(store, county.as_deref())?;
        let mut out = Vec::with_capacity(groups.len());
        for g in groups {
            let mut counties: Vec<String> = g.risks.iter().map(|(c, _)| c.clone()).collect();
            counties.dedup();
            let mut risks = Vec::with_capacity(g.risks.len());
            for (county, id) in &g.risks {
                let r = crate::register::read::find(store, id)?;
                risks.push(v1::LinkedRisk {
                    id: id.clone(),
                    county: county.clone(),
                    title: r.as_ref().map(|r| r.title.clone()).unwrap_or_default(),
                    level: r
                        .as_ref()
                        .and_then(|r| r.level())
                        .map(|l| l.as_str().to_owned())
                        .unwrap_or_default(),
                    status: r
                        .as_ref()
                        .map(|r| r.status.as_str().to_owned())
                        .unwrap_or_default(),
                    source: r.map(|r| r.source).unwrap_or_default(),
                });
            }
            out.push(v1::LinkedGroup {
                source: g.source,
                counties,
                risks,
            });
        }
        let names = crate::sync::directory::unit_names(store)?;
        let county_names = names.of(out
            .iter()
            .flat_map(|g| g.counties.iter().map(String::as_str)));
        Ok(Response::new(v1::LinkedRisks {
            groups: out,
            county_names,
        }))
    }

    /// GetHealth: federation health per county, node-wide alarms and the node's workers.
    async fn get_health(
        &self,
        req: Request<v1::HealthRequest>,
    ) -> Result<Response<v1::FederationHealth>, Status> {
        require_reader(&caller(&req)?, self.state.unit(), "federation health")?;
        let r = req.into_inner();
        let silent_after_s = match r.silent_after_s {
            0 => DEFAULT_SILENT_AFTER_S,
            s if s < 0 => return Err(Status::invalid_argument("silent_after_s: must be positive")),
            s => s,
        };
        let counties = crate::sync::health::health(
            self.state.store.as_ref(),
            &self.state.sync.status,
            &self.state.sync.quarantine,
            self.state.unit().len() == 2,
            std::time::Duration::from_secs(silent_after_s as u64),
            now_ms(),
        )?;
        let tls = self.state.sync.tls.borrow().clone();
        let mut alarms = crate::sync::health::alarms(&tls, self.state.store.as_ref(), now_ms())?;
        let workers = self.state.workers.snapshot();
        alarms.extend(crate::sync::health::worker_alarms(&workers));
        let county_names = crate::sync::directory::unit_names(self.state.store.as_ref())?
            .of(counties.iter().map(|h| h.county.as_str()));
        Ok(Response::new(v1::FederationHealth {
            county_names,
            alarms,
            workers: workers
                .into_iter()
                .map(|w| v1::WorkerStatus {
                    state: w.state.as_str().to_owned(),
                    reason: w.state.reason().to_owned(),
                    name: w.name,
                    started_at_ms: w.started_at_ms,
                    stopped_at_ms: w.stopped_at_ms.unwrap_or_default(),
                })
                .collect(),
            counties: counties
                .into_iter()
                .map(|h| v1::CountyHealth {
                    county: h.county,
                    link: h.link.to_owned(),
                    last_contact_ms: h.last_contact_ms,
                    silent: h.silent,
                    behind: h
                        .behind
                        .into_iter()
                        .map(|(feed, behind)| v1::FeedLag { feed, behind })
                        .collect(),
                    refused: h.refused,
                    last_error: h.last_error,
                    last_error_ms: h.last_error_ms,
                    equivocations: h.equivocations,
                    certificate_expires_ms: h.certificate_expires_ms,
                    quarantined: h
                        .quarantined
                        .iter()
                        .map(crate::api::federation::quarantine_to_proto)
                        .collect(),
                })
                .collect(),
            silent_after_s,
        }))
    }

    /// GetOverview: the figures for a filter.
    async fn get_overview(
        &self,
        req: Request<v1::OverviewRequest>,
    ) -> Result<Response<v1::ProvinceOverview>, Status> {
        require_reader(&caller(&req)?, self.state.unit(), "overview")?;
        let r = req.into_inner();
        let county = match r.county.trim() {
            "" => None,
            c => Some(
                DivisionCode::county(c)
                    .map_err(|e| Status::invalid_argument(format!("county: {e}")))?
                    .to_string(),
            ),
        };
        let to_ms = if r.to_ms == 0 { now_ms() } else { r.to_ms };
        let from_ms = if r.from_ms == 0 {
            to_ms - (DEFAULT_DAYS - 1) * DAY_MS
        } else {
            r.from_ms
        };
        if from_ms > to_ms {
            return Err(Status::invalid_argument("from_ms: after to_ms"));
        }
        if to_ms - from_ms > MAX_DAYS * DAY_MS {
            return Err(Status::invalid_argument(format!(
                "from_ms: a range of at most {MAX_DAYS} days"
            )));
        }
        let filter = Filter {
            county,
            level: level_from_proto(r.level),
            focus: focus_from_proto(r.focus),
            from_ms,
            to_ms,
        };
        let store = self.state.store.clone();
        let f = filter.clone();
        let (o, names) = tokio::task::spawn_blocking(move || {
            Ok::<_, crate::store::StoreError>((
                overview::overview(store.as_ref(), &f)?,
                crate::sync::directory::unit_names(store.as_ref())?,
            ))
        })
        .await
        .map_err(|e| Status::internal(format!("overview task failed: {e}")))??;
        let mut reply = overview_to_proto(&o, &filter);
        reply.county_names = names.of(o
            .counties
            .keys()
            .chain(o.rises.iter().map(|r| &r.origin))
            .map(String::as_str));
        Ok(Response::new(reply))
    }
}
