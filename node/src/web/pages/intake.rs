//! A county's intake (舆情采集): the triage list (`/intake`: open items, flagged ones first;
//! every item with `?all=1`; one candidate incident with `?incident=`), one item
//! (`/intake/{id}`) with its sightings, figures, flags, the candidate incident's other items
//! and what was decided, the triage forms ([`super::intake_forms`]: promote into a risk,
//! attach to a risk, dismiss with a reason), the rates (`/intake/rates`), and a link to import
//! a file ([`super::intake_import`]). Every decision
//! goes through the county's [`IntakeDesk`] as the signed-in person.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;

use super::intake_forms::{self, IntakeForms, FORMS};
use super::officer::{may_write, require_county, require_write, People, Refusal};
use super::register::urlencode;
use super::register_index::{Query as IndexQuery, Sort, Whose};
use super::{when, PageError};
use crate::intake::store::{self as items, Triage};
use crate::intake::Item;
use crate::services::intake_desk::{DeskError, IntakeDesk, Rates, OPEN_COUNT_CAP};
use crate::services::intake_pull::FeedStatus;
use crate::timespec;
use crate::web::labels;
use crate::web::lang::Lang;
use crate::web::layout;
use crate::web::session::{Csrf, Staffer};
use crate::web::table::{Cell, Table};
use crate::web::App;

/// Items per page of the list.
pub const PAGE: usize = 50;
/// Open items the navigation counts at most (a page render must stay cheap).
pub const NAV_COUNT_CAP: usize = 1000;
/// Characters of an item's text the list shows.
const EXCERPT_CHARS: usize = 80;
/// Risks offered to attach to.
const ATTACH_CHOICES: usize = 20;

/// The county's intake desk, or 404 (a gateway, or a node without intake).
pub(super) fn desk(app: &App) -> Result<Arc<IntakeDesk>, PageError> {
    require_county(app)?;
    app.node.intake.clone().ok_or_else(|| {
        PageError::NotFound(
            Lang::current()
                .pick("本节点未开启舆情采集", "this node has no intake")
                .to_owned(),
        )
    })
}

/// How many items wait for triage, for the navigation (counted up to [`NAV_COUNT_CAP`]).
pub fn open_count(app: &App) -> Option<u64> {
    app.node.intake.as_ref()?;
    match items::open_counts(app.node.store.as_ref(), NAV_COUNT_CAP) {
        Ok((open, _)) => Some(open),
        Err(e) => {
            tracing::warn!(error = %e, "counting open intake items for the header");
            None
        }
    }
}

/// The list's query string.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    /// `1`: every item, newest first, not only the open ones.
    #[serde(default)]
    all: String,
    /// One candidate incident's items.
    #[serde(default)]
    incident: String,
    /// 1-based page number.
    #[serde(default)]
    page: String,
}

/// Which items a list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Which {
    Open,
    All,
    Incident(String),
}

impl ListQuery {
    fn check(&self) -> Result<(Which, usize), PageError> {
        let page = match self.page.trim() {
            "" => 1,
            p => p
                .parse::<usize>()
                .ok()
                .filter(|p| (1..=100_000).contains(p))
                .ok_or_else(|| {
                    PageError::Bad(format!(
                        "page: {p:?} {}",
                        Lang::current().pick("不是页码", "is not a page number")
                    ))
                })?,
        };
        let which = if !self.incident.trim().is_empty() {
            Which::Incident(self.incident.trim().to_owned())
        } else if matches!(self.all.trim(), "1" | "on" | "true") {
            Which::All
        } else {
            Which::Open
        };
        Ok((which, page))
    }
}

impl Which {
    /// The query string of this list on `page`.
    fn href(&self, page: usize) -> String {
        let mut parts = Vec::new();
        match self {
            Which::Open => {}
            Which::All => parts.push("all=1".to_owned()),
            Which::Incident(i) => parts.push(format!("incident={}", urlencode(i))),
        }
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }
}

