//! One module per page. Each builds its [`Table`]s from the gateway's views (the same
//! functions the gRPC API answers with), so a page, its exports and `fenghuo overview|health|
//! linked` agree; [`export`] serves any table as CSV or JSON.

pub mod comms;
pub mod county;
pub mod health;
pub mod linked;
pub mod overview;
pub mod risk;
pub mod staff;

// A county's pages (issue 17): its register, inbox, at-a-glance and disposal.
pub mod disposal;
pub mod glance;
pub mod inbox;
pub mod intake;
pub mod intake_forms;
pub mod intake_import;
pub mod officer;
pub mod register;
pub mod register_forms;
pub mod register_index;
pub mod register_risk;

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::filters::{Filters, RawFilters};
use super::lang::Lang;
use super::layout::error_page;
use super::table::Table;
use super::App;
use crate::accounts::AccountError;
use crate::store::StoreError;
use crate::sync::directory;

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// A filter or form field is wrong; the message names it.
    #[error("{0}")]
    Bad(String),
    /// No such county, risk or table.
    #[error("{0}")]
    NotFound(String),
    /// The account's role does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else on our side.
    #[error("{0}")]
    Internal(String),
}

impl From<AccountError> for PageError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Store(s) => Self::Store(s),
            AccountError::Hash(h) => Self::Internal(h),
            AccountError::NotFound(_) => Self::NotFound(e.to_string()),
            _ => Self::Bad(e.to_string()),
        }
    }
}

