//! A county's register (风险台账): the list with search, filters, sort and paging (answered
//! from the [`register_index`](super::register_index), fast at 100,000 risks), exported as
//! CSV or JSON; and the identify form (`/register/new`) that adds a risk.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;

use super::officer::{may_write, require_county, require_write, Refusal};
use super::register_index::{Found, Query as IndexQuery, Sort, Summary, Whose};
use super::PageError;
use crate::domain::{FocusPoint, Level, RiskStatus};
use crate::register;
use crate::timespec;
use crate::web::labels;
use crate::web::lang::Lang;
use crate::web::layout;
use crate::web::session::{Csrf, Staffer};
use crate::web::table::{Cell, Table};
use crate::web::App;

/// Risks per page.
pub const PAGE: usize = 50;
/// Most rows an export carries.
const MAX_EXPORT: usize = 100_000;

/// The list's query string as sent (empty fields mean "any").
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    /// Words to search for.
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    focus: String,
    /// `1` (or `on`, a checkbox): only risks with an overdue measure.
    #[serde(default)]
    overdue: String,
    #[serde(default)]
    sort: String,
    /// 1-based page number.
    #[serde(default)]
    page: String,
}

/// A checked list query.
#[derive(Debug, Clone, Default)]
struct Checked {
    raw: ListQuery,
    query: IndexQuery,
    page: usize,
}

fn given(s: &str) -> Option<&str> {
    Some(s.trim()).filter(|s| !s.is_empty())
}

impl ListQuery {
    fn check(self) -> Result<Checked, PageError> {
        let bad = |field: &str, e: String| PageError::Bad(format!("{field}: {e}"));
        let status = given(&self.status)
            .map(|s| s.parse::<RiskStatus>().map_err(|e| bad("status", e)))
            .transpose()?;
        let level = given(&self.level)
            .map(|s| s.parse::<Level>().map_err(|e| bad("level", e)))
            .transpose()?;
        let focus = given(&self.focus)
            .map(|s| s.parse::<FocusPoint>().map_err(|e| bad("focus", e)))
            .transpose()?;
        let sort = match given(&self.sort) {
            None => Sort::default(),
            Some(s) => Sort::parse(s).ok_or_else(|| {
                bad(
                    "sort",
                    format!("{s:?}: one of updated, created, level, due"),
                )
            })?,
        };
        let page = match given(&self.page) {
            None => 1,
            Some(p) => p
                .parse::<usize>()
                .ok()
                .filter(|p| (1..=1_000_000).contains(p))
                .ok_or_else(|| bad("page", format!("{p:?} is not a page number")))?,
        };
        let query = IndexQuery {
            whose: Whose::Own,
            text: given(&self.q).map(str::to_owned),
            status,
            level,
            focus,
            overdue: matches!(self.overdue.trim(), "1" | "on" | "true"),
            changed_after_ms: None,
            sort,
            offset: (page - 1) * PAGE,
            limit: PAGE,
        };
        Ok(Checked {
            raw: self,
            query,
            page,
        })
    }
}

impl Checked {
    /// The query string of this list on page `page` (without `page` for the first).
    fn href(&self, page: usize) -> String {
        let r = &self.raw;
        let mut parts: Vec<String> = Vec::new();
        let mut add = |k: &str, v: &str| {
            if let Some(v) = given(v) {
                parts.push(format!("{k}={}", urlencode(v)));
            }
        };
        add("q", &r.q);
        add("status", &r.status);
        add("level", &r.level);
        add("focus", &r.focus);
        if self.query.overdue {
            add("overdue", "1");
        }
        add("sort", &r.sort);
        if page > 1 {
            add("page", &page.to_string());
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }
}

/// Percent-encoding for a query value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn find(app: &App, q: &IndexQuery) -> Result<Found, PageError> {
    Ok(app.register.find(
        app.node.store.as_ref(),
        app.node.unit(),
        &timespec::today(),
        q,
    )?)
}

/// The table of `rows` (id `register`), in the page's language.
pub fn table_of(id: &'static str, title: String, rows: &[Summary], today: &str) -> Table {
    let l = Lang::current();
    let mut t = Table::new(
        id,
        title,
        vec![
            "risk",
            "title",
            "level",
            "focus",
            "status",
            "measures",
            "overdue",
            "department",
            "source",
            "updated",
        ],
    );
    t.empty = l.pick("暂无", "nothing here");
    for s in rows {
        let overdue = s.overdue(today);
        t.row(vec![
            Cell::text(s.id.clone()).link(format!("/register/{}", s.id)),
            Cell::text(s.title.clone()),
            Cell::level(s.level),
            Cell::text(labels::focus_in(l, s.focus)),
            Cell::text(labels::status_in(l, s.status)),
            Cell::number(s.measures as u64),
            Cell::text(if overdue {
                s.open_due.clone().unwrap_or_default()
            } else {
                String::new()
            })
            .alarm(overdue),
            Cell::text(s.department.clone()),
            Cell::text(s.source.clone()),
            Cell::text(super::when(s.updated_at_ms)),
        ]);
    }
    t
}

