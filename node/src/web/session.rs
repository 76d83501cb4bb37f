//! Sessions and CSRF tokens. A session is a random token in a `Secure; HttpOnly;
//! SameSite=Strict` cookie, kept in memory (a restart of the node signs everyone out); every
//! request re-reads the account, so a removed account or a changed role takes effect at once.
//! Every form carries the session's CSRF token, checked by [`Csrf`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tracing::Instrument;

use super::lang::Lang;
use super::App;
use crate::accounts::{self, Role};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "fenghuo_session";
/// Most sessions and pending sign-in forms kept; the oldest go first.
const MAX_ENTRIES: usize = 10_000;
/// How long a sign-in form stays valid.
const FORM_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// The signed-in staff member of a request.
#[derive(Debug, Clone)]
pub struct Staffer {
    /// Account name.
    pub name: String,
    /// Its role now (re-read on every request): what the pages let it do.
    pub role: Role,
    /// The person's name (林晓), empty when the account has none: what the pages show.
    pub display_name: String,
    /// The session's CSRF token, put in every form.
    pub csrf: String,
}

impl Staffer {
    /// The identity path written as author of what this person does on the pages of the
    /// node of `unit` (its county, or the province at the gateway): `staff/510104/lin`.
    pub fn author(&self, unit: &str) -> String {
        format!("staff/{unit}/{}", self.name)
    }

    /// `林晓 (lin)`, or `lin` without a display name: how the pages name the person.
    pub fn label(&self) -> String {
        accounts::label(&self.name, &self.display_name)
    }
}

#[derive(Debug)]
struct Session {
    name: String,
    csrf: String,
    last_seen: Instant,
}

#[derive(Debug)]
struct Pending {
    csrf: String,
    created: Instant,
}

/// Signed-in sessions and pending sign-in forms.
#[derive(Debug)]
pub struct Sessions {
    idle: Duration,
    live: Mutex<HashMap<String, Session>>,
    pending: Mutex<HashMap<String, Pending>>,
}

/// 32 random bytes, hex: session ids, CSRF tokens.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    if let Err(e) = getrandom::fill(&mut b) {
        // Without an OS random source nothing here is safe: stop rather than go on.
        panic!("the operating system's random source failed: {e}");
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

fn evict_oldest<V>(map: &mut HashMap<String, V>, age: impl Fn(&V) -> Instant) {
    if map.len() < MAX_ENTRIES {
        return;
    }
    if let Some(oldest) = map
        .iter()
        .min_by_key(|(_, v)| age(v))
        .map(|(k, _)| k.clone())
    {
        map.remove(&oldest);
    }
}

impl Sessions {
    /// Sessions that end after `idle` without a request.
    pub fn new(idle: Duration) -> Self {
        Self {
            idle,
            live: Mutex::default(),
            pending: Mutex::default(),
        }
    }

    /// The sign-in form of the browser holding form cookie `current`, or a new one: (its
    /// cookie token, its CSRF token). Kept while valid, so a second load of the page (a
    /// redirected favicon request, another tab) does not void the form already shown.
    pub fn form(&self, current: Option<&str>) -> (String, String) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = current.and_then(|t| p.get(t).map(|f| (t, f))) {
            if f.1.created.elapsed() < FORM_LIFETIME {
                return (f.0.to_owned(), f.1.csrf.clone());
            }
        }
        let (token, csrf) = (random_token(), random_token());
        p.retain(|_, v| v.created.elapsed() < FORM_LIFETIME);
        evict_oldest(&mut p, |v| v.created);
        p.insert(
            token.clone(),
            Pending {
                csrf: csrf.clone(),
                created: Instant::now(),
            },
        );
        (token, csrf)
    }

    /// True when `csrf` is the token of the sign-in form whose cookie is `token`; the form
    /// is used up either way.
    pub fn take_form(&self, token: &str, csrf: &str) -> bool {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match p.remove(token) {
            Some(f) => f.created.elapsed() < FORM_LIFETIME && same_secret(&f.csrf, csrf),
            None => false,
        }
    }

    /// Starts a session for `name`; returns its token.
    pub fn start(&self, name: &str) -> String {
        let token = random_token();
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let idle = self.idle;
        live.retain(|_, s| s.last_seen.elapsed() < idle);
        evict_oldest(&mut live, |s| s.last_seen);
        live.insert(
            token.clone(),
            Session {
                name: name.to_owned(),
                csrf: random_token(),
                last_seen: Instant::now(),
            },
        );
        token
    }

    /// The (name, CSRF token) of a live session, marking it used; ends an idle one.
    fn touch(&self, token: &str) -> Option<(String, String)> {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let s = live.get_mut(token)?;
        if s.last_seen.elapsed() >= self.idle {
            live.remove(token);
            return None;
        }
        s.last_seen = Instant::now();
        Some((s.name.clone(), s.csrf.clone()))
    }

    /// Ends the session `token`.
    pub fn end(&self, token: &str) {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.remove(token);
    }

    /// Ends every session of `name` (its account was removed).
    pub fn end_all(&self, name: &str) {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|_, s| s.name != name);
    }
}

