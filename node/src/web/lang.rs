//! The language a page speaks: 中文 (zh-CN) unless the person switched to English, with
//! `?lang=en` (or back with `?lang=zh`), kept in the `fenghuo_lang` cookie. [`remember`] (a
//! middleware over every route) decides it per request and makes it the request's
//! [`Context`], so the layout and any page ask [`Lang::current`] without passing it along:
//! `Lang::current().pick("风险台账", "Register")`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use super::session::{cookie, set_cookie};
use super::App;
use crate::identity::Identity;

/// The cookie that keeps the choice.
pub const COOKIE: &str = "fenghuo_lang";
/// How long the choice is kept, in seconds (a year).
const KEEP_S: u64 = 365 * 86_400;

/// A language of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Simplified Chinese, the default: officers first.
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `zh` or `en`, as `?lang=` and the cookie write it.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The `lang` attribute of `<html>`.
    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The language of `code` (`zh`, `zh-CN`, `en`…), if it is one.
    pub fn parse(code: &str) -> Option<Lang> {
        let code = code.trim().to_ascii_lowercase();
        if code.starts_with("zh") {
            Some(Lang::Zh)
        } else if code.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The other language: what the switch in the header offers.
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The text of this language: `zh` or `en`.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The language of the request being served (Chinese outside a request).
    pub fn current() -> Lang {
        CONTEXT.try_with(|c| c.lang).unwrap_or_default()
    }
}

/// What the layout needs to know of the request it renders for.
#[derive(Debug, Clone)]
pub struct Context {
    /// The page's language.
    pub lang: Lang,
    /// The request's path and query without `lang` (where the language switch leads back to).
    pub path_query: String,
    /// The node serves a county (its pages, its navigation) rather than the province.
    pub county: bool,
    /// The application, for the header's unread counts.
    pub app: Option<Arc<App>>,
}

tokio::task_local! {
    static CONTEXT: Context;
}

/// The context of the request being served, if any.
pub fn context() -> Option<Context> {
    CONTEXT.try_with(Clone::clone).ok()
}

/// `query` without its `lang` field, and the language that field asks for.
fn split_lang(query: &str) -> (String, Option<Lang>) {
    let mut asked = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .filter(|kv| match kv.split_once('=') {
            Some(("lang", v)) => {
                asked = Lang::parse(v);
                false
            }
            _ => *kv != "lang",
        })
        .collect();
    (rest.join("&"), asked)
}

/// The link that shows the current page in `to`.
pub fn switch_href(path_query: &str, to: Lang) -> String {
    let sep = if path_query.contains('?') { '&' } else { '?' };
    format!("{path_query}{sep}lang={}", to.code())
}

/// Middleware over every route: the request's language from `?lang=` or the cookie (Chinese
/// when neither says), served as its [`Context`]; a `?lang=` choice is kept in the cookie.
pub async fn remember(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let (rest, asked) = split_lang(req.uri().query().unwrap_or_default());
    let kept = cookie(req.headers(), COOKIE).and_then(Lang::parse);
    let lang = asked.or(kept).unwrap_or_default();
    let path = req.uri().path();
    let path_query = if rest.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{rest}")
    };
    let context = Context {
        lang,
        path_query,
        county: matches!(app.node.identity, Identity::County(_)),
        app: Some(app.clone()),
    };
    let mut res = CONTEXT.scope(context, next.run(req)).await;
    if let Some(l) = asked.filter(|l| Some(*l) != kept) {
        if let Ok(v) = HeaderValue::from_str(&set_cookie(COOKIE, l.code(), Some(KEEP_S))) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// Runs `f` as if serving a request in `lang` (unit tests of pages).
#[cfg(test)]
pub fn with<T>(lang: Lang, county: bool, f: impl FnOnce() -> T) -> T {
    let context = Context {
        lang,
        path_query: "/".into(),
        county,
        app: None,
    };
    CONTEXT.sync_scope(context, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_keeps_the_rest_of_the_query() {
        assert_eq!(
            split_lang("q=%E6%8B%86&lang=en&page=2"),
            ("q=%E6%8B%86&page=2".to_owned(), Some(Lang::En))
        );
        assert_eq!(split_lang(""), (String::new(), None));
        assert_eq!(split_lang("lang=fr"), (String::new(), None));
        assert_eq!(switch_href("/register", Lang::En), "/register?lang=en");
        assert_eq!(
            switch_href("/register?level=I", Lang::Zh),
            "/register?level=I&lang=zh"
        );
    }

    #[test]
    fn chinese_unless_asked() {
        assert_eq!(Lang::current(), Lang::Zh);
        assert_eq!(with(Lang::En, true, Lang::current), Lang::En);
        assert_eq!(Lang::current().pick("台账", "Register"), "台账");
        assert_eq!(Lang::parse("zh-CN"), Some(Lang::Zh));
        assert_eq!(Lang::En.html_lang(), "en");
        assert_eq!(Lang::Zh.html_lang(), "zh-CN");
    }
}