/// One page of the list (one more than asked, to know whether another page follows).
fn fetch(app: &App, which: &Which, skip: usize, limit: usize) -> Result<Vec<Item>, PageError> {
    let store = app.node.store.as_ref();
    Ok(match which {
        Which::Open => items::open_items(store, skip, limit)?,
        Which::All => items::newest(store, skip + limit)?
            .into_iter()
            .skip(skip)
            .collect(),
        Which::Incident(key) => {
            let mut out = Vec::new();
            for id in items::incident_items(store, key)?
                .into_iter()
                .rev()
                .skip(skip)
                .take(limit)
            {
                out.extend(items::item(store, id)?);
            }
            out
        }
    })
}

/// The flags of `item` as people read them: the focus points its watch rules suggest.
fn flag_text(item: &Item, l: Lang) -> String {
    let mut focus: Vec<&str> = Vec::new();
    for f in &item.flags {
        let label = labels::focus_in(l, f.focus);
        if !focus.contains(&label) {
            focus.push(label);
        }
    }
    focus.join(l.pick("、", ", "))
}

/// What was decided, in a word.
fn state_text(t: &Triage, l: Lang) -> &'static str {
    match t {
        Triage::Open => l.pick("待研判", "open"),
        Triage::Promoted { .. } => l.pick("已转为风险点", "promoted"),
        Triage::Attached { .. } => l.pick("已并入风险点", "attached"),
        Triage::Dismissed { .. } => l.pick("已排除", "dismissed"),
    }
}

fn excerpt(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = one_line.chars().take(EXCERPT_CHARS).collect();
    if one_line.chars().count() > EXCERPT_CHARS {
        out.push('…');
    }
    out
}

fn who_posted(item: &Item) -> String {
    if item.account.is_empty() {
        item.platform.clone()
    } else {
        format!("{} {}", item.platform, item.account)
    }
}

/// The table of `list` (id `intake`).
fn table_of(title: String, list: &[Item], l: Lang) -> Table {
    let mut t = Table::new(
        "intake",
        title,
        vec![
            "item",
            "flag",
            "source",
            "text",
            "sightings",
            "views",
            "reposts",
            "comments",
            "likes",
            "last_seen",
            "state",
        ],
    );
    t.empty = l.pick("暂无待研判的舆情", "nothing to triage");
    for i in list {
        let flag = flag_text(i, l);
        let flagged = !flag.is_empty();
        t.row(vec![
            Cell::text(i.id.to_string()).link(format!("/intake/{}", i.id)),
            Cell::text(flag).alarm(flagged),
            Cell::text(who_posted(i)),
            Cell::text(excerpt(&i.text)).link(format!("/intake/{}", i.id)),
            Cell::number(i.sightings),
            Cell::number(i.engagement.views.max(0) as u64),
            Cell::number(i.engagement.reposts.max(0) as u64),
            Cell::number(i.engagement.comments.max(0) as u64),
            Cell::number(i.engagement.likes.max(0) as u64),
            Cell::text(when(i.last_seen_ms)),
            Cell::text(i.triage.as_str()).shown(state_text(&i.triage, l)),
        ]);
    }
    let headings = [
        ("编号", "Item"),
        ("命中规则", "Flag"),
        ("平台 · 账号", "Platform · account"),
        ("内容摘要", "Excerpt"),
        ("发现次数", "Sightings"),
        ("阅读", "Views"),
        ("转发", "Reposts"),
        ("评论", "Comments"),
        ("点赞", "Likes"),
        ("最近发现", "Last seen"),
        ("状态", "State"),
    ];
    t.headings = headings
        .iter()
        .map(|(zh, en)| l.pick(zh, en).to_owned())
        .collect();
    t
}

/// The intake table for an export with the list's `query` string (the first 1,000).
pub fn export_table(app: &App, query: &str) -> Result<Table, PageError> {
    desk(app)?;
    let uri: axum::http::Uri = format!("/?{query}")
        .parse()
        .map_err(|e| PageError::Bad(format!("the query: {e}")))?;
    let Query(raw) = Query::<ListQuery>::try_from_uri(&uri)
        .map_err(|e| PageError::Bad(format!("the query: {e}")))?;
    let (which, _) = raw.check()?;
    let list = fetch(app, &which, 0, 1000)?;
    Ok(table_of("舆情采集 Intake".into(), &list, Lang::current()))
}

