//! The province at a glance (全省概览): active risks by level, focus point and status, the
//! county × level table coloured by each county's worst level, new and resolved risks per
//! day, and levels that rose. The county table carries each county's intake figures as it
//! last published them ([`crate::intake::counts`]): collection and discovery rates, items to
//! triage.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Extension;
use maud::{html, Markup};

use super::{counties, filters, when, PageError};
use crate::domain::{FocusPoint, Level, RiskStatus};
use crate::intake::counts::permille_text;
use crate::intake::counts::{self as intake_counts, Published};
use crate::overview::{self, day_text, Overview};
use crate::sync::directory::{self, UnitNames};
use crate::web::chart::{self, Bar, Day};
use crate::web::filters::{Filters, RawFilters};
use crate::web::labels;
use crate::web::lang::Lang;
use crate::web::layout;
use crate::web::session::Staffer;
use crate::web::table::{Cell, Table};
use crate::web::App;

/// The overview's figures for `f`.
pub fn figures(app: &App, f: &Filters) -> Result<Overview, PageError> {
    Ok(overview::overview(app.node.store.as_ref(), &f.overview())?)
}

/// Each county's latest published intake figures, by code.
pub fn intake_figures(app: &App) -> Result<BTreeMap<String, Published>, PageError> {
    Ok(intake_counts::all(app.node.store.as_ref())?
        .into_iter()
        .map(|p| (p.county.clone(), p))
        .collect())
}

/// The intake cells of a county's row: collection rate, discovery rate (with found first of
/// contested on the page), items to triage; empty in exports and `—` on the page when the
/// county published nothing (or a rate has nothing to count).
fn intake_cells(p: Option<&Published>) -> [Cell; 3] {
    let none = || Cell::text("").shown("—");
    let Some(p) = p else {
        return [none(), none(), none()];
    };
    let c = &p.counts;
    let collection = match c.collection_permille() {
        Some(r) => Cell::text(permille_text(r)),
        None => none(),
    };
    let fraction = format!("({}/{})", c.found_first, c.contested);
    let discovery = match c.discovery_permille() {
        Some(r) => Cell::text(permille_text(r)).shown(format!("{} {fraction}", permille_text(r))),
        None => Cell::text("").shown(format!("— {fraction}")),
    };
    [collection, discovery, Cell::number(c.open)]
}

/// The overview's tables: levels, focus, status, counties, days, rises. Headings and labels
/// in the page's language; exports keep the machine names and the bilingual labels. `intake`:
/// each county's published intake figures ([`intake_figures`]).
pub fn tables_of(
    o: &Overview,
    names: &UnitNames,
    f: &Filters,
    intake: &BTreeMap<String, Published>,
) -> Vec<Table> {
    let lang = Lang::current();
    let mut levels = Table::new(
        "levels",
        lang.pick("在管风险（按等级）", "Active risks by level"),
        vec!["level", "label", "active"],
    )
    .headed();
    for (l, n) in Level::ALL.into_iter().zip(o.by_level) {
        levels.row(vec![
            Cell::level(Some(l)),
            Cell::text(labels::level(l)).shown(labels::level_in(lang, l)),
            Cell::number(n),
        ]);
    }
    levels.row(vec![
        Cell::text("—"),
        Cell::text("未定级 · ungraded").shown(lang.pick("未定级", "ungraded")),
        Cell::number(o.ungraded),
    ]);

    let mut focus = Table::new(
        "focus",
        lang.pick("在管风险（按重点）", "Active risks by focus point"),
        vec!["focus", "label", "active"],
    )
    .headed();
    for p in FocusPoint::ALL {
        focus.row(vec![
            Cell::text(p.as_str()),
            Cell::text(labels::focus(p)).shown(labels::focus_in(lang, p)),
            Cell::number(o.by_focus.get(&p).copied().unwrap_or(0)),
        ]);
    }

    let mut status = Table::new(
        "status",
        lang.pick("风险（按状态）", "Risks by status"),
        vec!["status", "label", "risks"],
    )
    .headed();
    for s in RiskStatus::ALL {
        status.row(vec![
            Cell::text(s.as_str()),
            Cell::text(labels::status(s)).shown(labels::status_in(lang, s)),
            Cell::number(o.by_status.get(&s).copied().unwrap_or(0)),
        ]);
    }

    let mut counties = Table::new(
        "counties",
        lang.pick("各县风险（按等级）", "Counties by level"),
        vec![
            "county_name",
            "county",
            "I",
            "II",
            "III",
            "IV",
            "ungraded",
            "active",
            "resolved",
            "worst",
            "collection_rate",
            "discovery_rate",
            "intake_open",
        ],
    )
    .headed();
    for (c, row) in &o.counties {
        let worst = row.worst();
        // People read the name then the code (`锦江区 | 510104`); exports keep the bare code in
        // `county`, the name beside it.
        let mut name = Cell::text(names.name(c).unwrap_or_default())
            .link(format!("/county/{c}{}", f.query_with(Some(c))));
        if let Some(l) = worst {
            // The row's colour: its worst level, as a bar down the county's first cell.
            name = name.style(format!("border-left:8px solid {}", labels::level_colour(l)));
        }
        let county = Cell::text(c.clone()).link(format!("/county/{c}{}", f.query_with(Some(c))));
        let mut cells = vec![name, county];
        cells.extend(row.levels.iter().map(|n| Cell::number(*n)));
        cells.push(Cell::number(row.ungraded));
        cells.push(Cell::number(row.active()));
        cells.push(Cell::number(row.resolved));
        cells.push(match worst {
            Some(l) => Cell::level(Some(l)),
            None => Cell::text(""),
        });
        cells.extend(intake_cells(intake.get(c)));
        counties.row(cells);
    }

    let mut days = Table::new(
        "days",
        lang.pick("每日新增与化解", "New and resolved per day"),
        vec!["day", "new", "resolved"],
    )
    .headed();
    for (d, r) in &o.days {
        days.row(vec![
            Cell::text(day_text(*d)),
            Cell::number(r.new),
            Cell::number(r.resolved),
        ]);
    }

    let mut rises = Table::new(
        "rises",
        lang.pick("等级上升", "Levels that rose"),
        vec!["risk", "county_name", "county", "title", "from", "to", "at"],
    )
    .headed();
    for r in &o.rises {
        rises.row(vec![
            Cell::text(r.id.clone()).link(format!("/risk/{}", r.id)),
            Cell::text(names.name(&r.origin).unwrap_or_default()),
            Cell::text(r.origin.clone()),
            Cell::text(r.title.clone()),
            Cell::level(Some(r.from)),
            Cell::level(Some(r.to)),
            Cell::text(when(r.at_ms)),
        ]);
    }
    vec![levels, focus, status, counties, days, rises]
}

