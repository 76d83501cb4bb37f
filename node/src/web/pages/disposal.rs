//! A county's disposal requests (处置): the form that asks a partner website to correct,
//! label, respond to, limit or take down content (the partner chosen from those the province
//! declared and has not disabled), and the county's requests with where each stands and the
//! partner's outcome.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;

use super::officer::{self, may_write, require_county, require_write, Refusal};
use super::PageError;
use crate::disposal::read::{self, PartnerListing};
use crate::disposal::Command;
use crate::domain::disposal::Action;
use crate::timespec;
use crate::web::labels;
use crate::web::lang::Lang;
use crate::web::layout;
use crate::web::session::{Csrf, Staffer};
use crate::web::table::{Cell, Table};
use crate::web::App;

/// The deadlines the form offers.
const DEADLINES: [&str; 5] = ["12h", "24h", "48h", "72h", "7d"];

/// The request form's fields (kept when it comes back refused).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    risk: String,
    #[serde(default)]
    partner: String,
    #[serde(default)]
    urls: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    legal_basis: String,
    #[serde(default)]
    deadline: String,
}

/// The county's requests (table `county-disposal`), newest first.
pub fn table(app: &App) -> Result<Table, PageError> {
    let l = Lang::current();
    let unit = app.node.unit();
    let people = officer::People::of(app)?;
    let mut t = Table::new(
        "county-disposal",
        l.pick("本县的处置请求", "The county's disposal requests"),
        vec![
            "request", "partner", "action", "urls", "risk", "state", "deadline", "overdue",
            "outcome", "reason", "filed", "by",
        ],
    );
    t.empty = l.pick("暂无", "nothing here");
    for r in read::requests(app.node.store.as_ref(), timespec::now_ms())?
        .into_iter()
        .filter(|r| r.requester == unit)
    {
        let risk = r.risk.clone().unwrap_or_default();
        t.row(vec![
            Cell::text(r.id.clone()),
            Cell::text(r.partner.clone()),
            Cell::text(labels::action_in(l, r.action)),
            Cell::text(r.urls.join(" ")),
            if risk.is_empty() {
                Cell::text("")
            } else {
                Cell::text(risk.clone()).link(format!("/register/{risk}"))
            },
            Cell::text(labels::disposal_state_in(l, r.state)),
            Cell::text(super::when(r.deadline_ms)),
            Cell::text(if r.overdue {
                l.pick("超期", "overdue")
            } else {
                ""
            })
            .alarm(r.overdue),
            Cell::text(
                r.outcome
                    .as_ref()
                    .map(|o| labels::outcome_in(l, o.outcome))
                    .unwrap_or_default(),
            ),
            Cell::text(
                r.outcome
                    .as_ref()
                    .map(|o| o.reason.clone())
                    .unwrap_or_default(),
            ),
            Cell::text(super::when(r.filed_at_ms)),
            Cell::text(people.who(&r.filed_by)),
        ]);
    }
    Ok(t)
}

fn form(
    staffer: &Staffer,
    partners: &[PartnerListing],
    f: &RequestForm,
    refusal: Option<&Refusal>,
    l: Lang,
) -> Markup {
    let deadline = if f.deadline.is_empty() {
        "48h"
    } else {
        f.deadline.as_str()
    };
    html! {
        @if partners.is_empty() {
            p.notice #no-partners { (l.pick("省级尚未登记可处置的合作网站。", "The province has registered no partner website yet.")) }
        } @else {
            form.stack #disposal-form method="post" action="/disposal" {
                (layout::csrf(staffer))
                (Refusal::show(refusal, "disposal"))
                label for="d-partner" { (l.pick("合作网站", "Partner website")) }
                select #d-partner name="partner" required {
                    @for p in partners {
                        option value=(p.name) selected[f.partner == p.name] { (p.display_name) " (" (p.name) ")" }
                    }
                }
                label for="d-urls" { (l.pick("内容网址（每行一个）", "Content URLs (one per line)")) }
                textarea #d-urls name="urls" rows="3" required { (f.urls) }
                label for="d-action" { (l.pick("请求处置方式", "What to ask")) }
                select #d-action name="action" required {
                    @for a in Action::ALL {
                        option value=(a.as_str()) selected[f.action == a.as_str()] { (labels::action_in(Lang::Zh, a)) " · " (a.as_str()) }
                    }
                }
                label for="d-reason" { (l.pick("理由", "Reason")) }
                textarea #d-reason name="reason" rows="3" required maxlength="2000" { (f.reason) }
                label for="d-basis" { (l.pick("依据", "Legal basis")) }
                input #d-basis name="legal_basis" maxlength="500" value=(f.legal_basis);
                label for="d-risk" { (l.pick("相关风险编号（可选）", "Risk concerned (optional)")) }
                input #d-risk name="risk" maxlength="40" placeholder="510104-17" value=(f.risk);
                label for="d-deadline" { (l.pick("反馈期限", "Outcome due within")) }
                select #d-deadline name="deadline" {
                    @for d in DEADLINES {
                        option value=(d) selected[deadline == d] { (d) }
                    }
                }
                div.actions { button type="submit" { (l.pick("提交处置请求", "File the request")) } }
            }
        }
    }
}

