//! A county's inbox (收件箱): alerts addressed to it, to acknowledge with a note; directives
//! and consultations, to answer; the major-issue reports it filed and whether the province
//! acknowledged them; risks neighbours shared; the partners' outcomes of its disposal
//! requests. The header counts what waits here ([`unread`]): alerts not acknowledged,
//! directives and consultations not answered, and shared risks and outcomes new since the
//! person last opened the inbox.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;

use super::officer::{self, may_write, require_county, require_write};
use super::register_index::{Query as IndexQuery, Sort, Whose};
use super::PageError;
use crate::comms::read::{self, AlertDetails, DirectiveDetails, ReportDetails};
use crate::comms::{self};
use crate::disposal::read::{self as disposal_read, RequestDetails};
use crate::domain::directive::{DirectiveKind, ResponseStatus};
use crate::store::{Batch, Store};
use crate::timespec;
use crate::web::labels;
use crate::web::lang::Lang;
use crate::web::layout::{self, Unread};
use crate::web::session::{Csrf, Staffer};
use crate::web::table::{Cell, Table};
use crate::web::App;

/// Shared risks listed at most.
const SHARED_SHOWN: usize = 50;
/// Reports listed at most on the page (the export has them all). A county files one for
/// every risk graded I or II: thousands at 100,000 risks.
const REPORTS_SHOWN: usize = 50;

/// Where [`Seen`] keeps each account's last visit (the node's own store; never federated).
pub const SEEN_TREE: &str = "inbox_seen";

/// When each person last opened the inbox, kept in the node's store (so a restart forgets
/// nothing) with a copy in memory. Never opened: what arrived since the node started is new.
#[derive(Debug)]
pub struct Seen {
    started_ms: i64,
    by_name: Mutex<HashMap<String, i64>>,
}

impl Default for Seen {
    fn default() -> Self {
        Self {
            started_ms: timespec::now_ms(),
            by_name: Mutex::default(),
        }
    }
}

impl Seen {
    /// When `name` last opened the inbox (the node's start if never).
    pub fn get(&self, store: &dyn Store, name: &str) -> i64 {
        let mut m = self.by_name.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = m.get(name) {
            return *at;
        }
        let stored = match store.get(SEEN_TREE, name.as_bytes()) {
            Ok(v) => v.and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok()),
            Err(e) => {
                tracing::warn!(error = %e, staff = name, "cannot read when the inbox was last opened");
                None
            }
        };
        let at = stored.map_or(self.started_ms, i64::from_be_bytes);
        m.insert(name.to_owned(), at);
        at
    }

    /// Notes that `name` opened the inbox at `at_ms`; returns when they had before.
    pub fn open(&self, store: &dyn Store, name: &str, at_ms: i64) -> i64 {
        let before = self.get(store, name);
        let mut batch = Batch::new();
        batch.insert(
            SEEN_TREE,
            name.as_bytes().to_vec(),
            at_ms.to_be_bytes().to_vec(),
        );
        if let Err(e) = store.commit(&batch) {
            tracing::warn!(error = %e, staff = name, "cannot keep when the inbox was opened");
        }
        let mut m = self.by_name.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(name.to_owned(), at_ms);
        before
    }
}

/// What the inbox shows.
struct Items {
    /// Alerts addressed to the county (not its own), newest first.
    alerts: Vec<AlertDetails>,
    /// Directives and consultations for it, newest first.
    directives: Vec<DirectiveDetails>,
    /// Reports it filed, newest first (only as many as asked for).
    reports: Vec<ReportDetails>,
    /// How many reports it filed in all.
    reports_total: usize,
    /// Its disposal requests with an outcome, newest outcome first.
    outcomes: Vec<RequestDetails>,
}

