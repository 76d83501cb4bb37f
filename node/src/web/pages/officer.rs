//! What a county's pages share: who may write ([`may_write`], the one place the role rule
//! lives), that a page is a county's, the exports of the county's tables, how a refused
//! form comes back (its values kept, the reason beside it), and who wrote what ([`People`]).

use maud::{html, Markup};

use std::collections::HashMap;

use super::PageError;
use crate::accounts::{self, Account};
use crate::identity::Identity;
use crate::sync::directory::{self, UnitNames};
use crate::web::lang::Lang;
use crate::web::session::Staffer;
use crate::web::table::Table;
use crate::web::App;

/// Whether `staffer` may change anything at the county (identify, grade, acknowledge,
/// answer, file): officers and leaders. Viewers read only.
pub fn may_write(staffer: &Staffer) -> bool {
    staffer.role.can_write()
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
        "intake" => {
            require_county(app)?;
            Some(vec![super::intake::export_table(app, query)?])
        }
        "county-disposal" => {
            require_county(app)?;
            Some(vec![super::disposal::table(app)?])
        }
        _ => None,
    })
}

/// How pages name the people and units behind entries, looked up once per page: the
/// county's accounts (display name and department) and the units' names.
pub struct People {
    unit: String,
    names: UnitNames,
    accounts: HashMap<String, Account>,
}

impl People {
    /// The lookups of `app`'s node.
    pub fn of(app: &App) -> Result<People, PageError> {
        let store = app.node.store.as_ref();
        let accounts = accounts::list(store)?
            .into_iter()
            .map(|a| (a.name.clone(), a))
            .collect();
        Ok(People {
            unit: app.node.unit().to_owned(),
            names: directory::unit_names(store)?,
            accounts,
        })
    }

    /// A unit as people see it: `锦江区 510104`.
    pub fn unit(&self, code: &str) -> String {
        self.names.display(code)
    }

    /// Who wrote something (`staff/510104/lin`), for people: `林晓 (lin) · 县委网信办 ·
    /// 锦江区 510104` for an account of this county with a display name and department,
    /// `lin · 锦江区 510104` otherwise; a node is its unit (`county/510104` → `锦江区 510104`).
    pub fn who(&self, author: &str) -> String {
        let parts: Vec<&str> = author.split('/').collect();
        match parts.as_slice() {
            ["staff", unit, name] => {
                let unit_label = self.names.display(unit);
                match self.accounts.get(*name).filter(|_| *unit == self.unit) {
                    Some(a) if !a.department.is_empty() => {
                        format!("{} · {} · {unit_label}", a.label(), a.department)
                    }
                    Some(a) => format!("{} · {unit_label}", a.label()),
                    None => format!("{name} · {unit_label}"),
                }
            }
            [_, unit] => self.names.display(unit),
            _ => author.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_by_name_department_and_unit() {
        let lin = Account {
            name: "lin".into(),
            role: crate::accounts::Role::Officer,
            password_hash: String::new(),
            created_at_ms: 0,
            created_by: String::new(),
            display_name: "林晓".into(),
            department: "县委网信办".into(),
        };
        let people = People {
            unit: "510104".into(),
            names: UnitNames::default(),
            accounts: HashMap::from([("lin".to_owned(), lin)]),
        };
        assert_eq!(
            people.who("staff/510104/lin"),
            "林晓 (lin) · 县委网信办 · 锦江区 510104"
        );
        assert_eq!(people.who("staff/510105/lin"), "lin · 青羊区 510105");
        assert_eq!(people.who("county/510104"), "锦江区 510104");
        assert_eq!(people.who("odd"), "odd");
    }
}
