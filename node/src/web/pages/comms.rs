//! Communications (通报): open alerts with each recipient's acknowledgment, reports awaiting
//! the province's acknowledgment, directives and consultations with response rates and who is
//! overdue, and each county's answer to them. Analysts acknowledge reports and issue directives here.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;

use super::{filtered, when, PageError};
use crate::comms::read::{self, AlertDetails, DirectiveDetails, ReportDetails};
use crate::comms::{self, view};
use crate::disposal::view::{self as disposal_view, PartnerFigures};
use crate::disposal::DisposalRecord;
use crate::domain::directive::{DirectiveKind, ResponseStatus};
use crate::partner;
use crate::sync::directory::{self, UnitNames};
use crate::timespec;
use crate::web::filters::{Filters, RawFilters};
use crate::web::labels;
use crate::web::lang::Lang;
use crate::web::layout;
use crate::web::session::{Csrf, Staffer};
use crate::web::table::{Cell, Table};
use crate::web::App;

/// What the page shows: open alerts, reports awaiting acknowledgment, directives.
struct Items {
    alerts: Vec<AlertDetails>,
    reports: Vec<ReportDetails>,
    directives: Vec<DirectiveDetails>,
    /// Disposal requests to partner websites.
    requests: Vec<DisposalRecord>,
    /// Per partner: display name and delivery figures.
    partners: Vec<(String, String, PartnerFigures)>,
}

fn items(app: &App, f: &Filters) -> Result<Items, PageError> {
    let store = app.node.store.as_ref();
    let now = timespec::now_ms();
    // Every alert and directive this node holds, each through its read model: at a county,
    // `read::alerts` and `read::directives` would leave out those not addressed to it.
    let mut alerts = Vec::new();
    for a in view::alerts(store)? {
        let a = read::alert(store, &a, now, false)?;
        let concerns =
            f.county_ok(&a.record.issuer) || a.receipts.iter().any(|r| f.county_ok(&r.county));
        if a.status == "active" && concerns && f.in_asked_range(a.record.issued_at_ms) {
            alerts.push(a);
        }
    }
    alerts.sort_by_key(|a| std::cmp::Reverse(a.record.issued_at_ms));
    let reports = read::reports(store, true)?
        .into_iter()
        .filter(|r| {
            f.level.is_none_or(|l| r.record.level == Some(l))
                && f.county_ok(&r.record.origin)
                && f.in_asked_range(r.record.filed_at_ms)
        })
        .collect();
    let mut directives = Vec::new();
    for d in view::directives(store)? {
        let d = read::directive(store, &d, app.node.unit(), now)?;
        let concerns = f.county.is_none() || d.responses.iter().any(|r| f.county_ok(&r.county));
        if concerns && f.in_asked_range(d.record.issued_at_ms) {
            directives.push(d);
        }
    }
    directives.sort_by_key(|d| std::cmp::Reverse(d.record.issued_at_ms));
    let all_requests = disposal_view::list(store)?;
    let figures = disposal_view::figures(&all_requests, now);
    let partners = partner::list(store)
        .map_err(|e| PageError::Internal(e.to_string()))?
        .into_iter()
        .map(|p| {
            let f = figures.get(&p.name).cloned().unwrap_or_default();
            (p.name, p.display_name, f)
        })
        .collect();
    let mut requests: Vec<DisposalRecord> = all_requests
        .into_iter()
        .filter(|r| f.county_ok(&r.requester) && f.in_asked_range(r.filed_at_ms))
        .collect();
    requests.sort_by_key(|r| std::cmp::Reverse(r.filed_at_ms));
    Ok(Items {
        alerts,
        reports,
        directives,
        requests,
        partners,
    })
}

/// A county's code as exported, shown with its name (`锦江区 510104`), linked to its page.
fn county_cell(names: &UnitNames, code: &str) -> Cell {
    Cell::text(code)
        .shown(names.display(code))
        .link(format!("/county/{code}"))
}

