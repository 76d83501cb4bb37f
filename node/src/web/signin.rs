//! The sign-in page and signing out. The form posts `username`, `password` and `csrf` to
//! `/login`; the CSRF token belongs to the form's own short-lived cookie, so a page elsewhere
//! cannot sign a browser in to an account of its choosing. Each attempt passes the
//! [`throttle`](super::throttle) (counted before its password is checked), then waits for one
//! of the few [`password_checks`](super::password_checks) threads (argon2 takes ~19 MiB a check).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use serde::Deserialize;

use super::lang::Lang;
use super::layout;
use super::password_checks::CheckError;
use super::session::{cookie, set_cookie, Csrf, SESSION_COOKIE};
use super::{App, Remote};
use crate::accounts;

/// The sign-in form's cookie.
const FORM_COOKIE: &str = "fenghuo_signin";
/// How long an attempt waits for a password-check thread before it is told to come back.
const CHECK_SLOT_WAIT: Duration = Duration::from_secs(3);

/// Whole seconds, rounded up, at least one (for `Retry-After` and the message).
fn whole_seconds(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// `wait` in words, in both languages.
fn wait_words(wait: Duration) -> (String, String) {
    let secs = whole_seconds(wait);
    if secs < 120 {
        (format!("{secs} s"), format!("{secs} 秒"))
    } else {
        let min = secs.div_ceil(60);
        (format!("{min} min"), format!("{min} 分钟"))
    }
}

fn with_retry_after(mut res: Response, wait: Duration) -> Response {
    if let Ok(v) = HeaderValue::from_str(&whole_seconds(wait).to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
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
    let l = Lang::current();
    let what = if matches!(app.node.identity, crate::identity::Identity::County(_)) {
        l.pick("县级风险台账", "County risk register")
    } else {
        l.pick("全省风险概览", "Provincial dashboard")
    };
    let body: Markup = html! {
        main.signin {
            h1 { (l.pick("烽火", "Fenghuo")) }
            p.sub { (what) " · " (app.node.unit()) }
            @if let Some(m) = message {
                p.error role="alert" { (m) }
            }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                label { (l.pick("用户名", "Name")) input name="username" autocomplete="username" required value=(name); }
                label { (l.pick("密码", "Password")) input name="password" type="password" autocomplete="current-password" required; }
                button type="submit" { (l.pick("登录", "Sign in")) }
            }
        }
    };
    let mut res = (status, layout::bare(l.pick("登录", "Sign in"), body)).into_response();
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
            Some(Lang::current().pick(
                "登录表单已过期或并非本页提交，请重试。",
                "This sign-in form has expired or was not sent by this page: try again.",
            )),
            &name,
        );
    }
    let peer = remote.map(|Extension(Remote(a))| a.ip());
    let ip = match peer {
        Some(peer) => app.client_address.of(peer, &headers),
        None => std::net::Ipv4Addr::UNSPECIFIED.into(),
    };
    let attempt = match app.throttle.admit(&name, ip) {
        Ok(a) => a,
        Err(wait) => {
            tracing::warn!(staff = %name, %ip, ?peer, wait_s = whole_seconds(wait), "sign-in refused: too many failures, must wait");
            let (en, zh) = wait_words(wait);
            let res = page(
                &app,
                None,
                StatusCode::TOO_MANY_REQUESTS,
                Some(&match Lang::current() {
                    Lang::Zh => format!("登录失败次数过多，请 {zh} 后再试。"),
                    Lang::En => format!("Too many failed sign-ins: try again in {en}."),
                }),
                &name,
            );
            return with_retry_after(res, wait);
        }
    };
    // Nobody types more; refused before argon2 spends time on it (still a failure).
    if f.password.chars().count() > accounts::MAX_PASSWORD_CHARS {
        attempt.failed();
        tracing::warn!(staff = %name, %ip, "sign-in failed: password longer than any account's");
        return wrong_password(&app, &name);
    }
    let store = app.node.store.clone();
    let (n, p) = (name.clone(), f.password);
    let verified = app
        .password_checks
        .run(CHECK_SLOT_WAIT, move || {
            accounts::verify(store.as_ref(), &n, &p)
        })
        .await;
    match verified {
        Ok(Ok(Some(account))) => {
            attempt.succeeded();
            let token = app.sessions.start(&account.name);
            tracing::info!(staff = %account.name, role = %account.role, %ip, "signed in");
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
            attempt.failed();
            let [pair, address, account] = app.throttle.failures(&name, ip);
            tracing::warn!(staff = %name, %ip, pair, address, account, "sign-in failed");
            wrong_password(&app, &name)
        }
        Ok(Err(e)) => {
            attempt.unchecked();
            tracing::error!(error = %e, "checking a sign-in");
            layout::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                Lang::current().pick(
                    "本节点无法读取工作人员账户",
                    "the node could not read its staff accounts",
                ),
            )
        }
        Err(CheckError::Busy) => {
            attempt.unchecked();
            tracing::warn!(staff = %name, %ip, "sign-in not checked: every password-check thread is busy");
            let res = page(
                &app,
                None,
                StatusCode::SERVICE_UNAVAILABLE,
                Some(Lang::current().pick(
                    "同时登录的人数过多，请几秒后再试。",
                    "Too many sign-ins at once: try again in a few seconds.",
                )),
                &name,
            );
            with_retry_after(res, Duration::from_secs(2))
        }
        Err(e @ CheckError::Lost) => {
            attempt.unchecked();
            tracing::error!(error = %e, "the password check failed");
            layout::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                Lang::current().pick("密码校验失败", "the password check failed"),
            )
        }
    }
}

fn wrong_password(app: &App, name: &str) -> Response {
    page(
        app,
        None,
        StatusCode::UNAUTHORIZED,
        Some(Lang::current().pick("用户名或密码错误。", "Wrong name or password.")),
        name,
    )
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
    fn waits_are_told_in_whole_seconds_or_minutes() {
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(4001)), 5);
        assert_eq!(
            wait_words(Duration::from_secs(8)),
            ("8 s".into(), "8 秒".into())
        );
        assert_eq!(
            wait_words(Duration::from_secs(300)),
            ("5 min".into(), "5 分钟".into())
        );
    }
}
