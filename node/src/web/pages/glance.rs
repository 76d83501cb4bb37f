//! A county at a glance (概况, the county's home `/`): its active risks by level and focus
//! point (from the overview's counts, never a scan), risks identified and resolved per day
//! over 30 days, the risks with overdue measures, and its risks linked with other counties'
//! by source. At the province, `/` stays the provincial overview.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Extension;
use maud::{html, Markup};

use super::officer::may_write;
use super::register_index::{Query as IndexQuery, Sort, Whose};
use super::PageError;
use crate::domain::{FocusPoint, Level};
use crate::identity::Identity;
use crate::overview::{self, day_text, linked};
use crate::register::read;
use crate::timespec;
use crate::web::chart::{self, Bar, Day};
use crate::web::filters::RawFilters;
use crate::web::labels;
use crate::web::lang::Lang;
use crate::web::layout;
use crate::web::session::Staffer;
use crate::web::table::{Cell, Table};
use crate::web::App;

/// Days the trend covers.
const TREND_DAYS: i64 = 30;
/// Risks with overdue measures listed at most.
const OVERDUE_SHOWN: usize = 20;

/// GET /: the county at a glance, or the province's overview at the gateway.
pub async fn home(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
    query: Query<RawFilters>,
) -> Result<Markup, PageError> {
    if !matches!(app.node.identity, Identity::County(_)) {
        return super::overview::page(State(app), Extension(staffer), query).await;
    }
    page(&app, &staffer)
}

/// The county's risks linked with other counties' by source (table `county-linked`).
pub fn linked_table(app: &App, l: Lang) -> Result<Table, PageError> {
    let store = app.node.store.as_ref();
    let groups = linked::groups(store, Some(app.node.unit()))?;
    let mut t = Table::new(
        "county-linked",
        l.pick("跨县关联风险", "Risks linked across counties"),
        vec!["group", "source", "risk", "county", "title", "level"],
    );
    t.empty = l.pick("暂无", "nothing here");
    for (i, g) in groups.iter().enumerate() {
        for (county, id) in &g.risks {
            let r = read::find(store, id).map_err(|e| PageError::Internal(e.to_string()))?;
            t.row(vec![
                Cell::number(i as u64 + 1),
                Cell::text(g.source.clone()),
                Cell::text(id.clone()).link(format!("/register/{id}")),
                Cell::text(county.clone()),
                Cell::text(r.as_ref().map(|r| r.title.clone()).unwrap_or_default()),
                Cell::level(r.and_then(|r| r.level())),
            ]);
        }
    }
    Ok(t)
}

fn page(app: &App, staffer: &Staffer) -> Result<Markup, PageError> {
    let l = Lang::current();
    let store = app.node.store.as_ref();
    let unit = app.node.unit();
    let now = timespec::now_ms();
    let o = overview::overview(
        store,
        &overview::Filter {
            county: Some(unit.to_owned()),
            from_ms: now - (TREND_DAYS - 1) * 86_400_000,
            to_ms: now,
            ..overview::Filter::default()
        },
    )?;
    let today = timespec::today();
    let overdue = app.register.find(
        store,
        unit,
        &today,
        &IndexQuery {
            whose: Whose::Own,
            overdue: true,
            sort: Sort::Due,
            limit: OVERDUE_SHOWN,
            ..IndexQuery::default()
        },
    )?;
    let level_bars: Vec<Bar> = Level::ALL
        .into_iter()
        .zip(o.by_level)
        .map(|(lv, n)| Bar {
            label: labels::level_in(l, lv),
            value: n,
            colour: labels::level_colour(lv),
        })
        .chain(std::iter::once(Bar {
            label: l.pick("未定级", "ungraded").to_owned(),
            value: o.ungraded,
            colour: "#9aa1ad",
        }))
        .collect();
    let focus_bars: Vec<Bar> = FocusPoint::ALL
        .into_iter()
        .map(|f| Bar {
            label: labels::focus_in(l, f).to_owned(),
            value: o.by_focus.get(&f).copied().unwrap_or(0),
            colour: "#8b1a1a",
        })
        .collect();
    let days: Vec<Day> = o
        .days
        .iter()
        .map(|(d, row)| Day {
            day: day_text(*d),
            new: row.new,
            resolved: row.resolved,
        })
        .collect();
    let overdue_table = super::register::table_of(
        "register",
        format!(
            "{} ({})",
            l.pick("措施超期的风险", "Risks with overdue measures"),
            overdue.total
        ),
        &overdue.rows,
        &today,
    );
    let linked = linked_table(app, l)?;
    let body = html! {
        div.cards {
            div.card { div { (l.pick("在管风险", "Active risks")) } div.n #glance-active { (o.active()) } }
            @for (lv, n) in Level::ALL.into_iter().zip(o.by_level) {
                div.card style={ "border-top:6px solid " (labels::level_colour(lv)) } {
                    div { (labels::level_in(l, lv)) }
                    div.n data-level=(lv.as_str()) { (n) }
                }
            }
            div.card { div { (l.pick("措施超期", "Overdue measures")) } div.n.alarm[overdue.total > 0] #glance-overdue { (overdue.total) } }
        }
        @if may_write(staffer) {
            p { a href="/register/new" { "＋ " (l.pick("识别新风险", "Identify a risk")) } }
        }
        div.charts {
            (chart::bars("chart-levels", l.pick("按等级（在管）", "Active risks by level"), &level_bars))
            (chart::bars("chart-focus", l.pick("按重点（在管）", "Active risks by focus point"), &focus_bars))
        }
        div.charts {
            (chart::days("chart-days", l.pick("近 30 天每日新发现与化解", "Identified and resolved per day, last 30 days"), &days))
        }
        (overdue_table.html("?overdue=1"))
        @if overdue.total > OVERDUE_SHOWN {
            p { a href="/register?overdue=1&sort=due" { (l.pick("查看全部超期风险 →", "All risks with overdue measures →")) } }
        }
        (linked.html(""))
        p.sub { (l.pick("更新于", "As of")) " " (super::when(now)) }
    };
    Ok(layout::page(
        staffer,
        &format!("{} {}", l.pick("概况", "At a glance"), unit),
        "/",
        None,
        body,
    ))
}
