//! The sign-in page, its rate limit, and signing out. The form posts `username`, `password`
//! and `csrf` to `/login`; the CSRF token belongs to the form's own short-lived cookie, so a
//! page elsewhere cannot sign a browser in to an account of its choosing.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use fenghuo_node::staff;
use maud::{html, Markup};
use serde::Deserialize;

use super::layout;
use super::session::{cookie, set_cookie, Csrf, SESSION_COOKIE};
use super::{App, Remote};

/// The sign-in form's cookie.
const FORM_COOKIE: &str = "fenghuo_signin";
/// Failed sign-ins are counted over this window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed sign-ins for one name within the window before further attempts are refused.
pub const MAX_FAILURES_PER_NAME: usize = 5;
/// Failed sign-ins from one address within the window before further attempts are refused.
pub const MAX_FAILURES_PER_ADDRESS: usize = 20;
/// Most names and addresses tracked.
const MAX_TRACKED: usize = 100_000;

/// Failed sign-ins per name and per address, over [`WINDOW`].
#[derive(Debug, Default)]
pub struct Limiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Limiter {
    /// How long until `name` from `ip` may try again, if it may not now.
    pub fn blocked(&self, name: &str, ip: Option<IpAddr>) -> Option<Duration> {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = None;
        for (key, max) in keys(name, ip) {
            let Some(q) = f.get_mut(&key) else { continue };
            while q.front().is_some_and(|t| t.elapsed() >= WINDOW) {
                q.pop_front();
            }
            if q.len() >= max {
                let oldest = q.front().map(|t| WINDOW.saturating_sub(t.elapsed()));
                wait = wait.max(oldest);
            }
        }
        wait
    }

    /// Counts a failed sign-in.
    pub fn fail(&self, name: &str, ip: Option<IpAddr>) {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if f.len() >= MAX_TRACKED {
            f.retain(|_, q| q.back().is_some_and(|t| t.elapsed() < WINDOW));
        }
        for (key, _) in keys(name, ip) {
            f.entry(key).or_default().push_back(Instant::now());
        }
    }

    /// Forgets `name`'s failures after it signed in.
    pub fn succeeded(&self, name: &str) {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        f.remove(&format!("name:{name}"));
    }
}

fn keys(name: &str, ip: Option<IpAddr>) -> Vec<(String, usize)> {
    let mut k = vec![(format!("name:{name}"), MAX_FAILURES_PER_NAME)];
    if let Some(ip) = ip {
        k.push((format!("addr:{ip}"), MAX_FAILURES_PER_ADDRESS));
    }
    k
}

/// The sign-in page; `form_cookie` is the browser's current form, kept if still valid.
fn page(
    app: &App,
    form_cookie: Option<&str>,
    status: StatusCode,
    message: Option<&str>,
    name: &str,
) -> Response {
    let (token, csrf) = app.sessions.form(form_cookie);
    let body: Markup = html! {
        main.signin {
            h1 { "烽火 Fenghuo" }
            p.sub { "全省风险概览 · Provincial dashboard · " (app.node.unit()) }
            @if let Some(m) = message {
                p.error role="alert" { (m) }
            }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                label { "用户名 Name" input name="username" autocomplete="username" required value=(name); }
                label { "密码 Password" input name="password" type="password" autocomplete="current-password" required; }
                button type="submit" { "登录 Sign in" }
            }
        }
    };
    let mut res = (status, layout::bare("Sign in · 登录", body)).into_response();
    if let Ok(v) = set_cookie(FORM_COOKIE, &token, Some(1800)).parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// GET /login: the form.
