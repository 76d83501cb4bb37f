//! Staff accounts (账户), for those who manage them (a county's leaders, the gateway's
//! admins): who may sign in, with which role; add and remove.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;

use super::{when, PageError};
use crate::accounts::{self, NewAccount, Role};
use crate::identity::DivisionCode;
use crate::web::lang::Lang;
use crate::web::layout;
use crate::web::session::{Csrf, Staffer};
use crate::web::table::{Cell, Table};
use crate::web::App;

fn require_manager(staffer: &Staffer) -> Result<(), PageError> {
    if staffer.role.can_manage_staff() {
        Ok(())
    } else {
        Err(PageError::Forbidden(match Lang::current() {
            Lang::Zh => format!(
                "{} 是{}：只有县级的分管领导（leader）和省级的管理员（admin）可以管理账户",
                staffer.label(),
                staffer.role.label_zh()
            ),
            Lang::En => format!(
                "{} is {}: only leaders (分管领导) at a county and admins (管理员) at the gateway \
                 manage accounts",
                staffer.label(),
                staffer.role.labelled()
            ),
        }))
    }
}

/// The division code of the node the pages serve.
fn unit(app: &App) -> Result<&DivisionCode, PageError> {
    app.node.identity.unit().ok_or_else(|| {
        PageError::Internal(
            Lang::current()
                .pick("本节点没有行政区划代码", "this node has no division code")
                .into(),
        )
    })
}

/// Who saved an account, as people read it: `dashboard:lin` becomes `林晓 (lin)`.
fn saved_by(app: &App, by: &str) -> String {
    match by.strip_prefix("dashboard:") {
        Some(name) => match accounts::get(app.node.store.as_ref(), name) {
            Ok(Some(a)) => a.label(),
            _ => by.to_owned(),
        },
        None => by.to_owned(),
    }
}

/// The accounts table.
pub fn tables(app: &App) -> Result<Vec<Table>, PageError> {
    let lang = Lang::current();
    let mut t = Table::new(
        "staff",
        lang.pick("工作人员账户", "Staff accounts"),
        vec!["name", "display name", "department", "role", "since", "by"],
    )
    .headed();
    for a in accounts::list(app.node.store.as_ref())? {
        t.row(vec![
            Cell::text(a.name.clone()),
            Cell::text(a.display_name.clone()),
            Cell::text(a.department.clone()),
            Cell::text(format!("{} {}", a.role.label_zh(), a.role.as_str()))
                .shown(lang.pick(a.role.label_zh(), a.role.as_str())),
            Cell::text(when(a.created_at_ms)),
            Cell::text(saved_by(app, &a.created_by)),
        ]);
    }
    Ok(vec![t])
}

/// GET /staff.
pub async fn page(
    State(app): State<Arc<App>>,
    Extension(staffer): Extension<Staffer>,
) -> Result<Markup, PageError> {
    require_manager(&staffer)?;
    let roles = Role::at(unit(&app)?);
    let accounts = accounts::list(app.node.store.as_ref())?;
    let l = Lang::current();
    let body = html! {
        @for t in tables(&app)? { (t.html("")) }
        h2 { (l.pick("添加账户", "Add an account")) }
        form.inline #add-staff method="post" action="/staff" {
            (layout::csrf(&staffer))
            label { (l.pick("用户名（a–z 0–9 - _）", "Name (a–z 0–9 - _)")) input name="name" required pattern="[a-z0-9][a-z0-9_-]{0,62}" autocomplete="off"; }
            label { (l.pick("姓名", "Display name")) input name="display_name" maxlength=(accounts::MAX_LABEL_CHARS) placeholder="林晓"; }
            label { (l.pick("部门", "Department")) input name="department" maxlength=(accounts::MAX_LABEL_CHARS) placeholder="县委网信办"; }
            label { (l.pick("角色", "Role"))
                select name="role" {
                    @for r in roles { option value=(r.as_str()) { (l.pick(r.label_zh(), r.as_str())) } }
                }
            }
            label { (l.pick("密码（至少 12 位）", "Password (≥ 12)")) input name="password" type="password" required minlength="12" autocomplete="new-password"; }
            label { (l.pick("替换已有账户", "Replace existing")) input name="replace" type="checkbox" value="yes"; }
            button type="submit" { (l.pick("保存", "Save")) }
        }
        h2 { (l.pick("删除账户", "Remove an account")) }
        @for a in accounts.iter().filter(|a| a.name != staffer.name) {
            form.inline method="post" action={ "/staff/" (a.name) "/remove" } {
                (layout::csrf(&staffer))
                span { (a.label()) " (" (l.pick(a.role.label_zh(), a.role.as_str())) ")" }
                button type="submit" { (l.pick("删除", "Remove")) }
            }
        }
    };
    Ok(layout::page(
        &staffer,
        l.pick("工作人员账户", "Staff accounts"),
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
    display_name: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    replace: Option<String>,
}

/// POST /staff: a role of the other kind of node is refused (400) naming this node's roles.
pub async fn add(
    State(app): State<Arc<App>>,
    Csrf(staffer, form): Csrf<AddForm>,
) -> Result<Response, PageError> {
    require_manager(&staffer)?;
    let unit = unit(&app)?.clone();
    let new = NewAccount {
        name: form.name.trim().to_owned(),
        role: form.role.parse()?,
        password: form.password,
        display_name: form.display_name,
        department: form.department,
        replace: form.replace.is_some(),
        by: format!("dashboard:{}", staffer.name),
    };
    let store = app.node.store.clone();
    let account = tokio::task::spawn_blocking(move || accounts::save(store.as_ref(), &unit, new))
        .await
        .map_err(|e| PageError::Internal(format!("hashing task failed: {e}")))??;
    tracing::info!(account = %account.name, role = %account.role, by = %staffer.name, "staff account saved on the pages");
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
    require_manager(&staffer)?;
    if name == staffer.name {
        return Err(PageError::Bad(
            Lang::current()
                .pick(
                    "不能删除当前登录所用的账户",
                    "you cannot remove your own account while signed in with it",
                )
                .into(),
        ));
    }
    let account = accounts::remove(app.node.store.as_ref(), &name)?;
    app.sessions.end_all(&account.name);
    tracing::info!(account = %account.name, by = %staffer.name, "staff account removed on the pages");
    Ok(Redirect::to("/staff").into_response())
}
