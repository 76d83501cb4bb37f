//! Linked risks across counties (跨县关联风险): risks of different counties that point at the
//! same source URL or platform account, one group per source.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Extension;
use maud::{html, Markup};

use super::{filtered, PageError};
use crate::overview::linked;
use crate::register::view as register_view;
use crate::sync::directory;
use crate::web::filters::{Filters, RawFilters};
use crate::web::labels;
use crate::web::lang::Lang;
use crate::web::session::Staffer;
use crate::web::table::{Cell, Table};
use crate::web::App;

/// Rows of the groups `groups`, a row per risk.
pub fn table_of(app: &App, groups: &[linked::Group], f: &Filters) -> Result<Table, PageError> {
    let store = app.node.store.as_ref();
    let lang = Lang::current();
    let names = directory::unit_names(store)?;
    let mut t = Table::new(
        "linked",
        lang.pick("跨县关联风险", "Linked risks across counties"),
        vec![
            "group", "source", "counties", "risk", "county", "title", "level", "status",
        ],
    )
    .headed();
    for (i, g) in groups.iter().enumerate() {
        let mut counties: Vec<&str> = g.risks.iter().map(|(c, _)| c.as_str()).collect();
        counties.dedup();
        for (county, id) in &g.risks {
            let r =
                register_view::load(store, id).map_err(|e| PageError::Internal(e.to_string()))?;
            let level = r.as_ref().and_then(|r| r.level());
            if f.level.is_some() && level != f.level {
                continue;
            }
            let status = r.as_ref().map(|r| r.status);
            t.row(vec![
                Cell::number(i as u64 + 1),
                Cell::text(g.source.clone()),
                Cell::text(counties.join(" ")).shown(
                    counties
                        .iter()
                        .map(|c| names.display(c))
                        .collect::<Vec<_>>()
                        .join(lang.pick("、", ", ")),
                ),
                Cell::text(id.clone()).link(format!("/risk/{id}")),
                Cell::text(county.clone())
                    .shown(names.display(county))
                    .link(format!("/county/{county}")),
                Cell::text(r.as_ref().map(|r| r.title.clone()).unwrap_or_default()),
                Cell::level(level),
                Cell::text(status.map(|s| s.as_str()).unwrap_or_default()).shown(
                    status
                        .map(|s| labels::status_in(lang, s))
                        .unwrap_or_default(),
                ),
            ]);
        }
    }
    Ok(t)
}

/// The linked-risks table for `f`.
pub fn tables(app: &App, f: &Filters) -> Result<Vec<Table>, PageError> {
    let groups = linked::groups(app.node.store.as_ref(), f.county.as_deref())?;
    Ok(vec![table_of(app, &groups, f)?])
}

fn body(app: &App, f: &Filters) -> Result<Markup, PageError> {
    let groups = linked::groups(app.node.store.as_ref(), f.county.as_deref())?;
    let t = table_of(app, &groups, f)?;
    let l = Lang::current();
    Ok(html! {
        p.notice { (l.pick(
            "同一来源网址或平台账号、跨越多个县的风险归为一组：一个事件，多地扩散。",
            "Risks in different counties that point at the same URL or platform account are one incident spreading across counties.",
        )) }
        div.cards { div.card { div { (l.pick("关联组", "Groups")) } div.n #groups-total { (groups.len()) } } }
        (t.html(&f.query()))
    })
}

/// GET /linked.
pub async fn page(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
    Query(raw): Query<RawFilters>,
) -> Result<Markup, PageError> {
    filtered(
        &app,
        &staffer,
        &raw,
        Lang::current().pick("跨县关联风险", "Linked risks"),
        "/linked",
        |f| body(&app, f),
    )
}
