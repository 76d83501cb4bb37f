//! Communications (通报与报告): shared alerts between counties, major-issue reports up to the
//! province, directives and consultations down from it. Like the register, they are views
//! derived from the feeds:
//!
//! - [`command`]: what staff ask for, checked and turned into an [`Event`](crate::event::Event)
//!   in the feed that reaches exactly its recipients;
//! - [`view`]: applying those events to stored records, in any order they arrive;
//! - [`record`]: the stored alert, report, directive and response records;
//! - [`read`]: read models: alerts with receipts, reports, directives with response lines;
//! - [`cap`]: alerts as OASIS CAP 1.2 XML.

pub mod cap;
pub mod command;
pub mod read;
pub mod record;
pub mod view;

pub use command::Command;

use crate::event::check::ContentError;
use crate::store::StoreError;

pub use crate::domain::item::{ItemId, ItemKind};

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

impl From<ContentError> for CommsError {
    fn from(e: ContentError) -> Self {
        match e {
            ContentError::Field { field, reason } => Self::InvalidField { field, reason },
            other => Self::Precondition(other.to_string()),
        }
    }
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

/// Parses `id` as an item of `kind`, or says precisely what is wrong with it.
pub fn parse_id(id: &str, kind: ItemKind) -> Result<ItemId<'_>, CommsError> {
    ItemId::parse_as(id, kind).map_err(|reason| CommsError::field("id", reason))
}
