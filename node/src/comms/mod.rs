//! Communications (通报与报告): shared alerts between counties, major-issue reports up to the
//! province, directives and consultations down from it. Like the register, they are views
//! derived from the feeds:
//!
//! - [`command`]: what staff ask for, checked and turned into an [`Event`](crate::event::Event)
//!   in the feed that reaches exactly its recipients;
//! - [`view`]: applying those events to stored records, in any order they arrive;
//! - [`record`]: the stored alert, report, directive and response records;
//! - [`journal`]: the node's journal of what arrived for it (what `Watch` streams, with a
//!   cursor), which also records each alert's delivery automatically;
//! - [`cap`]: alerts as OASIS CAP 1.2 XML.

pub mod cap;
pub mod command;
pub mod journal;
pub mod read;
pub mod record;
pub mod view;

pub use command::Command;

use crate::store::StoreError;

/// Why a communications operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum CommsError {
    /// A field of the request is not acceptable; names the field.
    #[error("{field}: {reason}")]
    InvalidField {
        /// The field, as the CLI and API name it.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// No such alert, report or directive at this node.
    #[error("{0}")]
    NotFound(String),
    /// The caller's unit may not do this (e.g. update someone else's alert).
    #[error("{0}")]
    NotYours(String),
    /// The operation does not fit the item's state (e.g. cancel a cancelled alert).
    #[error("{0}")]
    Precondition(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CommsError {
    /// An invalid-field error.
    pub fn field(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            reason: reason.into(),
        }
    }
}

/// What kind of item an id names, by its letter: `510104-a3` is an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// A shared alert (`a`).
    Alert,
    /// A major-issue report (`r`).
    Report,
    /// A directive (`d`).
    Directive,
    /// A consultation (`c`).
    Consultation,
    /// A disposal request to a partner website (`x`).
    Disposal,
}

impl ItemKind {
    /// The letter of its ids.
    pub fn letter(self) -> char {
        match self {
            Self::Alert => 'a',
            Self::Report => 'r',
            Self::Directive => 'd',
            Self::Consultation => 'c',
            Self::Disposal => 'x',
        }
    }

    fn from_letter(c: char) -> Option<Self> {
        Some(match c {
            'a' => Self::Alert,
            'r' => Self::Report,
            'd' => Self::Directive,
            'c' => Self::Consultation,
            'x' => Self::Disposal,
            _ => return None,
        })
    }

    /// For people: `alert`, `report`, …
    pub fn name(self) -> &'static str {
        match self {
            Self::Alert => "alert",
            Self::Report => "report",
            Self::Directive => "directive",
            Self::Consultation => "consultation",
            Self::Disposal => "disposal request",
        }
    }
}

/// An item id taken apart: `510104-a3` is (`510104`, alert, 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemId<'a> {
    /// Division code of the origin.
    pub unit: &'a str,
    /// What it is.
    pub kind: ItemKind,
    /// Its number among the origin's items of that kind.
    pub number: u64,
}

impl<'a> ItemId<'a> {
    /// Parses `510104-a3`; `None` for anything else.
    pub fn parse(id: &'a str) -> Option<Self> {
        let (unit, rest) = id.rsplit_once('-')?;
        let mut chars = rest.chars();
        let kind = ItemKind::from_letter(chars.next()?)?;
        let number: u64 = chars.as_str().parse().ok()?;
        if number == 0 || !matches!(unit.len(), 2 | 6) || !unit.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        Some(Self { unit, kind, number })
    }

    /// The store key: ordered by origin, kind, then number.
    pub fn key(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.unit.len() + 10);
        k.extend_from_slice(self.unit.as_bytes());
        k.push(b'-');
        k.push(self.kind.letter() as u8);
        k.extend_from_slice(&self.number.to_be_bytes());
        k
    }
}

/// Parses `id` as an item of `kind`, or says precisely what is wrong with it.
pub fn parse_id(id: &str, kind: ItemKind) -> Result<ItemId<'_>, CommsError> {
    match ItemId::parse(id.trim()) {
        Some(parsed) if parsed.kind == kind => Ok(parsed),
        _ => Err(CommsError::field(
            "id",
            format!(
                "{id:?} is not an {} id (e.g. 510104-{}1)",
                kind.name(),
                kind.letter()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_ids_name_origin_kind_and_number() {
        let id = ItemId::parse("510104-a12").unwrap();
        assert_eq!(
            (id.unit, id.kind, id.number),
            ("510104", ItemKind::Alert, 12)
        );
        assert_eq!(ItemId::parse("51-d3").unwrap().kind, ItemKind::Directive);
        assert_eq!(ItemId::parse("510104-x1").unwrap().kind, ItemKind::Disposal);
        for bad in [
            "510104-12",
            "510104-a0",
            "510104-z1",
            "5101-a1",
            "a1",
            "510104-a",
        ] {
            assert_eq!(ItemId::parse(bad), None, "{bad}");
        }
        // Keys sort by number, not by text.
        let k = |s| ItemId::parse(s).unwrap().key();
        assert!(k("510104-a2") < k("510104-a10"));
        assert!(parse_id("510104-r1", ItemKind::Alert).is_err());
    }
}
