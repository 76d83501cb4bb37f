//! The page shell: head, navigation, who is signed in, the filter bar, and the style sheet.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::filters::Filters;
use super::labels;
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
"#;

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · 烽火 Fenghuo" }
            style { (maud::PreEscaped(STYLE)) }
        }
    }
}

/// A page without navigation (the sign-in page, errors before sign-in).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-Hans" {
            (head(title))
            body { (body) }
        }
    }
}

/// The hidden field every form carries.
pub fn csrf(staffer: &Staffer) -> Markup {
    html! { input type="hidden" name="csrf" value=(staffer.csrf); }
}

/// Navigation entries: path, label.
const NAV: &[(&str, &str)] = &[
    ("/", "概览 Overview"),
    ("/comms", "通报 Communications"),
    ("/health", "联邦状态 Health"),
    ("/linked", "关联风险 Linked risks"),
];

/// A signed-in page: navigation (`here` marks the current entry), the filter bar when
/// `filters` is given (with `counties` to choose from), then `body`.
pub fn page(
    staffer: &Staffer,
    title: &str,
    here: &str,
    filters: Option<(&Filters, &[String])>,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-Hans" {
            (head(title))
            body {
                header {
                    span.brand { "烽火 Fenghuo" }
                    nav {
                        @for (path, label) in NAV {
                            a class=[(*path == here).then_some("here")] href=(path) { (label) }
                        }
                        @if staffer.role.can_manage_staff() {
                            a class=[("/staff" == here).then_some("here")] href="/staff" { "账户 Staff" }
                        }
                    }
                    span.who {
                        span #who { (staffer.name) " (" (staffer.role) ")" }
                        form method="post" action="/logout" {
                            (csrf(staffer))
                            button type="submit" { "退出 Sign out" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    @if let Some((f, counties)) = filters {
                        (filter_bar(here, f, counties))
                    }
                    (body)
                }
                script src="/assets/live.js" defer {}
            }
        }
    }
}

fn filter_bar(action: &str, f: &Filters, counties: &[String]) -> Markup {
    html! {
        form.filters method="get" action=(action) {
            label { "县 County"
                select name="county" {
                    option value="" { "全部 all" }
                    @for c in counties {
                        option value=(c) selected[f.county.as_deref() == Some(c.as_str())] { (crate::places::display(c, None)) }
                    }
                }
            }
            label { "等级 Level"
                select name="level" {
                    option value="" { "全部 all" }
                    @for l in Level::ALL {
                        option value=(l.as_str()) selected[f.level == Some(l)] { (labels::level(l)) }
                    }
                }
            }
            label { "重点 Focus point"
                select name="focus" {
                    option value="" { "全部 all" }
                    @for p in FocusPoint::ALL {
                        option value=(p.as_str()) selected[f.focus == Some(p)] { (labels::focus(p)) }
                    }
                }
            }
            label { "天数 Days"
                select name="days" {
                    @for d in [7, 30, 90, 180, 365] {
                        option value=(d) selected[f.days == Some(d)] { (d) }
                    }
                }
            }
            label { "自 From" input type="date" name="from" value=(f.from_text()); }
            label { "至 To" input type="date" name="to" value=(f.to_text()); }
            button type="submit" { "筛选 Filter" }
            a href=(action) { "清除 Clear" }
        }
    }
}

/// An error page with `status`; the message says what to do.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let body = html! {
        main {
            h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("error")) }
            p.error { (message) }
            p { a href="/" { "← 概览 Overview" } }
        }
    };
    (status, bare("Error", body)).into_response()
}
