//! What a county's pages share: who may write ([`may_write`], the one place the role rule
//! lives), that a page is a county's, the exports of the county's tables, and how a refused
//! form comes back (its values kept, the reason beside it).

use maud::{html, Markup};

use super::PageError;
use crate::identity::Identity;
use crate::web::lang::Lang;
use crate::web::session::Staffer;
use crate::web::table::Table;
use crate::web::App;

/// Whether `staffer` may change anything at the county (identify, grade, acknowledge,
/// answer, file). Viewers read only.
// The accounts work adds officer/leader/viewer with `Role::can_write()`: switch here then.
pub fn may_write(staffer: &Staffer) -> bool {
    staffer.role.can_act()
}

/// Refuses (403) a person who may not write.
pub fn require_write(staffer: &Staffer) -> Result<(), PageError> {
    if may_write(staffer) {
        Ok(())
    } else {
        let l = Lang::current();
        Err(PageError::Forbidden(format!(
            "{} ({}): {}",
            staffer.name,
            staffer.role,
            l.pick(
                "只读账户不能修改台账或办理事项",
                "a read-only account changes nothing"
            )
        )))
    }
}

/// Refuses (404) a county page at the province's gateway.
pub fn require_county(app: &App) -> Result<(), PageError> {
    if matches!(app.node.identity, Identity::County(_)) {
        Ok(())
    } else {
        Err(PageError::NotFound(
            Lang::current()
                .pick("此页面属于县级节点", "this page belongs to a county's node")
                .to_owned(),
        ))
    }
}

/// A form refused: why, shown at the top of the form that was sent.
#[derive(Debug, Clone, Default)]
pub struct Refusal {
    /// Which form (`grade`, `measure`…): the one the message goes beside.
    pub form: &'static str,
    /// What to fix.
    pub message: String,
}

impl Refusal {
    /// The message, if it belongs to `form`.
    pub fn show(refusal: Option<&Refusal>, form: &str) -> Markup {
        html! {
            @if let Some(r) = refusal.filter(|r| r.form == form) {
                p.error role="alert" data-stay id={ "error-" (form) } { (r.message) }
            }
        }
    }
}

/// The county tables `id` names, computed for the page's `query`; `None` when `id` is not
/// one of them (the province's exports answer then).
pub fn export_tables(
    app: &App,
    staffer: &Staffer,
    id: &str,
    query: Option<&str>,
) -> Result<Option<Vec<Table>>, PageError> {
    let query = query.unwrap_or_default();
    Ok(match id {
        "register" => {
            require_county(app)?;
            Some(vec![super::register::export_table(app, query)?])
        }
        "inbox-alerts" | "inbox-directives" | "inbox-reports" | "inbox-shared"
        | "inbox-outcomes" => {
            require_county(app)?;
            Some(super::inbox::tables(app, staffer)?)
        }
        "county-linked" => {
            require_county(app)?;
            Some(vec![super::glance::linked_table(app, Lang::current())?])
        }
        "county-disposal" => {
            require_county(app)?;
            Some(vec![super::disposal::table(app)?])
        }
        _ => None,
    })
}

/// Who wrote something, for people: `lin · 510104` for `staff/510104/lin`, the unit for a
/// node (`county/510104` → `510104`).
pub fn who(author: &str) -> String {
    let parts: Vec<&str> = author.split('/').collect();
    match parts.as_slice() {
        ["staff", unit, name] => format!("{name} · {unit}"),
        [_, unit] => (*unit).to_owned(),
        _ => author.to_owned(),
    }
}

/// `ms` in the county's local time (UTC+08:00, as due dates are), to the minute, or `—`.
pub fn local_time(ms: i64) -> String {
    if ms == 0 {
        return "—".into();
    }
    // Fixed at UTC+08:00 like timespec::local_date, until the zone is configurable.
    let t = crate::timespec::format_ms(ms.saturating_add(8 * 3_600_000));
    match t.get(..16) {
        Some(s) => s.replacen('T', " ", 1),
        None => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_and_times_for_people() {
        assert_eq!(who("staff/510104/lin"), "lin · 510104");
        assert_eq!(who("county/510104"), "510104");
        assert_eq!(who("odd"), "odd");
        assert_eq!(local_time(0), "—");
        // 2026-01-01T00:00Z is 08:00 in the county.
        assert_eq!(local_time(1_767_225_600_000), "2026-01-01 08:00");
    }
}