/// GET /intake.
pub async fn list(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
    Query(raw): Query<ListQuery>,
) -> Result<Markup, PageError> {
    desk(&app)?;
    let l = Lang::current();
    let (which, page) = raw.check()?;
    let (open, flagged) = items::open_counts(app.node.store.as_ref(), OPEN_COUNT_CAP)?;
    let capped = |n: u64| {
        if n as usize >= OPEN_COUNT_CAP {
            format!("{n}+")
        } else {
            n.to_string()
        }
    };
    let mut list = fetch(&app, &which, (page - 1) * PAGE, PAGE + 1)?;
    let more = list.len() > PAGE;
    list.truncate(PAGE);
    let title = match &which {
        Which::Open => l
            .pick("待研判（命中规则的在前）", "To triage (flagged first)")
            .to_owned(),
        Which::All => l
            .pick("全部（最近发现在前）", "Every item (newest first)")
            .to_owned(),
        Which::Incident(key) => {
            format!("{} {key}", l.pick("疑似同一事件：", "Candidate incident:"))
        }
    };
    let t = table_of(title, &list, l);
    let tab = |w: Which, zh: &'static str, en: &'static str| {
        let here = std::mem::discriminant(&w) == std::mem::discriminant(&which);
        html! {
            a class=[here.then_some("here")] aria-current=[here.then_some("page")] href={ "/intake" (w.href(1)) } { (l.pick(zh, en)) }
        }
    };
    let feeds = desk(&app)?.feeds().snapshot();
    let body = html! {
        // The list reloads when observations are recorded (live.js reads this marker).
        span #live-intake hidden {}
        div.cards {
            div.card #intake-open data-n=(open) { div { (l.pick("待研判", "To triage")) } div.n { (capped(open)) } }
            div.card #intake-flagged data-n=(flagged) { div { (l.pick("命中规则", "Flagged")) } div.n { (capped(flagged)) } }
        }
        nav.pages #intake-tabs aria-label=(l.pick("列表", "Lists")) {
            (tab(Which::Open, "待研判", "To triage"))
            (tab(Which::All, "全部", "Every item"))
            a href="/intake/rates" { (l.pick("采集率", "Rates")) }
            @if may_write(&staffer) {
                a #intake-import-link href="/intake/import" { (l.pick("导入文件", "Import a file")) }
            }
        }
        (t.html(&which.href(1)))
        @if !feeds.is_empty() {
            (feeds_table(&feeds, l))
        }
        @if page > 1 || more {
            nav.pages aria-label=(l.pick("分页", "Pages")) {
                @if page > 1 {
                    a #prev-page rel="prev" href={ "/intake" (which.href(page - 1)) } { "← " (l.pick("上一页", "Previous")) }
                }
                span { (l.pick("第", "Page")) " " (page) " " (l.pick("页", "")) }
                @if more {
                    a #next-page rel="next" href={ "/intake" (which.href(page + 1)) } { (l.pick("下一页", "Next")) " →" }
                }
            }
        }
    };
    Ok(layout::page(
        &staffer,
        l.pick("舆情采集", "Intake"),
        "/intake",
        None,
        body,
    ))
}

/// The county's RSS/Atom feeds and how their pulls fare, so a failing one is seen where its
/// findings are missed.
fn feeds_table(feeds: &[FeedStatus], l: Lang) -> Markup {
    let at = |ms: Option<i64>| ms.map_or_else(|| "—".to_owned(), when);
    html! {
        h2 { (l.pick("订阅源", "Feeds")) }
        table #intake-feeds {
            thead { tr {
                th { (l.pick("名称", "Name")) }
                th { (l.pick("最近成功", "Last success")) }
                th { (l.pick("连续失败", "Failures in a row")) }
                th { (l.pick("最近错误", "Last error")) }
                th { (l.pick("下次读取", "Next fetch")) }
            } }
            tbody {
                @for f in feeds {
                    tr data-feed=(f.name) data-failures=(f.consecutive_failures)
                        class=[(f.consecutive_failures > 0).then_some("overdue")] {
                        td { (f.name) }
                        td { (at(f.last_success_ms)) }
                        td { (f.consecutive_failures) }
                        td { (f.last_error.as_deref().unwrap_or("—")) }
                        td { (at(f.next_attempt_ms)) }
                    }
                }
            }
        }
    }
}

