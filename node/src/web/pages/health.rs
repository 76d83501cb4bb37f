//! Federation health (联邦状态) per county: link, last contact, entries behind per feed,
//! refusals and errors, equivocation evidence, certificate expiry; silent counties and
//! certificates about to expire stand out. Below, the node's workers (后台任务) and their
//! states; a failed one is an alarm.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::Extension;
use maud::{html, Markup};

use super::{filtered, when, PageError};
use crate::event::check::visible;
use crate::services::worker::{WorkerState, WorkerStatus};
use crate::sync::health::{self, CountyHealth};
use crate::web::filters::{Filters, RawFilters};
use crate::web::labels;
use crate::web::lang::Lang;
use crate::web::session::Staffer;
use crate::web::table::{Cell, Table};
use crate::web::App;

/// A county with no contact for this long is silent.
pub const SILENT_AFTER: Duration = Duration::from_secs(600);
/// A certificate expiring sooner than this stands out.
const EXPIRY_WARNING_MS: i64 = 30 * 86_400_000;

/// Health rows for `f` (or only `county`).
pub fn rows(app: &App, f: &Filters, county: Option<&str>) -> Result<Vec<CountyHealth>, PageError> {
    let now = crate::timespec::now_ms();
    let mut rows = health::health(
        app.node.store.as_ref(),
        &app.node.sync.status,
        &app.node.sync.quarantine,
        true,
        SILENT_AFTER,
        now,
    )?;
    rows.retain(|h| county.or(f.county.as_deref()).is_none_or(|c| c == h.county));
    Ok(rows)
}

/// The health table for `f` (or only `county`).
pub fn tables(app: &App, f: &Filters, county: Option<&str>) -> Result<Vec<Table>, PageError> {
    let names = crate::sync::directory::unit_names(app.node.store.as_ref())?;
    Ok(vec![table_of(&rows(app, f, county)?, &names)])
}