/// Codes as exported (space-separated), shown with their names (`锦江区 510104、…`).
fn counties_cell(names: &UnitNames, codes: &[&str]) -> Cell {
    let sep = Lang::current().pick("、", ", ");
    Cell::text(codes.join(" ")).shown(
        codes
            .iter()
            .map(|c| names.display(c))
            .collect::<Vec<_>>()
            .join(sep),
    )
}

fn tables_of(i: &Items, names: &UnitNames) -> Vec<Table> {
    let lang = Lang::current();
    let mut alerts = Table::new(
        "alerts",
        lang.pick("未结预警通报", "Open alerts"),
        vec![
            "alert",
            "issuer",
            "severity",
            "headline",
            "issued",
            "recipients",
            "acknowledged",
            "overdue",
        ],
    )
    .headed();
    let mut receipts = Table::new(
        "receipts",
        lang.pick("逐县签收", "Acknowledgment per recipient"),
        vec![
            "alert",
            "county",
            "delivered",
            "acknowledged",
            "by",
            "note",
            "overdue",
        ],
    )
    .headed();
    for a in &i.alerts {
        let (id, content) = (&a.record.id, &a.record.alert);
        let acked = a
            .receipts
            .iter()
            .filter(|r| r.acknowledged_at_ms.is_some())
            .count() as u64;
        let overdue: Vec<&str> = a
            .receipts
            .iter()
            .filter(|r| r.overdue)
            .map(|r| r.county.as_str())
            .collect();
        alerts.row(vec![
            Cell::text(id.clone()),
            county_cell(names, &a.record.issuer),
            Cell::text(format!(
                "{} {}",
                content.severity.as_str(),
                content.severity.label_zh()
            ))
            .shown(lang.pick(content.severity.label_zh(), content.severity.as_str())),
            Cell::text(content.headline.clone()),
            Cell::text(when(a.record.issued_at_ms)),
            Cell::number(a.receipts.len() as u64),
            Cell::number(acked),
            counties_cell(names, &overdue).alarm(!overdue.is_empty()),
        ]);
        for r in &a.receipts {
            receipts.row(vec![
                Cell::text(id.clone()),
                county_cell(names, &r.county),
                Cell::text(when_given(r.delivered_at_ms)),
                Cell::text(when_given(r.acknowledged_at_ms)),
                Cell::text(r.acknowledged_by.clone()),
                Cell::text(r.note.clone()),
                Cell::text(if r.overdue { "overdue 超时" } else { "" })
                    .shown(labels::overdue_in(lang, r.overdue))
                    .alarm(r.overdue),
            ]);
        }
    }
    let mut reports = Table::new(
        "reports",
        lang.pick("待签收的重大事项报告", "Reports awaiting acknowledgment"),
        vec![
            "report",
            "county",
            "risk",
            "level",
            "summary",
            "filed",
            "by",
            "automatic",
            "disposal",
        ],
    )
    .headed();
    for r in i.reports.iter().map(|r| &r.record) {
        let risk = r.risk.as_deref().unwrap_or_default();
        let disposal = r.disposal.as_deref().unwrap_or_default();
        reports.row(vec![
            Cell::text(r.id.clone()),
            county_cell(names, &r.origin),
            if risk.is_empty() {
                Cell::text("")
            } else {
                Cell::text(risk).link(format!("/risk/{risk}"))
            },
            Cell::text(r.level.map_or("", |l| l.as_str())),
            Cell::text(r.summary.clone()),
            Cell::text(when(r.filed_at_ms)),
            Cell::text(r.filed_by.clone()),
            Cell::text(if r.automatic { "yes" } else { "no" })
                .shown(labels::yes_no_in(lang, r.automatic)),
            Cell::text(disposal).alarm(!disposal.is_empty()),
        ]);
    }
    let mut directives = Table::new(
        "directives",
        lang.pick("工作指令与会商", "Directives and consultations"),
        vec![
            "directive",
            "kind",
            "text",
            "issued",
            "deadline",
            "targets",
            "responded",
            "response rate",
            "overdue",
        ],
    )
    .headed();
    let mut answers = Table::new(
        "answers",
        lang.pick("逐县答复", "Answers per county"),
        vec![
            "directive",
            "county",
            "status",
            "answered",
            "by",
            "text",
            "overdue",
        ],
    )
    .headed();
    for d in &i.directives {
        for r in &d.responses {
            answers.row(vec![
                Cell::text(d.record.id.clone()),
                county_cell(names, &r.county),
                Cell::text(r.status.map_or_else(
                    || "未答复 no answer".to_owned(),
                    |s| format!("{} {}", s.label_zh(), s.as_str()),
                ))
                .shown(r.status.map_or_else(
                    || lang.pick("未答复", "no answer"),
                    |s| labels::response_in(lang, s),
                )),
                Cell::text(when_given(r.responded_at_ms)),
                Cell::text(r.responded_by.clone()),
                Cell::text(r.text.clone()),
                Cell::text(if r.overdue { "overdue 超期" } else { "" })
                    .shown(labels::overdue_in(lang, r.overdue))
                    .alarm(r.overdue),
            ]);
        }
        let done = d
            .responses
            .iter()
            .filter(|r| {
                r.status.is_some_and(|s| {
                    d.record.kind == DirectiveKind::Consultation || s == ResponseStatus::Done
                })
            })
            .count() as u64;
        let answered = d.responses.iter().filter(|r| r.status.is_some()).count() as u64;
        let total = d.responses.len() as u64;
        let overdue: Vec<&str> = d
            .responses
            .iter()
            .filter(|r| r.overdue)
            .map(|r| r.county.as_str())
            .collect();
        directives.row(vec![
            // Each county's answer is in the table below.
            Cell::text(d.record.id.clone()).link("#answers"),
            Cell::text(format!(
                "{} {}",
                d.record.kind.label_zh(),
                d.record.kind.as_str()
            ))
            .shown(lang.pick(d.record.kind.label_zh(), d.record.kind.as_str())),
            Cell::text(d.record.text.clone()),
            Cell::text(when(d.record.issued_at_ms)),
            Cell::text(when(d.record.deadline_ms)),
            Cell::number(total),
            Cell::number(answered),
            Cell::text(
                (done * 100)
                    .checked_div(total)
                    .map_or_else(|| "—".to_owned(), |p| format!("{p}%")),
            ),
            counties_cell(names, &overdue).alarm(!overdue.is_empty()),
        ]);
    }
    let now = timespec::now_ms();
    let mut requests = Table::new(
        "disposal",
        lang.pick(
            "处置请求（超期的已督办）",
            "Disposal requests (overdue ones escalated)",
        ),
        vec![
            "request",
            "requester",
            "partner",
            "action",
            "urls",
            "state",
            "deadline",
            "overdue",
            "outcome",
        ],
    )
    .headed();
    for r in &i.requests {
        let overdue = r.overdue(now);
        requests.row(vec![
            Cell::text(r.id.clone()),
            county_cell(names, &r.requester),
            Cell::text(r.partner.clone()),
            Cell::text(format!("{} {}", r.action.label_zh(), r.action.as_str()))
                .shown(labels::action_in(lang, r.action)),
            Cell::text(r.urls.join(" ")),
            Cell::text(r.state.as_str()).shown(labels::disposal_state_in(lang, r.state)),
            Cell::text(when(r.deadline_ms)),
            Cell::text(if overdue { "overdue 超期" } else { "" })
                .shown(labels::overdue_in(lang, overdue))
                .alarm(overdue),
            Cell::text(
                r.outcome
                    .as_ref()
                    .map(|o| {
                        format!(
                            "{} {}: {} ({})",
                            o.outcome.label_zh(),
                            o.outcome,
                            o.reason,
                            o.reference
                        )
                    })
                    .unwrap_or_default(),
            )
            .shown(
                r.outcome
                    .as_ref()
                    .map(|o| {
                        format!(
                            "{}: {} ({})",
                            labels::outcome_in(lang, o.outcome),
                            o.reason,
                            o.reference
                        )
                    })
                    .unwrap_or_default(),
            ),
        ]);
    }
    let mut partners = Table::new(
        "partners",
        lang.pick("主流网站 / 合作平台", "Partner websites"),
        vec![
            "partner",
            "name",
            "relayed",
            "delivered",
            "acknowledged",
            "answered",
            "overdue",
            "mean time to acknowledge",
            "mean time to outcome",
        ],
    )
    .headed();
    for (name, display, f) in &i.partners {
        partners.row(vec![
            Cell::text(name.clone()),
            Cell::text(display.clone()),
            Cell::number(f.relayed),
            Cell::number(f.delivered),
            Cell::number(f.acknowledged),
            Cell::number(f.answered),
            Cell::number(f.overdue).alarm(f.overdue > 0),
            duration_cell(f.mean_ms_to_acknowledge),
            duration_cell(f.mean_ms_to_outcome),
        ]);
    }
    vec![
        alerts, receipts, reports, directives, answers, requests, partners,
    ]
}