pub async fn form(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    page(
        &app,
        cookie(&headers, FORM_COOKIE),
        StatusCode::OK,
        None,
        "",
    )
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct SignIn {
    username: String,
    password: String,
    csrf: String,
}

/// POST /login.
pub async fn submit(
    State(app): State<Arc<App>>,
    remote: Option<Extension<Remote>>,
    headers: HeaderMap,
    Form(f): Form<SignIn>,
) -> Response {
    let name = f.username.trim().to_owned();
    let form_ok = cookie(&headers, FORM_COOKIE).is_some_and(|t| app.sessions.take_form(t, &f.csrf));
    if !form_ok {
        return page(
            &app,
            None,
            StatusCode::FORBIDDEN,
            Some("This sign-in form has expired or was not sent by this page: try again. 表单已过期，请重试。"),
            &name,
        );
    }
    let ip = remote.map(|Extension(Remote(a))| a.ip());
    if let Some(wait) = app.limiter.blocked(&name, ip) {
        tracing::warn!(staff = %name, ?ip, "sign-in refused: too many failures");
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let mut res = page(
            &app,
            None,
            StatusCode::TOO_MANY_REQUESTS,
            Some(&format!(
                "Too many failed sign-ins: try again in {minutes} min. 登录失败次数过多，请 {minutes} 分钟后再试。"
            )),
            &name,
        );
        if let Ok(v) = wait.as_secs().max(1).to_string().parse() {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return res;
    }
    let store = app.node.store.clone();
    let (n, p) = (name.clone(), f.password);
    let verified = tokio::task::spawn_blocking(move || staff::verify(store.as_ref(), &n, &p)).await;
    match verified {
        Ok(Ok(Some(account))) => {
            app.limiter.succeeded(&name);
            let token = app.sessions.start(&account.name);
            tracing::info!(staff = %account.name, role = %account.role, ?ip, "signed in");
            let mut res = Redirect::to("/").into_response();
            let h = res.headers_mut();
            for c in [
                set_cookie(SESSION_COOKIE, &token, None),
                set_cookie(FORM_COOKIE, "", Some(0)),
            ] {
                if let Ok(v) = c.parse() {
                    h.append(header::SET_COOKIE, v);
                }
            }
            res
        }
        Ok(Ok(None)) => {
            app.limiter.fail(&name, ip);
            tracing::warn!(staff = %name, ?ip, "sign-in failed");
            page(
                &app,
                None,
                StatusCode::UNAUTHORIZED,
                Some("Wrong name or password. 用户名或密码错误。"),
                &name,
            )
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "checking a sign-in");
            layout::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the gateway could not read its staff accounts",
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "the password check failed");
            layout::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the password check failed",
            )
        }
    }
}

/// No fields but the CSRF token.
#[derive(Debug, Deserialize)]
pub struct Empty {}

/// POST /logout.
pub async fn logout(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Csrf(staffer, _): Csrf<Empty>,
) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        app.sessions.end(token);
    }
    tracing::info!(staff = %staffer.name, "signed out");
    let mut res = Redirect::to("/login").into_response();
    if let Ok(v) = set_cookie(SESSION_COOKIE, "", Some(0)).parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_block_a_name_then_an_address() {
        let l = Limiter::default();
        let ip: Option<IpAddr> = "127.0.0.9".parse().ok();
        for _ in 0..MAX_FAILURES_PER_NAME {
            assert!(l.blocked("wang", ip).is_none());
            l.fail("wang", ip);
        }
        let wait = l.blocked("wang", ip).unwrap();
        assert!(
            wait > Duration::from_secs(14 * 60) && wait <= WINDOW,
            "{wait:?}"
        );
        // Another name from the same address is not blocked yet…
        assert!(l.blocked("li", ip).is_none());
        for i in MAX_FAILURES_PER_NAME..MAX_FAILURES_PER_ADDRESS {
            l.fail(&format!("n{i}"), ip);
        }
        // …until the address has failed too often.
        assert!(l.blocked("li", ip).is_some());
        assert!(l.blocked("li", "127.0.0.10".parse().ok()).is_none());
        l.succeeded("wang");
        assert!(l.blocked("wang", None).is_none());
    }
}