fn render(
    app: &App,
    staffer: &Staffer,
    f: &RequestForm,
    refusal: Option<&Refusal>,
) -> Result<Markup, PageError> {
    let l = Lang::current();
    let partners: Vec<PartnerListing> = read::partners(app.node.store.as_ref())?
        .into_iter()
        .filter(|p| !p.disabled)
        .collect();
    let t = table(app)?;
    let body = html! {
        @if may_write(staffer) {
            h2 { (l.pick("新的处置请求", "A new disposal request")) }
            (form(staffer, &partners, f, refusal, l))
        }
        (t.html(""))
    };
    Ok(layout::page(
        staffer,
        l.pick("处置", "Disposal"),
        "/disposal",
        None,
        body,
    ))
}

/// Fields a link may prefill (`/disposal?risk=510104-3`).
#[derive(Debug, Default, Deserialize)]
pub struct Prefill {
    #[serde(default)]
    risk: String,
}

/// GET /disposal.
pub async fn page(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
    Query(prefill): Query<Prefill>,
) -> Result<Markup, PageError> {
    require_county(&app)?;
    let f = RequestForm {
        risk: prefill.risk,
        ..RequestForm::default()
    };
    render(&app, &staffer, &f, None)
}

fn command(f: &RequestForm) -> Result<Command, String> {
    let action: Action = f
        .action
        .trim()
        .parse()
        .map_err(|e| format!("action: {e}"))?;
    let deadline = f.deadline.trim();
    if !DEADLINES.contains(&deadline) {
        return Err(format!("deadline: {deadline:?}: {}", DEADLINES.join(", ")));
    }
    let deadline_ms =
        timespec::parse_time_from_now(deadline).map_err(|e| format!("deadline: {e}"))?;
    Ok(Command::File {
        partner: f.partner.trim().to_owned(),
        urls: f
            .urls
            .lines()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect(),
        action,
        reason: f.reason.clone(),
        legal_basis: f.legal_basis.clone(),
        deadline_ms,
        evidence: Vec::new(),
        risk: Some(f.risk.trim().to_owned()).filter(|r| !r.is_empty()),
    })
}

/// POST /disposal: files the request; a refusal shows the form again with what was typed.
pub async fn file(
    State(app): State<Arc<App>>,
    Csrf(staffer, f): Csrf<RequestForm>,
) -> Result<Response, PageError> {
    require_county(&app)?;
    require_write(&staffer)?;
    let refused = |message: String| -> Result<Response, PageError> {
        let r = Refusal {
            form: "disposal",
            message,
        };
        Ok((
            StatusCode::BAD_REQUEST,
            render(&app, &staffer, &f, Some(&r))?,
        )
            .into_response())
    };
    let command = match command(&f) {
        Ok(c) => c,
        Err(m) => return refused(m),
    };
    let author = staffer.author(app.node.unit());
    match app.node.writer.submit(author.clone(), command).await {
        Ok(w) => {
            tracing::info!(request = %w.id, %author, "disposal request filed on the county's pages");
            Ok(Redirect::to("/disposal").into_response())
        }
        Err(e) => match PageError::from(e) {
            PageError::Bad(m) | PageError::NotFound(m) => refused(m),
            other => Err(other),
        },
    }
}
