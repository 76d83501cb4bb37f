//! One county (县级钻取): its figures, its intake figures as it last published them (舆情采集,
//! each with its definition), its link's health, its risks (paged, filtered by level and
//! focus point), and its risks linked with other counties'.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;

use super::intake::duration_text;
use super::{counties, filters, when, PageError};
use crate::domain::Level;
use crate::identity::DivisionCode;
use crate::intake::counts::permille_text;
use crate::intake::counts::{self as intake_counts, Published};
use crate::overview::linked;
use crate::register::read;
use crate::web::filters::{Filters, RawFilters};
use crate::web::labels;
use crate::web::lang::Lang;
use crate::web::layout;
use crate::web::session::Staffer;
use crate::web::table::{Cell, Table};
use crate::web::App;

/// Risks per page.
const PAGE: usize = 100;

/// The county's risks matching `f`'s level and focus point, after the risk id `after`, at
/// most `limit`; with where the next page starts.
pub fn risks_table(
    app: &App,
    county: &str,
    f: &Filters,
    after: Option<&str>,
    limit: usize,
) -> Result<(Table, Option<String>), PageError> {
    let filter = read::Filter {
        level: f.level,
        focus: f.focus,
        origin: Some(county.to_owned()),
        ..read::Filter::default()
    };
    let lang = Lang::current();
    let names = crate::sync::directory::unit_names(app.node.store.as_ref())?;
    let mut t = Table::new(
        "county-risks",
        format!(
            "{} {}",
            names.display(county),
            lang.pick("风险台账", "risks")
        ),
        vec![
            "risk", "title", "level", "focus", "status", "source", "updated",
        ],
    )
    .headed();
    let mut cursor = after.map(str::to_owned);
    let mut next = None;
    while t.rows.len() < limit {
        let want = (limit - t.rows.len()).min(read::MAX_LIMIT);
        let page = read::list(app.node.store.as_ref(), &filter, want, cursor.as_deref())?;
        for r in &page.risks {
            let level = r.level();
            t.row(vec![
                Cell::text(r.id.clone()).link(format!("/risk/{}", r.id)),
                Cell::text(r.title.clone()),
                Cell::level(level),
                Cell::text(labels::focus(r.focus)).shown(labels::focus_in(lang, r.focus)),
                Cell::text(labels::status(r.status)).shown(labels::status_in(lang, r.status)),
                Cell::text(r.source.clone()),
                Cell::text(when(r.updated_at_ms)),
            ]);
        }
        match page.next_cursor {
            Some(c) => {
                cursor = Some(c.clone());
                next = Some(c);
            }
            None => {
                next = None;
                break;
            }
        }
    }
    Ok((t, next))
}

/// The county's intake figures as it last published them, each with its one-line
/// definition, and when it published them; or that it published none.
fn intake_section(p: Option<&Published>) -> Markup {
    let l = Lang::current();
    let Some(p) = p else {
        return html! {
            section #county-intake {
                h2 { (l.pick("舆情采集（近30天）", "Intake (last 30 days)")) }
                p.empty #county-intake-none { (l.pick("该县尚未报送舆情采集数据", "this county has published no intake figures")) }
            }
        };
    };
    let c = &p.counts;
    let rate = |r: Option<u32>| r.map_or_else(|| "—".to_owned(), permille_text);
    let lead = if c.found_first == 0 {
        "—".to_owned()
    } else {
        duration_text(c.lead_median_ms, l)
    };
    let triage = if c.decided() == 0 {
        "—".to_owned()
    } else {
        duration_text(c.triage_median_ms, l)
    };
    let row =
        |id: &'static str, name: &'static str, en: &'static str, value: String, def: String| {
            html! {
                dt { (l.pick(name, en)) }
                dd id=(id) { strong { (value) } br; span.sub { (def) } }
            }
        };
    html! {
        section #county-intake {
            h2 { (match l {
                Lang::Zh => format!("舆情采集（近{}天）", c.days),
                Lang::En => format!("Intake (last {} days)", c.days),
            }) }
            p #county-intake-published {
                (l.pick("报送于 ", "published ")) (when(p.at_ms))
                " · " (l.pick("统计期 ", "period ")) (when(c.from_ms)) " – " (when(c.to_ms))
            }
            dl.fields #county-intake-figures {
                (row("county-collection-rate", "采集率", "Collection rate", rate(c.collection_permille()),
                    match l {
                        Lang::Zh => format!("本期新识别的风险点中由舆情采集转入的比例（{} / {}）", c.risks_from_intake, c.risks),
                        Lang::En => format!("of the risks identified in the period, those promoted from intake ({} of {})", c.risks_from_intake, c.risks),
                    }))
                (row("county-discovery-rate", "发现率", "Discovery rate", rate(c.discovery_permille()),
                    match l {
                        Lang::Zh => format!("其他单位也登记了同一舆情源的风险点中，本县先发现的比例（{} / {}）", c.found_first, c.contested),
                        Lang::En => format!("of the risks whose source another unit also has, those this county found first ({} of {})", c.found_first, c.contested),
                    }))
                (row("county-lead", "领先时间", "Discovery lead time", lead,
                    l.pick("本县先发现的风险点比其他单位早多久（中位数）", "how much earlier than the other unit, over the risks found first (median)").to_owned()))
                (row("county-triage-time", "研判用时", "Triage time", triage,
                    l.pick("从首次发现到研判处理的时间（中位数）", "from an item's first sighting to its triage (median)").to_owned()))
                (row("county-decisions", "研判结果", "Decisions",
                    match l {
                        Lang::Zh => format!("转为风险点 {} · 并入已有风险点 {} · 排除 {}", c.promoted, c.attached, c.dismissed),
                        Lang::En => format!("promoted {} · attached {} · dismissed {}", c.promoted, c.attached, c.dismissed),
                    },
                    l.pick("本期研判处理的采集条目", "intake items decided in the period").to_owned()))
                (row("county-intake-open", "待研判", "To triage", c.open.to_string(),
                    l.pick("报送时尚未研判的采集条目", "items not yet decided when the figures were published").to_owned()))
            }
        }
    }
}