/// The item `id` of the path, or 404.
fn load(app: &App, id: &str) -> Result<Item, PageError> {
    let l = Lang::current();
    let n = id.parse::<u64>().map_err(|_| {
        PageError::NotFound(format!(
            "{id:?}: {}",
            l.pick("不是采集条目编号", "not an intake item number")
        ))
    })?;
    items::item(app.node.store.as_ref(), n)?.ok_or_else(|| {
        PageError::NotFound(format!(
            "{n}: {}",
            l.pick(
                "没有这一条（或已过保存期被清除）",
                "no such item (or purged after the retention period)"
            )
        ))
    })
}

/// `?propose=A-D` after an attach: the scores a re-grade would take.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ItemQuery {
    #[serde(default)]
    propose: String,
}

fn proposal(q: &ItemQuery) -> Option<(u32, u32)> {
    let (a, d) = q.propose.split_once('-')?;
    let (a, d) = (a.parse().ok()?, d.parse().ok()?);
    ((1..=5).contains(&a) && (1..=5).contains(&d)).then_some((a, d))
}

fn render(
    app: &App,
    staffer: &Staffer,
    item: &Item,
    forms: Option<&IntakeForms>,
    refusal: Option<&Refusal>,
    propose: Option<(u32, u32)>,
) -> Result<Markup, PageError> {
    let l = Lang::current();
    let desk = desk(app)?;
    let people = People::of(app)?;
    let store = app.node.store.as_ref();
    let others: Vec<u64> = items::incident_items(store, &item.incident)?
        .into_iter()
        .filter(|o| *o != item.id)
        .rev()
        .take(50)
        .collect();
    let e = &item.engagement;
    let body = html! {
        p { a href="/intake" { "← " (l.pick("舆情采集", "Intake")) } }
        @if let (Some((a, d)), Some(risk)) = (propose, item.triage.risk()) {
            p.notice #propose-regrade role="status" {
                (l.pick("该条的传播数据已超过风险点的现有定级，建议重新定级：", "Its figures rose past the risk's grade; consider re-grading with "))
                (l.pick("关注度 ", "attention ")) strong { (a) } (l.pick("、扩散度 ", ", diffusion ")) strong { (d) } " · "
                a href={ "/register/" (risk) "#form-grade" } { (l.pick("去重新定级", "Re-grade")) }
            }
        }
        dl.fields #intake-fields {
            dt { (l.pick("编号", "Item")) } dd { (item.id) }
            dt { (l.pick("状态", "State")) }
            dd #intake-state data-state=(item.triage.as_str()) {
                (state_text(&item.triage, l))
                @match &item.triage {
                    Triage::Open => {}
                    Triage::Promoted { risk, by, at_ms } | Triage::Attached { risk, by, at_ms } => {
                        " · " a #intake-risk href={ "/register/" (risk) } { (risk) }
                        " · " (people.who(by)) " · " (when(*at_ms))
                    }
                    Triage::Dismissed { reason, by, at_ms } => {
                        " · " (l.pick("理由：", "because: ")) span #intake-reason { (reason) }
                        " · " (people.who(by)) " · " (when(*at_ms))
                    }
                }
            }
            dt { (l.pick("网址", "URL")) }
            dd { a #intake-url href=(item.url) rel="noopener noreferrer" target="_blank" { (item.url) } }
            dt { (l.pick("平台 · 账号", "Platform · account")) } dd { (who_posted(item)) }
            dt { (l.pick("内容", "Text")) } dd #intake-text style="white-space:pre-wrap" { (item.text) }
            dt { (l.pick("传播数据", "Figures")) }
            dd #intake-figures {
                (l.pick("阅读 ", "views ")) (e.views) " · " (l.pick("转发 ", "reposts ")) (e.reposts) " · "
                (l.pick("评论 ", "comments ")) (e.comments) " · " (l.pick("点赞 ", "likes ")) (e.likes)
                " (" (l.pick("采集于 ", "captured ")) (when(item.engagement_at_ms)) ")"
            }
            dt { (l.pick("发现次数", "Sightings")) }
            dd #intake-sightings { (item.sightings) " · " (l.pick("首次 ", "first ")) (when(item.first_seen_ms)) " · " (l.pick("最近 ", "last ")) (when(item.last_seen_ms)) }
            dt { (l.pick("关键词", "Keywords")) } dd { (item.keywords.join("、")) }
            dt { (l.pick("命中规则", "Flags")) }
            dd #intake-flags {
                @for (i, f) in item.flags.iter().enumerate() {
                    @if i > 0 { "；" }
                    (labels::focus_in(l, f.focus)) " (" code { (f.pattern) } ")"
                }
            }
            dt { (l.pick("采集系统", "System")) } dd { (item.system) " · " (item.system_id) }
            dt { (l.pick("疑似同一事件", "Candidate incident")) }
            dd #intake-incident {
                a href={ "/intake?incident=" (urlencode(&item.incident)) } { (item.incident) }
                @if !others.is_empty() {
                    " · " (l.pick("其他条目：", "other items: "))
                    @for (i, o) in others.iter().enumerate() {
                        @if i > 0 { "、" }
                        a href={ "/intake/" (o) } { (o) }
                    }
                }
            }
        }
        @if item.triage.is_open() && may_write(staffer) {
            @let s = desk.suggestion(item, &app.node.standard);
            @let suggested = IntakeForms::suggested(&s);
            (intake_forms::forms(staffer, item, &s, forms.unwrap_or(&suggested), refusal, &attach_choices(app)?))
        }
    };
    Ok(layout::page(
        staffer,
        &format!("{} {}", l.pick("舆情采集", "Intake item"), item.id),
        "/intake",
        None,
        body,
    ))
}