/// The overview's tables for `f`.
pub fn tables(app: &App, f: &Filters) -> Result<Vec<Table>, PageError> {
    let names = directory::unit_names(app.node.store.as_ref())?;
    Ok(tables_of(
        &figures(app, f)?,
        &names,
        f,
        &intake_figures(app)?,
    ))
}

/// The cards and charts above the tables.
fn summary(o: &Overview) -> Markup {
    let lang = Lang::current();
    let level_bars: Vec<Bar> = Level::ALL
        .into_iter()
        .zip(o.by_level)
        .map(|(l, n)| Bar {
            label: labels::level_in(lang, l),
            value: n,
            colour: labels::level_colour(l),
        })
        .collect();
    let focus_bars: Vec<Bar> = FocusPoint::ALL
        .into_iter()
        .map(|p| Bar {
            label: labels::focus_in(lang, p).to_owned(),
            value: o.by_focus.get(&p).copied().unwrap_or(0),
            colour: "#5d6d7e",
        })
        .collect();
    let days: Vec<Day> = o
        .days
        .iter()
        .map(|(d, r)| Day {
            day: day_text(*d),
            new: r.new,
            resolved: r.resolved,
        })
        .collect();
    html! {
        div.cards {
            div.card { div { (lang.pick("在管风险", "Active risks")) } div.n #active-total { (o.active()) } }
            @for (l, n) in Level::ALL.into_iter().zip(o.by_level) {
                div.card style={ "border-top:6px solid " (labels::level_colour(l)) } {
                    div { (labels::level_in(lang, l)) }
                    div.n data-level=(l.as_str()) { (n) }
                }
            }
            div.card { div { (lang.pick("未定级", "Ungraded")) } div.n #ungraded { (o.ungraded) } }
        }
        div.charts {
            (chart::bars("chart-levels", lang.pick("按等级（在管）", "Active risks by level"), &level_bars))
            (chart::bars("chart-focus", lang.pick("按重点（在管）", "Active risks by focus point"), &focus_bars))
        }
        div.charts {
            (chart::days("chart-days", lang.pick("每日新增与化解", "New and resolved per day"), &days))
        }
    }
}

/// The overview page's HTML for `f` (also what the benchmark renders).
pub fn render(app: &App, staffer: &Staffer, f: &Filters) -> Result<Markup, PageError> {
    let o = figures(app, f)?;
    let query = f.query();
    let names = directory::unit_names(app.node.store.as_ref())?;
    let tables = tables_of(&o, &names, f, &intake_figures(app)?);
    let counties = counties(app)?;
    let lang = Lang::current();
    Ok(layout::page(
        staffer,
        &format!(
            "{} · {}",
            lang.pick("全省概览", "Province overview"),
            names.display(app.node.unit())
        ),
        "/",
        Some((f, &counties)),
        html! {
            (summary(&o))
            @for t in &tables { (t.html(&query)) }
        },
    ))
}

/// GET /.
pub async fn page(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
    Query(raw): Query<RawFilters>,
) -> Result<Markup, PageError> {
    render(&app, &staffer, &filters(&raw)?)
}
