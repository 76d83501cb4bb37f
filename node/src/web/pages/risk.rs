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
use crate::web::lang::Lang;
use crate::web::layout;
use crate::web::session::Staffer;
use crate::web::table::{Cell, Table};
use crate::web::App;

/// The risk `id` with its history.
fn load(app: &App, id: &str) -> Result<RiskRecord, PageError> {
    register_view::load_full(app.node.store.as_ref(), id).map_err(|e| match e {
        RegisterError::RiskNotFound(_) => PageError::NotFound(match Lang::current() {
            Lang::Zh => format!("风险点 {id} 未送达本节点（只有已共享的风险点会送达）"),
            Lang::En => format!("no risk {id} has reached this gateway (only shared risks do)"),
        }),
        RegisterError::Store(s) => PageError::Store(s),
        other => PageError::Internal(other.to_string()),
    })
}

/// The risk's tables (fields, measures, history), and the record.
pub fn tables(app: &App, id: &str) -> Result<(Vec<Table>, RiskRecord), PageError> {
    let r = load(app, id)?;
    let lang = Lang::current();
    let names = crate::sync::directory::unit_names(app.node.store.as_ref())?;
    let mut fields = Table::new(
        "risk",
        format!("{} {id}", lang.pick("风险点", "Risk")),
        vec!["field", "value"],
    )
    .headed();
    // Exports keep the field's key and the value as before; the page shows both in `lang`.
    let mut add = |k: &'static str, v: String, shown: Option<String>| {
        let value = match shown {
            Some(s) => Cell::text(v).shown(s),
            None => Cell::text(v),
        };
        fields.row(vec![
            Cell::text(k).shown(labels::risk_field_in(lang, k)),
            value,
        ])
    };
    add("id", r.id.clone(), None);
    add("county", r.origin.clone(), Some(names.display(&r.origin)));
    add("title", r.title.clone(), None);
    add("description", r.description.clone(), None);
    add(
        "focus",
        labels::focus(r.focus),
        Some(labels::focus_in(lang, r.focus).into()),
    );
    add("source", r.source.clone(), None);
    add("behaviours", r.behaviours.join("; "), None);
    add("department", r.department.clone(), None);
    add(
        "status",
        labels::status(r.status),
        Some(labels::status_in(lang, r.status).into()),
    );
    let scope = format!("{:?}", r.scope).to_lowercase();
    let scope_shown = match (lang, scope.as_str()) {
        (Lang::Zh, "local") => "仅本县".to_owned(),
        (Lang::Zh, "neighbours") => "周边兄弟县(市)".to_owned(),
        (Lang::Zh, "province") => "全省".to_owned(),
        (Lang::Zh, "upstream") => "上报省级".to_owned(),
        _ => scope.clone(),
    };
    add("scope", scope, Some(scope_shown));
    match &r.grade {
        Some(g) => {
            add(
                "level",
                labels::level(g.level),
                Some(labels::level_in(lang, g.level)),
            );
            add(
                "scores",
                format!(
                    "influence 影响力 {} · attention 关注度 {} · diffusion 扩散度 {}",
                    g.scores.influence, g.scores.attention, g.scores.diffusion
                ),
                Some(match lang {
                    Lang::Zh => format!(
                        "影响力 {} · 关注度 {} · 扩散度 {}",
                        g.scores.influence, g.scores.attention, g.scores.diffusion
                    ),
                    Lang::En => format!(
                        "influence {} · attention {} · diffusion {}",
                        g.scores.influence, g.scores.attention, g.scores.diffusion
                    ),
                }),
            );
            add(
                "graded",
                format!(
                    "{} by {} (standard {})",
                    when(g.graded_at_ms),
                    g.graded_by,
                    g.standard_version
                ),
                (lang == Lang::Zh).then(|| {
                    format!(
                        "{} 由 {} 定级（标准 {}）",
                        when(g.graded_at_ms),
                        g.graded_by,
                        g.standard_version
                    )
                }),
            );
        }
        None => add(
            "level",
            "未定级 · ungraded".into(),
            Some(lang.pick("未定级", "ungraded").into()),
        ),
    }
    add("created", when(r.created_at_ms), None);
    add("updated", when(r.updated_at_ms), None);

    let mut measures = Table::new(
        "risk-measures",
        lang.pick("防范措施", "Preventive measures"),
        vec!["measure", "action", "owner", "due", "status"],
    )
    .headed();
    for m in &r.measures {
        measures.row(vec![
            Cell::text(m.id.clone()),
            Cell::text(m.action.clone()),
            Cell::text(m.owner.clone()),
            Cell::text(m.due.clone()),
            Cell::text(format!("{:?}", m.status).to_lowercase())
                .shown(labels::measure_status_in(lang, m.status)),
        ]);
    }

    let mut history = Table::new(
        "risk-history",
        lang.pick("历史记录", "History"),
        vec!["rev", "at", "author", "action", "summary"],
    )
    .headed();
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
    let lang = Lang::current();
    let names = crate::sync::directory::unit_names(app.node.store.as_ref())?;
    Ok(html! {
        p { a href={ "/county/" (r.origin) } { "← " (names.display(&r.origin)) } }
        @if let Some(l) = r.level() {
            div.cards {
                div.card #risk-level style={ "border-top:6px solid " (labels::level_colour(l)) } {
                    div { (lang.pick("等级", "Level")) } div.n { (labels::level_in(lang, l)) }
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
    let lang = Lang::current();
    if register_view::parse_risk_id(&id).is_none() {
        return Err(PageError::NotFound(match lang {
            Lang::Zh => format!("{id:?} 不是风险点编号（形如 510104-17）"),
            Lang::En => format!("{id:?} is not a risk id (like 510104-17)"),
        }));
    }
    let body = body(&app, &id)?;
    Ok(layout::page(
        &staffer,
        &format!("{} {id}", lang.pick("风险点", "Risk")),
        "",
        None,
        body,
    ))
}