/// The county's newest open risks, to pick one to attach to: (id, title).
fn attach_choices(app: &App) -> Result<Vec<(String, String)>, PageError> {
    let q = IndexQuery {
        whose: Whose::Own,
        text: None,
        status: None,
        level: None,
        focus: None,
        overdue: false,
        changed_after_ms: None,
        sort: Sort::Created,
        offset: 0,
        limit: ATTACH_CHOICES * 3,
    };
    let found = app.register.find(
        app.node.store.as_ref(),
        app.node.unit(),
        &timespec::today(),
        &q,
    )?;
    Ok(found
        .rows
        .into_iter()
        .filter(|s| !s.status.is_closed())
        .take(ATTACH_CHOICES)
        .map(|s| (s.id, s.title))
        .collect())
}

/// GET /intake/{id}.
pub async fn page(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
    Path(id): Path<String>,
    Query(q): Query<ItemQuery>,
) -> Result<Markup, PageError> {
    desk(&app)?;
    let item = load(&app, &id)?;
    render(&app, &staffer, &item, None, None, proposal(&q))
}

/// A refused triage step in the reader's language: `Ok` is shown beside the form, `Err`
/// is a failure of the node.
fn refusal_text(e: DeskError) -> Result<String, PageError> {
    use crate::intake::store::TriageError;
    use crate::register::RegisterError;
    let l = Lang::current();
    Ok(match e {
        DeskError::Triage(TriageError::NoItem(id)) => format!(
            "{id}: {}",
            l.pick(
                "没有这一条（或已过保存期被清除）",
                "no such item (or purged after the retention period)"
            )
        ),
        DeskError::Triage(TriageError::Decided { state, risk, .. }) => format!(
            "{}{state}{risk}",
            l.pick("该条已处理：", "this item was already ")
        ),
        DeskError::Triage(TriageError::NoReason) => l
            .pick("请填写排除理由", "say why this is not a risk")
            .to_owned(),
        DeskError::NoFocus(_) => l.pick("请选择重点", "choose a focus point").to_owned(),
        DeskError::NotOurs { risk, origin, .. } => match l {
            Lang::Zh => format!("风险点 {risk} 属于 {origin}，只能并入本县的风险点"),
            Lang::En => format!("risk {risk} is {origin}'s: attach to a risk of this county"),
        },
        DeskError::Register(RegisterError::RiskNotFound(risk)) => match l {
            Lang::Zh => format!("本县没有风险点 {risk}"),
            Lang::En => format!("this county has no risk {risk}"),
        },
        DeskError::Register(RegisterError::Store(s)) => return Err(PageError::Store(s)),
        DeskError::Register(r) => r.to_string(),
        DeskError::Invalid(c) => format!("{}{c}", l.pick("内容不符合要求：", "")),
        DeskError::Score(name) => match l {
            Lang::Zh => format!("{name} 应为 1–5"),
            Lang::En => format!("{name} must be 1-5"),
        },
        DeskError::Write(w) => match PageError::from(w) {
            PageError::Bad(m) | PageError::NotFound(m) => m,
            other => return Err(other),
        },
        DeskError::Triage(TriageError::Store(s)) | DeskError::Store(s) => {
            return Err(PageError::Store(s))
        }
        DeskError::Poisoned => return Err(PageError::Internal(e_text())),
    })
}