/// The inbox's items, with the newest `reports` reports the county filed (the header's
/// counts need none).
fn items(app: &App, reports: usize) -> Result<Items, PageError> {
    let store = app.node.store.as_ref();
    let unit = app.node.unit();
    let now = timespec::now_ms();
    let alerts = read::alerts(store, unit, now, false)?
        .into_iter()
        .filter(|a| a.record.issuer != unit)
        .collect();
    let directives = read::directives(store, unit, None, now)?;
    let (reports, reports_total) = if reports == 0 {
        (Vec::new(), 0)
    } else {
        // Only the reports shown are read, with their acknowledgments.
        let (total, newest) = comms::view::newest_reports_of(store, unit, reports)?;
        let shown = newest
            .iter()
            .map(|r| read::report(store, r))
            .collect::<Result<Vec<_>, _>>()?;
        (shown, total)
    };
    let mut outcomes: Vec<RequestDetails> = disposal_read::requests(store, now)?
        .into_iter()
        .filter(|r| r.requester == unit && r.outcome.is_some())
        .collect();
    outcomes.sort_by_key(|r| std::cmp::Reverse(r.outcome.as_ref().map_or(0, |o| o.at_ms)));
    Ok(Items {
        alerts,
        directives,
        reports,
        reports_total,
        outcomes,
    })
}

fn own_receipt<'a>(a: &'a AlertDetails, unit: &str) -> Option<&'a read::Receipt> {
    a.receipts.iter().find(|r| r.county == unit)
}

fn unanswered(d: &DirectiveDetails) -> bool {
    d.responses.first().is_none_or(|r| r.status.is_none())
}

fn shared_since(app: &App, since_ms: i64) -> Result<usize, PageError> {
    let q = IndexQuery {
        whose: Whose::Others,
        changed_after_ms: Some(since_ms),
        limit: 0,
        ..IndexQuery::default()
    };
    Ok(app
        .register
        .find(
            app.node.store.as_ref(),
            app.node.unit(),
            &timespec::today(),
            &q,
        )?
        .total)
}

fn count(app: &App, i: &Items, since_ms: i64) -> Result<Unread, PageError> {
    let unit = app.node.unit();
    Ok(Unread {
        alerts: i
            .alerts
            .iter()
            .filter(|a| own_receipt(a, unit).is_some_and(|r| r.acknowledged_at_ms.is_none()))
            .count(),
        directives: i.directives.iter().filter(|d| unanswered(d)).count(),
        shared: shared_since(app, since_ms)?,
        outcomes: i
            .outcomes
            .iter()
            .filter(|r| r.outcome.as_ref().is_some_and(|o| o.at_ms > since_ms))
            .count(),
        intake_open: None,
    })
}

/// What waits for `staffer` in the county's inbox (nothing, logged, if it cannot be read).
pub fn unread(app: &App, staffer: &Staffer) -> Unread {
    let counted = items(app, 0).and_then(|i| {
        count(
            app,
            &i,
            app.inbox_seen.get(app.node.store.as_ref(), &staffer.name),
        )
    });
    counted.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "counting the inbox for the header");
        Unread::default()
    })
}

