//! One risk (风险详情): every field, its grade and scores, preventive measures, the whole
//! history, and risks of other counties linked to it by source.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Extension;
use maud::{html, Markup};

use super::{when, PageError};
use crate::overview::linked;
use crate::register::record::RiskRecord;
use crate::register::{view as register_view, RegisterError};
use crate::web::labels;
use crate::web::layout;
use crate::web::session::Staffer;
use crate::web::table::{Cell, Table};
use crate::web::App;

/// The risk `id` with its history.
fn load(app: &App, id: &str) -> Result<RiskRecord, PageError> {
    register_view::load_full(app.node.store.as_ref(), id).map_err(|e| match e {
        RegisterError::RiskNotFound(_) => PageError::NotFound(format!(
            "no risk {id} has reached this gateway (only shared risks do)"
        )),
        RegisterError::Store(s) => PageError::Store(s),
        other => PageError::Internal(other.to_string()),
    })
}

/// The risk's tables (fields, measures, history), and the record.
pub fn tables(app: &App, id: &str) -> Result<(Vec<Table>, RiskRecord), PageError> {
    let r = load(app, id)?;
    let mut fields = Table::new("risk", format!("风险 Risk {id}"), vec!["field", "value"]);
    let mut add = |k: &'static str, v: String| fields.row(vec![Cell::text(k), Cell::text(v)]);
    add("id", r.id.clone());
    add("county", r.origin.clone());
    add("title", r.title.clone());
    add("description", r.description.clone());
    add("focus", labels::focus(r.focus));
    add("source", r.source.clone());
    add("behaviours", r.behaviours.join("; "));
    add("department", r.department.clone());
    add("status", labels::status(r.status));
    add("scope", format!("{:?}", r.scope).to_lowercase());
    match &r.grade {
        Some(g) => {
            add("level", labels::level(g.level));
            add(
                "scores",
                format!(
                    "influence 影响力 {} · attention 关注度 {} · diffusion 扩散度 {}",
                    g.scores.influence, g.scores.attention, g.scores.diffusion
                ),
            );
            add(
                "graded",
                format!(
                    "{} by {} (standard {})",
                    when(g.graded_at_ms),
                    g.graded_by,
                    g.standard_version
                ),
            );
        }
        None => add("level", "未定级 · ungraded".into()),
    }
    add("created", when(r.created_at_ms));
    add("updated", when(r.updated_at_ms));

    let mut measures = Table::new(
        "risk-measures",
        "防范措施 Preventive measures",
        vec!["measure", "action", "owner", "due", "status"],
    );
    for m in &r.measures {
        measures.row(vec![
            Cell::text(m.id.clone()),
            Cell::text(m.action.clone()),
            Cell::text(m.owner.clone()),
            Cell::text(m.due.clone()),
            Cell::text(format!("{:?}", m.status).to_lowercase()),
        ]);
    }

    let mut history = Table::new(
        "risk-history",
        "历史 History",
        vec!["rev", "at", "author", "action", "summary"],
    );
    for h in &r.history {
        history.row(vec![
            Cell::number(h.rev),
            Cell::text(when(h.at_ms)),
            Cell::text(h.author.clone()),
            Cell::text(h.action.clone()),
            Cell::text(h.summary.clone()),
        ]);
    }
    Ok((vec![fields, measures, history], r))
}

fn body(app: &App, id: &str) -> Result<Markup, PageError> {
    let (tables, r) = tables(app, id)?;
    let key = crate::domain::risk::source_key(&r.source);
    let groups: Vec<linked::Group> = linked::groups(app.node.store.as_ref(), Some(&r.origin))?
        .into_iter()
        .filter(|g| Some(&g.source) == key.as_ref())
        .collect();
    let linked = super::linked::table_of(app, &groups, &Default::default())?;
    let query = format!("?risk={id}");
    Ok(html! {
        p { a href={ "/county/" (r.origin) } { "← 县 " (r.origin) } }
        @if let Some(l) = r.level() {
            div.cards {
                div.card #risk-level style={ "border-top:6px solid " (labels::level_colour(l)) } {
                    div { "等级 Level" } div.n { (labels::level(l)) }
                }
            }
        }
        @for t in &tables { (t.html(&query)) }
        (linked.html(""))
    })
}

/// GET /risk/{id}.
pub async fn page(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
    Path(id): Path<String>,
) -> Result<Markup, PageError> {
    if register_view::parse_risk_id(&id).is_none() {
        return Err(PageError::NotFound(format!(
            "{id:?} is not a risk id (like 510104-17)"
        )));
    }
    let body = body(&app, &id)?;
    Ok(layout::page(
        &staffer,
        &format!("风险 Risk {id}"),
        "",
        None,
        body,
    ))
}