fn e_text() -> String {
    Lang::current()
        .pick(
            "舆情采集台出现内部错误，请重启节点",
            "the intake desk is unavailable after an internal error; restart the node",
        )
        .to_owned()
}

/// POST /intake/{id}/{form}: one of [`FORMS`].
pub async fn submit(
    State(app): State<Arc<App>>,
    Path((id, form)): Path<(String, String)>,
    Csrf(staffer, fields): Csrf<IntakeForms>,
) -> Result<Response, PageError> {
    let desk = desk(&app)?;
    require_write(&staffer)?;
    let item = load(&app, &id)?;
    let Some(name) = FORMS.iter().copied().find(|f| *f == form) else {
        return Err(PageError::NotFound(format!("no form {form:?}")));
    };
    let refused = |message: String| -> Result<Response, PageError> {
        let refusal = Refusal {
            form: name,
            message,
        };
        let page = render(&app, &staffer, &item, Some(&fields), Some(&refusal), None)?;
        Ok((StatusCode::BAD_REQUEST, page).into_response())
    };
    let author = staffer.author(app.node.unit());
    let now = timespec::now_ms();
    let done = match name {
        "promote" => match intake_forms::promotion(&fields) {
            Err(m) => return refused(m),
            Ok(p) => {
                desk.promote(
                    &app.node.writer,
                    &app.node.standard,
                    &author,
                    item.id,
                    p,
                    now,
                )
                .await
            }
        },
        "attach" => match intake_forms::attach_risk(&fields) {
            Err(m) => return refused(m),
            Ok(risk) => {
                desk.attach(
                    &app.node.writer,
                    &app.node.standard,
                    app.node.unit(),
                    &author,
                    item.id,
                    &risk,
                    &fields.a_note,
                    now,
                )
                .await
            }
        },
        _ => desk.dismiss(&author, item.id, &fields.d_reason, now),
    };
    match done {
        Ok(o) => {
            tracing::info!(item = item.id, form = name, risk = %o.risk, %author, "intake item triaged on the county's pages");
            let to = match (name, o.propose) {
                ("dismiss", _) => format!("/intake/{}", item.id),
                (_, Some((a, d))) => format!("/intake/{}?propose={a}-{d}#propose-regrade", item.id),
                _ => format!("/register/{}", o.risk),
            };
            Ok(Redirect::to(&to).into_response())
        }
        Err(e) => refused(refusal_text(e)?),
    }
}

/// The rates' query: `?days=7|30|90`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RatesQuery {
    #[serde(default)]
    days: String,
}

use crate::intake::counts::permille_text;

/// A duration in minutes, hours or days, whichever reads best.
pub fn duration_text(ms: i64, l: Lang) -> String {
    let mins = ms / 60_000;
    if mins < 120 {
        format!("{mins} {}", l.pick("分钟", "min"))
    } else if mins < 48 * 60 {
        format!("{:.1} {}", mins as f64 / 60.0, l.pick("小时", "h"))
    } else {
        format!("{:.1} {}", mins as f64 / 1440.0, l.pick("天", "d"))
    }
}