/// A time that may not have come yet, as [`when`] shows none: `—`.
fn when_given(ms: Option<i64>) -> String {
    when(ms.unwrap_or(0))
}

/// A mean time for people: `—` for none, else seconds, minutes or hours (exports keep the
/// English units).
fn duration_text(ms: i64) -> String {
    match ms {
        0 => "—".into(),
        ms if ms < 60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        ms if ms < 3_600_000 => format!("{:.1} min", ms as f64 / 60_000.0),
        ms => format!("{:.1} h", ms as f64 / 3_600_000.0),
    }
}

/// [`duration_text`] as the page shows it, in `lang`.
fn duration_cell(ms: i64) -> Cell {
    let lang = Lang::current();
    let shown = match ms {
        0 => "—".into(),
        ms if ms < 60_000 => format!("{:.1} {}", ms as f64 / 1000.0, lang.pick("秒", "s")),
        ms if ms < 3_600_000 => {
            format!("{:.1} {}", ms as f64 / 60_000.0, lang.pick("分钟", "min"))
        }
        ms => format!("{:.1} {}", ms as f64 / 3_600_000.0, lang.pick("小时", "h")),
    };
    Cell::text(duration_text(ms)).shown(shown)
}

/// The communications tables for `f`.
pub fn tables(app: &App, f: &Filters) -> Result<Vec<Table>, PageError> {
    let names = directory::unit_names(app.node.store.as_ref())?;
    Ok(tables_of(&items(app, f)?, &names))
}