/// Where a page of risks starts.
#[derive(Debug, Default, Deserialize)]
pub struct Paging {
    after: Option<String>,
}

fn body(app: &App, county: &str, f: &Filters, after: Option<&str>) -> Result<Markup, PageError> {
    let o = super::overview::figures(app, f)?;
    let row = o.counties.get(county).cloned().unwrap_or_default();
    let (risks, next) = risks_table(app, county, f, after, PAGE)?;
    let health = super::health::tables(app, f, Some(county))?;
    let groups = linked::groups(app.node.store.as_ref(), Some(county))?;
    let intake = intake_counts::latest(app.node.store.as_ref(), county)?;
    let linked = super::linked::table_of(app, &groups, f)?;
    let query = f.query();
    let next_href = next.map(|n| match query.as_str() {
        "" => format!("/county/{county}?after={n}"),
        q => format!("/county/{county}{q}&after={n}"),
    });
    let lang = Lang::current();
    Ok(html! {
        div.cards {
            div.card { div { (lang.pick("在管风险", "Active risks")) } div.n #county-active { (row.active()) } }
            @for (l, n) in Level::ALL.into_iter().zip(row.levels) {
                div.card style={ "border-top:6px solid " (labels::level_colour(l)) } {
                    div { (labels::level_in(lang, l)) }
                    div.n data-level=(l.as_str()) { (n) }
                }
            }
            div.card { div { (lang.pick("已化解", "Resolved")) } div.n #county-resolved { (row.resolved) } }
        }
        (intake_section(intake.as_ref()))
        @for t in &health { (t.html(&query)) }
        (risks.html(&query))
        @if let Some(href) = next_href {
            p { a #next-page href=(href) { (lang.pick("下一页 →", "Next page →")) } }
        }
        (linked.html(&query))
    })
}

/// GET /county/{code}.
pub async fn page(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
    Path(code): Path<String>,
    Query(raw): Query<RawFilters>,
    Query(paging): Query<Paging>,
) -> Result<Markup, PageError> {
    let lang = Lang::current();
    let code = DivisionCode::county(&code)
        .map_err(|e| {
            PageError::NotFound(match lang {
                Lang::Zh => format!("{code:?} 不是县级区划代码：{e}"),
                Lang::En => format!("{code:?} is not a county: {e}"),
            })
        })?
        .to_string();
    let mut f = filters(&raw)?;
    f.county = Some(code.clone());
    let counties = counties(&app)?;
    let names = crate::sync::directory::unit_names(app.node.store.as_ref())?;
    if !counties.contains(&code) {
        return Err(PageError::NotFound(match lang {
            Lang::Zh => format!("{} 尚未与本节点同步", names.display(&code)),
            Lang::En => format!(
                "county {} has not synced with this gateway",
                names.display(&code)
            ),
        }));
    }
    Ok(layout::page(
        &staffer,
        &match lang {
            Lang::Zh => format!("{} 风险概况", names.display(&code)),
            Lang::En => format!("County {}", names.display(&code)),
        },
        &format!("/county/{code}"),
        Some((&f, &counties)),
        body(&app, &code, &f, paging.after.as_deref())?,
    ))
}