/// The register table for an export with the list's `query` string (every match, not a page).
pub fn export_table(app: &App, query: &str) -> Result<Table, PageError> {
    let uri: axum::http::Uri = format!("/?{query}")
        .parse()
        .map_err(|e| PageError::Bad(format!("the query: {e}")))?;
    let Query(raw) = Query::<ListQuery>::try_from_uri(&uri)
        .map_err(|e| PageError::Bad(format!("the query: {e}")))?;
    let mut c = raw.check()?;
    c.query.offset = 0;
    c.query.limit = MAX_EXPORT;
    let found = find(app, &c.query)?;
    Ok(table_of(
        "register",
        "风险台账 Register".into(),
        &found.rows,
        &timespec::today(),
    ))
}

fn search_form(c: &Checked, l: Lang) -> Markup {
    let r = &c.raw;
    html! {
        form.filters #register-search method="get" action="/register" role="search" {
            label { (l.pick("搜索（标题、描述、来源）", "Search (title, description, source)"))
                input type="search" name="q" value=(r.q) size="24" maxlength="200";
            }
            label { (l.pick("状态", "Status"))
                select name="status" {
                    option value="" { (l.pick("全部", "all")) }
                    @for s in RiskStatus::ALL {
                        option value=(s.as_str()) selected[c.query.status == Some(s)] { (labels::status_in(l, s)) }
                    }
                }
            }
            label { (l.pick("等级", "Level"))
                select name="level" {
                    option value="" { (l.pick("全部", "all")) }
                    @for lv in Level::ALL {
                        option value=(lv.as_str()) selected[c.query.level == Some(lv)] { (labels::level_in(l, lv)) }
                    }
                }
            }
            label { (l.pick("重点", "Focus point"))
                select name="focus" {
                    option value="" { (l.pick("全部", "all")) }
                    @for f in FocusPoint::ALL {
                        option value=(f.as_str()) selected[c.query.focus == Some(f)] { (labels::focus_in(l, f)) }
                    }
                }
            }
            label { (l.pick("排序", "Sort"))
                select name="sort" {
                    @for s in Sort::ALL {
                        option value=(s.as_str()) selected[c.query.sort == s] {
                            (match s {
                                Sort::Updated => l.pick("最近更新", "last changed"),
                                Sort::Created => l.pick("最近发现", "last identified"),
                                Sort::Level => l.pick("等级从高到低", "gravest first"),
                                Sort::Due => l.pick("措施到期先后", "earliest due measure"),
                            })
                        }
                    }
                }
            }
            label.check {
                span { (l.pick("有超期措施", "Overdue measures")) }
                input type="checkbox" name="overdue" value="1" checked[c.query.overdue];
            }
            button type="submit" { (l.pick("查询", "Search")) }
            a href="/register" { (l.pick("清除", "Clear")) }
        }
    }
}

/// GET /register.
pub async fn list(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
    Query(raw): Query<ListQuery>,
) -> Result<Markup, PageError> {
    require_county(&app)?;
    let l = Lang::current();
    let c = raw.check()?;
    let found = find(&app, &c.query)?;
    let today = timespec::today();
    let pages = found.total.div_ceil(PAGE).max(1);
    let t = table_of(
        "register",
        format!(
            "{} · {} {}",
            l.pick("风险台账", "Register"),
            found.total,
            l.pick("条", "risks")
        ),
        &found.rows,
        &today,
    );
    let export_query = c.href(1);
    let body = html! {
        @if may_write(&staffer) {
            p { a #identify href="/register/new" { "＋ " (l.pick("识别新风险", "Identify a risk")) } }
        }
        (search_form(&c, l))
        p #register-total data-total=(found.total) {
            (l.pick("共", "")) " " (found.total) " " (l.pick("条风险", "risks match"))
        }
        (t.html(&export_query))
        @if pages > 1 {
            nav.pages aria-label=(l.pick("分页", "Pages")) {
                @if c.page > 1 {
                    a #prev-page rel="prev" href={ "/register" (c.href(c.page - 1)) } { "← " (l.pick("上一页", "Previous")) }
                }
                span { (l.pick("第", "Page")) " " (c.page) " / " (pages) " " (l.pick("页", "")) }
                @if c.page < pages {
                    a #next-page rel="next" href={ "/register" (c.href(c.page + 1)) } { (l.pick("下一页", "Next")) " →" }
                }
            }
        }
    };
    Ok(layout::page(
        &staffer,
        l.pick("风险台账", "Register"),
        "/register",
        None,
        body,
    ))
}

/// The identify form's fields (every one kept when the form comes back refused).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IdentifyForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    risk_point: String,
    #[serde(default)]
    behaviours: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    focus: String,
    #[serde(default)]
    description: String,
}