fn tables_of(app: &App, i: &Items, seen_ms: i64, l: Lang) -> Result<Vec<Table>, PageError> {
    let unit = app.node.unit();
    let people = officer::People::of(app)?;
    let mut alerts = Table::new(
        "inbox-alerts",
        l.pick("预警通报", "Alerts"),
        vec![
            "alert",
            "issuer",
            "severity",
            "headline",
            "issued",
            "acknowledged",
            "by",
            "note",
            "overdue",
        ],
    );
    for a in &i.alerts {
        let r = own_receipt(a, unit);
        let overdue = r.is_some_and(|r| r.overdue);
        alerts.row(vec![
            Cell::text(a.record.id.clone()),
            Cell::text(a.record.issuer.clone()).shown(people.unit(&a.record.issuer)),
            Cell::text(a.record.alert.severity.as_str()).shown(l.pick(
                a.record.alert.severity.label_zh(),
                a.record.alert.severity.as_str(),
            )),
            Cell::text(a.record.alert.headline.clone()),
            Cell::text(super::when(a.record.issued_at_ms)),
            Cell::text(super::when(
                r.and_then(|r| r.acknowledged_at_ms).unwrap_or(0),
            )),
            Cell::text(
                r.map(|r| people.who(&r.acknowledged_by))
                    .unwrap_or_default(),
            ),
            Cell::text(r.map(|r| r.note.clone()).unwrap_or_default()),
            Cell::text(if overdue {
                l.pick("超时", "overdue")
            } else {
                ""
            })
            .alarm(overdue),
        ]);
    }
    let mut directives = Table::new(
        "inbox-directives",
        l.pick("工作指令与会商", "Directives and consultations"),
        vec![
            "directive",
            "kind",
            "text",
            "issued",
            "deadline",
            "answer",
            "answer text",
            "overdue",
        ],
    );
    for d in &i.directives {
        let line = d.responses.first();
        let overdue = line.is_some_and(|r| r.overdue);
        directives.row(vec![
            Cell::text(d.record.id.clone()),
            Cell::text(match d.record.kind {
                DirectiveKind::Directive => l.pick("工作指令", "directive"),
                DirectiveKind::Consultation => l.pick("会商", "consultation"),
            }),
            Cell::text(d.record.text.clone()),
            Cell::text(super::when(d.record.issued_at_ms)),
            Cell::text(super::when(d.record.deadline_ms)),
            Cell::text(
                line.and_then(|r| r.status)
                    .map_or(l.pick("未答复", "not answered"), |s| {
                        labels::response_in(l, s)
                    }),
            ),
            Cell::text(line.map(|r| r.text.clone()).unwrap_or_default()),
            Cell::text(if overdue {
                l.pick("超期", "overdue")
            } else {
                ""
            })
            .alarm(overdue),
        ]);
    }
    let mut reports = Table::new(
        "inbox-reports",
        format!(
            "{} ({})",
            l.pick("本县上报的重大事项", "Reports the county filed"),
            i.reports_total
        ),
        vec![
            "report",
            "risk",
            "level",
            "summary",
            "filed",
            "acknowledged",
            "by",
            "note",
        ],
    );
    for r in &i.reports {
        let ack = r.acknowledged.as_ref();
        let risk = r.record.risk.clone().unwrap_or_default();
        reports.row(vec![
            Cell::text(r.record.id.clone()),
            if risk.is_empty() {
                Cell::text("")
            } else {
                Cell::text(risk.clone()).link(format!("/register/{risk}"))
            },
            Cell::level(r.record.level),
            Cell::text(r.record.summary.clone()),
            Cell::text(super::when(r.record.filed_at_ms)),
            Cell::text(match ack {
                Some(a) => super::when(a.at_ms),
                None => l.pick("省级未签收", "not yet").to_owned(),
            })
            .alarm(ack.is_none()),
            Cell::text(ack.map(|a| people.who(&a.by)).unwrap_or_default()),
            Cell::text(ack.map(|a| a.note.clone()).unwrap_or_default()),
        ]);
    }
    let found = app.register.find(
        app.node.store.as_ref(),
        unit,
        &timespec::today(),
        &IndexQuery {
            whose: Whose::Others,
            sort: Sort::Updated,
            limit: SHARED_SHOWN,
            ..IndexQuery::default()
        },
    )?;
    let mut shared = Table::new(
        "inbox-shared",
        format!(
            "{} ({})",
            l.pick("兄弟县共享的风险", "Risks neighbours shared"),
            found.total
        ),
        vec![
            "risk", "county", "title", "level", "focus", "status", "changed", "new",
        ],
    );
    for s in &found.rows {
        let new = s.updated_at_ms > seen_ms;
        shared.row(vec![
            Cell::text(s.id.clone()).link(format!("/register/{}", s.id)),
            Cell::text(s.origin.clone()).shown(people.unit(&s.origin)),
            Cell::text(s.title.clone()),
            Cell::level(s.level),
            Cell::text(labels::focus_in(l, s.focus)),
            Cell::text(labels::status_in(l, s.status)),
            Cell::text(super::when(s.updated_at_ms)),
            Cell::text(if new { l.pick("新", "new") } else { "" }).alarm(new),
        ]);
    }
    let mut outcomes = Table::new(
        "inbox-outcomes",
        l.pick("处置结果", "Disposal outcomes"),
        vec![
            "request",
            "partner",
            "action",
            "outcome",
            "reason",
            "reference",
            "when",
            "new",
        ],
    );
    for r in &i.outcomes {
        let Some(o) = &r.outcome else { continue };
        let new = o.at_ms > seen_ms;
        outcomes.row(vec![
            Cell::text(r.id.clone()),
            Cell::text(r.partner.clone()),
            Cell::text(labels::action_in(l, r.action)),
            Cell::text(labels::outcome_in(l, o.outcome)),
            Cell::text(o.reason.clone()),
            Cell::text(o.reference.clone()),
            Cell::text(super::when(o.at_ms)),
            Cell::text(if new { l.pick("新", "new") } else { "" }).alarm(new),
        ]);
    }
    for t in [
        &mut alerts,
        &mut directives,
        &mut reports,
        &mut shared,
        &mut outcomes,
    ] {
        t.empty = l.pick("暂无", "nothing here");
    }
    Ok(vec![alerts, directives, reports, shared, outcomes])
}