fn forms(staffer: &Staffer, reports: &[ReportDetails], names: &UnitNames) -> Markup {
    let l = Lang::current();
    html! {
        @if staffer.role.can_act() {
            @if !reports.is_empty() {
                form.inline #ack-report method="post" action="/reports/ack" {
                    (layout::csrf(staffer))
                    strong { (l.pick("签收报告", "Acknowledge a report")) }
                    label { (l.pick("重大事项报告", "Report"))
                        select name="report" {
                            @for r in reports.iter().map(|r| &r.record) { option value=(r.id) { (r.id) " · " (names.display(&r.origin)) " · " (crate::event::check::visible(&r.summary.chars().take(40).collect::<String>())) } }
                        }
                    }
                    label { (l.pick("备注", "Note")) input name="note" maxlength="500"; }
                    button type="submit" { (l.pick("签收", "Acknowledge")) }
                }
            }
            form.inline #issue-directive method="post" action="/directives" {
                (layout::csrf(staffer))
                strong { (l.pick("下发", "Issue")) }
                label { (l.pick("类型", "Kind"))
                    select name="kind" {
                        option value="directive" { (l.pick("工作指令", "directive")) }
                        option value="consultation" { (l.pick("会商", "consultation")) }
                    }
                }
                label { (l.pick("内容", "Text")) input name="text" required maxlength="2000" size="40"; }
                label { (l.pick("期限（如 24h、3d）或时间", "Due in (24h, 3d) or time")) input name="deadline" required value="24h" size="8"; }
                label { (l.pick("对象县（留空：全部）", "Counties (blank: all)")) input name="targets" placeholder="510104 510105" size="20"; }
                button type="submit" { (l.pick("下发", "Issue")) }
            }
        }
    }
}