fn identify_page(staffer: &Staffer, f: &IdentifyForm, refusal: Option<&Refusal>) -> Markup {
    let l = Lang::current();
    let body = html! {
        p { a href="/register" { "← " (l.pick("风险台账", "Register")) } }
        form.stack #identify-form method="post" action="/register/new" {
            (layout::csrf(staffer))
            (Refusal::show(refusal, "identify"))
            label for="f-title" { (l.pick("标题（必填）", "Title (required)")) }
            input #f-title name="title" required maxlength="200" value=(f.title);
            label for="f-source" { (l.pick("舆情源（网址或账号）", "Source (URL or account)")) }
            input #f-source name="source" maxlength="2000" value=(f.source) placeholder="https://weibo.com/…";
            label for="f-point" { (l.pick("风险点", "Risk point")) }
            input #f-point name="risk_point" maxlength="500" value=(f.risk_point);
            p.hint { (l.pick("风险点所在的具体事项或地点，写入描述开头。", "The matter or place at risk; it opens the description.")) }
            label for="f-behaviours" { (l.pick("风险行为（每行一条）", "Risk behaviours (one per line)")) }
            textarea #f-behaviours name="behaviours" rows="3" { (f.behaviours) }
            label for="f-department" { (l.pick("责任部门", "Responsible department")) }
            input #f-department name="department" maxlength="200" value=(f.department);
            label for="f-focus" { (l.pick("重点（必选）", "Focus point (required)")) }
            select #f-focus name="focus" required {
                option value="" { (l.pick("请选择", "choose one")) }
                @for p in FocusPoint::ALL {
                    option value=(p.as_str()) selected[f.focus == p.as_str()] { (p.label_zh()) " · " (labels::focus_en(p)) }
                }
            }
            label for="f-description" { (l.pick("描述", "Description")) }
            textarea #f-description name="description" rows="5" { (f.description) }
            div.actions { button type="submit" { (l.pick("登记", "Identify")) } }
        }
    };
    layout::page(
        staffer,
        l.pick("识别风险", "Identify a risk"),
        "/register",
        None,
        body,
    )
}

/// GET /register/new.
pub async fn new_form(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
) -> Result<Markup, PageError> {
    require_county(&app)?;
    require_write(&staffer)?;
    Ok(identify_page(&staffer, &IdentifyForm::default(), None))
}

/// POST /register/new: identifies the risk, then shows it; a refusal shows the form again
/// with what was typed.
pub async fn create(
    State(app): State<Arc<App>>,
    Csrf(staffer, form): Csrf<IdentifyForm>,
) -> Result<Response, PageError> {
    require_county(&app)?;
    require_write(&staffer)?;
    let l = Lang::current();
    let refused = |message: String| {
        let r = Refusal {
            form: "identify",
            message,
        };
        (
            StatusCode::BAD_REQUEST,
            identify_page(&staffer, &form, Some(&r)),
        )
            .into_response()
    };
    let focus = match form.focus.trim() {
        "" => return Ok(refused(l.pick("请选择重点", "choose a focus point").into())),
        f => match f.parse::<FocusPoint>() {
            Ok(f) => f,
            Err(e) => return Ok(refused(format!("focus: {e}"))),
        },
    };
    let point = form.risk_point.trim();
    let description = match (point.is_empty(), form.description.trim().is_empty()) {
        (true, _) => form.description.clone(),
        (false, true) => format!("{}{point}", l.pick("风险点：", "Risk point: ")),
        (false, false) => format!(
            "{}{point}\n{}",
            l.pick("风险点：", "Risk point: "),
            form.description
        ),
    };
    let command = register::Command::Create {
        title: form.title.clone(),
        description,
        focus: Some(focus),
        source: form.source.trim().to_owned(),
        behaviours: form
            .behaviours
            .lines()
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(str::to_owned)
            .collect(),
        department: form.department.trim().to_owned(),
    };
    let author = staffer.author(app.node.unit());
    match app.node.writer.submit(author.clone(), command).await {
        Ok(written) => {
            tracing::info!(risk = %written.id, %author, "risk identified on the county's pages");
            Ok(Redirect::to(&format!("/register/{}", written.id)).into_response())
        }
        Err(e) => match PageError::from(e) {
            PageError::Bad(m) => Ok(refused(m)),
            other => Err(other),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_checked_and_carried_into_links() {
        let q = ListQuery {
            q: "拆迁 补偿".into(),
            status: "风险定级".into(),
            level: "II".into(),
            overdue: "on".into(),
            page: "3".into(),
            ..ListQuery::default()
        };
        let c = q.check().unwrap();
        assert_eq!(c.query.status, Some(RiskStatus::Graded));
        assert_eq!(c.query.level, Some(Level::II));
        assert!(c.query.overdue);
        assert_eq!(c.query.offset, 2 * PAGE);
        assert_eq!(
            c.href(4),
            "?q=%E6%8B%86%E8%BF%81%20%E8%A1%A5%E5%81%BF&status=%E9%A3%8E%E9%99%A9%E5%AE%9A%E7%BA%A7&level=II&overdue=1&page=4"
        );
        assert!(!c.href(1).contains("page"));
        let bad = ListQuery {
            sort: "random".into(),
            ..ListQuery::default()
        };
        assert!(matches!(bad.check(), Err(PageError::Bad(m)) if m.contains("sort")));
        let bad = ListQuery {
            page: "0".into(),
            ..ListQuery::default()
        };
        assert!(bad.check().is_err());
    }
}