/// The inbox's tables for an export (what is new is counted from when `staffer` last
/// opened the inbox).
pub fn tables(app: &App, staffer: &Staffer) -> Result<Vec<Table>, PageError> {
    let i = items(app, usize::MAX)?;
    tables_of(
        app,
        &i,
        app.inbox_seen.get(app.node.store.as_ref(), &staffer.name),
        Lang::current(),
    )
}

/// A form sent back refused: which item, the reason, and what was typed.
#[derive(Debug, Default)]
struct Refused {
    id: String,
    message: String,
    note: String,
    status: String,
}

fn refused_here(refused: Option<&Refused>, id: &str) -> Markup {
    html! {
        @if let Some(r) = refused.filter(|r| r.id == id) {
            p.error role="alert" data-stay id={ "error-" (id) } { (r.message) }
        }
    }
}

fn forms(app: &App, staffer: &Staffer, i: &Items, refused: Option<&Refused>, l: Lang) -> Markup {
    let unit = app.node.unit();
    let to_ack: Vec<&AlertDetails> = i
        .alerts
        .iter()
        .filter(|a| own_receipt(a, unit).is_some_and(|r| r.acknowledged_at_ms.is_none()))
        .collect();
    let to_answer: Vec<&DirectiveDetails> = i.directives.iter().filter(|d| unanswered(d)).collect();
    let typed = |id: &str| refused.filter(|r| r.id == id);
    let people = officer::People::of(app).ok();
    let issuer = |code: &str| match &people {
        Some(p) => p.unit(code),
        None => code.to_owned(),
    };
    html! {
        @if !to_ack.is_empty() || !to_answer.is_empty() {
            div.forms {
                @for a in &to_ack {
                    @let id = &a.record.id;
                    section {
                        h2 { (l.pick("签收预警", "Acknowledge")) " " (id) }
                        p { strong { (a.record.alert.headline) } " · " (l.pick(a.record.alert.severity.label_zh(), a.record.alert.severity.as_str())) " · " (issuer(&a.record.issuer)) }
                        @if !a.record.alert.description.is_empty() { p { (a.record.alert.description) } }
                        form.stack id={ "ack-" (id) } method="post" action="/inbox/alerts/ack" {
                            (layout::csrf(staffer))
                            (refused_here(refused, id))
                            input type="hidden" name="id" value=(id);
                            label for={ "note-" (id) } { (l.pick("签收备注", "Note")) }
                            input id={ "note-" (id) } name="note" maxlength="500" value=(typed(id).map(|r| r.note.as_str()).unwrap_or_default());
                            div.actions { button type="submit" { (l.pick("签收", "Acknowledge")) } }
                        }
                    }
                }
                @for d in &to_answer {
                    @let id = &d.record.id;
                    section {
                        h2 {
                            (match d.record.kind {
                                DirectiveKind::Directive => l.pick("答复指令", "Answer the directive"),
                                DirectiveKind::Consultation => l.pick("答复会商", "Answer the consultation"),
                            })
                            " " (id)
                        }
                        p { (d.record.text) }
                        p.sub { (l.pick("期限", "Due")) " " (super::when(d.record.deadline_ms)) }
                        form.stack id={ "answer-" (id) } method="post" action="/inbox/directives/respond" {
                            (layout::csrf(staffer))
                            (refused_here(refused, id))
                            input type="hidden" name="id" value=(id);
                            label for={ "status-" (id) } { (l.pick("答复类型", "Answer")) }
                            select id={ "status-" (id) } name="status" {
                                @for s in ResponseStatus::ALL {
                                    option value=(s.as_str()) selected[typed(id).is_some_and(|r| r.status == s.as_str())] { (labels::response_in(l, *s)) }
                                }
                            }
                            label for={ "text-" (id) } { (l.pick("答复内容", "Text")) }
                            textarea id={ "text-" (id) } name="text" rows="3" maxlength="2000" { (typed(id).map(|r| r.note.as_str()).unwrap_or_default()) }
                            div.actions { button type="submit" { (l.pick("答复", "Answer")) } }
                        }
                    }
                }
            }
        }
    }
}