/// The value of cookie `name` in `headers`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: only over HTTPS, never to scripts, never on cross-site requests.
pub fn set_cookie(name: &str, value: &str, max_age: Option<u64>) -> String {
    let age = max_age
        .map(|s| format!("; Max-Age={s}"))
        .unwrap_or_default();
    format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict{age}")
}

/// Refuses a request without a live session: pages redirect to the sign-in page, exports,
/// events and form posts get 401. Attaches the [`Staffer`] otherwise.
pub async fn require(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let staffer = cookie(req.headers(), SESSION_COOKIE)
        .and_then(|token| app.sessions.touch(token).map(|s| (token.to_owned(), s)));
    let staffer = match staffer {
        Some((token, (name, csrf))) => match accounts::get(app.node.store.as_ref(), &name) {
            Ok(Some(account)) => Some(Staffer {
                name,
                role: account.role,
                display_name: account.display_name,
                csrf,
            }),
            Ok(None) => {
                app.sessions.end(&token);
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "reading staff accounts");
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Lang::current().pick(
                        "本节点无法读取其数据库",
                        "the node could not read its store",
                    ),
                )
                    .into_response();
            }
        },
        None => None,
    };
    let Some(staffer) = staffer else {
        let path = req.uri().path();
        let page = req.method() == Method::GET
            && !path.starts_with("/export/")
            && !path.starts_with("/events")
            && !path.starts_with("/assets/");
        return if page {
            Redirect::to("/login").into_response()
        } else {
            (
                StatusCode::UNAUTHORIZED,
                Lang::current().pick(
                    "请先登录：这些页面仅供本节点工作人员使用",
                    "sign in first: these pages are for this node's staff",
                ),
            )
                .into_response()
        };
    };
    let span = tracing::info_span!("dashboard", staff = %staffer.name, method = %req.method(), path = %req.uri().path());
    req.extensions_mut().insert(staffer);
    next.run(req).instrument(span).await
}

#[derive(Debug, Deserialize)]
struct WithCsrf<T> {
    csrf: String,
    #[serde(flatten)]
    form: T,
}

/// A form posted with the session's CSRF token (refused with 403 otherwise).
#[derive(Debug)]
pub struct Csrf<T>(pub Staffer, pub T);

impl<S, T> FromRequest<S> for Csrf<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let staffer = req.extensions().get::<Staffer>().cloned().ok_or_else(|| {
            (
                StatusCode::UNAUTHORIZED,
                Lang::current().pick("请先登录", "sign in first"),
            )
                .into_response()
        })?;
        let Form(f) = Form::<WithCsrf<T>>::from_request(req, state)
            .await
            .map_err(|e| {
                (
                    StatusCode::BAD_REQUEST,
                    match Lang::current() {
                        Lang::Zh => format!("表单不完整：{e}"),
                        Lang::En => format!("the form is incomplete: {e}"),
                    },
                )
                    .into_response()
            })?;
        if !same_secret(&f.csrf, &staffer.csrf) {
            return Err((
                StatusCode::FORBIDDEN,
                Lang::current().pick(
                    "表单的安全令牌与当前会话不符：请刷新页面后重试",
                    "the form's security token does not match your session: reload the page and try again",
                ),
            )
                .into_response());
        }
        Ok(Csrf(staffer, f.form))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_single_use_and_sessions_end() {
        let s = Sessions::new(Duration::from_secs(60));
        let (cookie, csrf) = s.form(None);
        assert_eq!(
            s.form(Some(&cookie)),
            (cookie.clone(), csrf.clone()),
            "kept while valid"
        );
        assert!(!s.take_form(&cookie, "forged"));
        // Used up by the failed attempt.
        assert!(!s.take_form(&cookie, &csrf));
        assert_ne!(s.form(Some(&cookie)).0, cookie);
        let (cookie, csrf) = s.form(Some("unknown"));
        assert!(s.take_form(&cookie, &csrf));
        let token = s.start("wang");
        assert_eq!(s.touch(&token).map(|t| t.0), Some("wang".to_owned()));
        s.end_all("wang");
        assert!(s.touch(&token).is_none());
        let idle = Sessions::new(Duration::ZERO);
        let token = idle.start("li");
        assert!(idle.touch(&token).is_none());
    }

    #[test]
    fn cookies_are_read_and_written_strictly() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; fenghuo_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        let c = set_cookie(SESSION_COOKIE, "abc", None);
        for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(c.contains(attr), "{c}");
        }
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("a", "ab"));
    }
}
