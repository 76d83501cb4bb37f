//! The page shell: head, navigation (the province's, or a county's with its inbox's unread
//! counts), who is signed in, the language switch, the filter bar, error pages and the style
//! sheet (responsive down to a phone's 390 px, visible keyboard focus).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::filters::Filters;
use super::labels;
use super::lang::{self, context, Lang};
use super::session::Staffer;
use crate::domain::{FocusPoint, Level};

const STYLE: &str = r#"
body{font-family:system-ui,"Noto Sans CJK SC","PingFang SC",sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
header{background:#8b1a1a;color:#fff;display:flex;align-items:center;gap:1.2em;padding:.5em 1.2em;flex-wrap:wrap}
header a{color:#fff;text-decoration:none;padding:.2em .4em;border-radius:3px}
header a.here{background:rgba(255,255,255,.2)}
header .brand{font-weight:700;font-size:1.1em}
header .who{margin-left:auto;display:flex;gap:.6em;align-items:center}
header form{margin:0}
main{padding:1em 1.2em;max-width:1300px}
h1{font-size:1.4em;margin:.2em 0 .6em}
h2{font-size:1.1em;margin:1.2em 0 .4em;display:flex;gap:1em;align-items:baseline}
.exports{font-size:.8em;font-weight:400}
table{border-collapse:collapse;background:#fff;font-size:.9em}
th,td{border:1px solid #d8dbe0;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#eceef2}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.alarm,.alarm{color:#b00020;font-weight:700}
.cards{display:flex;gap:.8em;flex-wrap:wrap;margin:.4em 0 1em}
.card{background:#fff;border:1px solid #d8dbe0;border-radius:6px;padding:.6em 1em;min-width:8em}
.card .n{font-size:1.8em;font-weight:700}
.charts{display:flex;gap:1.5em;flex-wrap:wrap}
figure.chart{background:#fff;border:1px solid #d8dbe0;border-radius:6px;padding:.6em;margin:0}
figcaption{font-weight:600;margin-bottom:.3em}
form.filters{display:flex;gap:.6em;flex-wrap:wrap;align-items:end;background:#fff;border:1px solid #d8dbe0;padding:.5em .8em;border-radius:6px}
form.filters label,form.inline label{display:flex;flex-direction:column;font-size:.8em}
form.inline{display:flex;gap:.6em;flex-wrap:wrap;align-items:end;margin:.5em 0}
.error{background:#fde8e8;border:1px solid #e0a0a0;padding:.5em .8em;border-radius:4px}
.notice{background:#e8f4fd;border:1px solid #a0c8e0;padding:.5em .8em;border-radius:4px}
main.signin{max-width:24em;margin:4em auto;background:#fff;border:1px solid #d8dbe0;border-radius:8px;padding:1.5em}
main.signin form{display:flex;flex-direction:column;gap:.8em}
main.signin label{display:flex;flex-direction:column;gap:.2em}
.sub{color:#666}
dl.fields{display:grid;grid-template-columns:12em 1fr;gap:.3em 1em;background:#fff;padding:.8em;border:1px solid #d8dbe0;border-radius:6px}
dl.fields dt{font-weight:600}
a.skip{position:absolute;left:-999px;top:0;background:#fff;color:#000;padding:.4em .8em;z-index:9}
a.skip:focus{left:.5em}
:focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}
header :focus-visible{outline-color:#ffd54f}
main:focus{outline:none}
header nav{display:flex;gap:.3em;flex-wrap:wrap}
.badge{background:#ffd54f;color:#000;border-radius:9px;padding:0 .45em;font-size:.8em;font-weight:700}
.unreads{display:flex;gap:.5em;font-size:.8em;flex-wrap:wrap}
.unread{opacity:.75}
.unread.some{opacity:1;font-weight:700}
.langswitch{text-align:right;margin:.5em 1em}
section.table{overflow-x:auto;max-width:100%}
figure.chart svg{max-width:100%;height:auto}
form.stack{display:grid;grid-template-columns:minmax(8em,14em) minmax(0,1fr);gap:.5em .8em;align-items:start;background:#fff;border:1px solid #d8dbe0;border-radius:6px;padding:.8em;max-width:52em}
form.stack label{font-weight:600;padding-top:.3em}
form.stack .hint{grid-column:2;color:#555;font-size:.85em;margin-top:-.3em}
form.stack .actions{grid-column:2}
form.stack .error{grid-column:1/-1}
input,select,textarea,button{font:inherit;max-width:100%}
input:not([type]),input[type=text],input[type=search],input[type=date],input[type=url],textarea,select{border:1px solid #9aa1ad;border-radius:3px;padding:.25em .4em}
textarea{width:100%;min-height:5em}
form.stack input:not([type=hidden]),form.stack select,form.stack textarea{width:100%;box-sizing:border-box}
button{background:#8b1a1a;color:#fff;border:0;border-radius:3px;padding:.35em .9em;cursor:pointer}
button.secondary{background:#555}
.forms{display:grid;grid-template-columns:repeat(auto-fit,minmax(20em,1fr));gap:1em;margin:1em 0}
.forms > section{background:#fff;border:1px solid #d8dbe0;border-radius:6px;padding:.6em .9em}
.forms h2{margin-top:.2em}
.pending{border:1px dashed #9aa1ad;color:#555;padding:.5em .8em;border-radius:4px}
nav.pages{display:flex;gap:1em;margin:.6em 0}
.overdue{color:#b00020;font-weight:700}
@media (max-width:700px){
 header{gap:.5em;padding:.4em .6em}
 header .who{margin-left:0}
 main{padding:.6em}
 form.stack{grid-template-columns:1fr}
 form.stack .hint,form.stack .actions{grid-column:1}
 dl.fields{grid-template-columns:1fr}
 dl.fields dd{margin:0 0 .4em}
}
"#;

fn head(title: &str, lang: Lang) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · " (lang.pick("烽火", "Fenghuo")) }
            style { (maud::PreEscaped(STYLE)) }
        }
    }
}

/// A page without navigation (the sign-in page, errors before sign-in).
pub fn bare(title: &str, body: Markup) -> Markup {
    let lang = Lang::current();
    html! {
        (DOCTYPE)
        html lang=(lang.html_lang()) {
            (head(title, lang))
            body {
                p.langswitch { (language_switch(lang)) }
                (body)
            }
        }
    }
}

/// The hidden field every form carries.
pub fn csrf(staffer: &Staffer) -> Markup {
    html! { input type="hidden" name="csrf" value=(staffer.csrf); }
}

/// Navigation entries of the province: path, Chinese, English.
const NAV: &[(&str, &str, &str)] = &[
    ("/", "概览", "Overview"),
    ("/comms", "通报", "Communications"),
    ("/health", "联邦状态", "Health"),
    ("/linked", "关联风险", "Linked risks"),
];

/// Navigation entries of a county: path, Chinese, English.
const COUNTY_NAV: &[(&str, &str, &str)] = &[
    ("/register", "台账", "Register"),
    ("/inbox", "收件箱", "Inbox"),
    ("/intake", "舆情采集", "Intake"),
    ("/", "概况", "At a glance"),
    ("/disposal", "处置", "Disposal"),
];

/// The link to the same page in the other language.
fn language_switch(lang: Lang) -> Markup {
    let path_query = context().map_or_else(|| "/".to_owned(), |c| c.path_query);
    let other = lang.other();
    html! {
        a #lang-switch href=(lang::switch_href(&path_query, other)) lang=(other.html_lang()) hreflang=(other.html_lang()) {
            (other.pick("中文", "English"))
        }
    }
}

/// What the inbox holds that the signed-in person has not dealt with (a county's header).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unread {
    /// Alerts addressed to the county, not acknowledged.
    pub alerts: usize,
    /// Directives and consultations not answered.
    pub directives: usize,
    /// Risks neighbours shared, new or changed since the person last opened the inbox.
    pub shared: usize,
    /// Partners' outcomes of the county's disposal requests since then.
    pub outcomes: usize,
    /// Intake items still to triage (counted up to a cap), if the county has intake.
    pub intake_open: Option<u64>,
}

impl Unread {
    /// Everything waiting.
    pub fn total(&self) -> usize {
        self.alerts + self.directives + self.shared + self.outcomes
    }
}

fn unread_badges(u: &Unread, lang: Lang) -> Markup {
    let item = |id: &'static str, n: usize, zh: &'static str, en: &'static str| {
        html! {
            span.unread.some[n > 0] id=(id) data-n=(n) {
                (lang.pick(zh, en)) " " (n)
            }
        }
    };
    html! {
        span.unreads aria-label=(lang.pick("待办", "Waiting")) {
            (item("unread-alerts", u.alerts, "预警", "alerts"))
            (item("unread-directives", u.directives, "指令", "directives"))
            (item("unread-shared", u.shared, "共享", "shared"))
            (item("unread-outcomes", u.outcomes, "处置结果", "outcomes"))
        }
    }
}

fn nav(staffer: &Staffer, here: &str, lang: Lang, county: Option<&Unread>) -> Markup {
    html! {
        nav aria-label=(lang.pick("导航", "Navigation")) {
            @if let Some(u) = county {
                @for (path, zh, en) in COUNTY_NAV {
                    @let current = *path == here;
                    a class=[current.then_some("here")] aria-current=[current.then_some("page")] href=(path) {
                        (lang.pick(zh, en))
                        @if *path == "/inbox" && u.total() > 0 {
                            " " span.badge #unread-total { (u.total()) }
                        }
                        @if let Some(n) = u.intake_open.filter(|n| *path == "/intake" && *n > 0) {
                            " " span.badge #intake-open-count data-n=(n) {
                                (n) @if n as usize >= super::pages::intake::NAV_COUNT_CAP { "+" }
                            }
                        }
                    }
                }
            } @else {
                @for (path, zh, en) in NAV {
                    @let current = *path == here;
                    a class=[current.then_some("here")] aria-current=[current.then_some("page")] href=(path) { (lang.pick(zh, en)) }
                }
            }
            @if staffer.role.can_manage_staff() {
                a class=[("/staff" == here).then_some("here")] href="/staff" { (lang.pick("账户", "Staff")) }
            }
        }
    }
}

/// A signed-in page: navigation (`here` marks the current entry), the filter bar when
/// `filters` is given (with `counties` to choose from), then `body`. At a county, the
/// county's navigation with the inbox's unread counts.
pub fn page(
    staffer: &Staffer,
    title: &str,
    here: &str,
    filters: Option<(&Filters, &[String])>,
    body: Markup,
) -> Markup {
    let lang = Lang::current();
    let ctx = context();
    let unread = ctx.as_ref().filter(|c| c.county).map(|c| match &c.app {
        Some(app) => Unread {
            intake_open: super::pages::intake::open_count(app),
            ..super::pages::inbox::unread(app, staffer)
        },
        None => Unread::default(),
    });
    html! {
        (DOCTYPE)
        html lang=(lang.html_lang()) {
            (head(title, lang))
            body {
                a.skip href="#main" { (lang.pick("跳到正文", "Skip to content")) }
                header {
                    span.brand { (lang.pick("烽火", "Fenghuo")) }
                    (nav(staffer, here, lang, unread.as_ref()))
                    @if let Some(u) = &unread { (unread_badges(u, lang)) }
                    span.who {
                        (language_switch(lang))
                        span #who data-role=(staffer.role.as_str()) {
                            (staffer.name) " (" (lang.pick(staffer.role.label_zh(), staffer.role.as_str())) ")"
                        }
                        form method="post" action="/logout" {
                            (csrf(staffer))
                            button type="submit" { (lang.pick("退出", "Sign out")) }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    @if let Some((f, counties)) = filters {
                        (filter_bar(here, f, counties, lang))
                    }
                    (body)
                }
                script src="/assets/live.js" defer {}
            }
        }
    }
}

fn filter_bar(action: &str, f: &Filters, counties: &[String], lang: Lang) -> Markup {
    let all = lang.pick("全部", "all");
    // Counties by the names in their certificates when the node knows them (`锦江区 510104`).
    let names = context()
        .and_then(|c| c.app)
        .and_then(|app| crate::sync::directory::unit_names(app.node.store.as_ref()).ok())
        .unwrap_or_default();
    html! {
        form.filters method="get" action=(action) {
            label { (lang.pick("县(市、区)", "County"))
                select name="county" {
                    option value="" { (all) }
                    @for c in counties {
                        option value=(c) selected[f.county.as_deref() == Some(c.as_str())] { (names.display(c)) }
                    }
                }
            }
            label { (lang.pick("等级", "Level"))
                select name="level" {
                    option value="" { (all) }
                    @for l in Level::ALL {
                        option value=(l.as_str()) selected[f.level == Some(l)] { (labels::level_in(lang, l)) }
                    }
                }
            }
            label { (lang.pick("重点", "Focus point"))
                select name="focus" {
                    option value="" { (all) }
                    @for p in FocusPoint::ALL {
                        option value=(p.as_str()) selected[f.focus == Some(p)] { (labels::focus_in(lang, p)) }
                    }
                }
            }
            label { (lang.pick("天数", "Days"))
                select name="days" {
                    @for d in [7, 30, 90, 180, 365] {
                        option value=(d) selected[f.days == Some(d)] { (d) }
                    }
                }
            }
            label { (lang.pick("自", "From")) input type="date" name="from" value=(f.from_text()); }
            label { (lang.pick("至", "To")) input type="date" name="to" value=(f.to_text()); }
            button type="submit" { (lang.pick("筛选", "Filter")) }
            a href=(action) { (lang.pick("清除", "Clear")) }
        }
    }
}

/// An error page with `status`; the message says what to do.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let lang = Lang::current();
    let home = if context().is_some_and(|c| c.county) {
        lang.pick("← 概况", "← At a glance")
    } else {
        lang.pick("← 概览", "← Overview")
    };
    let reason = match (lang, status.as_u16()) {
        (Lang::Zh, 400) => "请求有误",
        (Lang::Zh, 401) => "请先登录",
        (Lang::Zh, 403) => "无权操作",
        (Lang::Zh, 404) => "未找到",
        (Lang::Zh, 429) => "请求过多",
        (Lang::Zh, 500..=599) => "服务出错",
        _ => status.canonical_reason().unwrap_or("error"),
    };
    let body = html! {
        main {
            h1 { (status.as_u16()) " " (reason) }
            p.error role="alert" { (message) }
            p { a href="/" { (home) } }
        }
    };
    (status, bare(lang.pick("出错", "Error"), body)).into_response()
}