/// The health table of `rows`.
fn table_of(rows: &[CountyHealth], names: &crate::sync::directory::UnitNames) -> Table {
    let now = crate::timespec::now_ms();
    let lang = Lang::current();
    let mut t = Table::new(
        "health",
        lang.pick("联邦状态", "Federation health"),
        vec![
            "county_name",
            "county",
            "link",
            "last contact",
            "silent",
            "behind",
            "refused",
            "last error",
            "equivocations",
            "quarantined",
            "certificate expires",
        ],
    )
    .headed();
    for h in rows {
        let behind: u64 = h.behind.values().sum();
        let detail = h
            .behind
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(feed, n)| format!("{feed}: {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let expiring =
            h.certificate_expires_ms != 0 && h.certificate_expires_ms - now < EXPIRY_WARNING_MS;
        t.row(vec![
            Cell::text(names.name(&h.county).unwrap_or_default())
                .link(format!("/county/{}", h.county)),
            Cell::text(h.county.clone()).link(format!("/county/{}", h.county)),
            Cell::text(h.link).shown(labels::link_in(lang, h.link)),
            Cell::text(when(h.last_contact_ms)),
            Cell::text(if h.silent { "silent 失联" } else { "" })
                .shown(if h.silent {
                    lang.pick("失联", "silent")
                } else {
                    ""
                })
                .alarm(h.silent),
            Cell::text(if detail.is_empty() {
                behind.to_string()
            } else {
                format!("{behind} ({detail})")
            })
            .alarm(behind > 0),
            Cell::number(h.refused).alarm(h.refused > 0),
            Cell::text(if h.last_error.is_empty() {
                String::new()
            } else {
                format!("{} ({})", h.last_error, when(h.last_error_ms))
            }),
            Cell::number(h.equivocations).alarm(h.equivocations > 0),
            Cell::text(
                h.quarantined
                    .iter()
                    .map(|q| {
                        format!(
                            "隔离 {} at #{}: {} ({} refusals since {})",
                            q.record.feed,
                            q.record.seq,
                            q.record.reason,
                            q.refusals,
                            when(q.record.since_ms)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            )
            .shown(
                h.quarantined
                    .iter()
                    .map(|q| match lang {
                        Lang::Zh => format!(
                            "隔离 {} 于 #{}：{}（自 {} 起拒收 {} 次）",
                            q.record.feed,
                            q.record.seq,
                            q.record.reason,
                            when(q.record.since_ms),
                            q.refusals
                        ),
                        Lang::En => format!(
                            "quarantined {} at #{}: {} ({} refusals since {})",
                            q.record.feed,
                            q.record.seq,
                            q.record.reason,
                            q.refusals,
                            when(q.record.since_ms)
                        ),
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            )
            .alarm(!h.quarantined.is_empty()),
            Cell::text(when(h.certificate_expires_ms)).alarm(expiring),
        ]);
    }
    t
}

/// The health page's body.
pub fn body(app: &App, f: &Filters) -> Result<Markup, PageError> {
    let rows = rows(app, f, None)?;
    let silent = rows.iter().filter(|h| h.silent).count();
    let alarms: u64 = rows.iter().map(|h| h.equivocations).sum();
    let quarantined: usize = rows.iter().map(|h| h.quarantined.len()).sum();
    let tls = app.node.sync.tls.borrow().clone();
    let mut node_alarms = health::alarms(&tls, app.node.store.as_ref(), crate::timespec::now_ms())?;
    let workers = app.node.workers.snapshot();
    node_alarms.extend(health::worker_alarms(&workers));
    let query = f.query();
    let names = crate::sync::directory::unit_names(app.node.store.as_ref())?;
    let l = Lang::current();
    Ok(html! {
        div.cards {
            div.card { div { (l.pick("县(市、区)", "Counties")) } div.n #counties-total { (rows.len()) } }
            div.card { div { (l.pick("失联超过 10 分钟", "Silent > 10 min")) } div.n.alarm[silent > 0] #silent-total { (silent) } }
            div.card { div { (l.pick("篡改告警", "Equivocations")) } div.n.alarm[alarms > 0] { (alarms) } }
            div.card { div { (l.pick("隔离的数据流", "Quarantined feeds")) } div.n.alarm[quarantined > 0] #quarantined-total { (quarantined) } }
        }
        @for a in &node_alarms {
            p.alarm.node-alarm { (l.pick("告警：", "Alarm: ")) (a) }
        }
        @for h in &rows {
            @for q in &h.quarantined {
                p.alarm.quarantine { (l.pick("隔离：", "Quarantined: ")) (q.record.advice()) }
            }
        }
        (table_of(&rows, &names).html(&query))
        (workers_table(&workers))
    })
}

/// The node's workers: name, state, since when. Not an exported [`Table`]: it describes
/// this process, not the federation.
fn workers_table(workers: &[WorkerStatus]) -> Markup {
    let l = Lang::current();
    html! {
        section.workers #workers {
            h2 { (l.pick("后台任务", "Workers")) }
            table {
                thead { tr { th { (l.pick("名称", "Name")) } th { (l.pick("状态", "State")) } th { (l.pick("起始时间", "Since")) } } }
                tbody {
                    @for w in workers {
                        @let failed = matches!(w.state, WorkerState::Failed(_));
                        tr data-worker=(w.name) {
                            td { (w.name) }
                            td.alarm[failed] {
                                (labels::worker_state_in(l, &w.state))
                                @if failed { ": " (visible(w.state.reason())) }
                            }
                            td { (when(w.stopped_at_ms.unwrap_or(w.started_at_ms))) }
                        }
                    }
                }
            }
        }
    }
}

/// GET /health.
pub async fn page(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
    Query(raw): Query<RawFilters>,
) -> Result<Markup, PageError> {
    filtered(
        &app,
        &staffer,
        &raw,
        Lang::current().pick("联邦状态", "Federation health"),
        "/health",
        |f| body(&app, f),
    )
}