/// GET /comms.
pub async fn page(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
    Query(raw): Query<RawFilters>,
) -> Result<Markup, PageError> {
    let l = Lang::current();
    filtered(
        &app,
        &staffer,
        &raw,
        l.pick("通报与指令", "Communications"),
        "/comms",
        |f| {
            let i = items(&app, f)?;
            let names = directory::unit_names(app.node.store.as_ref())?;
            let overdue = i
                .requests
                .iter()
                .filter(|r| r.overdue(timespec::now_ms()))
                .count();
            let query = f.query();
            Ok(html! {
                div.cards {
                    div.card { div { (l.pick("未结预警", "Open alerts")) } div.n #open-alerts { (i.alerts.len()) } }
                    div.card { div { (l.pick("待签收报告", "Reports awaiting")) } div.n #reports-awaiting { (i.reports.len()) } }
                    div.card { div { (l.pick("工作指令", "Directives")) } div.n #directives-total { (i.directives.len()) } }
                    div.card { div { (l.pick("超期处置", "Overdue disposal")) } div.n.alarm[overdue > 0] #disposal-overdue { (overdue) } }
                }
                (forms(&staffer, &i.reports, &names))
                @for t in &tables_of(&i, &names) { (t.html(&query)) }
            })
        },
    )
}

fn require_analyst(staffer: &Staffer) -> Result<(), PageError> {
    if staffer.role.can_act() {
        Ok(())
    } else {
        Err(PageError::Forbidden(match Lang::current() {
            Lang::Zh => format!(
                "{} 是{}：只有研判人员和管理员可以签收报告、下发指令",
                staffer.name,
                staffer.role.label_zh()
            ),
            Lang::En => format!(
                "{} is a {}: only analysts and admins acknowledge reports and issue directives",
                staffer.name, staffer.role
            ),
        }))
    }
}

/// The acknowledgment form.
#[derive(Debug, Deserialize)]
pub struct AckForm {
    report: String,
    #[serde(default)]
    note: String,
}

/// POST /reports/ack.
pub async fn acknowledge_report(
    State(app): State<Arc<App>>,
    Csrf(staffer, form): Csrf<AckForm>,
) -> Result<Response, PageError> {
    require_analyst(&staffer)?;
    let id = form.report.trim().to_owned();
    let author = staffer.author(app.node.unit());
    app.node
        .writer
        .submit(
            author.clone(),
            comms::Command::AcknowledgeReport {
                id: id.clone(),
                note: form.note,
            },
        )
        .await?;
    tracing::info!(report = %id, %author, "report acknowledged on the dashboard");
    Ok(Redirect::to("/comms").into_response())
}

/// The directive form.
#[derive(Debug, Deserialize)]
pub struct DirectiveForm {
    kind: String,
    text: String,
    deadline: String,
    #[serde(default)]
    targets: String,
}

/// POST /directives.
pub async fn issue_directive(
    State(app): State<Arc<App>>,
    Csrf(staffer, form): Csrf<DirectiveForm>,
) -> Result<Response, PageError> {
    require_analyst(&staffer)?;
    let kind = match form.kind.as_str() {
        "directive" => DirectiveKind::Directive,
        "consultation" => DirectiveKind::Consultation,
        other => {
            return Err(PageError::Bad(match Lang::current() {
                Lang::Zh => format!(
                    "kind（类型）：{other:?} 既不是工作指令（directive）也不是会商（consultation）"
                ),
                Lang::En => format!("kind: {other:?} is neither directive nor consultation"),
            }))
        }
    };
    let deadline_ms = timespec::parse_time_from_now(form.deadline.trim()).map_err(|e| {
        PageError::Bad(match Lang::current() {
            Lang::Zh => format!("deadline（期限）：{e}"),
            Lang::En => format!("deadline: {e}"),
        })
    })?;
    let targets: Vec<String> = form
        .targets
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let author = staffer.author(app.node.unit());
    let written = app
        .node
        .writer
        .submit(
            author.clone(),
            comms::Command::IssueDirective {
                kind,
                text: form.text,
                deadline_ms,
                targets,
            },
        )
        .await?;
    tracing::info!(directive = %written.id, %author, "directive issued on the dashboard");
    Ok(Redirect::to("/comms").into_response())
}