impl From<crate::writer::WriteError> for PageError {
    fn from(e: crate::writer::WriteError) -> Self {
        use crate::comms::CommsError;
        use crate::disposal::DisposalError;
        use crate::writer::WriteError;
        match e {
            WriteError::Comms(CommsError::NotFound(m)) => Self::NotFound(m),
            WriteError::Comms(CommsError::Store(s)) => Self::Store(s),
            WriteError::Comms(c) => Self::Bad(c.to_string()),
            WriteError::Disposal(DisposalError::NotFound(m)) => Self::NotFound(m),
            WriteError::Disposal(DisposalError::Store(s)) => Self::Store(s),
            WriteError::Disposal(d) => Self::Bad(d.to_string()),
            WriteError::Refused(r) => Self::Bad(r.to_string()),
            WriteError::Invalid(c) => Self::Bad(c.to_string()),
            e @ WriteError::ReadOnly { .. } => Self::Bad(e.to_string()),
            e @ WriteError::CatchingUp => Self::Internal(e.to_string()),
            WriteError::Stopped => Self::Internal(
                Lang::current()
                    .pick(
                        "省级汇聚节点正在关闭，请稍后重试",
                        "the gateway is shutting down; retry shortly",
                    )
                    .into(),
            ),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = match &self {
            PageError::Bad(_) => StatusCode::BAD_REQUEST,
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::Forbidden(_) => StatusCode::FORBIDDEN,
            PageError::Store(e) => {
                tracing::error!(error = %e, "dashboard: storage failure");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            PageError::Internal(e) => {
                tracing::error!(error = %e, "dashboard: internal error");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        error_page(status, &self.to_string())
    }
}

/// The filters of a request, checked.
pub fn filters(raw: &RawFilters) -> Result<Filters, PageError> {
    raw.check(crate::timespec::now_ms()).map_err(PageError::Bad)
}

/// A page with the filter bar: the query checked, the counties listed, then `body`.
pub fn filtered(
    app: &App,
    staffer: &super::session::Staffer,
    raw: &RawFilters,
    title: &str,
    here: &str,
    body: impl FnOnce(&Filters) -> Result<maud::Markup, PageError>,
) -> Result<maud::Markup, PageError> {
    let f = filters(raw)?;
    let counties = counties(app)?;
    let body = body(&f)?;
    Ok(super::layout::page(
        staffer,
        title,
        here,
        Some((&f, &counties)),
        body,
    ))
}

/// Every county the gateway knows, for the filter bar.
pub fn counties(app: &App) -> Result<Vec<String>, PageError> {
    Ok(directory::member_counties(app.node.store.as_ref())?
        .into_iter()
        .collect())
}

/// Query fields only some exports take.
#[derive(Debug, Default, Deserialize)]
pub struct ExportExtra {
    /// The risk of `risk-*` tables.
    risk: Option<String>,
}

/// The tables that hold `id`, computed for `f`.
fn tables_with(
    app: &App,
    id: &str,
    f: &Filters,
    extra: &ExportExtra,
) -> Result<Vec<Table>, PageError> {
    Ok(match id {
        "levels" | "focus" | "status" | "counties" | "days" | "rises" => overview::tables(app, f)?,
        "alerts" | "receipts" | "reports" | "directives" | "answers" | "disposal" | "partners" => {
            comms::tables(app, f)?
        }
        "health" => health::tables(app, f, None)?,
        "linked" => linked::tables(app, f)?,
        "county-risks" => {
            let county = f.county.clone().ok_or_else(|| {
                PageError::Bad(
                    Lang::current()
                        .pick(
                            "county-risks 需要 ?county=<六位区划代码>",
                            "county-risks needs ?county=<six-digit code>",
                        )
                        .into(),
                )
            })?;
            vec![county::risks_table(app, &county, f, None, usize::MAX)?.0]
        }
        "risk" | "risk-measures" | "risk-history" => {
            let risk = extra.risk.as_deref().ok_or_else(|| {
                PageError::Bad(match Lang::current() {
                    Lang::Zh => format!("{id} 需要 ?risk=<风险点编号>"),
                    Lang::En => format!("{id} needs ?risk=<risk id>"),
                })
            })?;
            risk::tables(app, risk)?.0
        }
        "staff" => staff::tables(app)?,
        _ => return Err(no_table(id)),
    })
}

/// 404 for an export of no table.
fn no_table(id: &str) -> PageError {
    PageError::NotFound(match Lang::current() {
        Lang::Zh => format!("没有可导出的表 {id:?}"),
        Lang::En => format!("no table {id:?} to export"),
    })
}

/// GET /export/{table}.csv|json: a table of any view, with the view's filters.
pub async fn export(
    State(app): State<Arc<App>>,
    axum::Extension(staffer): axum::Extension<super::session::Staffer>,
    Path(file): Path<String>,
    Query(raw): Query<RawFilters>,
    Query(extra): Query<ExportExtra>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Response, PageError> {
    let (id, format) = file.rsplit_once('.').ok_or_else(|| {
        PageError::NotFound(match Lang::current() {
            Lang::Zh => format!("{file:?}：请求 <表>.csv 或 <表>.json"),
            Lang::En => format!("{file:?}: ask for <table>.csv or <table>.json"),
        })
    })?;
    // A county's tables take their own query (search, status, sort…).
    let county_tables = officer::export_tables(&app, &staffer, id, query.as_deref())?;
    if id == "staff" && !staffer.role.can_manage_staff() {
        return Err(PageError::Forbidden(
            Lang::current()
                .pick(
                    "只有管理员可以查看工作人员账户",
                    "only admins see staff accounts",
                )
                .into(),
        ));
    }
    let tables = match county_tables {
        Some(tables) => tables,
        None => tables_with(&app, id, &filters(&raw)?, &extra)?,
    };
    let table = tables
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| no_table(id))?;
    let name = format!("fenghuo-{id}.{format}");
    let disposition = format!("attachment; filename=\"{name}\"");
    match format {
        "csv" => {
            let body = table
                .csv()
                .map_err(|e| PageError::Internal(format!("writing CSV: {e}")))?;
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                body,
            )
                .into_response())
        }
        "json" => Ok((
            [
                (header::CONTENT_TYPE, "application/json".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    disposition.replace("attachment", "inline"),
                ),
            ],
            table.json().to_string(),
        )
            .into_response()),
        other => Err(PageError::NotFound(match Lang::current() {
            Lang::Zh => format!("{other:?}：导出格式只有 .csv 和 .json"),
            Lang::En => format!("{other:?}: exports are .csv or .json"),
        })),
    }
}

/// `ms` as `YYYY-MM-DD HH:MM +08:00` in the display zone, or `—` for 0.
pub fn when(ms: i64) -> String {
    if ms == 0 {
        "—".into()
    } else {
        crate::timespec::short_time(ms)
    }
}