fn rates_body(rates: &Rates, days: u32, people: &People, l: Lang) -> Markup {
    let r = &rates.counts;
    let row =
        |id: &'static str, name: &'static str, en: &'static str, value: String, def: String| {
            html! {
                dt { (l.pick(name, en)) }
                dd id=(id) { strong { (value) } br; span.sub { (def) } }
            }
        };
    html! {
        nav.pages #rates-days aria-label=(l.pick("统计期", "Period")) {
            @for d in [7u32, 30, 90] {
                @let here = d == days;
                a class=[here.then_some("here")] aria-current=[here.then_some("page")] href={ "/intake/rates?days=" (d) } {
                    (l.pick("近 ", "last ")) (d) (l.pick(" 天", " days"))
                }
            }
        }
        p { (people.unit(&rates.county)) " · " (when(r.from_ms)) " – " (when(r.to_ms)) }
        dl.fields #rates {
            (row("rate-collection", "采集率", "Collection rate", r.collection_permille().map_or_else(|| "—".to_owned(), permille_text),
                match l {
                    Lang::Zh => format!("本期新识别的风险点中由舆情采集转入的比例（{} / {}）", r.risks_from_intake, r.risks),
                    Lang::En => format!("of the risks identified in the period, those promoted from intake ({} of {})", r.risks_from_intake, r.risks),
                }))
            (row("rate-discovery", "发现率", "Discovery rate", r.discovery_permille().map_or_else(|| "—".to_owned(), permille_text),
                match l {
                    Lang::Zh => format!("其他单位也登记了同一舆情源的风险点中，本县先发现的比例（{} / {}）", r.found_first, r.contested),
                    Lang::En => format!("of the risks whose source another unit also has, those this county found first ({} of {})", r.found_first, r.contested),
                }))
            (row("rate-lead", "领先时间", "Discovery lead time", duration_text(r.lead_median_ms, l),
                l.pick("本县先发现的风险点比其他单位早多久（中位数）", "how much earlier than the other unit, over the risks found first (median)").to_owned()))
            (row("rate-triage", "研判时长", "Triage time", duration_text(r.triage_median_ms, l),
                l.pick("从首次发现到研判处理的时间（中位数）", "from an item's first sighting to its triage (median)").to_owned()))
            dt { (l.pick("研判结果", "Decisions")) }
            dd #rate-decisions data-promoted=(r.promoted) data-attached=(r.attached) data-dismissed=(r.dismissed) {
                (l.pick("转为风险点 ", "promoted ")) span #rate-promoted { (r.promoted) } " · "
                (l.pick("并入已有风险点 ", "attached ")) span #rate-attached { (r.attached) } " · "
                (l.pick("排除 ", "dismissed ")) span #rate-dismissed { (r.dismissed) }
            }
            dt { (l.pick("待研判", "Open items")) } dd #rate-open { (r.open) }
        }
    }
}

/// GET /intake/rates.
pub async fn rates(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
    Query(q): Query<RatesQuery>,
) -> Result<Markup, PageError> {
    let desk = desk(&app)?;
    let l = Lang::current();
    let days = match q.days.trim() {
        "" => 30,
        d => d
            .parse::<u32>()
            .ok()
            .filter(|d| [7, 30, 90].contains(d))
            .ok_or_else(|| {
                PageError::Bad(format!(
                    "days: {d:?} {}",
                    l.pick("只能是 7、30 或 90", "must be 7, 30 or 90")
                ))
            })?,
    };
    let county = app.node.unit().to_owned();
    let now = timespec::now_ms();
    // Reads every risk of the county in the period: off the async threads.
    let r = tokio::task::spawn_blocking(move || desk.rates(&county, days, now))
        .await
        .map_err(|e| PageError::Internal(format!("rates: {e}")))??;
    let people = People::of(&app)?;
    let body = html! {
        p { a href="/intake" { "← " (l.pick("舆情采集", "Intake")) } }
        (rates_body(&r, days, &people, l))
    };
    Ok(layout::page(
        &staffer,
        l.pick("采集率", "Intake rates"),
        "/intake",
        None,
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_queries_and_proposals() {
        let q = ListQuery {
            incident: "account:weibo:zhang san".into(),
            page: "2".into(),
            ..ListQuery::default()
        };
        let (which, page) = q.check().unwrap();
        assert_eq!(page, 2);
        assert_eq!(
            which.href(3),
            "?incident=account%3Aweibo%3Azhang%20san&page=3"
        );
        let all = ListQuery {
            all: "1".into(),
            ..ListQuery::default()
        };
        assert_eq!(all.check().unwrap().0, Which::All);
        assert!(ListQuery {
            page: "0".into(),
            ..ListQuery::default()
        }
        .check()
        .is_err());
        let p = |s: &str| proposal(&ItemQuery { propose: s.into() });
        assert_eq!(p("4-3"), Some((4, 3)));
        assert_eq!(p("9-3"), None);
        assert_eq!(p(""), None);
        assert_eq!(excerpt("a\n b"), "a b");
    }
}
