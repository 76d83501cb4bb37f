//! Staff accounts (账户), for admins: who may sign in, with which role; add and remove.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;

use super::{when, PageError};
use crate::accounts::{self, Role};
use crate::web::layout;
use crate::web::session::{Csrf, Staffer};
use crate::web::table::{Cell, Table};
use crate::web::App;

fn require_admin(staffer: &Staffer) -> Result<(), PageError> {
    if staffer.role.can_manage_staff() {
        Ok(())
    } else {
        Err(PageError::Forbidden(format!(
            "{} is a {}: only admins manage staff accounts",
            staffer.name, staffer.role
        )))
    }
}

/// The accounts table.
pub fn tables(app: &App) -> Result<Vec<Table>, PageError> {
    let mut t = Table::new(
        "staff",
        "账户 Staff accounts",
        vec!["name", "role", "since", "by"],
    );
    for a in accounts::list(app.node.store.as_ref())? {
        t.row(vec![
            Cell::text(a.name),
            Cell::text(a.role.as_str()),
            Cell::text(when(a.created_at_ms)),
            Cell::text(a.created_by),
        ]);
    }
    Ok(vec![t])
}

/// GET /staff.
pub async fn page(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
) -> Result<Markup, PageError> {
    require_admin(&staffer)?;
    let accounts = accounts::list(app.node.store.as_ref())?;
    let body = html! {
        @for t in tables(&app)? { (t.html("")) }
        h2 { "添加 Add an account" }
        form.inline #add-staff method="post" action="/staff" {
            (layout::csrf(&staffer))
            label { "用户名 Name" input name="name" required pattern="[a-z0-9][a-z0-9._-]{0,63}"; }
            label { "角色 Role"
                select name="role" { @for r in Role::ALL { option value=(r.as_str()) { (r.as_str()) } } }
            }
            label { "密码 Password (≥ 12)" input name="password" type="password" required minlength="12" autocomplete="new-password"; }
            label { "替换 Replace existing" input name="replace" type="checkbox" value="yes"; }
            button type="submit" { "保存 Save" }
        }
        h2 { "删除 Remove an account" }
        @for a in accounts.iter().filter(|a| a.name != staffer.name) {
            form.inline method="post" action={ "/staff/" (a.name) "/remove" } {
                (layout::csrf(&staffer))
                span { (a.name) " (" (a.role) ")" }
                button type="submit" { "删除 Remove" }
            }
        }
    };
    Ok(layout::page(
        &staffer,
        "账户 Staff accounts",
        "/staff",
        None,
        body,
    ))
}

/// The add form.
#[derive(Debug, Deserialize)]
pub struct AddForm {
    name: String,
    role: String,
    password: String,
    #[serde(default)]
    replace: Option<String>,
}

/// POST /staff.
pub async fn add(
    State(app): State<Arc<App>>,
    Csrf(staffer, form): Csrf<AddForm>,
) -> Result<Response, PageError> {
    require_admin(&staffer)?;
    let role: Role = form.role.parse()?;
    let store = app.node.store.clone();
    let by = format!("dashboard:{}", staffer.name);
    let name = form.name.trim().to_owned();
    let replace = form.replace.is_some();
    let account = tokio::task::spawn_blocking(move || {
        accounts::add(store.as_ref(), &name, role, &form.password, replace, &by)
    })
    .await
    .map_err(|e| PageError::Internal(format!("hashing task failed: {e}")))??;
    tracing::info!(account = %account.name, role = %account.role, by = %staffer.name, "staff account saved on the dashboard");
    Ok(Redirect::to("/staff").into_response())
}

/// No fields but the CSRF token.
#[derive(Debug, Deserialize)]
pub struct RemoveForm {}

/// POST /staff/{name}/remove.
pub async fn remove(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Csrf(staffer, _): Csrf<RemoveForm>,
) -> Result<Response, PageError> {
    require_admin(&staffer)?;
    if name == staffer.name {
        return Err(PageError::Bad(
            "you cannot remove your own account while signed in with it".into(),
        ));
    }
    let account = accounts::remove(app.node.store.as_ref(), &name)?;
    app.sessions.end_all(&account.name);
    tracing::info!(account = %account.name, by = %staffer.name, "staff account removed on the dashboard");
    Ok(Redirect::to("/staff").into_response())
}