fn render(app: &App, staffer: &Staffer, refused: Option<&Refused>) -> Result<Markup, PageError> {
    let l = Lang::current();
    let i = items(app, REPORTS_SHOWN)?;
    // What is new is new since the visit before this one.
    let seen = if refused.is_some() {
        app.inbox_seen.get(app.node.store.as_ref(), &staffer.name)
    } else {
        app.inbox_seen
            .open(app.node.store.as_ref(), &staffer.name, timespec::now_ms())
    };
    let tables = tables_of(app, &i, seen, l)?;
    let body = html! {
        @if may_write(staffer) {
            (forms(app, staffer, &i, refused, l))
        }
        @for t in &tables { (t.html("")) }
        @if i.reports_total > i.reports.len() {
            p { a href="/export/inbox-reports.csv" {
                (l.pick("上报事项只列最近 ", "Only the newest ")) (i.reports.len())
                (l.pick(" 份；全部见导出 →", " reports are listed; all of them in the export →"))
            } }
        }
    };
    Ok(layout::page(
        staffer,
        l.pick("收件箱", "Inbox"),
        "/inbox",
        None,
        body,
    ))
}

/// GET /inbox (opening it marks shared risks and outcomes seen).
pub async fn page(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
) -> Result<Markup, PageError> {
    require_county(&app)?;
    render(&app, &staffer, None)
}

/// The acknowledgment form.
#[derive(Debug, Deserialize)]
pub struct AckForm {
    id: String,
    #[serde(default)]
    note: String,
}

async fn write_or_refuse(
    app: &App,
    staffer: &Staffer,
    command: comms::Command,
    refused: Refused,
) -> Result<Response, PageError> {
    let author = staffer.author(app.node.unit());
    match app.node.writer.submit(author.clone(), command).await {
        Ok(w) => {
            tracing::info!(item = %w.id, %author, "answered from the county's inbox");
            Ok(Redirect::to("/inbox").into_response())
        }
        Err(e) => match PageError::from(e) {
            PageError::Bad(m) | PageError::NotFound(m) => {
                let refused = Refused {
                    message: m,
                    ..refused
                };
                Ok((
                    StatusCode::BAD_REQUEST,
                    render(app, staffer, Some(&refused))?,
                )
                    .into_response())
            }
            other => Err(other),
        },
    }
}

/// POST /inbox/alerts/ack.
pub async fn acknowledge_alert(
    State(app): State<Arc<App>>,
    Csrf(staffer, form): Csrf<AckForm>,
) -> Result<Response, PageError> {
    require_county(&app)?;
    require_write(&staffer)?;
    let id = form.id.trim().to_owned();
    let refused = Refused {
        id: id.clone(),
        note: form.note.clone(),
        ..Refused::default()
    };
    let command = comms::Command::AcknowledgeAlert {
        id,
        note: form.note,
    };
    write_or_refuse(&app, &staffer, command, refused).await
}

/// The answer form.
#[derive(Debug, Deserialize)]
pub struct AnswerForm {
    id: String,
    status: String,
    #[serde(default)]
    text: String,
}

/// POST /inbox/directives/respond.
pub async fn respond_directive(
    State(app): State<Arc<App>>,
    Csrf(staffer, form): Csrf<AnswerForm>,
) -> Result<Response, PageError> {
    require_county(&app)?;
    require_write(&staffer)?;
    let id = form.id.trim().to_owned();
    let status: ResponseStatus = form
        .status
        .trim()
        .parse()
        .map_err(|e: String| PageError::Bad(format!("status: {e}")))?;
    let refused = Refused {
        id: id.clone(),
        note: form.text.clone(),
        status: form.status.clone(),
        ..Refused::default()
    };
    let command = comms::Command::RespondDirective {
        id,
        status,
        text: form.text,
    };
    write_or_refuse(&app, &staffer, command, refused).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_the_inbox_moves_what_counts_as_new_and_a_restart_remembers() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::SledStore::open(dir.path()).unwrap();
        let seen = Seen::default();
        let start = seen.get(&store, "lin");
        assert_eq!(seen.open(&store, "lin", start + 10), start);
        assert_eq!(seen.get(&store, "lin"), start + 10);
        assert_eq!(seen.get(&store, "wang"), start);
        // A node started again reads it back from its store.
        let again = Seen::default();
        assert_eq!(again.get(&store, "lin"), start + 10);
    }
}
